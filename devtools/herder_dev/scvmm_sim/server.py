"""The HTTPS server: WS-Management on /wsman, admin JSON on /admin/*, an unauthenticated /healthz.

Faults that concern the transport live here: a "hang" holds every /wsman request unanswered (admin and
/healthz still answer), and a listener outage closes the port, drops every open connection, and listens again
on the same port after the given time. Shells and the inventory survive an outage: only the listener goes away.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from herder_dev.scvmm_sim import wsman
from herder_dev.scvmm_sim.faults import Faults
from herder_dev.scvmm_sim.ps.binding import Cmdlet
from herder_dev.scvmm_sim.ps.runspace import Runspace
from herder_dev.scvmm_sim.shells import Shells
from herder_dev.scvmm_sim.stats import Stats
from herder_dev.scvmm_sim.vmm.checkpoints import Checkpoints
from herder_dev.scvmm_sim.vmm.clouds import Clouds
from herder_dev.scvmm_sim.vmm.cmdlets import Vmm
from herder_dev.scvmm_sim.vmm.hosts import Hosts
from herder_dev.scvmm_sim.vmm.moves import Moves
from herder_dev.scvmm_sim.vmm.seed import load_seed
from herder_dev.scvmm_sim.vmm.state import Store

_SHELL_NS = "{http://schemas.microsoft.com/wbem/wsman/1/windows/shell}"


@dataclass
class Config:
    host: str
    port: int
    cert: Path
    key: Path
    username: str
    password: str
    state_file: Path | None = None
    seed: Path | None = None
    job_seconds: float = 2.0


class Simulator:
    """Everything behind the HTTP layer; one per server."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.faults = Faults()
        self.stats = Stats()
        self.store = Store(config.state_file, load_seed(config.seed), config.job_seconds)
        parts = (Vmm, Checkpoints, Clouds, Hosts, Moves)  # the VMM cmdlets, one class per area
        self.cmdlets = [c for part in parts for c in part(self.store, self.faults).cmdlets()]
        self.shells = Shells(self.new_runspace)

    def new_runspace(self) -> Runspace:
        return Runspace(self.cmdlets, on_command=self._count)

    def _count(self, cmd: Cmdlet) -> None:
        self.stats.cmdlet(cmd.name)

    def handle(self, req: wsman.Request) -> str:
        """The SOAP body of the reply to one WS-Management request."""
        self.stats.request(req.action)
        body = req.body
        if req.action == "Create":
            codepage = req.options.get("WINRS_CODEPAGE", "437")
            shell = self.shells.create(codepage)
            return wsman.created(shell.id, wsman.shell_description(shell.id))
        shell = self.shells.get(req.shell_id)
        if req.action == "Delete":
            self.shells.delete(shell.id)
            return ""
        if req.action == "Command":
            command = body.findtext(f"{_SHELL_NS}CommandLine/{_SHELL_NS}Command", "").strip().strip('"')
            args = [a.text or "" for a in body.findall(f"{_SHELL_NS}CommandLine/{_SHELL_NS}Arguments")]
            skip_cmd = req.options.get("WINRS_SKIP_CMD_SHELL", "FALSE").upper() == "TRUE"
            proc = shell.start(" ".join([command, *args]), skip_cmd, self.stats.script)
            return wsman.command_response(proc.id)
        if req.action == "Send":
            stream = body.find(f"{_SHELL_NS}Send/{_SHELL_NS}Stream")
            if stream is None or stream.get("Name") != "stdin":
                raise wsman.WsmanFault(2150858817, "w:InvalidParameter", "Send needs a stdin stream.", 400)
            data = base64.b64decode(stream.text or "")
            shell.send(stream.get("CommandId", ""), data, stream.get("End", "false").lower() == "true")
            return "<rsp:SendResponse/>"
        if req.action == "Receive":
            desired = body.find(f"{_SHELL_NS}Receive/{_SHELL_NS}DesiredStream")
            command_id = desired.get("CommandId", "") if desired is not None else ""
            proc = shell.process(command_id)
            if self.faults.receive_timeout():
                raise wsman.timed_out()
            chunks, done, code = proc.take(req.timeout)
            return wsman.receive_response(proc.id, chunks, done, code)
        # Signal: terminate (what pywinrm's cleanup_command sends) or ctrl_c.
        signal = body.find(f"{_SHELL_NS}Signal")
        shell.terminate(signal.get("CommandId", "") if signal is not None else "")
        return "<rsp:SignalResponse/>"

    def admin(self, method: str, path: str, payload: Any) -> tuple[int, Any]:
        if (method, path) == ("GET", "/admin/state"):
            return 200, self.store.snapshot()
        if (method, path) == ("GET", "/admin/stats"):
            return 200, self.stats.describe()
        if (method, path) == ("POST", "/admin/stats/reset"):
            self.stats.reset()
            return 200, {}
        if (method, path) == ("GET", "/admin/faults"):
            return 200, self.faults.describe()
        if (method, path) == ("DELETE", "/admin/faults"):
            self.faults.clear()
            return 200, self.faults.describe()
        if (method, path) == ("POST", "/admin/faults"):
            specs = payload if isinstance(payload, list) else [payload]
            try:
                for spec in specs:
                    self.faults.add(spec)
            except (ValueError, TypeError, AttributeError) as exc:
                return 400, {"error": str(exc)}
            return 200, self.faults.describe()
        return 404, {"error": f"no {method} {path}"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as WinRM clients reuse their connection
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
            except ValueError:
                return False
            cfg = self.server.sim.config
            return hmac.compare_digest(user, cfg.username) and hmac.compare_digest(password, cfg.password)
        return False

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _dispatch(self, method: str) -> None:
        data = self._body()
        path = self.path.split("?", 1)[0]
        if method == "GET" and path == "/healthz":
            self._send(200, b"ok\n", "text/plain")
            return
        if not self._authorized():
            self._send(401, b"", "text/plain", {"WWW-Authenticate": 'Basic realm="WSMAN"'})
            return
        if path.startswith("/admin/"):
            try:
                payload = json.loads(data) if data else None
            except ValueError:
                self._send(400, b'{"error": "invalid JSON"}', "application/json")
                return
            status, result = self.server.sim.admin(method, path, payload)
            self._send(status, json.dumps(result).encode(), "application/json")
            outage = self.server.sim.faults.take_outage()
            if outage is not None:  # answered first: the outage then drops this connection too
                self.close_connection = True
                self.server.on_outage(outage)
            return
        if path != "/wsman" or method != "POST":
            self._send(404, b"", "text/plain")
            return
        if not self.headers.get("Content-Type", "").lower().startswith("application/soap+xml"):
            self._send(415, b"", "text/plain")
            return
        self._wsman(data)

    def _wsman(self, data: bytes) -> None:
        self.server.sim.faults.hold()
        content_type = "application/soap+xml;charset=UTF-8"
        message_id: str | None = None
        try:
            req = wsman.parse_request(data)
            message_id = req.message_id
            body = self.server.sim.handle(req)
            self._send(200, wsman.envelope(req.action, req.message_id, body), content_type)
        except wsman.WsmanFault as fault:
            self._send(fault.status, wsman.fault(fault, message_id), content_type)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, sim: Simulator, port: int, on_outage: Callable[[float], None]) -> None:
        self.sim = sim
        self.on_outage = on_outage
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        cfg = sim.config
        super().__init__((cfg.host, port), _Handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cfg.cert), str(cfg.key))
        self.socket = context.wrap_socket(self.socket, server_side=True)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):  # already closed by its client
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that reject our certificate end the handshake abruptly; that is expected, not news.
        pass


class Running:
    """A simulator serving in a background thread; stop() shuts it down.

    The port stays the same for the simulator's life, also across listener outages."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._server, self._thread = self._listen(sim.config.port)
        self.port = int(self._server.server_address[1])

    def _listen(self, port: int) -> tuple[_Server, threading.Thread]:
        server = _Server(self.sim, port, self._begin_outage)
        thread = threading.Thread(target=server.serve_forever, name="scvmm-sim", daemon=True)
        thread.start()
        return server, thread

    def _close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(timeout=10)

    def _begin_outage(self, seconds: float) -> None:
        threading.Thread(target=self._outage, args=(seconds,), name="scvmm-sim-outage", daemon=True).start()

    def _outage(self, seconds: float) -> None:
        with self._lock:
            if self._stopped.is_set():
                return
            self._close()
        if self._stopped.wait(seconds):
            return
        with self._lock:
            if not self._stopped.is_set():
                self._server, self._thread = self._listen(self.port)

    def stop(self) -> None:
        with self._lock:
            self._stopped.set()
            self.sim.faults.clear()  # releases requests held by a hang
            self._close()


def start(config: Config) -> Running:
    """Start serving in a daemon thread (port 0 picks a free port; see Running.port)."""
    return Running(Simulator(config))


def serve(config: Config, stop: threading.Event) -> None:
    """Serve until stop is set."""
    running = start(config)
    try:
        stop.wait()
    finally:
        running.stop()
