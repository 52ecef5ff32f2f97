# -*- coding: utf-8 -*-
# Copyright (c) lepton.aiops maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""k8s_service: rendered manifests pass the official Kubernetes 1.30 schemas; the
apply, dry-run, wait and rollback logic drives a fake DynamicClient (no cluster
was used)."""

from __future__ import annotations

import copy
import itertools
import json

import kubernetes_validate
import pytest
from ansible.module_utils.testing import patch_module_args
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic.exceptions import NotFoundError, ResourceNotFoundError, api_exception

from ansible_collections.lepton.aiops.plugins.module_utils._k8s_service import (
    K8sServiceClient, K8sServiceError, ensure, render_manifests, rollout_state)
from ansible_collections.lepton.aiops.plugins.modules import k8s_service as k8s_service_module

# The Kubernetes version the manifests are validated for (kubernetes-validate ships its schemas).
K8S_VERSION = "1.30.0"


def params(**overrides):
    """The module's params as AnsibleModule would pass them: every option, defaults filled in."""
    base = dict(name="iris", namespace="inference", state="present", image="lepton/inference-demo:1.0",
                replicas=2, env={}, labels={}, container_port=8000, service_port=80, service_type="ClusterIP",
                resources=dict(cpu_request="100m", cpu_limit=None, memory_request="128Mi",
                               memory_limit="256Mi"),
                readiness_path="/readyz", liveness_path="/healthz", max_surge="1", max_unavailable="0",
                progress_deadline_seconds=600, run_as_user=10001, service_account=None, hpa=None, pdb=None,
                network_policy=None, force_conflicts=False, wait=True, wait_timeout=60,
                rollback_on_failure=False)
    base.update(overrides)
    return base


def kinds(manifests):
    return [m["kind"] for m in manifests]


# ---------------------------------------------------------------- rendering

HPA = dict(min_replicas=2, max_replicas=10, cpu_utilization=60)
OPTIONALS = {
    "hpa": [None, HPA],
    "pdb": [None, dict(min_available=None, max_unavailable=None), dict(min_available="50%", max_unavailable=None),
            dict(min_available=None, max_unavailable="2")],
    "network_policy": [None, dict(allow_from=[]),
                       dict(allow_from=[dict(pod_labels={"app": "gateway"}, namespace_labels=None),
                                        dict(pod_labels={"role": "probe"}, namespace_labels={"team": "sre"})])],
    "service_type": ["ClusterIP", "NodePort", "LoadBalancer"],
}
CASES = [dict(zip(OPTIONALS, combo)) for combo in itertools.product(*OPTIONALS.values())]
VARIANTS = [   # the defaults are CASES[0]
    dict(env={"MODEL": "iris", "WORKERS": 4, "DEBUG": True}, labels={"team": "ml", "tier": "inference"}),
    dict(resources=dict(cpu_request="250m", cpu_limit="1", memory_request="256Mi", memory_limit="1Gi")),
    dict(resources=dict(cpu_request=None, cpu_limit=None, memory_request=None, memory_limit=None)),
    dict(readiness_path="", liveness_path=""),
    dict(max_surge="25%", max_unavailable="25%", replicas=0, run_as_user=None, service_account="iris"),
    dict(container_port=9000, service_port=8080, progress_deadline_seconds=120),
]


def case_id(case):
    return ",".join("%s=%s" % kv for kv in case.items()) or "defaults"


@pytest.mark.parametrize("case", CASES + VARIANTS, ids=case_id)
def test_rendered_manifests_pass_the_official_schemas(case):
    manifests = render_manifests(params(**case))
    assert kinds(manifests)[:2] == ["Deployment", "Service"]
    for manifest in manifests:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_schema_validation_catches_a_broken_manifest():
    deployment = render_manifests(params())[0]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_pods_are_hardened():
    deployment = render_manifests(params())[0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
                                      "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001}
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "privileged": False,
                                            "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


def test_deployment_rolls_without_downtime_and_probes_the_service():
    deployment = render_manifests(params())[0]
    spec = deployment["spec"]
    assert spec["replicas"] == 2 and spec["progressDeadlineSeconds"] == 600
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    container = spec["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http", "scheme": "HTTP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http", "scheme": "HTTP"}
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}


def test_labels_env_and_service():
    deployment, service = render_manifests(params(env={"B": True, "A": 3}, labels={"team": "ml"}))
    assert deployment["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": "iris"}}
    assert deployment["metadata"]["labels"] == {"team": "ml", "app.kubernetes.io/name": "iris",
                                                "app.kubernetes.io/managed-by": "lepton.aiops"}
    assert deployment["spec"]["template"]["metadata"]["labels"] == deployment["metadata"]["labels"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "A", "value": "3"}, {"name": "B", "value": "true"}]
    assert service["spec"] == {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": "iris"},
                               "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}


def test_optional_objects_only_when_asked():
    assert kinds(render_manifests(params())) == ["Deployment", "Service"]
    assert kinds(render_manifests(params(hpa=HPA))) == ["Deployment", "Service", "HorizontalPodAutoscaler"]
    assert kinds(render_manifests(params(pdb={}))) == ["Deployment", "Service", "PodDisruptionBudget"]
    assert kinds(render_manifests(params(network_policy={}))) == ["Deployment", "Service", "NetworkPolicy"]


def test_hpa_owns_the_replica_count():
    deployment, _service, hpa = render_manifests(params(hpa=HPA))
    assert "replicas" not in deployment["spec"]
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "iris"}
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    assert hpa["spec"]["metrics"][0]["resource"] == {
        "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 60}}


def test_pdb_and_network_policy_contents():
    _d, _s, pdb = render_manifests(params(pdb={}))
    assert pdb["spec"] == {"selector": {"matchLabels": {"app.kubernetes.io/name": "iris"}}, "maxUnavailable": 1}
    _d, _s, pdb = render_manifests(params(pdb=dict(min_available="50%")))
    assert pdb["spec"]["minAvailable"] == "50%" and "maxUnavailable" not in pdb["spec"]
    _d, _s, deny = render_manifests(params(network_policy=dict(allow_from=[])))
    assert deny["spec"]["ingress"] == [] and deny["spec"]["policyTypes"] == ["Ingress"]
    _d, _s, policy = render_manifests(params(network_policy=dict(allow_from=[
        dict(pod_labels={"app": "gateway"}, namespace_labels={"team": "edge"})])))
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "iris"}}
    assert policy["spec"]["ingress"] == [{
        "from": [{"podSelector": {"matchLabels": {"app": "gateway"}},
                  "namespaceSelector": {"matchLabels": {"team": "edge"}}}],
        "ports": [{"port": 8000, "protocol": "TCP"}]}]


@pytest.mark.parametrize("overrides, message", [
    (dict(name="Iris"), "DNS-1123"),
    (dict(namespace="in_ference"), "DNS-1123"),
    (dict(image=None), "image is required"),
    (dict(replicas=-1), "replicas"),
    (dict(container_port=0), "container_port"),
    (dict(readiness_path="readyz"), "readiness_path"),
    (dict(max_surge="0", max_unavailable="0"), "cannot both be 0"),
    (dict(max_surge="lots"), "max_surge"),
    (dict(hpa=dict(min_replicas=5, max_replicas=2, cpu_utilization=70)), "min_replicas"),
    (dict(hpa=HPA, resources=dict(cpu_request=None)), "cpu_request"),
    (dict(network_policy=dict(allow_from=[dict(pod_labels=None, namespace_labels=None)])), "pod_labels"),
])
def test_invalid_requests_are_refused(overrides, message):
    with pytest.raises(K8sServiceError, match=message):
        render_manifests(params(**overrides))


# ---------------------------------------------------------------- a fake DynamicClient

class Instance:
    """What the DynamicClient returns: something with to_dict()."""

    def __init__(self, data):
        self._data = data

    def to_dict(self):
        return copy.deepcopy(self._data)


class FakeResources:
    def __init__(self, served):
        self.served = served

    def get(self, api_version, kind):
        if (api_version, kind) not in self.served:
            raise ResourceNotFoundError("No matches found for {'api_version': %r, 'kind': %r}" % (api_version, kind))
        return (api_version, kind)


def merge(live, body):
    """Server-side apply, roughly: our fields over the live object's, lists replaced."""
    out = copy.deepcopy(live)
    for key, value in body.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def server_defaults(obj):
    """A few of the defaults an API server fills in, so a naive comparison would see changes."""
    if obj["kind"] == "Deployment":
        pod = obj["spec"]["template"]["spec"]
        pod.setdefault("restartPolicy", "Always")
        for container in pod["containers"]:
            container.setdefault("terminationMessagePath", "/dev/termination-log")
        obj["spec"].setdefault("replicas", 1)
    if obj["kind"] == "Service":
        obj["spec"].setdefault("clusterIP", "10.96.0.10")
        obj["spec"].setdefault("sessionAffinity", "None")
    return obj


class FakeDynamic:
    """Plays DynamicClient: get, server_side_apply, delete; a controller rolls Deployments out."""

    SERVED = (("apps/v1", "Deployment"), ("v1", "Service"), ("autoscaling/v2", "HorizontalPodAutoscaler"),
              ("policy/v1", "PodDisruptionBudget"), ("networking.k8s.io/v1", "NetworkPolicy"),
              ("apps/v1", "ReplicaSet"))

    def __init__(self, controller="healthy", fail_with=None):
        self.objects = {}
        self.calls = []
        self.resources = FakeResources(self.SERVED)
        self.controller = controller
        self.fail_with = fail_with
        self.replicasets = []
        self.uids = itertools.count(1)
        self.ticks = itertools.count(1)

    def _fail(self):
        if self.fail_with:
            exc = ApiException(status=self.fail_with, reason="Forbidden")
            exc.body = json.dumps({"message": "deployments.apps is forbidden: User cannot patch"})
            raise api_exception(exc)

    def get(self, resource, name=None, namespace=None, label_selector=None):
        self._fail()
        _api_version, kind = resource
        if name is None:
            self.calls.append(("list", kind, None))
            return Instance({"items": copy.deepcopy(self.replicasets)})
        self.calls.append(("get", kind, None))
        key = (kind, namespace, name)
        if key not in self.objects:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        if kind == "Deployment":
            self._control(self.objects[key])
        return Instance(self.objects[key])

    def _control(self, deployment):
        """The Deployment controller, reduced to the outcomes the tests need."""
        status = deployment.setdefault("status", {})
        want = deployment["spec"]["replicas"]
        mode = self.controller.pop(0) if isinstance(self.controller, list) else self.controller
        if mode == "healthy":
            status.update(observedGeneration=deployment["metadata"]["generation"], replicas=want,
                          updatedReplicas=want, readyReplicas=want, availableReplicas=want)
        elif mode == "stuck":
            status.update(observedGeneration=deployment["metadata"]["generation"], replicas=want + 1,
                          updatedReplicas=1, availableReplicas=want, conditions=[{
                              "type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
                              "message": 'ReplicaSet "iris-7d9" has timed out progressing.'}])
        elif mode == "slow":
            status.update(observedGeneration=deployment["metadata"]["generation"], replicas=want + 1,
                          updatedReplicas=1, availableReplicas=want)

    def server_side_apply(self, resource, body=None, name=None, namespace=None, field_manager=None,
                          force_conflicts=None, dry_run=None):
        self._fail()
        assert field_manager == "lepton.aiops" and dry_run in (None, "All")
        kind = resource[1]
        self.calls.append(("apply", kind, dry_run))
        key = (kind, namespace, name)
        live = self.objects.get(key)
        status = (live or {}).get("status")
        new = server_defaults(merge({k: v for k, v in (live or {}).items() if k != "status"}, body))
        meta = new["metadata"]
        if live is None:
            meta.update(uid="uid-%d" % next(self.uids), generation=1, resourceVersion="1")
        elif new != {k: v for k, v in live.items() if k != "status"}:
            meta["generation"] = live["metadata"]["generation"] + 1
            meta["resourceVersion"] = str(int(live["metadata"]["resourceVersion"]) + 1)
        # Be conservative: the server may stamp managedFields even when nothing else changes.
        meta["managedFields"] = [{"manager": field_manager, "operation": "Apply", "time": "t%d" % next(self.ticks)}]
        if status is not None:
            new["status"] = status
        if dry_run is None:
            self.objects[key] = new
        return Instance(new)

    def delete(self, resource, name=None, namespace=None, dry_run=None):
        self._fail()
        kind = resource[1]
        self.calls.append(("delete", kind, dry_run))
        key = (kind, namespace, name)
        if key not in self.objects:
            raise NotFoundError(ApiException(status=404, reason="Not Found"))
        if dry_run is None:
            del self.objects[key]
        return Instance({"kind": "Status", "status": "Success"})

    def writes(self):
        return [c for c in self.calls if c[0] in ("apply", "delete") and c[2] is None]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def run(fake, check_mode=False, **overrides):
    clock = Clock()
    return ensure(params(**overrides), K8sServiceClient(fake), check_mode=check_mode, sleep=clock.sleep,
                  clock=clock)


def actions(result):
    return dict((a["kind"], a["action"]) for a in result["actions"])


# ---------------------------------------------------------------- apply logic

def test_check_mode_uses_server_dry_run_and_writes_nothing():
    fake = FakeDynamic()
    result = run(fake, check_mode=True)
    assert result["changed"] and actions(result) == {"Deployment": "create", "Service": "create"}
    assert fake.objects == {} and fake.writes() == []
    assert ("apply", "Deployment", "All") in fake.calls and ("apply", "Service", "All") in fake.calls
    assert result["diff"]["before"] == {"Deployment": None, "Service": None}
    assert result["diff"]["after"]["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"] == \
        "lepton/inference-demo:1.0"


def test_create_when_absent_waits_for_the_rollout():
    fake = FakeDynamic()
    result = run(fake)
    assert result["changed"] and actions(result) == {"Deployment": "create", "Service": "create"}
    assert fake.writes() == [("apply", "Deployment", None), ("apply", "Service", None)]
    assert result["deployment"]["available_replicas"] == 2 and result["deployment"]["updated_replicas"] == 2
    assert result["rolled_back"] is False
    assert kinds(result["manifests"]) == ["Deployment", "Service"]


def test_no_change_when_live_objects_equal_despite_server_defaults():
    fake = FakeDynamic()
    run(fake)
    fake.calls.clear()
    again = run(fake)
    assert again["changed"] is False and set(actions(again).values()) == {"none"}
    assert fake.writes() == [] and again["diff"] == {"before": {}, "after": {}}
    assert run(fake, check_mode=True)["changed"] is False


def test_patch_when_different_touches_only_the_changed_object():
    fake = FakeDynamic()
    run(fake)
    fake.calls.clear()
    check = run(fake, check_mode=True, image="lepton/inference-demo:1.1")
    assert actions(check) == {"Deployment": "update", "Service": "none"} and fake.writes() == []
    result = run(fake, image="lepton/inference-demo:1.1")
    assert actions(result) == {"Deployment": "update", "Service": "none"}
    assert fake.writes() == [("apply", "Deployment", None)]
    live = fake.objects[("Deployment", "inference", "iris")]
    assert live["spec"]["template"]["spec"]["containers"][0]["image"] == "lepton/inference-demo:1.1"
    assert live["metadata"]["generation"] == 2
    before = result["diff"]["before"]["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    after = result["diff"]["after"]["Deployment"]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert (before, after) == ("lepton/inference-demo:1.0", "lepton/inference-demo:1.1")
    assert "status" not in result["diff"]["after"]["Deployment"]


def test_optional_objects_are_created_and_removed_again():
    fake = FakeDynamic()
    with_all = run(fake, hpa=HPA, pdb={}, network_policy=dict(allow_from=[]))
    assert actions(with_all) == {"Deployment": "create", "Service": "create", "HorizontalPodAutoscaler": "create",
                                 "PodDisruptionBudget": "create", "NetworkPolicy": "create"}
    fake.objects[("PodDisruptionBudget", "inference", "iris")]["metadata"]["labels"].pop(
        "app.kubernetes.io/managed-by")  # someone else's now: left alone
    without = run(fake)
    assert actions(without) == {"Deployment": "update", "Service": "none", "HorizontalPodAutoscaler": "delete",
                                "NetworkPolicy": "delete"}
    assert set(k[0] for k in fake.objects) == {"Deployment", "Service", "PodDisruptionBudget"}


def test_absent_deletes_everything_and_then_does_nothing():
    fake = FakeDynamic()
    run(fake, hpa=HPA)
    fake.calls.clear()
    check = run(fake, check_mode=True, state="absent")
    assert check["changed"] and len(fake.objects) == 3
    assert [c for c in fake.calls if c[0] == "delete"] == [
        ("delete", "HorizontalPodAutoscaler", "All"), ("delete", "Service", "All"), ("delete", "Deployment", "All")]
    result = run(fake, state="absent")
    assert result["changed"] and fake.objects == {}
    assert actions(result) == {"HorizontalPodAutoscaler": "delete", "Service": "delete", "Deployment": "delete"}
    assert result["diff"]["after"] == {"HorizontalPodAutoscaler": None, "Service": None, "Deployment": None}
    assert run(fake, state="absent")["changed"] is False


def test_without_wait_the_status_is_returned_at_once():
    fake = FakeDynamic(controller="slow")
    result = run(fake, wait=False)
    assert result["changed"] and result["deployment"]["updated_replicas"] == 1


# ---------------------------------------------------------------- wait and rollback

def test_wait_polls_until_the_rollout_is_done():
    fake = FakeDynamic()
    run(fake)
    fake.controller = ["healthy"] + ["slow"] * 3 + ["healthy"]  # the planning read, three polls, done
    fake.calls.clear()
    result = run(fake, image="lepton/inference-demo:1.1")
    polls = [c for c in fake.calls if c == ("get", "Deployment", None)]
    assert len(polls) == 5 and fake.controller == []
    assert result["deployment"]["available_replicas"] == 2 and result["deployment"]["generation"] == 2


def test_progress_deadline_exceeded_fails_without_rollback():
    fake = FakeDynamic()
    run(fake)
    fake.controller = "stuck"
    with pytest.raises(K8sServiceError, match="failed to roll out: ReplicaSet .* has timed out progressing") as err:
        run(fake, image="lepton/inference-demo:broken")
    assert err.value.result["rolled_back"] is False
    assert err.value.result["deployment"]["conditions"][0]["reason"] == "ProgressDeadlineExceeded"


def test_slow_rollout_times_out():
    fake = FakeDynamic(controller="slow")
    with pytest.raises(K8sServiceError, match="not rolled out within 60 s: 1 of 2 replicas updated"):
        run(fake)


def add_replicasets(fake, deployment):
    """ReplicaSets for revisions 1 (the good template) and 2 (the broken one) of ``deployment``."""
    uid = deployment["metadata"]["uid"]
    good = copy.deepcopy(deployment["spec"]["template"])
    good["metadata"]["labels"]["pod-template-hash"] = "5f6b7"
    good["spec"]["containers"][0]["image"] = "lepton/inference-demo:1.0"
    broken = copy.deepcopy(good)
    broken["spec"]["containers"][0]["image"] = "lepton/inference-demo:broken"
    for revision, template in ((1, good), (2, broken)):
        fake.replicasets.append({"metadata": {
            "name": "iris-%d" % revision, "annotations": {"deployment.kubernetes.io/revision": str(revision)},
            "ownerReferences": [{"kind": "Deployment", "name": "iris", "uid": uid}]},
            "spec": {"template": template}})
    fake.replicasets.append({"metadata": {"name": "other", "annotations": {"deployment.kubernetes.io/revision": "1"},
                                          "ownerReferences": [{"kind": "Deployment", "uid": "someone-else"}]},
                             "spec": {"template": {}}})
    deployment["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "2"


def test_rollback_applies_the_previous_replicaset_template():
    fake = FakeDynamic()
    run(fake)
    live = fake.objects[("Deployment", "inference", "iris")]
    fake.controller = "stuck"
    original_apply = fake.server_side_apply

    def apply_then_record_revisions(resource, **kwargs):
        out = original_apply(resource, **kwargs)
        if kwargs.get("dry_run") is None and not fake.replicasets:
            add_replicasets(fake, fake.objects[("Deployment", "inference", "iris")])
        return out
    fake.server_side_apply = apply_then_record_revisions
    assert live["metadata"]["uid"]
    fake.calls.clear()
    with pytest.raises(K8sServiceError, match="rolled back to the previous ReplicaSet's pod template") as err:
        run(fake, image="lepton/inference-demo:broken", rollback_on_failure=True)
    assert err.value.result["rolled_back"] is True
    assert fake.writes() == [("apply", "Deployment", None), ("apply", "Deployment", None)]
    template = fake.objects[("Deployment", "inference", "iris")]["spec"]["template"]
    assert template["spec"]["containers"][0]["image"] == "lepton/inference-demo:1.0"
    assert "pod-template-hash" not in template["metadata"]["labels"]


def test_no_rollback_of_a_deployment_this_run_did_not_update():
    fake = FakeDynamic(controller="stuck")
    with pytest.raises(K8sServiceError, match="not rolled back: this run did not update") as err:
        run(fake, rollback_on_failure=True)
    assert err.value.result["rolled_back"] is False


@pytest.mark.parametrize("status, generation, expected", [
    ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}, 2, "done"),
    ({"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}, 2, "progressing"),
    ({"observedGeneration": 2, "replicas": 3, "updatedReplicas": 2, "availableReplicas": 2}, 2, "progressing"),
    ({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 1}, 2, "progressing"),
    ({"observedGeneration": 2, "conditions": [{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}]}, 2,
     "failed"),
])
def test_rollout_state(status, generation, expected):
    deployment = {"metadata": {"generation": generation}, "spec": {"replicas": 2}, "status": status}
    assert rollout_state(deployment)[0] == expected


# ---------------------------------------------------------------- errors and the module edge

def test_api_errors_become_clear_messages():
    with pytest.raises(K8sServiceError, match="reading Deployment inference/iris failed: .*forbidden"):
        run(FakeDynamic(fail_with=403))


def test_an_api_group_the_cluster_does_not_serve_is_named():
    fake = FakeDynamic()
    fake.resources = FakeResources([k for k in FakeDynamic.SERVED if k[0] != "autoscaling/v2"])
    with pytest.raises(K8sServiceError, match="does not serve autoscaling/v2 HorizontalPodAutoscaler"):
        run(fake, hpa=HPA)


def test_connection_problems_are_reported_plainly(tmp_path):
    with pytest.raises(K8sServiceError, match="cannot load kubeconfig .*missing"):
        K8sServiceClient.from_connection(kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(K8sServiceError, match="cannot reach the API server"):
        K8sServiceClient.from_connection(host="http://127.0.0.1:9", api_key="t")


def exit_json_of(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            k8s_service_module.main()
    return json.loads(capsys.readouterr().out)


def test_module_reports_a_missing_kubernetes_library(monkeypatch, capsys):
    monkeypatch.setattr(k8s_service_module, "HAS_KUBERNETES", False)
    out = exit_json_of(capsys, dict(name="iris", image="x:1"))
    assert out["failed"] is True
    assert "Failed to import the required Python library (kubernetes)" in out["msg"]


def test_module_runs_with_defaults_and_hides_the_diff_unless_asked(monkeypatch, capsys):
    fake = FakeDynamic()
    monkeypatch.setattr(K8sServiceClient, "from_connection", classmethod(lambda cls, **conn: cls(fake)))
    out = exit_json_of(capsys, dict(name="iris", namespace="inference", image="x:1", api_key="s3cr3t-token",
                                    wait=False))
    assert out["changed"] is True and "diff" not in out
    container = out["manifests"][0]["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"memory": "256Mi"}}
    assert "s3cr3t-token" not in json.dumps(out)
    failed = exit_json_of(capsys, dict(name="iris", namespace="inference"))
    assert failed["failed"] and "image" in failed["msg"]


def test_module_failure_carries_the_rollout_result(monkeypatch, capsys):
    fake = FakeDynamic(controller="stuck")
    monkeypatch.setattr(K8sServiceClient, "from_connection", classmethod(lambda cls, **conn: cls(fake)))
    out = exit_json_of(capsys, dict(name="iris", namespace="inference", image="x:1"))
    assert out["failed"] and "ProgressDeadlineExceeded" not in out["msg"] and "timed out progressing" in out["msg"]
    assert out["rolled_back"] is False and out["deployment"]["conditions"][0]["reason"] == "ProgressDeadlineExceeded"
