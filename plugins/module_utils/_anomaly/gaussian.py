# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The product's Gaussian model and its robust variant. PRIVATE to lepton.aiops.

Each service i has a metric X_ij at time j, modelled as N(mu_i, sigma_i^2)
learned on a baseline window. The threshold is T_i = mu_i + sigma_i * z_alpha
with z_alpha the standard normal alpha-quantile. A point is anomalous when it
exceeds T_i (or leaves [mu_i - sigma_i z, mu_i + sigma_i z] when two-sided,
with z the (1 + alpha) / 2 quantile).

System level: assuming the services are independent given their baselines,
the probability that no service exceeds its threshold is the product
P(max_i X_ij < T) = prod_i P(X_ij < T_i). For the observed point x_ij we
take P(X_ij < T_i) = Phi((T_i - x_ij) / sigma_i): the probability that the
service, observed at x_ij with its baseline noise sigma_i, is under its
threshold. At x_ij = mu_i it equals alpha, so a quiet system of n services
reads alpha ** n; it drops towards 0 as services approach and cross their
thresholds. Correlated services (a shared database, one load balancer) make
the product too pessimistic: read it as a score, not as a calibrated
probability, when the independence assumption does not hold.

Edge cases, handled explicitly:

* NaN and gaps: NaN points are ignored when fitting; a NaN point scores NaN,
  is never anomalous, and is left out of the system product (a missing
  service neither raises nor lowers the system probability).
* sigma = 0 (a constant baseline): any point above mu is anomalous with an
  infinite score, a point equal to mu scores 0. Set ``sigma_floor`` to
  tolerate small deviations instead.
* short baselines: ``fit`` raises ValueError when fewer than ``min_samples``
  usable points remain.
"""

from __future__ import annotations

import math

from ._common import HAS_NUMERIC, MAD_TO_SIGMA, as_float_array, phi, z_quantile

if HAS_NUMERIC:
    import numpy as np
    from scipy.special import ndtr
else:  # pragma: no cover
    np = ndtr = None


class GaussianModel:
    """Per-service Gaussian baseline with threshold ``mu + sigma * z_alpha``.

    >>> m = GaussianModel(alpha=0.99).fit([10.0, 11.0, 9.0, 10.0, 10.0, 11.0, 9.0, 10.0, 10.0, 10.0])
    >>> round(m.mu_, 3), round(m.sigma_, 3), round(m.threshold_, 3)
    (10.0, 0.667, 11.551)
    >>> m.predict([10.5, 12.0]).tolist()
    [False, True]
    >>> m.score_one(12.0) > m.z_alpha_
    True
    """

    location = "mean"

    def __init__(self, alpha=0.99, two_sided=False, min_samples=10, sigma_floor=0.0):
        self.alpha = alpha
        self.two_sided = two_sided
        self.min_samples = min_samples
        self.sigma_floor = sigma_floor

    # -- learning -----------------------------------------------------------
    def _estimate(self, x):
        return float(np.mean(x)), float(np.std(x, ddof=1))

    def fit(self, baseline):
        """Learn mu_, sigma_ and the thresholds from the baseline values."""
        x = as_float_array(baseline, "baseline")
        x = x[~np.isnan(x)]
        if x.size < max(int(self.min_samples), 2):
            raise ValueError(
                "The baseline has %d usable points; at least %d are needed to learn a threshold."
                % (x.size, max(int(self.min_samples), 2)))
        mu, sigma = self._estimate(x)
        self.mu_ = mu
        self.sigma_ = max(sigma, float(self.sigma_floor))
        self.n_ = int(x.size)
        self.z_alpha_ = z_quantile(self.alpha, self.two_sided)
        self.threshold_ = self.mu_ + self.sigma_ * self.z_alpha_
        self.lower_threshold_ = self.mu_ - self.sigma_ * self.z_alpha_ if self.two_sided else None
        return self

    # -- batch path ---------------------------------------------------------
    def score(self, values):
        """Standardised deviation (x - mu) / sigma; |.| when two-sided. NaN stays NaN."""
        x = as_float_array(values)
        if self.sigma_ > 0.0:
            z = (x - self.mu_) / self.sigma_
        else:
            z = np.where(x > self.mu_, np.inf, np.where(x < self.mu_, -np.inf, 0.0))
            z[np.isnan(x)] = np.nan
        return np.abs(z) if self.two_sided else z

    def predict(self, values):
        """True where the point is beyond its threshold (never for NaN)."""
        s = self.score(values)
        with np.errstate(invalid="ignore"):
            return s > self.z_alpha_

    def prob_within(self, values):
        """P(X_ij within threshold) for each observed point, see the module doc."""
        x = as_float_array(values)
        if self.sigma_ > 0.0:
            z = (x - self.mu_) / self.sigma_
            p = ndtr(self.z_alpha_ - z)
            if self.two_sided:
                p = p - ndtr(-self.z_alpha_ - z)
            return p
        inside = x <= self.threshold_
        if self.two_sided:
            inside &= x >= self.lower_threshold_
        p = inside.astype(np.float64)
        p[np.isnan(x)] = np.nan
        return p

    # -- one-point path -----------------------------------------------------
    def score_one(self, value):
        """One-point :meth:`score`, plain Python floats (same numbers)."""
        x = float(value)
        if math.isnan(x):
            return float("nan")
        if self.sigma_ > 0.0:
            z = (x - self.mu_) / self.sigma_
        else:
            z = math.inf if x > self.mu_ else (-math.inf if x < self.mu_ else 0.0)
        return abs(z) if self.two_sided else z

    def predict_one(self, value):
        """One-point :meth:`predict`."""
        return self.score_one(value) > self.z_alpha_

    def prob_within_one(self, value):
        """One-point :meth:`prob_within`."""
        x = float(value)
        if math.isnan(x):
            return float("nan")
        if self.sigma_ > 0.0:
            z = (x - self.mu_) / self.sigma_
            p = phi(self.z_alpha_ - z)
            if self.two_sided:
                p -= phi(-self.z_alpha_ - z)
            return p
        inside = x <= self.threshold_ and (not self.two_sided or x >= self.lower_threshold_)
        return 1.0 if inside else 0.0


class RobustModel(GaussianModel):
    """The Gaussian model with median and scaled MAD instead of mean and std.

    One outlier in the baseline barely moves it:

    >>> m = RobustModel(alpha=0.99, min_samples=5).fit([10.0, 11.0, 9.0, 10.0, 500.0])
    >>> m.mu_, round(m.sigma_, 4)
    (10.0, 1.4826)
    """

    location = "median"

    def _estimate(self, x):
        med = float(np.median(x))
        return med, float(np.median(np.abs(x - med))) * MAD_TO_SIGMA


def system_probability(probabilities):
    """Product over services (axis 0) of P(within threshold), ignoring NaN.

    ``probabilities`` is services x time (or one value per service). A column
    where every service is NaN (no data at all) gives NaN.

    >>> system_probability([[0.99, 0.5], [0.99, float('nan')]]).round(4).tolist()
    [0.9801, 0.5]
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 1:
        p = p.reshape(-1, 1)
    out = np.nanprod(p, axis=0)
    out[np.all(np.isnan(p), axis=0)] = np.nan
    return out


def system_probability_one(probabilities):
    """One-point :func:`system_probability` over a list of per-service values."""
    out, seen = 1.0, False
    for p in probabilities:
        if not math.isnan(p):
            out *= p
            seen = True
    return out if seen else float("nan")
