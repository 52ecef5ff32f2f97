# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: autoscale_decision
short_description: The autoscaler's decision for a service in this run
description:
  - Returns the decision the C(lepton.aiops.autoscaler) callback made for each
    service named in the terms, from the C(lepton.aiops.service_metrics_info)
    results seen earlier in the same run.
  - A decision is a dictionary with C(service), C(host), C(policy),
    C(current), C(ready), C(desired), C(change) (V(up), V(down) or V(none)),
    C(hold), C(reason), C(time) and C(check_mode).
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
options:
  _terms:
    description: Service names.
    required: true
    type: list
    elements: str
  decisions_file:
    description:
      - The decisions file to read. The callback announces the running
        play's file in E(LEPTON_AUTOSCALE_DECISIONS); set this only to read
        another run's, for example C(<state_dir>/last_decisions.json).
    type: path
    env:
      - name: LEPTON_AUTOSCALE_DECISIONS
  default:
    description:
      - Returned for a service without a decision. Without it, a missing
        decision is an error.
    type: raw
notes:
  - Needs the C(lepton.aiops.autoscaler) callback enabled in C(ansible.cfg).
seealso:
  - plugin: lepton.aiops.autoscaler
    plugin_type: callback
"""

EXAMPLES = r"""
- name: Read the signals of the service
  lepton.aiops.service_metrics_info:
    services: [inference]

- name: Apply the decided replica count
  lepton.aiops.service_deploy:
    name: inference
    image: lepton/inference:1.0
    replicas: "{{ decision.desired }}"
  vars:
    decision: "{{ lookup('lepton.aiops.autoscale_decision', 'inference') }}"
  when: decision.change != 'none'
"""

RETURN = r"""
_raw:
  description: One decision per term.
  type: list
  elements: dict
  sample:
    - service: inference
      policy: predictive
      current: 2
      ready: 2
      desired: 4
      change: up
      hold: false
      reason: "forecast daily: peak 3.10 replicas at target, upper bound 3.60 (margin 0.50)"
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.lepton.aiops.plugins.plugin_utils._autoscale_run import read_decision

_UNSET = object()


class LookupModule(LookupBase):
    """Read the autoscaler callback's decisions."""

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        path = self.get_option("decisions_file")
        default = self.get_option("default") if "default" in kwargs else _UNSET
        if not path:
            raise AnsibleLookupError(
                "no autoscaler decisions in this run: enable the lepton.aiops.autoscaler callback "
                "(callbacks_enabled in ansible.cfg) and run lepton.aiops.service_metrics_info first")
        decisions = []
        for service in terms:
            try:
                decision = read_decision(path, str(service))
            except (OSError, ValueError) as exc:
                raise AnsibleLookupError(f"cannot read autoscaler decisions from {path}: {exc}") from exc
            if decision is None:
                if default is _UNSET:
                    raise AnsibleLookupError(f"the autoscaler has no decision for service {service!r} in {path}")
                decision = default
            decisions.append(decision)
        return decisions
