# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faults are not load: tell a broken service from a busy one.

PRIVATE to the lepton.aiops collection: no compatibility promise outside it.
Pure Python, no Ansible imports, no I/O.

The rule: more replicas help with more load, not with a fault. When the
error ratio of a service is above a threshold, or the anomaly detector has
an anomalous series *that names one of its replicas*, the observation is a
fault. The decider then holds the current replica count (no scale-up and no
scale-down) and the predictive policy does not learn from it. A broken
replica's own values are left out of the per-replica averages either way.
An anomaly on a service-wide series (a traffic surge) names no replica and
is load, not a fault.
"""

from __future__ import annotations

import re


def _names(series_name, replica):
    pattern = r"(?<![\w.-])" + re.escape(replica) + r"(?![\w.-])"
    return re.search(pattern, series_name) is not None


def fault_from_signals(error_ratio=None, error_ratio_threshold=0.05, anomalous_series=(), replicas=()):
    """Return ``(fault, broken_replicas)``: a sentence or ``None``, and a tuple.

    ``anomalous_series`` are the names of the series the anomaly detector
    flags now; ``replicas`` the replica names of the service.

    >>> fault_from_signals(error_ratio=0.2, error_ratio_threshold=0.05)
    ('error ratio 20.0% above 5.0%', ())
    >>> fault_from_signals(anomalous_series=['latency{replica="web-2"}'], replicas=["web-1", "web-2"])
    ('anomaly on replica web-2', ('web-2',))
    >>> fault_from_signals(anomalous_series=["request_rate{service=web}"], replicas=["web-1"])
    (None, ())
    """
    reasons = []
    if error_ratio is not None and error_ratio > error_ratio_threshold:
        reasons.append(f"error ratio {error_ratio:.1%} above {error_ratio_threshold:.1%}")
    broken = tuple(sorted({r for r in replicas for s in anomalous_series if _names(str(s), str(r))}))
    if broken:
        reasons.append(f"anomaly on replica{'s' if len(broken) > 1 else ''} {', '.join(broken)}")
    return ("; ".join(reasons) or None), broken
