# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The recommended online detector: self-calibrated novelty with suppression.

PRIVATE to the lepton.aiops collection.

Five stages, each using only the past:

1. **Deviation.** |z| of the point against the mean and standard deviation of
   the previous ``window`` points (a rolling Gaussian). What the window learns
   is winsorised at ``clip`` (10) standard deviations: a point beyond is
   scored as it is but remembered as if it were 10 away, so one huge outlier
   does not inflate the standard deviation and hide the next incident.
2. **Context.** The distance from the last ``context`` points (the current
   shape) to the most similar earlier stretch of ``context`` points within
   ``window`` (nearest neighbour, not overlapping), divided by the rolling
   standard deviation. A value in its usual range but in an unusual shape
   (a missing daily peak, a flat stretch in a noisy signal) is far from every
   earlier shape. A point reported with a surprise of at least
   ``refractory_level`` is taken out of this search (``exclude_alerts``): an
   incident is no reference for the next one, so a second spike like one
   that was reported as an incident is still novel. When a point that
   surprising finds its nearest stretch, searched without that restriction,
   holding such a point, the incident has recurred and the point is put back
   (both are references from then on): a recurring pattern gets at most one
   more alert than it would without the exclusion, not one every time.

   **Calm.** The rolling standard deviation over the spread (standard
   deviation) of the same last ``context`` points: large when the current
   stretch is much quieter than the series usually is (a sensor that
   freezes or a load that stalls before a failure). Its ranked surprise,
   less ``calm_margin`` (0.5: it must be 10 ** 0.5 times less likely than
   the other shape features to win, the price of taking the larger of
   several p-values), is a third shape.
3. **Period** (``periodic=True``). The period is the lag whose distance
   has been smallest on average so far (learned online, no whole-series
   statistics), and *unexplained* is that mean distance divided by the mean
   over all lags: roughly the share of the variance that repeating the
   period leaves unexplained (near 1 for noise, near 0 for a clean daily
   pattern). Two features use it:

   * the distance from the current shape to the stretch exactly one period
     earlier, used while unexplained < ``period_gate`` (0.1: the period
     explains 90 % of the variance). A nearest neighbour anywhere in the
     history hides a day that is different from yesterday (a missing jump);
     the same-phase comparison does not. On a series without a period it is
     the distance to an arbitrary lag, which only adds false alarms, hence
     the gate;
   * the residual against the same phase, |x - x[t - period]|, used as a
     second deviation while unexplained < ``seasonal_gate`` (0.02: the
     series is almost a repeated pattern). A value in its usual range at the
     wrong time of day (a flat middle, a jump down where there was always a
     jump up) has no |z| outlier but a large residual.
4. **Calibration.** Each feature is ranked among its own previous
   ``window`` values: p = (number of past values >= this one + 1) / (n + 1),
   an empirical tail probability, which makes one threshold mean the same
   thing on every series whatever its distribution. The surprise is the mean
   of -log10 p of a deviation (|z|, or the larger of |z| and the seasonal
   residual) and of a shape (the larger of context, calm less its margin
   and, while gated in, period distance), i.e. the geometric mean of two
   p-values: both must agree that the point is unusual.
5. **Suppression.** A point is reported only if it is more surprising than
   every point of the last ``suppress`` points; otherwise its score is 0. One
   incident then raises one alert instead of a burst. Moreover, after a
   report whose surprise reaches ``refractory_level`` (p <= 0.01 for the
   default 2.0), nothing is reported for ``refractory`` points unless it is
   ``refractory_margin`` more surprising (10 times less likely for the default
   1.0) or its |z| is a record (beyond every one of the last ``window``)
   and ``record_factor`` times the |z| of that report (1.5): the escalation
   of an incident stays quiet, a much stronger event does not. NAB (and an operator) rewards the first alert of an incident and
   charges for every further one.

The score is 1 - 10 ** -surprise in [0, 1) (0 while warming up, for
suppressed points and for NaN, which is a gap and changes no state).
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


class RankCalibrator:
    """-log10 of the empirical upper-tail probability among the last ``window`` values.

    >>> r = RankCalibrator(window=100, warmup=5)
    >>> [round(r.surprise_one(v), 3) for v in [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 0.5]]
    [0.0, 0.0, 0.0, 0.0, 0.0, 0.778, 0.0]
    """

    def __init__(self, window=6400, warmup=50):
        self.window = int(window)
        self.warmup = int(warmup)
        self.sorted_ = []
        self.fifo_ = deque()
        self.last_record_ = False

    def surprise_one(self, value):
        """Surprise of ``value`` (0.0 during warm-up), then remember it."""
        hist = self.sorted_
        n = len(hist)
        above = n - bisect.bisect_left(hist, value)
        self.last_record_ = n >= self.warmup and above == 0  # beyond every remembered value
        s = 0.0 - math.log10((above + 1.0) / (n + 1.0)) if n >= self.warmup else 0.0
        bisect.insort(hist, value)
        self.fifo_.append(value)
        if len(self.fifo_) > self.window:
            del hist[bisect.bisect_left(hist, self.fifo_.popleft())]
        return s


class ContextDistance:
    """Distance of the last ``m`` points to their nearest earlier non-overlapping match.

    Lags ``m .. window`` are searched; ``D[lag]`` is kept up to date in O(window)
    vector operations per point (and recomputed exactly every ``window``
    points against rounding drift). Returns NaN until ``min_lags`` earlier
    windows exist. :meth:`exclude` takes the newest point out of the search:
    no earlier stretch that holds it is a match any more (the period
    statistics still use it) until :meth:`release` puts it back.

    >>> c = ContextDistance(m=3, window=50, min_lags=1)
    >>> out = [c.update(v) for v in [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 5.0]]
    >>> out[-2], round(out[-1], 3)
    (0.0, 4.243)
    """

    def __init__(self, m=8, window=6400, min_lags=50):
        self.m = int(m)
        self.period_distance_ = float("nan")
        self.period_value_ = float("nan")
        self.unexplained_ = float("nan")
        self.spread_ = float("nan")
        self.window = int(window)
        self.min_lags = int(min_lags)
        self.buf_ = np.empty(2 * (self.window + self.m + 1), dtype=np.float64)
        self.len_ = 0
        self.dist_ = np.empty(max(self.window - self.m + 1, 0), dtype=np.float64)
        self.valid_ = 0
        self.since_exact_ = 0
        self.sum_ = np.zeros_like(self.dist_)
        self.count_ = np.zeros_like(self.dist_)
        self.scratch_ = (np.empty_like(self.dist_), np.empty_like(self.dist_))  # no temporaries per point
        self.seen_ = 0  # points pushed so far: the index of the newest is seen_ - 1
        self.excluded_ = deque()  # indices of excluded points, oldest first
        self.excluded_match_ = None  # the excluded point the unrestricted nearest match holds, if any

    def exclude(self):
        """Take the newest point out of the nearest-match search."""
        self.excluded_.append(self.seen_ - 1)

    def release(self, index):
        """Put the excluded point ``index`` (as in ``excluded_match_``) back into the search."""
        self.excluded_.remove(index)

    def _push(self, x):
        if self.len_ == self.buf_.size:
            keep = self.window + self.m + 1
            self.buf_[:keep] = self.buf_[self.len_ - keep:self.len_]
            self.len_ = keep
        self.buf_[self.len_] = x
        self.len_ += 1

    def _exact(self, h, t):
        m, cur = self.m, h[t - self.m + 1:t + 1]
        for k in range(self.valid_):
            lag = m + k
            d = cur - h[t - lag - m + 1:t - lag + 1]
            self.dist_[k] = float(np.dot(d, d))
        self.since_exact_ = 0

    def update(self, value):
        """Add one point; return its context distance (NaN while warming up).

        Also sets ``period_distance_``: the distance to the stretch one period
        earlier, the period being the lag with the smallest mean distance so far;
        ``period_value_``: the value one period earlier; ``unexplained_``:
        the period's mean distance over the mean of all lags' (1.0 for a constant);
        and ``spread_``: the (population) standard deviation of the last ``m`` points.
        """
        m = self.m
        self._push(float(value))
        self.seen_ += 1
        self.excluded_match_ = None
        h, t = self.buf_, self.len_ - 1
        # lags m..window whose earlier window is complete (after a compaction all are)
        valid = max(min(self.window, self.len_ - m) - m + 1, 0)
        if valid == 0:
            return float("nan")
        old = self.valid_
        if old and self.since_exact_ < self.window:
            a, b = h[t], h[t - m]
            seg1 = h[t - m - old + 1:t - m + 1][::-1]
            seg2 = h[t - 2 * m - old + 1:t - 2 * m + 1][::-1]
            enter, leave = self.scratch_[0][:old], self.scratch_[1][:old]
            np.subtract(a, seg1, out=enter)
            np.multiply(enter, enter, out=enter)
            np.subtract(b, seg2, out=leave)
            np.multiply(leave, leave, out=leave)
            np.subtract(enter, leave, out=enter)
            self.dist_[:old] += enter
            self.since_exact_ += 1
            self.valid_ = valid
            for k in range(old, valid):  # lags that just became available
                lag = m + k
                d = h[t - m + 1:t + 1] - h[t - lag - m + 1:t - lag + 1]
                self.dist_[k] = float(np.dot(d, d))
        else:
            self.valid_ = valid
            self._exact(h, t)
        self.sum_[:valid] += self.dist_[:valid]
        self.count_[:valid] += 1.0
        cur = h[t - m + 1:t + 1]
        dev = cur - float(np.add.reduce(cur)) / m
        self.spread_ = math.sqrt(float(np.dot(dev, dev)) / m)
        if valid < self.min_lags:
            self.period_distance_ = self.period_value_ = self.unexplained_ = float("nan")
            return float("nan")
        means = np.divide(self.sum_[:valid], self.count_[:valid], out=self.scratch_[0][:valid])
        period = int(means.argmin())
        overall = float(np.add.reduce(means)) / valid
        self.unexplained_ = float(means[period]) / overall if overall > 0.0 else 1.0
        self.period_value_ = float(h[t - m - period])
        self.period_distance_ = math.sqrt(max(float(self.dist_[period]), 0.0))
        return math.sqrt(max(self._nearest(valid), 0.0))

    def _nearest(self, valid):
        """Smallest squared distance over the first ``valid`` lags whose stretch holds no excluded point."""
        m, now, excluded = self.m, self.seen_ - 1, self.excluded_
        while excluded and excluded[0] < now - self.window - m + 1:  # beyond every searched lag
            excluded.popleft()
        if not excluded:
            return float(self.dist_[:valid].min())
        dist = self.dist_[:valid]
        best = int(dist.argmin())
        blocked = []
        for e in excluded:  # the stretch at lag m + k ends k + m points back: it holds e for these k
            lo, hi = max(now - e - 2 * m + 1, 0), min(now - e - m + 1, valid)
            if lo < hi:
                blocked.append((lo, hi))
                if lo <= best < hi and self.excluded_match_ is None:  # the oldest, if it holds several
                    self.excluded_match_ = e
        if self.excluded_match_ is None:  # the nearest stretch is allowed
            return float(dist[best])
        nearest, start = math.inf, 0
        for lo, hi in sorted(blocked):  # the smallest distance between the blocked ranges
            if lo > start:
                nearest = min(nearest, float(dist[start:lo].min()))
            start = max(start, hi)
        if start < valid:
            nearest = min(nearest, float(dist[start:].min()))
        return nearest


def _below_zero(value):
    """True for a negative number or NaN (a parameter that must be at least 0)."""
    value = float(value)
    return math.isnan(value) or value < 0.0


def _relative(dist, sd):
    """A distance in units of the rolling standard deviation (inf for a change of a constant)."""
    return dist / sd if sd > 0.0 else (0.0 if dist == 0.0 else math.inf)


class NoveltyDetector:
    """Rolling z, context, calm, period distance and seasonal residual, ranked against their own history, with suppression.

    >>> d = NoveltyDetector(window=300, suppress=20, warmup=20)
    >>> quiet = [10.0 + (i % 7) * 0.1 for i in range(300)]
    >>> scores = d.score(quiet + [25.0] + quiet[:30])
    >>> int(scores.argmax()), round(float(scores.max()), 3), float(scores[301:321].max())
    (300, 0.996, 0.0)
    """

    def __init__(self, window=6400, suppress=100, warmup=50, context=8, alpha=0.99,
                 periodic=True, refractory=50, refractory_level=2.0, refractory_margin=1.0,
                 period_gate=0.1, seasonal_gate=0.02, record_factor=1.5, calm_margin=0.5, clip=10.0,
                 exclude_alerts=True):
        self.window = window
        self.suppress = suppress
        self.warmup = warmup
        self.context = context
        self.alpha = alpha
        self.periodic = periodic
        self.refractory = refractory
        self.refractory_level = refractory_level
        self.refractory_margin = refractory_margin
        self.period_gate = period_gate
        self.seasonal_gate = seasonal_gate
        self.record_factor = record_factor
        self.calm_margin = calm_margin
        self.clip = clip
        self.exclude_alerts = exclude_alerts
        self.reset()

    def reset(self):
        """Forget everything learned."""
        if (int(self.window) < 2 or int(self.suppress) < 0 or int(self.warmup) < 1 or int(self.context) < 0
                or int(self.refractory) < 0):
            raise ValueError("window must be at least 2, suppress, context and refractory at least 0 "
                             "and warmup at least 1.")
        if _below_zero(self.period_gate) or _below_zero(self.seasonal_gate):
            raise ValueError("period_gate and seasonal_gate are shares of variance: numbers of at least 0 "
                             "(0 turns the feature off).")
        if _below_zero(self.record_factor):
            raise ValueError("record_factor is a ratio of |z| values: a number of at least 0 "
                             "(0 lets every record through the refractory).")
        if _below_zero(self.calm_margin):
            raise ValueError("calm_margin is a surprise in log10 units: a number of at least 0 "
                             "(inf turns the calm feature off).")
        self.z_ = RollingZScore(window=int(self.window), warmup=min(10, int(self.warmup)), two_sided=True,
                                clip=self.clip)
        self.z_rank_ = RankCalibrator(self.window, self.warmup)
        ctx = int(self.context)
        self.ctx_ = ContextDistance(ctx, int(self.window), int(self.warmup)) if 0 < ctx < int(self.window) else None
        self.ctx_rank_ = RankCalibrator(self.window, self.warmup)
        self.calm_rank_ = RankCalibrator(self.window, self.warmup) if float(self.calm_margin) < math.inf else None
        self.period_rank_ = RankCalibrator(self.window, self.warmup) if self.periodic else None
        self.seasonal_rank_ = RankCalibrator(self.window, self.warmup) if self.periodic else None
        self.recent_ = deque()
        self.since_strong_ = math.inf  # points since the last report reaching refractory_level
        self.strong_surprise_ = 0.0  # and its surprise
        self.strong_z_ = 0.0  # and its |z|
        self.last_z_ = 0.0
        self.last_surprise_ = 0.0
        return self

    @property
    def warmup_points_(self):
        """Usable (non-NaN) points learned before a score uses every feature past its warm-up.

        The rolling z is ranked from the first point on; the context distance
        exists once ``warmup`` earlier stretches of ``context`` points do, and
        its rank (and those of calm, period and seasonal residual, learned
        alongside) needs ``warmup`` values of its own. inf when ``window`` is
        too short for that: the detector would never score.

        >>> NoveltyDetector(window=1000, warmup=50, context=8).warmup_points_
        114
        >>> NoveltyDetector(window=40, warmup=50).warmup_points_
        inf
        """
        w, win, m = int(self.warmup), int(self.window), int(self.context)
        if win < w:  # a rank holds at most window values
            return math.inf
        if self.ctx_ is None:
            return w
        if win - m + 1 < w:  # fewer than warmup lags can ever be searched
            return math.inf
        return 2 * w + 2 * m - 2

    def fit(self, baseline=()):
        """Reset, then learn from ``baseline`` points. Returns self."""
        self.reset()
        for x in as_float_array(baseline, "baseline").tolist():
            self.score_one(x)
        return self

    def surprise_one(self, value):
        """Calibrated surprise (before suppression), then update; NaN for NaN."""
        x = float(value)
        z = self.z_.score_one(x)
        if math.isnan(z):
            return float("nan")
        self.last_z_ = z
        s = self.z_rank_.surprise_one(z)
        if self.ctx_ is None:
            return s
        dist = self.ctx_.update(x)
        sd = self.z_.last_sd_
        if math.isnan(dist) or math.isnan(sd):
            return 0.0
        s_ctx = self.ctx_rank_.surprise_one(_relative(dist, sd))
        if self.calm_rank_ is not None:  # a stretch much quieter than usual is a shape of its own
            s_ctx = max(s_ctx, self.calm_rank_.surprise_one(_relative(sd, self.ctx_.spread_)) - self.calm_margin)
        if self.period_rank_ is None:
            return 0.5 * (s + s_ctx)
        ctx = self.ctx_
        s_per = self.period_rank_.surprise_one(_relative(ctx.period_distance_, sd))
        s_sea = self.seasonal_rank_.surprise_one(abs(x - ctx.period_value_))  # ranked: no scale needed
        deviation = max(s, s_sea) if ctx.unexplained_ < self.seasonal_gate else s
        shape = max(s_ctx, s_per) if ctx.unexplained_ < self.period_gate else s_ctx
        return 0.5 * (deviation + shape)

    def score_one(self, value):
        """Score one point in [0, 1), then learn from it."""
        s = self.surprise_one(value)
        self.last_surprise_ = 0.0 if math.isnan(s) else s
        if math.isnan(s):
            return 0.0
        recent = self.recent_
        self.since_strong_ += 1
        much_stronger = self.z_rank_.last_record_ and self.last_z_ >= self.record_factor * self.strong_z_
        reported = (s > 0.0 and (not recent or s > max(recent))
                    and (self.since_strong_ > self.refractory or s >= self.strong_surprise_ + self.refractory_margin
                         or much_stronger))
        if self.exclude_alerts and self.ctx_ is not None and s >= self.refractory_level:
            match = self.ctx_.excluded_match_
            if match is not None:  # an incident recurs: from now on it is a reference again
                self.ctx_.release(match)
            elif reported:  # a new kind of incident: no reference shape for the next one
                self.ctx_.exclude()
        if reported and s >= self.refractory_level:
            self.since_strong_, self.strong_surprise_, self.strong_z_ = 0, s, self.last_z_
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
