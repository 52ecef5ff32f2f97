# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PrometheusClient against a tiny local HTTP server that plays Prometheus."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils._prometheus_api import (
    PrometheusClient, PrometheusError)


class FakePrometheus(BaseHTTPRequestHandler):
    """Answers according to ``server.script``: a (status, body, delay) tuple."""

    def _answer(self, params):
        self.server.seen.append({"path": urlparse(self.path).path, "params": params,
                                 "auth": self.headers.get("Authorization"),
                                 "method": self.command})
        status, body, delay = self.server.script
        if delay:
            time.sleep(delay)
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):  # noqa: N802 (http.server naming)
        length = int(self.headers.get("Content-Length") or 0)
        self._answer({k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()})

    def do_GET(self):  # noqa: N802
        self._answer({k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()})

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    httpd.url = "http://127.0.0.1:%d" % httpd.server_address[1]
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def prom(server):
    server.seen = []
    server.script = (200, {"status": "success", "data": {"resultType": "vector", "result": []}}, 0)
    return server


def success(kind, result):
    return {"status": "success", "data": {"resultType": kind, "result": result}}


def test_instant_vector_becomes_one_value_per_series(prom):
    prom.script = (200, success("vector", [
        {"metric": {"job": "demo", "instance": "a"}, "value": [1700000000.5, "1.25"]},
        {"metric": {"job": "demo", "instance": "b"}, "value": [1700000000.5, "NaN"]},
    ]), 0)
    series = PrometheusClient(prom.url).query("up", time=1700000000.5)
    assert series[0] == {"metric": {"job": "demo", "instance": "a"}, "values": [[1700000000.5, 1.25]]}
    assert series[1]["values"][0][1] != series[1]["values"][0][1]  # NaN survives as a float NaN
    assert prom.seen[0]["path"] == "/api/v1/query"
    assert prom.seen[0]["params"] == {"query": "up", "time": "1700000000.5"}


def test_scalar_result_is_a_series_without_labels(prom):
    prom.script = (200, success("scalar", [1700000000, "3"]), 0)
    assert PrometheusClient(prom.url).query("scalar(1+2)") == [{"metric": {}, "values": [[1700000000.0, 3.0]]}]


def test_range_query_returns_every_point(prom):
    prom.script = (200, success("matrix", [
        {"metric": {"job": "demo"}, "values": [[10, "1"], [20, "2"], [30, "+Inf"]]},
    ]), 0)
    series = PrometheusClient(prom.url + "/").query_range("rate(x[1m])", 10, 30, 10)
    assert series == [{"metric": {"job": "demo"}, "values": [[10.0, 1.0], [20.0, 2.0], [30.0, float("inf")]]}]
    assert prom.seen[0]["path"] == "/api/v1/query_range"
    assert prom.seen[0]["params"] == {"query": "rate(x[1m])", "start": "10.0", "end": "30.0", "step": "10.0"}


def test_basic_auth_is_sent_when_a_username_is_given(prom):
    PrometheusClient(prom.url, username="ops", password="s3cret").query("up")
    assert prom.seen[0]["auth"] == "Basic " + base64.b64encode(b"ops:s3cret").decode()


def test_no_auth_header_without_username(prom):
    PrometheusClient(prom.url).query("up")
    assert prom.seen[0]["auth"] is None


def test_targets_uses_get(prom):
    prom.script = (200, {"status": "success", "data": {"activeTargets": [{"health": "up"}]}}, 0)
    assert PrometheusClient(prom.url).targets() == [{"health": "up"}]
    assert prom.seen[0]["method"] == "GET" and prom.seen[0]["params"] == {"state": "active"}


@pytest.mark.parametrize("status,body,reason", [
    (400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"},
     "HTTP 400 Bad Request: parse error at char 3 (bad_data)"),
    (401, b"Unauthorized\n", "HTTP 401 Unauthorized"),
    (503, b"Service Unavailable", "HTTP 503"),
    (200, {"status": "error", "errorType": "timeout", "error": "query timed out"},
     "API error: query timed out (timeout)"),
    (200, b"<html>not prometheus</html>", "not JSON"),
    (200, ["a", "list"], "not a JSON object"),
    (200, {"status": "success", "data": {"resultType": "string", "result": [1, "x"]}}, "string result"),
    (200, {"status": "success", "data": {"resultType": "vector",
                                         "result": [{"metric": {}, "value": [1, "abc"]}]}}, "non-numeric"),
])
def test_failures_raise_prometheus_error_with_reason(prom, status, body, reason):
    prom.script = (status, body, 0)
    with pytest.raises(PrometheusError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        PrometheusClient(prom.url).query("up")


def test_unreachable_server():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens on this port any more
    with pytest.raises(PrometheusError, match="unreachable"):
        PrometheusClient("http://127.0.0.1:%d" % port, timeout=2).query("up")


def test_timeout(prom):
    prom.script = (200, success("vector", []), 1.5)
    started = time.monotonic()
    with pytest.raises(PrometheusError, match="did not answer within 0.3s"):
        PrometheusClient(prom.url, timeout=0.3).query("up")
    assert time.monotonic() - started < 1.4
