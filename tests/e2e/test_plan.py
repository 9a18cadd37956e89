"""`herder plan` end to end, on both backends: a manifest change is planned step by step, the same manifests are
applied, and the operator takes exactly the planned steps (its step Events carry the plan's own words; govc and the
SCVMM simulator show the results); a second plan then has nothing to do (exit 0). The same for a ServerSnapshot
(the snapshot taken) and a ServerSnapshotRestore (the revert, and the power change after it). Invalid manifests
and references that do not resolve exit 1. Every plan runs with the operator stopped (a plan needs no operator),
and is proven read-only by counts: no Kubernetes write that is not a dry run (kube-apiserver's
apiserver_request_total), only reads on vCenter (herder plan's metered requests, and vcsim's task list) and only
Get-* cmdlets on SCVMM (the simulator's own log). Every JSON output validates against docs/plan.schema.json."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from e2e_world import (
    SCVMM_ZONE,
    Backend,
    Govc,
    ScvmmSim,
    apply,
    ecs_manifest,
    get,
    status_of,
    wait_for,
    wait_ready,
)
from prometheus_client.parser import text_string_to_metric_families
from test_images import make_ova, sha256
from test_pools import pool_info, pool_ready

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "plan.schema.json").read_text())
WRITE_VERBS = {"POST", "PUT", "PATCH", "DELETE", "APPLY"}
# kube-apiserver's own bookkeeping (its identity lease, flow-control and CRD status, the endpoints of the
# `kubernetes` Service): not anyone's request.
HOUSEKEEPING = {"coordination.k8s.io", "flowcontrol.apiserver.k8s.io", "apiextensions.k8s.io", "/endpoints",
                "discovery.k8s.io/endpointslices"}
# vSphere methods a plan may call: logging in and out, reading properties (pyVmomi counts a property fetch under
# the property's name, lower-case) and finding objects. Methods are metered by pyVmomi's name, so a view's
# DestroyView would count as "Destroy", a VM's Destroy_Task's name too: a plan makes no views.
VCENTER_READS = {"RetrieveServiceContent", "RetrieveContent", "Login", "Logout", "RetrievePropertiesEx",
                 "ContinueRetrievePropertiesEx", "FindByInventoryPath", "FindAllByUuid", "FindByUuid", "FindChild",
                 "CurrentTime"}
# Cmdlets a plan may run on SCVMM: VMM's Get-* and PowerShell's own pipeline helpers.
POWERSHELL_HELPERS = {"ForEach-Object", "Where-Object", "ConvertTo-Json", "Select-Object", "Sort-Object",
                      "Measure-Object"}
GIB = 1024**3
STEP_EVENTS = {"Create", "Adopt", "Reconfigure", "PowerOn", "PowerOff", "Suspend", "Relocate", "Recreate",
               "RemoveFailedCreate", "TakeSnapshot", "Revert"}


def kubernetes_writes(stack: StackState) -> dict[str, float]:
    """Writes kube-apiserver has served that were not dry runs, by its own counter: {"VERB group/resource": n}."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(stack.kubectl("get", "--raw", "/metrics").stdout):
        for sample in family.samples:
            labels = sample.labels
            if (sample.name == "apiserver_request_total" and labels.get("verb") in WRITE_VERBS
                    and labels.get("dry_run") == "" and labels.get("group") not in HOUSEKEEPING
                    and f"{labels.get('group')}/{labels['resource']}" not in HOUSEKEEPING):
                key = f"{labels['verb']} {labels.get('group')}/{labels['resource']}/{labels.get('subresource')}"
                found[key] = found.get(key, 0.0) + sample.value
    return found


def herder_plan(stack: StackState, docs: list[dict[str, Any]], *args: str,
                output: str = "json") -> tuple[int, dict[str, Any] | str]:
    """`herder plan -f -` on `docs`: (exit code, the JSON output validated against the schema | the text)."""
    done = subprocess.run([sys.executable, "-m", "herder.cli", "plan", "-f", "-", "-o", output, *args],
                          input=yaml.safe_dump_all(docs), env=os.environ | stack.env(), capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode in {0, 1, 2}, done.stderr
    assert done.stdout, f"herder plan printed nothing; stderr: {done.stderr}"
    if output != "json":
        return done.returncode, done.stdout
    out: dict[str, Any] = json.loads(done.stdout)
    jsonschema.validate(out, SCHEMA)
    assert out["exitCode"] == done.returncode
    return done.returncode, out


class Quiet:
    """The operator stopped while plans run: every Kubernetes write and backend call is then the plan's."""

    def __init__(self, stack: StackState, operator: OperatorProcess, govc: Govc, sim: ScvmmSim | None) -> None:
        self.stack, self.operator, self.govc, self.sim = stack, operator, govc, sim

    @contextlib.contextmanager
    def plans(self) -> Iterator[None]:
        self.operator.stop()
        try:
            yield
        finally:
            self.operator.start()

    def plan(self, docs: list[dict[str, Any]], *args: str) -> tuple[int, dict[str, Any]]:
        """A plan, checked to have written nothing to Kubernetes and changed nothing on either backend."""
        writes, tasks = kubernetes_writes(self.stack), self._tasks()
        if self.sim is not None:
            self.sim.reset_stats()
        code, out = herder_plan(self.stack, docs, *args)
        assert isinstance(out, dict)
        assert kubernetes_writes(self.stack) == writes, "herder plan wrote to Kubernetes"
        requests = out["backendRequests"]
        vcenter = {name for name in requests.get("vcenter", {}) if not name[:1].islower()}
        assert vcenter <= VCENTER_READS, f"vCenter calls that are not reads: {vcenter - VCENTER_READS}"
        started = sorted(set(self._tasks()) - set(tasks))
        assert not started, f"vCenter tasks started during the plan: {started}"
        if self.sim is not None:
            cmdlets = set(self.sim.stats()["cmdlets"])
            assert all(name.startswith("Get-SC") for name in cmdlets
                       if "-SC" in name), cmdlets
            assert {name for name in cmdlets if "-SC" not in name} <= POWERSHELL_HELPERS, cmdlets
            assert bool(cmdlets) == bool(requests.get("scvmm")), (cmdlets, requests)
        return code, out

    def _tasks(self) -> list[str]:
        """The keys of vCenter's recent tasks (its last 200): a new task's key is new, even when the list is full."""
        tasks = json.loads(self.govc("tasks", "-n", "1000", "-json").stdout or "{}").get("tasks") or []
        return [str(t["key"]) for t in tasks]


def steps(out: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    """{(kind, name): the steps' `do`} of the objects that have any."""
    return {(o["kind"], o["name"]): [s["do"] for s in o["steps"]] for o in out["objects"] if o["steps"]}


def one(out: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    found = [o for o in out["objects"] if (o["kind"], o["name"]) == (kind, name)]
    assert len(found) == 1, [(o["kind"], o["name"]) for o in out["objects"]]
    return found[0]


def events_mark(stack: StackState, namespace: str) -> int:
    """The resourceVersion of the namespace's Events now: those posted later have a higher one."""
    listed = stack.kubectl("get", "--raw", f"/api/v1/namespaces/{namespace}/events").stdout
    return int(json.loads(listed)["metadata"]["resourceVersion"])


def step_events(stack: StackState, namespace: str, name: str, since: int) -> list[tuple[str, str]]:
    """(reason, message) of the step Events of ECS `name` posted after `since`, in the order they were posted."""
    items = json.loads(stack.kubectl("get", "events", "-o", "json", namespace=namespace).stdout)["items"]
    ours = [e for e in items if e["involvedObject"].get("name") == name and e.get("reason") in STEP_EVENTS
            and int(e["metadata"]["resourceVersion"]) > since]
    ours.sort(key=lambda e: int(e["metadata"]["resourceVersion"]))
    return [(e["reason"], e["message"]) for e in ours]


def planned(out: dict[str, Any], name: str, kind: str = "ElasticCloudServer") -> list[tuple[str, str]]:
    return [(s["do"], s["summary"]) for s in one(out, kind, name)["steps"]]


def assert_operator_took(stack: StackState, namespace: str, name: str, plan: list[tuple[str, str]],
                         since: int) -> None:
    """The step Events the operator posted for ECS `name` since the apply are the planned steps, in order and in
    the same words (a create's plan also says why the scheduler chose its zone)."""
    taken = step_events(stack, namespace, name, since)
    assert [do for do, _ in taken] == [do for do, _ in plan], (taken, plan)
    for (do, message), (_, summary) in zip(taken, plan, strict=True):
        if do == "Create":
            assert summary.startswith(message), (message, summary)
        else:
            assert message == summary


def labelled(body: dict[str, Any], namespace: str) -> dict[str, Any]:
    body["metadata"].setdefault("labels", {})["plan"] = namespace
    return body


def server(backend: Backend, namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return labelled(backend.manifest(name, **({"cpu": 1, "memory": "1Gi"} | spec)), namespace)


@pytest.fixture
def quiet(stack: StackState, operator: OperatorProcess, govc: Govc) -> Quiet:
    return Quiet(stack, operator, govc, ScvmmSim(stack) if stack.scvmm_url else None)


def test_plan_then_apply_on_vcenter(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str,  # noqa: PLR0917
                                    files: tuple[str, Path], quiet: Quiet) -> None:
    backend = Backend("vcenter", stack, govc)
    pool_name = f"{namespace}-pool"[:63]
    pool = labelled({"apiVersion": "herder.dev/v1alpha1", "kind": "ResourcePool", "metadata": {"name": pool_name},
                     "spec": {"zone": "dc0-c0", "cpu": {"reservation": 100},
                              "memory": {"reservation": "256Mi", "limit": "4Gi"}}}, namespace)
    disks = {"data": [{"name": "grow", "size": "1Gi"}, {"name": "drop", "size": "1Gi"}]}
    before = [pool, server(backend, namespace, "resize", powerCyclePolicy="Automatic"),
              server(backend, namespace, "disks", disks=disks), server(backend, namespace, "mover"),
              server(backend, namespace, "doomed")]
    apply(stack, *before, namespace=namespace)
    pool_ready(stack, pool_name)
    for name in ("resize", "disks", "mover", "doomed"):
        wait_ready(stack, namespace, name, timeout=90)
    host = status_of(stack, "ecs", "mover", namespace)["host"]
    target = next(h for h in ("DC0_C0_H0", "DC0_C0_H1", "DC0_C0_H2") if h != host)
    base, root = files
    ova = make_ova()
    (root / f"{namespace}.ova").write_bytes(ova)
    image = labelled({"apiVersion": "herder.dev/v1alpha1", "kind": "Image", "metadata": {"name": "imported"},
                      "spec": {"provider": {"kind": "VCenter", "name": "vcsim"}, "osFamily": "Linux",
                               "source": {"url": {"url": f"{base}/{namespace}.ova", "checksum": sha256(ova)}}}},
                     namespace)
    grown_pool = json.loads(json.dumps(pool))
    grown_pool["spec"]["memory"]["limit"] = "8Gi"
    fresh = server(backend, namespace, "fresh")
    fresh["spec"].pop("availabilityZone")
    after = [grown_pool, server(backend, namespace, "resize", powerCyclePolicy="Automatic", cpu=2, memory="2Gi"),
             server(backend, namespace, "disks", disks={"data": [{"name": "grow", "size": "2Gi"}]}),
             server(backend, namespace, "mover", placement={"host": target}), fresh, image]
    prune = ("-n", namespace, "--prune", "-l", f"plan={namespace}")

    with quiet.plans():
        code, out = quiet.plan(after, *prune)
        text_code, text = herder_plan(stack, after, *prune, output="text")
    assert code == text_code == 2, out
    assert steps(out) == {("ResourcePool", pool_name): ["UpdatePool"],
                          ("ElasticCloudServer", "resize"): ["PowerOff", "Reconfigure", "PowerOn"],
                          ("ElasticCloudServer", "disks"): ["Reconfigure"],
                          ("ElasticCloudServer", "mover"): ["Relocate"],
                          ("ElasticCloudServer", "fresh"): ["Create"],
                          ("Image", "imported"): ["Import"],
                          ("ElasticCloudServer", "doomed"): ["Destroy"]}
    assert out["summary"] == {"create": 2, "change": 4, "delete": 1, "unchanged": 0, "errors": 0}
    assert one(out, "ResourcePool", pool_name)["steps"][0]["changes"] == [
        {"what": "memory limit", "before": "4Gi", "after": "8Gi"}]
    assert one(out, "ElasticCloudServer", "resize")["steps"][1]["changes"] == [
        {"what": "CPU", "before": "1", "after": "2"}, {"what": "memory", "before": "1Gi", "after": "2Gi"}]
    shrink = one(out, "ElasticCloudServer", "disks")["steps"][0]
    assert shrink["dataLoss"] and {"what": "disk drop", "before": "1Gi", "after": None} in shrink["changes"]
    doomed = one(out, "ElasticCloudServer", "doomed")
    assert doomed["action"] == "delete" and doomed["steps"][0]["dataLoss"]
    create = one(out, "ElasticCloudServer", "fresh")["steps"][0]
    assert "chosen" in create["details"]["zoneChoice"]
    assert "~ ElasticCloudServer" in str(text) and "[DATA LOSS]" in str(text)

    mark = events_mark(stack, namespace)
    stack.kubectl("apply", "-f", "-", *prune, "--prune-allowlist=herder.dev/v1alpha1/ElasticCloudServer",
                  input=yaml.safe_dump_all(after))
    status = wait_ready(stack, namespace, "fresh", timeout=90)
    assert status["zone"] == create["details"]["zone"], "the scheduler chose another zone than the plan said"
    wait_for(lambda: status_of(stack, "ecs", "resize", namespace).get("cpu") == 2, timeout=90, what="resize")
    wait_for(lambda: status_of(stack, "ecs", "mover", namespace).get("host") == target, timeout=90, what="move")
    wait_for(lambda: [d["name"] for d in status_of(stack, "ecs", "disks", namespace).get("disks") or []]
             == ["os", "grow"], timeout=90, what="the disk removed")
    wait_for(lambda: get(stack, "ecs", "doomed", namespace) is None and backend.vm(namespace, "doomed") is None,
             timeout=90, what="doomed deleted with its VM")
    wait_for(lambda: (status_of(stack, "image", "imported", namespace).get("phase") == "Available"), timeout=90,
             what="the image imported")
    for name in ("resize", "disks", "mover", "fresh"):
        wait_ready(stack, namespace, name, timeout=90)
        assert_operator_took(stack, namespace, name, planned(out, name), mark)
    assert backend.vm(namespace, "resize")["cpu"] == 2  # type: ignore[index]
    assert backend.vm(namespace, "disks")["disks"] == sorted([backend.template_disk, 2 * GIB])  # type: ignore[index]
    info = pool_info(govc, f"/DC0/host/DC0_C0/Resources/{pool_name}")
    assert info is not None and info["config"]["memoryAllocation"]["limit"] == 8192

    with quiet.plans():
        code, out = quiet.plan(after, *prune)
    assert code == 0, steps(out)
    assert steps(out) == {} and {o["action"] for o in out["objects"]} == {"none"}


def test_plan_then_apply_on_scvmm(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str,
                                  quiet: Quiet) -> None:
    """The same on SCVMM: a ResourcePool is a VMM cloud (a capacity change is planned by dimension), and a pool
    change with a pinned host is one Relocate (Set-SCVirtualMachine -Cloud, then a live migration). Image imports
    are not supported on SCVMM in this version."""
    if not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    backend = Backend("scvmm", stack, govc)
    cloud = f"{namespace}-cloud"[:63]
    pool = labelled({"apiVersion": "herder.dev/v1alpha1", "kind": "ResourcePool", "metadata": {"name": cloud},
                     "spec": {"zone": SCVMM_ZONE, "serverLimit": 10, "memory": {"limit": "16Gi"}}}, namespace)
    disks = {"data": [{"name": "grow", "size": "1Gi"}, {"name": "drop", "size": "1Gi"}]}
    apply(stack, pool, server(backend, namespace, "resize", powerCyclePolicy="Automatic"),
          server(backend, namespace, "disks", disks=disks), server(backend, namespace, "mover"),
          server(backend, namespace, "doomed"), namespace=namespace)
    pool_ready(stack, cloud)
    for name in ("resize", "disks", "mover", "doomed"):
        wait_ready(stack, namespace, name, timeout=120)
    host = status_of(stack, "ecs", "mover", namespace)["host"]
    target = next(h for h in backend.hosts() if h != host)
    grown = json.loads(json.dumps(pool))
    grown["spec"]["serverLimit"] = 12
    fresh = server(backend, namespace, "fresh")
    fresh["spec"].pop("availabilityZone")
    after = [grown, server(backend, namespace, "resize", powerCyclePolicy="Automatic", cpu=2, memory="2Gi"),
             server(backend, namespace, "disks", disks={"data": [{"name": "grow", "size": "2Gi"}]}),
             server(backend, namespace, "mover", resourcePool=cloud, placement={"host": target}), fresh]
    prune = ("-n", namespace, "--prune", "-l", f"plan={namespace}")

    with quiet.plans():
        code, out = quiet.plan(after, *prune)
    assert code == 2, out
    mark = events_mark(stack, namespace)
    assert steps(out) == {("ResourcePool", cloud): ["UpdatePool"],
                          ("ElasticCloudServer", "resize"): ["PowerOff", "Reconfigure", "PowerOn"],
                          ("ElasticCloudServer", "disks"): ["Reconfigure"],
                          ("ElasticCloudServer", "mover"): ["Relocate"],
                          ("ElasticCloudServer", "fresh"): ["Create"],
                          ("ElasticCloudServer", "doomed"): ["Destroy"]}
    assert one(out, "ResourcePool", cloud)["steps"][0]["changes"] == [
        {"what": "capacity servers", "before": "10", "after": "12"}]
    assert one(out, "ElasticCloudServer", "mover")["steps"][0]["changes"] == [
        {"what": "host", "before": host, "after": target}, {"what": "pool", "before": None, "after": cloud}]
    assert one(out, "ElasticCloudServer", "fresh")["steps"][0]["details"]["zone"] == SCVMM_ZONE
    assert out["backendRequests"].get("scvmm")

    stack.kubectl("apply", "-f", "-", *prune, "--prune-allowlist=herder.dev/v1alpha1/ElasticCloudServer",
                  input=yaml.safe_dump_all(after))
    wait_for(lambda: get(stack, "ecs", "doomed", namespace) is None and backend.vm(namespace, "doomed") is None,
             timeout=120, what="doomed deleted with its VM")
    wait_for(lambda: status_of(stack, "ecs", "resize", namespace).get("cpu") == 2, timeout=120, what="resize")
    wait_for(lambda: [d["name"] for d in status_of(stack, "ecs", "disks", namespace).get("disks") or []]
             == ["os", "grow"], timeout=120, what="the disk removed")
    wait_for(lambda: (s := status_of(stack, "ecs", "mover", namespace)).get("host") == target
             and s.get("resourcePool") == cloud, timeout=120, what="mover in the cloud, on its new host")
    for name in ("resize", "disks", "mover", "fresh"):
        wait_ready(stack, namespace, name, timeout=120)
        assert_operator_took(stack, namespace, name, planned(out, name), mark)
    vm = backend.vm(namespace, "resize")
    assert vm is not None and (vm["cpu"], vm["memory_mib"], vm["power"]) == (2, 2048, "On")
    disks_vm = backend.vm(namespace, "disks")
    assert disks_vm is not None and disks_vm["disks"] == sorted([backend.template_disk, 2 * GIB])
    moved = backend.vm(namespace, "mover")
    assert moved is not None and (moved["host"], moved["pool"]) == (target, cloud)
    assert backend.sim is not None and (backend.sim.cloud(cloud) or {}).get("VMCount") == 12  # Get-SCCloudCapacity

    with quiet.plans():
        code, out = quiet.plan(after, *prune)
    assert code == 0, steps(out)


def test_invalid_manifests_and_unresolved_references_exit_1(stack: StackState, operator: OperatorProcess,
                                                            govc: Govc, namespace: str, quiet: Quiet) -> None:
    invalid = ecs_manifest("zero-cpu", cpu=0)
    no_image = ecs_manifest("no-image", image={"kind": "ClusterImage", "name": "no-such-image"})
    no_zone = ecs_manifest("no-zone", availabilityZone="nowhere")
    orphan_pool = {"apiVersion": "herder.dev/v1alpha1", "kind": "ResourcePool",
                   "metadata": {"name": f"{namespace}-child"[:63]},
                   "spec": {"zone": "dc0-c0", "parent": "no-such-parent"}}
    fine = ecs_manifest("fine")
    docs = [invalid, no_image, no_zone, orphan_pool, fine]
    if stack.scvmm_url:
        docs.append({"apiVersion": "herder.dev/v1alpha1", "kind": "ResourcePool",  # a cloud has no reservation
                     "metadata": {"name": f"{namespace}-vmm"[:63]},
                     "spec": {"zone": SCVMM_ZONE, "cpu": {"reservation": 500}}})
    with quiet.plans():
        code, out = quiet.plan(docs, "-n", namespace)
        broken_code, broken = herder_plan(stack, [], "-n", namespace)  # an empty input is fine ...
        bad = subprocess.run([sys.executable, "-m", "herder.cli", "plan", "-f", "-"], input="kind: [unclosed",
                             env=os.environ | stack.env(), capture_output=True, text=True, timeout=60, check=False)
    assert code == 1
    problems = {o["name"]: [(p["reason"], p["message"]) for p in o["problems"]] for o in out["objects"]}
    [(reason, message)] = problems["zero-cpu"]
    assert reason == "Invalid" and "spec.cpu in body should be greater than or equal to 1" in message  # the server's
    assert [r for r, _ in problems["no-image"]] == ["ImageNotFound"]
    assert [r for r, _ in problems["no-zone"]] == ["ZoneNotFound"]
    assert [r for r, _ in problems[f"{namespace}-child"[:63]]] == ["ParentNotFound"]
    assert problems["fine"] == [] and one(out, "ElasticCloudServer", "fine")["action"] == "create"
    if stack.scvmm_url:
        [(reason, message)] = problems[f"{namespace}-vmm"[:63]]
        assert reason == "NotSupported" and "spec.cpu.reservation" in message
    assert out["summary"]["errors"] == len(docs) - 1
    assert broken_code == 0 and isinstance(broken, dict) and broken["objects"] == []
    assert bad.returncode == 1 and "not YAML" in bad.stdout, bad.stdout


def test_plan_with_read_only_rights(stack: StackState, operator: OperatorProcess, govc: Govc, namespace: str,
                                    quiet: Quiet) -> None:
    """The chart's herder-plan ClusterRole is enough to plan (herder's schema then validates); its plan
    ServiceAccount also dry-runs, and the admission policy refuses it any real write."""
    release = f"p{namespace[-6:]}-herder"
    rendered = subprocess.run(
        ["helm", "template", release, str(Path(__file__).resolve().parents[2] / "charts" / "herder"), "-n",
         namespace, "--show-only", "templates/user-roles.yaml", "--show-only", "templates/plan.yaml",
         "--set", "plan.credentialsSecrets[0].namespace=herder-system",
         "--set", "plan.credentialsSecrets[0].name=vcsim-credentials"],
        env=os.environ | stack.env(), capture_output=True, text=True, check=True, timeout=60).stdout
    stack.kubectl("apply", "-f", "-", input=rendered)
    reader = f"reader-{namespace}"
    stack.kubectl("create", "clusterrolebinding", reader, f"--clusterrole={release}-plan", f"--user={reader}")
    stack.kubectl("create", "rolebinding", reader, f"--role={release}-plan-vcsim-credentials", f"--user={reader}",
                  namespace="herder-system")
    account = f"system:serviceaccount:{namespace}:{release}-plan"
    apply(stack, ecs_manifest("web", cpu=1, memory="1Gi"), namespace=namespace)
    wait_ready(stack, namespace, "web")
    bigger = ecs_manifest("web", cpu=1, memory="2Gi")
    invalid = ecs_manifest("zero", cpu=0)

    with quiet.plans():
        as_reader, by_reader = quiet.plan([bigger], "-n", namespace, "--as", reader)
        rejected, by_schema = quiet.plan([invalid], "-n", namespace, "--as", reader)
        as_account, by_account = quiet.plan([bigger, invalid], "-n", namespace, "--as", account)
    assert as_reader == 2 and not by_reader["serverSideValidation"]
    assert "forbidden" in by_reader["validationNote"]
    blocked = one(by_reader, "ElasticCloudServer", "web")  # powerCyclePolicy Manual: the memory waits
    assert blocked["action"] == "change" and [(s["do"], s.get("reason")) for s in blocked["steps"]] == [
        ("Blocked", "PowerCycleRequired")]
    assert rejected == 1 and "herder's schema" in one(by_schema, "ElasticCloudServer", "zero")["problems"][0]["message"]
    assert as_account == 1 and by_account["serverSideValidation"]
    assert one(by_account, "ElasticCloudServer", "web")["action"] == "change"
    assert "in body should be greater than or equal to 1" in \
        one(by_account, "ElasticCloudServer", "zero")["problems"][0]["message"]
    refused = stack.kubectl("create", "--as", account, "-f", "-", input=yaml.safe_dump(ecs_manifest("real")),
                            namespace=namespace, check=False)
    assert refused.returncode != 0 and "may only dry-run" in refused.stderr, refused.stderr


def snapshot_then_restore(stack: StackState, backend: Backend, namespace: str, quiet: Quiet,
                          **snapshot_spec: Any) -> dict[str, Any]:
    """Plan a ServerSnapshot of a running server, apply it, and compare the step the operator took; then the same
    for a ServerSnapshotRestore to it that powers the server on after the revert. Returns the restore's plan."""
    web = server(backend, namespace, "web", powerCyclePolicy="Automatic")
    apply(stack, web, namespace=namespace)
    wait_ready(stack, namespace, "web", timeout=120)
    snap = labelled({"apiVersion": "herder.dev/v1alpha1", "kind": "ServerSnapshot", "metadata": {"name": "before"},
                     "spec": {"server": "web"} | snapshot_spec}, namespace)
    undo = labelled({"apiVersion": "herder.dev/v1alpha1", "kind": "ServerSnapshotRestore",
                     "metadata": {"name": "rollback"}, "spec": {"snapshot": "before", "powerState": "On"}}, namespace)

    with quiet.plans():
        code, out = quiet.plan([web, snap], "-n", namespace)
    assert code == 2 and steps(out) == {("ServerSnapshot", "before"): ["TakeSnapshot"]}, out
    mark = events_mark(stack, namespace)
    apply(stack, snap, namespace=namespace)
    wait_for(lambda: status_of(stack, "ssnap", "before", namespace).get("readyToUse"), timeout=120,
             what="the snapshot taken")
    assert step_events(stack, namespace, "before", mark) == planned(out, "before", "ServerSnapshot")
    assert len(backend.snapshots(namespace, "web")) == 1

    with quiet.plans():
        code, out = quiet.plan([web, snap, undo], "-n", namespace)
    assert code == 2 and steps(out) == {("ServerSnapshotRestore", "rollback"): ["Revert", "PowerOn"]}, out
    revert = one(out, "ServerSnapshotRestore", "rollback")["steps"][0]
    assert revert["dataLoss"] and revert["details"]["snapshot"] == "before"
    mark = events_mark(stack, namespace)
    apply(stack, undo, namespace=namespace)
    wait_for(lambda: status_of(stack, "ssrestore", "rollback", namespace).get("phase") == "Completed", timeout=120,
             what="the restore completed")
    assert step_events(stack, namespace, "rollback", mark) == planned(out, "rollback", "ServerSnapshotRestore")
    assert (backend.vm(namespace, "web") or {}).get("power") == "On"
    wait_ready(stack, namespace, "web", timeout=120)

    with quiet.plans():
        code, again = quiet.plan([web, snap, undo], "-n", namespace)
    assert code == 0, steps(again)
    return out


def test_plan_snapshot_and_restore_on_vcenter(stack: StackState, operator: OperatorProcess, govc: Govc,
                                              namespace: str, quiet: Quiet) -> None:
    """A snapshot without memory keeps the VM off (vcsim, patched as vCenter behaves): the plan knows the revert
    leaves it off, so the power-on after it is a step of its own."""
    out = snapshot_then_restore(stack, Backend("vcenter", stack, govc), namespace, quiet, memory=False)
    power_on = one(out, "ServerSnapshotRestore", "rollback")["steps"][1]
    assert power_on["changes"] == [{"what": "power", "before": "Off", "after": "On"}]
    assert one(out, "ServerSnapshotRestore", "rollback")["notes"] == []


def test_plan_snapshot_and_restore_on_scvmm(stack: StackState, operator: OperatorProcess, govc: Govc,
                                            namespace: str, quiet: Quiet) -> None:
    """A production checkpoint (quiesce) leaves the VM off after a restore; VMM does not say which power state a
    checkpoint brings back, so the plan lists the power-on and says it is taken only if needed."""
    if not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    out = snapshot_then_restore(stack, Backend("scvmm", stack, govc), namespace, quiet, quiesce=True)
    power_on = one(out, "ServerSnapshotRestore", "rollback")["steps"][1]
    assert power_on["changes"] == [{"what": "power", "before": None, "after": "On"}]
    assert any("does not say which power state" in n for n in one(out, "ServerSnapshotRestore", "rollback")["notes"])
