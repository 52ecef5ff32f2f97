# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seasonal baseline: one robust Gaussian per slot of the day or week.

PRIVATE to the lepton.aiops collection.

The period (86400 s for daily, 604800 s for weekly) is cut into ``slots``
equal slots; each slot learns its own median and scaled MAD from the baseline
points whose timestamp falls in it. A slot with fewer than ``min_per_slot``
points falls back to the whole-baseline estimate. Timestamps are Unix seconds
(UTC); the phase of a point is ``timestamp mod period``.
"""

from __future__ import annotations

import math

from ._common import HAS_NUMERIC, MAD_TO_SIGMA, as_float_array, z_quantile

if HAS_NUMERIC:
    import numpy as np
else:  # pragma: no cover
    np = None


def _robust(x):
    med = float(np.median(x))
    return med, float(np.median(np.abs(x - med))) * MAD_TO_SIGMA


class SeasonalBaseline:
    """Per-slot median/MAD thresholds for a daily or weekly pattern.

    >>> ts = [h * 3600.0 for h in range(24 * 7)]
    >>> ys = [100.0 if 9 <= (t // 3600) % 24 < 17 else 10.0 for t in ts]
    >>> m = SeasonalBaseline(period=86400, slots=24, min_per_slot=3).fit(ts, ys)
    >>> m.predict([10 * 3600.0, 3 * 3600.0], [100.0, 100.0]).tolist()  # busy at 10:00 is normal, at 03:00 not
    [False, True]
    """

    def __init__(self, period=86400.0, slots=24, alpha=0.99, two_sided=True, min_per_slot=3, sigma_floor=0.0):
        self.period = period
        self.slots = slots
        self.alpha = alpha
        self.two_sided = two_sided
        self.min_per_slot = min_per_slot
        self.sigma_floor = sigma_floor

    def _slot(self, ts):
        return np.floor(np.mod(ts, self.period) / (self.period / self.slots)).astype(np.int64) % self.slots

    def fit(self, timestamps, values):
        """Learn mu_[slot], sigma_[slot] from baseline points."""
        if self.period <= 0 or int(self.slots) < 1:
            raise ValueError("period must be positive and slots at least 1.")
        ts = as_float_array(timestamps, "timestamps")
        x = as_float_array(values, "values")
        if ts.shape != x.shape:
            raise ValueError("timestamps and values must have the same length.")
        ok = ~(np.isnan(x) | np.isnan(ts))
        ts, x = ts[ok], x[ok]
        if x.size < max(int(self.min_per_slot), 2):
            raise ValueError("The baseline has %d usable points; a seasonal baseline needs more." % x.size)
        g_mu, g_sigma = _robust(x)
        slot = self._slot(ts)
        self.mu_ = np.full(int(self.slots), g_mu)
        self.sigma_ = np.full(int(self.slots), g_sigma)
        for s in range(int(self.slots)):
            xs = x[slot == s]
            if xs.size >= self.min_per_slot:
                self.mu_[s], self.sigma_[s] = _robust(xs)
        self.sigma_ = np.maximum(self.sigma_, float(self.sigma_floor))
        self.z_alpha_ = z_quantile(self.alpha, self.two_sided)
        self.threshold_ = self.mu_ + self.sigma_ * self.z_alpha_
        return self

    def score(self, timestamps, values):
        """Batch: (x - mu_[slot]) / sigma_[slot]; |.| when two-sided."""
        ts = as_float_array(timestamps, "timestamps")
        x = as_float_array(values)
        slot = self._slot(np.nan_to_num(ts))
        mu, sd = self.mu_[slot], self.sigma_[slot]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (x - mu) / sd
        flat = sd == 0.0
        z[flat] = np.where(x[flat] > mu[flat], np.inf, np.where(x[flat] < mu[flat], -np.inf, 0.0))
        z[np.isnan(x) | np.isnan(ts)] = np.nan
        return np.abs(z) if self.two_sided else z

    def predict(self, timestamps, values):
        """True where the point leaves its slot's band."""
        s = self.score(timestamps, values)
        with np.errstate(invalid="ignore"):
            return s > self.z_alpha_

    def thresholds(self, timestamps):
        """(lower, upper) band per timestamp, for plotting."""
        slot = self._slot(as_float_array(timestamps, "timestamps"))
        mu, sd = self.mu_[slot], self.sigma_[slot]
        return mu - sd * self.z_alpha_, mu + sd * self.z_alpha_

    def score_one(self, timestamp, value):
        """One-point :meth:`score` (same numbers)."""
        t, x = float(timestamp), float(value)
        if math.isnan(x) or math.isnan(t):
            return float("nan")
        s = int(math.floor(math.fmod(t, self.period) % self.period / (self.period / self.slots))) % int(self.slots)
        mu, sd = float(self.mu_[s]), float(self.sigma_[s])
        if sd > 0.0:
            z = (x - mu) / sd
        else:
            z = math.inf if x > mu else (-math.inf if x < mu else 0.0)
        return abs(z) if self.two_sided else z
