# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The NAB scorer of benchmarks/nab_scorer.py against hand-computed cases."""

from __future__ import annotations

import math
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
import nab_scorer  # noqa: E402 pylint: disable=wrong-import-position

N = 1000
STAMPS = ["2020-01-01 %02d:%02d:00" % divmod(i, 60) if i < 1440 else "" for i in range(N)]
WINDOW = [[STAMPS[400] + ".000000", STAMPS[499] + ".000000"]]


def _rows(scores, windows=None):
    return nab_scorer.FileRows("cat/f.csv", STAMPS, scores, WINDOW if windows is None else windows)


def _at(*hits):
    s = np.zeros(N)
    s[list(hits)] = 1.0
    return s


@pytest.mark.parametrize("n,want", [(100, 15), (1000, 150), (5000, 750), (20000, 750)])
def test_probation_is_fifteen_percent_capped_at_750(n, want):
    assert nab_scorer.probation_length(n) == want


@pytest.mark.parametrize("pos,want", [(-1.0, 2 / (1 + math.exp(-5)) - 1), (-0.5, 0.84828), (0.0, 0.0), (1.0, -0.98661), (3.0, -1.0)])
def test_scaled_sigmoid(pos, want):
    assert nab_scorer.scaled_sigmoid(pos) == pytest.approx(want, abs=1e-5)


def test_null_detector_scores_zero_and_detection_at_the_window_start_hundred():
    assert nab_scorer.score_corpus([_rows(np.zeros(N))], "standard")["score"] == pytest.approx(0.0)
    best = nab_scorer.score_corpus([_rows(_at(400))], "standard")
    assert best["score"] == pytest.approx(100.0)
    assert best["tp"] == 1 and best["fp"] == 0


def test_late_detection_is_worth_less_and_only_the_best_counts():
    early = nab_scorer.score_corpus([_rows(_at(420))], "standard")["raw"]
    late = nab_scorer.score_corpus([_rows(_at(490))], "standard")["raw"]
    both = nab_scorer.score_corpus([_rows(_at(420, 490))], "standard")["raw"]
    assert early > late > 0 and both == pytest.approx(early)


@pytest.mark.parametrize("profile,fp_weight", [("standard", 0.11), ("reward_low_FP_rate", 0.22)])
def test_false_positive_far_from_windows_costs_the_fp_weight(profile, fp_weight):
    hit, fp = _rows(_at(400)), _rows(_at(400, 200))
    t = 1.0
    assert nab_scorer.score_at(fp, t, profile)[0] == pytest.approx(nab_scorer.score_at(hit, t, profile)[0] - fp_weight)


def test_probationary_rows_are_not_scored():
    assert nab_scorer.score_at(_rows(_at(400, 100)), 1.0, "standard")[2] == 0


def test_missed_window_costs_fn_weight():
    assert nab_scorer.score_at(_rows(np.zeros(N)), 0.5, "reward_low_FN_rate")[0] == -2.0


def test_threshold_is_optimised_on_the_corpus():
    scores = np.zeros(N)
    scores[430], scores[700], scores[800] = 0.9, 0.95, 0.95  # two FPs score above the true detection
    res = nab_scorer.score_corpus([_rows(scores)], "standard")
    assert res["threshold"] == 0.9 and res["tp"] == 1 and res["fp"] == 2
