"""The local test world: etcd, kube-apiserver, vcsim and the SCVMM simulator on loopback ports, and on
request a node that runs pods (herder_dev.node).

`up` is idempotent and records what it started in DIR/stack.json; `down` stops exactly that.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import yaml

from herder_dev import node, node_images, pki
from herder_dev.processes import (
    StackError,
    alive,
    ensure_port_free,
    free_port,
    http_ok,
    https_ok,
    log_tail,
    spawn,
    stop,
    wait_until,
)
from herder_dev.tools import REPO_ROOT, tool

STATE_FILE = "stack.json"
ADMIN_USER = "herder-admin"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
# vcsim's inventory: two clusters become two availability zones in the examples.
VCSIM_INVENTORY = ("-dc", "1", "-cluster", "2", "-host", "2", "-pool", "1", "-vm", "1", "-ds", "2")
TEMPLATES = ("ubuntu-22.04-tmpl", "windows-2022-tmpl")
SYSTEM_NAMESPACE = "herder-system"


@dataclass
class Process:
    pid: int
    port: int
    log: str
    argv: list[str] = field(default_factory=list)  # to start it again the same way


@dataclass
class StackState:
    directory: str
    processes: dict[str, Process] = field(default_factory=dict)
    vcsim_username: str = ""
    vcsim_password: str = ""
    scvmm_username: str = ""
    scvmm_password: str = ""

    @property
    def dir(self) -> Path:
        return Path(self.directory)

    @property
    def kubeconfig(self) -> Path:
        return self.dir / "kubeconfig"

    @property
    def ca(self) -> Path:
        return self.dir / "pki" / "herder-dev-ca.crt"

    @property
    def env_file(self) -> Path:
        return self.dir / "env"

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.processes['kube-apiserver'].port}"

    @property
    def vcsim_url(self) -> str:
        return f"https://127.0.0.1:{self.processes['vcsim'].port}/sdk"

    @property
    def scvmm_url(self) -> str | None:
        sim = self.processes.get("scvmm-sim")
        return f"https://127.0.0.1:{sim.port}/wsman" if sim else None

    def env(self) -> dict[str, str]:
        """The environment in which kubectl, govc and helm talk to this stack."""
        exported = {
            "KUBECONFIG": str(self.kubeconfig),
            "GOVC_URL": self.vcsim_url,
            "GOVC_USERNAME": self.vcsim_username,
            "GOVC_PASSWORD": self.vcsim_password,
            "GOVC_TLS_CA_CERTS": str(self.ca),
            "HERDER_DEV_CA": str(self.ca),
            "PATH": f"{tool('kubectl').parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        if self.scvmm_url:
            exported |= {
                "HERDER_SCVMM_URL": self.scvmm_url,
                "HERDER_SCVMM_USERNAME": self.scvmm_username,
                "HERDER_SCVMM_PASSWORD": self.scvmm_password,
            }
        if "containerd" in self.processes:  # ctr then works on the node's containerd, where its pods are
            exported |= {"CONTAINERD_ADDRESS": str(node.NodeLayout(self.dir).socket),
                         "CONTAINERD_NAMESPACE": node_images.K8S_NAMESPACE}
        return exported

    def kubectl(self, *args: str, input: str | None = None, check: bool = True,
                namespace: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this stack; with `check`, a failure raises with kubectl's stderr."""
        argv = [str(tool("kubectl")), *args, *(["-n", namespace] if namespace else [])]
        result = subprocess.run(argv, input=input, env=os.environ | self.env(), capture_output=True, text=True,
                                check=False, timeout=120)
        if check and result.returncode != 0:
            raise StackError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def save(self) -> None:
        path = self.dir / STATE_FILE
        path.write_text(json.dumps(asdict(self), indent=2))
        path.chmod(0o600)

    @classmethod
    def load(cls, directory: Path) -> StackState | None:
        path = directory / STATE_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        raw["processes"] = {name: Process(**p) for name, p in raw["processes"].items()}
        return cls(**raw)


class Stack:
    """Brings the local world up and down. One instance per directory."""

    def __init__(self, directory: Path, base_port: int | None = None, say: Callable[[str], None] = print,
                 vcsim_args: tuple[str, ...] = (), *, with_node: bool = False, scvmm_args: tuple[str, ...] = ()):
        self.dir = directory.resolve()
        self.base_port = base_port
        self.vcsim_args = vcsim_args  # e.g. latency for benchmarks: ("-method-delay", "CloneVM_Task:2000")
        self.scvmm_args = scvmm_args  # e.g. a fixed VMM job duration for benchmarks: ("--job-seconds", "2")
        self.with_node = with_node
        self.say = say
        self._next = base_port

    # -- public -------------------------------------------------------------------------------------------
    def up(self) -> StackState:
        existing = StackState.load(self.dir)
        if existing is not None:
            dead = [name for name, p in existing.processes.items() if not alive(p.pid)]
            if not dead:
                if self.with_node and not state_has_node(existing):
                    self._add_node(existing)
                    return existing
                self.say(f"stack in {self.dir} is already running")
                return existing
            details = "\n".join(
                f"- {name} (pid {existing.processes[name].pid}) is not running; last lines of its log:\n"
                f"{log_tail(Path(existing.processes[name].log), 10)}"
                for name in dead
            )
            raise StackError(
                f"the stack in {self.dir} is partly down:\n{details}\n"
                f"Run 'herder dev down --dir {self.dir}' and then 'up' again."
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        # A new stack is a fresh world: data from a stack that was brought down would describe VMs and
        # credentials the new simulators do not have.
        shutil.rmtree(self.dir / "etcd", ignore_errors=True)
        (self.dir / "scvmm-state.json").unlink(missing_ok=True)
        # Simulator logs may echo credentials (vcsim prints its URL): keep them private.
        (self.dir / "logs").mkdir(mode=0o700, exist_ok=True)
        state = StackState(directory=str(self.dir))
        started = time.monotonic()
        try:
            self._start_all(state)
        except BaseException:
            self.say("start-up failed; stopping what was started")
            self._stop_all(state)
            (self.dir / STATE_FILE).unlink(missing_ok=True)
            raise
        self.say(f"stack up in {time.monotonic() - started:.1f}s; run: source {state.env_file}")
        return state

    def _add_node(self, state: StackState) -> None:
        """A node for a running stack; if it fails to start, the stack keeps running without one."""
        started = time.monotonic()
        try:
            self._start_node(state)
        except BaseException:
            self.say("the node failed to start; stopping what of it was started")
            self._stop_node(state)
            state.save()
            raise
        self.say(f"node up in {time.monotonic() - started:.1f}s")

    def down(self) -> None:
        state = StackState.load(self.dir)
        if state is None:
            self.say(f"no stack recorded in {self.dir}")
            return
        self._stop_all(state)
        (self.dir / STATE_FILE).unlink(missing_ok=True)
        self.say(f"stack in {self.dir} stopped")

    def restart_apiserver(self, state: StackState, down_seconds: float = 0.0) -> float:
        """Stop kube-apiserver, keep it down `down_seconds`, start it again with the same flags (an upgrade, a
        leader change behind a load balancer). Returns time.monotonic() of its first ready answer."""
        process = state.processes["kube-apiserver"]
        stop(process.pid)
        time.sleep(down_seconds)
        pki_dir = self.dir / "pki"
        ca = pki.ensure_ca(pki_dir)
        admin = pki.issue_client_cert(pki_dir, "admin", ca, ADMIN_USER, ("system:masters",))
        url = f"https://127.0.0.1:{process.port}/readyz"
        self.start_process(state, "kube-apiserver", process.argv, process.port,
                           lambda: https_ok(url, ca.cert, admin), timeout=90)
        return time.monotonic()

    # -- start-up -----------------------------------------------------------------------------------------
    def next_port(self, purpose: str) -> int:
        if self._next is None:
            return free_port()
        port = self._next
        self._next += 1
        ensure_port_free(port, purpose)
        return port

    def start_process(self, state: StackState, name: str, argv: list[str], port: int,
                      ready: Callable[[], bool], *, timeout: float = 60.0,
                      env: Mapping[str, str] | None = None) -> None:
        """Start `argv`, record it in `state` as `name` and wait until `ready()`."""
        log = self.dir / "logs" / f"{name}.log"
        self.say(f"starting {name}" + (f" on port {port}" if port else ""))
        pid = spawn(argv, log, env)
        state.processes[name] = Process(pid=pid, port=port, log=str(log), argv=list(argv))
        state.save()
        wait_until(name, pid, log, ready, timeout)

    def _start_all(self, state: StackState) -> None:
        pki_dir = self.dir / "pki"
        ca = pki.ensure_ca(pki_dir)
        serving = pki.issue_server_cert(pki_dir, "serving", ca)
        admin = pki.issue_client_cert(pki_dir, "admin", ca, ADMIN_USER, ("system:masters",))
        kubelet_client = pki.issue_client_cert(pki_dir, "apiserver-kubelet-client", ca, "kube-apiserver",
                                               ("system:masters",))
        sa_key = pki.ensure_rsa_key(pki_dir / "service-account.key")

        etcd_port, peer_port = self.next_port("etcd client"), self.next_port("etcd peer")
        self.start_process(state, "etcd", [
            str(tool("etcd")), "--name", "default", "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"default=http://127.0.0.1:{peer_port}",
            "--unsafe-no-fsync", "--log-level", "warn",
        ], etcd_port, lambda: http_ok(f"http://127.0.0.1:{etcd_port}/health"))

        api_port = self.next_port("kube-apiserver")
        self.start_process(state, "kube-apiserver", [
            str(tool("kube-apiserver")),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={api_port}",
            f"--cert-dir={self.dir / 'apiserver'}",
            f"--tls-cert-file={serving.cert}", f"--tls-private-key-file={serving.key}",
            f"--client-ca-file={ca.cert}",
            # As in a real cluster: kubelets are authorized as nodes, and may change only their own Node and
            # pods; the API server checks a kubelet's serving certificate when it proxies logs and exec. As
            # OpenShift and hardened clusters run it: setting blockOwnerDeletion on an ownerReference needs
            # `update` on the owner's finalizers (the chart grants it for ECS sets and their servers).
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement",
            f"--kubelet-client-certificate={kubelet_client.cert}", f"--kubelet-client-key={kubelet_client.key}",
            f"--kubelet-certificate-authority={ca.cert}", "--kubelet-preferred-address-types=InternalIP",
            f"--service-account-issuer={SA_ISSUER}", f"--api-audiences={SA_ISSUER}",
            f"--service-account-key-file={sa_key.with_suffix('.pub')}",
            f"--service-account-signing-key-file={sa_key}",
            "--service-cluster-ip-range=10.0.0.0/24", "--allow-privileged=true", "--profiling=false",
        ], api_port, lambda: https_ok(f"https://127.0.0.1:{api_port}/readyz", ca.cert, admin), timeout=90)
        self.write_kubeconfig(state, state.kubeconfig, ca, admin, ADMIN_USER)

        state.vcsim_username = "herder"
        state.vcsim_password = secrets.token_urlsafe(12)
        vcsim_port = self.next_port("vcsim")
        self.start_process(state, "vcsim", [
            str(tool("vcsim")), "-l", f"127.0.0.1:{vcsim_port}", *VCSIM_INVENTORY, *self.vcsim_args,
            "-tlscert", str(serving.cert), "-tlskey", str(serving.key),
            "-username", state.vcsim_username, f"-password={state.vcsim_password}",
        ], vcsim_port, lambda: https_ok(f"https://127.0.0.1:{vcsim_port}/about", ca.cert))

        self._start_scvmm_simulator(state, ca, pki_dir)
        state.save()
        self._write_env(state)
        self._seed_vcsim(state)
        self._install_crds_and_secrets(state)
        if self.with_node:
            self._start_node(state)

    def _start_node(self, state: StackState) -> None:
        pki_dir = self.dir / "pki"
        node.start(self, state, pki.ensure_ca(pki_dir), pki.ensure_rsa_key(pki_dir / "service-account.key"))
        self._write_env(state)

    def _start_scvmm_simulator(self, state: StackState, ca: pki.CertPair, pki_dir: Path) -> None:
        if importlib.util.find_spec("herder_dev.scvmm_sim.__main__") is None:
            return
        serving = pki.issue_server_cert(pki_dir, "serving", ca)
        state.scvmm_username = "herder"
        state.scvmm_password = secrets.token_urlsafe(12)
        port = self.next_port("scvmm simulator")
        self.start_process(state, "scvmm-sim", [
            sys.executable, "-m", "herder_dev.scvmm_sim", "--host", "127.0.0.1", "--port", str(port),
            "--state-file", str(self.dir / "scvmm-state.json"),
            "--cert", str(serving.cert), "--key", str(serving.key),
            "--username", state.scvmm_username,
            # `=`: a generated password may start with "-", which would read as an option.
            f"--password={state.scvmm_password}", *self.scvmm_args,
        ], port, lambda: https_ok(f"https://127.0.0.1:{port}/healthz", ca.cert))

    @staticmethod
    def write_kubeconfig(state: StackState, path: Path, ca: pki.CertPair, client: pki.CertPair,
                         user: str) -> Path:
        """A kubeconfig at `path` for the API server, authenticating as `user` with `client`."""
        def b64(file: Path) -> str:
            return base64.b64encode(file.read_bytes()).decode()

        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "herder-dev",
            "clusters": [{"name": "herder-dev", "cluster": {
                "server": state.apiserver_url, "certificate-authority-data": b64(ca.cert)}}],
            "users": [{"name": user, "user": {
                "client-certificate-data": b64(client.cert), "client-key-data": b64(client.key)}}],
            "contexts": [{"name": "herder-dev", "context": {
                "cluster": "herder-dev", "user": user, "namespace": "default"}}],
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def _write_env(self, state: StackState) -> None:
        lines = [f"export {key}={_shell_quote(value)}" for key, value in state.env().items()]
        state.env_file.write_text("\n".join(lines) + "\n")
        state.env_file.chmod(0o600)

    def _run(self, state: StackState, *argv: str, stdin: str | None = None) -> str:
        env = os.environ | state.env()
        result = subprocess.run(argv, input=stdin, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"{' '.join(argv[:3])} failed: {result.stderr.strip()}")
        return result.stdout

    def _seed_vcsim(self, state: StackState) -> None:
        """Templates the examples adopt: plain VMs marked as templates, one per OS family."""
        govc = str(tool("govc"))
        for name, guest in zip(TEMPLATES, ("ubuntu64Guest", "windows2019srv_64Guest"), strict=True):
            self._run(state, govc, "vm.create", "-on=false", "-c", "1", "-m", "1024", "-disk", "10G",
                      "-g", guest, "-net", "VM Network", "-pool", "/DC0/host/DC0_C0/Resources",
                      "-ds", "LocalDS_0", name)
            self._run(state, govc, "vm.markastemplate", name)

    def _install_crds_and_secrets(self, state: StackState) -> None:
        kubectl = str(tool("kubectl"))
        crds = REPO_ROOT / "crds"
        if any(crds.glob("*.yaml")):
            self.say("installing herder's CRDs")
            self._run(state, kubectl, "apply", "--server-side", "-f", str(crds))
            self._run(state, kubectl, "wait", "--for=condition=Established", "--timeout=60s",
                      "-f", str(crds))
        self._run(state, kubectl, "create", "namespace", SYSTEM_NAMESPACE)
        secrets_yaml = list(self._credential_secrets(state))
        self._run(state, kubectl, "apply", "-f", "-", stdin=yaml.safe_dump_all(secrets_yaml))

    def _credential_secrets(self, state: StackState) -> Iterator[dict[str, object]]:
        def secret(name: str, username: str, password: str) -> dict[str, object]:
            return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": name, "namespace": SYSTEM_NAMESPACE},
                    "stringData": {"username": username, "password": password}}

        yield secret("vcsim-credentials", state.vcsim_username, state.vcsim_password)
        if state.scvmm_url:
            yield secret("scvmm-credentials", state.scvmm_username, state.scvmm_password)

    # -- shut-down ----------------------------------------------------------------------------------------
    def _stop_all(self, state: StackState) -> None:
        self._stop_node(state)
        # Reverse start order: clients before the servers they depend on.
        for name, process in reversed(list(state.processes.items())):
            self._stop_process(name, process)

    def _stop_node(self, state: StackState) -> None:
        """The node's processes (taken out of `state`), then what they leave behind."""
        if not state_has_node(state):
            return
        for name in reversed(node.PROCESSES):
            if name in state.processes:
                self._stop_process(name, state.processes.pop(name))
        node.clean_up(self.dir)

    def _stop_process(self, name: str, process: Process) -> None:
        if alive(process.pid):
            self.say(f"stopping {name} (pid {process.pid})")
        stop(process.pid)


def state_has_node(state: StackState) -> bool:
    return any(name in state.processes for name in node.PROCESSES)


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"
