"""The `herder` command: run the operator, and (with the dev extra) drive the local test world."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="herder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the operator against the current kubeconfig")
    scope = run.add_mutually_exclusive_group()
    scope.add_argument("-n", "--namespace", action="append", dest="namespaces",
                       help="watch only this namespace (repeatable); default: the whole cluster")
    run.add_argument("--log-format", choices=("text", "json"), default="text")
    run.add_argument("--verbose", action="store_true", help="debug logging")
    run.add_argument("--liveness", default=None, metavar="URL",
                     help="serve Kopf's liveness probe, e.g. http://0.0.0.0:8080/healthz")
    run.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port")
    run.add_argument("--peering", default=None, metavar="NAME",
                     help="opt into Kopf peering (HA) under this name; default: standalone")

    dev = commands.add_parser("dev", help="the local test world: etcd, kube-apiserver, vcsim, SCVMM simulator")
    dev.add_argument("action", choices=("up", "down"))
    dev.add_argument("--dir", required=True, type=Path, help="where state, logs, kubeconfig and env go")
    dev.add_argument("--node", action="store_true", help="also a node that runs pods (kubelet, containerd)")
    dev.add_argument("--base-port", type=int, default=None,
                     help="use consecutive ports from here instead of free ones")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        from herder.runner import RunOptions, run

        run(RunOptions(
            namespaces=tuple(args.namespaces or ()),
            log_format=args.log_format,
            verbose=args.verbose,
            liveness_endpoint=args.liveness,
            metrics_port=args.metrics_port,
            peering_name=args.peering,
        ))
        return 0
    try:
        from herder_dev.cli import run_dev
    except ImportError:
        print("herder dev: the test world is not installed; install herder with the 'dev' extra",
              file=sys.stderr)
        return 2
    return int(run_dev(args.action, args.dir, args.base_port, with_node=args.node))


if __name__ == "__main__":
    sys.exit(main())
