"""Parse scripts with tree-sitter-powershell; a tree with any ERROR or MISSING node is a ParserError."""

from __future__ import annotations

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser, Tree

from herder_dev.scvmm_sim.ps.errors import ParseError, Position

_LANGUAGE = Language(tree_sitter_powershell.language())


def _first_error(node: Node) -> Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error:
            return _first_error(child)
    return None


def parse(source: bytes) -> Tree:
    # A Parser is cheap and not thread-safe, so each call gets its own.
    tree = Parser(_LANGUAGE).parse(source)
    if tree.root_node.has_error:
        bad = _first_error(tree.root_node) or tree.root_node
        token = (bad.text or b"").decode("utf-8", "replace").strip().splitlines()
        near = f" near '{token[0][:40]}'" if token else ""
        err = ParseError(f"Unexpected token or incomplete statement{near}.")
        err.position = Position.of(bad, source)
        raise err
    return tree
