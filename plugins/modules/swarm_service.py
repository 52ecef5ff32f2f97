#!/usr/bin/python
# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: swarm_service
short_description: Run a replicated Docker Swarm service for an inference image, with Swarm's rolling updates and rollback
description:
  - Creates, updates or removes the replicated Swarm service O(name) running
    O(replicas) tasks of O(image). The module must run against a Swarm
    manager; it never initialises or joins a swarm itself.
  - The desired spec is compared with the one Docker stores, field by field
    and only for the fields the module manages; the service is updated only
    when one differs. Check mode reports what would change, C(--diff) shows
    the managed fields before and after.
  - Swarm rolls the tasks itself, by default one at a time, starting the new
    task before stopping the old one (O(update_config.order=start-first)), and
    rolls back to the previous spec when a new task fails or does not become
    healthy (O(update_config.failure_action=rollback)). With O(wait=true) the
    module waits until all tasks of the new spec run and are healthy, and fails
    with RV(rolled_back=true) and Swarm's reason when Swarm rolled back.
  - The image is pinned to its local image id by default (O(pin_image)), so a
    rebuilt tag rolls the service and a single-node swarm needs no registry.
  - Tasks run hardened by default, as far as Swarm supports it; a read-only
    root filesystem with a tmpfs C(/tmp) and all capabilities dropped.
    C(no-new-privileges) is not available for Swarm services on Engine API
    1.41. Tasks run as a non-root user (see O(user)).
  - The endpoint mode defaults to C(dnsrr) and ports are published in Swarm's
    C(host) mode only, because the routing mesh (VIP and ingress publishing)
    needs IPVS in the kernel.
version_added: 0.2.0
author: lepton.aiops maintainers (@lepton-aiops)
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_docker
  - lepton.aiops.docker
  - lepton.aiops.docker.swarm
  - lepton.aiops.docker.container
  - ansible.builtin.action_common_attributes
options:
  name:
    description: The service name.
    type: str
    required: true
  state:
    description: C(present) runs the service; C(absent) removes it and its tasks.
    type: str
    choices: [present, absent]
    default: present
  image:
    description: The image the tasks run. Required with O(state=present).
    type: str
  pin_image:
    description:
      - Run the image by its local image id, read on the manager. The image
        must exist there (the task fails with a clear message otherwise), a
        rebuilt tag rolls the service, and Swarm never tries a registry.
      - With V(false) the tasks run O(image) as given and every node pulls it
        from its registry; use this on a swarm of several nodes.
    type: bool
    default: true
  version:
    description: The version label C(lepton.version) of the tasks; defaults to the image tag.
    type: str
  replicas:
    description: How many tasks to run.
    type: int
    default: 1
  command:
    description: Override the image command (Swarm's C(Args)).
    type: list
    elements: str
  env:
    description: Environment variables.
    type: dict
    default: {}
  labels:
    description: Labels of the service and of its tasks' containers.
    type: dict
    default: {}
  container_port:
    description: The port the service listens on inside the container; published when O(published_port) is set.
    type: int
    default: 8000
  published_port:
    description:
      - Publish O(container_port) in Swarm's C(host) mode, on the node that
        runs the task. Not set publishes nothing.
      - V(0) lets Docker pick a free host port for each task; the ports are in
        RV(tasks[].published_ports).
      - A fixed port binds it on the node, so a node runs at most one task of
        the service; the module refuses more replicas than ready nodes (with
        start-first updates, as many replicas as nodes).
    type: int
  networks:
    description:
      - Swarm-scoped (overlay) networks to attach the tasks to, by name. They
        must exist; the module creates none.
    type: list
    elements: str
    default: []
  endpoint_mode:
    description:
      - How other services find the tasks. C(dnsrr) answers the service name
        with the task addresses; C(vip) gives a virtual IP, which needs IPVS
        in the kernel.
    type: str
    choices: [dnsrr, vip]
    default: dnsrr
  cpus:
    description: CPU limit per task in cores (for example C(0.5)).
    type: float
  memory:
    description: Memory limit per task (C(512m), C(2g) or bytes).
    type: str
  user:
    description:
      - Run as this user (C(uid[:gid]) or name).
      - By default the image's user, unless the image runs as root (no C(USER), or C(root) or C(0)); then
        C(65534:65534) (nobody), so no replica runs as root unless asked to. Set C(root) to allow it.
      - With O(pin_image=false) and the image not on the manager, the image's user (it cannot be read).
    type: str
  tmpfs:
    description: tmpfs mounts, path to options; Swarm supports the C(size) option only.
    type: dict
    default: {/tmp: 'size=64m'}
  stop_grace_period:
    description: Seconds a task has to drain and exit after SIGTERM before it is killed.
    type: float
    default: 15
  update_config:
    description: How Swarm rolls the tasks to a new spec.
    type: dict
    suboptions:
      parallelism:
        description: Tasks replaced at a time (V(0) all at once).
        type: int
        default: 1
      delay:
        description: Seconds between two batches.
        type: float
        default: 0
      failure_action:
        description: What Swarm does when a task fails or is not healthy within the monitor period.
        type: str
        choices: [continue, pause, rollback]
        default: rollback
      monitor:
        description: Seconds Swarm watches each new task for a failure after it started.
        type: float
        default: 5
      max_failure_ratio:
        description: Share of tasks that may fail without counting as a failure.
        type: float
        default: 0
      order:
        description: V(start-first) starts the new task before stopping the old one (no capacity drop); V(stop-first) stops first.
        type: str
        choices: [start-first, stop-first]
        default: start-first
  rollback_config:
    description: How Swarm rolls the tasks back to the previous spec after a failed update.
    type: dict
    suboptions:
      parallelism:
        description: Tasks rolled back at a time (V(0) all at once).
        type: int
        default: 1
      delay:
        description: Seconds between two batches.
        type: float
        default: 0
      failure_action:
        description: What Swarm does when a task fails or is not healthy within the monitor period.
        type: str
        choices: [continue, pause]
        default: pause
      monitor:
        description: Seconds Swarm watches each new task for a failure after it started.
        type: float
        default: 5
      max_failure_ratio:
        description: Share of tasks that may fail without counting as a failure.
        type: float
        default: 0
      order:
        description: V(start-first) starts the new task before stopping the old one (no capacity drop); V(stop-first) stops first.
        type: str
        choices: [start-first, stop-first]
        default: stop-first
  wait:
    description:
      - After a change, wait until exactly O(replicas) tasks of the new spec
        run and are healthy. Fails when Swarm rolled the update back, paused
        it, or when O(wait_timeout) passes.
      - With O(state=absent), wait until the containers of the tasks on this
        node are gone.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for O(wait).
    type: float
    default: 120
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
seealso:
  - module: lepton.aiops.service_deploy
    description: Replicas on a plain Docker host, without Swarm.
"""

EXAMPLES = r"""
- name: Run two tasks of the inference service, a free host port each
  lepton.aiops.swarm_service:
    name: inference
    image: lepton/inference-demo:1.0
    replicas: 2
    published_port: 0
    memory: 256m
    cpus: 0.5
  register: deployed

- name: Roll to 1.1 one task at a time, new task first; fail if Swarm rolls back
  lepton.aiops.swarm_service:
    name: inference
    image: lepton/inference-demo:1.1
    replicas: 2
    published_port: 0
    memory: 256m
    cpus: 0.5
    update_config:
      parallelism: 1
      monitor: 10
    wait_timeout: 180

- name: Attach to an existing overlay network, found by name with DNS round robin
  lepton.aiops.swarm_service:
    name: inference
    image: registry.example.com/lepton/inference:1.1
    pin_image: false
    replicas: 4
    networks: [inference-net]

- name: Remove the service
  lepton.aiops.swarm_service:
    name: inference
    state: absent
"""

RETURN = r"""
service:
  description: The service after the task (in check mode, as it is now); null when there is none.
  returned: success
  type: dict
  contains:
    id:
      description: Service id.
      type: str
    name:
      description: Service name.
      type: str
    version:
      description: The version index of the service object (it grows with every change).
      type: int
    update_status:
      description: Swarm's C(UpdateStatus) of the service (C(State), C(Message) ...), when there was an update.
      type: dict
  sample: {id: jxzrf0fbymieck787dwue41va, name: inference, version: 42, update_status: {State: completed}}
tasks:
  description: The tasks that should run (Swarm's desired state C(running)), by slot.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Task id.
      type: str
    slot:
      description: Slot number.
      type: int
    state:
      description: Task state (C(running) once healthy, C(starting), C(pending) ...).
      type: str
    desired_state:
      description: The state Swarm wants for the task.
      type: str
    created:
      description: When Swarm created the task (RFC 3339).
      type: str
    node:
      description: Host name of the node the task is on.
      type: str
    container_id:
      description: Short id of the task's container on that node.
      type: str
    version:
      description: The C(lepton.version) label of the task.
      type: str
    spec_hash:
      description: Hash of the task-level spec the task runs.
      type: str
    published_ports:
      description: Host ports the task publishes on its node.
      type: list
      elements: int
    message:
      description: Swarm's last message or error for the task.
      type: str
  sample: [{id: kl5ulira6ge2, slot: 1, state: running, desired_state: running, node: node-1,
            container_id: 07af5b4187dd, version: "1.0", spec_hash: 3f2a9c0d1e2b4a5c, published_ports: [32768],
            message: started}]
changed_fields:
  description: The managed fields that differ (or would) from the service as it was.
  returned: always
  type: list
  elements: str
  sample: [image, image_ref, version]
rolled_back:
  description: Whether Swarm rolled the update back to the previous spec (the task then fails).
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lepton.aiops.plugins.module_utils._docker import DOCKER_ARGUMENT_SPEC, run_docker_module
from ansible_collections.lepton.aiops.plugins.module_utils._swarm import SWARM_ARGUMENT_SPEC, SwarmClient, SwarmService


def main():
    module = AnsibleModule(argument_spec=dict(DOCKER_ARGUMENT_SPEC, **SWARM_ARGUMENT_SPEC),
                           required_if=[('state', 'present', ['image'])], supports_check_mode=True)
    run_docker_module(module, lambda client, params, check_mode: SwarmService(SwarmClient(client), params).run(check_mode))


if __name__ == '__main__':
    main()
