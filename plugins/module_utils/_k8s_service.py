# -*- coding: utf-8 -*-
# Copyright: lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One service on Kubernetes: Deployment, Service and optional HPA, PDB and NetworkPolicy.

PRIVATE to the lepton.aiops collection: no compatibility promise to anything
outside it.

``render_manifests`` is pure. ``K8sServiceClient`` wraps the kubernetes
client's DynamicClient by composition and is the only code that talks to a
cluster; ``ensure`` plans with server-side dry runs, applies (server-side
apply, field manager ``lepton.aiops``), waits for the rollout and rolls back.
The tests give it a fake DynamicClient; no real cluster has been used.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import re
import time

from ansible_collections.lepton.aiops.plugins.module_utils._k8s_client import (
    HAS_KUBERNETES, KUBERNETES_IMPORT_ERROR, TRANSPORT_ERRORS, K8sConnectionError, new_api_client)

try:
    from kubernetes.dynamic import DynamicClient
    from kubernetes.client.exceptions import ApiException
except ImportError:  # pragma: no cover - reported by the module through HAS_KUBERNETES
    DynamicClient = None

    class ApiException(Exception):
        status = None
        reason = None
        body = None

__all__ = ["HAS_KUBERNETES", "KUBERNETES_IMPORT_ERROR", "K8sServiceClient", "K8sServiceError",
           "K8S_SERVICE_SPEC", "ensure", "render_manifests"]

FIELD_MANAGER = "lepton.aiops"
MANAGED_BY = {"app.kubernetes.io/managed-by": "lepton.aiops"}
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_INT_OR_PERCENT = re.compile(r"^(\d+)%?$")

# (apiVersion, kind) of every object the module may own, in apply order.
KINDS = (("apps/v1", "Deployment"), ("v1", "Service"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
         ("policy/v1", "PodDisruptionBudget"), ("networking.k8s.io/v1", "NetworkPolicy"))

_RESOURCES = dict(cpu_request=dict(type="str", default="100m"), cpu_limit=dict(type="str"),
                  memory_request=dict(type="str", default="128Mi"), memory_limit=dict(type="str", default="256Mi"))
_PEER = dict(pod_labels=dict(type="dict"), namespace_labels=dict(type="dict"))

# The module's own options; the connection options are in _k8s_client.K8S_CONNECTION_SPEC.
K8S_SERVICE_SPEC = dict(
    name=dict(type="str", required=True),
    namespace=dict(type="str", default="default"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    image=dict(type="str"),
    replicas=dict(type="int", default=1),
    env=dict(type="dict", default={}),
    labels=dict(type="dict", default={}),
    container_port=dict(type="int", default=8000),
    service_port=dict(type="int", default=80),
    service_type=dict(type="str", default="ClusterIP", choices=["ClusterIP", "NodePort", "LoadBalancer"]),
    resources=dict(type="dict", options=_RESOURCES, apply_defaults=True),
    readiness_path=dict(type="str", default="/readyz"),
    liveness_path=dict(type="str", default="/healthz"),
    max_surge=dict(type="str", default="1"),
    max_unavailable=dict(type="str", default="0"),
    progress_deadline_seconds=dict(type="int", default=600),
    run_as_user=dict(type="int", default=10001),
    service_account=dict(type="str"),
    hpa=dict(type="dict", options=dict(min_replicas=dict(type="int", default=1),
                                       max_replicas=dict(type="int", required=True),
                                       cpu_utilization=dict(type="int", default=70))),
    pdb=dict(type="dict", options=dict(min_available=dict(type="str"), max_unavailable=dict(type="str")),
             mutually_exclusive=[["min_available", "max_unavailable"]]),
    network_policy=dict(type="dict", options=dict(
        allow_from=dict(type="list", elements="dict", default=[], options=_PEER))),
    force_conflicts=dict(type="bool", default=False),
    wait=dict(type="bool", default=True),
    wait_timeout=dict(type="int", default=600),
    rollback_on_failure=dict(type="bool", default=False),
)


class K8sServiceError(Exception):
    """The request is invalid, the cluster refused it, or the rollout failed.

    ``result`` carries what was done before the failure (the manifests, the
    Deployment status, ``rolled_back``), reported beside the message.
    """

    def __init__(self, message, result=None):
        super(K8sServiceError, self).__init__(message)
        self.result = result or {}


# ---------------------------------------------------------------- rendering (pure)

def _int_or_percent(value, what):
    text = str(value).strip()
    match = _INT_OR_PERCENT.match(text)
    if not match:
        raise K8sServiceError("%s must be a count or a percentage such as 25%%, not %r" % (what, value))
    return text if text.endswith("%") else int(text)


def _env_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _probe(path, period, failures):
    return {"httpGet": {"path": path, "port": "http", "scheme": "HTTP"},
            "periodSeconds": period, "timeoutSeconds": 2, "failureThreshold": failures}


def _check(params):
    for what in ("name", "namespace"):
        if not _DNS_LABEL.match(params.get(what) or ""):
            raise K8sServiceError("%s %r must be a DNS-1123 label (lower case letters, digits, '-')"
                                  % (what, params.get(what)))
    if not params.get("image"):
        raise K8sServiceError("image is required with state=present")
    if params["replicas"] < 0:
        raise K8sServiceError("replicas must be 0 or more")
    for what in ("container_port", "service_port"):
        if not 1 <= params[what] <= 65535:
            raise K8sServiceError("%s must be a port number (1-65535)" % what)
    for what in ("readiness_path", "liveness_path"):
        if params.get(what) and not params[what].startswith("/"):
            raise K8sServiceError("%s must start with '/' (or be empty to disable the probe)" % what)
    hpa = params.get("hpa")
    if hpa:
        if not 1 <= hpa["min_replicas"] <= hpa["max_replicas"]:
            raise K8sServiceError("hpa needs 1 <= min_replicas <= max_replicas")
        if hpa["cpu_utilization"] < 1:
            raise K8sServiceError("hpa.cpu_utilization must be a positive percentage")
        if not (params.get("resources") or {}).get("cpu_request"):
            raise K8sServiceError("hpa scales on CPU utilisation, which needs resources.cpu_request")


def _labels(params):
    selector = {"app.kubernetes.io/name": params["name"]}
    labels = dict((str(k), str(v)) for k, v in (params.get("labels") or {}).items())
    labels.update(selector)
    labels.update(MANAGED_BY)
    return selector, labels


def _deployment(params, meta, selector, labels):
    surge = _int_or_percent(params["max_surge"], "max_surge")
    unavailable = _int_or_percent(params["max_unavailable"], "max_unavailable")
    if surge in (0, "0%") and unavailable in (0, "0%"):
        raise K8sServiceError("max_surge and max_unavailable cannot both be 0; the rollout could never start")
    container = {
        "name": params["name"],
        "image": params["image"],
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": params["container_port"], "protocol": "TCP"}],
        "securityContext": {"allowPrivilegeEscalation": False, "privileged": False,
                            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                            "capabilities": {"drop": ["ALL"]}},
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    env = params.get("env") or {}
    if env:
        container["env"] = [{"name": str(k), "value": _env_value(env[k])} for k in sorted(env)]
    res = params.get("resources") or {}
    requests = dict((key, res[opt]) for key, opt in (("cpu", "cpu_request"), ("memory", "memory_request"))
                    if res.get(opt))
    limits = dict((key, res[opt]) for key, opt in (("cpu", "cpu_limit"), ("memory", "memory_limit"))
                  if res.get(opt))
    if requests or limits:
        container["resources"] = dict((k, v) for k, v in (("requests", requests), ("limits", limits)) if v)
    if params.get("readiness_path"):
        container["readinessProbe"] = _probe(params["readiness_path"], 5, 3)
    if params.get("liveness_path"):
        container["livenessProbe"] = _probe(params["liveness_path"], 10, 3)
    pod_security = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if params.get("run_as_user") is not None:
        pod_security.update(runAsUser=params["run_as_user"], runAsGroup=params["run_as_user"],
                            fsGroup=params["run_as_user"])
    pod = {"automountServiceAccountToken": False, "securityContext": pod_security,
           "containers": [container],
           "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]}
    if params.get("service_account"):
        pod["serviceAccountName"] = params["service_account"]
    spec = {
        "selector": {"matchLabels": dict(selector)},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": params["progress_deadline_seconds"],
        "strategy": {"type": "RollingUpdate",
                     "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}},
        "template": {"metadata": {"labels": dict(labels)}, "spec": pod},
    }
    if not params.get("hpa"):
        # With an HPA the autoscaler owns spec.replicas; applying it would fight the HPA.
        spec["replicas"] = params["replicas"]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(), "spec": spec}


def render_manifests(params):
    """The manifests (plain dicts) for ``params`` (the module's options), in apply order."""
    _check(params)
    name, namespace = params["name"], params["namespace"]
    selector, labels = _labels(params)

    def meta():
        return {"name": name, "namespace": namespace, "labels": dict(labels)}

    manifests = [
        _deployment(params, meta, selector, labels),
        {"apiVersion": "v1", "kind": "Service", "metadata": meta(),
         "spec": {"type": params.get("service_type") or "ClusterIP", "selector": dict(selector),
                  "ports": [{"name": "http", "port": params["service_port"], "targetPort": "http",
                             "protocol": "TCP"}]}},
    ]
    hpa = params.get("hpa")
    if hpa:
        manifests.append({
            "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta(),
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
                     "minReplicas": hpa["min_replicas"], "maxReplicas": hpa["max_replicas"],
                     "metrics": [{"type": "Resource", "resource": {
                         "name": "cpu", "target": {"type": "Utilization",
                                                   "averageUtilization": hpa["cpu_utilization"]}}}]}})
    pdb = params.get("pdb")
    if pdb is not None:
        spec = {"selector": {"matchLabels": dict(selector)}}
        if pdb.get("min_available") is not None:
            spec["minAvailable"] = _int_or_percent(pdb["min_available"], "pdb.min_available")
        else:
            spec["maxUnavailable"] = _int_or_percent(pdb.get("max_unavailable") or 1, "pdb.max_unavailable")
        manifests.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(),
                          "spec": spec})
    policy = params.get("network_policy")
    if policy is not None:
        peers = []
        for peer in policy.get("allow_from") or []:
            entry = {}
            if peer.get("pod_labels") is not None:
                entry["podSelector"] = {"matchLabels": dict((str(k), str(v))
                                                            for k, v in peer["pod_labels"].items())}
            if peer.get("namespace_labels") is not None:
                entry["namespaceSelector"] = {"matchLabels": dict((str(k), str(v))
                                                                  for k, v in peer["namespace_labels"].items())}
            if not entry:
                raise K8sServiceError("each network_policy.allow_from entry needs pod_labels or namespace_labels")
            peers.append(entry)
        ingress = [{"from": peers, "ports": [{"port": params["container_port"], "protocol": "TCP"}]}] if peers else []
        manifests.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta(),
                          "spec": {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Ingress"],
                                   "ingress": ingress}})
    return manifests


# ---------------------------------------------------------------- comparison (pure)

_VOLATILE_META = ("resourceVersion", "generation", "managedFields", "creationTimestamp", "uid", "selfLink")


def comparable(obj):
    """``obj`` without status and the metadata the server changes on every write."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for key in _VOLATILE_META:
        meta.pop(key, None)
    annotations = meta.get("annotations") or {}
    annotations.pop("deployment.kubernetes.io/revision", None)
    if not annotations:
        meta.pop("annotations", None)
    return out


def deployment_status(deployment):
    """The few status fields a user needs, as plain data."""
    if not deployment:
        return {}
    status = deployment.get("status") or {}
    spec = deployment.get("spec") or {}
    return {
        "replicas": spec.get("replicas"),
        "generation": (deployment.get("metadata") or {}).get("generation"),
        "observed_generation": status.get("observedGeneration"),
        "updated_replicas": status.get("updatedReplicas", 0),
        "ready_replicas": status.get("readyReplicas", 0),
        "available_replicas": status.get("availableReplicas", 0),
        "total_replicas": status.get("replicas", 0),
        "conditions": [dict((k, c.get(k)) for k in ("type", "status", "reason", "message"))
                       for c in status.get("conditions") or []],
    }


def rollout_state(deployment):
    """``done``, ``failed`` (ProgressDeadlineExceeded) or ``progressing``, with a reason."""
    status = deployment_status(deployment)
    for condition in status["conditions"]:
        if condition["type"] == "Progressing" and condition["reason"] == "ProgressDeadlineExceeded":
            return "failed", condition.get("message") or "ProgressDeadlineExceeded"
    want = status["replicas"] if status["replicas"] is not None else 1
    if (status["observed_generation"] or 0) < (status["generation"] or 0):
        return "progressing", "the controller has not seen generation %s yet" % status["generation"]
    counts = (status["updated_replicas"], status["available_replicas"], status["total_replicas"])
    if counts == (want, want, want):
        return "done", "%d of %d replicas updated and available" % (want, want)
    return "progressing", ("%d of %d replicas updated, %d available, %d in total"
                           % (status["updated_replicas"], want, status["available_replicas"],
                              status["total_replicas"]))


# ---------------------------------------------------------------- cluster access

def _plain(obj):
    return obj.to_dict() if callable(getattr(obj, "to_dict", None)) else obj


def _api_message(exc):
    body = getattr(exc, "body", None)
    if body:
        try:
            message = json.loads(body).get("message")
            if message:
                return message
        except (ValueError, TypeError, AttributeError):
            pass
    return "%s %s" % (getattr(exc, "status", None), getattr(exc, "reason", None))


class K8sServiceClient:
    """A DynamicClient behind five calls that speak plain dicts and raise K8sServiceError."""

    def __init__(self, dynamic):
        self._dynamic = dynamic

    @classmethod
    def from_connection(cls, **connection):
        try:
            return cls(DynamicClient(new_api_client(**connection)))
        except K8sConnectionError as exc:
            raise K8sServiceError(str(exc))
        except ApiException as exc:  # discovery talks to the server already
            raise K8sServiceError("the API server refused the connection: %s" % _api_message(exc))
        except TRANSPORT_ERRORS as exc:
            raise K8sServiceError("cannot reach the API server: %s" % exc)

    def _resource(self, api_version, kind):
        try:
            return self._dynamic.resources.get(api_version=api_version, kind=kind)
        except ApiException as exc:
            raise K8sServiceError("API discovery of %s %s failed: %s" % (api_version, kind, _api_message(exc)))
        except Exception as exc:  # ResourceNotFoundError and friends
            raise K8sServiceError("the cluster does not serve %s %s: %s" % (api_version, kind, exc))

    def _call(self, what, api_version, kind, namespace, label, method, **kwargs):
        resource = self._resource(api_version, kind)
        try:
            return _plain(getattr(self._dynamic, method)(resource, namespace=namespace, **kwargs))
        except ApiException as exc:
            if exc.status == 404 and method == "get":
                return None
            raise K8sServiceError("%s %s %s/%s failed: %s" % (what, kind, namespace, label, _api_message(exc)))
        except TRANSPORT_ERRORS as exc:
            raise K8sServiceError("%s %s %s/%s failed: cannot reach the API server: %s"
                                  % (what, kind, namespace, label, exc))

    def get(self, api_version, kind, namespace, name):
        return self._call("reading", api_version, kind, namespace, name, "get", name=name)

    def list(self, api_version, kind, namespace, label_selector):
        result = self._call("listing", api_version, kind, namespace, label_selector, "get", label_selector=label_selector)
        return (result or {}).get("items") or []

    def apply(self, manifest, dry_run=False, force_conflicts=False):
        kwargs = dict(body=manifest, name=manifest["metadata"]["name"], field_manager=FIELD_MANAGER,
                      force_conflicts=force_conflicts)
        if dry_run:
            kwargs["dry_run"] = "All"
        return self._call("server-side apply of", manifest["apiVersion"], manifest["kind"],
                          manifest["metadata"]["namespace"], manifest["metadata"]["name"],
                          "server_side_apply", **kwargs)

    def delete(self, api_version, kind, namespace, name, dry_run=False):
        kwargs = dict(name=name)
        if dry_run:
            kwargs["dry_run"] = "All"
        return self._call("deleting", api_version, kind, namespace, name, "delete", **kwargs)


# ---------------------------------------------------------------- plan, apply, wait

def _ours(obj):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(labels.get(k) == v for k, v in MANAGED_BY.items())


def _previous_template(client, deployment):
    """The pod template of the ReplicaSet before the Deployment's current revision, or None."""
    meta = deployment["metadata"]
    current = int((meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") or 0)
    selector = ",".join("%s=%s" % kv for kv in sorted(deployment["spec"]["selector"]["matchLabels"].items()))
    best = None
    for rs in client.list("apps/v1", "ReplicaSet", meta["namespace"], selector):
        rs_meta = rs.get("metadata") or {}
        owners = [o for o in rs_meta.get("ownerReferences") or [] if o.get("kind") == "Deployment"]
        if meta.get("uid") and not any(o.get("uid") == meta["uid"] for o in owners):
            continue
        revision = int((rs_meta.get("annotations") or {}).get("deployment.kubernetes.io/revision") or 0)
        if revision < current and (best is None or revision > best[0]):
            best = (revision, rs)
    if best is None:
        return None
    template = copy.deepcopy(best[1]["spec"]["template"])
    template_meta = template.setdefault("metadata", {})
    template_meta.get("labels", {}).pop("pod-template-hash", None)
    template_meta.pop("creationTimestamp", None)
    return template


def _rollback(client, desired, live, force_conflicts):
    template = _previous_template(client, live)
    if template is None:
        return False
    manifest = copy.deepcopy(desired)
    manifest["spec"]["template"] = template
    client.apply(manifest, force_conflicts=force_conflicts)
    return True


def wait_for_rollout(client, deployment, timeout, sleep=time.sleep, clock=time.monotonic, interval=2.0):
    """Poll the Deployment until it is rolled out; (state, reason, live object)."""
    meta = deployment["metadata"]
    deadline = clock() + timeout
    while True:
        live = client.get("apps/v1", "Deployment", meta["namespace"], meta["name"])
        if live is None:
            return "failed", "the Deployment disappeared", None
        state, reason = rollout_state(live)
        if state != "progressing":
            return state, reason, live
        if clock() >= deadline:
            return "timeout", "not rolled out within %s s: %s" % (timeout, reason), live
        sleep(interval)


def ensure(params, client, check_mode=False, sleep=time.sleep, clock=time.monotonic):
    """Render, plan with server-side dry runs, apply, wait; the module result."""
    state = params.get("state") or "present"
    name, namespace = params["name"], params["namespace"]
    manifests = render_manifests(params) if state == "present" else []
    wanted = dict((m["kind"], m) for m in manifests)
    force = bool(params.get("force_conflicts"))
    result = dict(changed=False, manifests=copy.deepcopy(manifests), actions=[], deployment={},
                  rolled_back=False, diff=dict(before={}, after={}))
    order = KINDS if state == "present" else tuple(reversed(KINDS))
    actions = {}
    for api_version, kind in order:
        live = client.get(api_version, kind, namespace, name)
        if kind == "Deployment":
            result["deployment"] = deployment_status(live)
        if kind in wanted:
            predicted = client.apply(wanted[kind], dry_run=True, force_conflicts=force)
            before, after = comparable(live), comparable(predicted)
            action = "none" if before == after else ("create" if live is None else "update")
            if action != "none" and not check_mode:
                client.apply(wanted[kind], force_conflicts=force)
        elif live is not None and (state == "absent" or _ours(live)):
            before, after, action = comparable(live), None, "delete"
            client.delete(api_version, kind, namespace, name, dry_run=check_mode)
        else:
            continue
        actions[kind] = action
        result["actions"].append(dict(kind=kind, name=name, namespace=namespace, action=action))
        if action != "none":
            result["changed"] = True
            result["diff"]["before"][kind] = before
            result["diff"]["after"][kind] = after
    if state == "absent":
        result["deployment"] = {}
    if state == "absent" or check_mode:
        return result
    deployment = wanted["Deployment"]
    if not params.get("wait"):
        result["deployment"] = deployment_status(client.get("apps/v1", "Deployment", namespace, name))
        return result
    outcome, reason, live = wait_for_rollout(client, deployment, params.get("wait_timeout") or 0,
                                             sleep=sleep, clock=clock)
    result["deployment"] = deployment_status(live)
    if outcome != "done":
        message = "Deployment %s/%s failed to roll out: %s" % (namespace, name, reason)
        if params.get("rollback_on_failure") and live is not None:
            if actions.get("Deployment") != "update":
                message += "; not rolled back: this run did not update an existing Deployment"
            elif _rollback(client, deployment, live, force):
                result["rolled_back"] = True
                message += "; rolled back to the previous ReplicaSet's pod template"
            else:
                message += "; no previous ReplicaSet to roll back to"
        raise K8sServiceError(message, result)
    return result
