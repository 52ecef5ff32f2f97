# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The autoscaler callback and the autoscale_decision lookup, fed recorded module results."""

from __future__ import annotations

import json
import os

import pytest

import yaml

from ansible import constants as C
from ansible import context
from ansible.errors import AnsibleLookupError
from ansible.module_utils.common.collections import ImmutableDict

from ansible_collections.lepton.aiops.plugins.callback import autoscaler
from ansible_collections.lepton.aiops.plugins.callback.autoscaler import DECISIONS_ENV
from ansible_collections.lepton.aiops.plugins.lookup import autoscale_decision
from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale import make_decider
from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale_run import (
    AutoscaleRun, anomalous_series, decider_params, observation_from_record, service_settings)

T0 = 1764240000.0


def documented(module, plugin):
    """Give a plugin the options its DOCUMENTATION declares, as Ansible's plugin loader does."""
    doc = yaml.safe_load(module.DOCUMENTATION)
    plugin._load_name = f"lepton.aiops.{doc['name']}"
    options = doc["options"]
    C.config.initialize_plugin_configuration_definitions(plugin.plugin_type, plugin._load_name, options)
    return plugin


def record(t=T0, replicas=2, ready=2, per_replica=None, ok=True, error_ratio=0.0, reason=None, ready_names=None):
    """A service record as lepton.aiops.service_metrics_info returns it (``ready_names`` only when given)."""
    per_replica = per_replica if per_replica is not None else {f"inference-{i}": 20.0 for i in range(1, replicas + 1)}
    extra = {} if ready_names is None else {"ready_replica_names": ready_names}
    return {
        **extra,
        "ok": ok, "reason": reason, "timestamp": t, "replicas": replicas, "ready_replicas": ready,
        "request_rate": sum(per_replica.values()) if ok else None,
        "request_rate_per_replica": per_replica if ok else {},
        "p95_latency_seconds": 0.04 if ok else None, "error_ratio": error_ratio if ok else None,
        "cpu_per_replica": {k: 0.1 for k in per_replica} if ok else {},
        "memory_per_replica": {k: 3.0e7 for k in per_replica} if ok else {},
    }


def metrics_result(**services):
    return {"changed": False, "reason": None, "timestamp": T0, "services": services}


ANOMALY_ON_REPLICA = {
    "anomalous": True, "status": "anomalous",
    "series": [
        {"name": 'p95_latency{replica="inference-2"}', "labels": {"replica": "inference-2"}, "anomalous_now": True},
        {"name": "request_rate", "labels": {}, "anomalous_now": False},
    ],
}


class FakeDisplay:
    def __init__(self):
        self.lines = []
        self.verbose = []
        self.verbosity = 0

    def vv(self, msg, **kwargs):
        self.verbose.append(msg)

    def display(self, msg, **kwargs):
        self.lines.append(msg)

    def banner(self, msg, **kwargs):
        self.lines.append(f"== {msg}")

    def warning(self, msg, **kwargs):
        self.lines.append(f"WARNING {msg}")

    def __getattr__(self, name):
        return lambda *a, **k: None


class FakeTask:
    def __init__(self, action):
        self.action = action
        self.resolved_action = action


class FakeHost:
    def get_name(self):
        return "localhost"


class FakeResult:
    def __init__(self, action, result):
        self._task = FakeTask(action)
        self._host = FakeHost()
        self._result = result


@pytest.fixture
def callback(tmp_path, monkeypatch):
    def make(check=False, **options):
        monkeypatch.setattr(context, "CLIARGS", ImmutableDict(check=check))
        cb = documented(autoscaler, autoscaler.CallbackModule(display=FakeDisplay()))
        cb.set_options(direct=dict({"state_dir": str(tmp_path / "state")}, **options))
        return cb
    monkeypatch.delenv(DECISIONS_ENV, raising=False)
    return make


def lookup(*services, **kwargs):
    plugin = documented(autoscale_decision, autoscale_decision.LookupModule())
    return plugin.run(list(services), variables={}, **kwargs)


def test_scale_up_decided_exposed_to_the_lookup_tabled_and_saved(callback, tmp_path):
    cb = callback(policy="hpa", target_request_rate=10.0, max_replicas=8)
    cb.v2_playbook_on_start(None)
    cb.v2_runner_on_ok(FakeResult("lepton.aiops.service_metrics_info", metrics_result(inference=record())))
    decision = lookup("inference")[0]   # 20 rps per replica, target 10: twice the replicas
    assert (decision["current"], decision["desired"], decision["change"]) == (2, 4, "up")
    cb.v2_playbook_on_stats(None)
    table = "\n".join(cb._display.lines)
    assert "AUTOSCALER DECISIONS" in table and "inference" in table and " up " in table
    saved = json.loads((tmp_path / "state" / "inference.json").read_text())
    assert saved["policy"] == "hpa" and saved["state"]["limiter"]["recommendations"]
    assert DECISIONS_ENV not in os.environ
    last = json.loads((tmp_path / "state" / "last_decisions.json").read_text())
    assert last["decisions"]["inference"]["desired"] == 4


def test_state_carries_over_to_the_next_run_and_stabilises_the_scale_down(callback):
    for t, rate, expected in [(T0, 10.0, 4), (T0 + 60, 2.0, 4), (T0 + 400, 2.0, 1)]:
        cb = callback(policy="hpa", target_request_rate=10.0, max_replicas=8)
        cb.v2_playbook_on_start(None)
        per_replica = {f"inference-{i}": rate for i in range(1, 5)}
        cb.v2_runner_on_ok(FakeResult("lepton.aiops.service_metrics_info",
                                      metrics_result(inference=record(t, 4, 4, per_replica))))
        assert lookup("inference")[0]["desired"] == expected, t
        cb.v2_playbook_on_stats(None)


def _run_once(callback, t, rate, replicas=4, **options):
    cb = callback(**options)
    cb.v2_playbook_on_start(None)
    per_replica = {f"inference-{i}": rate for i in range(1, replicas + 1)}
    cb.v2_runner_on_ok(FakeResult("lepton.aiops.service_metrics_info",
                                  metrics_result(inference=record(t, replicas, replicas, per_replica))))
    desired = lookup("inference")[0]["desired"]
    cb.v2_playbook_on_stats(None)
    return desired


def test_a_removed_setting_returns_to_its_default_on_the_next_run(callback, tmp_path):
    # run 1 shortens the scale-down window to 20 s; run 2 no longer sets it: the HPA default (300 s) applies
    assert _run_once(callback, T0, 10.0, policy="hpa", scale_down_stabilization_seconds=20) == 4
    assert _run_once(callback, T0 + 60, 2.0, policy="hpa") == 4        # 20 s would have let it go to 1
    saved = json.loads((tmp_path / "state" / "inference.json").read_text())
    assert saved["params"]["scale_down"]["stabilization_window_seconds"] == 300
    assert [r[1] for r in saved["state"]["limiter"]["recommendations"]] == [4, 4, 1]   # seed, run 1, run 2: kept


def test_removed_predictive_params_return_to_the_defaults(callback, tmp_path):
    config = tmp_path / "autoscale.yml"
    config.write_text("services:\n  inference:\n    predictive_params: {budget_share: 0.95}\n")
    _run_once(callback, T0, 10.0, config_file=str(config))
    saved = json.loads((tmp_path / "state" / "inference.json").read_text())
    assert saved["params"]["budget_share"] == 0.95
    config.write_text("services:\n  inference: {}\n")
    _run_once(callback, T0 + 60, 10.0, config_file=str(config))
    saved = json.loads((tmp_path / "state" / "inference.json").read_text())
    assert saved["params"]["budget_share"] == 0.99 and saved["state"]["last_time"] is not None


def test_a_state_file_of_an_earlier_version_still_loads(callback, tmp_path):
    # written before the parameters were taken from the settings: its params are ignored, its history kept
    state = tmp_path / "state"
    state.mkdir()
    old = {"version": 1, "policy": "hpa",
           "params": {"min_replicas": 1, "max_replicas": 10, "tolerance": 0.1,
                      "scale_up": {"stabilization_window_seconds": 0, "select_policy": "Max",
                                   "policies": [{"type": "Percent", "value": 100, "period_seconds": 15}]},
                      "scale_down": {"stabilization_window_seconds": 20, "select_policy": "Max",
                                     "policies": [{"type": "Percent", "value": 100, "period_seconds": 15}]}},
           "state": {"limiter": {"recommendations": [[T0, 4]], "up_events": [], "down_events": []}}}
    (state / "inference.json").write_text(json.dumps(old))
    assert _run_once(callback, T0 + 60, 2.0, policy="hpa") == 4    # 4 is still in the 300 s window


def test_check_mode_decides_and_reports_but_saves_nothing(callback, tmp_path):
    cb = callback(check=True, policy="hpa", target_request_rate=10.0)
    cb.v2_playbook_on_start(None)
    cb.v2_runner_on_ok(FakeResult("lepton.aiops.service_metrics_info", metrics_result(inference=record())))
    assert lookup("inference")[0]["check_mode"] is True
    cb.v2_playbook_on_stats(None)
    assert "check mode: not applied" in "\n".join(cb._display.lines)
    assert not (tmp_path / "state" / "inference.json").exists()


def test_prometheus_down_holds_with_its_reason(callback):
    cb = callback()
    cb.v2_playbook_on_start(None)
    down = record(ok=False, replicas=0, ready=0, reason="Prometheus at http://127.0.0.1:9090 is unreachable")
    cb.v2_runner_on_ok(FakeResult("lepton.aiops.service_metrics_info", metrics_result(inference=down)))
    decision = lookup("inference")[0]
    assert decision["hold"] and decision["change"] == "none" and decision["desired"] is None
    assert decision["reason"] == "hold: metrics unavailable (Prometheus at http://127.0.0.1:9090 is unreachable)"
    cb.v2_playbook_on_stats(None)
    assert any(line.startswith("inference  predictive  -") for line in cb._display.lines[-1].splitlines())


@pytest.mark.parametrize("anomaly_first", [True, False])
def test_anomaly_on_a_replica_is_a_fault_not_load(callback, anomaly_first):
    cb = callback(policy="hpa", target_request_rate=10.0)
    cb.v2_playbook_on_start(None)
    busy = metrics_result(inference=record(per_replica={"inference-1": 20.0, "inference-2": 60.0}))
    steps = [FakeResult("lepton.aiops.anomaly_detect", ANOMALY_ON_REPLICA),
             FakeResult("lepton.aiops.service_metrics_info", busy)]
    for step in steps if anomaly_first else reversed(steps):
        cb.v2_runner_on_ok(step)
    decision = lookup("inference")[0]
    assert (decision["desired"], decision["hold"]) == (2, True)
    assert "anomaly on replica inference-2" in decision["reason"]


def test_error_spike_is_a_fault_not_load(callback):
    cb = callback(policy="predictive", target_request_rate=10.0)
    cb.v2_playbook_on_start(None)
    cb.v2_runner_on_ok(FakeResult("lepton.aiops.service_metrics_info",
                                  metrics_result(inference=record(error_ratio=0.3))))
    decision = lookup("inference")[0]
    assert (decision["desired"], decision["hold"]) == (2, True) and "error ratio 30.0%" in decision["reason"]


def test_other_tasks_are_ignored_and_a_run_without_metrics_prints_nothing(callback, tmp_path):
    cb = callback()
    cb.v2_playbook_on_start(None)
    cb.v2_runner_on_ok(FakeResult("ansible.builtin.debug", {"services": {"inference": record()}}))
    cb.v2_playbook_on_stats(None)
    assert cb._display.lines == [] and cb._display.verbose == ["autoscaler: no service_metrics_info result in this run, nothing decided"]
    assert not (tmp_path / "state" / "inference.json").exists()


def test_config_file_sets_per_service_policy(callback, tmp_path):
    config = tmp_path / "autoscale.yml"
    config.write_text("services:\n  inference:\n    policy: hpa\n    min_replicas: 3\n")
    cb = callback(config_file=str(config))
    cb.v2_playbook_on_start(None)
    cb.v2_runner_on_ok(FakeResult("lepton.aiops.service_metrics_info",
                                  metrics_result(inference=record(), other=record())))
    inference, other = lookup("inference", "other")
    assert (inference["policy"], inference["desired"]) == ("hpa", 3)
    assert other["policy"] == "predictive"


def test_lookup_without_the_callback_or_decision_fails_clearly(callback, monkeypatch, tmp_path):
    with pytest.raises(AnsibleLookupError, match="enable the lepton.aiops.autoscaler callback"):
        lookup("inference")
    monkeypatch.setenv(DECISIONS_ENV, str(tmp_path / "none.json"))
    with pytest.raises(AnsibleLookupError, match="no decision for service 'inference'"):
        lookup("inference")
    assert lookup("inference", default={"desired": None}) == [{"desired": None}]


def test_observation_from_record_uses_per_replica_rates_and_optional_targets():
    settings = service_settings({"target_p95_latency_seconds": 0.05, "target_cpu": 0.5}, {}, "inference")
    obs = observation_from_record(record(per_replica={"inference-1": 12.0}, replicas=2, ready=2), settings)
    names = [m.name for m in obs.metrics]
    assert names == ["request_rate", "p95_latency_seconds", "cpu"]
    assert obs.metrics[0].per_replica == {"inference-1": 12.0} and obs.replicas == 2


def test_cpu_of_replicas_that_are_not_ready_is_set_aside():
    # HPA docs, "Algorithm details": "When scaling on CPU, if any pod has yet to become ready ... that pod is set aside"
    settings = service_settings({"policy": "hpa", "target_cpu": 0.5}, {}, "inference")
    rec = record(replicas=4, ready=2, per_replica={f"inference-{i}": 5.0 for i in range(1, 5)},
                 ready_names=["inference-1", "inference-2"])
    rec["cpu_per_replica"] = {"inference-1": 0.5, "inference-2": 0.5, "inference-3": 2.0, "inference-4": 2.0}
    obs = observation_from_record(rec, settings)
    assert obs.metrics[-1].per_replica == {"inference-1": 0.5, "inference-2": 0.5}
    # 2 ready at the target, 2 starting count as 0 % on a scale-up: no change (not 10 from their start-up CPU)
    assert make_decider("hpa", max_replicas=20).decide(obs).desired == 4
    # a record without the names (an older module) keeps every value
    del rec["ready_replica_names"]
    assert len(observation_from_record(rec, settings).metrics[-1].per_replica) == 4


def test_unknown_service_setting_is_refused():
    with pytest.raises(ValueError, match="unknown settings"):
        service_settings({}, {"inference": {"replicas": 3}}, "inference")


def test_predictive_params_reach_the_predictive_decider_only():
    services = {"inference": {"predictive_params": {"budget_share": 0.95, "quantile": 0.99}},
                "batch": {"policy": "hpa", "predictive_params": {"budget_share": 0.95}}}
    params = decider_params(service_settings({}, services, "inference"))
    decider = make_decider("predictive", **params)
    assert decider.budget_share == 0.95 and decider.quantile == 0.99
    assert "budget_share" not in decider_params(service_settings({}, services, "batch"))


@pytest.mark.parametrize("extra, error", [
    ({"no_such_parameter": 1}, r"predictive_params \['no_such_parameter'\] are not parameters"),
    ({"min_replicas": 3}, r"predictive_params \['min_replicas'\] are not parameters"),   # a setting of its own
    ([1, 2], "predictive_params must be a mapping"),
])
def test_predictive_params_are_checked(extra, error):
    with pytest.raises(ValueError, match=error):
        service_settings({}, {"inference": {"predictive_params": extra}}, "inference")


def test_anomalous_series_reads_names_and_labels():
    assert anomalous_series(ANOMALY_ON_REPLICA) == ['p95_latency{replica="inference-2"}', "inference-2"]


def test_run_rejects_service_names_that_are_not_file_names(tmp_path):
    run = AutoscaleRun(str(tmp_path))
    with pytest.raises(ValueError, match="cannot name a state file"):
        run.on_metrics("h", metrics_result(**{"../etc": record()}))
