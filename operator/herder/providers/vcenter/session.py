"""One shared, self-healing vCenter session: lazy login, keepalive, re-login, credential rotation.

Every backend call goes through `Session.call`, which retries once after a re-login when vCenter says
the session is gone (expiry, an admin's TerminateSession, a vCenter restart) and turns every failure
into a ProviderError.
"""

from __future__ import annotations

import collections
import logging
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pyVim import connect
from pyVmomi import SoapAdapter, vim, vmodl

from herder.errors import AuthenticationFailed, NotFound
from herder.providers.liveness import Liveness
from herder.providers.types import Credentials, EndpointInfo, TLSSettings
from herder.providers.vcenter.errors import translate
from herder.providers.vcenter.tls import client_context

log = logging.getLogger(__name__)

T = TypeVar("T")
RequestHook = Callable[[str, bool, float], None]

# Longer than the inventory's WaitForUpdatesEx wait, so a long poll is never cut short by the socket.
DEFAULT_HTTP_TIMEOUT = 120
DEFAULT_KEEPALIVE_SECONDS = 300.0


def _no_hook(operation: str, ok: bool, seconds: float) -> None:
    """Default request hook: metrics plug in here later."""


# pyVmomi is untyped: these Any-typed handles keep that to one place.
_SoapStub: Any = SoapAdapter.SoapStubAdapter
CONNECTIONS = 40  # pass threads (32), the inventory watch, keepalive and some to spare
_smart_stub: Any = connect.SmartStubAdapter
_ServiceInstance: Any = vim.ServiceInstance
_NotAuthenticated: Any = vim.fault.NotAuthenticated


class _MeteredStub(_SoapStub):  # type: ignore[misc]
    """A SOAP stub that reports every request (methods and property fetches) to the session."""

    def __init__(self, report: RequestHook, liveness: Liveness, **kwargs: Any) -> None:
        _SoapStub.__init__(self, **kwargs)
        self._report = report
        self._liveness = liveness

    def InvokeMethod(self, mo: Any, info: Any, args: Any, outerStub: Any = None) -> Any:
        started = time.monotonic()
        ok = False
        try:
            result = _SoapStub.InvokeMethod(self, mo, info, args, outerStub)
            ok = True
            self._liveness.answered()
            return result
        except vmodl.MethodFault:
            self._liveness.answered()  # a fault is an answer: vCenter is there
            raise
        finally:
            self._report(str(info.name), ok, time.monotonic() - started)


class Session:
    """The session to one vCenter, shared by servers and the inventory. Thread-safe."""

    def __init__(
        self,
        host: str,
        credentials: Credentials,
        tls: TLSSettings,
        datacenter: str,
        *,
        port: int = 443,
        keepalive_seconds: float | None = DEFAULT_KEEPALIVE_SECONDS,
        http_timeout: int = DEFAULT_HTTP_TIMEOUT,
        on_request: RequestHook | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.datacenter_name = datacenter
        self.on_request = on_request or _no_hook
        self._credentials = credentials
        self._tls = tls
        self._http_timeout = http_timeout
        self._keepalive_seconds = keepalive_seconds
        self._lock = threading.RLock()
        self._counts_lock = threading.Lock()
        self._counts: collections.Counter[str] = collections.Counter()
        self._si: Any = None
        self._content: Any = None
        self._names: dict[str, str] = {}
        self._logged_in = False
        self._generation = 0  # bumped on every login, so concurrent callers re-login only once
        self._datacenter: Any = None
        self._stop = threading.Event()
        # The inventory watch answers at least once per its wait; the provider sets that wait.
        self.liveness = Liveness(answers_every=keepalive_seconds or DEFAULT_KEEPALIVE_SECONDS)
        self._keepalive: threading.Thread | None = None

    # -- requests ---------------------------------------------------------------------------------------

    def _record(self, operation: str, ok: bool, seconds: float) -> None:
        with self._counts_lock:
            self._counts[operation] += 1
        try:
            self.on_request(operation, ok, seconds)
        except Exception:
            log.exception("vCenter request hook failed")

    def request_counts(self) -> dict[str, int]:
        """SOAP requests made so far, per method (property fetches count under the property name)."""
        with self._counts_lock:
            return dict(self._counts)

    def call(self, action: str, fn: Callable[[], T]) -> T:
        """Run `fn` logged in; after NotAuthenticated log in again and retry once. Raises ProviderError."""
        generation = self._generation
        try:
            self._ensure_login()
            generation = self._generation
            return fn()
        except vim.fault.NotAuthenticated:
            log.info("vCenter %s: session lost, logging in again", self.host)
        except Exception as exc:
            raise translate(exc, action) from exc
        try:
            self.relogin(generation)
            return fn()
        except Exception as exc:
            raise translate(exc, action) from exc

    # -- login ------------------------------------------------------------------------------------------

    @property
    def content(self) -> Any:
        """The ServiceContent, logged in. Its objects share the stub, so they survive re-logins."""
        self._ensure_login()
        return self._content

    @property
    def stub(self) -> Any:
        self._ensure_login()
        return self._si._stub

    def name_of(self, obj: Any) -> str | None:
        """The name of a host, datastore, pool or network, cached: they are few and are rarely renamed."""
        if obj is None:
            return None
        key = str(obj._moId)
        name = self._names.get(key)
        if name is None:
            try:
                if getattr(obj, "_stub", None) is None:  # made from a key alone (a NIC's port group): bind it
                    obj = type(obj)(key, self.stub)
                name = self._names[key] = str(obj.name)
            except Exception as exc:  # e.g. a lost session: the ID will do until the next reading
                log.debug("no name for %s: %s", key, exc)
                return key
        return name

    def ssl_context(self) -> ssl.SSLContext:
        """A TLS context with this session's verification settings (for NFC uploads)."""
        return client_context(self._tls)

    @property
    def generation(self) -> int:
        return self._generation

    def datacenter(self) -> Any:
        with self._lock:
            if self._datacenter is None:
                found = self.content.searchIndex.FindByInventoryPath(self.datacenter_name.strip("/"))
                if not isinstance(found, vim.Datacenter):
                    raise NotFound(f"datacenter {self.datacenter_name!r} does not exist in vCenter {self.host}")
                self._datacenter = found
            return self._datacenter

    def _connect(self) -> Any:
        # SmartStubAdapter only negotiates the API version; the metered stub speaks that version.
        context = client_context(self._tls)
        probe = _smart_stub(host=self.host, port=self.port, sslContext=context)
        stub = _MeteredStub(
            self._record,
            self.liveness,
            host=self.host,
            port=self.port,
            version=probe.version,
            sslContext=context,
            httpConnectionTimeout=self._http_timeout,
            # pyVmomi keeps 5 idle connections by default: with every pass thread calling at once, the rest would
            # each open (and TLS-handshake) a new connection per call.
            poolSize=CONNECTIONS,
        )
        return _ServiceInstance("ServiceInstance", stub)

    def _login(self) -> None:
        if self._si is None:
            self._si = self._connect()
            # ServiceContent never changes for a server; reading `si.content` costs a round trip every time.
            self._content = self._si.RetrieveContent()
        creds = self._credentials
        try:
            self._content.sessionManager.Login(creds.username, creds.password)
        except vim.fault.InvalidLogin as exc:
            raise AuthenticationFailed(
                f"vCenter {self.host} rejected the credentials of user {creds.username!r}"
            ) from exc
        self._logged_in = True
        self._generation += 1
        self._start_keepalive()

    def _ensure_login(self) -> None:
        if self._logged_in:
            return
        with self._lock:
            if not self._logged_in:
                try:
                    self._login()
                except Exception as exc:
                    raise translate(exc, f"log in to vCenter {self.host}") from exc

    def relogin(self, seen_generation: int) -> None:
        """Log in again unless another thread already did since `seen_generation`."""
        with self._lock:
            if self._generation == seen_generation:
                self._logged_in = False
            self._ensure_login()

    def update_credentials(self, credentials: Credentials) -> None:
        """Rotate credentials: end the current session; the next call logs in with the new ones."""
        with self._lock:
            if credentials == self._credentials:
                return
            self._credentials = credentials
            if self._logged_in:
                self._logout()

    def _logout(self) -> None:
        self._logged_in = False
        try:
            self._si.content.sessionManager.Logout()
        except Exception as exc:  # the old session may already be gone; it expires on its own
            log.debug("vCenter %s: logout failed: %s", self.host, exc)

    # -- lifecycle --------------------------------------------------------------------------------------

    def unanswered(self) -> float | None:
        return self.liveness.unanswered()

    def info(self) -> EndpointInfo:
        def read() -> Any:
            # A live request that needs the session, so `info()` proves the login still works.
            if self.content.sessionManager.currentSession is None:
                raise _NotAuthenticated()
            return self.content.about

        about = self.call("read vCenter version", read)
        return EndpointInfo(
            version=str(about.version),
            instance_uuid=str(about.instanceUuid or ""),
            product=str(about.fullName),
        )

    def _start_keepalive(self) -> None:
        if self._keepalive_seconds is None or self._keepalive is not None:
            return
        self._keepalive = threading.Thread(
            target=self._keepalive_loop, name=f"vcenter-keepalive-{self.host}", daemon=True
        )
        self._keepalive.start()

    def _keepalive_loop(self) -> None:
        assert self._keepalive_seconds is not None
        while not self._stop.wait(self._keepalive_seconds):
            try:
                self.call("keep the vCenter session alive", self._si.CurrentTime)
            except Exception as exc:
                log.warning("vCenter %s keepalive failed: %s", self.host, exc)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            if self._logged_in:
                self._logout()
            if self._si is not None:
                self._si._stub.DropConnections()
        if self._keepalive is not None:
            self._keepalive.join(timeout=5)
