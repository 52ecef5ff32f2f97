#!/usr/bin/env python
# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Autoscaling benchmark: the HPA and the predictive policy on a demand trace.

A discrete-time simulator. The trace (any CSV with ``timestamp,value``
columns, value = demand in requests per second or any unit) is resampled to
the decision interval by linear interpolation. Every interval, each policy
sees the per-replica request rate that the monitoring scraped
``--scrape-delay`` seconds ago, decides, and the simulator applies the
decision: new replicas serve after ``--startup`` seconds, removed replicas
stop at once (starting ones first). A minute violates the SLO when the
demand exceeds the ready capacity (ready replicas x capacity per replica)
at any step of that minute. Violation minutes at most ``INCIDENT_GAP`` (3)
minutes apart form one *incident*; the figures count them and give the
longest, the *onset minutes* (violation minutes in the first scrape delay
+ start-up of each incident: those that no reaction to what the policy
sees can avoid, only capacity that stands when the incident begins), and
for the predictive policy the violation minutes of the incidents that
start while its replica-time budget is in debt.

Capacity per replica, when ``--capacity`` is not given, follows one rule
that only looks at the past, as an operator would size a service after its
first day: the 95th percentile of the demand during the warm-up
(``--warmup-hours``, 24 by default, or the first tenth of a shorter trace)
divided by ``--warmup-peak-replicas`` (10). The warm-up is simulated (both
policies run and learn) but not scored. Both policies get the same metric
target, ``--target-utilization`` (0.8, the default of ``kubectl autoscale``)
times the capacity; the predictive policy is also told the capacity (its
``headroom`` = capacity / target) and the start-up and scrape delays.

Usage::

    python benchmarks/autoscale.py --trace ../shared/data/nab/realKnownCause/nyc_taxi.csv
    python benchmarks/autoscale.py --trace FILE --json
    python benchmarks/autoscale.py --trace FILE --trace FILE ...   # several: one line each, then a count
    python benchmarks/autoscale.py --trace FILE --set budget_share=0.98   # a predictive parameter changed

``--json`` prints one JSON object, ``{"hpa": {...}, "predictive": {...}}``
(only the policies run, see ``--policy``), each policy's figures
(``slo_violation_minutes``, ``replica_hours``, ``incidents``, ...) and its
``setup``: the trace's file name, the capacity per replica, ``interval``,
``startup``, ``scrape_delay`` and ``target_utilization``, and for the
predictive policy ``set``, the parameters ``--set`` changed (``{}`` when
none). With several traces, ``--json`` prints one such object per line
(JSON Lines).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from datetime import datetime, timezone

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "plugins", "plugin_utils"))

from _autoscale import Metric, Observation, make_decider  # noqa: E402  pylint: disable=wrong-import-position

POLICIES = ("hpa", "predictive")
INCIDENT_GAP = 3   # minutes: violation minutes at most this far apart belong to one incident


def read_trace(path):
    """Return sorted unique ``(seconds, value)`` numpy arrays from a ``timestamp,value`` CSV.

    The header may carry a UTF-8 byte-order mark, spaces around the names and
    any case (``Timestamp, Value``); other columns are ignored. Rows whose value
    is not a finite number are skipped. A timestamp is epoch seconds or ISO 8601
    (``2020-01-02 00:00:00``, ``2020-01-02T00:00:00Z``, ``...+02:00``; UTC when
    no offset is given); any other timestamp stops with the file, line and text.
    """
    times, values = [], []
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [name.strip().lower() for name in next(reader, [])]
        if "timestamp" not in header or "value" not in header:
            raise SystemExit(f"{path}: expected the columns timestamp,value (found {','.join(header) or 'no header'})")
        t_col, v_col = header.index("timestamp"), header.index("value")
        for row in reader:
            try:
                value = float(row[v_col])
            except (IndexError, ValueError):
                continue
            if not math.isfinite(value):
                continue
            times.append(_parse_time(row[t_col] if t_col < len(row) else "", path, reader.line_num))
            values.append(max(value, 0.0))
    if len(times) < 2:
        raise SystemExit(f"{path}: need at least two rows with a numeric value")
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    keep = np.concatenate(([True], np.diff(t) > 0))
    return t[keep], v[keep]


def _parse_time(text, path="<trace>", line=0):
    """Epoch seconds or an ISO 8601 date and time (UTC unless it has an offset) -> epoch seconds."""
    text = text.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(f"{path}: line {line}: cannot read the timestamp {text!r}; write timestamps in "
                         "ISO 8601 (e.g. 2020-01-02 00:00:00 or 2020-01-02T00:00:00Z) or as epoch seconds") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def resample(t, v, interval):
    """Demand at every decision step (linear interpolation)."""
    grid = np.arange(t[0], t[-1] + 1e-9, interval)
    return grid, np.interp(grid, t, v)


def default_capacity(grid, demand, warmup_steps, warmup_peak_replicas):
    """Capacity per replica from the warm-up only (see the module docstring)."""
    p95 = float(np.percentile(demand[:max(warmup_steps, 1)], 95))
    if p95 <= 0:
        p95 = float(np.max(demand[:max(warmup_steps, 1)])) or 1.0
    return p95 / warmup_peak_replicas


def policy_params(policy, args):
    """What the decider of ``policy`` is made with: the bounds, and for the predictive one what it is told."""
    params = dict(min_replicas=args.min_replicas, max_replicas=args.max_replicas)
    if policy == "predictive":
        params.update(interval_seconds=args.interval, startup_seconds=args.startup,
                      metric_delay_seconds=args.scrape_delay, headroom=1.0 / args.target_utilization)
        params.update(args.set)
    return params


def simulate(policy, grid, demand, args, capacity, warmup_steps):
    """Run one policy over the trace; return its figures."""
    interval = args.interval
    target = args.target_utilization * capacity
    decider = make_decider(policy, **policy_params(policy, args))
    startup_steps = int(math.ceil(args.startup / interval))
    delay_steps = int(round(args.scrape_delay / interval))
    n = len(grid)
    first = min(max(args.min_replicas, int(math.ceil(demand[0] / target))), args.max_replicas)
    ready_at = [0] * first            # step at which each replica serves
    ready_hist = np.zeros(n, dtype=int)
    total_hist = np.zeros(n, dtype=int)
    violated = np.zeros(n, dtype=bool)
    in_debt = np.zeros(n, dtype=bool)   # the predictive policy's replica-time budget in debt after the decision
    holds = 0
    for k in range(n):
        seen = max(k - delay_steps, 0)
        ready_now = sum(1 for s in ready_at if s <= k)
        ready_seen = ready_hist[seen] if seen < k else ready_now
        value = demand[seen] / ready_seen if ready_seen else None
        obs = Observation(time=float(grid[k]), replicas=len(ready_at), ready_replicas=ready_now,
                          metrics=(Metric("request_rate", target=target, value=value),))
        decision = decider.decide(obs)
        holds += decision.hold
        in_debt[k] = ((decision.details or {}).get("forecast") or {}).get("budget_replica_hours", 0.0) < 0
        desired = decision.desired
        if desired > len(ready_at):
            ready_at.extend([k + startup_steps] * (desired - len(ready_at)))
        elif desired < len(ready_at):
            ready_at.sort()
            del ready_at[desired:]        # the last to become ready go first
        ready_hist[k] = sum(1 for s in ready_at if s <= k)
        total_hist[k] = len(ready_at)
        violated[k] = demand[k] > ready_hist[k] * capacity * (1 + 1e-9)
    scored = slice(warmup_steps, n)
    minutes = np.floor((grid[scored] - grid[0]) / 60.0).astype(np.int64)
    bad = violated[scored]
    bad_minutes = len(np.unique(minutes[bad]))
    all_minutes = len(np.unique(minutes))
    replica_hours = float(total_hist[scored].sum() * interval / 3600.0)
    reaction = int(math.ceil((args.scrape_delay + args.startup) / 60.0))
    found = incidents(minutes[bad], in_debt[scored][bad], onset=reaction)
    return {
        "slo_violation_minutes": int(bad_minutes),
        "incidents": len(found),
        "longest_incident_minutes": max((incident[0] for incident in found), default=0),
        "onset_minutes": sum(incident[2] for incident in found),
        "violation_minutes_in_debt": sum(incident[0] for incident in found if incident[1]),
        "scored_minutes": int(all_minutes),
        "replica_hours": round(replica_hours, 1),
        "mean_replicas": round(float(total_hist[scored].mean()), 2),
        "max_replicas": int(total_hist[scored].max()),
        "holds": int(holds),
    }


def incidents(bad_minutes, debt, gap=INCIDENT_GAP, onset=4):
    """Incidents: runs of violation minutes, merged when at most ``gap`` minutes apart.

    ``bad_minutes`` are the minute numbers of the violated steps (in order)
    and ``debt`` whether the policy's budget was in debt at each; returns
    ``[violation minutes, in debt at its first step, violation minutes in
    its first onset minutes]`` per incident. With ``onset`` = the scrape
    delay plus the start-up in minutes, the last figure is what a policy
    that reacts only once it sees the incident cannot avoid: the replicas
    it asks for then serve ``onset`` minutes after the incident began.

    >>> incidents(np.array([3, 4, 7, 20, 20, 21]), np.array([True, True, False, False, False, False]))
    [[3, True, 2], [2, False, 2]]
    """
    found, last, begin = [], None, None
    for minute, flag in zip(bad_minutes.tolist(), debt.tolist()):
        if last is None or minute - last > gap:
            found.append([0, bool(flag), 0])
            begin = minute
        if minute != last:
            found[-1][0] += 1
            found[-1][2] += minute - begin < onset
        last = minute
    return found


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--trace", required=True, action="append",
                        help="CSV with timestamp,value columns (value = demand); repeat for several")
    parser.add_argument("--interval", type=float, default=60.0, help="decision interval, seconds (60)")
    parser.add_argument("--capacity", type=float, help="demand one replica serves (default: warm-up rule)")
    parser.add_argument("--warmup-hours", type=float, default=24.0, help="simulated, not scored (24)")
    parser.add_argument("--warmup-peak-replicas", type=float, default=10.0,
                        help="replicas the warm-up's 95th percentile needs at full capacity (10)")
    parser.add_argument("--target-utilization", type=float, default=0.8,
                        help="metric target as a fraction of capacity, both policies (0.8)")
    parser.add_argument("--startup", type=float, default=180.0, help="seconds before a new replica serves (180)")
    parser.add_argument("--scrape-delay", type=float, default=60.0, help="age of the metrics, seconds (60)")
    parser.add_argument("--min-replicas", type=int, default=1)
    parser.add_argument("--max-replicas", type=int, default=1000)
    parser.add_argument("--policy", choices=POLICIES, action="append", help="run only these (default: both)")
    parser.add_argument("--set", action="append", type=_setting, metavar="NAME=VALUE",
                        help="a parameter of the predictive policy (Predictive.__init__), the value in JSON; "
                             "repeat for several, e.g. --set budget_share=0.98")
    parser.add_argument("--json", action="store_true",
                        help='print {"hpa": {...}, "predictive": {...}}, each policy\'s figures with its "setup" '
                             '(trace, capacity, delays, and for the predictive policy "set", what --set changed)')
    args = parser.parse_args(argv)
    if args.interval <= 0 or not 0 < args.target_utilization <= 1:
        parser.error("--interval must be > 0 and --target-utilization in (0, 1]")
    args.set = dict(args.set or ())
    try:
        make_decider("predictive", **policy_params("predictive", args))
    except (TypeError, ValueError) as exc:
        parser.error(f"--set: {exc}")
    return args


def _setting(text):
    """``NAME=VALUE`` with a JSON value (a bare word is taken as a string) -> ``(name, value)``."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


def goal_met(results):
    """Issue 7's goal: predictive <= 50 % of the HPA's violation minutes at no more replica-hours."""
    h, p = results["hpa"], results["predictive"]
    return p["slo_violation_minutes"] <= 0.5 * h["slo_violation_minutes"] and p["replica_hours"] <= h["replica_hours"]


def main(argv=None):
    args = parse_args(argv)
    if len(args.trace) == 1:
        return run_one(args, args.trace[0])
    met = 0
    if not args.json:
        print(f"{'trace':<42}{'HPA viol min':>13}{'HPA rep-h':>11}{'pred viol min':>14}{'pred rep-h':>11}  goal")
    for path in args.trace:
        results = run_one(args, path, quiet=True)
        ok = "hpa" in results and "predictive" in results and goal_met(results)
        met += ok
        if args.json:
            print(json.dumps(results, sort_keys=True), flush=True)
            continue
        h, p = results.get("hpa", {}), results.get("predictive", {})
        print(f"{os.path.basename(path):<42}{h.get('slo_violation_minutes', ''):>13}{h.get('replica_hours', ''):>11}"
              f"{p.get('slo_violation_minutes', ''):>14}{p.get('replica_hours', ''):>11}  {'met' if ok else 'NOT met'}",
              flush=True)
    if not args.json:
        print(f"goal met on {met} of {len(args.trace)} traces")
    return 0


def run_one(args, path, quiet=False):
    """Simulate the policies on one trace; print the figures unless ``quiet`` (then return them)."""
    t, v = read_trace(path)
    grid, demand = resample(t, v, args.interval)
    warmup_steps = int(min(args.warmup_hours * 3600.0 / args.interval, len(grid) / 10))
    capacity = args.capacity or default_capacity(grid, demand, warmup_steps, args.warmup_peak_replicas)
    setup = {"trace": os.path.basename(path), "capacity": round(capacity, 6), "interval": args.interval,
             "startup": args.startup, "scrape_delay": args.scrape_delay,
             "target_utilization": args.target_utilization}
    results = {}
    for policy in args.policy or POLICIES:
        results[policy] = simulate(policy, grid, demand, args, capacity, warmup_steps)
        results[policy]["setup"] = dict(setup, set=args.set) if policy == "predictive" else dict(setup)
    if quiet:
        return results
    if args.json:
        print(json.dumps(results, sort_keys=True))
        return 0
    print(f"trace {os.path.basename(path)}: {len(grid)} steps of {args.interval:g} s, "
          f"capacity {capacity:.4g} per replica, start-up {args.startup:g} s, scrape delay {args.scrape_delay:g} s")
    print(f"{'policy':<12}{'SLO-violation min':>19}{'replica-hours':>15}{'mean replicas':>15}"
          f"{'incidents':>11}{'longest min':>13}")
    for policy, r in results.items():
        print(f"{policy:<12}{r['slo_violation_minutes']:>19}{r['replica_hours']:>15.1f}{r['mean_replicas']:>15.2f}"
              f"{r['incidents']:>11}{r['longest_incident_minutes']:>13}")
    if "hpa" in results and "predictive" in results:
        ok = goal_met(results)
        print(f"goal (predictive <= 50 % of HPA's violation minutes at no more replica-hours): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
