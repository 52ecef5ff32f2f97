#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: service_metrics_info
short_description: Read the signals of inference services from Prometheus
description:
  - For each service scraped by the C(lepton.aiops.prometheus) role, queries
    Prometheus at one instant for the request rate (in total and per
    replica), the p95 latency, the 5xx error ratio, CPU and memory per
    replica, and the number of replicas that are up and ready.
  - Returns plain JSON with the query timestamp. A Prometheus that cannot be
    reached, or that has no data about a service, gives C(ok=false) with the
    reason for that service, never zeros. The module itself fails only on
    invalid options.
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_monitoring
  - lepton.aiops.prometheus
options:
  services:
    description:
      - Services to report (the C(service) label the prometheus role puts on
        their targets). Empty means every service that has a scrape target.
      - A service named here that Prometheus does not know gets C(ok=false).
    type: list
    elements: str
    default: []
  job:
    description: The scrape job of the services.
    type: str
    default: lepton-services
  window:
    description:
      - Range of the C(rate()) and C(histogram_quantile()) queries, a
        Prometheus duration. Use at least four scrape intervals.
    type: str
    default: 1m
  probe_routes:
    description:
      - Values of the C(route) label (RE2 patterns) whose requests are health
        or readiness probes, not traffic. They are left out of
        RV(services.request_rate), RV(services.error_ratio) and
        RV(services.p95_latency_seconds), so that probes neither count as
        load nor make a draining replica's C(503) answers to its readiness
        probe look like errors.
      - The lepton.aiops.prometheus role leaves the same routes out of its
        rules (C(prometheus_probe_routes)).
      - An empty list counts every request.
    type: list
    elements: str
    default: [/healthz, /readyz]
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to diff.
notes:
  - Uses only the Python standard library on the managed host.
seealso:
  - name: The lepton.aiops.prometheus role
    description: Scrapes the services with the labels this module groups by.
    link: https://github.com/lepton-aiops/lepton.aiops/tree/main/roles/prometheus
"""

EXAMPLES = r"""
- name: Read the signals of the inference service
  lepton.aiops.service_metrics_info:
    url: http://127.0.0.1:9090
    services: [inference]
  register: metrics

- name: Scale out when each replica serves more than 50 requests per second
  ansible.builtin.debug:
    msg: "{{ metrics.services.inference.request_rate / metrics.services.inference.ready_replicas }}"
  when: metrics.services.inference.ok and metrics.services.inference.ready_replicas > 0
"""

RETURN = r"""
reason:
  description: Why Prometheus could not be asked at all, or null.
  returned: always
  type: str
  sample: "Prometheus at http://127.0.0.1:9090/api/v1/query is unreachable: [Errno 111] Connection refused"
timestamp:
  description: The instant (epoch seconds) every query was evaluated at.
  returned: always
  type: float
services:
  description: One record per service, keyed by service name.
  returned: always
  type: dict
  sample:
    inference:
      ok: true
      reason: null
      timestamp: 1764240000.0
      replicas: 2
      ready_replicas: 2
      ready_replica_names: [inference-1, inference-2]
      request_rate: 41.5
      request_rate_per_replica: {inference-1: 20.5, inference-2: 21.0}
      p95_latency_seconds: 0.042
      error_ratio: 0.0
      cpu_per_replica: {inference-1: 0.12, inference-2: 0.13}
      memory_per_replica: {inference-1: 31457280.0, inference-2: 31981568.0}
  contains:
    ok:
      description: Whether the record holds data; when false, the numbers are null or empty.
      type: bool
    reason:
      description: Why C(ok) is false, else null.
      type: str
    timestamp:
      description: The instant the queries were evaluated at (epoch seconds).
      type: float
    replicas:
      description: Scrape targets of the service; null when Prometheus could not be asked or has no target for it.
      type: int
    ready_replicas:
      description:
        - Targets that are up and report C(inference_ready) 1 (or do not report it).
        - Null when Prometheus could not be asked or has no target for the service.
      type: int
    ready_replica_names:
      description:
        - The C(replica) labels of the ready targets counted in RV(services.ready_replicas), sorted.
        - The C(lepton.aiops.autoscaler) callback leaves the CPU of the other replicas out, as a
          Kubernetes HorizontalPodAutoscaler sets aside pods that are not yet ready when it scales on CPU.
        - Null when Prometheus could not be asked or has no target for the service.
      type: list
      elements: str
    request_rate:
      description:
        - Requests per second over O(window), all replicas, probes left out (see O(probe_routes)).
        - 0 when the replicas have answered only probes; null when they have answered nothing yet.
      type: float
    request_rate_per_replica:
      description: Requests per second of each replica.
      type: dict
    p95_latency_seconds:
      description: 95th percentile request duration from the histogram; null without traffic.
      type: float
    error_ratio:
      description: Share of 5xx answers (0 to 1); null when there was no traffic.
      type: float
    cpu_per_replica:
      description: CPU cores used by each replica.
      type: dict
    memory_per_replica:
      description: Resident memory of each replica in bytes.
      type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lepton.aiops.plugins.module_utils._prometheus_api import PROMETHEUS_ARGUMENT_SPEC, client_from_params
from ansible_collections.lepton.aiops.plugins.module_utils._service_metrics import PROBE_ROUTES, collect


def main():
    module = AnsibleModule(
        argument_spec=dict(
            PROMETHEUS_ARGUMENT_SPEC,
            services=dict(type="list", elements="str", default=[]),
            job=dict(type="str", default="lepton-services"),
            window=dict(type="str", default="1m"),
            probe_routes=dict(type="list", elements="str", default=list(PROBE_ROUTES)),
        ),
        required_together=[["client_cert", "client_key"]],
        supports_check_mode=True,
    )
    p = module.params
    services, reason, timestamp = collect(client_from_params(p), p["services"], job=p["job"],
                                          window=p["window"], probe_routes=p["probe_routes"])
    module.exit_json(changed=False, services=services, reason=reason, timestamp=timestamp)


if __name__ == "__main__":
    main()
