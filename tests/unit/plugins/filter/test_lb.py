# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import crypt  # pylint: disable=deprecated-module

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.lepton.aiops.plugins.filter.lb import lb_bcrypt, lb_upstreams

EP = [{"name": "svc-0", "address": "127.0.0.1", "port": 18601, "version": "1.0", "slot": 0, "container_id": "ab"},
      {"name": "svc-1", "address": "127.0.0.1", "port": 18602, "version": "1.0", "slot": 1, "container_id": "cd"}]


@pytest.mark.parametrize("upstream, expected", [
    ({"name": "u", "endpoints": EP},
     [("svc-0", "127.0.0.1", 18601, 1, False), ("svc-1", "127.0.0.1", 18602, 1, False)]),
    ({"name": "u", "endpoints": EP, "weights": {"svc-1": 9}, "weight": 3},
     [("svc-0", "127.0.0.1", 18601, 3, False), ("svc-1", "127.0.0.1", 18602, 9, False)]),
    ({"name": "u", "servers": [{"address": "10.0.0.1", "port": 80, "backup": True}]},
     [("10.0.0.1_80", "10.0.0.1", 80, 1, True)]),
    ({"name": "u", "endpoints": EP[:1], "servers": [{"address": "127.0.0.1", "port": 18601, "name": "dup"}]},
     [("svc-0", "127.0.0.1", 18601, 1, False)]),
    ({"name": "u", "servers": [{"name": "a b/c", "address": "h", "port": "81", "weight": 0}]},
     [("a_b_c", "h", 81, 0, False)]),
])
def test_lb_upstreams_normalises_servers(upstream, expected):
    (out,) = lb_upstreams([upstream])
    assert [(s["name"], s["address"], s["port"], s["weight"], s["backup"]) for s in out["servers"]] == expected
    assert "endpoints" not in out


def test_lb_upstreams_reads_an_inventory_group():
    hostvars = {"web1": {"ansible_host": "192.0.2.10"}, "web2": {}}
    (out,) = lb_upstreams([{"name": "u", "group": "web", "port": 8000}], hostvars, {"web": ["web1", "web2"]})
    assert [(s["name"], s["address"], s["port"]) for s in out["servers"]] == [
        ("web1", "192.0.2.10", 8000), ("web2", "web2", 8000)]


@pytest.mark.parametrize("upstreams, message", [
    ([{"name": "u"}], "has no servers"),
    ([{"name": "u", "servers": [{"address": "h"}]}], "needs an address and a port"),
    ([{"name": "u", "servers": [{"address": "h", "port": 1, "weight": 300}]}], "must be 0-256"),
    ([{"name": "u", "group": "nope", "port": 1}], "inventory group 'nope' not found"),
    ([{"name": "u", "endpoints": EP}, {"name": "u", "endpoints": EP}], "defined twice"),
    ("u", "expects a list"),
])
def test_lb_upstreams_rejects_bad_input(upstreams, message):
    with pytest.raises(AnsibleFilterError, match=message):
        lb_upstreams(upstreams, {}, {})


def test_lb_bcrypt_is_stable_and_verifies_with_the_system_crypt():
    first = lb_bcrypt("s3cret", "host-lb")
    assert first == lb_bcrypt("s3cret", "host-lb")
    assert first.startswith("$2b$10$")
    assert crypt.crypt("s3cret", first) == first
    assert crypt.crypt("wrong", first) != first
    assert lb_bcrypt("s3cret", "other-host") != first
    assert lb_bcrypt("other", "host-lb") != first


def test_lb_bcrypt_rejects_an_empty_password():
    with pytest.raises(AnsibleFilterError, match="empty"):
        lb_bcrypt("", "seed")
