"""The `herder` command: run the operator, plan what a change of manifests would do, and (with the dev extra)
drive the local test world."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn


class _Parser(argparse.ArgumentParser):
    """Usage errors exit 1, not argparse's 2: `herder plan` exits 2 for "changes" (as terraform plan does)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="herder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

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

    plan = commands.add_parser(
        "plan", help="show what applying manifests would make herder do, without changing anything",
        description="Compare herder objects in FILE|DIR|- with the cluster and the backends, and print the steps "
                    "herder would take. Exit status: 0 no changes, 2 changes, 1 errors.")
    plan.add_argument("-f", "--filename", action="append", dest="files", required=True, metavar="FILE|DIR|-",
                      help="manifests to plan (repeatable); - reads stdin (helm template, kustomize build)")
    plan.add_argument("-R", "--recursive", action="store_true", help="read directories recursively")
    plan.add_argument("--kubeconfig", default=None, help="path to the kubeconfig file")
    plan.add_argument("--context", default=None, help="the kubeconfig context to use")
    plan.add_argument("-n", "--namespace", default=None, help="namespace for objects that name none")
    plan.add_argument("--as", dest="as_user", default=None, metavar="USER", help="impersonate this user")
    plan.add_argument("--as-group", default=None, metavar="GROUP", help="impersonate this group")
    plan.add_argument("--prune", action="store_true",
                      help="also plan deleting live objects that match -l and are not in the input")
    plan.add_argument("-l", "--selector", default=None, help="label selector of the objects --prune considers")
    plan.add_argument("-o", "--output", choices=("text", "json"), default="text")
    plan.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                      help="colour the text output (auto: on a terminal, unless NO_COLOR is set)")

    dev = commands.add_parser("dev", help="the local test world: etcd, kube-apiserver, vcsim, SCVMM simulator")
    dev.add_argument("action", choices=("up", "down"))
    dev.add_argument("--dir", required=True, type=Path, help="where state, logs, kubeconfig and env go")
    dev.add_argument("--node", action="store_true", help="also a node that runs pods (kubelet, containerd)")
    dev.add_argument("--base-port", type=int, default=None,
                     help="use consecutive ports from here instead of free ones")
    return parser


def _plan(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import json
    import os

    from herder.plan.cluster import Access
    from herder.plan.command import Options, plan
    from herder.plan.model import to_json
    from herder.plan.render import render

    if args.prune and not args.selector:
        parser.error("--prune needs -l/--selector: the label that marks what the input manages")
    result = plan(Options(files=tuple(args.files), recursive=args.recursive, namespace=args.namespace,
                          prune=args.prune, selector=args.selector,
                          access=Access(args.kubeconfig, args.context, args.as_user, args.as_group)))
    if args.output == "json":
        print(json.dumps(to_json(result), indent=2))
    else:
        colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                            and not os.environ.get("NO_COLOR"))
        sys.stdout.write(render(result, colour=colour))
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
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
    if args.command == "plan":
        return _plan(args, parser)
    try:
        from herder_dev.cli import run_dev
    except ImportError:
        print("herder dev: the test world is not installed; install herder with the 'dev' extra",
              file=sys.stderr)
        return 2
    return int(run_dev(args.action, args.dir, args.base_port, with_node=args.node))


if __name__ == "__main__":
    sys.exit(main())
