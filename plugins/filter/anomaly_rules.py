# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter ``anomaly_rules``: learned Gaussian baselines to Prometheus alerting rules.

Each baseline (mu, sigma) becomes a rule that fires when the series of
``expr`` with the baseline's labels stays above mu + sigma * z_alpha (and
below mu - sigma * z_alpha when two-sided) for ``duration``. The threshold is
attached to the right label set with ``label_replace(vector(T), ...)`` and
``on(...) group_left()``, so one PromQL expression that returns many series
(one per service) gets one threshold per series.
"""

from __future__ import annotations

import math
import re
from statistics import NormalDist

from ansible.errors import AnsibleFilterError

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def _quote(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _baselines(data, label):
    """Normalise the accepted inputs to a list of (name, labels, mu, sigma)."""
    if isinstance(data, dict) and "series" in data and isinstance(data["series"], list):
        data = data["series"]  # the whole anomaly_detect result
    items = []
    if isinstance(data, dict):
        for name, b in data.items():
            if not isinstance(b, dict):
                raise AnsibleFilterError("anomaly_rules: baseline of %r must be a mapping with mu and sigma" % name)
            items.append((str(name), dict(b.get("labels") or {label: str(name)}), b.get("mu"), b.get("sigma")))
    elif isinstance(data, list):
        for s in data:
            if not isinstance(s, dict):
                raise AnsibleFilterError("anomaly_rules: every series must be a mapping, got %r" % (s,))
            if s.get("inconclusive"):
                continue
            b = s.get("baseline") or s
            labels = {k: v for k, v in (s.get("labels") or {}).items() if k != "__name__"}
            items.append((str(s.get("name")), labels or {label: str(s.get("name"))}, b.get("mu"), b.get("sigma")))
    else:
        raise AnsibleFilterError("anomaly_rules expects the anomaly_detect result, its series list or a mapping name -> {mu, sigma}")
    out = []
    for name, labels, mu, sigma in items:
        try:
            mu, sigma = float(mu), float(sigma)
        except (TypeError, ValueError):
            raise AnsibleFilterError("anomaly_rules: %s has no numeric mu and sigma (got %r, %r)" % (name, mu, sigma))
        if not (math.isfinite(mu) and math.isfinite(sigma)) or sigma < 0:
            raise AnsibleFilterError("anomaly_rules: %s needs a finite mu and a sigma >= 0" % name)
        bad = [k for k in labels if not _LABEL.match(k)]
        if bad:
            raise AnsibleFilterError("anomaly_rules: invalid label name(s) %s for %s" % (", ".join(bad), name))
        out.append((name, labels, mu, sigma))
    return out


def _threshold_vector(value, labels):
    vec = "vector(%r)" % float(value)
    for k, v in sorted(labels.items()):
        vec = "label_replace(%s, %s, %s, \"\", \"\")" % (vec, _quote(k), _quote(v))
    return vec


def anomaly_rules(baselines, expr, alpha=0.99, two_sided=False, duration="5m", severity="warning",
                  group="lepton-anomaly", alert="LeptonAnomalyThreshold", label="service"):
    """Return a Prometheus rule file (as data) with one alerting rule per baseline and side."""
    if not expr or not isinstance(expr, str):
        raise AnsibleFilterError("anomaly_rules: expr, the PromQL the baselines were learned from, is required")
    if not 0.0 < float(alpha) < 1.0:
        raise AnsibleFilterError("anomaly_rules: alpha must be strictly between 0 and 1, got %r" % alpha)
    if not _DURATION.match(str(duration)):
        raise AnsibleFilterError("anomaly_rules: duration must be a Prometheus duration such as 5m, got %r" % duration)
    if not _LABEL.match(str(alert)) or not _LABEL.match(str(label)):
        raise AnsibleFilterError("anomaly_rules: alert and label must be valid Prometheus names")
    z = NormalDist().inv_cdf((1.0 + float(alpha)) / 2.0 if two_sided else float(alpha))
    rules = []
    for name, labels, mu, sigma in _baselines(baselines, label):
        on = ", ".join(sorted(labels))
        sides = [(">", mu + sigma * z, "above")] + ([("<", mu - sigma * z, "below")] if two_sided else [])
        for op, t, word in sides:
            rules.append({
                "alert": alert,
                "expr": "(%s) %s on(%s) group_left() %s" % (expr, op, on, _threshold_vector(t, labels)),
                "for": str(duration),
                "labels": {"severity": str(severity), "anomaly_baseline": name, "anomaly_side": word},
                "annotations": {
                    "summary": "%s is %s its learned threshold %.6g" % (name, word, t),
                    "description": ("Baseline mu=%.6g sigma=%.6g, threshold mu %s %.4g sigma (alpha=%s); value {{ $value }}."
                                    % (mu, sigma, "+" if op == ">" else "-", z, alpha)),
                },
            })
    if not rules:
        raise AnsibleFilterError("anomaly_rules: no usable baseline (every series was inconclusive)")
    return {"groups": [{"name": str(group), "rules": rules}]}


class FilterModule:
    """Anomaly alerting rules."""

    def filters(self):
        return {"anomaly_rules": anomaly_rules}
