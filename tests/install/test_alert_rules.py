"""The chart's alerts and dashboard queries, checked with Prometheus' own code.

- `promtool test rules` runs alert-rules-test.yaml against the PrometheusRule as `helm template` renders it
  (what users get), and every alert has a case that fires it and one that must not;
- every dashboard query and alert expression parses as PromQL and reads only metrics herder exports
  (promql-metrics, on the same Prometheus release's parser).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart_helpers import CHART, Helm, exported_metric_names, find, render

from herder_dev import promql
from herder_dev.tools import tool

RULE_TESTS = Path(__file__).parent / "alert-rules-test.yaml"
RULES_FILE = "herder-rules.yaml"  # the name alert-rules-test.yaml refers to
# Metrics Prometheus itself writes for every target; the alerts may use them.
PROMETHEUS_METRICS = {"up"}
# Grafana's built-in interval variables, replaced by a duration of the kind Grafana puts there.
GRAFANA_VARIABLES = {"$__rate_interval": "4m", "$__interval": "1m", "$__range": "6h"}


def _rules(helm: Helm) -> list[dict[str, Any]]:
    rule: list[dict[str, Any]] = find(render(helm, "prometheusRule.enabled=true"), "PrometheusRule")["spec"]["groups"]
    return rule


def _alert_exprs(helm: Helm) -> dict[str, str]:
    return {r["alert"]: r["expr"] for group in _rules(helm) for r in group["rules"] if "alert" in r}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(tool("promtool")), *args], cwd=cwd, capture_output=True, text=True, check=False,
                          timeout=120)


def test_promtool_rule_tests_pass(helm_offline: Helm, tmp_path: Path) -> None:
    (tmp_path / RULES_FILE).write_text(yaml.safe_dump({"groups": _rules(helm_offline)}, sort_keys=False))
    shutil.copyfile(RULE_TESTS, tmp_path / RULE_TESTS.name)
    checked = _promtool("check", "rules", RULES_FILE, cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", RULE_TESTS.name, cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_has_a_firing_and_a_silent_case(helm_offline: Helm) -> None:
    cases = [case for test in yaml.safe_load(RULE_TESTS.read_text())["tests"] for case in test["alert_rule_test"]]
    fires = {case["alertname"] for case in cases if case["exp_alerts"]}
    silent = {case["alertname"] for case in cases if not case["exp_alerts"]}
    alerts = set(_alert_exprs(helm_offline))
    assert alerts, "no alerts rendered"
    assert (alerts - fires, alerts - silent) == (set(), set()), "alerts without a firing / a silent case"


def _dashboard_queries() -> list[str]:
    dashboard = json.loads((CHART / "dashboards" / "herder.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", ())]


def _with_grafana_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def _check(exprs: list[str], allowed: set[str]) -> set[str]:
    """Parse every expression; the metric names they read (all of which must be in `allowed`)."""
    parsed = promql.parse(exprs)
    errors = [f"{p.expr!r}: {p.error}" for p in parsed if p.error]
    assert not errors, f"not PromQL: {errors}"
    unnamed = [selector for p in parsed for selector in p.unnamed]
    assert not unnamed, f"selectors without a metric name: {unnamed}"
    used = set().union(*(p.metrics for p in parsed))
    assert used <= allowed, f"metrics herder does not export: {sorted(used - allowed)}"
    return used


def test_dashboard_queries_parse_and_read_exported_metrics() -> None:
    queries = [_with_grafana_variables(expr) for expr in _dashboard_queries()]
    assert len(queries) >= 15
    used = _check(queries, exported_metric_names())
    assert len(used) >= 14


def test_alert_expressions_read_exported_metrics(helm_offline: Helm) -> None:
    used = _check(list(_alert_exprs(helm_offline).values()), exported_metric_names() | PROMETHEUS_METRICS)
    assert {"herder_backend_up", "herder_reconcile_total", "herder_ecs_not_ready_seconds", "up"} <= used


@pytest.mark.parametrize(("expr", "problem"), [
    ("sum by (kind) (rate(herder_reconcile_total[5m])", "not PromQL.*unclosed left parenthesis"),
    ("rate(herder_reconcile_total)", "not PromQL.*range vector"),
    ("herder_reconcile_totl > 0", "does not export.*herder_reconcile_totl"),
    ('{__name__=~"herder_.*"}', "without a metric name"),
])
def test_the_query_check_catches(expr: str, problem: str) -> None:
    with pytest.raises(AssertionError, match=problem):
        _check([expr], exported_metric_names())
