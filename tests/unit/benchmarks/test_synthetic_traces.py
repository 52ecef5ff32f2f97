# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/synthetic_traces.py: the same seed writes the same traces, which the simulator reads."""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
import autoscale  # noqa: E402 pylint: disable=wrong-import-position
import synthetic_traces  # noqa: E402 pylint: disable=wrong-import-position


def test_the_same_seed_writes_the_same_14_days_of_5_minute_samples(tmp_path, capsys):
    assert synthetic_traces.main(["--out", str(tmp_path / "a")]) == 0
    assert synthetic_traces.main(["--out", str(tmp_path / "b")]) == 0
    assert synthetic_traces.main(["--out", str(tmp_path / "c"), "--seed", "8"]) == 0
    names = sorted(os.listdir(tmp_path / "a"))
    assert len(names) == 8 and capsys.readouterr().out.count(".csv") == 24
    for name in names:
        first = (tmp_path / "a" / name).read_text()
        assert first == (tmp_path / "b" / name).read_text()
        t, v = autoscale.read_trace(str(tmp_path / "a" / name))
        assert len(t) == 14 * 288 and set(np.diff(t)) == {300.0} and (v >= 0).all()
    assert (tmp_path / "a" / "noisy_flat.csv").read_text() != (tmp_path / "c" / "noisy_flat.csv").read_text()


def test_the_shapes_are_what_their_names_say():
    traces = synthetic_traces.shapes(np.random.default_rng(7))
    day = 288
    weekly = traces["weekly_office"]
    assert weekly[5 * day:7 * day].mean() < 0.5 * weekly[:5 * day].mean()   # the weekend is quieter
    shift = traces["level_shift_two_days"]
    assert 2.5 < shift[6 * day:8 * day].mean() / shift[4 * day:6 * day].mean() < 3.5
    growth = traces["growth_30pct_a_week"]
    assert 1.25 < growth[-7 * day:].mean() / growth[:7 * day].mean() < 1.35   # 30 % a week
