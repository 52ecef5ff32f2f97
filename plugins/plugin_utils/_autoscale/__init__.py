# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Autoscaling decider: one observation in, desired replicas and a reason out.

PRIVATE to the lepton.aiops collection: no compatibility promise outside it.
Pure Python, no Ansible imports, no I/O; it runs on the controller (the
``lepton.aiops.autoscaler`` callback, the benchmark).

API::

    decider = make_decider("hpa", min_replicas=2, max_replicas=10)   # or "predictive"
    decision = decider.decide(Observation(
        time=1700000000.0, replicas=2, ready_replicas=2,
        metrics=[Metric("request_rate", target=50.0, value=80.0)],   # per replica
    ))
    decision.desired, decision.reason          # 4, "request_rate: ratio 1.600"
    saved = dump_decider(decider)              # JSON-able dict
    decider = load_decider(saved)              # same behaviour from here on
    decider = restore_decider(saved, "hpa", min_replicas=3)   # these parameters, saved learning

A metric whose ``value`` is ``None`` is missing. ``Observation.fault`` or
``Observation.broken_replicas`` mark a fault: the decider holds (faults are
not load, see :func:`fault_from_signals`).

>>> d = make_decider("hpa", min_replicas=1, max_replicas=10)
>>> d.decide(Observation(0.0, 2, 2, [Metric("rps", target=50.0, value=80.0)])).desired
4
>>> load_decider(dump_decider(d)).get_state() == d.get_state()
True
>>> restore_decider(dump_decider(d), "hpa", max_replicas=4).max_replicas
4
"""

from __future__ import annotations

from ._faults import fault_from_signals
from ._hpa import DEFAULT_SCALE_DOWN, DEFAULT_SCALE_UP, HPA, ScalingPolicy, ScalingRules, replicas_for_metric
from ._model import Decision, Metric, Observation
from ._predictive import Predictive

POLICIES = {"hpa": HPA, "predictive": Predictive}
STATE_VERSION = 1

__all__ = [
    "DEFAULT_SCALE_DOWN", "DEFAULT_SCALE_UP", "HPA", "POLICIES", "Decision", "Metric", "Observation",
    "Predictive", "ScalingPolicy", "ScalingRules", "dump_decider", "fault_from_signals", "load_decider",
    "make_decider", "replicas_for_metric", "restore_decider",
]


def make_decider(policy, **params):
    """A new decider of ``policy`` (``hpa`` or ``predictive``) with ``params``."""
    try:
        cls = POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown autoscaling policy {policy!r}; choose one of {', '.join(sorted(POLICIES))}.") from None
    return cls(**params)


def dump_decider(decider):
    """Everything needed to continue later, as a JSON-able dict."""
    return {"version": STATE_VERSION, "policy": decider.name, "params": decider.get_params(),
            "state": decider.get_state()}


def load_decider(data, **overrides):
    """Rebuild a decider from :func:`dump_decider`; ``overrides`` replace parameters.

    The saved parameters are kept unless overridden: this continues a
    decider exactly (a benchmark, a test). To run a decider with the
    parameters configured now, which is what a new run of the playbook
    wants, use :func:`restore_decider`.
    """
    _check_saved(data)
    policy = overrides.pop("policy", data["policy"])
    params = dict(data.get("params", {})) if policy == data["policy"] else {}
    params.update(overrides)
    return restore_decider(data, policy, **params)


def restore_decider(data, policy, **params):
    """A new decider of ``policy`` built from ``params`` alone, with the learned state of ``data``.

    The parameters saved in ``data`` are ignored: a parameter no longer
    given takes its default again. Only the learned state is restored (the
    recommendation history and scale events, and for the predictive policy
    its profiles, forecasts, errors and budget); across a policy change
    only the recommendation history and scale events. Forecasts are kept
    across parameter changes (they are in replicas at target). Any state
    written by :func:`dump_decider` with this ``STATE_VERSION`` loads.
    """
    _check_saved(data)
    decider = make_decider(policy, **params)
    if policy == data.get("policy"):
        decider.set_state(data.get("state", {}))
    else:
        decider.set_state({"limiter": data.get("state", {}).get("limiter", {})})
    return decider


def _check_saved(data):
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        raise ValueError(f"autoscaler state: expected a dict with version {STATE_VERSION}.")
