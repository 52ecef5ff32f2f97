# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring roles document every public variable, and only those."""

from __future__ import annotations

import pathlib

import pytest
import yaml

ROLES = pathlib.Path(__file__).resolve().parents[2] / "roles"


@pytest.mark.parametrize("role", ["prometheus", "alertmanager"])
def test_argument_spec_keys_equal_defaults(role):
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    assert set(spec["main"]["options"]) == set(defaults)
    for entry in spec.values():
        for name, option in entry["options"].items():
            assert name in defaults, "%s documents unknown variable %s" % (role, name)
            assert option["default"] == defaults[name], name
            assert option["description"] and option["type"], name
    # Every public variable carries the role prefix; internals are in vars/.
    assert all(name.startswith(role + "_") for name in defaults)
    internal = yaml.safe_load((ROLES / role / "vars" / "main.yml").read_text())
    assert all(name.startswith("_" + role + "_") for name in internal)
