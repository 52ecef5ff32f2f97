# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes HorizontalPodAutoscaler v2 algorithm, one observation at a time.

PRIVATE to the lepton.aiops collection: no compatibility promise outside it.
Pure Python, no Ansible imports, no I/O.

Every rule below cites the Kubernetes documentation page "Horizontal Pod
Autoscaling", https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/
(referred to as *HPA docs*), by section name, and the API reference of
``HorizontalPodAutoscalerSpec`` and ``HorizontalPodAutoscalerBehavior``,
https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/horizontal-pod-autoscaler-v2/
(*HPA API*). Where the documentation leaves a detail open (rounding of
percent policies, the order of the steps), the decider does what the
reference controller ``pkg/controller/podautoscaler`` of kubernetes/kubernetes
does (``replica_calculator.go``, ``horizontal.go``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._model import Decision

#: HPA docs, "Algorithm details": "If the ratio is sufficiently close to 1.0
#: (within a configurable tolerance, 0.1 by default) ... skips any scaling".
DEFAULT_TOLERANCE = 0.1


@dataclass(frozen=True)
class ScalingPolicy:
    """One rate limit: at most ``value`` pods (``Pods``) or ``value`` percent
    (``Percent``) of the replicas at the start of the last ``period_seconds``.

    HPA docs, "Configurable scaling behavior" > "Scaling policies".
    """

    type: str
    value: int
    period_seconds: int

    def __post_init__(self):
        if self.type not in ("Pods", "Percent"):
            raise ValueError(f"scaling policy type must be Pods or Percent, not {self.type!r}.")
        if self.value <= 0 or self.period_seconds <= 0:
            raise ValueError("a scaling policy needs a positive value and a positive period_seconds.")


@dataclass(frozen=True)
class ScalingRules:
    """The behaviour of one direction: stabilisation window, policies and how
    to pick among them (``Max``, ``Min`` or ``Disabled``).

    HPA docs, "Configurable scaling behavior" > "Stabilization window" and
    "Scaling policies"; HPA API, ``HPAScalingRules``.
    """

    stabilization_window_seconds: int
    policies: tuple
    select_policy: str = "Max"

    def __post_init__(self):
        if self.select_policy not in ("Max", "Min", "Disabled"):
            raise ValueError(f"select_policy must be Max, Min or Disabled, not {self.select_policy!r}.")
        if self.stabilization_window_seconds < 0:
            raise ValueError("stabilization_window_seconds must be >= 0.")
        object.__setattr__(self, "policies", tuple(
            p if isinstance(p, ScalingPolicy) else ScalingPolicy(**p) for p in self.policies
        ))

    @classmethod
    def from_dict(cls, data):
        """Build rules from the JSON form used in ``HPA.get_params``."""
        return cls(
            stabilization_window_seconds=data["stabilization_window_seconds"],
            policies=tuple(ScalingPolicy(**p) for p in data["policies"]),
            select_policy=data.get("select_policy", "Max"),
        )

    def to_dict(self):
        """Plain JSON-able form."""
        return {
            "stabilization_window_seconds": self.stabilization_window_seconds,
            "policies": [dict(type=p.type, value=p.value, period_seconds=p.period_seconds) for p in self.policies],
            "select_policy": self.select_policy,
        }


#: HPA docs, "Configurable scaling behavior" > "Default Behavior": scale up
#: with no stabilisation, by the larger of 100 % or 4 pods per 15 s.
DEFAULT_SCALE_UP = ScalingRules(
    stabilization_window_seconds=0,
    policies=(ScalingPolicy("Percent", 100, 15), ScalingPolicy("Pods", 4, 15)),
    select_policy="Max",
)
#: HPA docs, "Configurable scaling behavior" > "Default Behavior": scale down
#: after a 300 s stabilisation window, by up to 100 % per 15 s.
DEFAULT_SCALE_DOWN = ScalingRules(
    stabilization_window_seconds=300,
    policies=(ScalingPolicy("Percent", 100, 15),),
    select_policy="Max",
)


def replicas_for_metric(metric, replicas, ready_replicas, tolerance=DEFAULT_TOLERANCE, broken=()):
    """Replica count one metric asks for, or ``None`` when the metric is missing.

    Returns ``(replicas_or_None, note)``.

    HPA docs, "Algorithm details":

    * ``desiredReplicas = ceil[currentReplicas * (currentMetricValue / desiredMetricValue)]``
      with ``currentMetricValue`` the average over the pods for an average
      target (``kind="pods"``), the object's value for a ``Value`` target
      (``kind="value"``), and the total divided by the target per pod for an
      external ``AverageValue`` target (``kind="total"``).
    * Tolerance: no change when ``|1 - ratio| <= tolerance`` (0.1), except at
      0 current replicas (``minReplicas: 0``), where there is nothing to keep:
      ``replica_calculator.go`` ``getUsageRatioReplicaCount`` checks the
      tolerance only "if currentReplicas != 0" and otherwise scales "to zero
      or n pods depending on usageRatio", ``ceil(ratio)`` (``value``); for an
      external ``AverageValue`` target (``total``)
      ``GetExternalPerPodMetricReplicas`` divides by the 0 current replicas,
      an infinite ratio, so it is always ``ceil(total / target)``.
    * Missing metrics: a ready pod without a value is "set aside" and, once
      the direction is known, counted as using 100 % of the target on a
      scale-down and 0 % on a scale-up.
    * Not-yet-ready pods: set aside; if the workload would scale up they are
      counted as using 0 % of the target.
    * "If the new ratio reverses the scale direction, or is within the
      tolerance, the controller doesn't take any scaling action."

    >>> from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale import Metric
    >>> replicas_for_metric(Metric("rps", target=100.0, value=200.0), 3, 3)
    (6, 'ratio 2.000')
    >>> replicas_for_metric(Metric("rps", target=100.0, value=105.0), 3, 3)
    (3, 'ratio 1.050 within tolerance 0.1')
    >>> replicas_for_metric(Metric("queue", target=100.0, value=95.0, kind="value"), 0, 0)
    (1, 'ratio 0.950 at 0 replicas, no tolerance')
    """
    target = float(metric.target)
    if metric.kind == "value":
        if not metric.available:
            return None, "missing"
        ratio = float(metric.value) / target
        if replicas == 0:   # getUsageRatioReplicaCount: no tolerance at 0 current replicas
            return int(math.ceil(ratio)), f"ratio {ratio:.3f} at 0 replicas, no tolerance"
        if abs(1.0 - ratio) <= tolerance:
            return replicas, f"ratio {ratio:.3f} within tolerance {tolerance:g}"
        return int(math.ceil(ratio * ready_replicas)), f"ratio {ratio:.3f}"
    if metric.kind == "total":
        if not metric.available:
            return None, "missing"
        if replicas == 0:   # GetExternalPerPodMetricReplicas: usage / (target * 0) is never within tolerance
            ratio = float(metric.value) / target
            return int(math.ceil(ratio)), f"ratio {ratio:.3f} at 0 replicas, no tolerance"
        ratio = float(metric.value) / (target * replicas)
        if abs(1.0 - ratio) <= tolerance:
            return replicas, f"ratio {ratio:.3f} within tolerance {tolerance:g}"
        return int(math.ceil(float(metric.value) / target)), f"ratio {ratio:.3f}"

    # kind == "pods": average per pod, with missing and not-ready pods.
    if metric.per_replica:
        values = [float(v) for name, v in sorted(metric.per_replica.items())
                  if name not in broken and _finite(v)]
        with_metrics = len(values)
        missing = max(0, ready_replicas - with_metrics)
    elif _finite(metric.value):
        with_metrics = max(0, ready_replicas)
        values = [float(metric.value)] * with_metrics
        missing = 0
    else:
        return None, "missing"
    if with_metrics == 0:
        return None, "missing: no ready replica reported a value"
    unready = max(0, replicas - max(ready_replicas, with_metrics))
    total = sum(values)
    ratio = total / with_metrics / target
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return replicas, f"ratio {ratio:.3f} within tolerance {tolerance:g}"
        return int(math.ceil(ratio * with_metrics)), f"ratio {ratio:.3f}"
    counted = with_metrics
    if missing:
        # scale down: missing pods use 100 % of the target; scale up: 0 %.
        total += missing * target if ratio < 1.0 else 0.0
        counted += missing
    if scale_up_with_unready:
        counted += unready
    new_ratio = total / counted / target
    note = (f"ratio {ratio:.3f}, {new_ratio:.3f} counting {missing} missing and "
            f"{unready if scale_up_with_unready else 0} not-ready replicas")
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return replicas, note + ": no change"
    new_replicas = int(math.ceil(new_ratio * counted))
    if (new_ratio < 1.0 and new_replicas > replicas) or (new_ratio > 1.0 and new_replicas < replicas):
        return replicas, note + ": no change"
    return new_replicas, note


class RateLimiter:
    """Stabilisation windows and scaling policies shared by both policies.

    State (plain lists, JSON-able): the recommendations of the longest
    stabilisation window and the scale events of the longest policy period.
    """

    def __init__(self, scale_up=DEFAULT_SCALE_UP, scale_down=DEFAULT_SCALE_DOWN):
        self.scale_up = scale_up
        self.scale_down = scale_down
        self.recommendations = []   # [time, replicas]
        self.up_events = []         # [time, replicas added]
        self.down_events = []       # [time, replicas removed]

    def record_initial(self, now, current):
        """Seed an empty recommendation history with the current replica count.

        ``horizontal.go``, ``reconcileAutoscaler`` calls
        ``recordInitialRecommendation(currentReplicas, key)`` as soon as it
        knows the current replicas, before any branch: the first time the
        controller sees an HPA its stabilisation window holds the current
        count, so a scale-down waits for the whole window (300 s by default)
        as it would after any other recommendation. A history that is not
        empty (restored from a saved state) is left as it is, as the
        controller keeps its recommendations between reconciles.
        """
        if not self.recommendations:
            self.recommendations.append([now, current])

    def stabilize(self, now, current, desired):
        """Recommendation after the stabilisation windows.

        HPA docs, "Algorithm details": "The controller considers all
        recommendations within a configurable window choosing the highest
        recommendation from within that window" (scale-down, 300 s by
        default); "Configurable scaling behavior" > "Stabilization window":
        for scale-up the lowest recommendation of its window wins (0 s by
        default). The raw recommendation is recorded afterwards.
        """
        up_cut = now - self.scale_up.stabilization_window_seconds
        down_cut = now - self.scale_down.stabilization_window_seconds
        up_rec = down_rec = desired
        for t, rec in self.recommendations:
            if t > up_cut:
                up_rec = min(up_rec, rec)
            if t > down_cut:
                down_rec = max(down_rec, rec)
        stabilized = min(max(current, up_rec), down_rec)
        self.recommendations.append([now, desired])
        keep = now - max(self.scale_up.stabilization_window_seconds, self.scale_down.stabilization_window_seconds)
        self.recommendations = [r for r in self.recommendations if r[0] > keep or r[0] == now]
        return stabilized

    def limit(self, now, current, desired, min_replicas, max_replicas):
        """Apply the scaling policies and the bounds; return ``(replicas, note)``.

        HPA docs, "Configurable scaling behavior" > "Scaling policies": each
        policy allows a change relative to the replicas at the start of its
        period; ``selectPolicy: Max`` picks the policy that allows the largest
        change, ``Min`` the smallest, ``Disabled`` none. Percent changes
        round up on scale-up and the remaining replicas round down on
        scale-down (80 replicas, 10 %: 72, then 64).

        Bounds: HPA API, ``HorizontalPodAutoscalerSpec``: ``maxReplicas`` "is
        the upper limit for the number of replicas to which the autoscaler can
        scale up", ``minReplicas`` "the lower limit for the number of replicas
        to which the autoscaler can scale down". As in ``horizontal.go``,
        ``convertDesiredReplicasWithBehaviorRate``, a scale-up is capped by
        the smaller of ``maxReplicas`` and the policy limit (never below the
        current count), a scale-down by the larger of ``minReplicas`` and the
        policy limit (never above the current count).
        """
        if desired > current:
            limit = self._up_limit(now, current)
            limit = max(limit, current)
            allowed = min(max_replicas, limit)
            if desired > allowed:
                why = "maxReplicas" if allowed == max_replicas else "scale-up policy"
                return allowed, f"limited by {why} to {allowed}"
        elif desired < current:
            limit = self._down_limit(now, current)
            limit = min(limit, current)
            allowed = max(min_replicas, limit)
            if desired < allowed:
                why = "minReplicas" if allowed == min_replicas else "scale-down policy"
                return allowed, f"limited by {why} to {allowed}"
        return desired, ""

    def record(self, now, before, after):
        """Remember a scale event (what the caller is about to apply)."""
        if after > before:
            self.up_events.append([now, after - before])
        elif after < before:
            self.down_events.append([now, before - after])
        keep = now - max([p.period_seconds for p in self.scale_up.policies + self.scale_down.policies] + [0])
        self.up_events = [e for e in self.up_events if e[0] > keep]
        self.down_events = [e for e in self.down_events if e[0] > keep]

    @staticmethod
    def _changed(events, now, period):
        return sum(c for t, c in events if t > now - period)

    def _period_start(self, now, current, period):
        return current - self._changed(self.up_events, now, period) + self._changed(self.down_events, now, period)

    def _up_limit(self, now, current):
        rules = self.scale_up
        if rules.select_policy == "Disabled" or not rules.policies:
            return current
        proposals = []
        for p in rules.policies:
            start = self._period_start(now, current, p.period_seconds)
            if p.type == "Pods":
                proposals.append(start + p.value)
            else:
                proposals.append(int(math.ceil(start * (1 + p.value / 100.0))))
        return max(proposals) if rules.select_policy == "Max" else min(proposals)

    def _down_limit(self, now, current):
        rules = self.scale_down
        if rules.select_policy == "Disabled" or not rules.policies:
            return current
        proposals = []
        for p in rules.policies:
            start = self._period_start(now, current, p.period_seconds)
            if p.type == "Pods":
                proposals.append(start - p.value)
            else:
                proposals.append(int(start * (1 - p.value / 100.0)))
        return min(proposals) if rules.select_policy == "Max" else max(proposals)

    def get_state(self):
        """JSON-able state."""
        return {"recommendations": self.recommendations, "up_events": self.up_events,
                "down_events": self.down_events}

    def set_state(self, state):
        """Restore what ``get_state`` returned."""
        self.recommendations = [list(r) for r in state.get("recommendations", [])]
        self.up_events = [list(e) for e in state.get("up_events", [])]
        self.down_events = [list(e) for e in state.get("down_events", [])]


class HPA:
    """The Kubernetes HPA v2 algorithm with its defaults.

    ``decide(observation)`` returns a :class:`Decision`; call it once per
    sync period (15 s in Kubernetes, HPA docs "How does a
    HorizontalPodAutoscaler work?") and apply ``desired``. The state is the
    recommendation history and the scale events (``get_state``/``set_state``).

    >>> from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale import Metric, Observation
    >>> hpa = HPA(min_replicas=1, max_replicas=10)
    >>> d = hpa.decide(Observation(0, 2, 2, (Metric("rps", target=100.0, value=200.0),)))
    >>> d.desired, d.change
    (4, 'up')
    """

    name = "hpa"

    def __init__(self, min_replicas=1, max_replicas=10, tolerance=DEFAULT_TOLERANCE,
                 scale_up=DEFAULT_SCALE_UP, scale_down=DEFAULT_SCALE_DOWN):
        """HPA API, ``HorizontalPodAutoscalerSpec``: ``minReplicas`` "defaults to
        1 pod" and "is allowed to be 0 if the alpha feature gate HPAScaleToZero
        is enabled"; ``maxReplicas`` "cannot be less that minReplicas" (and an
        HPA of at most 0 replicas would scale nothing). ``scale_up`` and
        ``scale_down`` are the ``behavior`` (``HPAScalingRules``), by default
        the "Default Behavior" of the HPA docs.
        """
        if min_replicas < 0 or max_replicas < max(min_replicas, 1):
            raise ValueError(
                f"need 0 <= min_replicas <= max_replicas and max_replicas >= 1, got {min_replicas} and {max_replicas}."
            )
        if tolerance < 0:
            raise ValueError("tolerance must be >= 0.")
        self.min_replicas = int(min_replicas)
        self.max_replicas = int(max_replicas)
        self.tolerance = float(tolerance)
        self.scale_up = scale_up if isinstance(scale_up, ScalingRules) else ScalingRules.from_dict(scale_up)
        self.scale_down = scale_down if isinstance(scale_down, ScalingRules) else ScalingRules.from_dict(scale_down)
        self.limiter_ = RateLimiter(self.scale_up, self.scale_down)

    def get_params(self):
        """Hyper-parameters as plain data (what ``__init__`` takes)."""
        return {"min_replicas": self.min_replicas, "max_replicas": self.max_replicas,
                "tolerance": self.tolerance, "scale_up": self.scale_up.to_dict(),
                "scale_down": self.scale_down.to_dict()}

    def get_state(self):
        """JSON-able learned state."""
        return {"limiter": self.limiter_.get_state()}

    def set_state(self, state):
        """Restore what ``get_state`` returned."""
        self.limiter_.set_state(state.get("limiter", {}))

    def recommend(self, obs):
        """Raw recommendation before stabilisation: ``(replicas|None, reason, details)``.

        HPA docs, "Algorithm details": with several metrics "this calculation
        is done for each metric, and then the largest of the desired replica
        counts is chosen. If any of these metrics cannot be converted into a
        desired replica count ... and a scale down is suggested by the
        metrics which can be fetched, scaling is skipped." ``None`` means
        skip (hold).
        """
        per_metric = {}
        best, best_name, invalid = None, None, []
        for metric in obs.metrics:
            replicas, note = replicas_for_metric(metric, obs.replicas, obs.ready_replicas,
                                                 self.tolerance, obs.broken_replicas)
            per_metric[metric.name] = {"replicas": replicas, "note": note}
            if replicas is None:
                invalid.append(metric.name)
                continue
            if best is None or replicas > best:
                best, best_name = replicas, metric.name
        details = {"metrics": per_metric}
        if not obs.metrics or len(invalid) == len(obs.metrics):
            return None, "hold: no metric available" + (f" ({', '.join(invalid)} missing)" if invalid else ""), details
        if invalid and best < obs.replicas:
            return None, (f"hold: {', '.join(invalid)} missing and the other metrics suggest a scale-down"), details
        return best, f"{best_name}: {per_metric[best_name]['note']}", details

    def decide(self, obs):
        """Decide for one observation and remember what is needed for the next one.

        The steps of ``horizontal.go``, ``reconcileAutoscaler``: record the
        current count as the first recommendation (:meth:`RateLimiter.record_initial`);
        then, HPA API, ``HorizontalPodAutoscalerSpec``: a count above
        ``maxReplicas`` or below ``minReplicas`` is brought to that bound at
        once ("Current number of replicas above Spec.MaxReplicas" / "below
        Spec.MinReplicas", without stabilisation or policies); otherwise the
        metrics' recommendation is stabilised, then limited by the scaling
        policies and the bounds (:meth:`RateLimiter.limit`).
        """
        current = obs.replicas
        # horizontal.go, reconcileAutoscaler: recordInitialRecommendation(currentReplicas, key)
        # comes before every branch, holds and bounds included
        self.limiter_.record_initial(obs.time, current)
        if obs.faulty:
            return Decision(obs.time, self.name, current, current, _fault_reason(obs), hold=True)
        if current == 0 and self.min_replicas != 0:
            # HPA docs, "Implicit maintenance-mode deactivation": a target
            # scaled to zero is left alone.
            return Decision(obs.time, self.name, 0, 0, "hold: scaled to zero, autoscaling is off", hold=True)
        # HPA API, HorizontalPodAutoscalerSpec minReplicas/maxReplicas; horizontal.go, reconcileAutoscaler:
        # "Current number of replicas above Spec.MaxReplicas" / "below Spec.MinReplicas" -> that bound
        if current > self.max_replicas:
            return self._apply(obs, self.max_replicas, f"above maxReplicas {self.max_replicas}")
        if current < self.min_replicas:
            return self._apply(obs, self.min_replicas, f"below minReplicas {self.min_replicas}")
        raw, reason, details = self.recommend(obs)
        if raw is None:
            return Decision(obs.time, self.name, current, current, reason, hold=True, details=details)
        stabilized = self.limiter_.stabilize(obs.time, current, raw)
        if stabilized != raw:
            reason += f"; stabilised from {raw} to {stabilized}"
        desired, note = self.limiter_.limit(obs.time, current, stabilized, self.min_replicas, self.max_replicas)
        if note:
            reason += "; " + note
        details["recommendation"] = raw
        return self._apply(obs, desired, reason, details)

    def _apply(self, obs, desired, reason, details=None):
        self.limiter_.record(obs.time, obs.replicas, desired)
        return Decision(obs.time, self.name, obs.replicas, desired, reason, details=details or {})


def _fault_reason(obs):
    what = obs.fault or f"broken replicas {', '.join(obs.broken_replicas)}"
    return f"hold: fault, not load ({what}); no scaling while it lasts"


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
