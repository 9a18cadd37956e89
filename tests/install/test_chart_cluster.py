"""The chart and manifests against the real kube-apiserver of the local stack.

The stack is shared by the whole session, so every release gets its own name and namespace (cluster-scoped
objects such as ClusterRoles carry the release name) and is uninstalled at the end. There is no
controller-manager: Deployments create no pods, which is fine, since these tests check what the API server
accepts and what the ServiceAccount may do, not a running operator.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from chart_helpers import CHART, Helm, Obj, find, render

from herder_dev.stack import StackState
from herder_dev.tools import REPO_ROOT, tool

pytestmark = pytest.mark.stack

MANIFESTS = REPO_ROOT / "manifests"


def release_name() -> str:
    return f"h{uuid.uuid4().hex[:6]}"


def kubectl_as(stack: StackState, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    """kubectl authenticated only by the bearer token: an empty kubeconfig, so no admin client cert."""
    argv = [str(tool("kubectl")), "--kubeconfig", os.devnull, "--server", stack.apiserver_url,
            "--certificate-authority", str(stack.ca), "--token", token, *args]
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60,
                          env=os.environ | stack.env() | {"KUBECONFIG": os.devnull})


def can_i(stack: StackState, token: str, verb: str, resource: str, *flags: str) -> bool:
    result = kubectl_as(stack, token, "auth", "can-i", verb, resource, *flags)
    answer = result.stdout.strip()
    assert answer in {"yes", "no"}, f"can-i {verb} {resource}: {result.stdout} {result.stderr}"
    return answer == "yes"


@pytest.fixture
def installed(helm: Helm, kubectl, namespace: str) -> Iterator[tuple[str, str]]:
    """A release of the chart with default values in a fresh namespace; uninstalled afterwards."""
    release = release_name()
    helm("install", release, str(CHART), "--namespace", namespace)
    yield release, namespace
    helm("uninstall", release, "--namespace", namespace, check=False)


def sa_token(kubectl, release: str, namespace: str) -> str:
    token = kubectl("create", "token", f"{release}-herder", "--duration", "10m", namespace=namespace).stdout.strip()
    assert token.count(".") == 2  # a JWT
    return token


def test_template_is_accepted_by_the_api_server(helm_offline: Helm, kubectl, namespace: str) -> None:
    values = ("rbac.secretNamespaces={" + namespace + "}", "ha.enabled=false")
    manifest = "\n---\n".join(yaml.safe_dump(o) for o in render(helm_offline, *values, release=release_name(),
                                                                 namespace=namespace))
    result = kubectl("apply", "--dry-run=server", "-f", "-", input=manifest)
    for kind in ("serviceaccount", "clusterrole.rbac.authorization.k8s.io", "deployment.apps", "service",
                 "role.rbac.authorization.k8s.io"):
        assert f"{kind}/" in result.stdout and "(server dry run)" in result.stdout, result.stdout


def test_pod_passes_pod_security_restricted(helm_offline: Helm, kubectl, namespace: str) -> None:
    kubectl("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    kubectl("create", "serviceaccount", "herder", namespace=namespace)
    deployment = find(render(helm_offline, namespace=namespace), "Deployment")
    pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "herder-psa", "namespace": namespace},
                "spec": deployment["spec"]["template"]["spec"]}
    accepted = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod))
    assert "pod/herder-psa created (server dry run)" in accepted.stdout
    # The control: the same pod with one setting loosened is refused, so the check above is live.
    pod["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = True
    refused = kubectl("create", "--dry-run=server", "-f", "-", input=json.dumps(pod), check=False)
    assert refused.returncode != 0
    assert 'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in refused.stderr


def test_install_upgrade_uninstall_keeps_crds_and_objects(helm: Helm, kubectl, namespace: str) -> None:
    release = release_name()
    helm("install", release, str(CHART), "--namespace", namespace)
    deployment = json.loads(kubectl("get", "deployment", f"{release}-herder", "-o", "json",
                                    namespace=namespace).stdout)
    assert deployment["spec"]["strategy"]["type"] == "Recreate"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/herder-dev/herder:0.1.0"
    # CRDs come from the chart's crds/ directory: Helm does not track them, so it never deletes them.
    assert "CustomResourceDefinition" not in helm("get", "manifest", release, "--namespace", namespace).stdout

    server = {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServer",
              # paused: no herder instance elsewhere in the session may act on this test object
              "metadata": {"name": "keep-me", "namespace": namespace, "annotations": {"herder.dev/paused": "true"}},
              "spec": {"image": {"kind": "Image", "name": "ubuntu"}, "cpu": 1, "memory": "1Gi"}}
    kubectl("apply", "-f", "-", input=json.dumps(server))

    helm("upgrade", release, str(CHART), "--namespace", namespace, "--reuse-values",
         "--set", "image.tag=9.9.9", "--set", "logFormat=text")
    upgraded = json.loads(kubectl("get", "deployment", f"{release}-herder", "-o", "json",
                                  namespace=namespace).stdout)
    main = upgraded["spec"]["template"]["spec"]["containers"][0]
    assert main["image"] == "ghcr.io/herder-dev/herder:9.9.9"
    assert main["args"][main["args"].index("--log-format") + 1] == "text"
    assert upgraded["metadata"]["generation"] == deployment["metadata"]["generation"] + 1
    releases = json.loads(helm("list", "--namespace", namespace, "-o", "json").stdout)
    assert [(r["name"], str(r["revision"]), r["status"]) for r in releases] == [(release, "2", "deployed")]

    helm("uninstall", release, "--namespace", namespace)
    assert kubectl("get", "deployment", f"{release}-herder", namespace=namespace, check=False).returncode != 0
    assert kubectl("get", "clusterrole", f"{release}-herder", check=False).returncode != 0
    kubectl("get", "crd", "elasticcloudservers.herder.dev")
    kept = json.loads(kubectl("get", "ecs", "keep-me", "-o", "json", namespace=namespace).stdout)
    assert kept["spec"]["cpu"] == 1


def test_service_account_can_do_what_herder_needs(stack: StackState, kubectl, installed: tuple[str, str]) -> None:
    release, namespace = installed
    token = sa_token(kubectl, release, namespace)
    ns = ("-n", namespace)
    allowed = [
        ("watch", "elasticcloudservers.herder.dev", "--all-namespaces"),
        ("list", "vcenters.herder.dev"),
        ("patch", "elasticcloudservers.herder.dev", "--subresource=status", *ns),
        ("patch", "resourcepools.herder.dev", "--subresource=status"),
        ("patch", "elasticcloudservers.herder.dev", *ns),  # finalizers, Kopf annotations
        ("create", "elasticcloudservers.herder.dev", *ns),  # ECS set members
        ("delete", "elasticcloudservers.herder.dev", *ns),
        ("update", "elasticcloudserversets.herder.dev", "--subresource=finalizers", *ns),  # blockOwnerDeletion
        ("get", "secrets", "-n", "herder-system"),
        ("create", "events", *ns),
        ("create", "events.events.k8s.io", *ns),
        ("watch", "namespaces"),
        ("watch", "customresourcedefinitions.apiextensions.k8s.io"),
    ]
    denied = [
        ("list", "secrets", "-n", "herder-system"),
        ("watch", "secrets", "--all-namespaces"),
        ("delete", "secrets", "-n", "herder-system"),
        ("create", "secrets", *ns),
        ("get", "deployments.apps", *ns),
        ("patch", "deployments.apps", *ns),
        ("create", "pods", *ns),
        ("update", "elasticcloudservers.herder.dev", *ns),
        ("delete", "vcenters.herder.dev"),
        ("create", "availabilityzones.herder.dev"),
        ("patch", "clusterkopfpeerings.kopf.dev"),  # only with ha.enabled
    ]
    assert [a for a in allowed if not can_i(stack, token, *a)] == []
    assert [d for d in denied if can_i(stack, token, *d)] == []

    # And for real: reading a credentials Secret by name works, enumerating Secrets does not.
    got = kubectl_as(stack, token, "get", "secret", "vcsim-credentials", "-n", "herder-system", "-o", "name")
    assert got.returncode == 0 and got.stdout.strip() == "secret/vcsim-credentials", got.stderr
    listed = kubectl_as(stack, token, "get", "secrets", "-n", "herder-system")
    assert listed.returncode != 0 and "Forbidden" in listed.stderr


def test_secret_namespaces_confine_secret_reads(stack: StackState, helm: Helm, kubectl, namespace: str) -> None:
    release = release_name()
    helm("install", release, str(CHART), "--namespace", namespace, "--set", "rbac.secretNamespaces={herder-system}")
    try:
        token = sa_token(kubectl, release, namespace)
        assert can_i(stack, token, "get", "secrets", "-n", "herder-system")
        assert not can_i(stack, token, "get", "secrets", "-n", namespace)
        assert not can_i(stack, token, "list", "secrets", "-n", "herder-system")
        # an upgrade back to the default restores the cluster-wide read
        helm("upgrade", release, str(CHART), "--namespace", namespace, "--set", "rbac.secretNamespaces=null")
        assert can_i(stack, token, "get", "secrets", "-n", namespace)
        assert kubectl("get", "role", f"{release}-herder-secrets", check=False,
                       namespace="herder-system").returncode != 0
    finally:
        helm("uninstall", release, "--namespace", namespace, check=False)


def as_user(kubectl, user: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """A real request impersonating `user` (the admin may impersonate): allowed, or refused with Forbidden."""
    result = kubectl(*args, f"--as={user}", input=input, check=False)
    assert result.returncode == 0 or "Forbidden" in result.stderr, result.stderr
    return result


def test_user_roles_grant_what_they_say(kubectl, installed: tuple[str, str], namespace: str) -> None:
    """Real requests as users bound to each role (the stack has no controller-manager to aggregate them into
    the built-in roles; test_chart_render checks the aggregation labels)."""
    release, _ = installed
    kubectl("create", "rolebinding", "alice-edit", f"--clusterrole={release}-herder-edit", "--user=alice",
            namespace=namespace)
    kubectl("create", "rolebinding", "bob-view", f"--clusterrole={release}-herder-view", "--user=bob",
            namespace=namespace)
    kubectl("create", "clusterrolebinding", f"{release}-carol-admin", f"--clusterrole={release}-herder-admin",
            "--user=carol")
    try:
        # paused: no herder instance elsewhere in the session may act on these objects
        meta = {"namespace": namespace, "annotations": {"herder.dev/paused": "true"}}
        server = {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServer",
                  "metadata": {"name": "alices"} | meta,
                  "spec": {"image": {"kind": "Image", "name": "ubuntu"}, "cpu": 1, "memory": "1Gi"}}
        workers = {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet",
                   "metadata": {"name": "workers"} | meta,
                   "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "w"}},
                            "template": {"metadata": {"labels": {"app": "w"}},
                                         "spec": {"image": {"kind": "Image", "name": "ubuntu"}, "cpu": 1,
                                                  "memory": "1Gi"}}}}
        provider = {"apiVersion": "herder.dev/v1alpha1", "kind": "VCenter", "metadata": {"name": f"{release}-carols"},
                    "spec": {"server": "vcenter.invalid", "datacenter": "DC0",
                             "credentialsSecretRef": {"name": "none", "namespace": namespace}}}
        scale = ("patch", "ecsset", "workers", "-n", namespace, "--subresource=scale", "--type=merge",
                 "-p", '{"spec":{"replicas":0}}')

        # edit: servers and sets in its namespace, including scale; nothing cluster-wide, nothing elsewhere
        assert as_user(kubectl, "alice", "create", "-f", "-", input=json.dumps(server)).returncode == 0
        assert as_user(kubectl, "alice", "create", "-f", "-", input=json.dumps(workers)).returncode == 0
        assert as_user(kubectl, "alice", *scale).returncode == 0
        assert as_user(kubectl, "alice", "get", "ecs", "-n", "default").returncode != 0
        assert as_user(kubectl, "alice", "create", "-f", "-", input=json.dumps(provider)).returncode != 0
        assert as_user(kubectl, "alice", "get", "vcenters").returncode != 0

        # view: reads, status included; no write of any kind
        listed = as_user(kubectl, "bob", "get", "ecs", "-n", namespace, "-o", "name")
        assert listed.stdout.split() == ["elasticcloudserver.herder.dev/alices"]
        assert as_user(kubectl, "bob", "get", "ecs", "alices", "-n", namespace, "--subresource=status").returncode == 0
        assert as_user(kubectl, "bob", *scale).returncode != 0
        assert as_user(kubectl, "bob", "label", "ecs", "alices", "x=y", "-n", namespace).returncode != 0
        assert as_user(kubectl, "bob", "delete", "ecs", "alices", "-n", namespace).returncode != 0

        # admin (bound cluster-wide): providers and other cluster-scoped kinds; not namespaced servers
        assert as_user(kubectl, "carol", "create", "-f", "-", input=json.dumps(provider)).returncode == 0
        assert as_user(kubectl, "carol", "get", "vcenter", f"{release}-carols", "--subresource=status").returncode == 0
        assert as_user(kubectl, "carol", "delete", "vcenter", f"{release}-carols", "--wait=false").returncode == 0
        assert as_user(kubectl, "carol", "get", "ecs", "-n", namespace).returncode != 0

        # quotas: written by the admin role only; a tenant cannot raise its own, and reads it through view
        quota = {"apiVersion": "herder.dev/v1alpha1", "kind": "ServerQuota",
                 "metadata": {"name": "compute", "namespace": namespace}, "spec": {"hard": {"servers": 3}}}
        assert as_user(kubectl, "alice", "create", "-f", "-", input=json.dumps(quota)).returncode != 0
        assert as_user(kubectl, "carol", "create", "-f", "-", input=json.dumps(quota)).returncode == 0
        assert as_user(kubectl, "bob", "get", "squota", "compute", "-n", namespace).returncode == 0
        assert as_user(kubectl, "alice", "patch", "squota", "compute", "-n", namespace, "--type=merge", "-p",
                       '{"spec":{"hard":{"servers":30}}}').returncode != 0
        assert as_user(kubectl, "carol", "delete", "squota", "compute", "-n", namespace).returncode == 0

        assert as_user(kubectl, "alice", "delete", "ecs", "alices", "-n", namespace, "--wait=false").returncode == 0
    finally:
        kubectl("delete", "clusterrolebinding", f"{release}-carol-admin", check=False)
        kubectl("delete", "vcenter", f"{release}-carols", "--ignore-not-found", "--wait=false", check=False)


def test_kustomize_base_applies(kubectl, namespace: str, tmp_path: Path) -> None:
    """`kubectl apply -k` of manifests/, through an overlay that moves it to a test namespace and prefixes the
    names, so it cannot clash with anything else in the shared stack."""
    prefix = f"k{uuid.uuid4().hex[:5]}-"
    overlay = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
               "namespace": namespace, "namePrefix": prefix,
               "resources": [os.path.relpath(MANIFESTS, tmp_path)]}
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    kubectl("apply", "--dry-run=server", "-k", str(MANIFESTS))  # the base as users apply it
    try:
        kubectl("apply", "-k", str(tmp_path))
        deployment = json.loads(kubectl("get", "deployment", f"{prefix}herder", "-o", "json",
                                        namespace=namespace).stdout)
        assert deployment["spec"]["strategy"]["type"] == "Recreate"
        assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == f"{prefix}herder"
        binding = json.loads(kubectl("get", "clusterrolebinding", f"{prefix}herder", "-o", "json").stdout)
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{prefix}herder", "namespace": namespace}]
        kubectl("auth", "can-i", "get", "secrets", "-n", "herder-system",
                f"--as=system:serviceaccount:{namespace}:{prefix}herder")
    finally:
        # The uninstall documented in docs/install.md: everything but the CRDs (the session needs them).
        rendered = kubectl("kustomize", str(tmp_path)).stdout
        kubectl("delete", "--ignore-not-found", "-f", "-", "--selector", "app.kubernetes.io/instance=herder",
                input=rendered)
    assert kubectl("get", "clusterrole", f"{prefix}herder", check=False).returncode != 0
    assert kubectl("get", "deployment", f"{prefix}herder", namespace=namespace, check=False).returncode != 0
    kubectl("get", "crd", "elasticcloudservers.herder.dev", "vcenters.herder.dev")
