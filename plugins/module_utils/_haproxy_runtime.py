# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# This module_utils is PRIVATE to the lepton.aiops collection. It may change or
# disappear without notice; do not import it from other collections.

"""HAProxy runtime API (stats socket) client and server state logic.

Talks to the admin socket that the haproxy_lb role binds, either a unix
socket path or ``host:port`` for a TCP socket. Reading a server's state and
deciding what to change are pure functions (``parse_servers_state``,
``desired_state``, ``compare``); ``HAProxyRuntime`` does the I/O and raises
one :class:`HAProxyError` for everything that goes wrong.
"""

from __future__ import annotations

import socket
import time

# srv_admin_state bits (src/server.h): forced maintenance, forced drain.
ADMIN_FMAINT = 0x01
ADMIN_FDRAIN = 0x08
OPERATIONAL = {0: "down", 1: "starting", 2: "up", 3: "stopping"}
STATES = ("ready", "drain", "maint")


class HAProxyError(Exception):
    """A runtime API call failed; the message says what and why."""


def parse_servers_state(text):
    """Parse ``show servers state`` output into a list of dicts.

    >>> out = ("1\\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\\n"
    ...        "3 web 1 web-1 127.0.0.1 2 8 5\\n")
    >>> parse_servers_state(out)[0]["admin_state"]
    8
    """
    lines = [line for line in text.splitlines() if line.strip()]
    header = None
    servers = []
    for line in lines:
        if line.startswith("#"):
            header = line.lstrip("# ").split()
            continue
        if header is None:
            continue  # the format version line
        row = dict(zip(header, line.split()))
        servers.append({
            "backend": row.get("be_name"),
            "name": row.get("srv_name"),
            "address": row.get("srv_addr"),
            "op_state": int(row.get("srv_op_state", 0)),
            "admin_state": int(row.get("srv_admin_state", 0)),
            "weight": int(row.get("srv_uweight", 0)),
        })
    return servers


def view(server):
    """The user-facing view of a parsed server: state, weight, operational."""
    admin = server["admin_state"]
    if admin & ADMIN_FMAINT:
        state = "maint"
    elif admin & ADMIN_FDRAIN:
        state = "drain"
    else:
        state = "ready"
    return {"backend": server["backend"], "name": server["name"], "address": server["address"],
            "state": state, "weight": server["weight"],
            "operational": OPERATIONAL.get(server["op_state"], "unknown")}


def desired_state(current, state=None, weight=None):
    """The view ``current`` should have; None leaves a field as it is."""
    if state is not None and state not in STATES:
        raise ValueError("state must be one of %s, got %r" % (", ".join(STATES), state))
    if weight is not None and not 0 <= int(weight) <= 256:
        raise ValueError("weight must be between 0 and 256, got %r" % weight)
    after = dict(current)
    if state is not None:
        after["state"] = state
    if weight is not None:
        after["weight"] = int(weight)
    return after


def compare(before, after):
    """The runtime API commands that turn ``before`` into ``after``."""
    target = "%s/%s" % (before["backend"], before["name"])
    commands = []
    if after["weight"] != before["weight"]:
        commands.append("set server %s weight %d" % (target, after["weight"]))
    if after["state"] != before["state"]:
        commands.append("set server %s state %s" % (target, after["state"]))
    return commands


class HAProxyRuntime(object):
    """A connection-per-command client of the HAProxy runtime API."""

    def __init__(self, address, timeout=5.0):
        self.address = address
        self.timeout = timeout

    def _connect(self):
        if self.address.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            target = self.address
        else:
            host, port = self.address.rpartition(":")[::2]
            if not host or not port.isdigit():
                raise HAProxyError("socket %r is neither a unix socket path nor host:port" % self.address)
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            target = (host.strip("[]"), int(port))
        sock.settimeout(self.timeout)
        try:
            sock.connect(target)
        except (OSError, socket.timeout) as exc:
            sock.close()
            raise HAProxyError("cannot connect to the HAProxy runtime API at %s: %s" % (self.address, exc))
        return sock

    def command(self, line):
        sock = self._connect()
        try:
            sock.sendall(line.encode("ascii") + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except (OSError, socket.timeout) as exc:
            raise HAProxyError("runtime API command %r failed: %s" % (line, exc))
        finally:
            sock.close()
        return b"".join(chunks).decode("utf-8", "replace")

    def server(self, backend, name):
        out = self.command("show servers state %s" % backend)
        if out.startswith("Can't find backend"):
            raise HAProxyError("backend %r not found in HAProxy" % backend)
        for server in parse_servers_state(out):
            if server["name"] == name:
                return view(server)
        raise HAProxyError("server %r not found in backend %r" % (name, backend))

    def apply(self, commands):
        for line in commands:
            out = self.command(line).strip()
            if out:
                raise HAProxyError("HAProxy refused %r: %s" % (line, out))

    def sessions(self, backend, name):
        """Current sessions of a server, from ``show stat``."""
        out = self.command("show stat")
        header = None
        for line in out.splitlines():
            if line.startswith("# "):
                header = line[2:].split(",")
                continue
            row = dict(zip(header or [], line.split(",")))
            if row.get("pxname") == backend and row.get("svname") == name:
                return int(row.get("scur") or 0)
        raise HAProxyError("server %r not found in backend %r" % (name, backend))

    def wait_drained(self, backend, name, timeout, clock=time.monotonic, sleep=time.sleep):
        """Wait until a server has no sessions; return the seconds waited."""
        start = clock()
        while self.sessions(backend, name) > 0:
            if clock() - start >= timeout:
                raise HAProxyError("server %s/%s still has sessions after %.0f s" % (backend, name, timeout))
            sleep(0.2)
        return round(clock() - start, 2)
