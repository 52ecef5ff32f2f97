# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filter ``anomaly_rules``: learned Gaussian baselines to Prometheus alerting rules.

Each baseline becomes a rule that fires when the series of ``expr`` with the
baseline's labels stays above its threshold (and below its lower threshold
when two-sided) for ``duration``. A baseline that carries ``threshold`` (and
``lower_threshold``), as anomaly_detect's gaussian and robust baselines do,
is alerted on at exactly those thresholds, so the rules follow the alpha and
two_sided the module ran with. A plain (mu, sigma) baseline, or any baseline
when ``alpha`` is given, gets mu + sigma * z_alpha (and mu - sigma * z_alpha
when two-sided). The threshold is
attached to the right label set with ``label_replace(vector(T), ...)`` and
``on(...) group_left()``, so one PromQL expression that returns many series
(one per service) gets one threshold per series.
"""

from __future__ import annotations

import math
import re
from statistics import NormalDist

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import boolean

_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def _quote(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value, what, name):
    """None stays None; anything else must be a finite number."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise AnsibleFilterError("anomaly_rules: %s of %s must be a finite number, got %r" % (what, name, value))
    return number


def _baselines(data, label):
    """Normalise the accepted inputs to a list of (name, labels, mu, sigma, threshold, lower_threshold)."""
    if isinstance(data, dict) and "series" in data and isinstance(data["series"], list):
        data = data["series"]  # the whole anomaly_detect result
    items = []
    if isinstance(data, dict):
        for name, b in data.items():
            if not isinstance(b, dict):
                raise AnsibleFilterError("anomaly_rules: baseline of %r must be a mapping with mu and sigma" % name)
            items.append((str(name), dict(b.get("labels") or {label: str(name)}), b))
    elif isinstance(data, list):
        for s in data:
            if not isinstance(s, dict):
                raise AnsibleFilterError("anomaly_rules: every series must be a mapping, got %r" % (s,))
            if s.get("inconclusive"):
                continue
            b = s.get("baseline") or s
            labels = {k: v for k, v in (s.get("labels") or {}).items() if k != "__name__"}
            items.append((str(s.get("name")), labels or {label: str(s.get("name"))}, b))
    else:
        raise AnsibleFilterError("anomaly_rules expects the anomaly_detect result, its series list or a mapping name -> {mu, sigma}")
    out = []
    for name, labels, b in items:
        mu, sigma = b.get("mu"), b.get("sigma")
        try:
            mu, sigma = float(mu), float(sigma)
        except (TypeError, ValueError):
            raise AnsibleFilterError("anomaly_rules: %s has no numeric mu and sigma (got %r, %r)" % (name, mu, sigma))
        if not (math.isfinite(mu) and math.isfinite(sigma)) or sigma < 0:
            raise AnsibleFilterError("anomaly_rules: %s needs a finite mu and a sigma >= 0" % name)
        bad = [k for k in labels if not _LABEL.match(k)]
        if bad:
            raise AnsibleFilterError("anomaly_rules: invalid label name(s) %s for %s" % (", ".join(bad), name))
        upper = _number(b.get("threshold"), "threshold", name)
        lower = _number(b.get("lower_threshold"), "lower_threshold", name) if upper is not None else None
        if lower is not None and lower > upper:
            raise AnsibleFilterError("anomaly_rules: %s has a lower_threshold above its threshold" % name)
        out.append((name, labels, mu, sigma, upper, lower))
    return out


def _threshold_vector(value, labels):
    vec = "vector(%r)" % float(value)
    for k, v in sorted(labels.items()):
        vec = "label_replace(%s, %s, %s, \"\", \"\")" % (vec, _quote(k), _quote(v))
    return vec


def _sides(name, mu, sigma, upper, lower, alpha, two_sided):
    """[(operator, threshold, word, description)] of one baseline."""
    two = (lower is not None) if two_sided is None else two_sided  # default: as anomaly_detect ran
    if alpha is None and upper is not None:  # the thresholds anomaly_detect learned, as they are
        if two and lower is None:
            raise AnsibleFilterError(
                "anomaly_rules: two_sided is true but %s has no lower_threshold (anomaly_detect ran one-sided); "
                "run it with two_sided=true, or give alpha to recompute the thresholds from mu and sigma" % name)
        sides = [(">", upper, "above")] + ([("<", lower, "below")] if two else [])
        return [(op, t, word, "Baseline mu=%.6g sigma=%.6g, threshold %.6g learned by anomaly_detect%s; value {{ $value }}."
                 % (mu, sigma, t, " (mu %s %.4g sigma)" % ("+" if op == ">" else "-", abs(t - mu) / sigma) if sigma > 0 else ""))
                for op, t, word in sides]
    a = 0.99 if alpha is None else float(alpha)
    z = NormalDist().inv_cdf((1.0 + a) / 2.0 if two else a)
    sides = [(">", mu + sigma * z, "above")] + ([("<", mu - sigma * z, "below")] if two else [])
    return [(op, t, word, "Baseline mu=%.6g sigma=%.6g, threshold mu %s %.4g sigma (alpha=%s); value {{ $value }}."
             % (mu, sigma, "+" if op == ">" else "-", z, a if alpha is None else alpha))
            for op, t, word in sides]


def anomaly_rules(baselines, expr, alpha=None, two_sided=None, duration="5m", severity="warning",
                  group="lepton-anomaly", alert="LeptonAnomalyThreshold", label="service"):
    """Return a Prometheus rule file (as data) with one alerting rule per baseline and side.

    ``alpha`` None: the baseline's own ``threshold``/``lower_threshold`` when it
    carries them, else 0.99. ``two_sided`` None: as the baseline (a lower rule
    where it has a ``lower_threshold``), else false.
    """
    if not expr or not isinstance(expr, str):
        raise AnsibleFilterError("anomaly_rules: expr, the PromQL the baselines were learned from, is required")
    try:
        if alpha is not None and not 0.0 < float(alpha) < 1.0:
            raise ValueError
    except (TypeError, ValueError):
        raise AnsibleFilterError("anomaly_rules: alpha must be strictly between 0 and 1, got %r" % (alpha,))
    if not _DURATION.match(str(duration)):
        raise AnsibleFilterError("anomaly_rules: duration must be a Prometheus duration such as 5m, got %r" % duration)
    if not _LABEL.match(str(alert)) or not _LABEL.match(str(label)):
        raise AnsibleFilterError("anomaly_rules: alert and label must be valid Prometheus names")
    if two_sided is not None:
        try:
            two_sided = boolean(two_sided, strict=True)
        except TypeError as exc:
            raise AnsibleFilterError("anomaly_rules: two_sided must be a boolean: %s" % exc)
    rules = []
    for name, labels, mu, sigma, upper, lower in _baselines(baselines, label):
        on = ", ".join(sorted(labels))
        for op, t, word, description in _sides(name, mu, sigma, upper, lower, alpha, two_sided):
            rules.append({
                "alert": alert,
                "expr": "(%s) %s on(%s) group_left() %s" % (expr, op, on, _threshold_vector(t, labels)),
                "for": str(duration),
                "labels": {"severity": str(severity), "anomaly_baseline": name, "anomaly_side": word},
                "annotations": {
                    "summary": "%s is %s its learned threshold %.6g" % (name, word, t),
                    "description": description,
                },
            })
    if not rules:
        raise AnsibleFilterError("anomaly_rules: no usable baseline (every series was inconclusive)")
    return {"groups": [{"name": str(group), "rules": rules}]}


class FilterModule:
    """Anomaly alerting rules."""

    def filters(self):
        return {"anomaly_rules": anomaly_rules}
