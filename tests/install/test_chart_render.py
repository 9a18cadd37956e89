"""The chart without a cluster: lint, schema, defaults, options, and that its artefacts match their sources."""

from __future__ import annotations

import json

import pytest
import yaml
from chart_helpers import CHART, Helm, Obj, container, find, render

from herder.api.registry import KINDS
from herder_dev import render_manifests
from herder_dev.tools import REPO_ROOT


def rules_of(role: Obj) -> list[tuple[str, str, str]]:
    """A role's rules flattened to (apiGroup, resource, verb) triples."""
    return [(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]]


def test_helm_lint_strict(helm_offline: Helm) -> None:
    result = helm_offline("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


@pytest.mark.parametrize(("value", "message"), [
    ("image.pullPolicy=Sometimes", "value must be one of 'Always', 'IfNotPresent', 'Never'"),
    ("replicaCount=2", "value must be one of 0, 1"),
    ("logFormat=xml", "value must be one of 'json', 'text'"),
    ("metrics.port=70000", "maximum"),
    ("rbac.secretNamespaces={Not_A_Namespace}", "does not match pattern"),
    ("unknownKey=1", "additional properties 'unknownKey' not allowed"),
    ("hostNetwork=yes", "got string, want boolean"),
])
def test_schema_rejects_bad_values(helm_offline: Helm, value: str, message: str) -> None:
    for command in (["template", "x", str(CHART)], ["lint", "--strict", str(CHART)]):
        result = helm_offline(*command, "--set", value, check=False)
        assert result.returncode != 0, f"helm {command[0]} accepted {value}"
        assert message in result.stdout + result.stderr


def test_defaults(helm_offline: Helm) -> None:
    objects = render(helm_offline)
    deployment = find(objects, "Deployment", "herder")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    main = container(objects)
    assert main["image"] == "ghcr.io/herder-dev/herder:0.1.0"
    assert [*main["command"], *main["args"]] == [
        "herder", "run", "--liveness", "http://0.0.0.0:8080/healthz", "--metrics-port", "9090", "--log-format", "json"]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "healthz"}
    assert {p["name"]: p["containerPort"] for p in main["ports"]} == {"healthz": 8080, "http-metrics": 9090}
    service = find(objects, "Service", "herder-metrics")
    assert service["spec"]["ports"][0]["port"] == 9090
    kinds = sorted(o["kind"] for o in objects)
    # Monitoring objects and the dashboard are opt-in; CRDs come from crds/, not templates. herder plan's
    # ServiceAccount comes with its two roles and the admission policy that confines it to dry runs.
    assert kinds == ["ClusterRole"] * 6 + ["ClusterRoleBinding"] * 3 + [
        "Deployment", "Role", "RoleBinding", "Service", "ServiceAccount", "ServiceAccount",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]
    # Chargeback of deleted servers: one named ConfigMap in its own namespace, nothing else.
    metering = find(objects, "Role", "herder-metering")
    assert metering["metadata"]["namespace"] == "herder-system"
    assert sorted(rules_of(metering)) == [("", "configmaps", "create"), ("", "configmaps", "get"),
                                          ("", "configmaps", "update")]
    assert metering["rules"][0]["resourceNames"] == ["herder-metering"]


def test_security_context_is_restricted(helm_offline: Helm) -> None:
    objects = render(helm_offline)
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    context = container(objects)["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}


def test_image_is_configurable(helm_offline: Helm) -> None:
    main = container(render(helm_offline, "image.repository=registry.example/herder", "image.tag=1.2.3",
                            "image.pullPolicy=Always"))
    assert (main["image"], main["imagePullPolicy"]) == ("registry.example/herder:1.2.3", "Always")


def test_host_network_is_opt_in(helm_offline: Helm) -> None:
    pod = find(render(helm_offline), "Deployment")["spec"]["template"]["spec"]
    assert "hostNetwork" not in pod and "dnsPolicy" not in pod
    pod = find(render(helm_offline, "hostNetwork=true"), "Deployment")["spec"]["template"]["spec"]
    assert (pod["hostNetwork"], pod["dnsPolicy"]) == (True, "ClusterFirstWithHostNet")


def test_operator_rbac_is_least_privilege(helm_offline: Helm) -> None:
    rules = set(rules_of(find(render(helm_offline), "ClusterRole", "herder")))
    plurals = {info.plural for info in KINDS}
    expected = {("herder.dev", p, v) for p in plurals for v in ("get", "list", "watch", "patch")}
    expected |= {("herder.dev", f"{p}/status", "patch") for p in plurals}
    expected |= {("herder.dev", p, v) for p in ("elasticcloudservers", "serversnapshots") for v in ("create", "delete")}
    # blockOwnerDeletion on set members and scheduled snapshots
    owners = ("elasticcloudserversets", "serversnapshotschedules")
    expected |= {("herder.dev", f"{p}/finalizers", "update") for p in owners}
    expected |= {(g, "events", v) for g in ("", "events.k8s.io") for v in ("create", "patch")}
    expected |= {("", "namespaces", v) for v in ("get", "list", "watch")}
    expected |= {("apiextensions.k8s.io", "customresourcedefinitions", v) for v in ("get", "list", "watch")}
    expected |= {("", "secrets", "get")}
    assert rules == expected


def test_chart_kind_lists_match_the_registry(helm_offline: Helm) -> None:
    """A new kind in herder.api.registry must be added to the chart's RBAC (templates/_helpers.tpl)."""
    objects = render(helm_offline)
    admin = {r for _, r, _ in rules_of(find(objects, "ClusterRole", "herder-admin")) if "/" not in r}
    edit = {r for _, r, _ in rules_of(find(objects, "ClusterRole", "herder-edit")) if "/" not in r}
    assert admin == {info.plural for info in KINDS if info.scope == "Cluster" or info.administered}
    assert edit == {info.plural for info in KINDS if info.scope == "Namespaced" and not info.administered}
    view = {r for _, r, _ in rules_of(find(objects, "ClusterRole", "herder-view")) if "/" not in r}
    assert view == {info.plural for info in KINDS}


def test_user_roles_aggregate(helm_offline: Helm) -> None:
    objects = render(helm_offline)
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"

    def targets(name: str) -> set[str]:
        labels = find(objects, "ClusterRole", name)["metadata"]["labels"]
        return {key.removeprefix(aggregate) for key, value in labels.items() if key.startswith(aggregate)
                and value == "true"}

    assert targets("herder-view") == {"view", "edit", "admin"}
    assert targets("herder-edit") == {"edit", "admin"}
    # Creating a VCenter makes herder read a Secret of any namespace: not for namespace admins.
    assert targets("herder-admin") == set()
    view_verbs = {verb for _, _, verb in rules_of(find(objects, "ClusterRole", "herder-view"))}
    assert view_verbs == {"get", "list", "watch"}
    edit = set(rules_of(find(objects, "ClusterRole", "herder-edit")))
    assert ("herder.dev", "elasticcloudserversets/scale", "update") in edit
    assert not any(r in {"vcenters", "serverquotas"} for _, r, _ in edit)


def test_plan_roles_read_and_dry_run_only(helm_offline: Helm) -> None:
    objects = render(helm_offline, "plan.credentialsSecrets[0].namespace=herder-system",
                     "plan.credentialsSecrets[0].name=vcenter-credentials")
    labels = find(objects, "ClusterRole", "herder-plan")["metadata"]["labels"]
    assert {k for k, v in labels.items() if k.startswith("rbac.authorization.k8s.io/aggregate-to-") and v == "true"} \
        == {f"rbac.authorization.k8s.io/aggregate-to-{role}" for role in ("view", "edit", "admin")}
    reads = set(rules_of(find(objects, "ClusterRole", "herder-plan")))
    assert {verb for _, _, verb in reads} == {"get", "list", "watch"}
    assert {r for g, r, _ in reads if g == "herder.dev"} == {info.plural for info in KINDS}
    assert ("", "namespaces", "list") in reads
    dry_run = set(rules_of(find(objects, "ClusterRole", "herder-plan-dry-run")))
    marker = "herder.dev/plan-dry-run-only"
    assert {verb for _, _, verb in dry_run} == {"create", "update", marker}
    assert {g for g, _, _ in dry_run} == {"herder.dev"}
    policy = find(objects, "ValidatingAdmissionPolicy", "herder-plan-dry-run-only")["spec"]
    condition = policy["matchConditions"][0]["expression"]
    assert f"check('{marker}').allowed()" in condition and "!authorizer" in condition  # "*" holders are left alone
    assert policy["validations"][0]["expression"] == "request.dryRun == true"
    assert find(objects, "ValidatingAdmissionPolicyBinding", "herder-plan-dry-run-only")["spec"][
        "validationActions"] == ["Deny"]
    secret = find(objects, "Role", "herder-plan-vcenter-credentials")
    assert secret["metadata"]["namespace"] == "herder-system"
    assert secret["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["vcenter-credentials"],
                                "verbs": ["get"]}]
    without = render(helm_offline, "plan.serviceAccount.dryRun=false")
    assert not [o for o in without if o["kind"].startswith("ValidatingAdmissionPolicy")]
    assert not [o for o in without if o["metadata"]["name"] == "herder-plan-dry-run"]


def test_secret_namespaces_replace_the_cluster_wide_secret_read(helm_offline: Helm) -> None:
    objects = render(helm_offline, "rbac.secretNamespaces={herder-system,tenant-a}")
    assert not [r for r in rules_of(find(objects, "ClusterRole", "herder")) if r[1] == "secrets"]
    roles = [o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == "herder-secrets"]
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["herder-system", "tenant-a"]
    assert all(rules_of(r) == [("", "secrets", "get")] for r in roles)
    bindings = [o for o in objects if o["kind"] == "RoleBinding" and o["metadata"]["name"] == "herder-secrets"]
    assert {(b["metadata"]["namespace"], b["subjects"][0]["name"], b["subjects"][0]["namespace"])
            for b in bindings} == {("herder-system", "herder", "herder-system"),
                                   ("tenant-a", "herder", "herder-system")}


def test_ha_opt_in(helm_offline: Helm) -> None:
    objects = render(helm_offline, "ha.enabled=true")
    assert container(objects)["args"][-2:] == ["--peering", "herder"]
    assert find(objects, "Deployment")["spec"]["strategy"]["type"] == "RollingUpdate"
    rules = set(rules_of(find(objects, "ClusterRole", "herder")))
    assert ("kopf.dev", "clusterkopfpeerings", "patch") in rules
    assert find(objects, "ClusterKopfPeering", "herder")["apiVersion"] == "kopf.dev/v1"
    # and none of it by default
    default = render(helm_offline)
    assert "--peering" not in container(default)["args"]
    assert not any(r[0] == "kopf.dev" for r in rules_of(find(default, "ClusterRole", "herder")))


def test_monitoring_objects(helm_offline: Helm) -> None:
    """The alerts themselves are tested with promtool (test_alert_rules.py)."""
    objects = render(helm_offline, "prometheusRule.enabled=true", "serviceMonitor.enabled=true",
                     "grafanaDashboard.enabled=true")
    assert find(objects, "PrometheusRule")["spec"]["groups"][0]["name"] == "herder"
    dashboard = find(objects, "ConfigMap", "herder-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "dashboards" / "herder.json").read_text())
    assert json.loads(dashboard["data"]["herder.json"]) == shipped
    monitor = find(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "http-metrics"
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True


def test_dashboard_file_is_valid_json() -> None:
    dashboard = json.loads((CHART / "dashboards" / "herder.json").read_text())
    assert dashboard["uid"] == "herder-overview"
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


def test_chart_crds_are_the_repository_crds() -> None:
    stale = render_manifests.stale_files(REPO_ROOT / "crds", CHART / "crds")
    assert stale == [], f"charts/herder/crds differs from crds/ in {stale}; run: {render_manifests.REGENERATE}"


def test_manifests_equal_a_fresh_render() -> None:
    problems = render_manifests.check()
    assert problems == [], f"stale: {problems}; run: {render_manifests.REGENERATE}"


def test_manifests_have_no_helm_labels() -> None:
    for path in (REPO_ROOT / "manifests").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            labels = doc.get("metadata", {}).get("labels", {}) or {}
            assert "helm.sh/chart" not in labels, path
