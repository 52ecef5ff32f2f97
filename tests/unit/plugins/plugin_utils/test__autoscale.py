# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The autoscaling decider against the worked examples of the Kubernetes docs.

https://kubernetes.io/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale/
"""

from __future__ import annotations

import doctest
import json
import math
import random

import pytest

from ansible_collections.lepton.aiops.plugins.plugin_utils import _autoscale
from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale import (
    DEFAULT_SCALE_DOWN, HPA, Metric, Observation, Predictive, ScalingPolicy, ScalingRules, dump_decider,
    fault_from_signals, load_decider, make_decider, replicas_for_metric, restore_decider)
from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale import _faults, _hpa, _model, _predictive


#: the default scale-down policy without its window: a first decision may scale down at once
#: (the 300 s window holds the current count first, see the stabilisation tests)
NO_WINDOW = ScalingRules(0, DEFAULT_SCALE_DOWN.policies)


def obs(t, replicas, value, ready=None, target=100.0, **kw):
    return Observation(time=t, replicas=replicas, ready_replicas=replicas if ready is None else ready,
                       metrics=(Metric("m", target=target, value=value),), **kw)


@pytest.mark.parametrize("module", [_autoscale, _faults, _hpa, _model, _predictive])
def test_docstring_examples_run(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# -- "Algorithm details": the ratio, and the tolerance ------------------------

@pytest.mark.parametrize("current, value, expected", [
    (4, 200.0, 8),    # 200m / 100m: "the number of replicas will be doubled"
    (4, 50.0, 2),     # 50m / 100m: "you'll halve the number of replicas"
    (4, 105.0, 4),    # ratio 1.05, within the 0.1 tolerance: no change
    (4, 91.0, 4),     # ratio 0.91, within tolerance
    (4, 115.0, 5),    # ratio 1.15: ceil(4 * 1.15) = 5
    (3, 130.0, 4),    # ceil(3.9)
])
def test_hpa_ratio_and_tolerance(current, value, expected):
    d = HPA(min_replicas=1, max_replicas=20, scale_down=NO_WINDOW).decide(obs(0.0, current, value))
    assert d.desired == expected


def test_hpa_tolerance_is_configurable():
    assert HPA(max_replicas=20, tolerance=0.0).decide(obs(0.0, 4, 105.0)).desired == 5


@pytest.mark.parametrize("kind, value, current, ready, expected", [
    ("value", 300.0, 2, 2, 6),     # Object metric, Value target: ceil(ready * value / target)
    ("value", 105.0, 2, 2, 2),     # within tolerance
    ("total", 950.0, 6, 6, 10),    # External AverageValue: ceil(total / target per pod)
    ("total", 310.0, 3, 3, 3),     # 310 / (100 * 3) = 1.03: within tolerance
])
def test_hpa_object_and_external_metrics(kind, value, current, ready, expected):
    o = Observation(0.0, current, ready, (Metric("m", 100.0, value=value, kind=kind),))
    assert HPA(max_replicas=20).decide(o).desired == expected


# -- missing metrics and not-yet-ready pods ------------------------------------

@pytest.mark.parametrize("per_replica, replicas, ready, expected, why", [
    # scale-down: a missing pod counts as 100 % of the target: (50+50+50+100)/4 = 62.5 -> ceil(2.5) = 3
    ({"a": 50.0, "b": 50.0, "c": 50.0}, 4, 4, 3, "missing pod at 100 % on scale-down"),
    # scale-up: a missing pod counts as 0 %: (200*3+0)/4 = 150 -> ceil(6.0) = 6
    ({"a": 200.0, "b": 200.0, "c": 200.0}, 4, 4, 6, "missing pod at 0 % on scale-up"),
    # without the missing pod the naive answer would be ceil(3 * 2) = 6 either way; the dampening
    # reverses direction here: (110*3 + 0)/4 = 82.5 -> direction reversed -> no change
    ({"a": 110.0, "b": 120.0, "c": 115.0}, 4, 4, 4, "direction reversed by the missing pod"),
    # not-ready pods count as 0 % on scale-up: 2 ready at 200, 2 starting: 400/4 = 100 -> no change
    ({"a": 200.0, "b": 200.0}, 4, 2, 4, "not-yet-ready pods dampen the scale-up"),
    # ... and are ignored on scale-down: 2 ready at 40: ceil(0.4 * 2) = 1
    ({"a": 40.0, "b": 40.0}, 4, 2, 1, "not-yet-ready pods ignored on scale-down"),
])
def test_hpa_missing_metrics_and_unready_pods(per_replica, replicas, ready, expected, why):
    o = Observation(0.0, replicas, ready, (Metric("m", 100.0, per_replica=per_replica),))
    assert HPA(max_replicas=20, scale_down=NO_WINDOW).decide(o).desired == expected, why


def test_hpa_multiple_metrics_highest_wins():
    o = Observation(0.0, 4, 4, (Metric("rps", 100.0, value=150.0), Metric("cpu", 0.5, value=1.0)))
    d = HPA(max_replicas=20).decide(o)
    assert d.desired == 8 and d.reason.startswith("cpu")


def test_hpa_missing_metric_blocks_scale_down_but_not_scale_up():
    down = Observation(0.0, 4, 4, (Metric("rps", 100.0, value=20.0), Metric("cpu", 0.5)))
    up = Observation(0.0, 4, 4, (Metric("rps", 100.0, value=200.0), Metric("cpu", 0.5)))
    d_down = HPA(max_replicas=20).decide(down)
    d_up = HPA(max_replicas=20).decide(up)
    assert (d_down.desired, d_down.hold) == (4, True) and "cpu missing" in d_down.reason
    assert d_up.desired == 8


def test_hpa_holds_when_every_metric_is_missing():
    d = HPA(max_replicas=20).decide(obs(0.0, 3, None))
    assert (d.desired, d.hold) == (3, True) and "no metric available" in d.reason


# -- stabilisation window -------------------------------------------------------

def test_hpa_scale_down_waits_for_the_300s_window_and_takes_its_highest_recommendation():
    hpa = HPA(max_replicas=20)
    assert hpa.decide(obs(0.0, 10, 100.0)).desired == 10       # recommendation 10
    assert hpa.decide(obs(60.0, 10, 60.0)).desired == 10       # 6, but 10 is in the window
    assert hpa.decide(obs(120.0, 10, 30.0)).desired == 10      # 3
    assert hpa.decide(obs(300.5, 10, 30.0)).desired == 6       # 10 left the window: highest is 6
    assert hpa.decide(obs(360.5, 6, 50.0)).desired == 3        # 6 left too: highest is 3


def test_hpa_first_decision_seeds_the_window_with_the_current_count():
    # horizontal.go, reconcileAutoscaler -> recordInitialRecommendation: the first time the controller
    # sees an HPA it records the current replica count, so nothing scales down within the first 300 s
    hpa = HPA()
    d = hpa.decide(Observation(0, 10, 10, [Metric("m", 100, value=30)]))
    assert d.desired == 10 and "stabilised from 3 to 10" in d.reason
    assert hpa.decide(obs(299.0, 10, 30.0)).desired == 10
    assert hpa.decide(obs(300.5, 10, 30.0)).desired == 3      # the seed left the window


def test_hpa_seeds_the_window_on_a_hold_too_but_not_over_a_saved_history():
    hpa = HPA()
    assert hpa.decide(obs(0.0, 10, 30.0, fault="error ratio 40.0% above 5.0%")).hold
    assert hpa.decide(obs(60.0, 10, 30.0)).desired == 10      # seeded by the first reconcile
    saved = HPA()
    saved.set_state({"limiter": {"recommendations": [[-400.0, 10]]}})   # history outside the window
    assert saved.decide(obs(0.0, 10, 30.0)).desired == 3


def test_hpa_scale_up_is_not_stabilised():
    hpa = HPA(max_replicas=20)
    hpa.decide(obs(0.0, 4, 40.0))
    assert hpa.decide(obs(15.0, 4, 200.0)).desired == 8


# -- scaling policies --------------------------------------------------------------

def test_hpa_default_scale_up_policy_max_of_100_percent_and_4_pods_per_15s():
    hpa = HPA(max_replicas=100)
    assert hpa.decide(obs(0.0, 2, 1000.0)).desired == 6       # 2 + 4 pods beats 2 * 2
    assert hpa.decide(obs(5.0, 6, 1000.0)).desired == 6       # same 15 s period: no further step
    assert hpa.decide(obs(15.5, 6, 1000.0)).desired == 12     # new period: 100 % beats 4 pods
    assert hpa.decide(obs(31.0, 12, 1000.0)).desired == 24


def test_hpa_scale_down_policy_docs_example_80_to_72_to_64():
    # "Configurable scaling behavior" > "Scaling policies": Pods 4 / 60 s and Percent 10 / 60 s;
    # 80 replicas scaled towards 10: first 8 go, then 10 % of 72 = 7.2 rounds up to 8.
    rules = ScalingRules(0, (ScalingPolicy("Pods", 4, 60), ScalingPolicy("Percent", 10, 60)))
    hpa = HPA(min_replicas=1, max_replicas=100, scale_down=rules)
    assert hpa.decide(obs(0.0, 80, 12.5)).desired == 72
    assert hpa.decide(obs(30.0, 72, 12.5)).desired == 72      # still in the same 60 s period
    assert hpa.decide(obs(61.0, 72, 12.5)).desired == 64


def test_hpa_min_policy_and_disabled_direction():
    rules = ScalingRules(0, (ScalingPolicy("Pods", 4, 15), ScalingPolicy("Percent", 100, 15)), "Min")
    assert HPA(max_replicas=100, scale_up=rules).decide(obs(0.0, 10, 1000.0)).desired == 14
    off = ScalingRules(0, (ScalingPolicy("Pods", 4, 15),), "Disabled")
    assert HPA(max_replicas=100, scale_up=off).decide(obs(0.0, 10, 1000.0)).desired == 10


@pytest.mark.parametrize("current, value, expected", [
    (4, 1000.0, 6),   # would be 40: maxReplicas 6
    (4, 1.0, 2),      # would be 1: minReplicas 2
    (9, 100.0, 6),    # above max: brought to max
    (1, 100.0, 2),    # below min: brought to min
])
def test_hpa_bounds(current, value, expected):
    hpa = HPA(min_replicas=2, max_replicas=6, scale_down=NO_WINDOW)
    assert hpa.decide(obs(0.0, current, value)).desired == expected


@pytest.mark.parametrize("kind, value, expected", [
    ("value", 95.0, 1),    # ratio 0.95 is within the tolerance, but there is nothing to keep: ceil(0.95)
    ("total", 95.0, 1),    # External AverageValue: usage / (target * 0) is infinite, ceil(95 / 100)
    ("value", 250.0, 3),
    ("total", 250.0, 3),
    ("value", 0.0, 0),     # no load: stay at zero
    ("total", 0.0, 0),
])
def test_hpa_at_zero_replicas_skips_the_tolerance(kind, value, expected):
    # replica_calculator.go, getUsageRatioReplicaCount: the tolerance applies only when currentReplicas != 0
    o = Observation(0.0, 0, 0, (Metric("m", 100.0, value=value, kind=kind),))
    assert replicas_for_metric(o.metrics[0], 0, 0)[0] == expected
    assert HPA(min_replicas=0, max_replicas=10).decide(o).desired == expected


def test_hpa_bounds_cite_the_api():
    # minReplicas/maxReplicas are fields of HorizontalPodAutoscalerSpec (HPA API)
    for doc in (_hpa.HPA.__init__.__doc__, _hpa.RateLimiter.limit.__doc__, _hpa.HPA.decide.__doc__):
        assert "minReplicas" in doc and "maxReplicas" in doc and "HorizontalPodAutoscalerSpec" in doc


def test_scaled_to_zero_is_left_alone():
    d = HPA(min_replicas=1, max_replicas=6).decide(obs(0.0, 0, None))
    assert (d.desired, d.hold) == (0, True)


# -- persistence ---------------------------------------------------------------

def _load_series(n=400):
    day = 86400.0
    return [(60.0 * i, 300.0 + 250.0 * math.sin(2 * math.pi * 60.0 * i / (day / 8))) for i in range(n)]


@pytest.mark.parametrize("policy", ["hpa", "predictive"])
def test_state_round_trip_through_json_continues_identically(policy):
    params = {"min_replicas": 1, "max_replicas": 30}
    straight = make_decider(policy, **params)
    first = make_decider(policy, **params)
    replicas_a = replicas_b = 4
    outputs_a, outputs_b = [], []
    for i, (t, load) in enumerate(_load_series()):
        da = straight.decide(obs(t, replicas_a, load / replicas_a))
        replicas_a = da.desired
        outputs_a.append((da.desired, da.reason))
        if i == 200:   # save, go through JSON text, restore: a new run of the playbook
            first = load_decider(json.loads(json.dumps(dump_decider(first))))
        db = first.decide(obs(t, replicas_b, load / replicas_b))
        replicas_b = db.desired
        outputs_b.append((db.desired, db.reason))
    assert outputs_a == outputs_b
    assert len({decision[0] for decision in outputs_a}) > 3   # it did scale


def test_load_decider_rejects_unknown_state_and_policy():
    with pytest.raises(ValueError, match="version"):
        load_decider({"policy": "hpa"})
    with pytest.raises(ValueError, match="unknown autoscaling policy"):
        make_decider("magic")


def test_load_decider_can_switch_policy_keeping_the_limiter():
    hpa = HPA(max_replicas=20)
    hpa.decide(obs(0.0, 10, 100.0))
    pred = load_decider(dump_decider(hpa), policy="predictive")
    assert isinstance(pred, Predictive) and pred.limiter_.recommendations == [[0.0, 10], [0.0, 10]]   # seed, then 10


def test_load_decider_keeps_the_saved_parameters_unless_overridden():
    # a state saved before a default changed keeps its value; the caller's overrides win
    saved = dump_decider(Predictive(budget_price_ratio=10.0))
    assert load_decider(saved, min_replicas=2).budget_price_ratio == 10.0
    assert load_decider(saved, budget_price_ratio=15.0).budget_price_ratio == 15.0
    assert Predictive().budget_price_ratio == 15.0


def test_restore_decider_takes_the_parameters_given_and_only_the_learned_state():
    hpa = HPA(max_replicas=20, scale_down=ScalingRules(20, DEFAULT_SCALE_DOWN.policies))
    hpa.decide(obs(0.0, 10, 100.0))
    restored = restore_decider(json.loads(json.dumps(dump_decider(hpa))), "hpa", max_replicas=20)
    assert restored.scale_down == DEFAULT_SCALE_DOWN                     # not the saved 20 s
    assert restored.limiter_.recommendations == [[0.0, 10], [0.0, 10]]  # the history (seed, 10) is kept
    pred = Predictive(budget_price_ratio=10.0)
    pred.budget_ = 1234.0
    restored = restore_decider(dump_decider(pred), "predictive")
    assert (restored.budget_price_ratio, restored.budget_) == (15.0, 1234.0)
    switched = restore_decider(dump_decider(hpa), "predictive")         # another policy: the limiter only
    assert isinstance(switched, Predictive) and switched.limiter_.recommendations == [[0.0, 10], [0.0, 10]]
    with pytest.raises(ValueError, match="version"):
        restore_decider({"policy": "hpa"}, "hpa")


# -- faults are not load -----------------------------------------------------------

@pytest.mark.parametrize("policy", ["hpa", "predictive"])
@pytest.mark.parametrize("fault_kw", [
    {"fault": "error ratio 40.0% above 5.0%"},
    {"broken_replicas": ("web-2",)},
])
def test_a_fault_never_scales_up(policy, fault_kw):
    decider = make_decider(policy, min_replicas=1, max_replicas=20)
    for t in range(0, 600, 60):   # calm history
        decider.decide(obs(float(t), 4, 80.0))
    d = decider.decide(obs(600.0, 4, 400.0, **fault_kw))   # looks like 4x the load
    assert (d.desired, d.hold) == (4, True) and "fault, not load" in d.reason
    assert decider.decide(obs(660.0, 4, 400.0)).desired > 4   # the same numbers without a fault scale up


def test_broken_replica_values_are_left_out():
    o = Observation(0.0, 3, 3, (Metric("m", 100.0, per_replica={"a": 90.0, "b": 95.0, "c": 900.0}),),
                    broken_replicas=("c",))
    assert _hpa.replicas_for_metric(o.metrics[0], 3, 3, broken=o.broken_replicas)[0] == 3


@pytest.mark.parametrize("kw, fault, broken", [
    ({"error_ratio": 0.2}, "error ratio 20.0% above 5.0%", ()),
    ({"error_ratio": 0.01}, None, ()),
    ({"anomalous_series": ["web-2"], "replicas": ["web-1", "web-2"]}, "anomaly on replica web-2", ("web-2",)),
    ({"anomalous_series": ["web-20"], "replicas": ["web-2"]}, None, ()),        # no partial matches
    ({"anomalous_series": ["request_rate{service=\"web\"}"], "replicas": ["web-1"]}, None, ()),  # load
])
def test_fault_attribution(kw, fault, broken):
    assert fault_from_signals(**kw) == (fault, broken)


# -- predictive ---------------------------------------------------------------------

def _short_minutes(decider, loads, startup_steps=3):
    """Tiny closed loop, decisions every 60 s, new replicas ready after startup_steps.

    Returns, per minute, whether the demand exceeded the ready capacity (100 per replica).
    """
    ready_at, short = [0], []
    for k, load in enumerate(loads):
        ready = sum(1 for s in ready_at if s <= k)
        seen = loads[max(k - 1, 0)]
        d = decider.decide(obs(60.0 * k, len(ready_at), seen / max(ready, 1), ready=ready, target=80.0))
        if d.desired > len(ready_at):
            ready_at += [k + startup_steps] * (d.desired - len(ready_at))
        else:
            ready_at = sorted(ready_at)[:d.desired]
        short.append(load > sum(1 for s in ready_at if s <= k) * 100.0)
    return short


def _daily(days=4):
    # quiet nights, a steep morning ramp (100 -> 1300 in 30 minutes), busy days: 1-minute steps
    loads = []
    for minute in range(days * 1440):
        m = minute % 1440
        loads.append(100.0 + min(m - 480, 30) * 40.0 if 480 <= m < 1200 else 100.0)
    return loads


def test_predictive_learns_the_daily_ramp_and_is_ready_before_it():
    loads = _daily()
    last_day = slice(3 * 1440, 4 * 1440)
    predictive = Predictive(min_replicas=1, max_replicas=40, interval_seconds=60, startup_seconds=180,
                            metric_delay_seconds=60, headroom=1.25)
    short_p = sum(_short_minutes(predictive, loads)[last_day])
    short_h = sum(_short_minutes(HPA(min_replicas=1, max_replicas=40), loads)[last_day])
    assert short_h >= 5            # the HPA only reacts: late on the ramp, every day
    assert short_p <= short_h / 2  # the predictive policy has learnt the ramp and starts replicas before it


def test_predictive_holds_when_data_is_missing_and_respects_bounds():
    p = Predictive(min_replicas=2, max_replicas=5)
    d = p.decide(obs(0.0, 3, None))
    assert (d.desired, d.hold) == (3, True) and "no metric available" in d.reason
    assert p.decide(obs(60.0, 3, 10_000.0)).desired == 5
    assert Predictive(min_replicas=2, max_replicas=5).decide(obs(0.0, 3, 1.0)).desired == 2


def test_predictive_does_not_flap_on_a_single_dip():
    p = Predictive(min_replicas=1, max_replicas=40)
    replicas, before = 10, None
    for k in range(120):
        load = 790.0 if k != 100 else 200.0    # one bad scrape
        d = p.decide(obs(60.0 * k, replicas, load / replicas))
        if k == 99:
            before = d.desired
        if k == 100:
            assert d.desired == before == 8, d.reason   # 790 rps at 100 per replica
        replicas = d.desired


@pytest.mark.parametrize("bad", [
    {"quantile": 1.0}, {"headroom": 0.5}, {"interval_seconds": 0}, {"startup_seconds": -1}, {"cycle_max_seconds": -1},
    {"min_replicas": 5, "max_replicas": 2},
])
def test_predictive_rejects_bad_parameters(bad):
    with pytest.raises(ValueError):
        Predictive(**bad)


def test_observation_validation_messages():
    with pytest.raises(ValueError, match="kind must be one of"):
        Metric("m", 1.0, kind="ratio")
    with pytest.raises(ValueError, match="target must be a positive"):
        Metric("m", 0.0)
    with pytest.raises(ValueError, match="replicas must be a whole number"):
        Observation(0.0, -1, 0)
    assert Observation(0.0, 2, 5).ready_replicas == 2


def test_predictive_does_not_learn_from_a_fault():
    p = Predictive(min_replicas=1, max_replicas=40)
    for k in range(60):
        p.decide(obs(60.0 * k, 4, 80.0))
    before = p.get_state()
    p.decide(obs(3600.0, 4, 800.0, fault="error ratio 50.0% above 5.0%"))
    assert p.get_state() == before


def test_predictive_stops_paying_for_rare_spikes_but_covers_everyday_noise():
    # violation_cost 100: a margin that covers a spike in 1 of 37 minutes costs
    # more replicas than the shortfall it avoids, so the quantile goes down.
    # Neither the noise nor the spikes repeat at a regular interval (that would
    # be a period the "cycle" forecaster learns, see below).
    rng = random.Random(7)
    noise = [rng.uniform(-40.0, 40.0) for dummy in range(600)]
    spike_minutes = {int(37 * k + 11 * math.sin(k * k)) for k in range(1, 17)}

    def last_forecast(spike):
        p = Predictive(min_replicas=1, max_replicas=200)
        replicas, d = 10, None
        for k in range(600):
            load = 800.0 + noise[k] + (spike if k in spike_minutes else 0.0)
            d = p.decide(obs(60.0 * k, replicas, load / replicas))
            replicas = d.desired
        return d.details["forecast"]
    calm, spiky = last_forecast(0.0), last_forecast(2000.0)
    assert calm["level"] >= 0.99 and calm["margin"] > 0
    assert spiky["level"] < calm["level"]
    assert spiky["upper"] < 8.0 + 2000.0 / 80.0   # it does not size for the spikes


@pytest.mark.parametrize("values, max_lag, period", [
    ([0.0, 0.0, 9.0, 0.0, 0.0, 0.0, 0.0] * 6, 20, 7),                         # a spike every 7 samples
    ([5.0 + math.sin(2 * math.pi * k / 12) for k in range(96)], 40, 12),    # a wave
    ([5.0 + math.sin(2 * math.pi * k / 12) for k in range(96)], 10, None),  # its period is longer than allowed
    ([float(k) for k in range(96)], 40, None),                                # a ramp has no period
    ([random.Random(3).random() for k in range(96)], 40, None),               # neither has noise
    ([1.0] * 96, 40, None),                                                   # nor a flat line
])
def test_dominant_period(values, max_lag, period):
    assert _predictive.dominant_period(values, max_lag) == period


def _spikes_every(period_minutes, days=3):
    # a quiet 100 rps and, every period_minutes (not a divisor of a day), a burst to 1000 rps
    # that rises and falls over 10 minutes, as 5-minute samples interpolated to minutes look
    loads = []
    for minute in range(days * 1440):
        phase = minute % period_minutes
        loads.append(100.0 + 180.0 * max(0.0, 5.0 - abs(phase - 5)))
    return loads


def test_predictive_learns_a_period_that_is_not_a_day_and_is_ready_for_the_bursts():
    loads = _spikes_every(500)
    last_day = slice(2 * 1440, 3 * 1440)
    params = dict(min_replicas=1, max_replicas=40, interval_seconds=60, startup_seconds=180,
                  metric_delay_seconds=60, headroom=1.25)
    p = Predictive(**params)
    short_p = sum(_short_minutes(p, loads)[last_day])
    short_h = sum(_short_minutes(HPA(min_replicas=1, max_replicas=40), loads)[last_day])
    assert p.period_ == 100              # 500 minutes in 5-minute buckets
    assert short_h >= 10                 # every burst finds the HPA with too few replicas
    assert short_p <= short_h / 2        # the predictive policy has them started when the burst comes
    restored = load_decider(json.loads(json.dumps(dump_decider(p))))   # the next run of the playbook
    assert (restored.period_, restored.cycle_start_, restored.cycle_) == (100, p.cycle_start_, p.cycle_)
    cost_h, dummy, dummy = _closed_loop(HPA(min_replicas=1, max_replicas=40), loads)
    cost_p, dummy, dummy = _closed_loop(Predictive(**params), loads)
    assert cost_p <= cost_h


def test_predictive_learns_its_errors_when_called_less_often_than_its_interval():
    # interval_seconds says 60 but the playbook runs every 5 minutes
    p = Predictive(min_replicas=1, max_replicas=40, interval_seconds=60, startup_seconds=60, metric_delay_seconds=30)
    replicas, d = 4, None
    for k in range(200):
        d = p.decide(obs(300.0 * k, replicas, 300.0 / replicas))
        replicas = d.desired
    assert d.details["forecast"]["level"] is not None   # scored forecasts, not the start-up margin
    assert d.desired == 3                                 # 300 rps / 100 per replica at target


# -- predictive: the budget against a shadow HPA ---------------------------------------

def _closed_loop(decider, loads, startup_steps=3, capacity=100.0, target=80.0):
    """The benchmark's rules in small: returns (replica-minutes, short minutes, replicas per minute).

    Every minute the decider sees the per-replica load of a minute ago (averaged
    over the replicas ready then); new replicas serve after startup_steps.
    """
    ready_at, ready_hist, counts, short = [0] * 4, [], [], 0
    for k, load in enumerate(loads):
        ready = sum(1 for s in ready_at if s <= k)
        seen = max(k - 1, 0)
        ready_seen = ready_hist[seen] if seen < k else ready
        d = decider.decide(obs(60.0 * k, len(ready_at), loads[seen] / max(ready_seen, 1), ready=ready, target=target))
        if d.desired > len(ready_at):
            ready_at += [k + startup_steps] * (d.desired - len(ready_at))
        else:
            ready_at = sorted(ready_at)[:d.desired]
        ready_hist.append(sum(1 for s in ready_at if s <= k))
        counts.append(len(ready_at))
        short += load > ready_hist[-1] * capacity
    return sum(counts), short, counts


def _noisy_days(days=3):
    # a daily wave with minute-to-minute noise and a few bursts: deterministic
    loads = []
    for minute in range(days * 1440):
        wave = 600.0 + 400.0 * math.sin(2 * math.pi * minute / 1440)
        noise = 120.0 * ((minute * 7919) % 17 / 8.0 - 1.0)
        burst = 500.0 if minute % 211 < 3 else 0.0
        loads.append(max(wave + noise + burst, 0.0))
    return loads


def test_shadow_hpa_runs_what_the_hpa_would_run():
    loads = _noisy_days(1)
    dummy, dummy_short, hpa_counts = _closed_loop(HPA(min_replicas=1, max_replicas=60), loads)
    shadow = _predictive.ShadowHPA(1, 60, startup_seconds=180, metric_delay_seconds=60, tolerance=0.1)
    shadow_counts = [shadow.step(60.0 * k, loads[max(k - 1, 0)] / 80.0, current=4) for k in range(len(loads))]
    assert shadow_counts == hpa_counts


def test_predictive_spends_no_more_than_the_hpa_and_is_short_less_often():
    # the steep daily ramp of _daily() with +-10 % minute-to-minute noise, four days
    loads = [load * (1.0 + 0.1 * ((k * 7919) % 17 / 8.0 - 1.0)) for k, load in enumerate(_daily(4))]
    params = dict(min_replicas=1, max_replicas=60, interval_seconds=60, startup_seconds=180,
                  metric_delay_seconds=60, headroom=1.25)
    cost_h, short_h, dummy = _closed_loop(HPA(min_replicas=1, max_replicas=60), loads)
    cost_p, short_p, dummy = _closed_loop(Predictive(**params), loads)
    assert cost_p <= cost_h
    assert short_p <= short_h / 2
    # without the budget the same forecasts buy their margin at a fixed price, whatever it costs
    cost_free, dummy, dummy = _closed_loop(Predictive(budget=False, violation_cost=1000.0, **params), loads)
    assert cost_free > cost_h


def test_predictive_savings_raise_the_price_of_a_violation_and_debts_lower_it():
    def last(**kw):
        p = Predictive(min_replicas=1, max_replicas=60, headroom=1.25, **kw)
        replicas, d = 10, None
        for k in range(600):   # a steady 800 rps, 100 per replica at target
            d = p.decide(obs(60.0 * k, replicas, 800.0 / replicas))
            replicas = d.desired
        return d.details["forecast"]
    calm = last()                     # the HPA keeps 8 replicas (25 % headroom), the forecast needs fewer
    assert calm["shadow_hpa"] == 8
    assert calm["budget_replica_hours"] > 0 and calm["price"] > 100.0
    costly = last(budget_share=0.5)   # allowed half of what the HPA spends: in debt
    assert costly["budget_replica_hours"] < 0 and costly["price"] < 100.0
    assert last(budget=False)["price"] == 100.0   # no budget: the fixed violation_cost


def test_predictive_converts_a_per_replica_value_with_the_replicas_ready_when_it_was_scraped():
    p = Predictive(min_replicas=1, max_replicas=20, metric_delay_seconds=60, interval_seconds=60,
                   startup_seconds=120)
    d = p.decide(obs(0.0, 2, 150.0))                    # 2 ready replicas at 150: 3 replicas at target 100
    assert d.details["metrics"]["m"]["demand"] == pytest.approx(3.0) and d.desired > 2
    total = d.desired
    p.decide(obs(60.0, total, 150.0, ready=2))          # the new replicas still start
    # now they serve, but the value was scraped a minute ago, when 2 did: still 300 rps
    d = p.decide(obs(120.0, total, 150.0, ready=total))
    assert d.details["metrics"]["m"]["demand"] == pytest.approx(3.0)


def test_predictive_state_stays_small_json():
    p = Predictive(min_replicas=1, max_replicas=60, headroom=1.25)
    replicas = 4
    for k, load in enumerate(_noisy_days(2)):
        replicas = p.decide(obs(60.0 * k, replicas, load / replicas)).desired
    text = json.dumps(dump_decider(p))
    assert len(text) < 1_000_000
    assert json.loads(text)["state"]["shadow"]["pods"]


def _calm_then_ramp(calm_minutes=1440, ramp_minutes=60, noise=0.02, step=40.0):
    # a steady 400 rps (+-2 % by default) for a day, then +40 rps (step) every minute for an hour, then steady
    def noisy(k):
        return 1.0 + noise * ((k * 7919) % 17 / 8.0 - 1.0)
    loads = [400.0 * noisy(k) for k in range(calm_minutes)]
    loads += [400.0 + step * (k + 1) for k in range(ramp_minutes)]
    return loads + [loads[-1]] * 60


def test_predictive_never_runs_below_the_load_it_has_seen():
    p = Predictive(min_replicas=1, max_replicas=60, headroom=1.25)
    replicas = 5
    for k, load in enumerate(_calm_then_ramp()):
        d = p.decide(obs(60.0 * k, replicas, load / replicas))
        seen = d.details["metrics"]["m"]["demand"]          # replicas at target (80 % of capacity)
        assert d.desired >= math.ceil(seen / 1.25 - 1e-9), (k, d.reason)
        replicas = d.desired


def test_predictive_is_surprised_by_a_ramp_its_record_did_not_foresee_and_catches_up():
    loads = _calm_then_ramp()
    params = dict(min_replicas=1, max_replicas=60, interval_seconds=60, startup_seconds=180,
                  metric_delay_seconds=60, headroom=1.25)
    predictive = Predictive(**params)
    surprised = []
    original = predictive.decide

    def decide(observation):
        d = original(observation)
        surprised.append(d.details.get("forecast", {}).get("surprised", False))
        return d
    predictive.decide = decide
    dummy, short_p, counts_p = _closed_loop(predictive, loads)
    dummy, short_h, counts_h = _closed_loop(HPA(min_replicas=1, max_replicas=60), loads)
    ramp = slice(1440, 1500)
    calm = slice(600, 1440)
    assert sum(surprised[calm]) < 0.25 * 840          # the calm day's noise is seldom a surprise,
    assert sum(counts_p[calm]) < sum(counts_h[calm])  # and those it has cost less than the HPA runs
    assert any(surprised[ramp])                       # the ramp does
    assert short_h >= 5                               # the HPA trails the ramp
    assert short_p <= short_h / 2
    assert counts_p[1445] > counts_h[1445]            # five minutes up the ramp, the predictive policy is ahead


def _in_debt(loads, debt):
    """Run the predictive policy on ``loads``, its budget in debt by ``debt`` of its cap from minute 1440 on."""
    p = Predictive(min_replicas=1, max_replicas=60, headroom=1.25)
    replicas, forecasts, desired = 5, [], []
    for k, load in enumerate(loads):
        if k >= 1440:
            p.budget_ = -debt * p.budget_seconds * max(p.fleet_, 1.0)
        d = p.decide(obs(60.0 * k, replicas, load / replicas))
        forecasts.append(d.details["forecast"])
        desired.append(d.desired)
        replicas = d.desired
    return forecasts, desired


@pytest.mark.parametrize("debt, cap", [(0.0, 2.0), (0.25, 1.5), (0.75, 1.0)])
def test_predictive_carries_a_noisy_rise_less_far_the_deeper_its_budget_is_in_debt(debt, cap):
    # a day with +-10 % noise, then a rise of 2 % a minute: most steps up the rise are within the noise
    forecasts, dummy = _in_debt(_calm_then_ramp(noise=0.1, step=8.0), debt)
    noisy = [f["surprise_cap"] for f in forecasts[1440:1500] if f["surprised"] and not f["ramp"]]
    assert len(noisy) > 10
    assert noisy == pytest.approx([cap] * len(noisy), abs=0.02)


@pytest.mark.parametrize("debt", [0.75, 1.0])
def test_predictive_carries_a_ramp_far_above_the_noise_ahead_of_the_load_deep_in_debt(debt):
    loads = _calm_then_ramp()   # +-2 % noise, then +40 rps (10 %) a minute
    forecasts, desired = _in_debt(loads, debt)
    seen = [math.ceil(load / 100.0 / 1.25 - 1e-9) for load in loads]   # 100 rps per replica at target
    onset = range(1440, 1446)   # the first six minutes, while the error scale is still the calm day's
    ramps = [forecasts[k]["surprise_cap"] for k in onset if forecasts[k]["ramp"]]
    assert len(ramps) >= 3 and set(ramps) == {2.0}          # carried as far as without debt
    assert all(desired[k] > seen[k - 1] for k in onset)     # ahead of the load seen a minute before
