# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recommended online detector: self-calibrated novelty with suppression.

PRIVATE to the lepton.aiops collection.

Three stages, each using only the past:

1. **Deviation.** |z| of the point against the mean and standard deviation of
   the previous ``window`` points (a rolling Gaussian).
2. **Calibration.** The deviation is ranked among the deviations of the
   previous ``window`` points: p = (number of past deviations >= this one + 1)
   / (n + 1), an empirical tail probability. This replaces the Gaussian tail,
   which is badly wrong for skewed, periodic or heavy-tailed metrics, and
   makes one threshold mean the same thing on every series.
3. **Suppression.** A point is reported only if it is more surprising than
   every point of the last ``suppress`` points; otherwise its score is 0. One
   incident then raises one alert instead of a burst.

The score is 1 - p in [0, 1) (0 while warming up, for suppressed points and
for NaN). ``score >= alpha`` flags a point whose deviation is in the top
(1 - alpha) of the recent past and a new high within the suppression span.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from ._common import HAS_NUMERIC, as_float_array
from .online import RollingZScore

if HAS_NUMERIC:
    import numpy as np
else:  # pragma: no cover
    np = None


class NoveltyDetector:
    """Rolling z, ranked against its own recent history, with suppression.

    >>> d = NoveltyDetector(window=200, suppress=20, warmup=20)
    >>> quiet = [10.0 + (i % 7) * 0.1 for i in range(300)]
    >>> scores = d.score(quiet + [25.0] + quiet[:30])
    >>> int(scores.argmax()), round(float(scores.max()), 3), float(scores[301:321].max())
    (300, 0.995, 0.0)
    """

    def __init__(self, window=6400, suppress=100, warmup=50, alpha=0.99):
        self.window = window
        self.suppress = suppress
        self.warmup = warmup
        self.alpha = alpha
        self.reset()

    def reset(self):
        """Forget everything learned."""
        if int(self.window) < 2 or int(self.suppress) < 0 or int(self.warmup) < 1:
            raise ValueError("window must be at least 2, suppress at least 0 and warmup at least 1.")
        self.z_ = RollingZScore(window=int(self.window), warmup=min(10, int(self.warmup)), two_sided=True)
        self.sorted_ = []
        self.fifo_ = deque()
        self.recent_ = deque()
        return self

    def fit(self, baseline=()):
        """Reset, then learn from ``baseline`` points. Returns self."""
        self.reset()
        for x in as_float_array(baseline, "baseline").tolist():
            self.score_one(x)
        return self

    def surprise_one(self, value):
        """-log10 of the calibrated tail probability (before suppression), then update."""
        z = self.z_.score_one(value)
        if math.isnan(z):
            return float("nan")
        hist = self.sorted_
        n = len(hist)
        s = -math.log10((n - bisect.bisect_left(hist, z) + 1.0) / (n + 1.0)) if n >= self.warmup else 0.0
        bisect.insort(hist, z)
        self.fifo_.append(z)
        if len(self.fifo_) > self.window:
            del hist[bisect.bisect_left(hist, self.fifo_.popleft())]
        return s

    def score_one(self, value):
        """Score one point in [0, 1), then learn from it."""
        s = self.surprise_one(value)
        if math.isnan(s):
            return 0.0
        recent = self.recent_
        reported = s > 0.0 and (not recent or s > max(recent))
        recent.append(s)
        if len(recent) > self.suppress:
            recent.popleft()
        return 1.0 - 10.0 ** -s if reported else 0.0

    def score(self, values):
        """Batch path: :meth:`score_one` over ``values`` in order (same numbers)."""
        return np.array([self.score_one(x) for x in as_float_array(values).tolist()], dtype=np.float64)

    def predict(self, values):
        """True where the score reaches ``alpha``."""
        return self.score(values) >= self.alpha
