# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""benchmarks/autoscale.py: the simulator's rules on traces small enough to reason about."""

from __future__ import annotations

import json
import os
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "benchmarks"))
import autoscale  # noqa: E402 pylint: disable=wrong-import-position


def _trace(tmp_path, rows, name="trace.csv"):
    path = tmp_path / name
    path.write_text("timestamp,value\n" + "".join(f"{t},{v}\n" for t, v in rows))
    return str(path)


def _run(capsys, *argv):
    assert autoscale.main(list(argv) + ["--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_flat_demand_never_violates_and_costs_its_replicas(tmp_path, capsys):
    # 2 days of 300 rps every 5 minutes, capacity 100: the HPA (target 80) runs 4 replicas
    path = _trace(tmp_path, [(f"2024-01-0{1 + i // 288} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00", 300)
                             for i in range(576)])
    out = _run(capsys, "--trace", path, "--capacity", "100")
    assert set(out) == {"hpa", "predictive"}   # the policies only, each with its own setup
    assert out["hpa"]["setup"]["trace"] == "trace.csv" and out["hpa"]["setup"]["capacity"] == 100
    assert "set" not in out["hpa"]["setup"] and out["predictive"]["setup"]["set"] == {}
    assert out["hpa"]["slo_violation_minutes"] == 0 and out["hpa"]["mean_replicas"] == 4
    assert out["predictive"]["slo_violation_minutes"] == 0
    # scored: the second day only (the first 24 h are warm-up), 4 replicas x ~24 h
    assert out["hpa"]["replica_hours"] == pytest.approx(4 * out["hpa"]["scored_minutes"] / 60, rel=0.01)


def test_a_step_up_violates_until_the_new_replicas_are_ready(tmp_path, capsys):
    # 1-minute samples: 100 rps for 26 h, then 400 rps; capacity 100, start-up 180 s, metrics 60 s old
    rows = [(i * 60, 100 if i < 26 * 60 else 400) for i in range(28 * 60)]
    path = _trace(tmp_path, rows)
    out = _run(capsys, "--trace", path, "--capacity", "100", "--policy", "hpa")
    # the step (minute 1560) is seen at 1561, the replicas asked for then serve at 1564:
    # minutes 1560, 1561, 1562 and 1563 violate
    assert out["hpa"]["slo_violation_minutes"] == 4
    assert out["hpa"]["incidents"] == 1 and out["hpa"]["longest_incident_minutes"] == 4
    assert out["hpa"]["onset_minutes"] == 4   # all four: no reaction to the step could serve sooner
    assert out["hpa"]["violation_minutes_in_debt"] == 0   # the HPA keeps no budget
    assert "predictive" not in out


def test_set_changes_the_predictive_policy_only(tmp_path, capsys):
    # the step of the test above: 4 replicas (400 rps at full capacity) kept at all times absorb it
    rows = [(i * 60, 100 if i < 26 * 60 else 400) for i in range(28 * 60)]
    path = _trace(tmp_path, rows)
    plain = _run(capsys, "--trace", path, "--capacity", "100")
    held = _run(capsys, "--trace", path, "--capacity", "100", "--set", "min_replicas=4")
    assert plain["predictive"]["slo_violation_minutes"] > 0
    assert held["predictive"]["slo_violation_minutes"] == 0 and held["predictive"]["mean_replicas"] >= 4
    assert held["hpa"] == plain["hpa"]
    assert held["predictive"]["setup"]["set"] == {"min_replicas": 4} and plain["predictive"]["setup"]["set"] == {}


@pytest.mark.parametrize("setting, error", [
    ("quantile", "expected NAME=VALUE"),
    ("no_such_parameter=1", "unexpected keyword argument 'no_such_parameter'"),
    ("quantile=2", r"quantile must be in \[0.5, 1\)"),
])
def test_set_refuses_what_the_policy_does_not_take(tmp_path, capsys, setting, error):
    path = _trace(tmp_path, [(i * 300, 100) for i in range(600)])
    with pytest.raises(SystemExit):
        autoscale.main(["--trace", path, "--set", setting])
    assert re.search(error, capsys.readouterr().err)


@pytest.mark.parametrize("bad, debt, want", [
    ([], [], []),
    ([5, 6, 7], [False, True, True], [[3, False, 3]]),
    ([5, 8, 12, 13], [True, False, False, True], [[2, True, 2], [2, False, 2]]),   # 8 -> 12: four apart, a new one
    ([5, 5, 6], [True, True, False], [[2, True, 2]]),   # two steps in one minute count once
    ([5, 6, 7, 8, 9, 11], [False] * 6, [[6, False, 4]]),   # onset: minutes 5-8 of the incident that starts at 5
])
def test_incidents_merge_violation_minutes_at_most_three_apart(bad, debt, want):
    assert autoscale.incidents(np.array(bad, dtype=int), np.array(debt, dtype=bool), onset=4) == want


def test_default_capacity_comes_from_the_warm_up_only(tmp_path, capsys):
    rows = [(i * 300, 50 if i < 288 else 5000) for i in range(600)]
    out = _run(capsys, "--trace", _trace(tmp_path, rows), "--policy", "hpa")
    assert out["hpa"]["setup"]["capacity"] == pytest.approx(5.0)   # p95 of day one (50) / 10


def test_text_output_names_both_policies_and_the_goal(tmp_path, capsys):
    path = _trace(tmp_path, [(i * 300, 100 + (i % 7) * 10) for i in range(600)])
    assert autoscale.main(["--trace", path]) == 0
    text = capsys.readouterr().out
    assert "hpa" in text and "predictive" in text and "goal (predictive <= 50 %" in text


def test_a_file_without_the_columns_is_refused(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("time,load\n1,2\n")
    with pytest.raises(SystemExit, match="expected the columns timestamp,value"):
        autoscale.main(["--trace", str(path)])
