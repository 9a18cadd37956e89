"""Evaluate tree-sitter-powershell syntax trees. Every node type that is not handled here is NotSupported."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tree_sitter import Node

from herder_dev.scvmm_sim.ps import clixml, members, ops
from herder_dev.scvmm_sim.ps.binding import (
    Cmdlet,
    Invocation,
    Named,
    Positional,
    RawArg,
    bind,
    bind_input,
    check_mandatory,
)
from herder_dev.scvmm_sim.ps.errors import (
    LoopControl,
    NotSupportedError,
    PSError,
    ReturnSignal,
    ScriptExit,
    runtime_error,
)
from herder_dev.scvmm_sim.ps.values import Hashtable, PSObject, ScriptBlock, collect, to_bool, to_str, unroll

# Expression wrapper nodes: with one child they are transparent, with more they hold a binary operator.
_BINARY = {
    "logical_expression", "bitwise_expression", "comparison_expression", "additive_expression",
    "multiplicative_expression", "format_expression", "range_expression",
    "logical_argument_expression", "bitwise_argument_expression", "comparison_argument_expression",
    "additive_argument_expression", "multiplicative_argument_expression", "format_argument_expression",
    "range_argument_expression",
}
_TRANSPARENT = {"unary_expression", "argument_expression", "pipeline_chain", "key_expression", "while_condition"}
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "0": "\0", "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "v": "\v"}
_LOOP_LIMIT = 100_000
_INT_SUFFIX = re.compile(r"^(.*?)(kb|mb|gb|tb|pb)?$", re.IGNORECASE)
_MULTIPLIERS = {"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}


def _named(node: Node) -> list[Node]:
    return [c for c in node.named_children if c.type != "comment"]


class Interpreter:
    """Runs statements against one runspace: variables, commands, and the error stream."""

    def __init__(self, commands: dict[str, Cmdlet], aliases: dict[str, str], variables: dict[str, Any],
                 on_command: Callable[[Cmdlet], None]) -> None:
        self.commands = commands
        self.aliases = aliases
        self.scopes: list[dict[str, Any]] = [variables]
        self.on_command = on_command
        # What the host has written so far: stdout text and CLIXML records for stderr.
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.source = b""
        self.in_try = 0
        self.strict = False
        self.statement_failed = False
        self.matches: dict[str, Any] = {}

    # ---- variables -------------------------------------------------------------------------------
    def lookup(self, name: str) -> Any:
        key = name.lower()
        if key == "matches":
            return Hashtable(self.matches)
        for scope in reversed(self.scopes):
            if key in scope:
                return scope[key]
        if self.strict:
            raise runtime_error(f"The variable '${name}' cannot be retrieved because it has not been set.",
                                "VariableIsUndefined", "InvalidOperation")
        return None

    def assign(self, name: str, value: Any) -> None:
        key = name.lower()
        if key in ("true", "false", "null"):
            if key == "null":
                return  # $null = ... discards
            raise runtime_error(f"Cannot overwrite variable {name} because it is read-only or constant.",
                                "VariableNotWritable", "WriteError")
        self.scopes[-1][key] = value

    def preference(self, name: str) -> str:
        return to_str(self.lookup(name)) or "Continue"

    # ---- statements ------------------------------------------------------------------------------
    def run_block(self, node: Node | None, out: list[Any]) -> None:
        """A statement_list, statement_block or script body."""
        if node is None:
            return
        if node.type in ("statement_block", "script_block", "script_block_body", "program"):
            for child in _named(node):
                self.run_block(child, out)
            return
        if node.type != "statement_list":
            self.statement(node, out)
            return
        for child in _named(node):
            self.statement(child, out)

    def statement(self, node: Node, out: list[Any]) -> None:
        self.statement_failed = False
        try:
            self._statement(node, out)
        except PSError as exc:
            exc.at(node, self.source)
            if not exc.catchable or self.in_try or exc.script_terminating or \
                    self.preference("ErrorActionPreference").lower() == "stop":
                raise
            self.report(exc)

    def report(self, exc: PSError) -> None:
        self.statement_failed = True
        self.stderr.extend(clixml.error_lines(exc.console_text()))

    def stream(self, kind: str, text: str) -> None:
        """Write to the warning/verbose/debug/information streams, subject to their preference variable."""
        if self.preference(f"{kind}Preference").lower() not in ("silentlycontinue", "ignore"):
            self.stderr.append(clixml.stream_line(kind.lower(), text))

    def _statement(self, node: Node, out: list[Any]) -> None:
        kind = node.type
        if kind == "empty_statement":
            return
        if kind == "pipeline":
            out.extend(self.pipeline(node))
        elif kind == "if_statement":
            self.if_statement(node, out)
        elif kind == "foreach_statement":
            self.foreach_statement(node, out)
        elif kind == "while_statement":
            self.while_statement(node, out)
        elif kind == "try_statement":
            self.try_statement(node, out)
        elif kind == "flow_control_statement":
            self.flow_control(node)
        elif kind in ("statement_list", "statement_block"):
            self.run_block(node, out)
        else:
            raise NotSupportedError(f"the statement '{kind}'").at(node, self.source)

    def if_statement(self, node: Node, out: list[Any]) -> None:
        clauses: list[tuple[Node | None, Node]] = []
        parts = _named(node)
        clauses.append((parts[0], parts[1]))
        for part in parts[2:]:
            if part.type == "elseif_clauses":
                for clause in _named(part):
                    elif_cond, elif_block = _named(clause)
                    clauses.append((elif_cond, elif_block))
            elif part.type == "else_clause":
                clauses.append((None, _named(part)[0]))
        for cond, block in clauses:
            if cond is None or to_bool(self.pipeline_value(cond)):
                self.run_block(block, out)
                return

    def _loop_body(self, body: Node, out: list[Any]) -> bool:
        """Run one iteration; False means break."""
        try:
            self.run_block(body, out)
        except LoopControl as ctl:
            return ctl.kind != "break"
        return True

    def foreach_statement(self, node: Node, out: list[Any]) -> None:
        parts = _named(node)
        variable, source, body = parts[0], parts[1], parts[-1]
        if len(parts) != 3:
            raise NotSupportedError("foreach with -parallel or other options")
        value = self.pipeline_value(source)
        for item in [] if value is None else unroll(value):
            self.assign(self.variable_name(variable), item)
            if not self._loop_body(body, out):
                break

    def while_statement(self, node: Node, out: list[Any]) -> None:
        cond, body = _named(node)
        for _ in range(_LOOP_LIMIT):
            if not to_bool(self.pipeline_value(cond)) or not self._loop_body(body, out):
                return
        raise NotSupportedError(f"a loop of more than {_LOOP_LIMIT} iterations")

    def try_statement(self, node: Node, out: list[Any]) -> None:
        parts = _named(node)
        body = parts[0]
        catches = [c for p in parts if p.type == "catch_clauses" for c in _named(p)]
        final = next((p for p in parts if p.type == "finally_clause"), None)
        try:
            self.in_try += 1
            try:
                self.run_block(body, out)
            finally:
                self.in_try -= 1
        except PSError as exc:
            if not exc.catchable:
                raise
            clause = next((c for c in catches if self._catches(c, exc)), None)
            if clause is None:
                raise
            saved = self.lookup("_")
            self.assign("_", exc.record())
            self.assign("PSItem", self.lookup("_"))
            self.scopes[-1]["__error__"] = exc
            try:
                self.run_block(_named(clause)[-1], out)
            finally:
                self.assign("_", saved)
        finally:
            if final is not None:
                self.run_block(_named(final)[0], out)

    def _catches(self, clause: Node, exc: PSError) -> bool:
        types = [t for t in _named(clause) if t.type == "catch_type_list"]
        if not types:
            return True
        names = {(t.text or b"").decode().strip("[]").lower() for t in _named(types[0])}
        short = exc.exception.rsplit(".", 1)[-1].lower()
        return bool(names & {"exception", "system.exception", short, exc.exception.lower()})

    def flow_control(self, node: Node) -> None:
        keyword = node.children[0].type.lower()
        arg = next(iter(_named(node)), None)
        value = self.pipeline_value(arg) if arg is not None else None
        if keyword == "throw":
            if arg is None:
                current = self.lookup("__error__")
                raise current if isinstance(current, PSError) else runtime_error("ScriptHalted")
            if isinstance(value, PSObject) and value.type_name.endswith("ErrorRecord"):
                value = value.props["Exception"].props["Message"]
            err = runtime_error(to_str(value))
            err.script_terminating = True
            raise err
        if keyword == "exit":
            raise ScriptExit(members.to_int(value) if value is not None else 0)
        if keyword == "return":
            raise ReturnSignal(value)
        if keyword in ("break", "continue") and arg is None:
            raise LoopControl(keyword)
        raise NotSupportedError(f"'{keyword}' with a label or argument")

    # ---- pipelines -------------------------------------------------------------------------------
    def pipeline(self, node: Node) -> list[Any]:
        """Run a pipeline; returns its output objects."""
        parts = _named(node)
        if node.type == "pipeline" and len(parts) == 1 and parts[0].type == "assignment_expression":
            self.assignment(parts[0])
            return []
        if node.type == "pipeline" and len(parts) == 1 and parts[0].type == "pipeline_chain":
            node, parts = parts[0], _named(parts[0])
        if any(c.type in ("&&", "||") for c in node.children):
            raise NotSupportedError("pipeline chain operators && and || (PowerShell 7 only)")
        if node.type not in ("pipeline", "pipeline_chain"):
            parts = [node]
        first, rest = parts[0], parts[1:]
        items = self.command(first, None) if first.type == "command" else unroll(self.expr(first))
        for cmd in rest:
            if cmd.type != "command":
                raise NotSupportedError(f"'{cmd.type}' after a pipe")
            items = self.command(cmd, items)
        return items

    def pipeline_value(self, node: Node) -> Any:
        """A pipeline used as a value: a lone expression keeps its value, commands collect their output."""
        parts = _named(node)
        while node.type in ("pipeline", "pipeline_chain") and len(parts) == 1 and parts[0].type != "command":
            if parts[0].type == "assignment_expression":
                return self.assignment(parts[0])
            node, parts = parts[0], _named(parts[0])
        if node.type in ("pipeline", "pipeline_chain", "command"):
            return collect(self.pipeline(node))
        if node.type.endswith("_statement"):
            out: list[Any] = []
            self.statement(node, out)
            return collect(out)
        return self.expr(node)

    def assignment(self, node: Node) -> Any:
        left, op, right = _named(node)
        value = self.pipeline_value(right)
        target = _unwrap(_named(left)[0])
        operator = (op.text or b"=").decode()
        if operator != "=":
            current = self.expr(target)
            value = ops.arithmetic(operator[0], current, value)
        if target.type == "variable":
            self.assign(self.variable_name(target), value)
        elif target.type == "member_access":
            obj_node, name_node = _named(target)[0], _named(target)[-1]
            members.set_member(self.expr(obj_node), self.member_name(name_node), value)
        elif target.type == "element_access":
            obj_node, index_node = _named(target)
            obj, index = self.expr(obj_node), self.expr(index_node)
            if isinstance(obj, Hashtable):
                obj[to_str(index)] = value
            elif isinstance(obj, list):
                obj[members.to_int(index)] = value
            else:
                raise NotSupportedError(f"index assignment on {type(obj).__name__}")
        else:
            raise NotSupportedError(f"assignment to '{target.type}'")
        return value

    # ---- commands --------------------------------------------------------------------------------
    def command(self, node: Node, piped: list[Any] | None) -> list[Any]:
        parts = _named(node)
        if parts[0].type == "command_invokation_operator":
            return self.invoke_operator(parts, piped)
        name = (parts[0].text or b"").decode()
        elements = parts[1] if len(parts) > 1 else None
        raw = self.command_args(elements) if elements is not None else []
        cmd = self.resolve(name)
        return self.invoke(cmd, raw, piped)

    def invoke_operator(self, parts: list[Node], piped: list[Any] | None) -> list[Any]:
        operator = (parts[0].text or b"").decode()
        target = _named(parts[1])[0] if parts[1].type == "command_name_expr" else parts[1]
        if operator != "&" or target.type != "script_block_expression" or len(parts) > 2 or piped:
            raise NotSupportedError("invoking anything but '& { script block }'")
        block = self.expr(target)
        self.scopes.append({})
        try:
            return self.run_script_block(block)
        finally:
            self.scopes.pop()

    def resolve(self, name: str) -> Cmdlet:
        key = self.aliases.get(name.lower(), name).lower()
        cmd = self.commands.get(key)
        if cmd is None:
            raise PSError(
                f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or "
                "operable program. Check the spelling of the name, or if a path was included, verify that the "
                "path is correct and try again.",
                error_id="CommandNotFoundException", category="ObjectNotFound",
                exception="System.Management.Automation.CommandNotFoundException", target=name, command=name,
            )
        return cmd

    def command_args(self, elements: Node) -> list[RawArg]:
        raw: list[RawArg] = []
        pending_colon: Named | None = None
        for element in elements.named_children:
            child = _unwrap(element)
            kind = child.type
            if kind == "comment":
                continue
            if kind == "command_argument_sep":
                if (child.text or b"").strip() == b":" and raw and isinstance(raw[-1], Named):
                    pending_colon = raw[-1]
                continue
            if kind == "command_parameter":  # read from the source: the parser saw its digits masked
                text = self.source[child.start_byte:child.end_byte].decode()
                raw.append(Named(text.lstrip("-").rstrip(":"), None, False))
                continue
            if kind == "redirection" or kind.endswith("redirection"):
                raise NotSupportedError("redirections")
            if kind == "variable" and (child.text or b"").startswith(b"@"):
                raw.extend(self.splat((child.text or b"")[1:].decode()))
                continue
            if kind == "argument_list":  # New-Object T('a', $b): the parenthesized list is one array argument
                items = _named(child)
                raw.append(Positional([self.expr(e) for e in _named(items[0])] if items else []))
                continue
            if kind == "generic_token":
                text = (child.text or b"").decode()
                if "$" in text or "`" in text:
                    raise NotSupportedError(f"the bare-word argument {text}")
                value: Any = text
            else:
                value = self.expr(child)
            if pending_colon is not None:
                pending_colon.value, pending_colon.has_value = value, True
                pending_colon = None
            else:
                raw.append(Positional(value))
        return raw

    def splat(self, name: str) -> list[RawArg]:
        value = self.lookup(name)
        if isinstance(value, Hashtable):
            return [Named(k, v, True) for k, v in value.items()]
        if isinstance(value, list):
            return [Positional(v) for v in value]
        raise NotSupportedError(f"splatting ${name} of type {type(value).__name__}")

    def invoke(self, cmd: Cmdlet, raw: list[RawArg], piped: list[Any] | None) -> list[Any]:
        bound = bind(cmd, raw)
        self.on_command(cmd)
        action = to_str(bound.get("ErrorAction")) or self.preference("ErrorActionPreference")
        per_item = not cmd.whole_input and piped is not None
        calls = [bind_input(cmd, bound, item) for item in piped or []] if per_item else [bound]
        out: list[Any] = []
        for args in calls:
            check_mandatory(cmd, args)
            try:
                out.extend(cmd.handler(Invocation(self, cmd.name, args, piped or [])))
            except PSError as exc:
                if exc.error_id.startswith(("CommandNotFoundException", "ParserError")) or not exc.catchable:
                    raise
                exc.command = exc.command or cmd.name
                if exc.non_terminating:
                    self._cmdlet_error(exc, action)
                else:
                    raise
        return out

    def _cmdlet_error(self, exc: PSError, action: str) -> None:
        """A non-terminating error from a cmdlet: -ErrorAction decides what happens to it."""
        action = action.lower()
        if action in ("silentlycontinue", "ignore"):
            return
        if action == "stop":
            exc.non_terminating = False
            exc.script_terminating = True
            raise exc
        self.report(exc)

    def run_script_block(self, block: ScriptBlock, dollar_under: Any = None, bind_under: bool = False) -> list[Any]:
        """Run a script block in the current scope (as ForEach-Object and Where-Object do)."""
        saved_source, saved_under = self.source, self.lookup("_")
        self.source = block.source
        if bind_under:
            self.assign("_", dollar_under)
            self.assign("PSItem", dollar_under)
        out: list[Any] = []
        try:
            body = block.node.child_by_field_name("body") or next(
                (c for c in _named(block.node) if c.type == "script_block"), None)
            if body is not None and any(c.type == "param_block" for c in _named(body)):
                raise NotSupportedError("param() blocks")
            self.run_block(body, out)
        except ReturnSignal as ret:
            out.extend(unroll(ret.value) if ret.value is not None else [])
        finally:
            self.source = saved_source
            if bind_under:
                self.assign("_", saved_under)
        return out

    # ---- expressions -----------------------------------------------------------------------------
    def variable_name(self, node: Node) -> str:
        text = (node.text or b"").decode()
        if text.startswith("${"):
            return text[2:-1]
        name = text.lstrip("$@")
        scope, _, rest = name.partition(":")
        if rest:
            if scope.lower() in ("script", "global", "local"):
                return rest
            if scope.lower() == "env":
                return "env:" + rest
            raise NotSupportedError(f"the variable scope '{scope}:'")
        return name

    def member_name(self, node: Node) -> str:
        inner = _named(node)
        if node.type == "member_name" and inner and inner[0].type != "simple_name":
            return to_str(self.expr(inner[0]))
        return (node.text or b"").decode()

    def expr(self, node: Node) -> Any:
        kind = node.type
        parts = _named(node)
        if kind in _TRANSPARENT or kind in _BINARY:
            if len(node.children) == 1:
                return self.expr(parts[0])
            if kind in _TRANSPARENT:
                raise NotSupportedError(f"'{kind}' with several parts")
            return self.binary(node)
        if kind == "variable":
            name = self.variable_name(node)
            if name.lower().startswith("env:"):
                raise NotSupportedError("environment variables")
            return self.lookup(name)
        if kind == "integer_literal":
            return self.integer(node)
        if kind == "real_literal":
            return float((node.text or b"0").decode().rstrip("dD"))
        if kind == "string_literal":
            return self.string(parts[0])
        if kind == "array_literal_expression":  # a,b,c; without a comma it is just its element
            return [self.expr(p) for p in parts] if len(node.children) > 1 else self.expr(parts[0])
        if kind == "expression_with_unary_operator":
            return self.unary(node)
        if kind == "cast_expression":
            return members.cast(self.type_literal(parts[0]), self.expr(parts[1]))
        if kind == "type_literal":
            return self.type_literal(node)
        if kind == "parenthesized_expression":
            return self.pipeline_value(parts[0]) if parts else None
        if kind == "sub_expression":
            out: list[Any] = []
            self.run_block(parts[0] if parts else None, out)
            return collect(out)
        if kind == "array_expression":
            items: list[Any] = []
            self.run_block(parts[0] if parts else None, items)
            return items
        if kind == "hash_literal_expression":
            return self.hashtable(parts[0] if parts else None)
        if kind == "script_block_expression":
            return ScriptBlock(node, self.source)
        if kind == "member_access":
            return self.member_access(node)
        if kind == "invokation_expression":
            return self.invocation(node)
        if kind == "element_access":
            return self.element_access(node)
        if kind in ("pipeline", "command"):
            return self.pipeline_value(node)
        raise NotSupportedError(f"the expression '{kind}'")

    def integer(self, node: Node) -> int:
        text = (node.text or b"0").decode()
        m = _INT_SUFFIX.match(text)
        digits, suffix = (m.group(1), m.group(2)) if m else (text, None)
        digits = digits.rstrip("lL")
        value = int(digits, 16) if digits.lower().startswith("0x") else int(digits)
        return value * _MULTIPLIERS[suffix.lower()] if suffix else value

    def type_literal(self, node: Node) -> Any:
        return members.type_ref((node.text or b"").decode().strip("[] "))

    def string(self, node: Node) -> str:
        text = (node.text or b"").decode()
        kind = node.type
        if kind == "verbatim_string_characters":
            return text[1:-1].replace("''", "'")
        if kind == "verbatim_here_string_characters":
            return _here_body(text)
        if kind not in ("expandable_string_literal", "expandable_here_string_literal"):
            raise NotSupportedError(f"the string form '{kind}'")
        here = kind == "expandable_here_string_literal"
        raw = node.text or b""
        quote = 2 if here else 1  # the delimiters: @" "@ or " "
        pieces: list[str] = []
        pos = quote
        for child in _named(node):
            start, end = child.start_byte - node.start_byte, child.end_byte - node.start_byte
            pieces.append(self._literal(raw[pos:start].decode(), here))
            pieces.append(to_str(self.expr(child)))
            pos = end
        pieces.append(self._literal(raw[pos:len(raw) - quote].decode(), here))
        joined = "".join(pieces)
        return _here_body("@\"" + joined + "\"@") if here else joined

    @staticmethod
    def _literal(text: str, here: bool) -> str:
        return _unescape(text if here else text.replace('""', '"'))

    def hashtable(self, body: Node | None) -> Hashtable:
        table = Hashtable()
        for entry in _named(body) if body is not None else []:
            key_node, value_node = _named(entry)[0], _named(entry)[-1]
            inner = _named(key_node)[0] if key_node.type == "key_expression" else key_node
            key = (inner.text or b"").decode() if inner.type == "simple_name" else to_str(self.expr(inner))
            if key in table:
                raise PSError(f"Duplicate keys '{key}' are not allowed in hash literals.",
                              error_id="DuplicateKeyInHashLiteral", category="ParserError")
            table[key] = self.pipeline_value(value_node)
        return table

    def unary(self, node: Node) -> Any:
        parts = _named(node)
        if len(node.children) == 1:
            return self.expr(parts[0])
        op = (node.children[0].text or b"").decode().lower()
        operand = self.expr(node.children[-1])
        if op in ("-not", "!"):
            return not to_bool(operand)
        if op == "-":
            return ops.arithmetic("-", 0, operand)
        if op == "+":
            return ops.arithmetic("+", 0, operand)
        if op == ",":
            return [operand]
        if op == "-join":
            return "".join(to_str(x) for x in unroll(operand))
        raise NotSupportedError(f"the unary operator {op}")

    def binary(self, node: Node) -> Any:
        left_node, op_node, right_node = node.children[0], node.children[1], node.children[2]
        op = (op_node.text or b"").decode().strip()
        left = self.expr(left_node)
        lop = op.lower()
        if lop in ("-and", "-or", "-xor"):
            return ops.logical(lop, to_bool(left), lambda: self.expr(right_node))
        right = self.expr(right_node)
        if op in ("+", "-", "*", "/", "%"):
            return ops.arithmetic(op, left, right)
        if op == "..":
            a, b = members.to_int(left), members.to_int(right)
            return list(range(a, b + 1) if a <= b else range(a, b - 1, -1))
        if lop == "-f":
            return ops.format_string(to_str(left), unroll(right))
        if lop.startswith("-") and lop not in ("-band", "-bor", "-bxor", "-shl", "-shr"):
            return ops.compare(lop, left, right, self.matches)
        raise NotSupportedError(f"the operator {op}")

    def member_access(self, node: Node) -> Any:
        parts = _named(node)
        target_node, name_node = parts[0], parts[-1]
        name = self.member_name(name_node)
        if any(c.type == "::" for c in node.children):
            return members.static_property(self.type_literal(target_node), name)
        if any(c.type == "?." for c in node.children):
            raise NotSupportedError("the ?. operator")
        return members.get_member(self.expr(target_node), name, self.strict)

    def invocation(self, node: Node) -> Any:
        parts = _named(node)
        target_node, name_node, arg_node = parts[0], parts[1], parts[2]
        name = self.member_name(name_node)
        args = [self.expr(a) for a in _named(_named(arg_node)[0])] if _named(arg_node) else []
        if any(c.type == "::" for c in node.children):
            return members.call_static(self.type_literal(target_node), name, args)
        target = self.expr(target_node)
        if isinstance(target, ScriptBlock) and name.lower() == "invoke":
            return collect(self.run_script_block(target))
        return members.call_method(target, name, args)

    def element_access(self, node: Node) -> Any:
        target_node, index_node = _named(node)
        target, index = self.expr(target_node), self.expr(index_node)
        if isinstance(target, Hashtable):
            return target.get(to_str(index))
        if isinstance(target, list | str):
            if isinstance(index, list):
                return [target[members.to_int(i)] for i in index if -len(target) <= members.to_int(i) < len(target)]
            i = members.to_int(index)
            return target[i] if -len(target) <= i < len(target) else None
        if target is None:
            raise runtime_error("Cannot index into a null array.", "NullArray", "InvalidOperation")
        raise NotSupportedError(f"indexing into {type(target).__name__}")


def _unwrap(node: Node) -> Node:
    """Skip the single-child expression wrappers the grammar nests around every primary expression."""
    while (node.type in _BINARY or node.type in _TRANSPARENT or node.type == "array_literal_expression") \
            and len(node.children) == 1:
        node = node.children[0]
    return node


def _unescape(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "`" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _here_body(text: str) -> str:
    """The content of @'...'@ / @"..."@: between the opening line break and the closing one."""
    body = text[2:-2]
    body = body[body.index("\n") + 1:] if "\n" in body else body
    return body[: body.rindex("\n")].rstrip("\r") if "\n" in body else ""
