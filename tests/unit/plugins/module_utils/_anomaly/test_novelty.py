# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recommended online detector."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._anomaly.novelty import ContextDistance, NoveltyDetector, RankCalibrator

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


@pytest.mark.parametrize("kwargs", [{"window": 1}, {"suppress": -1}, {"warmup": 0}, {"refractory": -1}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError, match="window must be"):
        NoveltyDetector(**kwargs)


@pytest.mark.parametrize("kwargs,message", [
    ({"period_gate": -0.1}, "period_gate and seasonal_gate"),
    ({"seasonal_gate": float("nan")}, "period_gate and seasonal_gate"),
    ({"record_factor": -1.0}, "record_factor"),
    ({"calm_margin": -0.5}, "calm_margin"),
    ({"calm_margin": float("nan")}, "calm_margin"),
    ({"clip": 0.0}, "clip is a number of standard deviations"),
])
def test_bad_gates_and_factors_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NoveltyDetector(**kwargs)


def test_fit_warms_the_state():
    warmed = NoveltyDetector(window=500).fit(SPIKED[:1000]).score(SPIKED[1000:])
    np.testing.assert_array_equal(warmed, NoveltyDetector(window=500).score(SPIKED)[1000:])
    assert warmed[200] > 0.99


@pytest.mark.parametrize("m,window", [(1, 10), (3, 40), (8, 100), (5, 60)])
def test_context_distance_matches_brute_force(m, window):
    x = np.random.default_rng(m).normal(size=400).cumsum()
    c = ContextDistance(m=m, window=window, min_lags=1)
    for t, v in enumerate(x):
        got = c.update(v)
        lags = [lag for lag in range(m, window + 1) if t - lag - m + 1 >= 0]
        if not lags:
            assert math.isnan(got)
            continue
        cur = x[t - m + 1:t + 1]
        want = min(math.sqrt(((cur - x[t - lag - m + 1:t - lag + 1]) ** 2).sum()) for lag in lags)
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_rank_calibrator_is_an_empirical_tail_probability():
    r = RankCalibrator(window=1000, warmup=1)
    for v in range(99):
        r.surprise_one(float(v))
    # 99 past values, none >= 1000: p = 1 / 100; 50 past values >= 49.5: p = 51 / 101
    assert r.surprise_one(1000.0) == pytest.approx(2.0)
    assert r.surprise_one(49.5) == pytest.approx(-math.log10(51 / 101))


def test_shape_anomaly_in_range_is_found_by_context():
    t = np.arange(3000)
    wave = np.sin(2 * np.pi * t / 100.0) + RNG.normal(0.0, 0.02, t.size)
    wave[2500:2540] = 0.0  # flat stretch inside the normal range: no |z| outlier
    scores = NoveltyDetector().score(wave)
    plain = NoveltyDetector(context=0).score(wave)
    # The flat stretch is the most surprising thing since warm-up, and only the context sees it.
    assert scores[2500:2560].max() > scores[500:2500].max()
    assert scores[2500:2560].max() > plain[2500:2560].max()
    assert plain[2500:2560].max() < plain[500:2500].max()


def test_period_distance_is_the_same_phase_distance():
    period, m = 24, 4
    x = np.tile(np.r_[np.zeros(12), np.ones(12)], 20) + np.random.default_rng(3).normal(0.0, 0.01, 480)
    c = ContextDistance(m=m, window=100, min_lags=1)
    for t, v in enumerate(x):
        c.update(v)
    # after many days the learned period is the true one (or a multiple of it)
    lag = period
    want = math.sqrt(((x[-m:] - x[-lag - m:-lag]) ** 2).sum())
    assert c.period_distance_ <= want + 1e-9
    assert c.period_distance_ < 0.1


def test_periodic_feature_flags_a_missing_daily_jump():
    day = np.r_[np.full(40, 10.0), np.full(10, 20.0), np.full(46, 10.0)]
    rng = np.random.default_rng(5)
    series = np.tile(day, 30) + rng.normal(0.0, 0.3, 96 * 30)
    series[96 * 25 + 40:96 * 25 + 50] = 10.0 + rng.normal(0.0, 0.3, 10)  # the jump of day 25 is missing
    with_period = NoveltyDetector(window=2000, suppress=50).score(series)
    without = NoveltyDetector(window=2000, suppress=50, periodic=False).score(series)
    span = slice(96 * 25 + 40, 96 * 25 + 60)
    assert with_period[span].max() > without[span].max()
    assert with_period[span].max() >= 0.98


def test_refractory_silences_the_next_point_of_a_burst():
    x = np.random.default_rng(2).normal(100.0, 5.0, 3000)
    loud = NoveltyDetector(refractory=0).score(x)
    quiet = NoveltyDetector(refractory=50).score(x)
    bursts = [i for i in range(x.size - 1) if loud[i] > 0.99 and loud[i + 1] > 0.99]
    assert bursts  # without a refractory this noise raises two alerts in a row somewhere
    first = bursts[0]
    assert quiet[first] == loud[first] and quiet[first + 1] == 0.0
    assert set(np.flatnonzero(quiet).tolist()) <= set(np.flatnonzero(loud).tolist())


def test_an_escalation_alerts_once_but_a_much_larger_spike_still_does():
    ramp = 118.0 + np.arange(8.0)  # every point a new |z| record, each only a little higher
    series = np.concatenate([NOISE[:1000], ramp, NOISE[1000:]])
    once = NoveltyDetector().score(series)
    every_record = NoveltyDetector(record_factor=0.0).score(series)
    assert np.count_nonzero(once[1000:1100]) == 1
    assert np.count_nonzero(every_record[1000:1008]) > 3
    spiked = np.concatenate([NOISE[:1000], ramp, [190.0], NOISE[1000:]])
    assert NoveltyDetector().score(spiked)[1008] > 0.99  # |z| 18 after a report at |z| 4: breaks through


def test_a_record_breaks_through_the_refractory():
    series = np.concatenate([NOISE[:1000], [135.0], NOISE[1000:1010], [170.0], NOISE[1010:]])
    scores = NoveltyDetector().score(series)
    assert scores[1000] > 0.99 and scores[1011] > 0.99


def _daily(days=30, seed=5):
    """A clean daily pattern of 96 points: low, then high while the sine is above 0.3."""
    t = np.arange(96 * days)
    rng = np.random.default_rng(seed)
    return 10.0 + 10.0 * (np.sin(2 * np.pi * t / 96) > 0.3) + rng.normal(0.0, 0.3, t.size), rng


def test_period_value_and_unexplained_match_brute_force():
    m, window = 3, 40
    x = np.tile(np.r_[np.zeros(6), np.ones(6)], 30) + np.random.default_rng(4).normal(0.0, 0.05, 360)
    c = ContextDistance(m=m, window=window, min_lags=1)
    sums = np.zeros(window + 1)
    counts = np.zeros(window + 1)
    for t, v in enumerate(x):
        c.update(v)
        lags = [lag for lag in range(m, window + 1) if t - lag - m + 1 >= 0]
        for lag in lags:
            sums[lag] += ((x[t - m + 1:t + 1] - x[t - lag - m + 1:t - lag + 1]) ** 2).sum()
            counts[lag] += 1
        if not lags:
            continue
        means = sums[lags] / counts[lags]
        period = lags[int(np.argmin(means))]
        assert c.period_value_ == x[t - period]
        assert c.unexplained_ == pytest.approx(means.min() / means.mean(), rel=1e-6)
    assert c.unexplained_ < 0.05  # a clean period of 12 explains nearly all the variance


@pytest.mark.parametrize("name,unexplained_below,unexplained_above", [
    ("noise", None, 0.5),
    ("daily", 0.02, None),
])
def test_unexplained_share_tells_a_period_from_noise(name, unexplained_below, unexplained_above):
    x = RNG.normal(0.0, 1.0, 2000) if name == "noise" else _daily(20)[0]
    c = ContextDistance(m=8, window=1000, min_lags=50)
    for v in x:
        c.update(v)
    if unexplained_below is not None:
        assert c.unexplained_ < unexplained_below
    if unexplained_above is not None:
        assert c.unexplained_ > unexplained_above


def test_period_features_are_ignored_without_a_period():
    x = np.random.default_rng(8).normal(50.0, 2.0, 3000)
    x[2500] = 70.0
    gated = NoveltyDetector(window=2000).score(x)
    np.testing.assert_array_equal(gated, NoveltyDetector(window=2000, period_gate=0.0, seasonal_gate=0.0).score(x))
    assert not np.array_equal(gated, NoveltyDetector(window=2000, period_gate=np.inf).score(x))
    assert int(np.argmax(gated)) == 2500


def test_seasonal_residual_flags_a_missing_high_phase():
    series, rng = _daily()
    start, end = 96 * 25 + 5, 96 * 25 + 30
    series[start:end] = 10.0 + rng.normal(0.0, 0.3, end - start)  # stays low where every day was high
    span = slice(start, end + 20)
    with_residual = NoveltyDetector(window=2000, suppress=50).score(series)
    without = NoveltyDetector(window=2000, suppress=50, seasonal_gate=0.0).score(series)

    def lead(scores):  # how much more surprising (log10 of the odds) the anomaly is than any earlier point
        return math.log10((1.0 - scores[400:start].max()) / (1.0 - scores[span].max()))

    # only the same-phase residual makes the missing high phase stand out from everything before it
    assert lead(with_residual) > 0.5
    assert lead(without) < 0.5
    assert with_residual[span].max() >= 0.99


def test_spread_is_the_standard_deviation_of_the_current_context():
    x = np.random.default_rng(8).normal(size=300).cumsum()
    c = ContextDistance(m=5, window=60, min_lags=1)
    for t, v in enumerate(x):
        c.update(v)
        if t >= 2 * 5 - 1:  # the first earlier window is complete
            assert c.spread_ == pytest.approx(float(np.std(x[t - 4:t + 1])), rel=1e-9, abs=1e-12)


def _surprises(detector, series):
    out = []
    for v in series:
        detector.score_one(v)
        out.append(detector.last_surprise_)
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 3, 6])
def test_a_frozen_sensor_is_an_unusual_shape_only_with_the_calm_feature(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(10.0, 1.0, 3000)
    x[2500:2520] = 10.0 + rng.normal(0.0, 0.01, 20)  # stuck at its usual mean: no |z|, no odd shape
    calm = _surprises(NoveltyDetector(), x)
    blind = _surprises(NoveltyDetector(calm_margin=math.inf), x)
    assert calm[2510:2520].min() > 0.5  # the shape half of the surprise sees the stretch
    assert blind[2510:2520].max() < 0.1
    # A calm stretch alone is not an alert: the deviation must agree.
    assert calm[2500:2520].max() < 2.0
    np.testing.assert_array_equal(calm[:2500] >= blind[:2500], True)


@pytest.mark.parametrize("m,window", [(3, 200), (8, 300)])
def test_excluded_points_are_no_match_until_released(m, window):
    x = np.random.default_rng(m).normal(size=420)
    motif = np.array([6.0, -3.0, 9.0, 0.0, -7.0, 4.0, 8.0, -5.0, 2.0, 7.0])
    for start in (150, 250, 350):
        x[start:start + 10] = motif + x[start:start + 10] * 0.01  # the nearest match of each repeat is the last
    c = ContextDistance(m=m, window=window, min_lags=1)
    excluded, differs = [], 0
    for t, v in enumerate(x):
        got = c.update(v)
        if t in (154, 157):
            c.exclude()
            excluded.append(t)
        if t == 300:  # 154 is back in the search, 157 still out
            c.release(154)
            excluded.remove(154)
        lags = [lag for lag in range(m, window + 1) if t - lag - m + 1 >= 0]
        if not lags or t in (154, 157, 300):
            continue
        cur = x[t - m + 1:t + 1]
        dist = {lag: math.sqrt(((cur - x[t - lag - m + 1:t - lag + 1]) ** 2).sum()) for lag in lags}
        held = {lag: [e for e in excluded if t - lag - m + 1 <= e <= t - lag] for lag in lags}
        want = min(d for lag, d in dist.items() if not held[lag])
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)
        differs += want > min(dist.values()) + 1.0
        best = min(dist, key=dist.get)
        assert c.excluded_match_ == (held[best][0] if held[best] else None)
    assert differs >= 5  # the exclusion hid the best match of the repeats several times


def test_a_reported_incident_is_no_reference_until_it_recurs():
    x = np.random.default_rng(1).normal(0.0, 1.0, 2400)
    x[1500:1504] = x[2200:2204] = 8.0
    d, plain = NoveltyDetector(), NoveltyDetector(exclude_alerts=False)
    excluded_after = {}
    for t, v in enumerate(x):
        assert (d.score_one(v) == plain.score_one(v)) or t > 1500  # the same until an incident is excluded
        excluded_after[t] = list(d.ctx_.excluded_)
    assert excluded_after[1500] == [1500]  # the report of the first spike takes it out of the search
    assert excluded_after[2199] == [1500]
    assert excluded_after[2200] == []  # the second spike finds it: it recurred, so it is a reference again
    assert not plain.ctx_.excluded_


@pytest.mark.parametrize("kwargs", [{}, {"window": 300, "warmup": 20}, {"context": 3, "warmup": 7, "window": 60},
                                    {"context": 0, "warmup": 30}, {"window": 57}, {"periodic": False}])
def test_warmup_points_is_where_every_rank_is_warm(kwargs):
    d = NoveltyDetector(**kwargs)
    need = d.warmup_points_
    last_rank = d.ctx_rank_ if d.ctx_ is not None else d.z_rank_  # the rank that warms up last
    for x in NOISE[:need]:
        d.surprise_one(x)
    assert len(last_rank.fifo_) == d.warmup and len(d.z_rank_.fifo_) >= d.warmup


@pytest.mark.parametrize("kwargs", [{"window": 56}, {"window": 40}, {"window": 8}])
def test_a_window_too_short_to_warm_up_never_scores(kwargs):
    d = NoveltyDetector(**kwargs)
    assert d.warmup_points_ == math.inf and not d.score(SPIKED).any()
