# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One autoscaling run: module results in, decisions and saved state out.

PRIVATE to the lepton.aiops collection: no compatibility promise outside it.
No Ansible imports: the ``lepton.aiops.autoscaler`` callback hands plain
result dicts to :class:`AutoscaleRun`, the ``lepton.aiops.autoscale_decision``
lookup reads what it wrote with :func:`read_decision`.

Files (all JSON, written atomically):

* ``<state_dir>/<service>.json``: the decider of a service
  (``dump_decider``), written at the end of a run that was not in check mode.
  Only its learned state is read back (``restore_decider``): the parameters
  come from the settings of the run, defaults included, every time.
* the run's decisions file (``<state_dir>/runs/<run id>.json`` during the
  run, ``<state_dir>/last_decisions.json`` afterwards):
  ``{"run": id, "check_mode": bool, "decisions": {service: {...}}}``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import tempfile
import time

from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale import (
    Metric, Observation, Predictive, dump_decider, fault_from_signals, make_decider, restore_decider)

#: Settings of a service and their defaults (the callback's options).
DEFAULTS = {
    "policy": "predictive",
    "min_replicas": 1,
    "max_replicas": 10,
    "target_request_rate": 10.0,
    "target_p95_latency_seconds": None,
    "target_cpu": None,
    "error_ratio_threshold": 0.05,
    "interval_seconds": 60.0,
    "startup_seconds": 60.0,
    "metric_delay_seconds": 30.0,
    "scale_down_stabilization_seconds": None,
    "predictive_params": None,
}
#: Settings only the config file sets (the others are also the callback's options).
CONFIG_ONLY = ("metric_delay_seconds", "predictive_params")
_DECIDER_KEYS = ("min_replicas", "max_replicas")
_PREDICTIVE_KEYS = ("interval_seconds", "startup_seconds", "metric_delay_seconds")
#: set by the settings above, not through predictive_params
_SET_ELSEWHERE = set(_DECIDER_KEYS + _PREDICTIVE_KEYS) | {"scale_down_stabilization_seconds", "scale_down"}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def service_settings(defaults, services, service):
    """The settings of ``service``: ``defaults`` updated by ``services[service]``."""
    settings = dict(DEFAULTS)
    settings.update({k: v for k, v in (defaults or {}).items() if v is not None or k not in settings})
    override = (services or {}).get(service) or {}
    unknown = set(override) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"autoscaler: service {service!r} has unknown settings {sorted(unknown)}; "
                         f"known settings are {sorted(DEFAULTS)}.")
    settings.update(override)
    if settings["policy"] not in ("hpa", "predictive"):
        raise ValueError(f"autoscaler: service {service!r}: policy must be hpa or predictive.")
    extra = settings["predictive_params"] or {}
    if not isinstance(extra, dict):
        raise ValueError(f"autoscaler: service {service!r}: predictive_params must be a mapping.")
    known = set(inspect.signature(Predictive).parameters) - _SET_ELSEWHERE
    if set(extra) - known:
        raise ValueError(f"autoscaler: service {service!r}: predictive_params {sorted(set(extra) - known)} "
                         f"are not parameters of the predictive policy; known: {sorted(known)}.")
    return settings


def decider_params(settings):
    """Constructor parameters of the decider for these settings."""
    params = {k: settings[k] for k in _DECIDER_KEYS}
    if settings["policy"] == "predictive":
        params.update({k: float(settings[k]) for k in _PREDICTIVE_KEYS})
        params.update(settings["predictive_params"] or {})
    if settings.get("scale_down_stabilization_seconds") is not None:
        seconds = int(settings["scale_down_stabilization_seconds"])
        if settings["policy"] == "predictive":
            params["scale_down_stabilization_seconds"] = seconds
        else:
            params["scale_down"] = {"stabilization_window_seconds": seconds,
                                    "policies": [{"type": "Percent", "value": 100, "period_seconds": 15}]}
    return params


def metrics_records(result):
    """``(service, record)`` pairs of a ``service_metrics_info`` result (loops included)."""
    pairs = []
    for item in result.get("results", [result]) if isinstance(result.get("results"), list) else [result]:
        services = item.get("services") if isinstance(item, dict) else None
        if isinstance(services, dict):
            pairs.extend((name, record) for name, record in services.items() if isinstance(record, dict))
    return pairs


def anomalous_series(result):
    """Names and label values of the series an ``anomaly_detect`` result flags now."""
    names = []
    items = result.get("results", [result]) if isinstance(result.get("results"), list) else [result]
    for item in items:
        series = item.get("series") if isinstance(item, dict) else None
        if isinstance(series, dict):
            series = [dict(v, name=k) for k, v in series.items() if isinstance(v, dict)]
        for entry in series or []:
            if isinstance(entry, dict) and entry.get("anomalous_now"):
                names.append(str(entry.get("name", "")))
                names.extend(str(v) for v in (entry.get("labels") or {}).values())
    return names


def replica_names(record):
    """Replica names that a ``service_metrics_info`` record mentions."""
    names = set()
    for key in ("request_rate_per_replica", "cpu_per_replica", "memory_per_replica"):
        names.update((record.get(key) or {}).keys())
    return sorted(names)


def observation_from_record(record, settings, anomalous=()):
    """Turn one ``service_metrics_info`` record into an :class:`Observation`.

    * request rate: per replica (``pods``) with target ``target_request_rate``,
      from ``request_rate_per_replica``, else ``request_rate`` shared by the
      ready replicas;
    * p95 latency (``value``) and CPU per replica (``pods``) when their
      targets are set; the CPU of replicas that are not ready is left out
      when the record names the ready ones (``ready_replica_names``): HPA
      docs, "Algorithm details": "When scaling on CPU, if any pod has yet to
      become ready ... that pod is set aside"; the decider then counts them
      as using 0 % of the target on a scale-up;
    * ``ok: false`` makes every metric missing (the decider holds);
    * the error ratio and the anomalies decide whether this is a fault.
    """
    ok = bool(record.get("ok"))
    replicas = int(record.get("replicas") or 0)
    ready = int(record.get("ready_replicas") or 0)
    per_replica = {k: v for k, v in (record.get("request_rate_per_replica") or {}).items() if _finite(v)}
    rate = record.get("request_rate")
    metrics = []
    if ok and per_replica:
        metrics.append(Metric("request_rate", settings["target_request_rate"], per_replica=per_replica))
    else:
        value = rate / ready if ok and _finite(rate) and ready > 0 else None
        metrics.append(Metric("request_rate", settings["target_request_rate"], value=value))
    if settings.get("target_p95_latency_seconds"):
        latency = record.get("p95_latency_seconds") if ok else None
        metrics.append(Metric("p95_latency_seconds", settings["target_p95_latency_seconds"],
                              value=latency if _finite(latency) else None, kind="value"))
    if settings.get("target_cpu"):
        ready_names = record.get("ready_replica_names")
        cpu = {k: v for k, v in (record.get("cpu_per_replica") or {}).items()
               if _finite(v) and (ready_names is None or k in ready_names)} if ok else {}
        metrics.append(Metric("cpu", settings["target_cpu"], per_replica=cpu or None))
    error_ratio = record.get("error_ratio") if ok and _finite(record.get("error_ratio")) else None
    fault, broken = fault_from_signals(error_ratio, settings["error_ratio_threshold"], anomalous,
                                       replica_names(record))
    stamp = record.get("timestamp")
    return Observation(time=float(stamp) if _finite(stamp) else time.time(), replicas=replicas,
                       ready_replicas=min(ready, replicas), metrics=tuple(metrics), fault=fault,
                       broken_replicas=broken)


class AutoscaleRun:
    """Decisions of one playbook run.

    ``on_metrics`` and ``on_anomalies`` take the plain result dicts of the
    modules; ``finish`` saves the deciders (not in check mode) and returns
    the table rows.
    """

    def __init__(self, state_dir, defaults=None, services=None, check_mode=False, run_id=None):
        self.state_dir = os.path.abspath(os.path.expanduser(state_dir))
        self.defaults = defaults or {}
        self.services = services or {}
        self.check_mode = bool(check_mode)
        self.run_id = run_id or f"{int(time.time())}-{os.getpid()}"
        self.decisions = {}
        self.anomalous = []
        self._pending = {}   # service -> (saved decider before this run, record, host)
        self._deciders = {}
        self.decisions_path = os.path.join(self.state_dir, "runs", f"{self.run_id}.json")

    def on_metrics(self, host, result):
        """Decide for every service in a ``service_metrics_info`` result."""
        for service, record in metrics_records(result):
            if service in self._deciders:   # read again in the same run: go on from there
                self._pending[service] = (dump_decider(self._deciders[service]), record, host)
            else:
                self._pending[service] = (self._load(service), record, host)
            self._decide(service)
        self._write_decisions()

    def on_anomalies(self, host, result):
        """Remember flagged series; re-decide services whose replicas they blame."""
        del host
        flagged = anomalous_series(result)
        if not flagged:
            return
        self.anomalous.extend(flagged)
        for service, pending in self._pending.items():
            if fault_from_signals(anomalous_series=flagged, replicas=replica_names(pending[1]))[1]:
                self._decide(service)
        self._write_decisions()

    def _decide(self, service):
        saved, record, host = self._pending[service]
        settings = service_settings(self.defaults, self.services, service)
        params = decider_params(settings)
        decider = None
        if saved is not None:
            try:   # the parameters of this run, defaults included; only the learned state is restored
                decider = restore_decider(saved, settings["policy"], **params)
            except (ValueError, TypeError, KeyError):
                decider = None
        if decider is None:
            decider = make_decider(settings["policy"], **params)
        obs = observation_from_record(record, settings, self.anomalous)
        decision = decider.decide(obs)
        entry = {
            "service": service, "host": host, "policy": decision.policy, "time": decision.time,
            "current": decision.current, "ready": obs.ready_replicas, "desired": decision.desired,
            "change": decision.change, "hold": decision.hold, "reason": decision.reason,
            "check_mode": self.check_mode,
        }
        if not record.get("ok"):
            # nothing is known, not even the replica count: hold, say why
            entry.update(current=None, ready=None, desired=None, change="none", hold=True,
                         reason=f"hold: metrics unavailable ({record.get('reason') or 'no data'})")
        self._deciders[service] = decider
        self.decisions[service] = entry

    def _state_path(self, service):
        if not _SAFE_NAME.match(service):
            raise ValueError(f"autoscaler: service name {service!r} cannot name a state file.")
        return os.path.join(self.state_dir, f"{service}.json")

    def _load(self, service):
        path = self._state_path(service)
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ValueError(f"autoscaler: cannot read the state of {service!r} from {path}: {exc}") from exc

    def _write_decisions(self):
        _write_json(self.decisions_path, {"run": self.run_id, "check_mode": self.check_mode,
                                          "decisions": self.decisions})

    def finish(self):
        """Save the deciders (unless check mode) and the last decisions; return the table rows."""
        if not self.check_mode:
            for service, decider in self._deciders.items():
                _write_json(self._state_path(service), dump_decider(decider))
        if self.decisions:
            _write_json(os.path.join(self.state_dir, "last_decisions.json"),
                        {"run": self.run_id, "check_mode": self.check_mode, "decisions": self.decisions})
        try:
            os.unlink(self.decisions_path)
        except FileNotFoundError:
            pass
        return [self.decisions[s] for s in sorted(self.decisions)]


def format_table(rows, check_mode=False):
    """The end-of-run decision table, one line per service."""
    if not rows:
        return "autoscaler: no service_metrics_info result in this run, nothing decided"
    head = ("service", "policy", "current", "ready", "desired", "change", "reason")
    body = [(r["service"], r["policy"], _cell(r["current"]), _cell(r["ready"]), _cell(r["desired"]),
             r["change"] + (" (check mode: not applied)" if check_mode and r["change"] != "none" else ""),
             r["reason"]) for r in rows]
    widths = [max(len(head[i]), *(len(b[i]) for b in body)) for i in range(len(head) - 1)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)) + "  " + head[-1]]
    lines += ["  ".join(c.ljust(w) for c, w in zip(b, widths)) + "  " + b[-1] for b in body]
    return "\n".join(lines)


def _cell(value):
    return "-" if value is None else str(value)


def read_decision(path, service):
    """The decision of ``service`` in a decisions file, or ``None``."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    return (data.get("decisions") or {}).get(service)


def _write_json(path, data):
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
