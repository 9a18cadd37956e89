"""Arrays in command arguments, as PowerShell's argument mode reads them: `Select-Object Name,Status`.

In argument mode a comma joins the arguments beside it into one array, whitespace around the comma does not
matter, a line break may follow it, and a bare word is a string. The tree-sitter grammar gets this wrong: a bare
word beside a comma is a syntax error (`Name, Status`), `'a' , 'b'` becomes two arguments, and `,'a'` one bare
word. So before the real parse, each comma-joined run of arguments becomes an explicit array expression:
`Name, Status` is parsed as `@('Name', 'Status')`, which has the same value. Only runs with a comma change, and
what stays wrong stays wrong: `Name,` becomes `@('Name',)`, still a syntax error, as in PowerShell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACE = b" \t"
_BREAK = b"\r\n"
_END = b";|"  # with a line break, the end of a command's arguments (outside brackets)
_PAIRS = {b"(": b")", b"{": b"}", b"[": b"]"}
_WORD_STOP = _SPACE + _BREAK + _END + b",(){}[]'\"`"
_NUMBER = re.compile(rb"-?(0x[0-9a-f]+|\d+(\.\d+)?(e[+-]?\d+)?)[ld]?(kb|mb|gb|tb|pb)?", re.IGNORECASE)
_PARAMETER = re.compile(rb"-[a-z_?]", re.IGNORECASE)


@dataclass(frozen=True)
class _Token:
    kind: str  # "comma", "param" (a -Name), "word" (bare), "value" (number, $variable, string, (...), {...})
    start: int
    end: int


def explicit_arrays(source: bytes, argument_starts: list[int]) -> bytes:
    """`source` with every comma-joined run of command arguments written as @(...), bare words quoted.

    argument_starts: the offsets where commands' arguments begin (the end of each command name)."""
    edits: list[tuple[int, int, bytes]] = []  # (offset, order at that offset, text to insert)
    for start in argument_starts:
        for run in _runs(_elements(_scan(source, start))):
            edits += [(run[0][0].start, 2, b"@("), (run[-1][-1].end, 1, b")")]
            for element in run:
                if len(element) == 1 and element[0].kind == "word":
                    edits += [(element[0].start, 3, b"'"), (element[0].end, 0, b"'")]
    out, pos = [], 0
    for offset, _, text in sorted(edits):  # at one offset: close quote, close array, open array, open quote
        out += [source[pos:offset], text]
        pos = offset
    return b"".join([*out, source[pos:]])


def _runs(items: list[list[_Token]]) -> list[list[list[_Token]]]:
    """The comma-joined runs: items from a first comma or element to the last one, with at least one comma.

    A comma is an item of its own ([comma token]); two elements in a row, or a -Parameter, end a run."""
    runs: list[list[list[_Token]]] = []
    current: list[list[_Token]] = []
    for item in [*items, []]:
        kind = item[0].kind if item else "end"
        joins = current and (kind == "comma" or current[-1][0].kind == "comma") and kind not in ("param", "end")
        if joins:
            current.append(item)
            continue
        if any(i[0].kind == "comma" for i in current):
            runs.append(current)
        current = [item] if kind not in ("param", "end") else []
    return runs


def _elements(tokens: list[_Token]) -> list[list[_Token]]:
    """Tokens grouped into arguments: adjacent tokens ($x[0], (Get-X).Name) make one element."""
    items: list[list[_Token]] = []
    for tok in tokens:
        glued = items and tok.kind not in ("comma", "param") and items[-1][-1].kind not in ("comma", "param") \
            and items[-1][-1].end == tok.start
        if glued:
            items[-1].append(tok)
        else:
            items.append([tok])
    return items


def _scan(src: bytes, i: int) -> list[_Token]:
    """The tokens of one command's arguments; brackets and strings are single tokens."""
    tokens: list[_Token] = []
    n = len(src)
    while i < n:
        c = src[i:i + 1]
        after_comma = bool(tokens) and tokens[-1].kind == "comma"
        if c in _SPACE or (c in _BREAK and after_comma):
            i += 1  # a line break may follow a comma
        elif c == b"`" and src[i + 1:i + 2] in (b"\r", b"\n"):
            i += 3 if src[i + 1:i + 3] == b"\r\n" else 2  # a line continuation
        elif c == b"#" and (i == 0 or src[i - 1:i] in _SPACE + _BREAK):
            while i < n and src[i:i + 1] not in _BREAK:
                i += 1  # a comment runs up to the line break that ends the arguments
        elif c in _BREAK + _END or c in (b")", b"}", b"]"):
            break  # the end of the statement, or the bracket that encloses this command
        elif c == b",":
            tokens.append(_Token("comma", i, i + 1))
            i += 1
        elif c in (b"'", b'"'):
            tokens.append(_Token("value", i, _string_end(src, i)))
            i = tokens[-1].end
        elif c in _PAIRS or (c in b"@$" and src[i + 1:i + 2] in (b"(", b"{")):
            opening = i if c in _PAIRS else i + 1
            tokens.append(_Token("value", i, _group_end(src, opening)))
            i = tokens[-1].end
        else:
            i = _word(src, i, tokens)
    return tokens


def _word(src: bytes, i: int, tokens: list[_Token]) -> int:
    """Append the bare word, number, $variable or -Parameter at i; returns the offset after it."""
    j = i + 1
    while j < len(src) and src[j:j + 1] not in _WORD_STOP:
        j += 1
    text = src[i:j]
    if _PARAMETER.match(text) and not _NUMBER.fullmatch(text):
        colon = text.find(b":")
        end = i + colon + 1 if colon > 0 else j  # -Name:value: the value is an argument of its own
        tokens.append(_Token("param", i, end))
        return end
    bare = not (text.startswith((b"$", b"@")) or _NUMBER.fullmatch(text) or b"$" in text or b"`" in text)
    tokens.append(_Token("word" if bare else "value", i, j))
    return j


def _group_end(src: bytes, i: int) -> int:
    """The offset after the bracket that closes the one at i, skipping strings and nested brackets."""
    closers = [_PAIRS[src[i:i + 1]]]
    j = i + 1
    while j < len(src) and closers:
        c = src[j:j + 1]
        if c in (b"'", b'"'):
            j = _string_end(src, j)
            continue
        if c in _PAIRS:
            closers.append(_PAIRS[c])
        elif c == closers[-1]:
            closers.pop()
        j += 1
    return j


def _string_end(src: bytes, i: int) -> int:
    """The offset after the string literal that starts at i ('' and "" double a quote; ` escapes in "...")."""
    quote, j, n = src[i:i + 1], i + 1, len(src)
    while j < n:
        c = src[j:j + 1]
        if c == b"`" and quote == b'"':
            j += 2
            continue
        if c == quote:
            if src[j + 1:j + 2] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n
