# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alert and recording rules of the prometheus role, rendered with the
role's defaults (plus tests/unit/rules/vars.yml), must pass `promtool check
rules`, and every rules file must have `promtool test rules` unit tests
(tests/unit/rules/<file>.test.yml) that pass."""

from __future__ import annotations

import pathlib
import shutil
import subprocess

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "prometheus"
RULES = ROOT / "tests" / "unit" / "rules"
TEMPLATES = sorted((ROLE / "templates" / "rules").glob("*.yml.j2"))
PROMTOOL = shutil.which("promtool")


@pytest.fixture(scope="module", autouse=True)
def need_promtool():
    assert PROMTOOL, "promtool is missing: install the Debian package prometheus (bindep.txt, profile test)"


def role_variables():
    """The role's defaults and vars, trusted as templates as Ansible trusts a role's files."""
    variables = {"inventory_hostname": "test", "ansible_managed": "Ansible managed"}
    for path in (ROLE / "defaults" / "main.yml", ROLE / "vars" / "main.yml", RULES / "vars.yml"):
        variables.update(_trusted(yaml.safe_load(path.read_text())))
    return variables


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("rules")
    templar = Templar(loader=DataLoader(), variables=role_variables())
    for template in TEMPLATES:
        (out / template.name[:-3]).write_text(templar.template(trust_as_template(template.read_text())))
    for test in RULES.glob("*.test.yml"):
        shutil.copy(test, out / test.name)
    return out


def promtool(*args, cwd):
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_rules_file_passes_promtool_check(rendered, template):
    result = promtool("check", "rules", template.name[:-3], cwd=rendered)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: p.name)
def test_rules_file_has_unit_tests(template):
    stem = template.name[:-len(".yml.j2")]
    covered = set()
    for test in RULES.glob("*.test.yml"):
        covered.update(yaml.safe_load(test.read_text())["rule_files"])
    assert stem + ".yml" in covered, "no tests/unit/rules/*.test.yml loads %s.yml" % stem


@pytest.mark.parametrize("test", sorted(RULES.glob("*.test.yml")), ids=lambda p: p.name)
def test_promtool_unit_tests_pass(rendered, test):
    result = promtool("test", "rules", test.name, cwd=rendered)
    assert result.returncode == 0, result.stdout + result.stderr
