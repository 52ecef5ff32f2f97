# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to the lepton.aiops collection. It may change or
# disappear without notice; do not import it from other collections.

"""A small Prometheus HTTP API client.

Only the standard library and ``ansible.module_utils.urls.open_url`` are used,
so it runs on managed hosts without ``requests``. Every failure (unreachable,
timeout, HTTP error, API error status, undecodable JSON) is raised as one
:class:`PrometheusError` whose message says what went wrong in words.

Results are normalised to one shape for instant and range queries::

    [{"metric": {"job": "svc", ...}, "values": [[1700000000.0, 1.5], ...]}]

An instant query yields exactly one ``[timestamp, value]`` pair per series.
"""

from __future__ import annotations

import json
import socket
import ssl
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url


class PrometheusError(Exception):
    """Anything that prevents a Prometheus API answer from being used."""


def _number(value):
    """Prometheus sends sample values as strings ("1.5", "NaN", "+Inf")."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise PrometheusError("Prometheus returned a non-numeric sample value %r" % (value,))


def _pair(sample):
    if not isinstance(sample, (list, tuple)) or len(sample) != 2:
        raise PrometheusError("Prometheus returned a malformed sample %r" % (sample,))
    return [_number(sample[0]), _number(sample[1])]


def normalise(data):
    """Turn the ``data`` member of an API answer into the list-of-series shape."""
    if not isinstance(data, dict) or "resultType" not in data:
        raise PrometheusError("Prometheus answer has no resultType")
    kind, result = data["resultType"], data.get("result")
    if kind == "scalar":
        return [{"metric": {}, "values": [_pair(result)]}]
    if kind == "vector":
        return [{"metric": dict(s.get("metric") or {}), "values": [_pair(s.get("value"))]}
                for s in result or []]
    if kind == "matrix":
        return [{"metric": dict(s.get("metric") or {}),
                 "values": [_pair(v) for v in s.get("values") or []]}
                for s in result or []]
    raise PrometheusError("Prometheus returned a %s result, which is not a number series" % kind)


PROMETHEUS_ARGUMENT_SPEC = dict(
    url=dict(type="str", default="http://127.0.0.1:9090"),
    timeout=dict(type="float", default=10),
    validate_certs=dict(type="bool", default=True),
    ca_path=dict(type="path"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    username=dict(type="str"),
    password=dict(type="str", no_log=True),
)


def client_from_params(params):
    """A PrometheusClient from module parameters of PROMETHEUS_ARGUMENT_SPEC."""
    return PrometheusClient(params["url"], **dict((k, params[k]) for k in PROMETHEUS_ARGUMENT_SPEC if k != "url"))


class PrometheusClient:
    """Query a Prometheus server over its HTTP API (``/api/v1``).

    >>> client = PrometheusClient("http://127.0.0.1:9090", timeout=5)
    >>> client.base_url
    'http://127.0.0.1:9090'
    """

    def __init__(self, url, timeout=10, validate_certs=True, ca_path=None,
                 client_cert=None, client_key=None, username=None, password=None):
        self.base_url = url.rstrip("/")
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.username = username
        self.password = password

    # -- transport -------------------------------------------------------

    def _request(self, path, params=None, method="POST"):
        """Send ``params`` to ``path`` (form body or query string); return the JSON body."""
        url = self.base_url + path
        body = urlencode(params or {})
        if method == "GET":
            url, body = (url + "?" + body if body else url), None
        try:
            response = open_url(
                url, data=body, method=method,
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Accept": "application/json"},
                timeout=self.timeout, validate_certs=self.validate_certs,
                ca_path=self.ca_path, client_cert=self.client_cert,
                client_key=self.client_key, url_username=self.username,
                url_password=self.password, force_basic_auth=self.username is not None,
                follow_redirects="safe")
            raw = response.read()
        except HTTPError as exc:
            raise PrometheusError(self._http_reason(url, exc))
        except (socket.timeout, TimeoutError):
            raise PrometheusError("Prometheus at %s did not answer within %ss" % (url, self.timeout))
        except URLError as exc:
            reason = exc.reason
            if isinstance(reason, (socket.timeout, TimeoutError)):
                raise PrometheusError("Prometheus at %s did not answer within %ss" % (url, self.timeout))
            raise PrometheusError("Prometheus at %s is unreachable: %s" % (url, reason))
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise PrometheusError("TLS to Prometheus at %s failed: %s" % (url, exc))
        except (ConnectionError, OSError) as exc:
            raise PrometheusError("Prometheus at %s is unreachable: %s" % (url, exc))
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise PrometheusError("Prometheus at %s returned a body that is not JSON: %s" % (url, exc))

    @staticmethod
    def _http_reason(url, exc):
        detail = ""
        try:
            answer = json.loads(exc.read() or b"{}")
            if isinstance(answer, dict) and answer.get("error"):
                detail = ": %s (%s)" % (answer["error"], answer.get("errorType", "error"))
        except (ValueError, OSError, AttributeError):
            pass
        return "Prometheus at %s answered HTTP %s %s%s" % (url, exc.code, exc.reason, detail)

    def _api(self, path, params, method="POST"):
        answer = self._request(path, params, method)
        if not isinstance(answer, dict):
            raise PrometheusError("Prometheus answer is not a JSON object")
        if answer.get("status") != "success":
            raise PrometheusError("Prometheus API error: %s (%s)" % (
                answer.get("error", "no reason given"), answer.get("errorType", "error")))
        return answer.get("data")

    # -- queries ---------------------------------------------------------

    def query(self, promql, time=None):
        """Evaluate ``promql`` at ``time`` (epoch seconds, default: now)."""
        params = {"query": promql}
        if time is not None:
            params["time"] = repr(float(time))
        return normalise(self._api("/api/v1/query", params))

    def query_range(self, promql, start, end, step):
        """Evaluate ``promql`` from ``start`` to ``end`` every ``step`` seconds."""
        params = {"query": promql, "start": repr(float(start)), "end": repr(float(end)),
                  "step": repr(float(step))}
        return normalise(self._api("/api/v1/query_range", params))

    def targets(self, state="active"):
        """Return the scrape targets (``/api/v1/targets``) in ``state``."""
        data = self._api("/api/v1/targets", {"state": state}, method="GET")
        return (data or {}).get("%sTargets" % state, [])
