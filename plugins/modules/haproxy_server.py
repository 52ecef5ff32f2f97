#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_server
short_description: Set an HAProxy server's weight and state (ready, drain, maintenance) without a reload
description:
  - Talks to the HAProxy runtime API (the admin stats socket that the P(lepton.aiops.haproxy_lb#role) role binds)
    and changes one server of one backend while HAProxy keeps running.
  - Idempotent; reads the server first and only sends the commands that change something.
  - The P(lepton.aiops.haproxy_lb#role) role saves the server state before each reload, so changes made here survive
    a reload; a server removed from the configuration loses them.
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
options:
  socket:
    description: The runtime API socket, a unix socket path or C(host:port) (level admin).
    type: str
    required: true
  backend:
    description: Backend name (the upstream name in the role).
    type: str
    required: true
  name:
    description: Server name (the replica name from M(lepton.aiops.service_deploy)).
    type: str
    required: true
  state:
    description:
      - V(ready) takes traffic, V(drain) takes no new traffic but finishes what it has, V(maint) takes none.
      - Omit to leave the state unchanged.
    type: str
    choices: [ready, drain, maint]
  weight:
    description: Weight 0-256 (relative share of new requests). Omit to leave it unchanged.
    type: int
  wait_drained:
    description: With O(state=drain) or O(state=maint), wait up to this many seconds until the server has no sessions.
    type: float
    default: 0
  timeout:
    description: Socket timeout in seconds.
    type: float
    default: 5
attributes:
  check_mode:
    description: Reports the commands it would send without sending them.
    support: full
  diff_mode:
    description: Shows the server's state and weight before and after.
    support: full
"""

EXAMPLES = r"""
- name: Send a tenth of the traffic to the canary
  lepton.aiops.haproxy_server:
    socket: /run/lepton/lepton-haproxy-lb/admin.sock
    backend: inference
    name: inference-3
    weight: 10

- name: Drain a replica before stopping it
  lepton.aiops.haproxy_server:
    socket: /run/lepton/lepton-haproxy-lb/admin.sock
    backend: inference
    name: inference-2
    state: drain
    wait_drained: 30
"""

RETURN = r"""
server:
  description: The server after the change (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    backend:
      description: Backend name.
      type: str
    name:
      description: Server name.
      type: str
    address:
      description: Server address.
      type: str
    state:
      description: Administrative state, V(ready), V(drain) or V(maint).
      type: str
    weight:
      description: Current weight.
      type: int
    operational:
      description: Health as HAProxy sees it, V(up), V(down), V(starting) or V(stopping).
      type: str
  sample: {backend: inference, name: inference-2, address: 127.0.0.1, state: drain, weight: 1, operational: up}
commands:
  description: The runtime API commands sent (or that would be sent in check mode).
  returned: success
  type: list
  elements: str
  sample: [set server inference/inference-2 state drain]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lepton.aiops.plugins.module_utils._haproxy_runtime import (
    HAProxyError, HAProxyRuntime, STATES, compare, desired_state)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="str", required=True), backend=dict(type="str", required=True),
            name=dict(type="str", required=True), state=dict(type="str", choices=list(STATES)),
            weight=dict(type="int"), wait_drained=dict(type="float", default=0),
            timeout=dict(type="float", default=5)),
        supports_check_mode=True)
    p = module.params
    api = HAProxyRuntime(p["socket"], p["timeout"])
    try:
        before = api.server(p["backend"], p["name"])
        after = desired_state(before, p["state"], p["weight"])
        commands = compare(before, after)
        if commands and not module.check_mode:
            api.apply(commands)
            after = api.server(p["backend"], p["name"])
        if p["wait_drained"] and p["state"] in ("drain", "maint") and not module.check_mode:
            api.wait_drained(p["backend"], p["name"], p["wait_drained"])
    except (HAProxyError, ValueError) as exc:
        module.fail_json(msg=str(exc))
    result = dict(changed=bool(commands), server=after, commands=commands)
    if module._diff:
        result["diff"] = dict(before=before, after=after)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
