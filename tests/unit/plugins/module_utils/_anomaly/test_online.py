# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Online and seasonal detectors: online-ness, batch == one-point, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._anomaly.online import EwmaDetector, RollingZScore
from ansible_collections.lepton.aiops.plugins.module_utils._anomaly.seasonal import SeasonalBaseline

RNG = np.random.default_rng(11)
SERIES = np.concatenate([RNG.normal(10.0, 1.0, 400), [np.nan, np.nan], RNG.normal(10.0, 1.0, 50), [40.0], RNG.normal(10.0, 1.0, 50)])

ONLINE = [
    lambda: EwmaDetector(halflife=30),
    lambda: EwmaDetector(halflife=5, two_sided=False),
    lambda: RollingZScore(window=50),
    lambda: RollingZScore(window=1000, two_sided=False),
    lambda: RollingZScore(window=200, clip=4.0),
]


@pytest.mark.parametrize("make", ONLINE)
def test_batch_equals_one_point(make):
    batch = make().score(SERIES)
    one_by_one = make()
    np.testing.assert_array_equal(batch, [one_by_one.score_one(x) for x in SERIES])


@pytest.mark.parametrize("make", ONLINE)
def test_score_uses_only_the_past(make):
    full = make().score(SERIES)
    prefix = make().score(SERIES[:300])
    np.testing.assert_array_equal(full[:300], prefix)


@pytest.mark.parametrize("make", ONLINE)
def test_spike_is_flagged_and_nan_is_a_gap(make):
    d = make()
    flags = d.predict(SERIES)
    spike = int(np.where(SERIES == 40.0)[0][0])
    assert flags[spike]
    assert flags.sum() < 0.05 * len(SERIES)
    scores = make().score(SERIES)
    assert np.isnan(scores[400]) and np.isnan(scores[401]) and not flags[400]


@pytest.mark.parametrize("make", ONLINE)
def test_empty_input_gives_empty_output(make):
    assert make().score([]).shape == (0,)


@pytest.mark.parametrize("make", ONLINE)
def test_constant_series_then_step(make):
    d = make()
    scores = d.score([3.0] * 100 + [4.0])
    assert np.all(scores[:100] == 0.0)
    assert math.isinf(scores[100])


def test_probability_is_a_score_in_unit_interval():
    p = RollingZScore(window=100).probability(SERIES)
    ok = ~np.isnan(p)
    assert np.all((p[ok] >= 0) & (p[ok] <= 1))
    assert p[int(np.where(SERIES == 40.0)[0][0])] > 0.9999


@pytest.mark.parametrize("kwargs,message", [({"halflife": 0}, "halflife"), ({"halflife": -3}, "halflife")])
def test_bad_halflife_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        EwmaDetector(**kwargs)


def test_too_small_window_is_refused():
    with pytest.raises(ValueError, match="window"):
        RollingZScore(window=1)


def test_clip_keeps_one_huge_outlier_from_hiding_the_next():
    series = np.concatenate([RNG.normal(10.0, 1.0, 500), [1000.0], RNG.normal(10.0, 1.0, 50), [16.0]])
    plain = RollingZScore(window=1000).score(series)
    clipped = RollingZScore(window=1000, clip=5.0).score(series)
    assert clipped[500] == plain[500] > 500.0  # the outlier itself is scored as it is
    assert plain[-1] < 1.0  # it inflated the standard deviation about 40-fold
    assert clipped[-1] > 4.0  # learned as if it were 5 standard deviations away
    np.testing.assert_array_equal(clipped[:501], plain[:501])


@pytest.mark.parametrize("clip", [0.0, -1.0, float("nan")])
def test_bad_clip_is_refused(clip):
    with pytest.raises(ValueError, match="clip is a number of standard deviations"):
        RollingZScore(clip=clip)


def _daily(days=14, step=600.0, noise=1.0, seed=5):
    ts = np.arange(0.0, days * 86400.0, step)
    hour = (ts % 86400.0) / 3600.0
    rng = np.random.default_rng(seed)
    return ts, 50.0 + 30.0 * np.sin(2 * np.pi * hour / 24.0) + rng.normal(0.0, noise, ts.size)


def test_seasonal_baseline_knows_the_time_of_day():
    ts, ys = _daily()
    m = SeasonalBaseline(period=86400, slots=48).fit(ts, ys)
    six_am, six_pm = 6 * 3600.0 + 86400 * 20, 18 * 3600.0 + 86400 * 20
    # 80 is normal at 06:00 (peak) and far off at 18:00 (trough); a flat Gaussian cannot tell.
    assert m.predict([six_am, six_pm], [80.0, 80.0]).tolist() == [False, True]
    lo, hi = m.thresholds([six_am])
    assert lo[0] < 80.0 < hi[0]


def test_seasonal_batch_equals_one_point():
    ts, ys = _daily()
    m = SeasonalBaseline(period=86400, slots=24).fit(ts[:1000], ys[:1000])
    probe_t = np.concatenate([ts[1000:], [np.nan, 5.0]])
    probe_y = np.concatenate([ys[1000:], [1.0, np.nan]])
    np.testing.assert_array_equal(m.score(probe_t, probe_y), [m.score_one(t, y) for t, y in zip(probe_t, probe_y)])


def test_seasonal_empty_slot_falls_back_to_global_and_short_baseline_is_refused():
    m = SeasonalBaseline(period=86400, slots=24, min_per_slot=3).fit([0.0, 60.0, 120.0, 180.0], [1.0, 2.0, 3.0, 2.0])
    assert m.mu_[12] == 2.0 and m.mu_[0] == 2.0
    with pytest.raises(ValueError, match="usable points"):
        SeasonalBaseline().fit([], [])
    with pytest.raises(ValueError, match="same length"):
        SeasonalBaseline().fit([1.0, 2.0], [1.0])


@pytest.mark.parametrize("make", ONLINE)
def test_warmup_points_is_where_scoring_starts(make):
    d = make()
    scores = d.score(SERIES[:400])
    assert not scores[:d.warmup_points_].any() and (scores[d.warmup_points_:] != 0.0).all()


def test_a_window_shorter_than_the_warm_up_never_scores():
    d = RollingZScore(window=5, warmup=10)
    assert d.warmup_points_ == math.inf and not d.score(SERIES[:400]).any()
