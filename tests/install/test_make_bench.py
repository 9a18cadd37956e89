"""`make bench -n 1000`, as issue #18 spells it: make takes -n for its own dry-run flag, so the Makefile reads a
number among bench's goals as the count and runs the bench anyway. Checked with the bench's --help, which runs
nothing but proves the command line that reached it."""

from __future__ import annotations

import subprocess

from herder_dev.tools import REPO_ROOT

USAGE = "usage: python -m herder_dev.bench"


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-print-directory", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                          timeout=600, check=False)


def test_make_bench_dash_n_runs_the_bench_with_that_count() -> None:
    done = make("bench", "-n", "7", "BENCH_ARGS=--help")
    assert done.returncode == 0, done.stderr
    assert "-m herder_dev.bench -n 7 --help" in done.stdout  # what make ran
    assert USAGE in done.stdout  # and that it ran it


def test_a_dry_run_of_make_bench_without_a_count_still_runs_nothing() -> None:
    done = make("-n", "bench", "BENCH_ARGS=--help")
    assert done.returncode == 0, done.stderr
    assert "-m herder_dev.bench  --help" in done.stdout
    assert USAGE not in done.stdout
