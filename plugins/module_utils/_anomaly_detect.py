# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to the lepton.aiops collection. It may change or
# disappear without notice; do not import it from other collections.
"""Glue of the anomaly_detect module: load series, run a detector, shape the result.

Plain data in, plain JSON out; the numeric work is in ``_anomaly``.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime, timezone

try:
    import numpy as np
    from scipy.special import ndtr, ndtri
    from ansible_collections.lepton.aiops.plugins.module_utils._anomaly import gaussian, novelty, online, seasonal
    HAS_NUMERIC = True
    NUMERIC_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_NUMERIC = False
    NUMERIC_ERROR = exc

FITTED = ("gaussian", "robust", "seasonal")
ONLINE = ("ewma", "rolling_zscore", "novelty")
DETECTORS = FITTED + ONLINE
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class AnomalyError(Exception):
    """Invalid input the module reports with fail_json."""


class Inconclusive(Exception):
    """No usable data: reported as inconclusive with the reason, never as healthy."""


def duration(value):
    """Seconds from a number or a Prometheus-style duration (30s, 5m, 1h30m, 1d, 1w)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text)
    if not parts or "".join(a + b for a, b in parts) != text:
        raise AnomalyError("%r is not a duration such as 90, 30s, 5m, 1h or 1d." % (value,))
    return sum(float(a) * _UNITS[b] for a, b in parts)


def timestamp(value):
    """Unix seconds from a number or an ISO 8601 / RFC 3339 string (UTC if no zone)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AnomalyError("%r is neither Unix seconds nor an ISO 8601 time." % (value,))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def series_name(labels):
    """A readable name for a label set, PromQL style."""
    if not labels:
        return "{}"
    name = labels.get("__name__", "")
    rest = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()) if k != "__name__")
    return "%s{%s}" % (name, rest) if rest or not name else name


def from_inline(series):
    """``{name: [[ts, value], ...] or [value, ...]}`` to a list of series dicts."""
    if not isinstance(series, dict) or not series:
        raise Inconclusive("no series were given")
    out = []
    for name, points in series.items():
        ts, vs = [], []
        for i, p in enumerate(points or []):
            if isinstance(p, (list, tuple)):
                if len(p) != 2:
                    raise AnomalyError("series %s point %d must be [timestamp, value], got %r." % (name, i, p))
                ts.append(timestamp(p[0]))
                vs.append(_value(p[1], name, i))
            else:
                ts.append(float(i))
                vs.append(_value(p, name, i))
        out.append({"name": str(name), "labels": {}, "timestamps": ts, "values": vs})
    return out


def _value(v, name, i):
    if v is None:
        return float("nan")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise AnomalyError("series %s point %d has the non-numeric value %r." % (name, i, v))


def prometheus_window(start=None, end=None, lookback="1h", step=None, now=None):
    """(start, end, step) in seconds; step defaults to lookback/600, at least 1 s, at most 11000 points."""
    end_s = timestamp(end) if end is not None else (now if now is not None else time.time())
    start_s = timestamp(start) if start is not None else end_s - duration(lookback)
    if start_s >= end_s:
        raise AnomalyError("start must be before end.")
    step_s = duration(step) if step is not None else max(1.0, (end_s - start_s) / 600.0)
    step_s = max(step_s, (end_s - start_s) / 11000.0)
    return start_s, end_s, step_s


def from_prometheus(client, query, start, end, step, error_type):
    """Run a range query; each label set becomes one series. Errors become Inconclusive."""
    try:
        result = client.query_range(query, start, end, step)
    except error_type as exc:
        raise Inconclusive(str(exc))
    out = []
    for s in result:
        vals = s.get("values") or []
        out.append({"name": series_name(s.get("metric") or {}), "labels": dict(s.get("metric") or {}),
                    "timestamps": [float(p[0]) for p in vals], "values": [float(p[1]) for p in vals]})
    if not out or not any(s["values"] for s in out):
        raise Inconclusive("Prometheus returned no data for %s between %s and %s" % (
            query, _iso(start), _iso(end)))
    return out


def _iso(ts):
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finite(x):
    """JSON-safe float: inf/nan become None."""
    x = float(x)
    return x if math.isfinite(x) else None


def _warm(detector, d, xs, opts):
    """Raise ValueError when ``xs`` has no usable point after the online detector ``d`` warmed up.

    An online detector scores 0 while it warms up: that is no evidence of
    health, so a series that never gets past it is inconclusive, not normal.
    """
    need = d.warmup_points_
    if math.isinf(need):
        raise ValueError("%s never warms up with window=%d: the window is shorter than its warm-up; use a larger "
                         "window" % (detector, opts["window"]))
    usable = int(np.count_nonzero(~np.isnan(xs)))
    if usable <= need:
        raise ValueError("%d usable point(s), but %s learns from the first %d before it scores one: at least %d "
                         "are needed" % (usable, detector, need, need + 1))
    return int(need)


def _scores(detector, ts, xs, nb, opts):
    """(score, z-equivalent, z_alpha, band or None, model dict) for every point."""
    alpha, two = opts["alpha"], opts["two_sided"]
    if detector in ("gaussian", "robust"):
        cls = gaussian.GaussianModel if detector == "gaussian" else gaussian.RobustModel
        m = cls(alpha=alpha, two_sided=two, min_samples=opts["min_baseline"], sigma_floor=opts["sigma_floor"]).fit(xs[:nb])
        s = m.score(xs)
        lower = m.lower_threshold_ if two else None
        band = (np.full(xs.size, np.nan if lower is None else lower), np.full(xs.size, m.threshold_))
        return s, s, m.z_alpha_, band, {"mu": m.mu_, "sigma": m.sigma_, "threshold": m.threshold_,
                                        "lower_threshold": lower, "baseline_points": m.n_}
    if detector == "seasonal":
        m = seasonal.SeasonalBaseline(period=opts["period"], slots=opts["slots"], alpha=alpha, two_sided=two,
                                      sigma_floor=opts["sigma_floor"]).fit(ts[:nb], xs[:nb])
        s = m.score(ts, xs)
        lo, hi = m.thresholds(ts)
        return s, s, m.z_alpha_, (lo if two else np.full(xs.size, np.nan), hi), {
            "period": float(opts["period"]), "slots": int(opts["slots"]),
            "mu": [float(v) for v in m.mu_], "sigma": [float(v) for v in m.sigma_]}
    if detector in ("ewma", "rolling_zscore"):
        d = (online.EwmaDetector(halflife=opts["halflife"], alpha=alpha, two_sided=True) if detector == "ewma"
             else online.RollingZScore(window=opts["window"], alpha=alpha, two_sided=True))
        need = _warm(detector, d, xs, opts)
        s = d.score(xs)
        return s, s, d.z_alpha_, None, {"warmup_points": need}
    d = novelty.NoveltyDetector(window=opts["window"], suppress=opts["suppress"], alpha=alpha)
    need = _warm(detector, d, xs, opts)
    s, raw = np.empty(xs.size), np.empty(xs.size)
    for i, x in enumerate(xs.tolist()):
        s[i] = d.score_one(x)
        raw[i] = 1.0 - 10.0 ** -d.last_surprise_  # before suppression: still high during an incident
    with np.errstate(divide="ignore"):
        z = ndtri(np.clip(raw, 0.0, 1.0))
    return s, z, float(ndtri(alpha)), None, {"warmup_points": need}


def analyse_one(series, detector, opts):
    """Detect anomalies in one series; returns the result dict and per-point arrays for the report."""
    ts = np.asarray(series["timestamps"], dtype=np.float64)
    xs = np.asarray(series["values"], dtype=np.float64)
    order = np.argsort(ts, kind="stable")
    ts, xs = ts[order], xs[order]
    n = int(xs.size)
    nb = int(math.floor(n * opts["baseline_ratio"]))
    res = {"name": series["name"], "labels": series["labels"], "points": n, "baseline_points": nb,
           "anomalies": [], "anomalous_now": False, "inconclusive": False, "reason": None,
           "probability_within": None, "last": None, "baseline": {}}
    if n == 0 or nb >= n or np.all(np.isnan(xs[nb:])):
        res.update(inconclusive=True, reason="no points to evaluate after the baseline (%d points in all)" % n)
        return res, None
    try:
        score, z, z_alpha, band, model = _scores(detector, ts, xs, nb, opts)
    except ValueError as exc:
        res.update(inconclusive=True, reason=str(exc))
        return res, None
    with np.errstate(invalid="ignore"):
        flags = (score >= opts["alpha"]) if detector == "novelty" else (score > z_alpha)
    flags[:nb] = False
    res["baseline"] = {k: (_finite(v) if isinstance(v, float) else v) for k, v in model.items()}
    idx = np.flatnonzero(flags)
    res["anomaly_count"] = int(idx.size)
    res["anomalies"] = [{"timestamp": float(ts[i]), "value": _finite(xs[i]), "score": _finite(score[i])}
                        for i in idx[-int(opts["max_anomalies"]):]]
    valid = np.flatnonzero(~np.isnan(xs))
    valid = valid[valid >= nb]
    last = int(valid[-1])
    recent = valid[-int(opts["recent_points"]):]
    now = flags | (z >= z_alpha) if detector == "novelty" else flags  # novelty: unsuppressed for "now"
    res["anomalous_now"] = bool(now[recent].any())
    res["last"] = {"timestamp": float(ts[last]), "value": _finite(xs[last]), "score": _finite(score[last])}
    zl = float(z[last])
    if detector in ("gaussian", "robust", "seasonal") and opts["two_sided"]:
        p = float(ndtr(z_alpha - abs(zl)) - ndtr(-z_alpha - abs(zl))) if math.isfinite(zl) else 0.0
    else:
        p = float(ndtr(z_alpha - zl)) if not math.isnan(zl) else float("nan")
    res["probability_within"] = _finite(p)
    warming = 0
    if "warmup_points" in model:  # online: points scored 0 only because the detector was still learning
        usable = ~np.isnan(xs)
        warming = int(np.count_nonzero(usable[nb:] & (np.cumsum(usable)[nb:] <= model["warmup_points"])))
    res["summary"] = "%s: %s, %d anomalous point(s) in %d evaluated%s" % (
        res["name"], "ANOMALOUS NOW" if res["anomalous_now"] else "normal now", idx.size, n - nb,
        " (the first %d while %s warmed up)" % (warming, detector) if warming else "")
    arrays = {"t": ts, "x": xs, "flags": flags, "band": band, "nb": nb}
    return res, arrays


def analyse(series_list, detector, opts):
    """Run ``detector`` over every series; return the module result (without ``changed``)."""
    if detector not in DETECTORS:
        raise AnomalyError("detector must be one of %s." % ", ".join(DETECTORS))
    results, arrays = [], []
    for s in series_list:
        r, a = analyse_one(s, detector, opts)
        results.append(r)
        arrays.append(a)
    usable = [r for r in results if not r["inconclusive"]]
    probs = [r["probability_within"] for r in usable if r["probability_within"] is not None]
    system_p = float(np.prod(probs)) if probs else None
    system = {"probability": system_p, "level": opts["system_level"],
              "expected_probability": float(opts["alpha"] ** len(probs)) if probs else None,
              "anomalous": bool(system_p is not None and system_p < opts["system_level"]),
              "services": len(probs)}
    now = [r["name"] for r in usable if r["anomalous_now"]]
    out = {"series": results, "system": system, "detector": detector}
    if not usable:
        reasons = "; ".join("%s: %s" % (r["name"], r["reason"]) for r in results)
        out.update(anomalous=False, inconclusive=True, status="inconclusive",
                   reason="no series could be evaluated (%s)" % reasons,
                   summary="inconclusive: no series could be evaluated")
        return out, arrays
    anomalous = bool(now) or system["anomalous"]
    skipped = [r["name"] for r in results if r["inconclusive"]]
    out.update(anomalous=anomalous, inconclusive=False, status="anomalous" if anomalous else "normal",
               reason=None,
               summary="%s: %d of %d series anomalous now%s; system probability %.3g (alert below %.3g)%s" % (
                   "ANOMALOUS" if anomalous else "normal", len(now), len(usable),
                   " (%s)" % ", ".join(now[:5]) if now else "", system_p, opts["system_level"],
                   "; %d series inconclusive (%s)" % (len(skipped), ", ".join(skipped[:5])) if skipped else ""))
    return out, arrays


def inconclusive(reason, detector, level=None):
    """The module result when there is no data at all (``level``: the system level asked for)."""
    return {"anomalous": False, "inconclusive": True, "status": "inconclusive", "reason": reason,
            "summary": "inconclusive: %s" % reason, "series": [], "detector": detector,
            "system": {"probability": None, "level": level, "expected_probability": None,
                       "anomalous": False, "services": 0}}
