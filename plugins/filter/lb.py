# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Filters shared by the nginx_lb and haproxy_lb roles.

``lb_upstreams`` turns the user's upstream definitions (servers from
``service_deploy`` endpoints, an explicit list, or an inventory group) into
one normalised shape that both templates render. ``lb_bcrypt`` hashes a
basic-auth password with a salt derived from a seed, so the hash is stable
between runs and the rendered file only changes when the password does.
"""

from __future__ import annotations

import base64
import hashlib
import re

from ansible.errors import AnsibleFilterError

try:
    import bcrypt
    HAS_BCRYPT = True
except ImportError:
    HAS_BCRYPT = False

_NAME_RE = re.compile(r"[^A-Za-z0-9_.:-]")
_STD_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BCRYPT_B64 = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _server(raw, default_weight, weights, upstream):
    if not isinstance(raw, dict) or not raw.get("address") or not raw.get("port"):
        raise AnsibleFilterError(
            "upstream %r: every server needs an address and a port, got %r" % (upstream, raw))
    port = int(raw["port"])
    name = _NAME_RE.sub("_", str(raw.get("name") or "%s_%s" % (raw["address"], port)))
    weight = int(raw.get("weight", weights.get(name, default_weight)))
    if not 0 <= weight <= 256:
        raise AnsibleFilterError("upstream %r: weight of %s must be 0-256, got %d" % (upstream, name, weight))
    return {"name": name, "address": str(raw["address"]), "port": port,
            "weight": weight, "backup": bool(raw.get("backup", False))}


def _group_servers(upstream, hostvars, groups):
    group = upstream["group"]
    if groups is None or group not in groups:
        raise AnsibleFilterError("upstream %r: inventory group %r not found" % (upstream["name"], group))
    if not upstream.get("port"):
        raise AnsibleFilterError("upstream %r: 'port' is required with 'group'" % upstream["name"])
    servers = []
    for host in groups[group]:
        hv = (hostvars or {}).get(host) or {}
        servers.append({"name": host, "address": hv.get("ansible_host", host), "port": upstream["port"]})
    return servers


def lb_upstreams(upstreams, hostvars=None, groups=None):
    """Return the upstreams with one ``servers`` list each.

    Each upstream takes its servers from ``endpoints`` (service_deploy's return
    value), ``servers`` (explicit) and ``group`` (inventory group, with
    ``port``), in that order, de-duplicated by address and port. ``weights``
    maps server names to weights; ``weight`` is the default weight.
    """
    if not isinstance(upstreams, list):
        raise AnsibleFilterError("lb_upstreams expects a list of upstreams, got %s" % type(upstreams).__name__)
    result = []
    seen_names = set()
    for up in upstreams:
        if not isinstance(up, dict) or not up.get("name"):
            raise AnsibleFilterError("every upstream needs a name, got %r" % (up,))
        name = up["name"]
        if name in seen_names:
            raise AnsibleFilterError("upstream %r is defined twice" % name)
        seen_names.add(name)
        raw = list(up.get("endpoints") or []) + list(up.get("servers") or [])
        if up.get("group"):
            raw += _group_servers(up, hostvars, groups)
        weights = dict(up.get("weights") or {})
        servers, seen = [], set()
        for item in raw:
            srv = _server(item, int(up.get("weight", 1)), weights, name)
            key = (srv["address"], srv["port"])
            if key in seen:
                continue
            seen.add(key)
            servers.append(srv)
        if not servers:
            raise AnsibleFilterError("upstream %r has no servers (endpoints, servers and group are all empty)" % name)
        out = dict(up)
        out.pop("endpoints", None)
        out.pop("group", None)
        out["servers"] = servers
        result.append(out)
    return result


def _bcrypt_salt(seed, rounds):
    digest = hashlib.sha256(str(seed).encode("utf-8")).digest()[:16]
    std = base64.b64encode(digest).decode("ascii").rstrip("=")
    encoded = std.translate(str.maketrans(_STD_B64, _BCRYPT_B64))
    return ("$2b$%02d$%s" % (rounds, encoded)).encode("ascii")


def lb_bcrypt(password, seed, rounds=10):
    """Hash ``password`` with bcrypt, salted from ``seed`` (stable between runs)."""
    if not HAS_BCRYPT:
        raise AnsibleFilterError("lb_bcrypt needs the Python library bcrypt on the controller")
    if not password:
        raise AnsibleFilterError("lb_bcrypt: the password is empty")
    rounds = int(rounds)
    if not 4 <= rounds <= 31:
        raise AnsibleFilterError("lb_bcrypt: rounds must be 4-31, got %d" % rounds)
    return bcrypt.hashpw(str(password).encode("utf-8"), _bcrypt_salt(seed, rounds)).decode("ascii")


class FilterModule(object):
    """Load balancer filters."""

    def filters(self):
        return {"lb_upstreams": lb_upstreams, "lb_bcrypt": lb_bcrypt}
