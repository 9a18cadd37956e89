"""Remote shells and the powershell.exe processes they run: output buffering, stdin scripts, long polls."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from herder_dev.scvmm_sim.ps.errors import ParseError
from herder_dev.scvmm_sim.ps.parser import parse
from herder_dev.scvmm_sim.ps.runspace import RunResult, Runspace
from herder_dev.scvmm_sim.wsman import WsmanFault, timed_out, unknown_shell

CMD_LINE_LIMIT = 8191  # cmd.exe's limit; with WINRS_SKIP_CMD_SHELL the process limit applies instead
PROCESS_LINE_LIMIT = 32767
_CHUNK = 65536

RunspaceFactory = Callable[[], Runspace]


@dataclass
class Process:
    """One command in a shell: powershell.exe running an encoded script, or reading scripts from stdin."""

    id: str
    encoding: str
    output: list[tuple[str, bytes]] = field(default_factory=list)
    done: bool = False
    exit_code: int = 0
    stdin: bytes = b""
    stdin_closed: bool = False
    cond: threading.Condition = field(default_factory=threading.Condition)

    def emit(self, result: RunResult) -> None:
        with self.cond:
            if result.stdout:
                self.output.append(("stdout", result.stdout.encode(self.encoding, "replace")))
            if result.stderr:
                self.output.append(("stderr", result.stderr.encode(self.encoding, "replace")))
            self.cond.notify_all()

    def finish(self, exit_code: int) -> None:
        with self.cond:
            self.done, self.exit_code = True, exit_code
            self.cond.notify_all()

    def take(self, timeout: float) -> tuple[list[tuple[str, str]], bool, int]:
        """Wait up to timeout for output or completion; raise the WinRM timeout fault otherwise."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.output and not self.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise timed_out()
                self.cond.wait(left)
            chunks = [(name, base64.b64encode(data[i:i + _CHUNK]).decode())
                      for name, data in self.output for i in range(0, len(data), _CHUNK)]
            self.output.clear()
            return chunks, self.done, self.exit_code


def _encoding(codepage: str) -> str:
    return {"65001": "utf-8", "437": "cp437", "1252": "cp1252"}.get(codepage, "cp437")


class Shell:
    def __init__(self, shell_id: str, codepage: str, runspaces: RunspaceFactory) -> None:
        self.id = shell_id
        self.encoding = _encoding(codepage)
        self.runspaces = runspaces
        self.processes: dict[str, Process] = {}

    def start(self, command_line: str, skip_cmd_shell: bool, on_script: Callable[[str], None]) -> Process:
        proc = Process(str(uuid.uuid4()).upper(), self.encoding)
        self.processes[proc.id] = proc
        limit = PROCESS_LINE_LIMIT if skip_cmd_shell else CMD_LINE_LIMIT
        if len(command_line) > limit:
            self._fail(proc, "The command line is too long.\r\n")
            return proc
        args = command_line.split()
        exe = args[0].lower() if args else ""
        if exe not in ("powershell", "powershell.exe"):
            self._fail(proc, f"'{args[0] if args else ''}' is not recognized as an internal or external command,"
                             "\r\noperable program or batch file.\r\n")
            return proc
        try:
            script, from_stdin = _powershell_args(args[1:])
        except ValueError as exc:
            self._fail(proc, f"{exc}\r\n")
            return proc
        runspace = self.runspaces()
        target = self._stdin_loop if from_stdin else self._run_once
        threading.Thread(target=target, args=(proc, runspace, script, on_script), daemon=True).start()
        return proc

    def _fail(self, proc: Process, message: str) -> None:
        proc.output.append(("stderr", message.encode(self.encoding)))
        proc.finish(1)

    @staticmethod
    def _run_once(proc: Process, runspace: Runspace, script: str, on_script: Callable[[str], None]) -> None:
        on_script(script)
        result = runspace.run(script)
        proc.emit(result)
        proc.finish(result.exit_code)

    def _stdin_loop(self, proc: Process, runspace: Runspace, _: str, on_script: Callable[[str], None]) -> None:
        """`powershell -Command -`: run each complete line as it arrives; an incomplete statement waits for
        more lines, and a blank line ends it (then it is run, and fails if it still does not parse)."""
        pending: list[str] = []
        last = RunResult("", "", 0, False)
        while True:
            with proc.cond:
                while b"\n" not in proc.stdin and not proc.stdin_closed:
                    proc.cond.wait()
                if b"\n" in proc.stdin:
                    raw, proc.stdin = proc.stdin.split(b"\n", 1)
                elif proc.stdin:
                    raw, proc.stdin = proc.stdin, b""
                else:
                    break
            line = raw.decode(self.encoding, "replace").rstrip("\r")
            pending.append(line)
            text = "\n".join(pending)
            if line.strip() and not _complete(text):
                continue
            pending = []
            if not text.strip():
                continue
            on_script(text)
            last = runspace.run(text)
            proc.emit(last)
            if last.exited:
                proc.finish(last.exit_code)
                return
        if pending and "\n".join(pending).strip():
            last = runspace.run("\n".join(pending))
            proc.emit(last)
        proc.finish(last.exit_code)

    def send(self, command_id: str, data: bytes, end: bool) -> None:
        proc = self.process(command_id)
        with proc.cond:
            if proc.stdin_closed:
                raise WsmanFault(2150859250, "w:InvalidParameter", "The stdin stream is already closed.", 400)
            proc.stdin += data
            proc.stdin_closed = end
            proc.cond.notify_all()

    def process(self, command_id: str) -> Process:
        proc = self.processes.get(command_id.upper())
        if proc is None:
            raise WsmanFault(2150858843, "w:InvalidSelectors", f"The command {command_id} was not found.")
        return proc

    def terminate(self, command_id: str) -> None:
        proc = self.processes.pop(command_id.upper(), None)
        if proc is not None:
            with proc.cond:
                proc.stdin_closed = True
                proc.cond.notify_all()


def _complete(text: str) -> bool:
    try:
        parse(text.encode())
    except ParseError:
        return False
    return True


def _powershell_args(args: list[str]) -> tuple[str, bool]:
    """The script of a powershell.exe command line, and whether it comes from stdin."""
    i = 0
    while i < len(args):
        arg = args[i].lower()
        if arg in ("-noprofile", "-nop", "-noninteractive", "-nologo"):
            i += 1
        elif arg in ("-executionpolicy", "-ep", "-inputformat", "-outputformat"):
            i += 2
        elif arg in ("-encodedcommand", "-enc", "-ec", "-e"):
            if i + 1 >= len(args):
                raise ValueError("Cannot process the command because -EncodedCommand requires an argument.")
            try:
                return base64.b64decode(args[i + 1], validate=True).decode("utf-16-le"), False
            except ValueError as exc:
                raise ValueError(f"Cannot process the command because the value specified with "
                                 f"-EncodedCommand is not properly encoded: {exc}") from exc
        elif arg in ("-command", "-c"):
            rest = args[i + 1:]
            if rest == ["-"]:
                return "", True
            return " ".join(rest), False
        else:
            raise ValueError(f"-{arg.lstrip('-')} : The term '{args[i]}' is not a valid parameter for "
                             "powershell.exe.")
    return "", True  # no -Command: powershell reads stdin


class Shells:
    def __init__(self, runspaces: RunspaceFactory) -> None:
        self.runspaces = runspaces
        self.lock = threading.Lock()
        self.shells: dict[str, Shell] = {}

    def create(self, codepage: str) -> Shell:
        shell = Shell(str(uuid.uuid4()).upper(), codepage, self.runspaces)
        with self.lock:
            self.shells[shell.id] = shell
        return shell

    def get(self, shell_id: str | None) -> Shell:
        with self.lock:
            shell = self.shells.get((shell_id or "").upper())
        if shell is None:
            raise unknown_shell(shell_id)
        return shell

    def delete(self, shell_id: str | None) -> None:
        shell = self.get(shell_id)
        for command_id in list(shell.processes):
            shell.terminate(command_id)
        with self.lock:
            self.shells.pop(shell.id, None)
