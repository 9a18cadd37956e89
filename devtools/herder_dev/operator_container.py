"""Run the herder image the way the chart's Deployment runs it, with podman, against a stack.

What the pod spec sets is mirrored: the image's own command (`herder run` on ports 8080 and 9090), uid
65532, a read-only root with a /tmp scratch volume, all capabilities dropped, no privilege escalation, the
memory limit, and the ServiceAccount as in a pod: a token, CA and namespace mounted where Kubernetes mounts
them, and the in-cluster KUBERNETES_SERVICE_* variables. The stack listens on loopback, so the container
shares the host's network (as a hostNetwork pod would); the fixed ports are guarded by a lock shared by
every test session on the machine.
"""

from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path
from typing import IO

from herder_dev.operator_identity import POD_SA_DIR, ServiceAccountLogin
from herder_dev.operator_process import wait_healthy
from herder_dev.podman import podman, ulimits
from herder_dev.processes import ensure_port_free

HEALTH_PORT, METRICS_PORT = 8080, 9090  # the image's CMD and the chart's default values
GRACE_SECONDS = 30  # the chart's terminationGracePeriodSeconds
MEMORY_LIMIT = "512m"  # the chart's resources.limits.memory
PORTS_LOCK = Path("/tmp/herder-operator-container-ports.lock")


class OperatorContainer:
    def __init__(self, image: str, login: ServiceAccountLogin, workdir: Path, name: str,
                 extra_env: dict[str, str] | None = None) -> None:
        self.image = image
        self.login = login
        self.workdir = workdir
        self.name = name
        self.extra_env = extra_env or {}
        self._ports_lock: IO[str] | None = None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{HEALTH_PORT}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{METRICS_PORT}/metrics"

    def start(self, timeout: float = 90.0) -> None:
        self._lock_ports()
        secrets = self.login.pod_files(self.workdir / "serviceaccount")
        env = self.login.in_cluster_env() | {"POD_ID": self.name} | self.extra_env
        podman(
            "run", "--detach", "--name", self.name, "--network", "host",
            "--user", "65532:65532", "--read-only", "--read-only-tmpfs=false", "--tmpfs", "/tmp:rw,size=64m",
            "--cap-drop", "all", "--security-opt", "no-new-privileges", "--memory", MEMORY_LIMIT, *ulimits(),
            "--volume", f"{secrets}:{POD_SA_DIR}:ro",
            *[arg for key, value in env.items() for arg in ("--env", f"{key}={value}")],
            self.image,
        )
        wait_healthy(self.health_url, self._exited, lambda: self.log()[-4000:], timeout)

    def _lock_ports(self) -> None:
        """Wait for any other session's container to give 8080/9090 back, then check nothing else has them."""
        self._ports_lock = PORTS_LOCK.open("w")
        fcntl.flock(self._ports_lock, fcntl.LOCK_EX)
        ensure_port_free(HEALTH_PORT, "the image's liveness port")
        ensure_port_free(METRICS_PORT, "the image's metrics port")

    def state(self) -> dict[str, object]:
        out = podman("inspect", "--format", "{{json .State}}", self.name).stdout
        state: dict[str, object] = json.loads(out)
        return state

    def _exited(self) -> str | None:
        state = self.state()
        return None if state["Running"] else f"the container exited with {state['ExitCode']}"

    def stop(self, grace: int = GRACE_SECONDS) -> float:
        """SIGTERM, then SIGKILL after `grace` seconds, as the kubelet does; returns the seconds it took."""
        started = time.monotonic()
        podman("stop", "--time", str(grace), self.name, timeout=grace + 30)
        return time.monotonic() - started

    def log(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self) -> None:
        podman("rm", "--force", "--time", "0", self.name, check=False)
        if self._ports_lock is not None:
            self._ports_lock.close()
            self._ports_lock = None
