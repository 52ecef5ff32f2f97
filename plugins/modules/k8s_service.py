#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_service
short_description: Deploy one service on Kubernetes with zero-downtime rolling updates, probes and hardening
version_added: 0.1.0
description:
  - The Kubernetes counterpart of M(lepton.aiops.service_deploy). Renders a
    Deployment and a Service for one service, and on request a
    HorizontalPodAutoscaler (C(autoscaling/v2)), a PodDisruptionBudget and a
    NetworkPolicy, all named O(name) and labelled
    C(app.kubernetes.io/name=<name>) and C(app.kubernetes.io/managed-by=lepton.aiops).
  - Applies them with server-side apply (field manager C(lepton.aiops)).
    Before each apply it asks the API server for a dry run (C(dryRun=All))
    and compares the result with the live object, so the task reports a
    change only when the cluster would actually change, and check mode asks
    the same dry run and applies nothing.
  - Without O(kubeconfig) and O(host) it connects as the kubernetes client
    does by default, E(KUBECONFIG) or C(~/.kube/config), then the in-cluster
    service account.
  - An HPA, PDB or NetworkPolicy that is no longer requested is deleted if it
    carries the C(app.kubernetes.io/managed-by=lepton.aiops) label.
  - Pods run hardened. C(runAsNonRoot) with O(run_as_user), seccomp
    C(RuntimeDefault), a read-only root filesystem with an C(emptyDir) on
    C(/tmp), all capabilities dropped, no privilege escalation and no
    service account token.
  - With O(wait=true) the task waits until the Deployment is rolled out. That
    means the controller has observed the current generation and the updated,
    available and total replica counts all equal the desired count. It fails
    when the C(Progressing) condition reports C(ProgressDeadlineExceeded) or
    O(wait_timeout) passes. With O(rollback_on_failure=true) a failed update
    is rolled back to the previous ReplicaSet's pod template (what
    C(kubectl rollout undo) does), and the failure reports C(rolled_back=true).
  - "What has been tested: the rendered manifests are validated against the
    official Kubernetes 1.30 JSON schemas (the C(kubernetes-validate)
    package) for every option combination in the unit tests, and the apply,
    dry-run, wait and rollback logic is unit-tested against a fake
    DynamicClient. The module has B(not) been run against a real cluster or
    API server."
author: lepton.aiops maintainers (@lepton-aiops)
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_security
  - lepton.aiops.kubernetes
requirements:
  - kubernetes >= 24.2
attributes:
  check_mode:
    support: full
    description: Server-side dry runs (C(dryRun=All)) predict every change; nothing is written.
  diff_mode:
    support: full
    description: Shows each changed object before and after, as the API server would store it.
options:
  name:
    description: Service name; the name of every object. A DNS-1123 label.
    type: str
    required: true
  namespace:
    description: Namespace of the objects (it must exist). A DNS-1123 label.
    type: str
    default: default
  state:
    description: V(present) creates or updates the objects; V(absent) deletes all five kinds named O(name).
    type: str
    choices: [present, absent]
    default: present
  image:
    description: Container image. Required with O(state=present).
    type: str
  replicas:
    description: Desired number of pods. Ignored (left to the autoscaler) when O(hpa) is set.
    type: int
    default: 1
  env:
    description:
      - Environment variables; values become strings (V(true) becomes C("true")).
      - The values appear in the manifests, the diff and the result. Keep secrets out of them.
    type: dict
    default: {}
  labels:
    description: Extra labels on every object and on the pods. The selector is always C(app.kubernetes.io/name).
    type: dict
    default: {}
  container_port:
    description: Port the service listens on in the container (named C(http)).
    type: int
    default: 8000
  service_port:
    description: Port of the Service, forwarded to O(container_port).
    type: int
    default: 80
  service_type:
    description: Type of the Service.
    type: str
    choices: [ClusterIP, NodePort, LoadBalancer]
    default: ClusterIP
  resources:
    description: CPU and memory requests and limits of the container, as Kubernetes quantities.
    type: dict
    suboptions:
      cpu_request:
        description: CPU request, for example V(250m). Needed by O(hpa).
        type: str
        default: 100m
      cpu_limit:
        description: CPU limit; none by default (throttling hurts latency more than it protects).
        type: str
      memory_request:
        description: Memory request.
        type: str
        default: 128Mi
      memory_limit:
        description: Memory limit.
        type: str
        default: 256Mi
  readiness_path:
    description: HTTP path of the readiness probe on O(container_port); an empty string disables it.
    type: str
    default: /readyz
  liveness_path:
    description: HTTP path of the liveness probe on O(container_port); an empty string disables it.
    type: str
    default: /healthz
  max_surge:
    description: Pods created above the desired count during a rollout, a count or a percentage (V(25%)).
    type: str
    default: "1"
  max_unavailable:
    description:
      - Pods that may be unavailable during a rollout, a count or a percentage.
      - The default V(0) never removes a ready pod before its replacement is ready (zero downtime).
    type: str
    default: "0"
  progress_deadline_seconds:
    description: Seconds without rollout progress after which Kubernetes reports C(ProgressDeadlineExceeded).
    type: int
    default: 600
  run_as_user:
    description:
      - UID (and GID and fsGroup) the pod runs as. The demo image's user is 10001.
      - Set to null to use the image's user, which must then be numeric for C(runAsNonRoot).
    type: int
    default: 10001
  service_account:
    description: ServiceAccount of the pods (for example one made by M(lepton.aiops.k8s_access)); its token is not mounted.
    type: str
  hpa:
    description: Add a HorizontalPodAutoscaler (C(autoscaling/v2)) on CPU utilisation. None when omitted.
    type: dict
    suboptions:
      min_replicas:
        description: Fewest replicas.
        type: int
        default: 1
      max_replicas:
        description: Most replicas.
        type: int
        required: true
      cpu_utilization:
        description: Target average CPU utilisation, in percent of O(resources.cpu_request).
        type: int
        default: 70
  pdb:
    description:
      - Add a PodDisruptionBudget. None when omitted; V({}) means C(maxUnavailable=1).
    type: dict
    suboptions:
      min_available:
        description: Pods that must stay available during voluntary disruptions, a count or a percentage.
        type: str
      max_unavailable:
        description: Pods that may be down during voluntary disruptions, a count or a percentage.
        type: str
  network_policy:
    description:
      - Add a NetworkPolicy that admits ingress to O(container_port) only from
        the listed peers. With an empty O(network_policy.allow_from), all ingress is denied.
        None when omitted.
    type: dict
    suboptions:
      allow_from:
        description: Peers allowed in. Pod and namespace labels in one entry must both match.
        type: list
        elements: dict
        default: []
        suboptions:
          pod_labels:
            description:
              - Labels of the allowed pods, in the policy's namespace unless
                O(network_policy.allow_from[].namespace_labels) is given too.
            type: dict
          namespace_labels:
            description: Labels of the allowed namespaces.
            type: dict
  force_conflicts:
    description: Take over fields that another field manager owns instead of failing with a conflict.
    type: bool
    default: false
  wait:
    description: Wait until the Deployment is rolled out (not in check mode).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the rollout.
    type: int
    default: 600
  rollback_on_failure:
    description:
      - When the rollout of an updated Deployment fails, apply the previous
        ReplicaSet's pod template again; the task still fails, with C(rolled_back=true).
    type: bool
    default: false
notes:
  - The next run after a rollback applies the requested template again.
  - With O(hpa), the Deployment's C(spec.replicas) is left to the autoscaler. When an
    existing Deployment is switched to O(hpa), the API server may reset C(spec.replicas)
    to its default (1) until the autoscaler acts, because the field manager gives the field up.
"""

EXAMPLES = r"""
- name: Deploy the inference service with three replicas
  lepton.aiops.k8s_service:
    name: iris
    namespace: inference
    image: registry.example.com/lepton/inference-demo:1.0
    replicas: 3
    resources:
      cpu_request: 250m
      memory_limit: 512Mi
    kubeconfig: ~/.kube/config
  register: deployed

- name: Roll to 1.1 with autoscaling, a disruption budget and ingress from the gateway only
  lepton.aiops.k8s_service:
    name: iris
    namespace: inference
    image: registry.example.com/lepton/inference-demo:1.1
    service_account: iris
    hpa:
      min_replicas: 2
      max_replicas: 10
      cpu_utilization: 60
    pdb:
      min_available: "50%"
    network_policy:
      allow_from:
        - namespace_labels: {kubernetes.io/metadata.name: gateway}
    wait_timeout: 300
    rollback_on_failure: true

- name: Remove the service
  lepton.aiops.k8s_service:
    name: iris
    namespace: inference
    state: absent
"""

RETURN = r"""
manifests:
  description: The rendered manifests, in apply order (empty with O(state=absent)).
  returned: always
  type: list
  elements: dict
actions:
  description: Per object, what was (or in check mode would be) done, V(create), V(update), V(delete) or V(none).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Deployment, name: iris, namespace: inference, action: update}
    - {kind: Service, name: iris, namespace: inference, action: none}
deployment:
  description: Status of the Deployment after the task (before it in check mode).
  returned: always
  type: dict
  sample:
    replicas: 3
    generation: 4
    observed_generation: 4
    updated_replicas: 3
    ready_replicas: 3
    available_replicas: 3
    total_replicas: 3
    conditions:
      - {type: Available, status: "True", reason: MinimumReplicasAvailable, message: Deployment has minimum availability.}
rolled_back:
  description: Whether a failed rollout was rolled back to the previous ReplicaSet's template.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lepton.aiops.plugins.module_utils._k8s_client import K8S_CONNECTION_SPEC, connection_params
from ansible_collections.lepton.aiops.plugins.module_utils._k8s_service import (
    HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, K8S_SERVICE_SPEC, K8sServiceClient, K8sServiceError, ensure)


def main():
    module = AnsibleModule(argument_spec=dict(K8S_CONNECTION_SPEC, **K8S_SERVICE_SPEC),
                           required_if=[("state", "present", ["image"])], supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        client = K8sServiceClient.from_connection(**connection_params(module.params))
        result = ensure(module.params, client, check_mode=module.check_mode)
    except K8sServiceError as exc:
        failed = dict(exc.result)
        failed.pop("diff", None)
        module.fail_json(msg=str(exc), **failed)
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
