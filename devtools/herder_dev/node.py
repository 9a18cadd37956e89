"""A real node beside the local control plane: containerd with runc, a kubelet, kube-controller-manager and
kube-scheduler, so that a Deployment gets a ReplicaSet and a scheduled, running pod (`herder dev up --node`).

The node keeps to itself, so that several stacks can run on one machine: containerd's root and state, the
kubelet's root and pod logs and the CNI configuration live under DIR/node, its cgroups under a parent named
after DIR, its ports are free ones. Pods run with hostNetwork, as there is no pod network (see
_cni_config), and so reach the loopback stack: vcsim, the SCVMM simulator, the API server. The kubelet is
the real one and so sets the kernel tunables every kubelet sets (vm.overcommit_memory=1, kernel.panic=10,
kernel.panic_on_oops=1).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from herder_dev import node_cleanup, node_images, pki
from herder_dev.processes import StackError, alive, http_ok, https_ok, log_tail
from herder_dev.tools import bin_dir, tool

if TYPE_CHECKING:
    from herder_dev.stack import Stack, StackState

NODE_NAME = "herder-dev-node"
# Started in this order, stopped in the reverse one.
PROCESSES = ("containerd", "kube-controller-manager", "kube-scheduler", "kubelet")
# Debian's containernetworking-plugins.
CNI_BIN_DIR = Path("/usr/lib/cni")
# Where every kubelet links its containers' logs (fixed in the kubelet); the node's links point into its
# pod log directory.
CONTAINER_LOG_LINKS = Path("/var/log/containers")


@dataclass(frozen=True)
class NodeLayout:
    """Where one stack's node keeps everything; derived from the stack directory alone, so that
    `down` (and clean-up after a crash) finds it again."""

    stack_dir: Path

    @property
    def root(self) -> Path:
        return self.stack_dir / "node"

    @property
    def tag(self) -> str:
        return hashlib.sha256(str(self.stack_dir.resolve()).encode()).hexdigest()[:10]

    @property
    def cgroup_parent(self) -> str:
        return f"/herder-node-{self.tag}"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd-state"

    @property
    def socket(self) -> Path:
        return self.root / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def volume_plugins(self) -> Path:
        """FlexVolume plugins: none, but the kubelet and the controller-manager create the directory."""
        return self.root / "volume-plugins"


def node_ip() -> str:
    """The IPv4 address of the default route's interface: the one a kubelet picks by itself.

    The kubelet refuses a loopback node IP; traffic to this address stays on the machine.
    """
    routes = Path("/proc/net/route").read_text().splitlines()[1:]
    default = [fields[0] for fields in map(str.split, routes) if fields[1] == "00000000"]
    if not default:
        raise StackError("the node needs a non-loopback address, and this machine has no default route")
    shown = subprocess.run(["ip", "-json", "-4", "address", "show", "dev", default[0]], capture_output=True,
                           text=True, check=True)
    addresses = [a["local"] for link in json.loads(shown.stdout) for a in link.get("addr_info", [])]
    if not addresses:
        raise StackError(f"interface {default[0]} (the default route's) has no IPv4 address")
    return str(addresses[0])


def _containerd_config(layout: NodeLayout) -> str:
    runtime = "plugins.'io.containerd.cri.v1.runtime'"
    return f"""version = 3
root = "{layout.root / 'containerd-root'}"
state = "{layout.containerd_state}"
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.opt"]

[grpc]
  address = "{layout.socket}"

[ttrpc]
  address = "{layout.socket}.ttrpc"

[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "{node_images.PAUSE_IMAGE}"

[{runtime}]
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE no process may lower its oom_score_adj, and the pause container asks for -998
  # (runc then fails with "can't get final child's PID from pipe"): keep containers at containerd's.
  restrict_oom_score_adj = true

[{runtime}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{runtime}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  # runc's state of the node's containers: with the node, not in the machine's /run/containerd/runc.
  Root = "{layout.root / 'runc'}"

[{runtime}.cni]
  bin_dirs = ["{CNI_BIN_DIR}"]
  conf_dir = "{layout.cni_conf_dir}"
"""


def _cni_config() -> dict[str, object]:
    """Loopback only: the kubelet reports the node Ready once the runtime has a network configuration, but
    a pod network would put pod addresses in a private range, which these machines must not send to. Pods
    with hostNetwork (the test world's) do not use it; any other pod fails in containerd for want of an
    address ("failed to find network info for sandbox")."""
    return {"cniVersion": "1.0.0", "name": "herder-dev", "plugins": [{"type": "loopback"}]}


def _kubelet_config(layout: NodeLayout, *, address: str, port: int, healthz_port: int, ca: Path,
                    serving: pki.CertPair) -> dict[str, object]:
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": address, "port": port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": healthz_port,
        "tlsCertFile": str(serving.cert), "tlsPrivateKeyFile": str(serving.key),
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(ca)}},
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{layout.socket}",
        "cgroupDriver": "cgroupfs", "cgroupRoot": layout.cgroup_parent,
        # cgroup v1 is deprecated but still supported by Kubernetes 1.34; this machine has no other.
        "failCgroupV1": False,
        "podLogsDir": str(layout.pod_logs),
        "volumePluginDir": str(layout.volume_plugins),
        # A development machine's disk and memory are shared: evict only when really short.
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "2%", "imagefs.available": "2%"},
        "imageGCHighThresholdPercent": 99, "imageGCLowThresholdPercent": 98,
    }


def start(stack: Stack, state: StackState, ca: pki.CertPair, sa_key: Path) -> None:
    """Start the node's processes against the running control plane and wait until the Node is Ready."""
    layout = NodeLayout(state.dir)
    clean_up(state.dir)  # a previous run that died may have left containers, mounts or cgroups
    shutil.rmtree(layout.root, ignore_errors=True)  # and containerd's and the kubelet's state
    layout.root.mkdir(parents=True)
    # containerd finds its shim (.tools/bin) and runc (Debian's, /usr/sbin) on PATH.
    env = os.environ | {"PATH": f"{bin_dir()}{os.pathsep}/usr/sbin{os.pathsep}{os.environ.get('PATH', '')}"}
    _start_containerd(stack, state, layout, env)
    _start_controllers(stack, state, layout, ca, sa_key)
    _start_kubelet(stack, state, layout, ca, env)
    _wait_node_ready(state)


def _client_kubeconfig(stack: Stack, state: StackState, ca: pki.CertPair, name: str, *, user: str,
                       groups: tuple[str, ...] = ()) -> Path:
    cert = pki.issue_client_cert(state.dir / "pki", name, ca, user, groups)
    return stack.write_kubeconfig(state, state.dir / f"{name}.kubeconfig", ca, cert, user)


def _start_containerd(stack: Stack, state: StackState, layout: NodeLayout, env: dict[str, str]) -> None:
    config = layout.root / "containerd.toml"
    config.write_text(_containerd_config(layout))
    layout.cni_conf_dir.mkdir()
    (layout.cni_conf_dir / "10-herder-dev.conflist").write_text(json.dumps(_cni_config(), indent=2))
    stack.start_process(state, "containerd", [str(tool("containerd")), "--config", str(config)], 0,
                        partial(_containerd_ready, layout), env=env)
    node_images.import_archive(layout.socket, node_images.build_pause_archive(layout.root / "images"))


def _start_controllers(stack: Stack, state: StackState, layout: NodeLayout, ca: pki.CertPair,
                       sa_key: Path) -> None:
    serving = pki.issue_server_cert(state.dir / "pki", "serving", ca)
    own_flags = {
        # Each controller acts as its own service account, as in a kubeadm cluster; the CA goes into every
        # namespace's kube-root-ca.crt, which pods' service-account volumes carry.
        "kube-controller-manager": ["--use-service-account-credentials=true",
                                    f"--service-account-private-key-file={sa_key}", f"--root-ca-file={ca.cert}",
                                    f"--flex-volume-plugin-dir={layout.volume_plugins}"],
        "kube-scheduler": [],
    }
    for name, flags in own_flags.items():
        kubeconfig = _client_kubeconfig(stack, state, ca, name, user=f"system:{name}")
        port = stack.next_port(name)
        stack.start_process(state, name, [
            str(tool(name)), f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={port}", "--leader-elect=false",
            f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
            *flags,
        ], port, partial(https_ok, f"https://127.0.0.1:{port}/healthz", ca.cert))


def _start_kubelet(stack: Stack, state: StackState, layout: NodeLayout, ca: pki.CertPair,
                   env: dict[str, str]) -> None:
    address = node_ip()
    serving = pki.issue_server_cert(state.dir / "pki", "kubelet-serving", ca, (address, "127.0.0.1", NODE_NAME))
    kubeconfig = _client_kubeconfig(stack, state, ca, "kubelet", user=f"system:node:{NODE_NAME}",
                                    groups=("system:nodes",))
    port, healthz = stack.next_port("kubelet"), stack.next_port("kubelet healthz")
    config = layout.root / "kubelet.yaml"
    config.write_text(yaml.safe_dump(_kubelet_config(
        layout, address=address, port=port, healthz_port=healthz, ca=ca.cert, serving=serving)))
    node_cleanup.create_cgroup_parent(layout.cgroup_parent)
    stack.start_process(state, "kubelet", [
        str(tool("kubelet")), f"--config={config}", f"--kubeconfig={kubeconfig}",
        f"--root-dir={layout.root / 'kubelet'}", f"--cert-dir={layout.root / 'kubelet' / 'pki'}",
        f"--hostname-override={NODE_NAME}", f"--node-ip={address}",
    ], port, partial(http_ok, f"http://127.0.0.1:{healthz}/healthz"), env=env)


def _containerd_ready(layout: NodeLayout) -> bool:
    if not layout.socket.exists():
        return False
    result = subprocess.run([*node_images.ctr(layout.socket), "version"], capture_output=True, check=False)
    return result.returncode == 0


def _wait_node_ready(state: StackState, timeout: float = 120.0) -> None:
    """Until the Node is Ready and the controller-manager has made the `default` namespace's ServiceAccount
    (without it no pod can be created there)."""
    kubelet = state.processes["kubelet"]
    deadline = time.monotonic() + timeout
    last = "not registered"
    while time.monotonic() < deadline:
        if not alive(kubelet.pid):
            raise StackError(f"the kubelet exited. Last lines of {kubelet.log}:\n{log_tail(Path(kubelet.log))}")
        result = state.kubectl("get", "node", NODE_NAME, "-o", "json", check=False)
        if result.returncode == 0:
            conditions = {c["type"]: c for c in json.loads(result.stdout)["status"].get("conditions", [])}
            ready = conditions.get("Ready", {})
            last = f"{ready.get('reason')}: {ready.get('message')}"
            account = state.kubectl("get", "serviceaccount", "default", namespace="default", check=False)
            if ready.get("status") == "True" and account.returncode == 0:
                return
        time.sleep(1)
    raise StackError(f"node {NODE_NAME} was not ready for pods after {timeout:.0f}s ({last}). "
                     f"Last lines of {kubelet.log}:\n{log_tail(Path(kubelet.log))}")


def clean_up(stack_dir: Path) -> None:
    """After the node's processes are stopped: its containers and shims, mounts and cgroups."""
    layout = NodeLayout(stack_dir)
    node_cleanup.kill_containers(layout.cgroup_parent)
    node_cleanup.kill_shims(layout.socket, layout.containerd_state)
    node_cleanup.unmount_under(layout.root)
    node_cleanup.remove_cgroups(layout.cgroup_parent)
    node_cleanup.remove_links_into(CONTAINER_LOG_LINKS, layout.pod_logs)


def leftovers(stack_dir: Path) -> list[str]:
    """What of the node is still there (mounts, cgroups, shims); empty after a complete clean-up."""
    layout = NodeLayout(stack_dir)
    return [*(f"mount {point}" for point in node_cleanup.mounts_under(layout.root)),
            *(f"cgroup {cgroup}" for cgroup in node_cleanup.cgroups_under(layout.cgroup_parent)),
            *(f"shim (pid {pid})" for pid in node_cleanup.serving(layout.socket)),
            *(f"log link {link}" for link in node_cleanup.links_into(CONTAINER_LOG_LINKS, layout.pod_logs))]
