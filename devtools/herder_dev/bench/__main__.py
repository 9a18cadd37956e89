"""`make bench` (python -m herder_dev.bench): figures, never assertions.

Modes: the vCenter comparison (default; `-n`, `--runs`), `--scale N` (N ECSs on vcsim without clone latency),
`--backend scvmm` (creates through the SCVMM simulator, and its bulk drift read), `--soak` (herder_dev.soak).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from herder_dev import soak
from herder_dev.bench import herder_run, report, scale, scvmm, vcenter
from herder_dev.bench.herder_run import HerderRun, Options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m herder_dev.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=None,
                        help="ECSs to create (default 100 on vCenter, 200 on SCVMM)")
    parser.add_argument("--backend", choices=("vcenter", "scvmm"), default="vcenter")
    parser.add_argument("--runs", type=int, default=3,
                        help="vCenter: how many runs, each on a fresh stack; each is printed, then the worst")
    parser.add_argument("--scale", type=int, default=None, metavar="N",
                        help="N ECSs on vcsim with no clone latency: time to all Ready, memory, idle cost")
    parser.add_argument("--clone-ms", type=int, default=2000, help="vcsim latency of CloneVM_Task, both sides")
    parser.add_argument("--job-ms", type=int, default=2000, help="SCVMM: how long every VMM job runs, both sides")
    parser.add_argument("--bulk-vms", type=int, default=1000,
                        help="SCVMM: VMs in the simulator when the bulk drift read is timed")
    parser.add_argument("--idle-seconds", type=float, default=120.0,
                        help="how long to watch the idle operator, once the creates have settled")
    parser.add_argument("--settle-seconds", type=float, default=180.0,
                        help="the longest wait, after the last Ready, for herder's calls and writes to stop")
    parser.add_argument("--stall-seconds", type=float, default=300.0,
                        help="stop waiting for Ready when no ECS turned Ready for this long")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--breakdown", action="store_true",
                        help="also print backend calls and Kubernetes writes by operation")
    parser.add_argument("--dir", type=Path, default=None, help="keep the stacks' files and logs here")
    parser.add_argument("--profile", type=Path, default=None,
                        help="record the operator with py-spy while it creates (a speedscope file)")
    parser.add_argument("--memory-profile", type=Path, default=None, metavar="FILE",
                        help="run the operator traced (tracemalloc, asyncio loop lag); its last dump goes to FILE")
    parser.add_argument("--soak", action="store_true", help="churn with faults on both backends instead (soak.py)")
    parser.add_argument("--minutes", type=float, default=10.0, help="with --soak: how long the churn lasts")
    return parser


def _print_details(runs: list[HerderRun], breakdown: bool) -> None:
    for i, run in enumerate(runs, start=1):
        if breakdown:
            print(f"run {i} breakdown (herder's Kubernetes writes leave out the bench's own creates):")
            for name, counts in run.breakdown().items():
                print(f"  {name}: {counts}")
        if run.top_sites:
            print(f"run {i}: allocation sites holding most, all Ready and idle (tracemalloc, file:line):")
            for site in run.top_sites[:10]:
                print(f"  {site['bytes'] / 1024:>10,.0f} KiB {site['blocks']:>9,} blocks  {site['site']}")
            print(f"run {i}: allocation sites that grew most from just before the apply to all Ready and idle:")
            for site in run.top_growth[:10]:
                print(f"  {site['bytes'] / 1024:>10,.0f} KiB {site['bytes'] / run.count:>9,.0f} B/server  "
                      f"{site['site']}")


def _vcenter(args: argparse.Namespace, options: Options, directory: Path) -> None:
    count = args.count or 100
    figures, runs = [], []
    for i in range(args.runs):
        one, run = vcenter.run_once(count, args.clone_ms, options, directory / f"run-{i + 1}")
        figures.append(one)
        runs.append(run)
    if args.json:
        print(report.as_json("vcenter", figures, breakdown=[run.breakdown() for run in runs],
                             top_sites=runs[-1].top_sites, top_growth=runs[-1].top_growth))
        return
    print(report.table(vcenter.title(count, args.clone_ms),
                       [*vcenter.rows(count, bool(options.memory_profile)),
                        *herder_run.detail_rows(figures, "vCenter calls")], figures))
    _print_details(runs, args.breakdown)


def _scale(args: argparse.Namespace, options: Options, directory: Path) -> None:
    figures, run, vcsim = scale.run(args.scale, options, directory)
    if args.json:
        print(report.as_json("scale", [figures], breakdown=run.breakdown(), vcsim=vcsim, top_sites=run.top_sites,
                             top_growth=run.top_growth))
        return
    print(report.table(scale.title(args.scale), [*scale.rows(args.scale, bool(options.memory_profile)),
                                                 *herder_run.detail_rows([figures], "vCenter calls")], [figures]))
    print(scale.describe_vcsim(vcsim))
    _print_details([run], args.breakdown)


def _scvmm(args: argparse.Namespace, options: Options, directory: Path) -> None:
    count = args.count or 200
    figures, run, details = scvmm.run(count, args.job_ms, args.bulk_vms, options, directory)
    if args.json:
        print(report.as_json("scvmm", [figures], breakdown=run.breakdown(), simulator=details,
                             top_sites=run.top_sites, top_growth=run.top_growth))
        return
    print(report.table(scvmm.title(count, args.job_ms), [*scvmm.rows(count, bool(options.memory_profile)),
                                                         *herder_run.detail_rows([figures], "WinRM requests")],
                       [figures]))
    print(scvmm.describe(details))
    _print_details([run], args.breakdown)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.soak:
        return soak.main(["--minutes", str(args.minutes), *(["--dir", str(args.dir)] if args.dir else [])])
    if args.runs < 1 or (args.count is not None and args.count < 1) or (args.scale is not None and args.scale < 1):
        _parser().error("-n, --runs and --scale take a positive number")
    options = Options(idle_seconds=args.idle_seconds, settle_seconds=args.settle_seconds,
                      stall_seconds=args.stall_seconds,
                      memory_profile=args.memory_profile, py_spy=args.profile)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="herder-bench-"))
    try:
        if args.scale is not None:
            _scale(args, options, directory)
        elif args.backend == "scvmm":
            _scvmm(args, options, directory)
        else:
            _vcenter(args, options, directory)
    except BaseException:
        print(f"bench failed; its stacks' files and logs are in {directory}", file=sys.stderr)
        raise
    if args.dir is None:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
