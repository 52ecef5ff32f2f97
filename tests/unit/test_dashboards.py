# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Grafana dashboards the prometheus role ships: what Grafana's file
provisioning expects of a dashboard model, and every PromQL expression must
parse (checked by `promtool check rules` on a rules file made of them)."""

from __future__ import annotations

import json
import pathlib
import re
import shutil
import subprocess

import pytest
import yaml

ROLE = pathlib.Path(__file__).resolve().parents[2] / "roles" / "prometheus"
DASHBOARDS = sorted((ROLE / "files" / "dashboards").glob("*.json"))
# Grafana variables and their values while checking the PromQL.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$service": ".*"}


def load(path):
    return json.loads(path.read_text())


def exprs(dashboard):
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_every_shipped_dashboard_is_provisioned():
    shipped = sorted(p.name for p in DASHBOARDS)
    listed = sorted(yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["_prometheus_dashboards"])
    assert shipped == listed and shipped


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_model_fits_file_provisioning(path):
    d = load(path)
    # Provisioned dashboards are matched by uid; a numeric id would clash.
    assert "id" not in d or d["id"] is None
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"])
    assert d["title"] and isinstance(d["schemaVersion"], int) and d["schemaVersion"] >= 30
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in d["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
    # Every $variable used in a query is defined (or is one of Grafana's own).
    for title, expr in exprs(d):
        for var in re.findall(r"\$(\w+)", expr):
            assert var.startswith("__") or var in variables, "%s: $%s is not defined" % (title, var)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_expression_parses(path, tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install the Debian package prometheus (bindep.txt, profile test)"
    rules = []
    for n, (title, expr) in enumerate(exprs(load(path))):
        for var, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(var, value)
        rules.append({"record": "dashboard:expr_%d:check" % n, "expr": expr})
    assert rules
    (tmp_path / "exprs.yml").write_text(yaml.safe_dump({"groups": [{"name": path.stem, "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(tmp_path / "exprs.yml")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
