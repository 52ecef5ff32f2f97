# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role documents exactly its public variables, each with a description and a type."""
from __future__ import annotations

import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3] / "roles"
ROLES = sorted(p.name for p in ROOT.iterdir() if (p / "defaults" / "main.yml").exists())


def load(role, part):
    path = ROOT / role / part
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {} if path.exists() else {}


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_document_exactly_the_defaults(role):
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(load(role, "defaults/main.yml"))
    for name, spec in options.items():
        assert spec.get("description") and spec.get("type"), name
        assert name.startswith(role + "_"), name


@pytest.mark.parametrize("role", ROLES)
def test_documented_defaults_are_the_real_defaults(role):
    options = load(role, "meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load(role, "defaults/main.yml")
    for name, spec in options.items():
        templated = isinstance(defaults[name], str) and "{{" in defaults[name]
        if "default" in spec and not templated:
            assert spec["default"] == defaults[name], name


@pytest.mark.parametrize("role", ROLES)
def test_internal_variables_are_prefixed(role):
    for name in load(role, "vars/main.yml"):
        assert name.startswith("_" + role + "_"), name
