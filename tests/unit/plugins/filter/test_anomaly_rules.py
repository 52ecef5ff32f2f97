# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""anomaly_rules: rules pass promtool and fire exactly above mu + sigma * z_alpha."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml
from scipy import stats

from ansible.errors import AnsibleFilterError
from ansible_collections.lepton.aiops.plugins.filter.anomaly_rules import anomaly_rules

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) is not installed")

DETECT_RESULT = {"series": [
    {"name": 'lat{service="api"}', "labels": {"__name__": "lat", "service": "api"}, "inconclusive": False,
     "baseline": {"mu": 10.0, "sigma": 2.0}},
    {"name": 'lat{service="db"}', "labels": {"__name__": "lat", "service": "db"}, "inconclusive": False,
     "baseline": {"mu": 100.0, "sigma": 0.0}},
    {"name": 'lat{service="new"}', "labels": {"service": "new"}, "inconclusive": True, "baseline": {}},
]}


@pytest.mark.parametrize("alpha,two_sided", [(0.99, False), (0.95, True), (0.999, False)])
def test_threshold_in_expression_is_mu_plus_sigma_z(alpha, two_sided):
    rules = anomaly_rules(DETECT_RESULT, expr="lat", alpha=alpha, two_sided=two_sided)["groups"][0]["rules"]
    assert len(rules) == (4 if two_sided else 2)  # inconclusive series skipped
    z = stats.norm.ppf((1 + alpha) / 2 if two_sided else alpha)
    want = 10.0 + 2.0 * z
    assert "vector(%r)" % want in rules[0]["expr"] or abs(float(rules[0]["expr"].split("vector(")[1].split(")")[0]) - want) < 1e-9
    assert 'on(service) group_left()' in rules[0]["expr"]


def test_plain_mapping_and_label_escaping():
    rules = anomaly_rules({'we"ird': {"mu": 1, "sigma": 1}}, expr="up")["groups"][0]["rules"]
    assert '"we\\"ird"' in rules[0]["expr"]


@pytest.mark.parametrize("baselines,kwargs,message", [
    ({"a": {"mu": 1, "sigma": 1}}, {"expr": ""}, "expr"),
    ({"a": {"mu": 1, "sigma": 1}}, {"expr": "up", "alpha": 1.0}, "alpha"),
    ({"a": {"mu": 1, "sigma": 1}}, {"expr": "up", "duration": "five minutes"}, "duration"),
    ({"a": {"mu": None, "sigma": 1}}, {"expr": "up"}, "numeric"),
    ({"a": {"mu": 1, "sigma": -1}}, {"expr": "up"}, "sigma"),
    ({"series": [{"name": "x", "inconclusive": True}]}, {"expr": "up"}, "no usable baseline"),
    ("nonsense", {"expr": "up"}, "expects"),
])
def test_bad_input_is_refused_with_a_reason(baselines, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        anomaly_rules(baselines, **kwargs)


@needs_promtool
@pytest.mark.parametrize("two_sided", [False, True])
def test_promtool_check_rules_accepts_the_file(tmp_path, two_sided):
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(anomaly_rules(DETECT_RESULT, expr="lat", two_sided=two_sided, duration="2m")))
    out = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


@needs_promtool
def test_rule_fires_only_for_the_series_above_its_threshold(tmp_path):
    # api threshold = 10 + 2 * 2.326 = 14.65: 15 is above it; db (sigma 0) threshold = 100 exactly.
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(anomaly_rules(DETECT_RESULT, expr="lat", alpha=0.99, duration="1m")))
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'lat{service="api"}', "values": "10 10 15 15 15 15"},
                {"series": 'lat{service="db"}', "values": "100 100 100 100 100 100"},
            ],
            "alert_rule_test": [
                {"eval_time": "1m", "alertname": "LeptonAnomalyThreshold", "exp_alerts": []},
                {"eval_time": "5m", "alertname": "LeptonAnomalyThreshold", "exp_alerts": [{
                    "exp_labels": {"service": "api", "severity": "warning",
                                   "anomaly_baseline": 'lat{service="api"}', "anomaly_side": "above"},
                    "exp_annotations": {
                        "summary": 'lat{service="api"} is above its learned threshold 14.6527',
                        "description": "Baseline mu=10 sigma=2, threshold mu + 2.326 sigma (alpha=0.99); value 15.",
                    },
                }]},
            ],
        }],
    }
    spec = tmp_path / "test.yml"
    spec.write_text(yaml.safe_dump(test))
    out = subprocess.run([PROMTOOL, "test", "rules", str(spec)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
