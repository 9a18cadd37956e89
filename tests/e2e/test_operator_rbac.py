"""The operator runs as the chart's ServiceAccount (see operator_identity), so the chart's ClusterRole is what
every e2e test exercises. This shows the other half: a rule taken out of that role fails visibly, with the
API server's Forbidden in the object's condition, and the operator recovers once the rule is back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from e2e_world import apply, condition_is, ecs_manifest, wait_for

from herder_dev.operator_identity import RELEASE, ServiceAccountLogin
from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

Rule = dict[str, Any]


@contextlib.contextmanager
def chart_role_without(stack: StackState, unwanted: Callable[[Rule], bool]) -> Iterator[Rule]:
    """The session's chart ClusterRole minus the one rule `unwanted` picks; put back afterwards."""
    role = json.loads(stack.kubectl("get", "clusterrole", RELEASE, "-o", "json").stdout)
    removed = [rule for rule in role["rules"] if unwanted(rule)]
    assert len(removed) == 1, removed
    kept = [rule for rule in role["rules"] if not unwanted(rule)]
    patch = [{"op": "replace", "path": "/rules", "value": kept}]
    stack.kubectl("patch", "clusterrole", RELEASE, "--type=json", "-p", json.dumps(patch))
    try:
        yield removed[0]
    finally:
        patch = [{"op": "replace", "path": "/rules", "value": role["rules"]}]
        stack.kubectl("patch", "clusterrole", RELEASE, "--type=json", "-p", json.dumps(patch))


def creates_servers(rule: Rule) -> bool:
    return rule["apiGroups"] == ["herder.dev"] and rule["resources"] == ["elasticcloudservers"] \
        and "create" in rule["verbs"]


def test_a_set_without_the_create_rule_says_forbidden_then_recovers(
        stack: StackState, operator: OperatorProcess, operator_login: ServiceAccountLogin, namespace: str) -> None:
    workers = {"apiVersion": "herder.dev/v1alpha1", "kind": "ElasticCloudServerSet", "metadata": {"name": "workers"},
               "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "workers"}},
                        "template": {"metadata": {"labels": {"app": "workers"}},
                                     "spec": ecs_manifest("unused", cpu=1, memory="512Mi")["spec"]}}}
    with chart_role_without(stack, creates_servers):
        apply(stack, workers, namespace=namespace)
        status = wait_for(lambda: condition_is(stack, "ecsset", "workers", namespace, "Ready", "False", "ScaleFailed"),
                          timeout=60, what="the set's Ready condition: ScaleFailed")
        message = next(c["message"] for c in status["conditions"] if c["type"] == "Ready")
        assert "forbidden" in message.lower() and operator_login.username in message, message
        assert "cannot create resource \"elasticcloudservers\"" in message, message
        assert stack.kubectl("get", "ecs", "-o", "name", namespace=namespace).stdout == ""

    # The rule is back: the same set makes its server without anyone touching it.
    wait_for(lambda: condition_is(stack, "ecsset", "workers", namespace, "Ready", "True"), timeout=120,
             what="the set Ready once the role allows it")
    stack.kubectl("delete", "ecsset", "workers", "--timeout=120s", namespace=namespace)
    wait_for(lambda: stack.kubectl("get", "ecs", "-o", "name", namespace=namespace).stdout == "", timeout=120,
             what="the set's server deleted")
