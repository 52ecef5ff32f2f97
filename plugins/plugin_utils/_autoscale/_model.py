# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Observations and decisions of the autoscaling decider.

PRIVATE to the lepton.aiops collection: no compatibility promise outside it.
Pure Python, no Ansible imports, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

METRIC_KINDS = ("pods", "value", "total")


@dataclass(frozen=True)
class Metric:
    """One observed metric and its target.

    ``kind`` says how the value relates to the replicas, as in the metric
    types of a Kubernetes HorizontalPodAutoscaler v2:

    * ``pods``: an average per replica (HPA ``Pods``/``Resource`` metric with
      an ``AverageValue`` target), e.g. requests per second per replica.
      ``per_replica`` may give the value of each replica; a ready replica
      without a value counts as *missing*.
    * ``value``: one value for the whole service compared with ``target``
      (HPA ``Object`` metric with a ``Value`` target), e.g. p95 latency.
    * ``total``: a total shared by all replicas (HPA ``External`` metric with
      an ``AverageValue`` target), e.g. the request rate of the service.

    ``value`` ``None`` (and no ``per_replica``) means the metric is missing.

    >>> Metric("rps", target=10.0, value=12.0).available
    True
    >>> Metric("rps", target=10.0).available
    False
    """

    name: str
    target: float
    value: float | None = None
    kind: str = "pods"
    per_replica: dict | None = None

    def __post_init__(self):
        if self.kind not in METRIC_KINDS:
            raise ValueError(
                f"metric {self.name!r}: kind must be one of {', '.join(METRIC_KINDS)}, not {self.kind!r}."
            )
        if not (isinstance(self.target, (int, float)) and self.target > 0):
            raise ValueError(f"metric {self.name!r}: the target must be a positive number, got {self.target!r}.")

    @property
    def available(self):
        """True when the metric has a usable value."""
        if self.per_replica:
            return any(_finite(v) for v in self.per_replica.values())
        return _finite(self.value)

    @classmethod
    def from_dict(cls, data):
        """Build a metric from a plain dict (the JSON form)."""
        known = {"name", "target", "value", "kind", "per_replica"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"metric: unknown keys {sorted(unknown)}; known keys are {sorted(known)}.")
        return cls(**data)


@dataclass(frozen=True)
class Observation:
    """What the decider sees at one point in time.

    ``time`` is in seconds (a Unix timestamp or any monotonic clock),
    ``replicas`` the replicas that exist now, ``ready_replicas`` those that
    serve traffic. ``broken_replicas`` names replicas that a fault detector
    blames (their per-replica values are ignored) and ``fault`` is a
    sentence saying what is broken; either one means the decider must not
    scale up on this observation (faults are not load).

    >>> obs = Observation(time=0.0, replicas=2, ready_replicas=2,
    ...                   metrics=(Metric("rps", target=10.0, value=15.0),))
    >>> obs.unready_replicas
    0
    """

    time: float
    replicas: int
    ready_replicas: int
    metrics: tuple = ()
    fault: str | None = None
    broken_replicas: tuple = ()

    def __post_init__(self):
        if not _finite(self.time):
            raise ValueError(f"observation: time must be a number of seconds, got {self.time!r}.")
        if int(self.replicas) != self.replicas or self.replicas < 0:
            raise ValueError(f"observation: replicas must be a whole number >= 0, got {self.replicas!r}.")
        if int(self.ready_replicas) != self.ready_replicas or self.ready_replicas < 0:
            raise ValueError(
                f"observation: ready_replicas must be a whole number >= 0, got {self.ready_replicas!r}."
            )
        object.__setattr__(self, "replicas", int(self.replicas))
        object.__setattr__(self, "ready_replicas", min(int(self.ready_replicas), int(self.replicas)))
        object.__setattr__(self, "metrics", tuple(
            m if isinstance(m, Metric) else Metric.from_dict(m) for m in self.metrics
        ))
        object.__setattr__(self, "broken_replicas", tuple(self.broken_replicas))

    @property
    def unready_replicas(self):
        """Replicas that exist but do not serve yet."""
        return self.replicas - self.ready_replicas

    @property
    def faulty(self):
        """True when a fault, not load, may explain what the metrics show."""
        return bool(self.fault) or bool(self.broken_replicas)

    @classmethod
    def from_dict(cls, data):
        """Build an observation from a plain dict (the JSON form)."""
        data = dict(data)
        data["metrics"] = tuple(Metric.from_dict(m) for m in data.get("metrics", ()))
        return cls(**data)


@dataclass
class Decision:
    """The decider's answer for one observation.

    ``desired`` is the replica count to apply, ``reason`` a sentence for a
    human, ``hold`` true when the decider refused to act (missing data, a
    fault), ``details`` plain data (per-metric recommendations, forecast).
    """

    time: float
    policy: str
    current: int
    desired: int
    reason: str
    hold: bool = False
    details: dict = field(default_factory=dict)

    @property
    def change(self):
        """``up``, ``down`` or ``none``."""
        if self.desired > self.current:
            return "up"
        if self.desired < self.current:
            return "down"
        return "none"

    def to_dict(self):
        """Plain JSON-able form."""
        return {
            "time": self.time,
            "policy": self.policy,
            "current": self.current,
            "desired": self.desired,
            "change": self.change,
            "reason": self.reason,
            "hold": self.hold,
            "details": self.details,
        }


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
