# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load balancer roles document every public variable, and only those."""
from __future__ import annotations

import pathlib

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"


@pytest.mark.parametrize("role", ["nginx_lb", "haproxy_lb"])
def test_argument_specs_document_exactly_the_defaults(role):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(options) == set(defaults)
    for name, spec in options.items():
        assert spec.get("description") and spec.get("type"), name


def test_both_roles_have_the_same_shape():
    names = {}
    for role in ("nginx_lb", "haproxy_lb"):
        defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
        names[role] = {key[len(role) + 1:] for key in defaults}
    shared = {"runtime", "name", "listeners", "upstreams", "timeouts", "retries", "passive_checks",
              "tls_certificate", "tls_key", "tls_client_ca", "access_log", "status_enabled", "status_allow",
              "status_user", "status_password"}
    assert shared <= names["nginx_lb"] & names["haproxy_lb"]
