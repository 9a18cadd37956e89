"""The benchmarks' pure helpers: percentiles, memory per server, counters, /proc parsing, the tables."""

from __future__ import annotations

import json
import math

import pytest

from herder_dev.bench import herder_run, measure, report
from herder_dev.bench.report import Row

# /proc/PID/stat of a process whose name holds a space and a ")": utime 250 and stime 50 ticks (fields 14, 15).
STAT = "4242 (herder (x) y) S 1 4242 4242 0 -1 4194560 9000 0 0 0 250 50 0 0 20 0 40 0 100 1000 2000"
STATUS = "Name:\tpython\nVmPeak:\t  400000 kB\nVmHWM:\t  153600 kB\nVmRSS:\t  102400 kB\nThreads:\t42\n"
METRICS = """# HELP herder_backend_requests_total requests sent to a backend
# TYPE herder_backend_requests_total counter
herder_backend_requests_total{operation="Clone",provider="vcenter"} 10.0
herder_backend_requests_total{operation="WaitForUpdatesEx",provider="vcenter"} 3.0
herder_backend_requests_total{operation="inventory",provider="scvmm"} 7.0
"""


def test_percentiles_interpolate_between_the_nearest_values() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert measure.percentile(values, 0.5) == pytest.approx(50.5)
    assert measure.percentile(values, 0.95) == pytest.approx(95.05)
    assert measure.percentile(reversed(values), 0.99) == pytest.approx(99.01)  # order does not matter
    assert measure.percentile([7.0], 0.95) == 7.0
    assert math.isnan(measure.percentile([], 0.5))
    with pytest.raises(ValueError, match="fraction"):
        measure.percentile(values, 1.0)


def test_lag_summary_in_milliseconds() -> None:
    lag = measure.lag_summary([0.001] * 98 + [0.5, 2.0])
    assert lag["samples"] == 100
    assert lag["p50_ms"] == pytest.approx(1.0)
    assert lag["max_ms"] == pytest.approx(2000.0)
    assert 1.0 < lag["p99_ms"] < 2000.0
    assert math.isnan(measure.lag_summary([])["max_ms"])


def test_bytes_per_server_is_the_rss_growth_shared_out() -> None:
    assert measure.bytes_per_server(100 * measure.MIB, 110 * measure.MIB, 1000) == pytest.approx(10485.76)
    assert measure.bytes_per_server(100, 90, 10) == -1.0  # memory given back shows as such
    with pytest.raises(ValueError, match="servers"):
        measure.bytes_per_server(1, 2, 0)


def test_delta_keeps_only_counters_that_moved() -> None:
    before = {"Clone": 5.0, "info": 2.0}
    after = {"Clone": 15.0, "info": 2.0, "WaitForUpdatesEx": 1.0}
    assert measure.delta(after, before) == {"Clone": 10.0, "WaitForUpdatesEx": 1.0}


def test_per_minute() -> None:
    assert measure.per_minute(3, 30.0) == 6.0


def test_proc_parsing() -> None:
    assert measure.cpu_seconds_of(STAT, 100) == pytest.approx(3.0)
    assert measure.status_bytes(STATUS, "VmRSS") == 100 * measure.MIB
    assert measure.status_bytes(STATUS, "VmHWM") == 150 * measure.MIB
    with pytest.raises(ValueError, match="VmSwap"):
        measure.status_bytes(STATUS, "VmSwap")


def test_backend_counters_by_operation_for_one_provider() -> None:
    assert measure.counters_by(METRICS, "herder_backend_requests_total", "operation", provider="vcenter") == {
        "Clone": 10.0, "WaitForUpdatesEx": 3.0}
    assert measure.counters_by(METRICS, "herder_backend_requests_total", "operation", provider="scvmm") == {
        "inventory": 7.0}


def test_writes_counted_are_herders_objects_and_events() -> None:
    assert measure.write_key({"verb": "PATCH", "group": "herder.dev", "resource": "elasticcloudservers",
                              "subresource": "status"}) == "PATCH elasticcloudservers/status"
    assert measure.write_key({"verb": "POST", "group": "", "resource": "events"}) == "POST events"
    assert measure.write_key({"verb": "GET", "group": "herder.dev", "resource": "elasticcloudservers"}) is None
    assert measure.write_key({"verb": "PUT", "group": "coordination.k8s.io", "resource": "leases"}) is None


def test_top_growth_ranks_sites_that_grew() -> None:
    before = {"a.py:1": 100, "b.py:2": 500, "c.py:3": 50, "e.py:5": 70}
    after = {"a.py:1": 1100, "b.py:2": 400, "c.py:3": 60, "d.py:4": 300, "e.py:5": 70}
    assert measure.top_growth(before, after, 2) == [("a.py:1", 1000), ("d.py:4", 300)]
    assert measure.top_growth(before, after, 10) == [("a.py:1", 1000), ("d.py:4", 300), ("c.py:3", 10)]


def test_the_worst_of_runs_is_the_largest_cost() -> None:
    runs = [{"ratio": 1.1, "rss": 140.0, "p95": math.nan}, {"ratio": 1.3, "rss": 120.0, "p95": math.nan}]
    worst = report.worst(runs)
    assert worst["ratio"] == 1.3
    assert worst["rss"] == 140.0
    assert math.isnan(worst["p95"])


def test_rss_target_follows_the_issue() -> None:
    assert report.rss_target_mib(1000) == 150.0
    assert report.rss_target_mib(10_000) == 400.0


def test_table_prints_every_run_the_worst_and_the_verdict() -> None:
    rows = [Row("ratio", "ratio", 2, 1.15), Row("calls", "calls", 0)]
    text = report.table("title", rows, [{"ratio": 1.10, "calls": 3.0}, {"ratio": 1.20, "calls": 4.0}])
    lines = text.splitlines()
    assert lines[0] == "title"
    assert lines[1].split() == ["run", "1", "run", "2", "worst", "target"]
    assert lines[2].split() == ["ratio", "1.10", "1.20", "1.20", "<=", "1.15", "OVER"]
    assert lines[3].split() == ["calls", "3", "4", "4"]
    one = report.table("t", rows, [{"ratio": 1.15}]).splitlines()
    assert one[2].split() == ["ratio", "1.15", "<=", "1.15", "ok"]
    assert one[3].split() == ["calls", "-"]


def test_json_has_no_nan_and_the_worst_only_for_several_runs() -> None:
    single = json.loads(report.as_json("scale", [{"p95": math.nan}], vcsim={"x": math.nan}))
    assert single == {"mode": "scale", "runs": [{"p95": None}], "vcsim": {"x": None}}
    several = json.loads(report.as_json("vcenter", [{"a": 1.0}, {"a": 2.0}]))
    assert several["worst"] == {"a": 2.0}


def test_settle_waits_for_calls_and_writes_to_stand_still_but_not_the_watch(monkeypatch: pytest.MonkeyPatch) \
        -> None:
    clock = [0.0]
    monkeypatch.setattr(herder_run.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(herder_run.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    readings = iter([({"info": 1.0}, {}), ({"info": 2.0}, {}), ({"info": 2.0}, {"POST events": 1.0})])

    def counters() -> tuple[dict[str, float], dict[str, float]]:
        calls, writes = next(readings, ({"info": 2.0}, {"POST events": 1.0}))
        return calls | {"WaitForUpdatesEx": clock[0]}, writes  # the long poll moves all the time

    waited, settled = herder_run.settle(counters, longest=100.0)
    assert settled
    assert waited == 2.0 + herder_run.SETTLE_QUIET_SECONDS  # the last change came at 2 s
    waited, settled = herder_run.settle(lambda: ({"info": clock[0]}, {}), longest=30.0)
    assert (settled, waited) == (False, 30.0)


def test_per_operation_rows_cover_every_run_largest_first() -> None:
    runs = [{"calls/create Clone": 1.0, "calls/create info": 1.5}, {"calls/create FindByUuid": 1.2,
                                                                    "idle calls/min WaitForUpdatesEx": 1.0}]
    rows = herder_run.detail_rows(runs, "vCenter calls")
    assert [row.key for row in rows] == ["-", "calls/create info", "calls/create FindByUuid", "calls/create Clone",
                                          "-", "idle calls/min WaitForUpdatesEx"]
    assert rows[0].label == "vCenter calls per create, by operation:"
