#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: anomaly_detect
short_description: Find anomalous services in metric series, inline or from Prometheus
description:
  - Reads one metric series per service, either given inline or from a Prometheus range query (one series
    per label set), learns a baseline and reports which services are anomalous, which are anomalous now,
    and whether the system as a whole is.
  - The default C(gaussian) detector is the product's explainable model. Each series i is modelled as
    N(mu_i, sigma_i^2) learned on the first O(baseline_ratio) of its points; its threshold is
    T_i = mu_i + sigma_i * z_alpha with z_alpha the standard normal O(alpha)-quantile; a point above T_i
    (or outside mu_i +/- sigma_i * z when O(two_sided)) is anomalous.
  - System level, B(assuming the services are independent), the probability that no service exceeds its
    threshold is the product over services of Pr(X_i < T_i). For the latest point x_i of each series the
    module uses Pr(X_i < T_i) = Phi((T_i - x_i) / sigma_i), which equals O(alpha) for a service at its mean
    and 0.5 at its threshold. The system is anomalous when the product falls below O(system_level).
    Correlated services make this product pessimistic.
  - A Prometheus that cannot be reached, answers with an error, or returns no data gives
    C(inconclusive=true) with the reason, never a healthy answer and never a failure. A series too short
    for its baseline is inconclusive on its own, and so is a series too short for an online detector to warm
    up, since it scores nothing while it learns. V(ewma) and V(rolling_zscore) learn from the first 10 usable
    points, V(novelty) from the first 114, and score only the points after them.
  - Runs where it is delegated to, usually the controller with C(delegate_to=localhost); needs numpy and scipy there.
version_added: 0.1.0
author: lepton.aiops contributors (@lepton-aiops)
requirements:
  - numpy
  - scipy
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_monitoring
  - lepton.aiops.prometheus
options:
  series:
    description:
      - Inline series, a mapping from service name to a list of C([timestamp, value]) pairs (Unix seconds or
        ISO 8601 times) or of plain values. A C(null) value is a gap.
      - Mutually exclusive with O(query).
    type: dict
  query:
    description: PromQL expression; every label set of the range query result is one series.
    type: str
  start:
    description: Start of the range query, Unix seconds or ISO 8601. Default O(end) minus O(lookback).
    type: str
  end:
    description: End of the range query, Unix seconds or ISO 8601. Default now.
    type: str
  lookback:
    description: Length of the range when O(start) is not given, seconds or a duration such as C(30m), C(6h), C(1d).
    type: str
    default: 1h
  step:
    description: Query resolution, seconds or a duration. Default the range divided by 600.
    type: str
  detector:
    description:
      - V(gaussian) mean and standard deviation of the baseline; V(robust) median and scaled MAD;
        V(seasonal) one robust baseline per slot of O(period); V(ewma) exponentially weighted z-score;
        V(rolling_zscore) z-score against the previous O(window) points; V(novelty) the online detector
        of the NAB benchmark (rolling z and the distance of the recent shape to its nearest earlier match, how much
        quieter the recent stretch is than usual and, on a series with a clear period learned online, the distance
        to the same phase one period earlier, each ranked against its own history, with suppression). An incident
        V(novelty) reported is no match for the next shape until it recurs, and a huge outlier does not widen what
        it learns as normal.
      - For the online detectors (V(ewma), V(rolling_zscore), V(novelty)) the baseline only warms them up; they
        have no threshold band.
    type: str
    choices: [gaussian, robust, seasonal, ewma, rolling_zscore, novelty]
    default: gaussian
  alpha:
    description:
      - Confidence of the threshold, strictly between 0 and 1. For V(novelty), the score (1 - tail probability)
        a point must reach.
    type: float
    default: 0.99
  two_sided:
    description: Also flag points below the lower threshold (V(gaussian), V(robust), V(seasonal)).
    type: bool
    default: false
  baseline_ratio:
    description: Fraction of each series (oldest points) used as baseline; the rest is evaluated.
    type: float
    default: 0.75
  min_baseline:
    description: Fewest usable baseline points for V(gaussian) and V(robust); fewer makes the series inconclusive.
    type: int
    default: 10
  sigma_floor:
    description: Smallest sigma used, so that a constant baseline does not flag every tiny change.
    type: float
    default: 0.0
  period:
    description: Season of V(seasonal), seconds or a duration (C(1d), C(1w)).
    type: str
    default: 1d
  slots:
    description: Number of slots per O(period) for V(seasonal).
    type: int
    default: 24
  halflife:
    description: Half-life in points of V(ewma).
    type: float
    default: 50
  window:
    description:
      - Points of history of V(rolling_zscore) and V(novelty).
      - Below 10 V(rolling_zscore), and below 57 V(novelty), never warm up and every series is inconclusive.
    type: int
    default: 1000
  suppress:
    description: Points after a report during which V(novelty) only reports more surprising points.
    type: int
    default: 100
  recent_points:
    description:
      - A series is anomalous now when one of its last O(recent_points) evaluated points is.
      - For V(novelty) a point counts here when its score before suppression reaches O(alpha). V(novelty) flags
        the onset of a change and lists only the start of each incident; a level that persists becomes its new
        normal. To ask whether a service is still beyond its baseline, use V(gaussian) or V(robust).
    type: int
    default: 3
  system_level:
    description: The system is anomalous when the probability that no service exceeds its threshold is below this.
    type: float
    default: 0.5
  max_anomalies:
    description: Most recent anomalous points returned per series (all are counted).
    type: int
    default: 50
  report:
    description:
      - Write a self-contained HTML page (inline SVG) showing each series, its baseline, its threshold band
        (V(gaussian), V(robust), V(seasonal)) and anomalies to this path (0644). The task reports a change when the page differs from the file.
        Not written in check mode, but the change is predicted.
    type: path
attributes:
  check_mode:
    support: full
    description: The module only reads; in check mode it does not write O(report) but says whether it would change.
  diff_mode:
    support: none
    description: Nothing on the target changes.
notes:
  - Series with gaps are handled point by point; NaN points are never anomalous.
seealso:
  - name: The lepton.aiops.anomaly_rules filter
    description: Turns the baselines this module learns into Prometheus alerting rules.
    link: https://github.com/lepton-aiops/lepton.aiops/blob/main/plugins/filter/anomaly_rules.py
"""

EXAMPLES = r"""
- name: Check the p95 latency of every service over the last 6 hours
  lepton.aiops.anomaly_detect:
    url: http://127.0.0.1:9090
    query: histogram_quantile(0.95, sum by (service, le) (rate(lepton_request_duration_seconds_bucket[5m])))
    lookback: 6h
    alpha: 0.99
    report: /var/tmp/latency-anomalies.html
  delegate_to: localhost
  register: latency

- name: Stop the rollout when a service misbehaves
  ansible.builtin.fail:
    msg: "{{ latency.summary }}"
  when: latency.anomalous

- name: Inline series with the robust detector
  lepton.aiops.anomaly_detect:
    series:
      api: [[1700000000, 10.1], [1700000060, 9.8], [1700000120, 10.3]]
      worker: [5.0, 5.2, 4.9, 5.1]
    detector: robust
    baseline_ratio: 0.5
    min_baseline: 2
  delegate_to: localhost
"""

RETURN = r"""
anomalous:
  description: True when a series is anomalous now or the system probability is below O(system_level). False when inconclusive.
  returned: always
  type: bool
inconclusive:
  description: >-
    True when no series could be evaluated (Prometheus unreachable, no data, baselines too short, series too short
    for an online detector to warm up).
  returned: always
  type: bool
status:
  description: One of V(anomalous), V(normal), V(inconclusive).
  returned: always
  type: str
reason:
  description: Why the answer is inconclusive, else null.
  returned: always
  type: str
summary:
  description: One line for humans.
  returned: always
  type: str
  sample: "ANOMALOUS: 1 of 3 series anomalous now (api); system probability 0.0021 (alert below 0.5)"
detector:
  description: The detector used.
  returned: always
  type: str
system:
  description: System level view.
  returned: always
  type: dict
  contains:
    probability:
      description: Product over evaluated series of Pr(latest point within threshold); null without data.
      type: float
    expected_probability:
      description: The product for a quiet system, O(alpha) to the number of series.
      type: float
    level:
      description: O(system_level).
      type: float
    anomalous:
      description: probability < level.
      type: bool
    services:
      description: Number of series in the product.
      type: int
series:
  description: One entry per series.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Service name (inline) or the label set in PromQL notation.
      type: str
    labels:
      description: Prometheus labels of the series (empty for inline series).
      type: dict
    points:
      description: Number of points of the series (the baseline included).
      type: int
    baseline_points:
      description: Number of points the baseline was learned on.
      type: int
    summary:
      description: One line for humans about this series.
      type: str
    anomalous_now:
      description: One of the last O(recent_points) evaluated points is anomalous.
      type: bool
    anomalies:
      description: Anomalous points after the baseline, the latest O(max_anomalies), with C(timestamp), C(value), C(score).
      type: list
      elements: dict
    anomaly_count:
      description: All anomalous points after the baseline.
      type: int
    baseline:
      description:
        - What was learned, for example C(mu), C(sigma), C(threshold), C(lower_threshold) (null when one-sided)
          for V(gaussian) and V(robust).
        - For the online detectors, C(warmup_points), the usable points they learn from before they score one.
      type: dict
    probability_within:
      description: Pr(latest point within threshold).
      type: float
    last:
      description: Latest evaluated point with C(timestamp), C(value), C(score).
      type: dict
    inconclusive:
      description: The series could not be evaluated; see C(reason).
      type: bool
    reason:
      description: Why the series is inconclusive.
      type: str
report:
  description: Path of the HTML report (in check mode, the one that would be written).
  returned: when O(report) is set
  type: str
"""


from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lepton.aiops.plugins.module_utils import _anomaly_detect as ad
from ansible_collections.lepton.aiops.plugins.module_utils._anomaly_report import render, update_report
from ansible_collections.lepton.aiops.plugins.module_utils._prometheus_api import PROMETHEUS_ARGUMENT_SPEC, PrometheusError, client_from_params

SPEC = dict(
    PROMETHEUS_ARGUMENT_SPEC, series=dict(type="dict"), query=dict(type="str"),
    start=dict(type="str"), end=dict(type="str"), lookback=dict(type="str", default="1h"), step=dict(type="str"),
    detector=dict(type="str", default="gaussian", choices=list(ad.DETECTORS)),
    alpha=dict(type="float", default=0.99), two_sided=dict(type="bool", default=False),
    baseline_ratio=dict(type="float", default=0.75), min_baseline=dict(type="int", default=10),
    sigma_floor=dict(type="float", default=0.0), period=dict(type="str", default="1d"), slots=dict(type="int", default=24),
    halflife=dict(type="float", default=50), window=dict(type="int", default=1000), suppress=dict(type="int", default=100),
    recent_points=dict(type="int", default=3), system_level=dict(type="float", default=0.5),
    max_anomalies=dict(type="int", default=50), report=dict(type="path"),
)


def main():
    module = AnsibleModule(argument_spec=SPEC, mutually_exclusive=[("series", "query")],
                           required_one_of=[("series", "query")], supports_check_mode=True)
    if not ad.HAS_NUMERIC:
        module.fail_json(msg=missing_required_lib("numpy and scipy"), exception=str(ad.NUMERIC_ERROR))
    p = module.params
    try:
        opts = {k: p[k] for k in ("alpha", "two_sided", "baseline_ratio", "min_baseline", "sigma_floor", "slots", "halflife",
                                  "window", "suppress", "recent_points", "system_level", "max_anomalies")}
        opts["period"] = ad.duration(p["period"])
        if not 0.0 < opts["alpha"] < 1.0 or not 0.0 <= opts["baseline_ratio"] < 1.0:
            raise ad.AnomalyError("alpha must be in (0, 1) and baseline_ratio in [0, 1).")
        if p["series"] is not None:
            data = ad.from_inline(p["series"])
        else:
            start, end, step = ad.prometheus_window(p["start"], p["end"], p["lookback"], p["step"])
            data = ad.from_prometheus(client_from_params(p), p["query"], start, end, step, PrometheusError)
        result, arrays = ad.analyse(data, p["detector"], opts)
    except ad.Inconclusive as exc:
        result, arrays = ad.inconclusive(str(exc), p["detector"], p["system_level"]), []
    except (ad.AnomalyError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    changed = False
    if p["report"]:
        page = render(result, arrays, title="Anomaly report: %s" % (p["query"] or "inline series"))
        try:
            changed = update_report(p["report"], page, module.check_mode)
        except OSError as exc:
            module.fail_json(msg=str(exc))
        result["report"] = p["report"]
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
