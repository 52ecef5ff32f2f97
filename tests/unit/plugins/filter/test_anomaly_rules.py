# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""anomaly_rules: rules pass promtool and fire exactly above mu + sigma * z_alpha."""

from __future__ import annotations

import math
import shutil
import subprocess

import pytest
import yaml
from scipy import stats

from ansible.errors import AnsibleFilterError
from ansible_collections.lepton.aiops.plugins.filter.anomaly_rules import anomaly_rules
from ansible_collections.lepton.aiops.plugins.module_utils import _anomaly_detect as ad

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


OPTS = dict(alpha=0.99, two_sided=False, baseline_ratio=0.75, min_baseline=10, sigma_floor=0.0, period=86400.0,
            slots=24, halflife=50.0, window=1000, suppress=100, recent_points=3, system_level=0.5, max_anomalies=50)
SERIES = {"api": [10.0 + (i % 5) for i in range(40)], "db": [100.0 + (i % 3) * 2 for i in range(40)]}


def _thresholds(rules):
    return {(r["labels"]["anomaly_baseline"], r["labels"]["anomaly_side"]):
            float(r["expr"].split("vector(")[1].split(")")[0]) for r in rules}


@pytest.mark.parametrize("detector", ["gaussian", "robust"])
@pytest.mark.parametrize("alpha,two_sided", [(0.95, True), (0.95, False), (0.999, True)])
def test_rules_alert_at_the_thresholds_the_module_learned(detector, alpha, two_sided):
    result = ad.analyse(ad.from_inline(SERIES), detector, dict(OPTS, alpha=alpha, two_sided=two_sided))[0]
    got = _thresholds(anomaly_rules(result, expr="lat")["groups"][0]["rules"])
    want = {}
    for s in result["series"]:
        want[(s["name"], "above")] = s["baseline"]["threshold"]
        if two_sided:
            want[(s["name"], "below")] = s["baseline"]["lower_threshold"]
    assert got == want


def test_explicit_two_sided_false_keeps_the_learned_upper_threshold_only():
    result = ad.analyse(ad.from_inline(SERIES), "gaussian", dict(OPTS, alpha=0.95, two_sided=True))[0]
    got = _thresholds(anomaly_rules(result, expr="lat", two_sided=False)["groups"][0]["rules"])
    assert got == {(s["name"], "above"): s["baseline"]["threshold"] for s in result["series"]}


def test_explicit_alpha_recomputes_from_mu_and_sigma():
    result = ad.analyse(ad.from_inline(SERIES), "gaussian", dict(OPTS, alpha=0.95, two_sided=True))[0]
    rules = anomaly_rules(result, expr="lat", alpha=0.99, two_sided="no")["groups"][0]["rules"]
    z = stats.norm.ppf(0.99)
    want = {(s["name"], "above"): s["baseline"]["mu"] + s["baseline"]["sigma"] * z for s in result["series"]}
    assert _thresholds(rules) == pytest.approx(want)
    assert rules[0]["annotations"]["description"].endswith("(alpha=0.99); value {{ $value }}.")


def test_learned_threshold_is_named_in_the_annotation():
    rules = anomaly_rules({"api": {"mu": 10, "sigma": 2, "threshold": 13.92, "lower_threshold": 6.08}},
                          expr="lat")["groups"][0]["rules"]
    assert [r["annotations"]["description"] for r in rules] == [
        "Baseline mu=10 sigma=2, threshold 13.92 learned by anomaly_detect (mu + 1.96 sigma); value {{ $value }}.",
        "Baseline mu=10 sigma=2, threshold 6.08 learned by anomaly_detect (mu - 1.96 sigma); value {{ $value }}."]


@pytest.mark.parametrize("baseline,kwargs,message", [
    ({"mu": 1, "sigma": 1, "threshold": 3.3, "lower_threshold": None}, {"two_sided": True}, "no lower_threshold"),
    ({"mu": 1, "sigma": 1, "threshold": "high"}, {}, "threshold of a must be a finite number"),
    ({"mu": 1, "sigma": 1, "threshold": 3.0, "lower_threshold": 4.0}, {}, "lower_threshold above"),
    ({"mu": 1, "sigma": 1}, {"two_sided": "maybe"}, "two_sided must be a boolean"),
])
def test_inconsistent_learned_thresholds_are_refused(baseline, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        anomaly_rules({"a": baseline}, expr="up", **kwargs)


@needs_promtool
def test_promtool_accepts_and_fires_the_rules_of_a_two_sided_result(tmp_path):
    result = ad.analyse(ad.from_inline(SERIES), "gaussian", dict(OPTS, alpha=0.95, two_sided=True))[0]
    api = result["series"][0]["baseline"]
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump(anomaly_rules(result, expr="lat", duration="1m")))
    out = subprocess.run([PROMTOOL, "check", "rules", str(rules)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    below = math.floor(api["lower_threshold"] * 100.0) / 100.0  # just below the learned lower threshold
    assert api["lower_threshold"] - 0.01 <= below < api["lower_threshold"]
    k = (api["mu"] - api["lower_threshold"]) / api["sigma"]
    test = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": 'lat{service="api"}', "values": "%r %r %r %r" % (api["mu"], below, below, below)},
                             {"series": 'lat{service="db"}', "values": "100 100 100 100"}],
            "alert_rule_test": [
                {"eval_time": "0m", "alertname": "LeptonAnomalyThreshold", "exp_alerts": []},
                {"eval_time": "3m", "alertname": "LeptonAnomalyThreshold", "exp_alerts": [{
                    "exp_labels": {"service": "api", "severity": "warning", "anomaly_baseline": "api",
                                   "anomaly_side": "below"},
                    "exp_annotations": {
                        "summary": "api is below its learned threshold %.6g" % api["lower_threshold"],
                        "description": "Baseline mu=%.6g sigma=%.6g, threshold %.6g learned by anomaly_detect "
                                       "(mu - %.4g sigma); value %r." % (
                                           api["mu"], api["sigma"], api["lower_threshold"], k, below),
                    }}]},
            ],
        }],
    }
    spec = tmp_path / "test.yml"
    spec.write_text(yaml.safe_dump(test))
    out = subprocess.run([PROMTOOL, "test", "rules", str(spec)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
