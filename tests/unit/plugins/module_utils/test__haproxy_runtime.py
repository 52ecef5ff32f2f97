# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import doctest
import os
import socketserver
import tempfile
import threading

import pytest

from ansible_collections.lepton.aiops.plugins.module_utils import _haproxy_runtime as rt

STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight
3 inference 1 svc-0 127.0.0.1 2 0 1 1
3 inference 2 svc-1 127.0.0.1 0 1 5 1
3 inference 3 svc-2 127.0.0.1 2 8 1 1
"""


def test_doctests():
    assert doctest.testmod(rt).failed == 0


def test_view_reads_state_weight_and_health():
    views = [rt.view(s) for s in rt.parse_servers_state(STATE)]
    assert [(v["name"], v["state"], v["weight"], v["operational"]) for v in views] == [
        ("svc-0", "ready", 1, "up"), ("svc-1", "maint", 5, "down"), ("svc-2", "drain", 1, "up")]


@pytest.mark.parametrize("state, weight, commands", [
    (None, None, []),
    ("ready", 1, []),
    ("drain", None, ["set server inference/svc-0 state drain"]),
    (None, 10, ["set server inference/svc-0 weight 10"]),
    ("maint", 0, ["set server inference/svc-0 weight 0", "set server inference/svc-0 state maint"]),
])
def test_compare_sends_only_what_changes(state, weight, commands):
    before = rt.view(rt.parse_servers_state(STATE)[0])
    assert rt.compare(before, rt.desired_state(before, state, weight)) == commands


@pytest.mark.parametrize("state, weight", [("gone", None), (None, 257), (None, -1)])
def test_desired_state_rejects_bad_values(state, weight):
    with pytest.raises(ValueError):
        rt.desired_state({"state": "ready", "weight": 1}, state, weight)


class FakeHandler(socketserver.StreamRequestHandler):
    """Answers the runtime API commands the client sends, like HAProxy does."""

    def handle(self):
        fake = self.server
        line = self.rfile.readline().decode().strip()
        fake.sent.append(line)
        if line == "show servers state inference":
            out = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n"
            out += "3 inference 1 svc-0 127.0.0.1 2 %d 1\n" % fake.admin
        elif line.startswith("show servers state"):
            out = "Can't find backend.\n"
        elif line == "set server inference/svc-0 state drain":
            fake.admin = rt.ADMIN_FDRAIN
            out = ""
        elif line == "show stat":
            out = "# pxname,svname,scur\ninference,svc-0,0\n"
        else:
            out = "Unknown command.\n"
        self.wfile.write(out.encode())


class FakeHAProxy(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A unix socket server standing in for HAProxy's admin socket."""

    daemon_threads = True

    def __init__(self, path):
        self.sent = []
        self.admin = 0
        super().__init__(path, FakeHandler)


@pytest.fixture(name="fake")
def fixture_fake():
    path = os.path.join(tempfile.mkdtemp(), "admin.sock")
    server = FakeHAProxy(path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, rt.HAProxyRuntime(path, timeout=2)
    server.shutdown()
    server.server_close()


def test_client_reads_changes_and_waits_for_drain(fake):
    server, api = fake
    before = api.server("inference", "svc-0")
    assert before["state"] == "ready"
    api.apply(rt.compare(before, rt.desired_state(before, "drain")))
    assert api.server("inference", "svc-0")["state"] == "drain"
    assert api.wait_drained("inference", "svc-0", 1) == 0
    assert "set server inference/svc-0 state drain" in server.sent


def test_client_reports_unknown_backend_server_and_refusals(fake):
    api = fake[1]
    with pytest.raises(rt.HAProxyError, match="backend 'web' not found"):
        api.server("web", "svc-0")
    with pytest.raises(rt.HAProxyError, match="server 'svc-9' not found"):
        api.server("inference", "svc-9")
    with pytest.raises(rt.HAProxyError, match="refused"):
        api.apply(["set server inference/svc-0 state bogus"])


def test_client_reports_an_unreachable_socket():
    with pytest.raises(rt.HAProxyError, match="cannot connect"):
        rt.HAProxyRuntime("/nonexistent/admin.sock").server("inference", "svc-0")
    with pytest.raises(rt.HAProxyError, match="neither"):
        rt.HAProxyRuntime("nonsense").server("inference", "svc-0")
