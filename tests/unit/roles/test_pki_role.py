# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pki role documents exactly the variables it defines, with matching defaults."""

from __future__ import annotations

import pathlib

import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "pki"


def load(part):
    return yaml.safe_load((ROLE / part).read_text())


def test_argument_specs_keys_equal_defaults_keys():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(options) == sorted(load("defaults/main.yml"))


def test_documented_defaults_match_defaults():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = load("defaults/main.yml")
    assert {name: spec.get("default") for name, spec in options.items()} == defaults


def test_every_option_has_a_type_and_description():
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    undocumented = [name for name, spec in options.items() if not spec.get("type") or not spec.get("description")]
    assert undocumented == []
