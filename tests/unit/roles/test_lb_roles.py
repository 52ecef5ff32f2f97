# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two load balancer roles share the shape of their variables.

That every role documents exactly its defaults is checked for all roles in
test_argument_specs.py.
"""
from __future__ import annotations

import pathlib

import yaml

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"


def test_both_roles_have_the_same_shape():
    names = {}
    for role in ("nginx_lb", "haproxy_lb"):
        defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
        names[role] = {key[len(role) + 1:] for key in defaults}
    shared = {"runtime", "name", "listeners", "upstreams", "timeouts", "retries", "passive_checks",
              "tls_certificate", "tls_key", "tls_client_ca", "access_log", "status_enabled", "status_allow",
              "status_user", "status_password"}
    assert shared <= names["nginx_lb"] & names["haproxy_lb"]
