# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: autoscaler
type: aggregate
short_description: Decide how many replicas each inference service needs
description:
  - Watches the results of C(lepton.aiops.service_metrics_info) tasks as a
    run goes and feeds one autoscaling decider per service (the Kubernetes
    HPA v2 algorithm, or a predictive policy that forecasts the load and
    scales ahead of it).
  - Results of C(lepton.aiops.anomaly_detect) tasks mark faults. An anomaly
    on a series that names a replica, or an error ratio above
    O(error_ratio_threshold), holds the replica count (faults are not load).
  - Decisions are available to later tasks of the same run through the
    C(lepton.aiops.autoscale_decision) lookup, and shown in a table at the
    end of the run. A run without C(lepton.aiops.service_metrics_info)
    results prints nothing (a note at C(-vv)).
  - The deciders' state (recommendation history, forecasts) is saved per
    service in O(state_dir) at the end of a run, except in check mode, where
    the callback decides and reports but saves nothing.
  - Only what a decider learned is read back from O(state_dir). Its
    settings come from the options and O(config_file) of the current run,
    so a setting that is removed takes its default again.
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
requirements:
  - enable in ansible.cfg (C(callbacks_enabled = lepton.aiops.autoscaler))
options:
  state_dir:
    description:
      - Directory of the deciders' state files (one JSON file per service)
        and of the run's decisions. Point it at persistent storage for AWX
        jobs.
    type: path
    default: ~/.cache/lepton.aiops/autoscaler
    env:
      - name: LEPTON_AUTOSCALE_STATE_DIR
    ini:
      - section: lepton_autoscaler
        key: state_dir
  policy:
    description: Decider of every service without its own setting in O(config_file).
    type: str
    choices: [hpa, predictive]
    default: predictive
    env:
      - name: LEPTON_AUTOSCALE_POLICY
    ini:
      - section: lepton_autoscaler
        key: policy
  min_replicas:
    description: Fewest replicas.
    type: int
    default: 1
    env:
      - name: LEPTON_AUTOSCALE_MIN_REPLICAS
    ini:
      - section: lepton_autoscaler
        key: min_replicas
  max_replicas:
    description: Most replicas.
    type: int
    default: 10
    env:
      - name: LEPTON_AUTOSCALE_MAX_REPLICAS
    ini:
      - section: lepton_autoscaler
        key: max_replicas
  target_request_rate:
    description: Requests per second one replica should serve (an average target per replica).
    type: float
    default: 10.0
    env:
      - name: LEPTON_AUTOSCALE_TARGET_REQUEST_RATE
    ini:
      - section: lepton_autoscaler
        key: target_request_rate
  target_p95_latency_seconds:
    description: When set, the p95 latency is a second metric with this target (the larger recommendation wins).
    type: float
    env:
      - name: LEPTON_AUTOSCALE_TARGET_P95_LATENCY_SECONDS
    ini:
      - section: lepton_autoscaler
        key: target_p95_latency_seconds
  target_cpu:
    description:
      - When set, CPU cores per replica is another metric with this target.
      - As a Kubernetes HPA does, the CPU of replicas that are not ready yet
        is set aside (they count as 0 on a scale-up).
    type: float
    env:
      - name: LEPTON_AUTOSCALE_TARGET_CPU
    ini:
      - section: lepton_autoscaler
        key: target_cpu
  error_ratio_threshold:
    description: A 5xx error ratio above this is a fault, not load; the replica count is held.
    type: float
    default: 0.05
    env:
      - name: LEPTON_AUTOSCALE_ERROR_RATIO_THRESHOLD
    ini:
      - section: lepton_autoscaler
        key: error_ratio_threshold
  interval_seconds:
    description: How often the autoscale playbook runs (the predictive policy's decision interval).
    type: float
    default: 60
    env:
      - name: LEPTON_AUTOSCALE_INTERVAL_SECONDS
    ini:
      - section: lepton_autoscaler
        key: interval_seconds
  startup_seconds:
    description: Seconds a new replica needs before it serves (the predictive policy scales this far ahead).
    type: float
    default: 60
    env:
      - name: LEPTON_AUTOSCALE_STARTUP_SECONDS
    ini:
      - section: lepton_autoscaler
        key: startup_seconds
  scale_down_stabilization_seconds:
    description:
      - Scale-down stabilisation window. Unset keeps each policy's default
        (300 for C(hpa), 120 for C(predictive)); tests shorten it.
    type: int
    env:
      - name: LEPTON_AUTOSCALE_SCALE_DOWN_STABILIZATION_SECONDS
    ini:
      - section: lepton_autoscaler
        key: scale_down_stabilization_seconds
  config_file:
    description:
      - "Optional YAML or JSON file with per-service settings, for example
        C({services: {inference: {policy: hpa, min_replicas: 2, target_request_rate: 50}}})."
      - "The keys of a service are the option names above except O(state_dir)
        and O(config_file), plus C(metric_delay_seconds) (default 30) and
        C(predictive_params), a mapping of further parameters of the predictive
        policy (for example C({budget_share: 0.98}); see C(docs/autoscale.md)),
        which C(benchmarks/autoscale.py --set) measures on a trace first."
    type: path
    env:
      - name: LEPTON_AUTOSCALE_CONFIG
    ini:
      - section: lepton_autoscaler
        key: config_file
notes:
  - The decisions file of the running play is announced to the lookup in the
    environment variable C(LEPTON_AUTOSCALE_DECISIONS).
seealso:
  - plugin: lepton.aiops.autoscale_decision
    plugin_type: lookup
  - module: lepton.aiops.service_metrics_info
"""

import os

import yaml

from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.callback import CallbackBase

from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale_run import (
    CONFIG_ONLY, DEFAULTS, AutoscaleRun, format_table)

DECISIONS_ENV = "LEPTON_AUTOSCALE_DECISIONS"
_METRICS = ("lepton.aiops.service_metrics_info", "service_metrics_info")
_ANOMALY = ("lepton.aiops.anomaly_detect", "anomaly_detect")


class CallbackModule(CallbackBase):
    """Feed module results to the autoscaling deciders; report at the end."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lepton.aiops.autoscaler"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        self.state_dir = None
        self.defaults = {}
        self.services = {}
        self.run = None

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.state_dir = self.get_option("state_dir")
        self.defaults = {key: self.get_option(key) for key in DEFAULTS if key not in CONFIG_ONLY}
        self.services = _read_config(self.get_option("config_file"))

    def v2_playbook_on_start(self, playbook):
        self.run = AutoscaleRun(self.state_dir, self.defaults, self.services,
                                check_mode=bool(context.CLIARGS.get("check", False)))
        os.environ[DECISIONS_ENV] = self.run.decisions_path

    def v2_runner_on_ok(self, result):
        action = getattr(result._task, "resolved_action", None) or result._task.action
        if self.run is not None and action in _METRICS:
            self.run.on_metrics(result._host.get_name(), result._result)
        elif self.run is not None and action in _ANOMALY:
            self.run.on_anomalies(result._host.get_name(), result._result)

    def v2_playbook_on_stats(self, stats):
        if self.run is None:
            return
        rows = self.run.finish()
        os.environ.pop(DECISIONS_ENV, None)
        if not rows:   # a run without service_metrics_info: stay quiet
            self._display.vv(format_table(rows))
            return
        self._display.banner("AUTOSCALER DECISIONS")
        self._display.display(format_table(rows, self.run.check_mode))


def _read_config(path):
    """Per-service settings from the optional config file."""
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AnsibleError(f"autoscaler: cannot read config_file {path}: {exc}") from exc
    services = data.get("services", {}) if isinstance(data, dict) else None
    if not isinstance(services, dict):
        raise AnsibleError(f"autoscaler: {path} must be a mapping with a 'services' mapping.")
    return services
