"""Who the operator is in the test world: the chart's ServiceAccount, bound to the chart's ClusterRole.

The RBAC templates of charts/herder are rendered with helm (no Deployment: the tests run the operator
themselves) and applied into the stack, then a token is requested for the ServiceAccount. The operator the
tests and the demo run therefore holds exactly what `helm install` grants, never the admin's certificate:
a verb missing from the chart fails a test.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from herder_dev.render_manifests import helm_template
from herder_dev.stack import SYSTEM_NAMESPACE, StackState

RELEASE = "herder"
RBAC_TEMPLATES = ("templates/serviceaccount.yaml", "templates/rbac.yaml", "templates/user-roles.yaml")
TOKEN_DURATION = "24h"  # longer than any test session: the operator does not renew it
# Where a pod finds its ServiceAccount token, CA and namespace (what in-cluster clients read).
POD_SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def chart_rbac(release: str = RELEASE, namespace: str = SYSTEM_NAMESPACE, *values: str) -> list[dict[str, Any]]:
    """The chart's ServiceAccount, ClusterRoles and bindings for `release`, with `--set` values."""
    sets = [arg for value in values for arg in ("--set", value)]
    shown = [arg for template in RBAC_TEMPLATES for arg in ("--show-only", template)]
    rendered = helm_template(*shown, *sets, release=release, namespace=namespace)
    return [doc for doc in yaml.safe_load_all(rendered) if doc]


@dataclass(frozen=True)
class ServiceAccountLogin:
    """A ServiceAccount's token for the stack's API server, written out the two ways a client finds one."""

    stack: StackState
    namespace: str
    name: str
    token: str

    @property
    def username(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig with only the bearer token: no client certificate to fall back on."""
        ca = base64.b64encode(self.stack.ca.read_bytes()).decode()
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": self.name,
            "clusters": [{"name": "herder-dev", "cluster": {"server": self.stack.apiserver_url,
                                                            "certificate-authority-data": ca}}],
            "users": [{"name": self.username, "user": {"token": self.token}}],
            "contexts": [{"name": self.name, "context": {"cluster": "herder-dev", "user": self.username,
                                                         "namespace": self.namespace}}],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)
        return path

    def pod_files(self, directory: Path) -> Path:
        """token, ca.crt and namespace as the kubelet projects them into POD_SA_DIR (world-readable
        files, as there, so a non-root container user can read them)."""
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)
        for name, text in (("token", self.token), ("ca.crt", self.stack.ca.read_text()),
                           ("namespace", self.namespace)):
            (directory / name).write_text(text)
            (directory / name).chmod(0o644)
        return directory

    def in_cluster_env(self) -> dict[str, str]:
        """The variables a pod gets for the `kubernetes` Service (here: the API server on loopback)."""
        port = self.stack.processes["kube-apiserver"].port
        return {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(port)}


def login(stack: StackState, name: str = RELEASE, namespace: str = SYSTEM_NAMESPACE) -> ServiceAccountLogin:
    token = stack.kubectl("create", "token", name, "--duration", TOKEN_DURATION, namespace=namespace).stdout.strip()
    return ServiceAccountLogin(stack=stack, namespace=namespace, name=name, token=token)


def install(stack: StackState, release: str = RELEASE, namespace: str = SYSTEM_NAMESPACE) -> ServiceAccountLogin:
    """Apply the chart's RBAC for `release` into `namespace` and log in as its ServiceAccount."""
    objects = chart_rbac(release, namespace)
    stack.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(objects))
    account = next(o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount")
    return login(stack, account, namespace)
