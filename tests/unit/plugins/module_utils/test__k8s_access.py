# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least-privilege RBAC: rendered manifests pass the official schemas; the apply
path drives a fake Kubernetes API (no cluster was used)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml
from kubernetes.client.exceptions import ApiException

from ansible_collections.lepton.aiops.plugins.module_utils._k8s_access import (
    K8sAccessClient, K8sAccessError, ensure, render)

K8S_VERSION = kubernetes_validate.latest_version()


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(configmaps=["iris-config"], secrets=["iris-key", "iris-tls"]),
    dict(rules=[dict(api_groups=[""], resources=["pods", "pods/log"], verbs=["get", "list", "watch"])],
         automount_token=True),
    dict(rules=[dict(api_groups=["apps"], resources=["deployments"], verbs=["get"], resource_names=["iris"])]),
])
def test_rendered_manifests_pass_the_official_schemas(kwargs):
    manifests = render("iris", "inference", **kwargs)
    assert [m["kind"] for m in manifests] == ["ServiceAccount", "Role", "RoleBinding"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_schema_validation_catches_a_broken_manifest():
    role = render("iris", "inference", configmaps=["c"])[1]
    role["rules"][0]["verbz"] = role["rules"][0].pop("verbs")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(role, K8S_VERSION, strict=True)


def test_default_grants_nothing_and_hides_the_token():
    sa, role, binding = render("iris", "inference")
    assert sa["automountServiceAccountToken"] is False
    assert role["rules"] == []
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "iris"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "iris", "namespace": "inference"}]


def test_named_objects_are_read_only():
    role = render("iris", "inference", configmaps=["b", "a"], secrets=["s"])[1]
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["a", "b"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["s"]},
    ]


@pytest.mark.parametrize("rule, message", [
    (dict(api_groups=["*"], resources=["pods"], verbs=["get"]), "wildcard"),
    (dict(api_groups=[""], resources=["*"], verbs=["get"]), "wildcard"),
    (dict(api_groups=[""], resources=["pods"], verbs=["*"]), "wildcard"),
    (dict(api_groups=["rbac.authorization.k8s.io"], resources=["roles"], verbs=["escalate"]), "escalation"),
    (dict(api_groups=["rbac.authorization.k8s.io"], resources=["rolebindings"], verbs=["bind"]), "escalation"),
    (dict(api_groups=[""], resources=["serviceaccounts"], verbs=["impersonate"]), "escalation"),
    (dict(api_groups=[""], resources=["secrets"], verbs=["list"]), "must name them"),
    (dict(api_groups=[""], resources=[], verbs=["get"]), "non-empty resources"),
])
def test_broad_rules_are_refused(rule, message):
    with pytest.raises(K8sAccessError, match=message):
        render("iris", "inference", rules=[rule])


@pytest.mark.parametrize("name, namespace", [("Iris", "x"), ("iris", "in_ference"), ("", "x")])
def test_names_must_be_dns_labels(name, namespace):
    with pytest.raises(K8sAccessError, match="DNS-1123"):
        render(name, namespace)


class FakeApi:
    """Plays CoreV1Api and RbacAuthorizationV1Api for the three kinds, storing dicts."""

    def __init__(self, fail_with=None):
        self.objects = {}
        self.calls = []
        self.fail_with = fail_with

    def __getattr__(self, attr):
        verb, _sep, suffix = attr.partition("_namespaced_")
        kind = {"service_account": "ServiceAccount", "role": "Role", "role_binding": "RoleBinding"}[suffix]

        def call(*args):
            self.calls.append((verb, kind))
            if self.fail_with:
                raise ApiException(status=self.fail_with, reason="Forbidden")
            if verb == "read":
                name, namespace = args
                if (kind, namespace, name) not in self.objects:
                    raise ApiException(status=404, reason="Not Found")
                return copy.deepcopy(self.objects[(kind, namespace, name)])
            if verb == "create":
                namespace, body = args
                self.objects[(kind, namespace, body["metadata"]["name"])] = copy.deepcopy(body)
            elif verb == "replace":
                name, namespace, body = args
                self.objects[(kind, namespace, name)] = copy.deepcopy(body)
            else:
                name, namespace = args
                del self.objects[(kind, namespace, name)]
            return None
        return call


def fake_client(api):
    return K8sAccessClient(api, api, lambda obj: obj)


def writes(api):
    return [c for c in api.calls if c[0] != "read"]


def test_apply_creates_then_is_idempotent():
    api = FakeApi()
    check = ensure("iris", "inference", configmaps=["c"], client=fake_client(api), check_mode=True)
    assert check["changed"] and [a["action"] for a in check["actions"]] == ["create"] * 3
    assert writes(api) == []
    real = ensure("iris", "inference", configmaps=["c"], client=fake_client(api))
    assert real["changed"] and len(api.objects) == 3
    again = ensure("iris", "inference", configmaps=["c"], client=fake_client(api))
    assert again["changed"] is False and [a["action"] for a in again["actions"]] == ["none"] * 3


def test_apply_replaces_changed_rules_and_recreates_a_changed_role_ref():
    api = FakeApi()
    ensure("iris", "inference", configmaps=["c"], client=fake_client(api))
    api.objects[("RoleBinding", "inference", "iris")]["roleRef"]["name"] = "admin"
    api.calls.clear()
    result = ensure("iris", "inference", configmaps=["c", "d"], client=fake_client(api))
    actions = {a["kind"]: (a["action"], a["fields"]) for a in result["actions"]}
    assert actions == {"ServiceAccount": ("none", []), "Role": ("replace", ["rules"]),
                       "RoleBinding": ("recreate", ["roleRef"])}
    assert writes(api) == [("replace", "Role"), ("delete", "RoleBinding"), ("create", "RoleBinding")]
    assert api.objects[("RoleBinding", "inference", "iris")]["roleRef"]["name"] == "iris"


def test_absent_deletes_binding_first():
    api = FakeApi()
    ensure("iris", "inference", client=fake_client(api))
    api.calls.clear()
    result = ensure("iris", "inference", state="absent", client=fake_client(api))
    assert result["changed"] and api.objects == {}
    assert writes(api) == [("delete", "RoleBinding"), ("delete", "Role"), ("delete", "ServiceAccount")]
    assert ensure("iris", "inference", state="absent", client=fake_client(api))["changed"] is False


def test_api_errors_become_clear_messages():
    with pytest.raises(K8sAccessError, match="reading ServiceAccount inference/iris failed: 403 Forbidden"):
        ensure("iris", "inference", client=fake_client(FakeApi(fail_with=403)))


def test_an_unreachable_api_server_is_reported_plainly():
    client = K8sAccessClient.from_connection(host="http://127.0.0.1:9", api_key="t")
    with pytest.raises(K8sAccessError, match="reading ServiceAccount inference/iris failed: cannot reach the API server"):
        ensure("iris", "inference", client=client)


def test_dest_is_written_once_and_removed_when_absent(tmp_path):
    dest = tmp_path / "iris.yml"
    check = ensure("iris", "inference", secrets=["k"], dest=str(dest), check_mode=True)
    assert check["dest_changed"] and not dest.exists()
    assert ensure("iris", "inference", secrets=["k"], dest=str(dest))["changed"]
    docs = list(yaml.safe_load_all(dest.read_text()))
    assert [d["kind"] for d in docs] == ["ServiceAccount", "Role", "RoleBinding"]
    assert ensure("iris", "inference", secrets=["k"], dest=str(dest))["changed"] is False
    assert ensure("iris", "inference", state="absent", dest=str(dest))["changed"] and not dest.exists()


def test_a_dest_in_a_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(K8sAccessError, match="cannot write .*missing/iris.yml: No such file or directory"):
        ensure("iris", "inference", dest=str(tmp_path / "missing" / "iris.yml"))


def test_without_kubeconfig_or_dest_nothing_changes():
    result = ensure("iris", "inference")
    assert result["changed"] is False and result["actions"] == [] and len(result["manifests"]) == 3
