#!/usr/bin/python
# Copyright: lepton.aiops contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: service_deploy
short_description: Run N replicas of a service on a Docker host, with health-gated rolling updates and rollback
description:
  - Runs O(replicas) containers of O(image) named C(<name>-<slot>), each
    publishing O(container_port) on O(bind_address) at port
    O(published_port_start) + slot, labelled C(lepton.service) and
    C(lepton.version).
  - A replica is up to date when its container spec (image id, environment,
    limits, healthcheck, security options ...) hashes to the desired one. On
    any change the module rolls. It starts O(batch_size) new replicas, waits
    until each answers O(readiness_path) with HTTP 200 (and Docker's
    healthcheck is not unhealthy), then gracefully stops as many old ones.
  - If a new replica is not ready within O(health_timeout), the rollout is
    rolled back (O(rollback)). The new replicas are removed and the retired
    old ones started again, so the old version keeps serving; the task fails
    and reports C(rolled_back=true).
  - A replica that stopped, or that Docker's healthcheck reports unhealthy,
    is replaced on the next run (stopped gracefully first, then started
    afresh in its slot and gated like any new replica).
  - Returns the endpoints of the ready replicas, for load balancers and
    Prometheus.
  - Containers run hardened by default; a read-only root filesystem with a
    tmpfs C(/tmp), all capabilities dropped, C(no-new-privileges), and a
    non-root user (see O(user)).
version_added: 0.1.0
author: lepton.aiops maintainers (@lepton-aiops)
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_docker
  - lepton.aiops.docker
  - lepton.aiops.docker.container
  - ansible.builtin.action_common_attributes
options:
  name:
    description: The service name; containers are C(<name>-<slot>).
    type: str
    required: true
  state:
    description: C(present) runs the replicas; C(absent) stops and removes every replica.
    type: str
    choices: [present, absent]
    default: present
  image:
    description: The image to run (must exist on the host). Required with O(state=present).
    type: str
  version:
    description: The version label; defaults to the image tag.
    type: str
  replicas:
    description: How many replicas to run.
    type: int
    default: 1
  bind_address:
    description: The host address the replicas' ports are published on.
    type: str
    default: 127.0.0.1
  published_port_start:
    description: Host port of slot 0; slot N publishes on this + N.
    type: int
    default: 18080
  container_port:
    description: The port the service listens on inside the container.
    type: int
    default: 8000
  command:
    description: Override the image command.
    type: list
    elements: str
  env:
    description: Environment variables.
    type: dict
    default: {}
  labels:
    description: Extra container labels.
    type: dict
    default: {}
  cpus:
    description: CPU limit in cores (for example C(0.5)).
    type: float
  memory:
    description: Memory limit (C(512m), C(2g) or bytes).
    type: str
  gpus:
    description: GPUs to give each replica, C(all) or a count (needs the NVIDIA runtime on the host).
    type: str
  readiness_path:
    description:
      - HTTP path probed on each new replica before it counts as ready.
      - Set to an empty string to rely on Docker's healthcheck status only.
    type: str
    default: /readyz
  readiness_scheme:
    description:
      - How O(readiness_path) is probed. With V(https) the replica's
        certificate is not verified, as the kubelet does not verify it for an
        HTTPS probe; the clients that use the replica (a load balancer with
        C(tls) upstreams) verify it.
    type: str
    choices: [http, https]
    default: http
  health_timeout:
    description: Seconds a new replica has to become ready before the rollout is rolled back.
    type: float
    default: 60
  batch_size:
    description: How many replicas are replaced at a time.
    type: int
    default: 1
  rollback:
    description: Roll back when a new replica does not become ready (otherwise the failed replicas are only removed).
    type: bool
    default: true
  retire:
    description:
      - Stop old replicas once new ones are ready. With V(false) the old
        replicas keep running and are returned in RV(retiring), so a load
        balancer can drop them before a second run with V(true) stops them.
    type: bool
    default: true
  stop_timeout:
    description: Seconds a replica has to drain and exit after SIGTERM before it is killed.
    type: int
    default: 15
  self_heal:
    description:
      - Let the service guard (the C(lepton.aiops.service_guard) role) start a
        replica of this service that stopped outside a rollout, for example
        after C(docker kill) or C(docker stop), which Docker's restart policy
        does not undo.
      - The module records the slots and config hash that should run in
        O(state_dir) after every successful run and holds a lock there while
        it changes containers, so the guard never interferes with a rollout.
    type: bool
    default: true
  state_dir:
    description:
      - Directory on the Docker host for the service records and locks that
        the service guard reads (C(<name>.json), C(<name>.lock)). Concurrent
        runs for the same service wait for each other on the lock.
      - The guard only sees records when the module runs on the Docker host
        itself (the usual case, with the local socket).
    type: path
    default: /var/lib/lepton/services
  restart_policy:
    description:
      - Docker restart policy. A replica that crashes comes back by itself;
        one stopped by C(docker kill) or C(docker stop) does not (Docker
        counts both as a manual stop), see O(self_heal).
    type: str
    choices: ['no', on-failure, always, unless-stopped]
    default: unless-stopped
  network:
    description: Docker network (network mode) to attach the replicas to.
    type: str
  user:
    description:
      - Run as this user (C(uid[:gid]) or name).
      - By default the image's user, unless the image runs as root (no C(USER), or C(root) or C(0)); then
        C(65534:65534) (nobody), so no replica runs as root unless asked to. Set C(root) to allow it.
    type: str
  tmpfs:
    description: tmpfs mounts, path to options.
    type: dict
    default: {/tmp: 'size=64m'}
  volumes:
    description:
      - Bind mounts and named volumes, C(SOURCE:TARGET[:ro|rw]) (C(rw) when
        no mode is given); SOURCE is an absolute host path or a volume name,
        TARGET an absolute path in the container.
      - Part of the replica spec, so a change rolls the replicas.
    type: list
    elements: str
    default: []
  security_opts:
    description: Docker security options.
    type: list
    elements: str
    default: [no-new-privileges]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Run three replicas of the inference service
  lepton.aiops.service_deploy:
    name: inference
    image: lepton/inference-demo:1.0
    replicas: 3
    published_port_start: 8101
    memory: 256m
    cpus: 0.5
  register: deployed

- name: Roll to 1.1 two replicas at a time, rolling back if they are not ready in 30 s
  lepton.aiops.service_deploy:
    name: inference
    image: lepton/inference-demo:1.1
    replicas: 3
    published_port_start: 8101
    batch_size: 2
    health_timeout: 30

- name: Serve HTTPS from the replicas, with a certificate issued for uid 10001 (lepton.aiops.pki)
  lepton.aiops.service_deploy:
    name: inference
    image: lepton/inference-demo:1.0
    replicas: 3
    published_port_start: 8101
    volumes: [/etc/lepton/pki/issued/inference-replicas:/run/tls:ro]
    env:
      INFERENCE_TLS_CERT: /run/tls/inference-replicas.crt
      INFERENCE_TLS_KEY: /run/tls/inference-replicas.key
    readiness_scheme: https

- name: Remove the service
  lepton.aiops.service_deploy:
    name: inference
    state: absent
"""

RETURN = r"""
endpoints:
  description: The ready replicas after the task (in check mode, the replicas serving now).
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Container name.
      type: str
    address:
      description: Host address the port is published on.
      type: str
    port:
      description: Host port.
      type: int
    version:
      description: Version label.
      type: str
    slot:
      description: Slot number.
      type: int
    container_id:
      description: Short container id.
      type: str
  sample: [{name: inference-0, address: 127.0.0.1, port: 8101, version: "1.0", slot: 0, container_id: 0123456789ab}]
retiring:
  description: Old replicas still running because O(retire=false).
  returned: success
  type: list
  elements: dict
actions:
  description: What was done, or would be done in check mode, in order.
  returned: always
  type: list
  elements: str
rolled_back:
  description: Whether a failed rollout was rolled back.
  returned: on failure
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lepton.aiops.plugins.module_utils._deploy import DEPLOY_ARGUMENT_SPEC, Deployer
from ansible_collections.lepton.aiops.plugins.module_utils._docker import DOCKER_ARGUMENT_SPEC, run_docker_module


def main():
    module = AnsibleModule(argument_spec=dict(DOCKER_ARGUMENT_SPEC, **DEPLOY_ARGUMENT_SPEC),
                           required_if=[('state', 'present', ['image'])], supports_check_mode=True)
    run_docker_module(module, lambda client, params, check_mode: Deployer(client, params).run(check_mode))


if __name__ == '__main__':
    main()
