"""Helpers for end-to-end tests: manifests, an independent govc client, waiting."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from herder_dev.stack import StackState

VCENTER = "vcsim"
ZONES = {"dc0-c0": "DC0_C0", "dc0-c1": "DC0_C1"}
CLUSTER_IMAGE = "ubuntu-e2e"


def vcenter_manifest(stack: StackState, name: str = VCENTER, secret: str = "vcsim-credentials",
                     ca_pem: str | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "herder.dev/v1alpha1", "kind": "VCenter", "metadata": {"name": name},
        "spec": {"server": f"127.0.0.1:{stack.processes['vcsim'].port}", "datacenter": "DC0",
                 "credentialsSecretRef": {"name": secret, "namespace": "herder-system"},
                 "tls": {"caBundle": ca_pem if ca_pem is not None else stack.ca.read_text()}},
    }


def vcenter_zone_spec(cluster: str, region: str = "region-1") -> dict[str, Any]:
    """An AvailabilityZone's spec on a vcsim cluster, the datastore, network and VM folder vcsim starts with."""
    return {"region": region, "provider": {"kind": "VCenter", "name": VCENTER},
            "vcenter": {"cluster": cluster, "datastore": "LocalDS_0", "network": "VM Network", "folder": "vm"}}


def apply(stack: StackState, *objects: dict[str, Any], namespace: str | None = None) -> None:
    # JSON documents: every string stays a string. PyYAML writes a label value such as "0e446624" (a random token)
    # unquoted, since YAML 1.1 wants a dot in a float, and kubectl then reads it as a number.
    stack.kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects), namespace=namespace)


class Govc:
    """An independent client: what vCenter says, not what herder says."""

    def __init__(self, stack: StackState) -> None:
        self.env = os.environ | stack.env()

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["govc", *args], env=self.env, capture_output=True, text=True, check=False,
                                timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"govc {' '.join(args)}: {result.stderr}")
        return result

    def vm(self, name: str) -> dict[str, Any] | None:
        result = self("vm.info", "-json", name, check=False)
        vms = json.loads(result.stdout or "{}").get("virtualMachines") or []
        return vms[0] if vms else None

    def vms(self, prefix: str) -> list[str]:
        out = self("find", "/DC0/vm", "-type", "m", "-name", f"{prefix}*").stdout.split()
        return sorted(Path(line).name for line in out)

    def running_tasks(self) -> list[str]:
        """Names of the vCenter tasks still queued or running."""
        tasks = json.loads(self("tasks", "-n", "200", "-json").stdout or "{}").get("tasks") or []
        return [t["name"] for t in tasks if t.get("state") in ("queued", "running")]

    @staticmethod
    def disks(vm: dict[str, Any]) -> list[int]:
        return sorted(d["capacityInBytes"] for d in vm["config"]["hardware"]["device"] if "capacityInBytes" in d)


CLOCK_FILE = "clock-offset"


class HerderClock:
    """The operator's schedule clock (herder.clock): real time plus the offset in this file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, seconds: float) -> None:
        self.path.write_text(f"{seconds}\n")

    def offset(self) -> float:
        return float(self.path.read_text()) if self.path.exists() else 0.0

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset())

    def move_to(self, moment: datetime) -> None:
        """herder's now() is `moment` from here on (and runs on in real time)."""
        self.set((moment - datetime.now(UTC)).total_seconds())


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.5,
             what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last value: {last!r}")


# -- ElasticCloudServers, as the API server shows them --------------------------------------------------------

GIB = 1024**3


def ecs_manifest(name: str, *, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """An ECS from the session's ClusterImage in zone dc0-c0 with 2 vCPUs and 2Gi, unless `spec` overrides."""
    body = {"image": {"kind": "ClusterImage", "name": CLUSTER_IMAGE}, "availabilityZone": "dc0-c0",
            "cpu": 2, "memory": "2Gi"} | spec
    meta: dict[str, Any] = {"name": name}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServer", "metadata": meta,
            "spec": {k: v for k, v in body.items() if v is not None}}


def get(stack: StackState, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    result = stack.kubectl("get", kind, name, "-o", "json", namespace=namespace, check=False)
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        raise AssertionError(f"kubectl get {kind} {name}: {result.stderr}")
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def status_of(stack: StackState, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    body = get(stack, kind, name, namespace)
    assert body is not None, f"{kind} {name} does not exist"
    status: dict[str, Any] = body.get("status") or {}
    return status


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status.get("conditions") or []}


def condition_is(stack: StackState, kind: str, name: str, namespace: str | None, type_: str, value: str,  # noqa: PLR0917
                 reason: str | None = None) -> dict[str, Any] | None:
    """The status, if condition `type_` has status `value` (and `reason`); else None. For wait_for."""
    status = status_of(stack, kind, name, namespace)
    cond = conditions(status).get(type_)
    if cond is None or cond["status"] != value or (reason is not None and cond["reason"] != reason):
        return None
    return status


def ecs_ready(stack: StackState, namespace: str, name: str) -> dict[str, Any] | None:
    return condition_is(stack, "ecs", name, namespace, "Ready", "True")


def wait_ready(stack: StackState, namespace: str, name: str, timeout: float = 60.0) -> dict[str, Any]:
    try:
        status: dict[str, Any] = wait_for(lambda: ecs_ready(stack, namespace, name), timeout=timeout,
                                          what=f"ECS {namespace}/{name} Ready")
    except AssertionError as exc:
        current = conditions(status_of(stack, "ecs", name, namespace))
        summary = {t: (c["status"], c["reason"], c["message"]) for t, c in current.items()}
        raise AssertionError(f"{exc}; conditions: {summary}") from None
    return status


def uid_of(stack: StackState, namespace: str, name: str) -> str:
    body = get(stack, "ecs", name, namespace)
    assert body is not None
    return str(body["metadata"]["uid"])


def patch_spec(stack: StackState, namespace: str, name: str, spec: dict[str, Any]) -> None:
    stack.kubectl("patch", "ecs", name, "--type=merge", "-p", json.dumps({"spec": spec}), namespace=namespace)


def annotate(stack: StackState, namespace: str, name: str, **values: str | None) -> None:
    """herder.dev/<key>=<value>; None removes the annotation."""
    args = [f"herder.dev/{key}-" if value is None else f"herder.dev/{key}={value}" for key, value in values.items()]
    stack.kubectl("annotate", "--overwrite", "ecs", name, *args, namespace=namespace)


def stays(predicate: Callable[[], Any], seconds: float, interval: float = 0.5, what: str = "condition") -> None:
    """Assert that `predicate` holds throughout `seconds` (for "nothing happens" checks)."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if not value:
            raise AssertionError(f"{what} stopped holding; last value: {value!r}")
        if time.monotonic() >= deadline:
            return
        time.sleep(interval)


def power_of(vm: dict[str, Any] | None) -> str | None:
    return vm["runtime"]["powerState"] if vm else None


def hardware(vm: dict[str, Any]) -> tuple[int, int, list[int]]:
    """(vCPUs, memory MiB, disk sizes) as vCenter reports them."""
    hw = vm["config"]["hardware"]
    return hw["numCPU"], hw["memoryMB"], Govc.disks(vm)


def custom_field(vm: dict[str, Any], field_name: str) -> str | None:
    """A custom field's value on a VM (None: the field is not defined or not set on it)."""
    keys = {f["key"] for f in vm.get("availableField") or [] if f["name"] == field_name}
    values = [v.get("value") for v in vm.get("customValue") or [] if v["key"] in keys]
    return values[0] if values else None


def owner_field_value(govc: Govc, vm_path: str) -> str:
    """herder's `herder.dev/ecs-uid` on a VM, as govc's fields.info shows it ("" when unset)."""
    return _owner_in(govc("fields.info", "-json", "-n", "herder.dev/ecs-uid", vm_path).stdout)


def _owner_in(fields_info_json: str) -> str:
    values = [row.get("value") or "" for row in json.loads(fields_info_json or "{}").get("info") or []]
    return values[0] if values else ""


def log_since(text: str, mark: int) -> str:
    return text[mark:]


def secret_manifest(name: str, namespace: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": name, "namespace": namespace}, "stringData": data}


def assert_nowhere(stack: StackState, log: str, *values: str) -> None:
    """No secret value in any herder object's status, in any Event, or in the operator log."""
    objects = json.loads(stack.kubectl("get", "herder", "-A", "-o", "json").stdout)["items"]
    objects += json.loads(stack.kubectl("get", "vcenters", "-o", "json").stdout)["items"]
    statuses = json.dumps([o.get("status") for o in objects])
    events = stack.kubectl("get", "events", "-A", "-o", "json").stdout
    assert objects, "nothing to inspect"
    for value in values:
        assert value, "an empty secret value proves nothing"
        assert value not in statuses, "a secret value appears in a status"
        assert value not in events, "a secret value appears in an Event"
        assert value not in log, "a secret value appears in the operator log"


def operator_retries(log: str, namespace: str, name: str) -> list[tuple[str, int]]:
    """(reason, seconds) of each "ECS <ns>/<name>: <Reason>: ... (retry in Ns)" line, in order."""
    pattern = re.compile(rf"ECS {re.escape(namespace)}/{re.escape(name)}: (\w+): .*\(retry in (\d+)s\)")
    return [(m.group(1), int(m.group(2))) for m in pattern.finditer(log)]


# -- images ----------------------------------------------------------------------------------------------------

def ready_message(status: dict[str, Any]) -> str:
    return str(next(c["message"] for c in status["conditions"] if c["type"] == "Ready"))


def image_ready(stack: StackState, kind: str, name: str, namespace: str | None,
                timeout: float = 60.0) -> dict[str, Any]:
    try:
        status: dict[str, Any] = wait_for(
            lambda: condition_is(stack, kind, name, namespace, "Ready", "True"), timeout=timeout,
            what=f"{kind} {name} Ready")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; status: {status_of(stack, kind, name, namespace)}") from None
    return status


def image_failed(stack: StackState, kind: str, name: str, namespace: str | None, reason: str, *,
                 timeout: float = 60.0) -> dict[str, Any]:
    try:
        status: dict[str, Any] = wait_for(
            lambda: condition_is(stack, kind, name, namespace, "Ready", "False", reason), timeout=timeout,
            what=f"{kind} {name} Ready=False {reason}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; status: {status_of(stack, kind, name, namespace)}") from None
    return status


@contextlib.contextmanager
def serve_directory(root: Path, chunk_delay: float = 0.0) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server on 127.0.0.1 serving `root`: (base URL, root). `chunk_delay` slows every 256 KiB it
    sends, so that a download lasts long enough to be watched."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, *_: Any) -> None:
            pass

        def copyfile(self, source: Any, outputfile: Any) -> None:
            while chunk := source.read(256 * 1024):
                outputfile.write(chunk)
                time.sleep(chunk_delay)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


# -- SCVMM (the stack's simulator) and one view of both backends ---------------------------------------------

SCVMM = "vmm-sim"
SCVMM_ZONE = "vmm-zone-a"
SCVMM_ZONE_B = "vmm-zone-b"
SCVMM_ZONES = {SCVMM_ZONE: "All Hosts\\Zone-A", SCVMM_ZONE_B: "All Hosts\\Zone-B"}
SCVMM_IMAGE = "ubuntu-vmm-e2e"
SCVMM_INVENTORY_SECONDS = 2
# The vCenter watch waits this long per WaitForUpdatesEx: a hung vCenter is noticed within about twice that.
VCENTER_WATCH_SECONDS = 5
MIB = 1024**2


def scvmm_zone_manifest(name: str, host_group: str, region: str = "region-2") -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": name},
            "spec": {"region": region, "provider": {"kind": "SCVMM", "name": SCVMM},
                     "scvmm": {"hostGroup": host_group, "vmPath": "D:\\VMs",
                               "libraryShare": "\\\\vmm01.herder.test\\MSSCVMMLibrary",
                               "logicalNetwork": "Herder-LN", "vmNetwork": "Herder-VMNet"}}}


def vcenter_zone_manifest(name: str, cluster: str, region: str = "region-1") -> dict[str, Any]:
    return {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": name},
            "spec": vcenter_zone_spec(cluster, region)}


def scvmm_manifests(stack: StackState) -> list[dict[str, Any]]:
    """examples/scvmm.yaml (a zone per host group, both in region-2) and its ClusterImage, pointed at the stack's
    simulator (none without one)."""
    if not stack.scvmm_url:
        return []
    provider = {"kind": "SCVMM", "name": SCVMM}
    return [
        {"apiVersion": "herder.dev/v1alpha1", "kind": "SCVMM", "metadata": {"name": SCVMM},
         "spec": {"endpoint": stack.scvmm_url, "transport": "basic",
                  "credentialsSecretRef": {"namespace": "herder-system", "name": "scvmm-credentials"},
                  "tls": {"caBundle": stack.ca.read_text()}}},
        *(scvmm_zone_manifest(zone, group) for zone, group in SCVMM_ZONES.items()),
        {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": SCVMM_IMAGE},
         "spec": {"provider": provider, "osFamily": "Linux", "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}},
    ]


class ScvmmSim:
    """An independent view of the SCVMM simulator: its admin API and a plain pywinrm session."""

    OWNER_PROPERTY = "HerderEcsUid"

    SHARE = "\\\\vmm01.herder.test\\MSSCVMMLibrary"

    def __init__(self, stack: StackState) -> None:
        assert stack.scvmm_url, "the stack runs no SCVMM simulator"
        self.url = stack.scvmm_url
        # The seeded library share is a real directory beside the simulator's state file.
        self.share_dir = stack.dir / "library" / "vmm01.herder.test" / "MSSCVMMLibrary"
        self.base = self.url.rsplit("/wsman", 1)[0]
        self.auth = (stack.scvmm_username, stack.scvmm_password)
        self.ca = str(stack.ca)

    def _admin(self, method: str, path: str, payload: Any = None) -> Any:
        import requests

        response = requests.request(method, f"{self.base}/admin/{path}", json=payload, auth=self.auth,
                                    verify=self.ca, timeout=30)
        assert response.status_code == 200, f"{method} /admin/{path}: {response.status_code} {response.text}"
        return response.json()

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self._admin("GET", "state")
        return state

    def stats(self) -> dict[str, Any]:
        """What the simulator ran since the last reset: WinRM requests, scripts, and cmdlets by name."""
        stats: dict[str, Any] = self._admin("GET", "stats")
        return stats

    def reset_stats(self) -> None:
        self._admin("POST", "stats/reset")

    def vms(self, prefix: str) -> list[dict[str, Any]]:
        return [v for v in self.state()["vms"] if str(v["name"]).startswith(prefix)]

    def vm(self, name: str) -> dict[str, Any] | None:
        found = [v for v in self.state()["vms"] if v["name"] == name]
        assert len(found) <= 1, f"{len(found)} VMs named {name} in the simulator"
        return found[0] if found else None

    def vm_by_id(self, vm_id: str) -> dict[str, Any] | None:
        return next((v for v in self.state()["vms"] if v["id"] == vm_id), None)

    def fault(self, *specs: dict[str, Any]) -> None:
        self._admin("POST", "faults", list(specs))

    def clear_faults(self) -> None:
        self._admin("DELETE", "faults")

    def faults(self) -> dict[str, Any]:
        faults: dict[str, Any] = self._admin("GET", "faults")
        return faults

    def run_ps(self, script: str) -> str:
        """A script through an ordinary WinRM client, as an administrator at the console would."""
        import winrm

        session = winrm.Session(self.url, auth=self.auth, transport="ssl", server_cert_validation="validate",
                                ca_trust_path=self.ca)
        result = session.run_ps(script)
        assert result.status_code == 0, f"{script}: {result.std_err!r}"
        return str(result.std_out.decode(errors="replace"))

    def ps_json(self, script: str) -> Any:
        """A script's answer, `ConvertTo-Json`'d by the script itself."""
        return json.loads(self.run_ps("$ErrorActionPreference = 'Stop'\n" + script))

    def cloud(self, name: str) -> dict[str, Any] | None:
        """A cloud and its capacity as Get-SCCloud and Get-SCCloudCapacity show them; None when there is none."""
        found = self.ps_json(
            f"$c = Get-SCCloud -Name '{name}'\nif ($null -eq $c) {{ ConvertTo-Json -InputObject $null }} else {{\n"
            "$cap = Get-SCCloudCapacity -Cloud $c\nConvertTo-Json -Compress -InputObject @{ Name = $c.Name; "
            "HostGroup = @($c.HostGroup); VMCount = $cap.VMCount; UseVMCountMaximum = $cap.UseVMCountMaximum; "
            "CPUCount = $cap.CPUCount; UseCPUCountMaximum = $cap.UseCPUCountMaximum; MemoryMB = $cap.MemoryMB; "
            "UseMemoryMBMaximum = $cap.UseMemoryMBMaximum; StorageGB = $cap.StorageGB; "
            "UseStorageGBMaximum = $cap.UseStorageGBMaximum } }")
        return dict(found) if found else None


_SCVMM_POWER = {"Running": "On", "PowerOff": "Off", "Saved": "Suspended", "Paused": "Suspended"}
_VCENTER_POWER = {"poweredOn": "On", "poweredOff": "Off", "suspended": "Suspended"}


class Backend:
    """One ECS backend as its own tools show it, normalised: the same questions for vCenter and SCVMM."""

    def __init__(self, kind: str, stack: StackState, govc: Govc) -> None:
        self.kind = kind
        self.stack = stack
        self.govc = govc
        self.sim = ScvmmSim(stack) if kind == "scvmm" else None
        self.scvmm = self.sim is not None
        self.zone, self.zone_b = (SCVMM_ZONE, SCVMM_ZONE_B) if self.scvmm else tuple(ZONES)
        self.zones = (self.zone, self.zone_b)
        self.region = "region-2" if self.scvmm else "region-1"
        self.provider = {"kind": "SCVMM", "name": SCVMM} if self.scvmm else {"kind": "VCenter", "name": VCENTER}
        self.image = SCVMM_IMAGE if self.scvmm else CLUSTER_IMAGE
        self.template_disk = (20 if self.scvmm else 10) * GIB
        self.template_size = (2, 2048) if self.scvmm else (1, 1024)  # (vCPUs, MiB) of ubuntu-22.04-tmpl
        # How long an out-of-band change may stay uncorrected: vCenter watches; SCVMM reads in bulk.
        self.drift_bound = 3.0 * SCVMM_INVENTORY_SECONDS + 8.0 if self.scvmm else 15.0
        # Where a server's files can move to within the zone: the spec field and a target.
        self.storage_field = "storagePath" if self.scvmm else "datastore"
        self.storage_target = "C:\\ClusterStorage\\Volume1\\fast" if self.scvmm else "LocalDS_1"

    def __repr__(self) -> str:
        return self.kind

    def manifest(self, name: str, **spec: Any) -> dict[str, Any]:
        return ecs_manifest(name, **({"image": {"kind": "ClusterImage", "name": self.image},
                                      "availabilityZone": self.zone} | spec))

    def image_manifest(self, name: str) -> dict[str, Any]:
        """Another ClusterImage on this backend, of the same template."""
        return {"apiVersion": "herder.dev/v1alpha1", "kind": "ClusterImage", "metadata": {"name": name},
                "spec": {"provider": self.provider, "osFamily": "Linux",
                         "source": {"existing": {"name": "ubuntu-22.04-tmpl"}}}}

    def zone_manifest(self, name: str, region: str) -> dict[str, Any]:
        """Another zone on this backend's second placement (DC0_C1 / Zone-B), in `region`."""
        if self.scvmm:
            return scvmm_zone_manifest(name, SCVMM_ZONES[SCVMM_ZONE_B], region)
        return vcenter_zone_manifest(name, ZONES[self.zone_b], region)

    def vm(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.vm_named(f"{namespace}.{name}")

    def vm_named(self, full: str, folder: str = "") -> dict[str, Any] | None:
        """{cpu, memory_mib, power: On/Off/Suspended (else the backend's word), disks: sorted bytes, id,
        owner: herder's removable mark (vCenter: the herder.dev/ecs-uid field, set on adopted VMs; SCVMM: the
        HerderEcsUid custom property), identity: the ECS UID herder knows the VM by (vCenter: instanceUuid),
        host, storage (datastore / the folder its files are under), pool (resource pool / cloud name)} of the VM
        called `full` (vCenter: in `folder` under /DC0/vm)."""
        if self.sim is not None:
            state = self.sim.state()
            vm = next((v for v in state["vms"] if v["name"] == full), None)
            if vm is None:
                return None
            names = {x["id"]: x["name"] for x in state["hosts"] + state["clouds"]}
            location = str(vm.get("location") or f"C:\\ClusterStorage\\Volume1\\{full}")
            return {"cpu": vm["cpu_count"], "memory_mib": vm["memory_mb"],
                    "power": _SCVMM_POWER.get(vm["status"], vm["status"]),
                    "disks": sorted(d["size_mb"] * MIB for d in vm["disks"]),
                    "owner": str((vm.get("custom") or {}).get(ScvmmSim.OWNER_PROPERTY) or ""),
                    "description": vm.get("description") or "", "id": vm["id"],
                    "identity": str((vm.get("custom") or {}).get(ScvmmSim.OWNER_PROPERTY) or ""),
                    "host": names.get(vm["host"]), "pool": names.get(vm["cloud"]) if vm["cloud"] else None,
                    "storage": location.rsplit("\\", 1)[0]}
        path = "/".join(p for p in ("/DC0/vm", folder.strip("/"), full) if p)
        info = self.govc.vm(path)
        if info is None:
            return None
        cpu, memory, disks = hardware(info)
        state = info["runtime"]["powerState"]
        fields = self.govc("fields.info", "-json", "-n", "herder.dev/ecs-uid", path, check=False)
        if fields.returncode != 0:
            return None  # deleted between the two reads
        return {"cpu": cpu, "memory_mib": memory, "power": _VCENTER_POWER.get(state, state), "disks": disks,
                "owner": _owner_in(fields.stdout), "description": "",
                "id": info["config"]["instanceUuid"], "identity": info["config"]["instanceUuid"],
                "host": self._name("HostSystem", info["runtime"]["host"]["value"]),
                "pool": self._name("ResourcePool", info["resourcePool"]["value"]),
                "pool_path": self._path("ResourcePool", info["resourcePool"]["value"]),
                "storage": self._name("Datastore", info["datastore"][0]["value"])}

    def _path(self, kind: str, moref: str) -> str:
        return self.govc("ls", "-L", f"{kind}:{moref}").stdout.strip()

    def _name(self, kind: str, moref: str) -> str:
        return Path(self._path(kind, moref)).name

    def in_zone(self, vm: dict[str, Any], zone: str) -> bool:
        """The VM is in the zone's compute: SCVMM, on one of its host group's hosts; vCenter, in a pool of its
        cluster (vcsim places a clone on its template's host, whatever the cluster, where vCenter's DRS would
        pick one of the pool's cluster: so the host says nothing here)."""
        if self.sim is not None:
            return vm["host"] in self.hosts(zone)
        return f"/{ZONES[zone]}/" in str(vm["pool_path"])

    def make_vm(self, name: str, where: str) -> str:
        """A running VM made out of band, as an administrator would: vCenter in folder `where` (under /DC0/vm) on
        cluster DC0_C0, SCVMM in host group `where` (Zone-A or Zone-B). Returns its unique ID."""
        if self.sim is not None:
            return self.sim.run_ps(
                f"$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name '{where}'\n"
                f"$cfg = New-SCVMConfiguration -VMTemplate $t -Name '{name}' -VMHostGroup $hg\n"
                f"$vm = New-SCVirtualMachine -Name '{name}' -VMConfiguration $cfg -StartVM\n[string]$vm.ID").strip()
        folder = "/".join(p for p in ("/DC0/vm", where.strip("/")) if p)
        self.govc("folder.create", folder, check=False)
        self.govc("vm.clone", "-vm", "ubuntu-22.04-tmpl", "-on=true", "-folder", folder, "-ds", "LocalDS_0",
                  "-pool", "/DC0/host/DC0_C0/Resources", name)
        made = self.govc.vm(f"{folder}/{name}")
        assert made is not None
        return str(made["config"]["instanceUuid"])

    def mark(self, full: str, uid: str, folder: str = "") -> None:
        """Write herder's owner mark for ECS `uid` on a VM, out of band."""
        if self.sim is not None:
            self.sim.run_ps(
                f"$cp = Get-SCCustomProperty -Name '{ScvmmSim.OWNER_PROPERTY}'\n"
                f"if ($null -eq $cp) {{ $cp = New-SCCustomProperty -Name '{ScvmmSim.OWNER_PROPERTY}' "
                "-AddMember @('VM') }\n"
                f"$null = Set-SCCustomPropertyValue -InputObject (Get-SCVirtualMachine -Name '{full}') "
                f"-CustomProperty $cp -Value '{uid}'")
            return
        self.govc("fields.add", "herder.dev/ecs-uid", check=False)
        self.govc("fields.set", "herder.dev/ecs-uid", uid, "/".join(p for p in ("/DC0/vm", folder.strip("/"), full)
                                                                    if p))

    def zone_spec(self) -> dict[str, Any]:
        """The spec of the session's zone on this backend (for zones of a test's own on the same placement)."""
        if self.sim is not None:
            return next(m["spec"] for m in scvmm_manifests(self.stack) if m["kind"] == "AvailabilityZone")
        return vcenter_zone_spec(ZONES["dc0-c0"])

    def names(self, namespace: str) -> list[str]:
        """Every VM named after an ECS of `namespace`, duplicates included."""
        prefix = f"{namespace}."
        if self.sim is not None:
            return sorted(v["name"] for v in self.sim.vms(prefix))
        every = self.govc("find", "/DC0/vm", "-type", "m").stdout.split()
        return sorted(Path(p).name for p in every if Path(p).name.startswith(prefix))

    def count(self, namespace: str) -> int:
        return len(self.names(namespace))

    def all_names(self) -> list[str]:
        """Every VM on the backend (templates aside)."""
        if self.sim is not None:
            return sorted(v["name"] for v in self.sim.state()["vms"])
        return sorted(Path(p).name for p in self.govc("find", "/DC0/vm", "-type", "m").stdout.split())

    def hosts(self, zone: str | None = None) -> list[str]:
        """The names of a zone's hosts (the first zone's by default), as status.host shows them."""
        zone = zone or self.zone
        if self.sim is not None:
            return sorted(h["name"] for h in self.sim.state()["hosts"] if h["host_group"] == SCVMM_ZONES[zone])
        return sorted(Path(p).name for p in self.govc("find", f"/DC0/host/{ZONES[zone]}", "-type", "h").stdout.split())

    def refuse_moves_to(self, host: str, refused: bool) -> None:
        """Make `host` refuse (or take again) migrated VMs: vCenter maintenance mode; SCVMM AvailableForPlacement."""
        if self.sim is not None:
            self.sim.run_ps(f"$null = Set-SCVMHost -VMHost (Get-SCVMHost -ComputerName '{host}') "
                            f"-AvailableForPlacement ${str(not refused).lower()}")
        else:
            action = "enter" if refused else "exit"
            self.govc(f"host.maintenance.{action}", f"/DC0/host/{ZONES[self.zone]}/{host}")

    # What a refused move's message carries: the backend's own words.
    @property
    def refused_move_words(self) -> tuple[str, ...]:
        return ("not available for placement", "Error ID: 13260") if self.scvmm else ("InvalidHostState",)

    def power_off_out_of_band(self, namespace: str, name: str) -> None:
        self.power_off_named(f"{namespace}.{name}")

    def power_off_named(self, full: str) -> None:
        if self.sim is not None:
            self.sim.run_ps(f"$null = Stop-SCVirtualMachine -VM (Get-SCVirtualMachine -Name '{full}') -Force")
        else:
            self.govc("vm.power", "-off", "-force", full)

    def resize_out_of_band(self, namespace: str, name: str, cpu: int, memory_mib: int) -> None:
        """CPU and memory changed behind herder's back; the VM runs again afterwards. Hyper-V changes them only
        while the VM is off: SCVMM stops, changes and starts it in one script, as an administrator would."""
        full = f"{namespace}.{name}"
        if self.sim is not None:
            self.sim.run_ps(f"$v = Get-SCVirtualMachine -Name '{full}'\n$null = Stop-SCVirtualMachine -VM $v -Force\n"
                            f"$null = Set-SCVirtualMachine -VM $v -CPUCount {cpu} -MemoryMB {memory_mib}\n"
                            "$null = Start-SCVirtualMachine -VM $v")
        else:
            self.govc("vm.change", "-vm", full, "-c", str(cpu), "-m", str(memory_mib))

    def destroy_out_of_band(self, namespace: str, name: str) -> None:
        full = f"{namespace}.{name}"
        if self.sim is not None:
            self.sim.run_ps(f"$null = Remove-SCVirtualMachine -VM (Get-SCVirtualMachine -Name '{full}') -Force")
        else:
            self.govc("vm.destroy", full)

    # -- snapshots, as the backend's own tools list them ---------------------------------------------------------
    def snapshots(self, namespace: str, name: str) -> list[dict[str, str]]:
        """[{id, name, description}] of the VM's snapshots: `govc snapshot.tree`, or Get-SCVMCheckpoint over a plain
        WinRM session."""
        full = f"{namespace}.{name}"
        if self.sim is not None:
            out = self.sim.run_ps(
                f"ConvertTo-Json -Compress -InputObject @(Get-SCVMCheckpoint -VM (Get-SCVirtualMachine -Name '{full}') "
                "| ForEach-Object { @{ id = [string]$_.ID; name = [string]$_.Name; "
                "description = [string]$_.Description } })")
            rows = json.loads(out or "[]")
            return rows if isinstance(rows, list) else [rows]
        lines = self.govc("snapshot.tree", "-vm", full, "-i", "-d", "-c=false").stdout.splitlines()
        found = []
        for line in lines:
            match = re.search(r"\[(snapshot-\d+)\]\s+(\S+)\s*(.*)$", line)
            if match:
                found.append({"id": match.group(1), "name": match.group(2), "description": match.group(3).strip()})
        return found

    def remove_snapshot_out_of_band(self, namespace: str, name: str, snapshot_id: str) -> None:
        full = f"{namespace}.{name}"
        if self.sim is not None:
            self.sim.run_ps(f"$null = Remove-SCVMCheckpoint -VMCheckpoint (Get-SCVMCheckpoint -ID '{snapshot_id}')")
        else:
            self.govc("snapshot.remove", "-vm", full, snapshot_id)

    def add_disk_out_of_band(self, namespace: str, name: str) -> None:
        """A 1 GiB disk that herder did not make (herder leaves such disks alone)."""
        full = f"{namespace}.{name}"
        if self.sim is not None:
            self.sim.run_ps(f"$null = New-SCVirtualDiskDrive -VM (Get-SCVirtualMachine -Name '{full}') -SCSI -Bus 0 "
                            "-LUN 9 -Dynamic -VirtualHardDiskSizeMB 1024 -FileName 'by-hand.vhdx'")
        else:
            self.govc("vm.disk.create", "-vm", full, "-ds", "LocalDS_0", "-name", f"{full}/by-hand", "-size", "1G")

    def busy(self) -> bool:
        """A vCenter task or VMM job is queued or running."""
        if self.sim is not None:
            return any(job.get("status") == "Running" for job in self.sim.state()["jobs"])
        return bool(self.govc.running_tasks())

    def settle(self) -> None:
        """Before restarting a killed operator: let work the dead one started finish (see test_ecs_crash)."""
        if self.sim is None:
            wait_for(lambda: not self.govc.running_tasks(), timeout=30, what="vcsim: no task in flight")
