"""Parse scripts with tree-sitter-powershell; a tree with any ERROR or MISSING node is a ParserError."""

from __future__ import annotations

import re
from dataclasses import dataclass

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser, Tree

from herder_dev.scvmm_sim.ps.barewords import explicit_arrays
from herder_dev.scvmm_sim.ps.errors import ParseError, Position

_LANGUAGE = Language(tree_sitter_powershell.language())


@dataclass(frozen=True)
class Parsed:
    tree: Tree
    source: bytes  # what the tree's offsets index: the script with its argument arrays made explicit


def _first_error(node: Node) -> Node | None:
    if node.type == "ERROR" or node.is_missing:
        return node
    for child in node.children:
        if child.has_error:
            return _first_error(child)
    return None


# The grammar splits a parameter name at its first digit (-IPv4AddressType), which PowerShell does not. Such names
# are parsed with their digits masked; the interpreter reads parameter names from the unmasked source, and the
# masking keeps every byte offset.
_SKIP = re.compile(rb"""@'.*?\n'@|@".*?\n"@|'(?:[^']|'')*'|"(?:[^"`]|`.|"")*"|<#.*?#>|#[^\n]*""", re.DOTALL)
_DIGIT_PARAMETER = re.compile(rb"(?<=[\s(])-[A-Za-z_][A-Za-z_]*[0-9][A-Za-z0-9_]*")


def _mask_parameter_digits(source: bytes) -> bytes:
    def mask(code: bytes) -> bytes:
        return _DIGIT_PARAMETER.sub(lambda m: re.sub(rb"[0-9]", b"D", m.group(0)), code)

    out, pos = [], 0
    for literal in _SKIP.finditer(source):
        out += [mask(source[pos:literal.start()]), literal.group(0)]
        pos = literal.end()
    return b"".join([*out, mask(source[pos:])])


def _command_names(node: Node) -> list[Node]:
    found = [node] if node.type == "command_name" else []
    for child in node.children:
        found.extend(_command_names(child))
    return found


def _tree(source: bytes) -> Tree:
    # A Parser is cheap and not thread-safe, so each call gets its own.
    return Parser(_LANGUAGE).parse(_mask_parameter_digits(source))


def parse(source: bytes) -> Parsed:
    tree = _tree(source)
    explicit = explicit_arrays(source, [n.end_byte for n in _command_names(tree.root_node)])
    if explicit != source:
        rewritten = _tree(explicit)
        if not (rewritten.root_node.has_error and tree.root_node.has_error):  # else report the script's error
            source, tree = explicit, rewritten
    if not tree.root_node.has_error:
        return Parsed(tree, source)
    bad = _first_error(tree.root_node) or tree.root_node
    token = (bad.text or b"").decode("utf-8", "replace").strip().splitlines()
    near = f" near '{token[0][:40]}'" if token else ""
    err = ParseError(f"Unexpected token or incomplete statement{near}.")
    err.position = Position.of(bad, source)
    raise err
