# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recommended online detector."""

from __future__ import annotations

import numpy as np
import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._anomaly.novelty import NoveltyDetector

RNG = np.random.default_rng(21)
NOISE = RNG.normal(100.0, 5.0, 1500)
SPIKED = NOISE.copy()
SPIKED[1200] = 160.0


def test_batch_equals_one_point_and_is_online():
    series = np.concatenate([SPIKED[:700], [np.nan], SPIKED[700:]])
    batch = NoveltyDetector(window=500).score(series)
    d = NoveltyDetector(window=500)
    np.testing.assert_array_equal(batch, [d.score_one(x) for x in series])
    np.testing.assert_array_equal(NoveltyDetector(window=500).score(series[:900]), batch[:900])


def test_spike_is_the_top_score_and_is_flagged():
    scores = NoveltyDetector().score(SPIKED)
    assert int(np.argmax(scores)) == 1200
    assert NoveltyDetector().predict(SPIKED)[1200]


@pytest.mark.parametrize("suppress", [10, 100])
def test_suppression_silences_the_aftermath(suppress):
    series = np.concatenate([NOISE[:1000], [160.0, 158.0, 159.0, 161.0], NOISE[1000:]])
    scores = NoveltyDetector(suppress=suppress).score(series)
    after = scores[1001:1000 + suppress]
    assert scores[1000] > 0.99
    # Only a point more surprising than the incident's start may report inside the span.
    assert np.count_nonzero(after) <= 3


def test_pure_noise_rarely_alerts():
    flags = NoveltyDetector(alpha=0.999).predict(RNG.normal(0.0, 1.0, 5000))
    assert flags.sum() <= 10


def test_warmup_constant_and_nan_score_zero():
    d = NoveltyDetector(warmup=50)
    scores = d.score([1.0] * 60 + [np.nan])
    assert np.all(scores == 0.0)


@pytest.mark.parametrize("kwargs", [{"window": 1}, {"suppress": -1}, {"warmup": 0}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError, match="window must be"):
        NoveltyDetector(**kwargs)


def test_fit_warms_the_state():
    warmed = NoveltyDetector(window=500).fit(SPIKED[:1000]).score(SPIKED[1000:])
    np.testing.assert_array_equal(warmed, NoveltyDetector(window=500).score(SPIKED)[1000:])
    assert warmed[200] > 0.99
