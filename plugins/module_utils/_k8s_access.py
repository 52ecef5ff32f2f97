# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Least-privilege Kubernetes access for one service: ServiceAccount, Role, RoleBinding.

PRIVATE to the lepton.aiops collection: no compatibility promise to anything
outside it.

``render`` is pure. ``K8sAccessClient`` wraps the official kubernetes client
by composition (CoreV1Api and RbacAuthorizationV1Api) and is the only code
that talks to a cluster; tests give it fakes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os
import re

from ansible_collections.lepton.aiops.plugins.module_utils._keyring import write_atomic
from ansible_collections.lepton.aiops.plugins.module_utils._k8s_client import (
    TRANSPORT_ERRORS, K8sConnectionError, new_api_client)

try:
    import yaml
    HAS_YAML = True
except ImportError:  # pragma: no cover - reported when dest is used
    HAS_YAML = False

try:
    from kubernetes import client as k8s_client
    from kubernetes.client.exceptions import ApiException
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

    class ApiException(Exception):
        status = None

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Verbs that let a subject grant itself more than it has.
ESCALATING_VERBS = ("escalate", "bind", "impersonate", "*")
READ_VERBS = ["get"]
KINDS = ("ServiceAccount", "Role", "RoleBinding")


class K8sAccessError(Exception):
    """The access request is not least-privilege, or the cluster refused it."""


def _check_rule(rule, index):
    where = "rule %d" % index
    for field in ("api_groups", "resources", "verbs"):
        values = rule.get(field)
        if not values:
            raise K8sAccessError("%s needs a non-empty %s" % (where, field))
        if "*" in values:
            raise K8sAccessError("%s: the wildcard '*' in %s is not least privilege; list what is needed"
                                 % (where, field))
    bad = sorted(set(rule["verbs"]) & set(ESCALATING_VERBS))
    if bad:
        raise K8sAccessError("%s: verbs %s allow privilege escalation" % (where, ", ".join(bad)))
    if "secrets" in rule["resources"] and "" in rule["api_groups"] and not rule.get("resource_names"):
        raise K8sAccessError("%s: access to secrets must name them in resource_names" % where)


def _rule(api_groups, resources, verbs, resource_names=None):
    rule = {"apiGroups": list(api_groups), "resources": list(resources), "verbs": list(verbs)}
    if resource_names:
        rule["resourceNames"] = list(resource_names)
    return rule


def render(service, namespace, configmaps=(), secrets=(), rules=(), automount_token=False, labels=None):
    """The three manifests (plain dicts) for one service."""
    for what, value in (("service name", service), ("namespace", namespace)):
        if not _DNS_LABEL.match(value or ""):
            raise K8sAccessError("%s %r must be a DNS-1123 label (lower case letters, digits, '-')"
                                 % (what, value))
    meta_labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/managed-by": "lepton.aiops"}
    meta_labels.update(labels or {})

    def meta(name):
        return {"name": name, "namespace": namespace, "labels": dict(meta_labels)}

    role_rules = []
    if configmaps:
        role_rules.append(_rule([""], ["configmaps"], READ_VERBS, sorted(configmaps)))
    if secrets:
        role_rules.append(_rule([""], ["secrets"], READ_VERBS, sorted(secrets)))
    for index, rule in enumerate(rules or ()):
        _check_rule(rule, index)
        role_rules.append(_rule(rule["api_groups"], rule["resources"], rule["verbs"], rule.get("resource_names")))
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(service),
         "automountServiceAccountToken": bool(automount_token)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(service),
         "rules": role_rules},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta(service),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": service},
         "subjects": [{"kind": "ServiceAccount", "name": service, "namespace": namespace}]},
    ]


_COMPARED = {"ServiceAccount": ("automountServiceAccountToken",), "Role": ("rules",),
             "RoleBinding": ("roleRef", "subjects")}


def _normalized_rules(rules):
    out = []
    for rule in rules or []:
        out.append({k: v for k, v in rule.items() if v not in (None, [])})
    return out


def differs(current, desired):
    """Fields of ``desired`` that ``current`` does not match (labels compared as a subset)."""
    fields = []
    labels = (current.get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in desired["metadata"]["labels"].items()):
        fields.append("labels")
    for field in _COMPARED[desired["kind"]]:
        have, want = current.get(field), desired.get(field)
        if field == "rules":
            have, want = _normalized_rules(have), _normalized_rules(want)
        if have != want:
            fields.append(field)
    return fields


class K8sAccessClient:
    """CoreV1Api and RbacAuthorizationV1Api behind four calls that speak plain dicts."""

    _CALLS = {"ServiceAccount": ("core", "namespaced_service_account"),
              "Role": ("rbac", "namespaced_role"),
              "RoleBinding": ("rbac", "namespaced_role_binding")}

    def __init__(self, core, rbac, serialize):
        self._apis = {"core": core, "rbac": rbac}
        self._serialize = serialize

    @classmethod
    def from_kubeconfig(cls, kubeconfig, context=None):
        return cls.from_connection(kubeconfig=kubeconfig, context=context)

    @classmethod
    def from_connection(cls, **connection):
        """Connect with the options of the lepton.aiops.kubernetes doc fragment."""
        try:
            api_client = new_api_client(**connection)
        except K8sConnectionError as exc:
            raise K8sAccessError(str(exc))
        return cls(k8s_client.CoreV1Api(api_client), k8s_client.RbacAuthorizationV1Api(api_client),
                   api_client.sanitize_for_serialization)

    def _call(self, verb, kind):
        api, suffix = self._CALLS[kind]
        return getattr(self._apis[api], "%s_%s" % (verb, suffix))

    def read(self, kind, namespace, name):
        try:
            return self._serialize(self._call("read", kind)(name, namespace))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise K8sAccessError("reading %s %s/%s failed: %s %s" % (kind, namespace, name, exc.status,
                                                                     exc.reason))
        except TRANSPORT_ERRORS as exc:
            raise K8sAccessError("reading %s %s/%s failed: cannot reach the API server: %s"
                                 % (kind, namespace, name, exc))

    def _write(self, verb, manifest):
        meta = manifest["metadata"]
        try:
            if verb == "create":
                self._call(verb, manifest["kind"])(meta["namespace"], manifest)
            elif verb == "replace":
                self._call(verb, manifest["kind"])(meta["name"], meta["namespace"], manifest)
            else:
                self._call(verb, manifest["kind"])(meta["name"], meta["namespace"])
        except ApiException as exc:
            raise K8sAccessError("%s of %s %s/%s failed: %s %s" % (verb, manifest["kind"], meta["namespace"],
                                                                   meta["name"], exc.status, exc.reason))
        except TRANSPORT_ERRORS as exc:
            raise K8sAccessError("%s of %s %s/%s failed: cannot reach the API server: %s"
                                 % (verb, manifest["kind"], meta["namespace"], meta["name"], exc))

    def create(self, manifest):
        self._write("create", manifest)

    def replace(self, manifest):
        self._write("replace", manifest)

    def delete(self, manifest):
        self._write("delete", manifest)


def plan(client, manifests, state):
    """A list of {kind, name, action, fields}; action is create, replace, recreate, delete or none."""
    actions = []
    for manifest in manifests:
        meta = manifest["metadata"]
        current = client.read(manifest["kind"], meta["namespace"], meta["name"])
        if state == "absent":
            action, fields = ("delete" if current is not None else "none"), []
        elif current is None:
            action, fields = "create", []
        else:
            fields = differs(current, manifest)
            action = "none" if not fields else ("recreate" if "roleRef" in fields else "replace")
        actions.append(dict(kind=manifest["kind"], name=meta["name"], namespace=meta["namespace"],
                            action=action, fields=fields))
    return actions


def apply(client, manifests, actions):
    """Carry out a plan; RoleBinding roleRef is immutable, so it is recreated."""
    by_kind = {m["kind"]: m for m in manifests}
    order = actions if any(a["action"] != "delete" for a in actions) else list(reversed(actions))
    for entry in order:
        manifest = by_kind[entry["kind"]]
        if entry["action"] == "create":
            client.create(manifest)
        elif entry["action"] == "replace":
            client.replace(manifest)
        elif entry["action"] == "recreate":
            client.delete(manifest)
            client.create(manifest)
        elif entry["action"] == "delete":
            client.delete(manifest)


def to_yaml(manifests):
    if not HAS_YAML:
        raise K8sAccessError("writing dest needs PyYAML")
    return yaml.safe_dump_all(manifests, sort_keys=False, default_flow_style=False)


def ensure(service, namespace, configmaps=(), secrets=(), rules=(), automount_token=False, state="present",
           client=None, dest=None, check_mode=False):
    """Render, optionally write to ``dest`` and apply with ``client``; the module result."""
    manifests = render(service, namespace, configmaps, secrets, rules, automount_token)
    result = dict(changed=False, manifests=copy.deepcopy(manifests), actions=[], dest_changed=False)
    if dest:
        text = to_yaml(manifests) if state == "present" else None
        try:
            with open(dest, "r") as handle:
                current = handle.read()
        except (IOError, OSError):
            current = None
        if current != text:
            result["dest_changed"] = True
            try:
                if not check_mode and text is None:
                    os.unlink(dest)
                elif not check_mode:
                    write_atomic(dest, text.encode("utf-8"), 0o644)
            except OSError as exc:
                raise K8sAccessError("cannot %s %s: %s" % ("remove" if text is None else "write", dest,
                                                           exc.strerror or exc)) from exc
        result["diff"] = dict(before=current or "", after=text or "")
    if client is not None:
        result["actions"] = plan(client, manifests, state)
        if any(a["action"] != "none" for a in result["actions"]) and not check_mode:
            apply(client, manifests, result["actions"])
    result["changed"] = result["dest_changed"] or any(a["action"] != "none" for a in result["actions"])
    return result
