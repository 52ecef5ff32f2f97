# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to the lepton.aiops collection. It may change or
# disappear without notice; do not import it from other collections.

"""The per-service signals the automation reads from Prometheus.

:func:`collect` runs a handful of PromQL queries at one instant and folds
them into one plain-JSON record per service (see :func:`assemble`). A
Prometheus that cannot be asked, or that knows nothing about a service,
gives ``ok: false`` with the reason, never zeros.
"""

from __future__ import annotations

import math
import time as _time

from ansible_collections.lepton.aiops.plugins.module_utils._prometheus_api import PrometheusError

# Health and readiness probes are not traffic: their requests are left out of
# the request rate, the error ratio and the latency (a draining replica answers
# its readiness probe with 503, which is not an error of the service).
PROBE_ROUTES = ("/healthz", "/readyz")

# Every query is grouped by service (and replica where it says so).
# %(traffic)s selects the requests of the job that are not probes.
QUERIES = {
    "up": 'max by (service, replica) (up{job="%(job)s"})',
    "ready": 'max by (service, replica) (inference_ready{job="%(job)s"})',
    # a replica that has answered only probes serves 0 requests/s (not "no samples")
    "requests": ('sum by (service, replica) (rate(inference_requests_total{%(traffic)s}[%(window)s])) '
                 'or sum by (service, replica) (rate(inference_requests_total{job="%(job)s"}[%(window)s])) * 0'),
    "errors": 'sum by (service) (rate(inference_requests_total{%(traffic)s, code=~"5.."}[%(window)s]))',
    "p95": ('histogram_quantile(0.95, sum by (service, le) '
            '(rate(inference_request_duration_seconds_bucket{%(traffic)s}[%(window)s])))'),
    "cpu": 'sum by (service, replica) (rate(process_cpu_seconds_total{job="%(job)s"}[%(window)s]))',
    "memory": 'max by (service, replica) (process_resident_memory_bytes{job="%(job)s"})',
}


def traffic_selector(job, probe_routes=PROBE_ROUTES):
    """The PromQL label matchers of the requests of ``job`` that are not probes.

    >>> traffic_selector("lepton-services")
    'job="lepton-services", route!~"/healthz|/readyz"'
    >>> traffic_selector("web", [])
    'job="web"'
    """
    matchers = 'job="%s"' % job
    if probe_routes:
        matchers += ', route!~"%s"' % "|".join(probe_routes)
    return matchers


def _finite(value):
    return value if value is not None and math.isfinite(value) else None


def _index(series, per_replica):
    """{service: {replica: value}} (per_replica) or {service: value}; NaN/Inf dropped."""
    out = {}
    for s in series:
        labels, value = s["metric"], _finite(s["values"][-1][1]) if s["values"] else None
        service = labels.get("service")
        if service is None or value is None:
            continue
        if per_replica:
            out.setdefault(service, {})[labels.get("replica", labels.get("instance", "?"))] = value
        else:
            out[service] = value
    return out


def no_data(reason, timestamp):
    """The record of a service Prometheus cannot tell anything about: no numbers, not zeros."""
    return {"ok": False, "reason": reason, "timestamp": timestamp, "replicas": None, "ready_replicas": None,
            "ready_replica_names": None, "request_rate": None, "request_rate_per_replica": {},
            "p95_latency_seconds": None, "error_ratio": None, "cpu_per_replica": {}, "memory_per_replica": {}}


def assemble(results, services, timestamp, job):
    """Fold the query results (name -> list of series) into {service: record}.

    ``services`` limits and orders the answer; when empty, every service that
    has a scrape target in ``job`` is reported.
    """
    up = _index(results["up"], True)
    ready = _index(results["ready"], True)
    requests = _index(results["requests"], True)
    errors = _index(results["errors"], False)
    p95 = _index(results["p95"], False)
    cpu = _index(results["cpu"], True)
    memory = _index(results["memory"], True)
    report = {}
    for service in services or sorted(up):
        targets = up.get(service)
        if not targets:
            report[service] = no_data("Prometheus has no scrape target for service %s in job %s" % (service, job),
                                      timestamp)
            continue
        up_replicas = sorted(r for r, v in targets.items() if v >= 1)
        ready_replicas = [r for r in up_replicas if ready.get(service, {}).get(r, 1) >= 1]
        rates = {r: v for r, v in requests.get(service, {}).items() if r in targets}
        total = sum(rates.values()) if rates else None
        record = no_data(None, timestamp)
        record.update(
            ok=True, replicas=len(targets), ready_replicas=len(ready_replicas), ready_replica_names=ready_replicas,
            request_rate=total, request_rate_per_replica=rates,
            p95_latency_seconds=p95.get(service),
            error_ratio=(errors.get(service, 0.0) / total) if total else None,
            cpu_per_replica=cpu.get(service, {}), memory_per_replica=memory.get(service, {}))
        if not up_replicas:
            record.update(ok=False, reason="every replica of %s is down (%d scrape targets)" % (service, len(targets)))
        elif total is None:
            record.update(ok=False, reason="no samples of inference_requests_total for %s yet" % service)
        report[service] = record
    return report


def collect(client, services=None, job="lepton-services", window="1m", now=None, probe_routes=PROBE_ROUTES):
    """Query ``client`` (a PrometheusClient) at one instant.

    Requests to ``probe_routes`` (RE2 patterns of the ``route`` label) are
    not counted (see :data:`PROBE_ROUTES`).

    Returns ``(records, reason, timestamp)``: {service: record}, why Prometheus
    could not be asked (or None), and the evaluation instant.
    """
    timestamp = float(now if now is not None else _time.time())
    try:
        values = {"job": job, "window": window, "traffic": traffic_selector(job, probe_routes)}
        results = {name: client.query(q % values, time=timestamp)
                   for name, q in QUERIES.items()}
    except PrometheusError as exc:
        return {service: no_data(str(exc), timestamp) for service in services or []}, str(exc), timestamp
    return assemble(results, services or [], timestamp, job), None, timestamp
