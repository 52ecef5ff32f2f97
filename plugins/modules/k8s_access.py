#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: k8s_access
short_description: Least-privilege ServiceAccount, Role and RoleBinding for one service
version_added: 0.1.0
description:
  - Renders a ServiceAccount, a namespaced Role and a RoleBinding for one service.
    The Role grants nothing by default; O(configmaps) and O(secrets) add C(get) on
    those objects by name, and O(rules) adds further namespaced rules.
  - Refuses what is not least privilege. Wildcards (C(*)) in API groups, resources or
    verbs, the verbs C(escalate), C(bind) and C(impersonate), and access to secrets
    without naming them all fail.
  - The ServiceAccount does not mount its token unless O(automount_token=true).
  - Returns the manifests; writes them to O(dest) as multi-document YAML; applies them
    with the kubernetes client when O(kubeconfig) or O(host) is given (without either,
    nothing is applied).
  - The manifests are validated against the official Kubernetes schemas in the
    collection's tests. The apply path is tested against a fake API only; it has not
    been run against a real cluster.
author: lepton.aiops maintainers (@lepton-aiops)
extends_documentation_fragment:
  - lepton.aiops.attributes.actiongroup_security
  - lepton.aiops.kubernetes
requirements:
  - kubernetes >= 24.2 (only with O(kubeconfig) or O(host))
  - PyYAML (only with O(dest))
attributes:
  check_mode:
    support: full
    description: Reports the file and cluster changes that would be made.
  diff_mode:
    support: full
    description: Shows the O(dest) file before and after (manifests hold no secrets).
options:
  name:
    description: Service name; the name of all three objects. A DNS-1123 label.
    type: str
    required: true
  namespace:
    description: Namespace of the objects. A DNS-1123 label.
    type: str
    default: default
  state:
    description: V(present) creates or updates the objects; V(absent) deletes them (and O(dest)).
    type: str
    choices: [present, absent]
    default: present
  configmaps:
    description: ConfigMaps the service may C(get), by name.
    type: list
    elements: str
    default: []
  secrets:
    description: Secrets the service may C(get), by name.
    type: list
    elements: str
    default: []
  rules:
    description: Further namespaced rules. Wildcards and escalating verbs are refused.
    type: list
    elements: dict
    default: []
    suboptions:
      api_groups:
        description: API groups; V("") is the core group.
        type: list
        elements: str
        required: true
      resources:
        description: Resources, for example V(pods) or V(pods/log).
        type: list
        elements: str
        required: true
      verbs:
        description: Verbs, for example V(get), V(list), V(watch).
        type: list
        elements: str
        required: true
      resource_names:
        description: Restrict the rule to these object names.
        type: list
        elements: str
  automount_token:
    description: Whether pods of the ServiceAccount mount its API token.
    type: bool
    default: false
  dest:
    description: Write the manifests to this file (multi-document YAML, 0644).
    type: path
"""

EXAMPLES = r"""
- name: Render least-privilege access for the inference service into a file
  lepton.aiops.k8s_access:
    name: iris
    namespace: inference
    configmaps: [iris-config]
    secrets: [iris-model-key]
    dest: /srv/k8s/iris-access.yml

- name: Apply it to a cluster
  lepton.aiops.k8s_access:
    name: iris
    namespace: inference
    configmaps: [iris-config]
    rules:
      - api_groups: [""]
        resources: [pods]
        verbs: [get, list]
    kubeconfig: ~/.kube/config
"""

RETURN = r"""
manifests:
  description: The ServiceAccount, Role and RoleBinding, as dicts.
  returned: always
  type: list
  elements: dict
actions:
  description: Per object, what was (or would be) done on the cluster; empty without O(kubeconfig) and O(host).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: Role, name: iris, namespace: inference, action: replace, fields: [rules]}
dest_changed:
  description: Whether O(dest) was (or would be) written or removed.
  returned: always
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lepton.aiops.plugins.module_utils._k8s_client import K8S_CONNECTION_SPEC, connection_params
from ansible_collections.lepton.aiops.plugins.module_utils._k8s_access import (
    HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, K8sAccessClient, K8sAccessError, ensure)


def main():
    rule = dict(api_groups=dict(type="list", elements="str", required=True),
                resources=dict(type="list", elements="str", required=True),
                verbs=dict(type="list", elements="str", required=True),
                resource_names=dict(type="list", elements="str"))
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            namespace=dict(type="str", default="default"),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            configmaps=dict(type="list", elements="str", default=[]),
            secrets=dict(type="list", elements="str", default=[], no_log=False),
            rules=dict(type="list", elements="dict", default=[], options=rule),
            automount_token=dict(type="bool", default=False, no_log=False),
            dest=dict(type="path"),
            **K8S_CONNECTION_SPEC
        ),
        supports_check_mode=True,
    )
    p = module.params
    remote = bool(p["kubeconfig"] or p["host"])
    if remote and not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
    try:
        client = K8sAccessClient.from_connection(**connection_params(p)) if remote else None
        result = ensure(p["name"], p["namespace"], p["configmaps"], p["secrets"], p["rules"], p["automount_token"],
                        p["state"], client=client, dest=p["dest"], check_mode=module.check_mode)
    except K8sAccessError as exc:
        module.fail_json(msg=str(exc))
    diff = result.pop("diff", None)
    if module._diff and diff is not None:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
