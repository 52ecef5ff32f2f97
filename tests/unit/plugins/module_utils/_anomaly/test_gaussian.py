# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Gaussian model of the product spec, checked against scipy.stats.norm."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ansible_collections.lepton.aiops.plugins.module_utils._anomaly.gaussian import (
    GaussianModel, RobustModel, system_probability, system_probability_one)

RNG = np.random.default_rng(7)
BASE = RNG.normal(50.0, 4.0, 500)
PROBE = np.concatenate([RNG.normal(50.0, 4.0, 200), [np.nan, 80.0, 20.0, 50.0]])


@pytest.mark.parametrize("alpha", [0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("two_sided", [False, True])
def test_threshold_is_the_normal_quantile(alpha, two_sided):
    m = GaussianModel(alpha=alpha, two_sided=two_sided).fit(BASE)
    mu, sigma = BASE.mean(), BASE.std(ddof=1)
    q = (1 + alpha) / 2 if two_sided else alpha
    assert m.threshold_ == pytest.approx(stats.norm.ppf(q, loc=mu, scale=sigma), rel=1e-12)
    if two_sided:
        assert m.lower_threshold_ == pytest.approx(stats.norm.ppf(1 - q, loc=mu, scale=sigma), rel=1e-12)
    # Under the model a fraction alpha of points is within the thresholds.
    assert np.mean(~m.predict(RNG.normal(mu, sigma, 200000))) == pytest.approx(alpha, abs=3e-3)


@pytest.mark.parametrize("alpha,two_sided", [(0.95, False), (0.99, False), (0.99, True)])
def test_probability_within_matches_norm(alpha, two_sided):
    m = GaussianModel(alpha=alpha, two_sided=two_sided).fit(BASE)
    x = np.array([m.mu_, m.threshold_, m.mu_ + 10 * m.sigma_, m.mu_ - 3 * m.sigma_])
    dist = stats.norm(loc=x, scale=m.sigma_)
    want = dist.cdf(m.threshold_) - (dist.cdf(m.lower_threshold_) if two_sided else 0.0)
    np.testing.assert_allclose(m.prob_within(x), want, rtol=1e-10, atol=1e-15)
    # A service sitting at its mean is within its threshold with probability alpha.
    assert m.prob_within_one(m.mu_) == pytest.approx(alpha, rel=1e-12)


@pytest.mark.parametrize("cls", [GaussianModel, RobustModel])
@pytest.mark.parametrize("two_sided", [False, True])
def test_batch_equals_one_point(cls, two_sided):
    m = cls(alpha=0.99, two_sided=two_sided).fit(BASE)
    batch = m.score(PROBE)
    one = np.array([m.score_one(x) for x in PROBE])
    np.testing.assert_array_equal(batch, one)  # bit for bit, NaN where NaN
    assert m.predict(PROBE).tolist() == [m.predict_one(x) for x in PROBE]
    np.testing.assert_allclose(m.prob_within(PROBE), [m.prob_within_one(x) for x in PROBE], rtol=1e-12)


def test_flags_only_points_beyond_threshold():
    m = GaussianModel(alpha=0.99).fit(BASE)
    flags = m.predict([m.threshold_ - 1e-9, m.threshold_ + 1e-9, np.nan, -1e9])
    assert flags.tolist() == [False, True, False, False]
    assert GaussianModel(alpha=0.99, two_sided=True).fit(BASE).predict([-1e9]).tolist() == [True]


@pytest.mark.parametrize("cls", [GaussianModel, RobustModel])
def test_constant_baseline_sigma_zero(cls):
    m = cls(alpha=0.99).fit([5.0] * 20)
    assert m.sigma_ == 0.0 and m.threshold_ == 5.0
    assert m.score([5.0, 5.1, 4.9]).tolist() == [0.0, math.inf, -math.inf]
    assert m.predict([5.0, 5.1, 4.9]).tolist() == [False, True, False]
    assert [m.score_one(v) for v in (5.0, 5.1, 4.9)] == [0.0, math.inf, -math.inf]
    assert m.prob_within([5.0, 5.1]).tolist() == [1.0, 0.0]
    floored = cls(alpha=0.99, sigma_floor=1.0).fit([5.0] * 20)
    assert floored.predict([5.1]).tolist() == [False]


def test_nan_in_baseline_is_ignored():
    clean = GaussianModel().fit(BASE)
    holed = GaussianModel().fit(np.concatenate([BASE, [np.nan] * 50]))
    assert (holed.mu_, holed.sigma_, holed.n_) == (clean.mu_, clean.sigma_, clean.n_)


@pytest.mark.parametrize("baseline", [[], [np.nan] * 30, [1.0, 2.0, 3.0]])
def test_empty_or_short_baseline_is_refused(baseline):
    with pytest.raises(ValueError, match="usable points"):
        GaussianModel(min_samples=10).fit(baseline)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1])
def test_alpha_outside_zero_one_is_refused(alpha):
    with pytest.raises(ValueError, match="alpha"):
        GaussianModel(alpha=alpha).fit(BASE)


def test_robust_model_ignores_an_outlier_in_the_baseline():
    polluted = np.concatenate([BASE, [1e6]])
    assert RobustModel().fit(polluted).threshold_ == pytest.approx(RobustModel().fit(BASE).threshold_, rel=0.02)
    assert GaussianModel().fit(polluted).threshold_ > 1000


def test_robust_sigma_estimates_normal_sigma():
    x = np.random.default_rng(3).normal(0.0, 2.0, 100000)
    assert RobustModel().fit(x).sigma_ == pytest.approx(2.0, rel=0.02)


@pytest.mark.parametrize("probs,want", [
    ([[0.99], [0.99], [0.99]], 0.99 ** 3),
    ([[0.99], [0.2]], 0.99 * 0.2),
    ([[0.5], [np.nan]], 0.5),
])
def test_system_probability_is_the_product(probs, want):
    assert system_probability(probs)[0] == pytest.approx(want, rel=1e-12)
    assert system_probability_one([p[0] for p in probs]) == pytest.approx(want, rel=1e-12)


def test_system_probability_without_any_data_is_nan():
    assert np.isnan(system_probability([[np.nan], [np.nan]])[0])
    assert math.isnan(system_probability_one([np.nan]))


def test_system_probability_drops_when_one_service_misbehaves():
    models = [GaussianModel(alpha=0.99).fit(RNG.normal(10 * k, k, 300)) for k in (1, 2, 3)]
    quiet = system_probability([[m.prob_within_one(m.mu_)] for m in models])[0]
    loud = system_probability([[models[0].prob_within_one(100.0)]] + [[m.prob_within_one(m.mu_)] for m in models[1:]])[0]
    assert quiet == pytest.approx(0.99 ** 3, rel=1e-9)
    assert loud < 0.01
