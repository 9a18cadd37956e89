"""Parse scripts with tree-sitter-powershell; a tree with any ERROR or MISSING node is a ParserError."""

from __future__ import annotations

import re

import tree_sitter_powershell
from tree_sitter import Language, Node, Parser, Tree

from herder_dev.scvmm_sim.ps.errors import ParseError, Position

_LANGUAGE = Language(tree_sitter_powershell.language())


def _list_follows(node: Node) -> bool:
    """The separator the grammar misses before `,word`: the bare-word list `Name,Status`, which PowerShell reads
    as one array argument (the interpreter joins the words)."""
    sep = node.parent
    after = sep.next_sibling if sep is not None else None
    return (sep is not None and sep.type == "command_argument_sep" and after is not None
            and after.type == "generic_token" and (after.text or b"").startswith(b","))


def _first_error(node: Node) -> Node | None:
    if node.type == "ERROR" or (node.is_missing and not _list_follows(node)):
        return node
    for child in node.children:
        if child.has_error:
            found = _first_error(child)
            if found is not None:
                return found
    return None


# The grammar splits a parameter name at its first digit (-IPv4AddressType), which PowerShell does not. Such names
# are parsed with their digits masked; the interpreter reads parameter names from the unmasked source, and the
# masking keeps every byte offset.
_SKIP = re.compile(rb"""@'.*?\n'@|@".*?\n"@|'(?:[^']|'')*'|"(?:[^"`]|`.|"")*"|<#.*?#>|#[^\n]*""", re.DOTALL)
_DIGIT_PARAMETER = re.compile(rb"(?<=[\s(])-[A-Za-z_][A-Za-z_]*[0-9][A-Za-z0-9_]*")


# The grammar also rejects a bare-word list with spaces after its commas (`Select-Object Name, Status`), which
# PowerShell reads as one array. Each such comma moves behind the spaces that follow it (`Name ,Status`: same
# length), which the grammar reads as words of which the later ones start with `,`.
_BAREWORD_COMMA = re.compile(rb"(?<=[\s,:])([A-Za-z_][-\w.]*)([ \t]*),([ \t]+)(?=[A-Za-z_])")


def _mask_parameter_digits(source: bytes) -> bytes:
    def mask(code: bytes) -> bytes:
        code = _BAREWORD_COMMA.sub(lambda m: m.group(1) + m.group(2) + m.group(3) + b",", code)
        return _DIGIT_PARAMETER.sub(lambda m: re.sub(rb"[0-9]", b"D", m.group(0)), code)

    out, pos = [], 0
    for literal in _SKIP.finditer(source):
        out += [mask(source[pos:literal.start()]), literal.group(0)]
        pos = literal.end()
    return b"".join([*out, mask(source[pos:])])


def parse(source: bytes) -> Tree:
    # A Parser is cheap and not thread-safe, so each call gets its own.
    tree = Parser(_LANGUAGE).parse(_mask_parameter_digits(source))
    bad = _first_error(tree.root_node) if tree.root_node.has_error else None
    if bad is not None:
        token = (bad.text or b"").decode("utf-8", "replace").strip().splitlines()
        near = f" near '{token[0][:40]}'" if token else ""
        err = ParseError(f"Unexpected token or incomplete statement{near}.")
        err.position = Position.of(bad, source)
        raise err
    return tree
