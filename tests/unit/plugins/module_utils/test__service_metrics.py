# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_metrics_info's logic: from query results to per-service records."""

from __future__ import annotations

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._prometheus_api import PrometheusError
from ansible_collections.lepton.aiops.plugins.module_utils._service_metrics import PROBE_ROUTES, QUERIES, collect, traffic_selector

T = 1764240000.0


def s(value, **labels):
    return {"metric": labels, "values": [[T, float(value)]]}


HEALTHY = {
    "up": [s(1, service="demo", replica="demo-1"), s(1, service="demo", replica="demo-2"),
           s(0, service="demo", replica="demo-3")],
    "ready": [s(1, service="demo", replica="demo-1"), s(0, service="demo", replica="demo-2")],
    "requests": [s(3, service="demo", replica="demo-1"), s(1, service="demo", replica="demo-2")],
    "errors": [s(1, service="demo")],
    "p95": [s(0.25, service="demo")],
    "cpu": [s(0.5, service="demo", replica="demo-1"), s(0.1, service="demo", replica="demo-2")],
    "memory": [s(3e7, service="demo", replica="demo-1"), s(2e7, service="demo", replica="demo-2")],
}


class FakeClient:
    """Answers each query with the canned series of the QUERIES entry it matches."""

    def __init__(self, answers=None, error=None, job="lepton-services", window="1m", probe_routes=PROBE_ROUTES):
        self.answers, self.error, self.asked = answers or {}, error, []
        values = {"job": job, "window": window, "traffic": traffic_selector(job, probe_routes)}
        self.names = {q % values: n for n, q in QUERIES.items()}

    def query(self, promql, time=None):
        self.asked.append((promql, time))
        if self.error:
            raise PrometheusError(self.error)
        return self.answers.get(self.names[promql], [])


def test_healthy_service_record():
    client = FakeClient(HEALTHY)
    records, reason, stamp = collect(client, ["demo"], now=T)
    assert reason is None and stamp == T
    assert records["demo"] == {
        "ok": True, "reason": None, "timestamp": T, "replicas": 3, "ready_replicas": 1,
        "ready_replica_names": ["demo-1"],
        "request_rate": 4.0, "request_rate_per_replica": {"demo-1": 3.0, "demo-2": 1.0},
        "p95_latency_seconds": 0.25, "error_ratio": 0.25,
        "cpu_per_replica": {"demo-1": 0.5, "demo-2": 0.1},
        "memory_per_replica": {"demo-1": 3e7, "demo-2": 2e7}}
    # Every query is evaluated at the same instant.
    assert {when for promql, when in client.asked} == {T}


def test_without_service_list_every_scraped_service_is_reported():
    answers = dict(HEALTHY, up=HEALTHY["up"] + [s(1, service="other", replica="other-1")])
    records = collect(FakeClient(answers), now=T)[0]
    assert sorted(records) == ["demo", "other"]
    assert records["other"]["ok"] is False and "no samples" in records["other"]["reason"]


@pytest.mark.parametrize("answers,reason", [
    ({}, "no scrape target for service demo"),
    ({"up": [s(0, service="demo", replica="demo-1")]}, "every replica of demo is down"),
    ({"up": [s(1, service="demo", replica="demo-1")]}, "no samples of inference_requests_total"),
])
def test_missing_data_is_not_zero(answers, reason):
    records, prom_reason = collect(FakeClient(answers), ["demo"], now=T)[:2]
    record = records["demo"]
    assert prom_reason is None
    assert record["ok"] is False and reason in record["reason"]
    assert record["request_rate"] is None and record["error_ratio"] is None
    assert record["p95_latency_seconds"] is None


def test_no_traffic_gives_null_ratio_and_latency():
    answers = dict(HEALTHY, requests=[s(0, service="demo", replica="demo-1")], errors=[],
                   p95=[s(float("nan"), service="demo")])
    record = collect(FakeClient(answers), ["demo"], now=T)[0]["demo"]
    assert record["ok"] is True and record["request_rate"] == 0.0
    assert record["error_ratio"] is None and record["p95_latency_seconds"] is None


def test_unreachable_prometheus_gives_no_data_with_reason():
    records, reason = collect(FakeClient(error="Prometheus at x is unreachable: refused"), ["demo", "b"], now=T)[:2]
    assert reason == "Prometheus at x is unreachable: refused"
    assert [r["ok"] for r in records.values()] == [False, False]
    assert records["demo"]["reason"] == reason
    assert records["demo"]["replicas"] is None and records["demo"]["ready_replicas"] is None
    assert records["demo"]["ready_replica_names"] is None
    assert records["demo"]["request_rate"] is None


def test_window_and_job_reach_the_queries():
    client = FakeClient(HEALTHY, job="custom", window="30s")
    records = collect(client, ["demo"], job="custom", window="30s", now=T)[0]
    assert records["demo"]["request_rate"] == 4.0
    assert all('job="custom"' in promql for promql, when in client.asked)
    assert sum("[30s]" in promql for promql, when in client.asked) == 4


def test_probes_are_not_traffic():
    """Requests, errors and latency leave the probe routes out; up, readiness, CPU and memory need not."""
    client = FakeClient(HEALTHY)
    collect(client, ["demo"], now=T)
    probes_out = [promql for promql, when in client.asked if 'route!~"/healthz|/readyz"' in promql]
    assert len(probes_out) == 3
    assert all("inference_request" in promql for promql in probes_out)


@pytest.mark.parametrize("routes, matcher", [([], None), (["/ping", "/status/.*"], 'route!~"/ping|/status/.*"')])
def test_probe_routes_reach_the_queries(routes, matcher):
    client = FakeClient(HEALTHY, probe_routes=routes)
    assert collect(client, ["demo"], now=T, probe_routes=routes)[0]["demo"]["request_rate"] == 4.0
    if matcher is None:
        assert not any("route" in promql for promql, when in client.asked)
    else:
        assert sum(matcher in promql for promql, when in client.asked) == 3
