# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Online detectors: exponentially weighted and rolling-window z-scores.

PRIVATE to the lepton.aiops collection.

Online means the score of point i uses only points before it (the point is
scored against the state, then folded in). ``score_one`` is the one-point
path; ``score`` runs it over a batch from the current state, so both give the
same numbers by construction. ``reset`` returns to the unfitted state. NaN
points score NaN and leave the state untouched (a gap).
"""

from __future__ import annotations

import math
from collections import deque

from ._common import HAS_NUMERIC, as_float_array, tail_score, z_quantile

if HAS_NUMERIC:
    import numpy as np
else:  # pragma: no cover
    np = None


class _Online:
    """Shared batch path and thresholding for online scorers."""

    def __init__(self, alpha=0.99, two_sided=True, warmup=10):
        self.alpha = alpha
        self.two_sided = two_sided
        self.warmup = warmup

    def fit(self, baseline=()):
        """Reset, then learn from ``baseline`` (may be empty). Returns self."""
        self.reset()
        for x in as_float_array(baseline, "baseline").tolist():
            self.score_one(x)
        return self

    def reset(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _z(self, x):  # pragma: no cover - overridden
        raise NotImplementedError

    @property
    def z_alpha_(self):
        return z_quantile(self.alpha, self.two_sided)

    @property
    def warmup_points_(self):  # pragma: no cover - overridden
        """Usable (non-NaN) points learned before a point can score non-zero (inf: never)."""
        raise NotImplementedError

    def score_one(self, value):
        """Standardised deviation of ``value`` from the state, then update.

        0.0 during the first ``warmup`` points, NaN for NaN.
        """
        x = float(value)
        if math.isnan(x):
            return float("nan")
        z = self._z(x)
        return abs(z) if self.two_sided else z

    def score(self, values):
        """Batch path: :meth:`score_one` over ``values`` in order."""
        return np.array([self.score_one(x) for x in as_float_array(values).tolist()], dtype=np.float64)

    def predict(self, values):
        """True where the score exceeds z_alpha (never for NaN)."""
        s = self.score(values)
        with np.errstate(invalid="ignore"):
            return s > self.z_alpha_

    def probability(self, values):
        """Scores mapped to [0, 1] as 1 - two-sided normal tail probability."""
        return np.array([tail_score(s) for s in self.score(values).tolist()], dtype=np.float64)


class EwmaDetector(_Online):
    """Exponentially weighted mean and variance; z of each point against them.

    ``halflife`` is in points: the weight of a point halves after that many.

    >>> d = EwmaDetector(halflife=20, warmup=5).fit([1.0, 1.2, 0.8, 1.1, 0.9, 1.0, 1.05, 0.95])
    >>> abs(d.score_one(1.0)) < 1.0, d.score_one(5.0) > 10.0
    (True, True)
    """

    def __init__(self, halflife=50.0, alpha=0.99, two_sided=True, warmup=10):
        super().__init__(alpha=alpha, two_sided=two_sided, warmup=warmup)
        self.halflife = halflife
        self.reset()

    def reset(self):
        if self.halflife <= 0:
            raise ValueError("halflife must be a positive number of points, got %r." % self.halflife)
        self.lambda_ = 1.0 - 0.5 ** (1.0 / float(self.halflife))
        self.mean_ = 0.0
        self.var_ = 0.0
        self.n_ = 0
        return self

    @property
    def warmup_points_(self):
        """Usable (non-NaN) points learned before a point can score non-zero.

        >>> EwmaDetector(warmup=10).warmup_points_
        10
        """
        return max(int(self.warmup), 1)

    def _z(self, x):
        if self.n_ == 0:
            self.mean_ = x
            z = 0.0
        else:
            sd = math.sqrt(self.var_)
            diff = x - self.mean_
            if self.n_ < self.warmup:
                z = 0.0
            elif sd > 0.0:
                z = diff / sd
            else:
                z = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
            incr = self.lambda_ * diff
            self.mean_ += incr
            self.var_ = (1.0 - self.lambda_) * (self.var_ + diff * incr)
        self.n_ += 1
        return z


class RollingZScore(_Online):
    """Mean and standard deviation of the last ``window`` points (NAB's windowed Gaussian).

    ``clip`` winsorises what the window learns: a point more than ``clip``
    standard deviations from the mean is scored as it is but enters the mean
    and variance as if it were ``clip`` standard deviations away, so one huge
    outlier does not hide the next one by inflating the standard deviation
    (inf, the default, learns every point as it is).

    >>> d = RollingZScore(window=5, warmup=3).fit([1.0, 2.0, 1.0, 2.0, 1.0])
    >>> round(d.score_one(1.5), 3), round(d.score_one(10.0), 2)
    (0.183, 17.0)
    """

    def __init__(self, window=6400, alpha=0.99, two_sided=True, warmup=10, clip=math.inf):
        super().__init__(alpha=alpha, two_sided=two_sided, warmup=warmup)
        self.window = window
        self.clip = clip
        self.reset()

    def reset(self):
        if int(self.window) < 2:
            raise ValueError("window must hold at least 2 points, got %r." % self.window)
        clip = float(self.clip)
        if math.isnan(clip) or clip <= 0.0:
            raise ValueError("clip is a number of standard deviations: a positive number "
                             "(inf learns every point as it is), got %r." % self.clip)
        self.buf_ = deque()
        self.last_sd_ = float("nan")
        self.center_ = None
        self.sum_ = 0.0
        self.sumsq_ = 0.0
        return self

    @property
    def warmup_points_(self):
        """Usable (non-NaN) points learned before a point can score non-zero; inf when ``window`` holds fewer.

        >>> RollingZScore(window=100, warmup=10).warmup_points_, RollingZScore(window=5, warmup=10).warmup_points_
        (10, inf)
        """
        need = max(int(self.warmup), 2)
        return need if int(self.window) >= need else math.inf

    def _z(self, x):
        n = len(self.buf_)
        if self.center_ is None:
            self.center_ = x  # shift for numerical stability of the running sums
        v = x - self.center_
        if n >= max(self.warmup, 2):
            mean = self.sum_ / n
            var = (self.sumsq_ / n - mean * mean) * n / (n - 1)
            diff = v - mean
            if var > 1e-12 * (self.sumsq_ / n):  # below that it is rounding noise
                self.last_sd_ = math.sqrt(var)
                z = diff / self.last_sd_
                if abs(z) > self.clip:  # winsorise what is learned, not what is scored
                    v = mean + math.copysign(self.clip * self.last_sd_, diff)
            else:
                self.last_sd_ = 0.0
                z = 0.0 if diff == 0.0 else math.copysign(math.inf, diff)
        else:
            self.last_sd_ = float("nan")
            z = 0.0
        self.buf_.append(v)
        self.sum_ += v
        self.sumsq_ += v * v
        if len(self.buf_) > self.window:
            old = self.buf_.popleft()
            self.sum_ -= old
            self.sumsq_ -= old * old
        return z
