# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A predictive autoscaling policy: forecast the load, scale ahead of it.

PRIVATE to the lepton.aiops collection: no compatibility promise outside it.
Pure Python, no Ansible imports, no I/O.

How it decides, for one observation at time ``t``:

1. **Load in replicas.** Each additive metric (``pods``: average per ready
   replica, ``total``: a service total) becomes the number of replicas that
   would run exactly at target, ``load / target``; the largest over the
   metrics is the *demand* ``x``. The value is what the monitoring saw
   ``metric_delay_seconds`` ago, so a per-replica average is multiplied by
   the replicas that were ready *then* (the policy remembers them), not by
   those ready now. ``value`` metrics (latency) are not additive: they only
   give a reactive floor, computed as the HPA does.
2. **Forecasts.** Seven forecasters run side by side on ``x``: a damped
   Holt level+trend (``smoothing_seconds``), a local linear extrapolation
   of the last three values, the highest value of the last
   ``smoothing_seconds`` ("recent"), a slow mean that ignores short dips
   and spikes (``slow_seconds``), two seasonal profiles (daily and
   weekly buckets of ``bucket_seconds``, exponentially weighted averages,
   Holt-Winters style) plus the current deviation from the profile,
   decaying with the lead time, and a "cycle" for periods that are not a
   day or a week (a batch job every few hours): every hour it looks for
   the period, up to ``cycle_max_seconds`` (12 h), in the autocorrelation
   of the highest demand per bucket over the last ``2 * cycle_max_seconds``
   (:func:`dominant_period`), and forecasts the highest demand of the
   bucket one period earlier. When the period changes (or is lost), its
   past errors are forgotten. Each forecaster's forecasts are scored when
   their time comes (``error_window_seconds``); the one that needs the
   smallest safety margin (its error quantile minus its mean error) is used.
3. **Safety margin from its own errors.** The margin is a quantile ``q``
   of the chosen forecaster's standardised errors times its current error
   scale (an exponentially weighted mean of its absolute errors,
   ``volatility_seconds``), so that noisy hours get a wider margin than
   calm ones. ``q`` (at most ``quantile``) minimises ``margin + price *
   (1 - q)``: the replicas paid for plus the expected shortfall, priced at
   ``price`` replicas (see the budget below).
4. **Ahead of demand.** A replica asked for now serves after
   ``startup_seconds``; one removed now is gone at once. So the desired
   count covers the forecast peak plus the margin over the whole lead time
   ``(t - metric_delay_seconds, t + startup_seconds + interval_seconds]``.
   ``headroom`` (capacity per replica divided by the target, 1.0 when
   unknown) lets that upper bound use the capacity the target keeps in
   reserve: replicas = ceil(upper bound / headroom). Two rules keep a
   forecaster chosen for its long record (a slow mean, a profile) from
   lagging behind a jump it has not seen before:

   * *never below the load seen*: at least ceil(x / headroom), the
     replicas the demand last seen needs at full capacity;
   * *surprise*: when the demand seen exceeds the peak that the previous
     decision forecast plus half its margin (the load is already using the
     reserve planned for the whole lead time), until the replicas asked for now can
     serve (``startup_seconds + interval_seconds``) the peak is taken over
     every forecaster (the linear extrapolation of a ramp, the recent
     maximum), not only the trusted ones, and over the last step's slope
     carried to the end of the lead time, up to twice the demand last
     seen. That is while the budget (5) is not in debt, so the extra
     replicas are paid from savings. In debt only the slope counts, the
     smaller of the last step's and that of the last three values (a
     noisy step alone does not count as a ramp), and its cap shrinks with
     the debt: from twice the demand last seen to the demand itself at a
     debt of half the budget's cap (``surprise_cap`` in the details),
     unless the last two steps rose more than three error scales of the
     chosen forecaster: a ramp far above the noise is carried as far as
     without debt (``ramp`` in the details).
5. **A budget: spend no more than the HPA would.** A shadow of the
   Kubernetes HPA (:class:`ShadowHPA`, the :class:`~._hpa.HPA` decider with
   its defaults) runs on the same demand with its own replica count,
   start-up delay and scrape delay, and the policy keeps the running
   difference between ``budget_share`` (0.99) times the replica-seconds the
   shadow runs and the replica-seconds it runs itself. Savings are capped at
   ``budget_seconds`` of the shadow's (smoothed) fleet; debts are not. The
   budget as a share ``s`` of that cap, clipped to [-1, 1], sets

   * the price of a violation minute: ``violation_cost *
     budget_price_ratio ** s`` (about 6.7 to 1500 replica-minutes with
     the defaults): savings buy a higher quantile, debts a lower one;
   * with savings (``s > 0``) a *cover*: at least ``ceil(s ** cover_power *
     cover_max * x)`` replicas, up to 1.5 times what the HPA's own rule
     (``ceil(x)``) asks for now, a proportional headroom against jumps that
     no forecaster has seen.

   So the policy spends its savings where its forecast says demand will be
   and scales down as soon as the forecast allows (a 120 s stabilisation
   window instead of the HPA's 300 s), and in the long run runs about
   ``budget_share`` of the HPA's replica-hours. ``budget=False`` turns all
   of this off (price = ``violation_cost``, no cover).
6. **Same safety rules as the HPA.** min/max bounds, a scale-down
   stabilisation window (highest recommendation wins), the HPA scaling
   policies, *hold* when no metric is available (and when a metric is
   missing while the others suggest a scale-down), *hold* on a fault.
   A gap between two decisions (a hold, a run that did not happen) is
   billed to the budget for at most four intervals.
7. **Faults are not load.** An observation flagged as a fault (an error
   spike, an anomaly blamed on a broken replica) is neither acted on nor
   learned from: the decider holds the current count, its forecasts and its
   shadow HPA do not see the distorted values.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from ._hpa import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, DEFAULT_TOLERANCE, HPA, RateLimiter, ScalingRules
from ._hpa import _fault_reason, replicas_for_metric
from ._model import Decision, Metric, Observation

_MODELS = ("trend", "linear", "recent", "mean", "daily", "weekly", "cycle")
_MIN_ERRORS = 30
_SURPRISE_CAP = 2.0   # surprised: every forecaster's peak counts, up to twice the demand last seen
_SURPRISE_DEBT = 0.5  # ... less in debt: no more than the demand last seen at half the budget's cap in debt
_SURPRISE_AT = 0.5    # a surprise: the demand seen exceeds the last forecast peak plus this share of its margin
_RAMP_SCALES = 3.0    # ... a ramp, whatever the debt: two steps rise more than this many error scales
_SCALE_FLOOR = 0.01   # replicas: a perfectly steady load still gets an error scale
_LEVELS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999)
_SEASONS = {"daily": 86400, "weekly": 7 * 86400}
_RECENT = 60         # at most this many recent values are kept (the "linear" and "recent" forecasters)
_CYCLE_MIN_CORRELATION = 0.7   # the "cycle" forecaster needs a period this clear
_CYCLE_EVERY = 12              # buckets between two searches for the period


class Predictive:
    """Forecast the load and scale ahead of it (see the module docstring).

    >>> from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale import Metric, Observation
    >>> p = Predictive(min_replicas=1, max_replicas=20, interval_seconds=60, startup_seconds=120)
    >>> for minute in range(30):   # load grows by 10 rps a minute, target 100 rps per replica
    ...     d = p.decide(Observation(60.0 * minute, 4, 4, (Metric("rps", target=100.0, value=100.0 + 2.5 * minute),)))
    >>> d.desired > 5   # ahead of the 472 rps it sees: the trend goes on
    True
    """

    name = "predictive"

    def __init__(self, min_replicas=1, max_replicas=10, interval_seconds=60.0, startup_seconds=180.0,
                 metric_delay_seconds=60.0, bucket_seconds=300.0, quantile=0.999,
                 error_window_seconds=86400.0, headroom=1.0, scale_down_stabilization_seconds=120.0,
                 smoothing_seconds=300.0, slow_seconds=1800.0, volatility_seconds=900.0, credible_ratio=1.0,
                 violation_cost=100.0, mean_at_target=False, budget=True, budget_seconds=21600.0,
                 budget_price_ratio=15.0, cover_power=0.5, budget_share=0.99,
                 cover_max=1.5, recent_seconds=300.0, cycle_max_seconds=43200.0,
                 tolerance=DEFAULT_TOLERANCE, scale_up=DEFAULT_SCALE_UP, scale_down=None):
        if min_replicas < 0 or max_replicas < max(min_replicas, 1):
            raise ValueError(
                f"need 0 <= min_replicas <= max_replicas and max_replicas >= 1, got {min_replicas} and {max_replicas}."
            )
        for label, value in (("interval_seconds", interval_seconds), ("bucket_seconds", bucket_seconds),
                             ("error_window_seconds", error_window_seconds)):
            if not value > 0:
                raise ValueError(f"{label} must be > 0, got {value!r}.")
        for label, value in (("startup_seconds", startup_seconds), ("metric_delay_seconds", metric_delay_seconds),
                             ("scale_down_stabilization_seconds", scale_down_stabilization_seconds),
                             ("cycle_max_seconds", cycle_max_seconds)):
            if value < 0:
                raise ValueError(f"{label} must be >= 0, got {value!r}.")
        if not 0.5 <= quantile < 1:
            raise ValueError(f"quantile must be in [0.5, 1), got {quantile!r}.")
        if headroom < 1:
            raise ValueError(f"headroom (capacity / target) must be >= 1, got {headroom!r}.")
        self.min_replicas = int(min_replicas)
        self.max_replicas = int(max_replicas)
        self.interval_seconds = float(interval_seconds)
        self.startup_seconds = float(startup_seconds)
        self.metric_delay_seconds = float(metric_delay_seconds)
        self.bucket_seconds = float(bucket_seconds)
        self.quantile = float(quantile)
        self.error_window_seconds = float(error_window_seconds)
        self.headroom = float(headroom)
        self.scale_down_stabilization_seconds = float(scale_down_stabilization_seconds)
        self.tolerance = float(tolerance)
        self.smoothing_seconds = float(smoothing_seconds)
        self.slow_seconds = float(slow_seconds)
        self.violation_cost = float(violation_cost) if violation_cost else None
        self.volatility_seconds = float(volatility_seconds)
        self.mean_at_target = bool(mean_at_target)
        self.credible_ratio = float(credible_ratio)
        self.budget = bool(budget)
        self.budget_seconds = float(budget_seconds)
        self.budget_price_ratio = float(budget_price_ratio)
        self.cover_power = float(cover_power)
        self.budget_share = float(budget_share)
        self.cover_max = float(cover_max)
        self.recent_seconds = float(recent_seconds)
        self.cycle_max_seconds = float(cycle_max_seconds)
        self.scale_up = scale_up if isinstance(scale_up, ScalingRules) else ScalingRules.from_dict(scale_up)
        if scale_down is None:
            scale_down = ScalingRules(int(scale_down_stabilization_seconds), DEFAULT_SCALE_DOWN.policies)
        self.scale_down = scale_down if isinstance(scale_down, ScalingRules) else ScalingRules.from_dict(scale_down)
        self._reset()

    # -- parameters and state -------------------------------------------------

    def get_params(self):
        """Hyper-parameters as plain data (what ``__init__`` takes)."""
        return {
            "min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
            "interval_seconds": self.interval_seconds, "startup_seconds": self.startup_seconds,
            "metric_delay_seconds": self.metric_delay_seconds, "bucket_seconds": self.bucket_seconds,
            "quantile": self.quantile, "error_window_seconds": self.error_window_seconds,
            "headroom": self.headroom,
            "scale_down_stabilization_seconds": self.scale_down_stabilization_seconds,
            "tolerance": self.tolerance, "smoothing_seconds": self.smoothing_seconds,
            "slow_seconds": self.slow_seconds, "violation_cost": self.violation_cost,
            "volatility_seconds": self.volatility_seconds, "credible_ratio": self.credible_ratio,
            "mean_at_target": self.mean_at_target, "budget": self.budget,
            "budget_seconds": self.budget_seconds, "budget_price_ratio": self.budget_price_ratio,
            "cover_power": self.cover_power, "budget_share": self.budget_share,
            "cover_max": self.cover_max, "recent_seconds": self.recent_seconds,
            "cycle_max_seconds": self.cycle_max_seconds,
            "scale_up": self.scale_up.to_dict(),
            "scale_down": self.scale_down.to_dict(),
        }

    def _reset(self):
        self.limiter_ = RateLimiter(self.scale_up, self.scale_down)
        self.profiles_ = {name: {} for name in _SEASONS}   # bucket index (str) -> level
        self.level_ = None           # Holt level of the demand, replicas
        self.trend_ = 0.0            # Holt trend, replicas per second
        self.last_time_ = None       # time of the last learned value
        self.pending_ = deque()      # [due time, model, forecast], by due time
        self.errors_ = {m: deque() for m in _MODELS}   # [time, error, standardised error]
        self.scale_ = {}             # model -> smoothed absolute error, replicas
        self._abs_sum = {m: 0.0 for m in _MODELS}
        self._sum = {m: 0.0 for m in _MODELS}
        self._sorted = {m: [] for m in _MODELS}      # standardised errors
        self._sorted_raw = {m: [] for m in _MODELS}  # errors, replicas
        self.slow_ = None            # slowly smoothed demand (the "mean" forecaster)
        self.deviation_ = {}         # season -> smoothed demand minus profile
        self.recent_ = []            # [time, demand] over the last smoothing_seconds ("linear", "recent")
        self.ready_seen_ = []        # [time, ready replicas after the decision], as old as the metric delay
        self.shadow_ = ShadowHPA(self.min_replicas, self.max_replicas, self.startup_seconds,
                                 self.metric_delay_seconds, self.tolerance)
        self.budget_ = 0.0           # replica-seconds the shadow HPA spent more than this policy
        self.fleet_ = None           # smoothed replica count of the shadow HPA
        self.spent_at_ = None        # [time, shadow replicas] of the last decision
        self.cycle_ = []             # highest demand per bucket, the last 2 * cycle_max_seconds ("cycle")
        self.cycle_start_ = None     # bucket number of cycle_[0]
        self.period_ = None          # detected period, buckets ("cycle"); None: no clear period
        self.surprise_level_ = None  # set by the last decision: its forecast peak plus half its margin
        self.surprise_until_ = None  # time (of the metric) until which the forecasts are not trusted alone

    def get_state(self):
        """JSON-able learned state."""
        return {
            "limiter": self.limiter_.get_state(),
            "profiles": self.profiles_, "level": self.level_, "trend": self.trend_, "slow": self.slow_,
            "deviation": self.deviation_,
            "scale": self.scale_, "last_time": self.last_time_,
            "pending": [list(p) for p in self.pending_],
            "errors": {m: [list(e) for e in errs] for m, errs in self.errors_.items()},
            "recent": [list(r) for r in self.recent_], "ready_seen": [list(r) for r in self.ready_seen_],
            "shadow": self.shadow_.get_state(), "budget": self.budget_, "fleet": self.fleet_,
            "spent_at": self.spent_at_, "cycle": self.cycle_, "cycle_start": self.cycle_start_,
            "period": self.period_, "surprise_level": self.surprise_level_, "surprise_until": self.surprise_until_,
        }

    def set_state(self, state):
        """Restore what ``get_state`` returned."""
        self._reset()
        self.limiter_.set_state(state.get("limiter", {}))
        for name in _SEASONS:
            self.profiles_[name] = {str(k): float(v) for k, v in state.get("profiles", {}).get(name, {}).items()}
        self.level_ = state.get("level")
        self.slow_ = state.get("slow")
        self.deviation_ = {str(k): float(v) for k, v in state.get("deviation", {}).items()}
        self.trend_ = float(state.get("trend", 0.0))
        self.scale_ = {str(k): float(v) for k, v in state.get("scale", {}).items()}
        self.last_time_ = state.get("last_time")
        self.pending_ = deque(sorted(list(p) for p in state.get("pending", [])))
        self.recent_ = [list(r) for r in state.get("recent", [])]
        self.ready_seen_ = [list(r) for r in state.get("ready_seen", [])]
        self.shadow_.set_state(state.get("shadow", {}))
        self.budget_ = float(state.get("budget", 0.0))
        self.fleet_ = state.get("fleet")
        self.spent_at_ = state.get("spent_at")
        self.cycle_ = [float(v) for v in state.get("cycle", [])]
        self.cycle_start_ = state.get("cycle_start")
        self.period_ = state.get("period")
        self.surprise_level_ = state.get("surprise_level")
        self.surprise_until_ = state.get("surprise_until")
        for model in _MODELS:
            for when, error, z in state.get("errors", {}).get(model, []):
                self._add_error(model, when, error, z)

    # -- the decision --------------------------------------------------------

    def decide(self, obs):
        """Decide for one observation and learn from it."""
        current = obs.replicas
        if obs.faulty:
            return Decision(obs.time, self.name, current, current, _fault_reason(obs), hold=True)
        if current == 0 and self.min_replicas != 0:
            return Decision(obs.time, self.name, 0, 0, "hold: scaled to zero, autoscaling is off", hold=True)
        demand, floor, missing, details = self._demand(obs)
        if demand is None and floor is None:
            return Decision(obs.time, self.name, current, current,
                            "hold: no metric available" + (f" ({', '.join(missing)} missing)" if missing else ""),
                            hold=True, details=details)
        seen_at = obs.time - self.metric_delay_seconds
        self._account(obs.time, current)
        if demand is not None:
            if self.surprise_level_ is not None and demand > self.surprise_level_:   # the plan falls short
                self.surprise_until_ = seen_at + self.startup_seconds + self.interval_seconds
            self._score(seen_at, demand)
            self._learn(seen_at, demand)
            shadow = self.shadow_.step(obs.time, demand, current)
            price = self._price()
            needed, forecast = self._needed(seen_at, obs.time, price)
            cover = self._cover(demand)
            if cover > needed:
                needed, forecast["cover"] = cover, cover
            seen = math.ceil(demand / self.headroom - 1e-9)   # the load seen, at full capacity
            if seen > needed:
                needed, forecast["seen"] = seen, seen
            forecast.update(shadow_hpa=shadow, budget_replica_hours=round(self.budget_ / 3600.0, 3),
                            price=round(price, 3))
            details["forecast"] = forecast
            reason = (f"forecast {forecast['model']}: peak {forecast['peak']:.2f} replicas at target, "
                      f"upper bound {forecast['upper']:.2f} (margin {forecast['margin']:.2f})")
        else:
            needed, reason = 0, ""
        if floor is not None and floor > needed:
            needed, reason = floor, f"reactive floor {floor} from non-additive metrics"
        raw = max(int(needed), 0)
        if missing and raw < current:
            return Decision(obs.time, self.name, current, current,
                            f"hold: {', '.join(missing)} missing and the other metrics suggest a scale-down",
                            hold=True, details=details)
        if raw < current and abs(1.0 - needed / current) <= self.tolerance:
            raw = current   # anti-flapping: ignore scale-downs within the tolerance
        if current < self.min_replicas or current > self.max_replicas:
            desired = min(max(current, self.min_replicas), self.max_replicas)
            reason = f"outside [{self.min_replicas}, {self.max_replicas}]"
        else:
            stabilized = self.limiter_.stabilize(obs.time, current, raw)
            if stabilized != raw:
                reason += f"; stabilised from {raw} to {stabilized}"
            desired, note = self.limiter_.limit(obs.time, current, stabilized, self.min_replicas, self.max_replicas)
            if note:
                reason += "; " + note
        details["recommendation"] = raw
        self.limiter_.record(obs.time, current, desired)
        self._remember_ready(obs.time, min(obs.ready_replicas, desired))
        self.spent_at_ = [obs.time, self.shadow_.replicas()]
        return Decision(obs.time, self.name, current, desired, reason, details=details)

    def _demand(self, obs):
        """Demand in replicas at target from additive metrics, and a reactive floor."""
        demand, floor, missing, per_metric = None, None, [], {}
        ready = self._ready_at(obs.time - self.metric_delay_seconds, obs.ready_replicas)
        for metric in obs.metrics:
            if not metric.available:
                missing.append(metric.name)
                per_metric[metric.name] = {"demand": None}
                continue
            if metric.kind == "value":
                replicas, note = replicas_for_metric(metric, obs.replicas, obs.ready_replicas,
                                                     self.tolerance, obs.broken_replicas)
                floor = replicas if floor is None else max(floor, replicas)
                per_metric[metric.name] = {"replicas": replicas, "note": note}
                continue
            if metric.kind == "total":
                load = float(metric.value)
            elif metric.per_replica:
                values = [float(v) for name, v in metric.per_replica.items()
                          if name not in obs.broken_replicas and _finite(v)]
                if not values:
                    missing.append(metric.name)
                    continue
                load = sum(values) / len(values) * max(ready, len(values))
            else:
                load = float(metric.value) * ready
            value = load / float(metric.target)
            per_metric[metric.name] = {"demand": value}
            demand = value if demand is None else max(demand, value)
        return demand, floor, missing, {"metrics": per_metric}

    def _ready_at(self, when, default):
        """Ready replicas when the metric was scraped: a per-replica average times them is the load."""
        ready = default
        for t, count in self.ready_seen_:
            if t <= when + 1e-6:
                ready = count
        return ready

    def _remember_ready(self, now, ready):
        self.ready_seen_.append([now, int(ready)])
        self.ready_seen_ = _trim_history(self.ready_seen_, now - self.metric_delay_seconds)

    # -- the budget: the shadow HPA as cost reference ----------------------------

    def _account(self, now, current):
        """Add what this policy and the shadow HPA spent since the last decision to the budget."""
        if not self.budget or self.spent_at_ is None:
            return
        then, shadow = self.spent_at_
        # what runs now ran since the last decision (if that decision was not
        # applied, check mode or a manual change, it is what runs that counts);
        # a long gap (the playbook did not run) counts as a few intervals only
        dt = min(max(now - then, 0.0), 4 * max(self.interval_seconds, self.startup_seconds))
        self.budget_ += (self.budget_share * shadow - current) * dt
        self.fleet_ = float(shadow) if self.fleet_ is None else self.fleet_ + (shadow - self.fleet_) * (
            1 - 0.5 ** (dt / self.budget_seconds))
        self.budget_ = min(self.budget_, self.budget_seconds * max(self.fleet_, 1.0))   # savings are capped, debts not

    def _price(self):
        """Replicas a violation minute is worth now: ``violation_cost``, higher with savings, lower with debt.

        The budget is capped at ``budget_seconds`` of the shadow's fleet; at
        the cap the price is ``violation_cost * budget_price_ratio``, at the
        opposite end ``violation_cost / budget_price_ratio``.
        """
        base = self.violation_cost or 0.0
        if not self.budget or not base or self.fleet_ is None:
            return base
        return base * self.budget_price_ratio ** self._share()

    def _cover(self, demand):
        """With savings in the budget, cover a share of what the HPA would ask for now (``ceil(demand)``).

        The share grows from 0 with an empty budget to 1 with a full one, so
        saved replica-time buys the HPA's proportional headroom against
        jumps the forecasts have not seen.
        """
        share = self._share()
        if share <= 0:
            return 0
        return math.ceil(share ** self.cover_power * self.cover_max * demand - 1e-9)

    def _share(self):
        """The budget as a share of its cap, in [-1, 1] (0 without a budget)."""
        if not self.budget or self.fleet_ is None:
            return 0.0
        return max(-1.0, min(self.budget_ / (self.budget_seconds * max(self.fleet_, 1.0)), 1.0))

    # -- forecasting -----------------------------------------------------------

    def _bucket(self, season, when):
        size = _SEASONS[season]
        return str(int((when % size) // self.bucket_seconds))

    def _seasonal(self, season, when):
        """The profile at ``when``, interpolated between bucket centres (``None`` if unseen)."""
        count = int(round(_SEASONS[season] / self.bucket_seconds))
        pos = (when % _SEASONS[season]) / self.bucket_seconds - 0.5
        first = int(math.floor(pos))
        frac = pos - first
        profile = self.profiles_[season]
        a, b = profile.get(str(first % count)), profile.get(str((first + 1) % count))
        if a is None or b is None:
            return b if a is None else a
        return a + (b - a) * frac

    def _learn(self, when, x):
        """Update the level, trend and seasonal profiles with the demand ``x`` seen at ``when``."""
        if self.last_time_ is not None and when <= self.last_time_:
            return
        cut = when - self.recent_seconds - 1e-6
        self.recent_ = [r for r in self.recent_ if r[0] > cut][-_RECENT:] + [[when, x]]
        if self.level_ is None:
            self.level_, self.trend_, self.slow_ = x, 0.0, x
        else:
            dt = max(when - self.last_time_, 1.0)
            alpha = 1 - 0.5 ** (dt / self.smoothing_seconds)
            beta = 1 - 0.5 ** (dt / (4 * self.smoothing_seconds))
            predicted = self.level_ + self.trend_ * dt
            level = predicted + alpha * (x - predicted)
            self.trend_ = (1 - beta) * self.trend_ + beta * (level - self.level_) / dt
            self.level_ = level
            self.slow_ += (1 - 0.5 ** (dt / self.slow_seconds)) * (x - self.slow_)
        for season in _SEASONS:   # deviation from each profile, smoothed like the level
            expected = self._seasonal(season, when)
            if expected is not None:
                old = self.deviation_.get(season)
                gain = 1.0 if old is None else 1 - 0.5 ** (max(when - self.last_time_, 1.0) / self.smoothing_seconds)
                self.deviation_[season] = (x - expected) if old is None else old + gain * ((x - expected) - old)
        # seasonal profiles: each cycle weighs half of a bucket's value
        gamma = 1 - 0.5 ** min(1.0, self.interval_seconds / self.bucket_seconds)
        for season in _SEASONS:
            key = self._bucket(season, when)
            old = self.profiles_[season].get(key)
            self.profiles_[season][key] = x if old is None else old + gamma * (x - old)
        self._learn_cycle(when, x)
        self.last_time_ = when

    def _learn_cycle(self, when, x):
        """Keep the highest demand of each bucket; look for the period again every ``_CYCLE_EVERY`` buckets."""
        bucket = int(math.floor(when / self.bucket_seconds))
        if self.cycle_start_ is None or bucket < self.cycle_start_:
            self.cycle_, self.cycle_start_ = [x], bucket
            return
        last = self.cycle_start_ + len(self.cycle_) - 1
        if bucket == last:
            self.cycle_[-1] = max(self.cycle_[-1], x)
            return
        # a bucket with no value (a gap) repeats the last one
        self.cycle_.extend([self.cycle_[-1]] * (bucket - last - 1) + [x])
        keep = int(2 * self.cycle_max_seconds // self.bucket_seconds) + 1
        if len(self.cycle_) > keep:
            self.cycle_start_ += len(self.cycle_) - keep
            del self.cycle_[:len(self.cycle_) - keep]
        if bucket % _CYCLE_EVERY == 0:
            period = dominant_period(self.cycle_[:-1], int(self.cycle_max_seconds // self.bucket_seconds))
            if period != self.period_:   # another period, another forecaster: it earns trust anew
                self.period_ = period
                self._forget("cycle")

    def _forget(self, model):
        """Drop the errors and the pending forecasts of ``model``."""
        self.pending_ = deque(p for p in self.pending_ if p[1] != model)
        self.errors_[model].clear()
        self.scale_.pop(model, None)
        self._abs_sum[model] = self._sum[model] = 0.0
        self._sorted[model], self._sorted_raw[model] = [], []

    def _cycle(self, when):
        """The highest demand in the bucket one period before ``when`` (``None``: no period or not seen)."""
        if self.period_ is None or self.cycle_start_ is None:
            return None
        then = int(math.floor(when / self.bucket_seconds)) - self.period_
        if not 0 <= then - self.cycle_start_ < len(self.cycle_):
            return None
        return self.cycle_[then - self.cycle_start_]

    def _forecast(self, model, now, when):
        """Forecast of the demand at ``when`` made at ``now`` (``None``: no profile yet)."""
        lead = max(when - now, 0.0)
        if model == "mean":
            return max(self.slow_, 0.0)
        if model == "linear":
            last = self.recent_[-3:]
            return max(last[-1][1] + _slope(last) * max(when - last[-1][0], 0.0), 0.0)
        if model == "recent":
            return max(r[1] for r in self.recent_)
        if model == "cycle":
            return self._cycle(when)
        if model == "trend":
            damp = 0.5 ** (lead / (4 * self.smoothing_seconds))
            return max(self.level_ + self.trend_ * lead * damp, 0.0)
        base = self._seasonal(model, when)
        if base is None or model not in self.deviation_:
            return None
        decay = 0.5 ** (lead / 3600.0)
        return max(base + self.deviation_[model] * decay, 0.0)

    def _score(self, when, x):
        """Score the forecasts that fall due: absolute and standardised errors.

        A forecast is scored against the first value seen at or after its
        time, unless more than one interval (or the gap since the previous
        observation, when the caller runs less often) separates them.
        """
        gap = self.interval_seconds if self.last_time_ is None else max(self.interval_seconds, when - self.last_time_)
        while self.pending_ and self.pending_[0][0] <= when + 1e-6:
            due, model, forecast = self.pending_.popleft()
            if due <= when - gap:
                continue
            error = x - forecast
            scale = self.scale_.get(model)
            if scale is not None:
                self._add_error(model, when, error, error / max(scale, _SCALE_FLOOR))
            decay = 1 - 0.5 ** (self.interval_seconds / self.volatility_seconds)
            self.scale_[model] = abs(error) if scale is None else scale + decay * (abs(error) - scale)
        cut = when - self.error_window_seconds
        for model in _MODELS:
            errs = self.errors_[model]
            while errs and errs[0][0] <= cut:
                dummy, error, z = errs.popleft()
                self._abs_sum[model] -= abs(error)
                self._sum[model] -= error
                del self._sorted[model][bisect.bisect_left(self._sorted[model], z)]
                del self._sorted_raw[model][bisect.bisect_left(self._sorted_raw[model], error)]

    def _add_error(self, model, when, error, z):
        error, z = round(error, 5), round(z, 5)
        self.errors_[model].append([round(when, 3), error, z])
        self._abs_sum[model] += abs(error)
        self._sum[model] += error
        bisect.insort(self._sorted[model], z)
        bisect.insort(self._sorted_raw[model], error)

    def _models(self, available=_MODELS):
        """The forecaster that needs the smallest safety margin, and those close to it.

        A forecaster's score is the ``quantile`` of its errors minus their
        mean: the capacity it needs above the demand on average. Only the
        ``available`` forecasters (those that can forecast now) compete.
        """
        scores = {}
        for m in available:
            errs = self._sorted_raw[m]
            if len(errs) >= _MIN_ERRORS:
                idx = min(len(errs) - 1, int(math.ceil(self.quantile * len(errs))) - 1)
                scores[m] = errs[idx] - self._sum[m] / len(errs)
        if not scores:
            return "trend", ["trend"]
        best = min(scores, key=scores.get)
        return best, [m for m in _MODELS if m in scores and scores[m] <= self.credible_ratio * scores[best]]

    def _margin(self, model, peak, price):
        """Safety margin in replicas, and the share of the time it is expected to fall short.

        The margin is ``z_q * scale``: a quantile of the forecaster's
        standardised errors times its current error scale. With
        ``violation_cost`` set, ``q`` is chosen from ``_LEVELS`` (capped at
        ``quantile``) to minimise ``margin + violation_cost * (1 - q)``, the
        replicas paid for plus the expected shortfall priced in replicas: a
        calm signal gets a high ``q`` for little, a noisy one stops where
        more margin buys little. Without it, ``q`` is ``quantile``.
        """
        zs = self._sorted[model]
        scale = self.scale_.get(model)
        if len(zs) < _MIN_ERRORS or scale is None:
            return 0.5 * max(peak, 1.0), None   # not enough history yet: a wide margin
        levels = [q for q in _LEVELS if q <= self.quantile] if price else [self.quantile]
        best = None
        for q in levels or [self.quantile]:
            idx = min(len(zs) - 1, int(math.ceil(q * len(zs))) - 1)
            margin = max(zs[idx], 0.0) * max(scale, _SCALE_FLOOR)
            cost = margin + price * (1 - q)
            if best is None or cost < best[0]:
                best = (cost, margin, q)
        return best[1], best[2]

    def _needed(self, now, decide_time, price):
        """Replicas needed until the next decision's replicas can be ready."""
        lead_end = decide_time + self.startup_seconds + self.interval_seconds
        horizon = lead_end - now
        available = []
        for model in _MODELS:
            f = self._forecast(model, now, lead_end)
            if f is not None:
                self.pending_.append([round(lead_end, 3), model, round(f, 5)])
                available.append(model)
        model, trusted = self._models(available)
        # surprised (see the module docstring, 4): with savings every forecaster counts, and the ramp is
        # carried on up to a cap that shrinks with the debt
        share = self._share()
        surprised = self.surprise_until_ is not None and now <= self.surprise_until_ + 1e-6
        cap = 1.0 + (_SURPRISE_CAP - 1.0) * min(max(1.0 + share / _SURPRISE_DEBT, 0.0), 1.0) if surprised else 1.0
        steps = max(1, int(math.ceil(horizon / self.interval_seconds)))
        peak = alarm = 0.0
        for k in range(1, steps + 1):
            for name in (available if surprised and share >= 0 else trusted):
                f = self._forecast(name, now, now + horizon * k / steps)
                if f is not None:
                    if name in trusted:
                        peak = max(peak, f)
                    alarm = max(alarm, f)
        ramp = False
        if surprised and len(self.recent_) >= 2:
            (t0, x0), (t1, x1) = self.recent_[-2:]
            slope = (x1 - x0) / max(t1 - t0, 1e-6)   # the last step's slope, to the end of the lead time
            if share < 0:   # in debt, only a rise that the last three values agree on
                slope = min(slope, _slope(self.recent_[-3:]))
                # and as far as without debt if it is far above the noise
                ramp = slope > 0 and len(self.recent_) >= 3 and (
                    x1 - self.recent_[-3][1] > _RAMP_SCALES * max(self.scale_.get(model, 0.0), _SCALE_FLOOR))
                if ramp:
                    cap = _SURPRISE_CAP
            alarm = max(alarm, x1 + slope * max(lead_end - t1, 0.0))
            peak = max(peak, min(alarm, cap * x1))
        margin, level = self._margin(model, peak, price)
        upper = peak + margin
        self.surprise_level_ = peak + _SURPRISE_AT * margin
        needed = max(peak, upper / self.headroom) if self.mean_at_target else upper / self.headroom
        return math.ceil(needed - 1e-9), {"model": model, "peak": round(peak, 4), "upper": round(upper, 4),
                                          "margin": round(margin, 4), "level": level, "surprised": surprised,
                                          "surprise_cap": round(cap, 3), "ramp": ramp}


def dominant_period(values, max_lag, min_correlation=None):
    """The period of ``values`` in samples, or ``None`` when there is no clear one.

    A period is a lag at which the series correlates with itself (Pearson,
    the series against itself shifted by the lag) at least
    ``min_correlation`` (0.7 by default), at a local maximum of that
    correlation, after the correlation has first fallen to zero or below
    (so a smooth, slowly changing series has no period), and at most ``max_lag`` and half the
    series long. The shortest lag that correlates about as well as the best
    one wins (twice the period correlates as well as the period).

    >>> dominant_period([0, 0, 9, 0, 0, 0, 0] * 6, max_lag=20)
    7
    >>> dominant_period([float(k) for k in range(40)], max_lag=20) is None
    True
    """
    if min_correlation is None:
        min_correlation = _CYCLE_MIN_CORRELATION
    n = len(values)
    max_lag = min(int(max_lag), n // 2)
    decorrelated, previous = False, None
    rs = []
    for lag in range(1, max_lag + 2):
        if lag > n - 2:
            break
        a, b = values[:n - lag], values[lag:]
        m = len(a)
        ma, mb = sum(a) / m, sum(b) / m
        va = sum((v - ma) ** 2 for v in a)
        vb = sum((v - mb) ** 2 for v in b)
        cov = sum((u - ma) * (v - mb) for u, v in zip(a, b))
        rs.append(cov / math.sqrt(va * vb) if va > 0 and vb > 0 else 0.0)
    peaks = []
    for lag in range(1, len(rs)):
        r = rs[lag - 1]
        if r <= 0:
            decorrelated = True
        elif decorrelated and lag <= max_lag and r >= min_correlation and r >= previous and r >= rs[lag]:
            peaks.append((lag, r))
        previous = r
    if not peaks:
        return None
    best = max(r for dummy, r in peaks)
    return min(lag for lag, r in peaks if r >= best - 0.05)   # a multiple of the period is no better


def _slope(points):
    """Least-squares slope of ``[time, value]`` points (0 with fewer than two)."""
    if len(points) < 2:
        return 0.0
    mt = sum(p[0] for p in points) / len(points)
    mx = sum(p[1] for p in points) / len(points)
    var = sum((p[0] - mt) ** 2 for p in points)
    return sum((p[0] - mt) * (p[1] - mx) for p in points) / var if var > 0 else 0.0


def _trim_history(history, when):
    """Drop ``[time, ...]`` entries older than the last one at or before ``when``."""
    keep = 0
    for i, entry in enumerate(history):
        if entry[0] <= when + 1e-6:
            keep = i
    return history[keep:]


class ShadowHPA:
    """The cost reference of the budget: what the Kubernetes HPA would run on the same demand.

    It replays the :class:`HPA` decider, with its defaults, on the demand
    the predictive policy sees (in replicas at target), with its own replica
    count, its own start-up delay and its own ready replicas at scrape time,
    as if it ran the service instead. It starts from the replicas that run
    when it first sees a value.

    Like the HPA it multiplies a per-replica value scraped a minute ago by
    the replicas ready now, so it overshoots when new replicas become ready
    before the metric shows them:

    >>> shadow = ShadowHPA(1, 20, startup_seconds=120, metric_delay_seconds=60, tolerance=0.1)
    >>> [shadow.step(60.0 * k, 6.0, current=2) for k in range(4)]
    [6, 6, 12, 12]
    """

    def __init__(self, min_replicas, max_replicas, startup_seconds, metric_delay_seconds, tolerance):
        self.hpa_ = HPA(min_replicas=min_replicas, max_replicas=max_replicas, tolerance=tolerance)
        self.startup_seconds = startup_seconds
        self.metric_delay_seconds = metric_delay_seconds
        self.pods_ = None       # [time the replicas serve from, how many]; None until the first value
        self.ready_seen_ = []   # [time, ready replicas after the decision]

    def replicas(self):
        """Replicas the shadow runs (ready or starting)."""
        return sum(count for dummy, count in self.pods_ or ())

    def step(self, now, demand, current):
        """Decide like the HPA for ``demand`` replicas at target seen now; return the shadow's replicas."""
        if self.pods_ is None:
            self.pods_ = [[now, int(current)]]
        ready = sum(count for t, count in self.pods_ if t <= now + 1e-6)
        ready_seen = ready
        for t, count in self.ready_seen_:
            if t <= now - self.metric_delay_seconds + 1e-6:
                ready_seen = count
        value = demand / ready_seen if ready_seen else None
        total = self.replicas()
        decision = self.hpa_.decide(Observation(now, total, ready, (Metric("demand", target=1.0, value=value),)))
        if decision.desired > total:
            self.pods_.append([now + self.startup_seconds, decision.desired - total])
        elif decision.desired < total:   # the last to become ready go first
            remove = total - decision.desired
            while remove:
                take = min(remove, self.pods_[-1][1])
                self.pods_[-1][1] -= take
                remove -= take
                if not self.pods_[-1][1]:
                    self.pods_.pop()
        ready = sum(count for t, count in self.pods_ if t <= now + 1e-6)
        starting = [p for p in self.pods_ if p[0] > now + 1e-6]
        self.pods_ = ([[now, ready]] if ready else []) + starting
        self.ready_seen_ = _trim_history(self.ready_seen_ + [[now, ready]], now - self.metric_delay_seconds)
        return self.replicas()

    def get_state(self):
        """JSON-able state."""
        return {"hpa": self.hpa_.get_state(), "pods": None if self.pods_ is None else [list(p) for p in self.pods_],
                "ready_seen": [list(r) for r in self.ready_seen_]}

    def set_state(self, state):
        """Restore what ``get_state`` returned."""
        self.hpa_.set_state(state.get("hpa", {}))
        pods = state.get("pods")
        self.pods_ = None if pods is None else [list(p) for p in pods]
        self.ready_seen_ = [list(r) for r in state.get("ready_seen", [])]


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
