"""`herder dev up|down [--node]`: the local test world from the command line."""

from __future__ import annotations

import sys
from pathlib import Path

from herder_dev.processes import StackError
from herder_dev.stack import Stack
from herder_dev.tools import MissingToolError


def run_dev(action: str, directory: Path, base_port: int | None, *, with_node: bool = False) -> int:
    stack = Stack(directory, base_port=base_port, with_node=with_node)
    try:
        if action == "up":
            state = stack.up()
            print(f"kubeconfig: {state.kubeconfig}\nenv:        source {state.env_file}")
        else:
            stack.down()
    except (StackError, MissingToolError) as exc:
        print(f"herder dev {action}: {exc}", file=sys.stderr)
        return 1
    return 0
