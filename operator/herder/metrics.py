"""herder's Prometheus metrics, all on one registry that `herder run --metrics-port` serves.

Two kinds of metrics live here:
- event metrics (reconciles, backend requests): ordinary counters and histograms, updated as things happen;
- state metrics (inventory, backend health, pools, metering): custom collectors that read in-memory tables
  at scrape time. Controllers `record_*` what they observe and `forget_*` what is deleted, so label sets of
  deleted objects disappear instead of lingering as stale gauges.

Nothing here may carry credentials: labels are kinds, names, namespaces, zones, phases and operations.
Names and units follow the Prometheus conventions (base units: seconds, bytes, hertz; `_total` counters).
"""

from __future__ import annotations

import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from herder import clock
from herder.metering import Metering, MeteringCollector

RequestHook = Callable[[str, bool, float], None]
Clock = Callable[[], float]

# herder's own registry (not prometheus_client.REGISTRY) so that tests and other libraries in the process
# cannot collide with it. Serve it with `prometheus_client.start_http_server(port, registry=REGISTRY)`.
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

# Reconciles take from milliseconds (no-op) to minutes (a clone followed inline); backend calls likewise,
# plus the inventory's long polls (WaitForUpdatesEx waits up to ~100 s).
_RECONCILE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_BACKEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

RECONCILE_TOTAL = Counter(
    "herder_reconcile", "Reconciles by kind and result (success, error).",
    ["kind", "result"], registry=REGISTRY)
RECONCILE_DURATION = Histogram(
    "herder_reconcile_duration_seconds", "Duration of one reconcile of one object, by kind.",
    ["kind"], buckets=_RECONCILE_BUCKETS, registry=REGISTRY)
BACKEND_REQUESTS = Counter(
    "herder_backend_requests", "Requests sent to a backend (vCenter SOAP method, SCVMM cmdlet), by provider.",
    ["provider", "operation"], registry=REGISTRY)
BACKEND_REQUEST_ERRORS = Counter(
    "herder_backend_request_errors", "Backend requests that failed (fault, transport error, timeout).",
    ["provider", "operation"], registry=REGISTRY)
BACKEND_REQUEST_DURATION = Histogram(
    "herder_backend_request_duration_seconds", "Latency of backend requests, failed ones included.",
    ["provider", "operation"], buckets=_BACKEND_BUCKETS, registry=REGISTRY)

SNAPSHOTS_TAKEN = Counter(
    "herder_snapshots_taken", "ServerSnapshots taken on the backend, by namespace and backend (vcenter, scvmm).",
    ["namespace", "backend"], registry=REGISTRY)
SNAPSHOTS_FAILED = Counter(
    "herder_snapshots_failed",
    "Attempts to take a ServerSnapshot that failed on the backend, by namespace and backend.",
    ["namespace", "backend"], registry=REGISTRY)

RESULT_SUCCESS = "success"
RESULT_ERROR = "error"


def observe_reconcile(kind: str, result: str, seconds: float) -> None:
    """Count one reconcile of `kind` (e.g. ElasticCloudServer) and record how long it took."""
    RECONCILE_TOTAL.labels(kind=kind, result=result).inc()
    RECONCILE_DURATION.labels(kind=kind).observe(seconds)


@contextmanager
def reconcile_timer(kind: str, clock: Clock = time.perf_counter) -> Iterator[None]:
    """Time the block as one reconcile: result `error` if it raises (the exception propagates)."""
    start = clock()
    try:
        yield
    except BaseException:
        observe_reconcile(kind, RESULT_ERROR, clock() - start)
        raise
    observe_reconcile(kind, RESULT_SUCCESS, clock() - start)


def backend_request_hook(provider: str) -> RequestHook:
    """A hook with the provider sessions' signature `on_request(operation, ok, seconds)`.

    `provider` is the backend type (`vcenter`, `scvmm`), not the object name: operations times objects would
    multiply series for no diagnostic gain; `herder_backend_up` tells which endpoint is down.
    """
    def on_request(operation: str, ok: bool, seconds: float) -> None:
        BACKEND_REQUESTS.labels(provider=provider, operation=operation).inc()
        if not ok:
            BACKEND_REQUEST_ERRORS.labels(provider=provider, operation=operation).inc()
        BACKEND_REQUEST_DURATION.labels(provider=provider, operation=operation).observe(seconds)

    return on_request


# -- state: the in-memory inventory ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Server:
    namespace: str
    name: str
    phase: str
    power_state: str
    zone: str
    ready: bool
    not_ready_since: float | None


@dataclass(frozen=True)
class _Pool:
    zone: str
    cpu_reservation_hertz: float
    memory_reservation_bytes: float
    cpu_usage_hertz: float | None
    memory_usage_bytes: float | None


@dataclass(frozen=True)
class _Zone:
    hosts: int
    memory_bytes: float
    memory_used_bytes: float


@dataclass(frozen=True)
class _Quota:
    hard: dict[str, float]  # resource -> limit, base units
    used: dict[str, float]  # resource -> in use, for the limited resources


class Inventory:
    """What the controllers last observed, read by `InventoryCollector` at scrape time. Thread-safe."""

    def __init__(self, clock: Clock = time.time) -> None:
        # Wall clock: "not ready since" may come from a condition's lastTransitionTime (epoch seconds).
        self._clock = clock
        self._lock = threading.Lock()
        self._servers: dict[tuple[str, str], _Server] = {}
        self._images: dict[Hashable, tuple[str, str]] = {}
        self._backends: dict[tuple[str, str], bool] = {}
        self._pools: dict[str, _Pool] = {}
        self._zones: dict[str, _Zone] = {}
        self._quotas: dict[tuple[str, str], _Quota] = {}

    # servers
    def record_ecs(self, key: tuple[str, str], phase: str, power: str, zone: str, ready: bool,  # noqa: PLR0917
                   not_ready_since: float | None = None) -> None:
        """key is (namespace, name). `not_ready_since` (epoch seconds, e.g. the Ready condition's
        lastTransitionTime) keeps the not-ready age right across operator restarts; without it the age
        counts from the first observation that saw the server not Ready."""
        namespace, name = key
        with self._lock:
            since: float | None = None
            if not ready:
                previous = self._servers.get(key)
                if not_ready_since is not None:
                    since = not_ready_since
                elif previous is not None and not previous.ready and previous.not_ready_since is not None:
                    since = previous.not_ready_since
                else:
                    since = self._clock()
            self._servers[key] = _Server(namespace, name, phase, power, zone, ready, since)

    def forget_ecs(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._servers.pop(key, None)

    # images (Image and ClusterImage; key e.g. (kind, namespace, name))
    def record_image(self, key: Hashable, kind: str, state: str) -> None:
        with self._lock:
            self._images[key] = (kind, state)

    def forget_image(self, key: Hashable) -> None:
        with self._lock:
            self._images.pop(key, None)

    # backends (VCenter, SCVMM objects)
    def set_backend_up(self, kind: str, name: str, up: bool) -> None:
        with self._lock:
            self._backends[(kind, name)] = up

    def forget_backend(self, kind: str, name: str) -> None:
        with self._lock:
            self._backends.pop((kind, name), None)

    # resource pools
    def record_pool(  # noqa: PLR0917 - mirrors record_ecs: positional for short call sites
            self, name: str, zone: str, cpu_reservation_hertz: float, memory_reservation_bytes: float,
                    cpu_usage_hertz: float | None = None, memory_usage_bytes: float | None = None) -> None:
        """CPU in hertz (a pool's `cpu.reservation` is in MHz: multiply by 1e6). Unknown usage: None."""
        with self._lock:
            self._pools[name] = _Pool(zone, cpu_reservation_hertz, memory_reservation_bytes,
                                      cpu_usage_hertz, memory_usage_bytes)

    def forget_pool(self, name: str) -> None:
        with self._lock:
            self._pools.pop(name, None)

    def record_zone(self, name: str, hosts: int, memory_bytes: float, memory_used_bytes: float) -> None:
        with self._lock:
            self._zones[name] = _Zone(hosts, memory_bytes, memory_used_bytes)

    def forget_zone(self, name: str) -> None:
        with self._lock:
            self._zones.pop(name, None)

    # ServerQuotas, key (namespace, name): servers, cpu (vCPUs), memory and disk (bytes), images
    def record_quota(self, key: tuple[str, str], hard: Mapping[str, float], used: Mapping[str, float]) -> None:
        with self._lock:
            self._quotas[key] = _Quota(dict(hard), dict(used))

    def forget_quota(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._quotas.pop(key, None)

    def quotas(self) -> dict[tuple[str, str], _Quota]:
        with self._lock:
            return dict(self._quotas)

    def snapshot(self) -> tuple[list[_Server], dict[Hashable, tuple[str, str]], dict[tuple[str, str], bool],
                                dict[str, _Pool], dict[str, _Zone], float]:
        with self._lock:
            return (list(self._servers.values()), dict(self._images), dict(self._backends), dict(self._pools),
                    dict(self._zones), self._clock())


class InventoryCollector(Collector):
    def __init__(self, inventory: Inventory) -> None:
        self._inventory = inventory

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Empty families: lets the registry check name clashes without calling collect() at registration.
        yield from self._families().values()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        servers, images, backends, pools, zones, now = self._inventory.snapshot()
        families = self._families()
        by_state = Tally((s.namespace, s.phase, s.power_state, s.zone) for s in servers)
        for labels, count in sorted(by_state.items()):
            families["ecs"].add_metric(list(labels), count)
        for server in sorted(servers, key=lambda s: (s.namespace, s.name)):
            age = 0.0 if server.not_ready_since is None else max(now - server.not_ready_since, 0.0)
            families["ready"].add_metric([server.namespace, server.name], 1 if server.ready else 0)
            families["not_ready"].add_metric([server.namespace, server.name], age)
        for image_labels, count in sorted(Tally(images.values()).items()):
            families["images"].add_metric(list(image_labels), count)
        for (kind, name), up in sorted(backends.items()):
            families["up"].add_metric([kind, name], 1 if up else 0)
        for name, pool in sorted(pools.items()):
            pool_labels = [name, pool.zone]
            families["cpu_res"].add_metric(pool_labels, pool.cpu_reservation_hertz)
            families["mem_res"].add_metric(pool_labels, pool.memory_reservation_bytes)
            if pool.cpu_usage_hertz is not None:
                families["cpu_use"].add_metric(pool_labels, pool.cpu_usage_hertz)
            if pool.memory_usage_bytes is not None:
                families["mem_use"].add_metric(pool_labels, pool.memory_usage_bytes)
        for name, zone in sorted(zones.items()):
            families["zone_hosts"].add_metric([name], zone.hosts)
            families["zone_mem"].add_metric([name], zone.memory_bytes)
            families["zone_mem_used"].add_metric([name], zone.memory_used_bytes)
        for (namespace, quota_name), quota in sorted(self._inventory.quotas().items()):
            for resource, limit in sorted(quota.hard.items()):
                families["quota_hard"].add_metric([namespace, quota_name, resource], limit)
                families["quota_used"].add_metric([namespace, quota_name, resource], quota.used.get(resource, 0.0))
        yield from families.values()

    @staticmethod
    def _families() -> dict[str, GaugeMetricFamily]:
        pool = ["pool", "zone"]
        return {
            "ecs": GaugeMetricFamily("herder_ecs", "ElasticCloudServers by namespace, phase, power state and zone.",
                                     labels=["namespace", "phase", "power_state", "zone"]),
            "ready": GaugeMetricFamily("herder_ecs_ready", "1 if the ElasticCloudServer's Ready condition is True.",
                                       labels=["namespace", "name"]),
            "not_ready": GaugeMetricFamily("herder_ecs_not_ready_seconds",
                                           "Seconds the ElasticCloudServer has not been Ready; 0 when Ready.",
                                           labels=["namespace", "name"]),
            "images": GaugeMetricFamily("herder_images", "Images and ClusterImages by kind and state (phase).",
                                        labels=["kind", "state"]),
            "up": GaugeMetricFamily("herder_backend_up",
                                    "1 if herder holds a working session to the backend (VCenter, SCVMM object).",
                                    labels=["kind", "name"]),
            "cpu_res": GaugeMetricFamily("herder_resource_pool_cpu_reservation_hertz",
                                         "CPU reservation of the resource pool.", labels=pool),
            "mem_res": GaugeMetricFamily("herder_resource_pool_memory_reservation_bytes",
                                         "Memory reservation of the resource pool.", labels=pool),
            "cpu_use": GaugeMetricFamily("herder_resource_pool_cpu_usage_hertz",
                                         "CPU used by the resource pool, as reported by the backend.", labels=pool),
            "mem_use": GaugeMetricFamily("herder_resource_pool_memory_usage_bytes",
                                         "Memory used by the resource pool, as reported by the backend.",
                                         labels=pool),
            "zone_hosts": GaugeMetricFamily("herder_zone_hosts", "Hosts of the availability zone that can run VMs.",
                                            labels=["zone"]),
            "zone_mem": GaugeMetricFamily("herder_zone_memory_bytes", "Memory of those hosts.", labels=["zone"]),
            "zone_mem_used": GaugeMetricFamily("herder_zone_memory_used_bytes",
                                               "Memory in use on those hosts, by any VM.", labels=["zone"]),
            "quota_hard": GaugeMetricFamily(
                "herder_quota_hard", "Limit of a ServerQuota, per resource (servers, cpu in vCPUs, memory and "
                "disk in bytes, images).", labels=["namespace", "quota", "resource"]),
            "quota_used": GaugeMetricFamily(
                "herder_quota_used", "What the namespace takes of a resource its ServerQuota limits (same units as "
                "herder_quota_hard).", labels=["namespace", "quota", "resource"]),
        }


@dataclass(frozen=True)
class _Schedule:
    interval_seconds: float | None  # None: suspended (no age is exported: a suspended schedule is not late)
    newest: dict[str, float]  # server -> epoch seconds of its newest usable snapshot (or the schedule's creation)


class SnapshotAges(Collector):
    """Per ServerSnapshotSchedule and server, the age of the newest usable snapshot, and the schedule's interval:
    what "no successful snapshot in 2x the schedule interval" is computed from. Ages are taken at scrape time
    from `clock` (herder.clock.now, which tests may move)."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._schedules: dict[tuple[str, str], _Schedule] = {}

    def record_schedule(self, key: tuple[str, str], interval_seconds: float | None, newest: dict[str, float]) -> None:
        """key is (namespace, schedule)."""
        with self._lock:
            self._schedules[key] = _Schedule(interval_seconds, dict(newest))

    def forget_schedule(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._schedules.pop(key, None)

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._lock:
            schedules = dict(self._schedules)
        now = self._clock()
        age, interval = self._families()
        for (namespace, schedule), entry in sorted(schedules.items()):
            if entry.interval_seconds is None:
                continue
            interval.add_metric([namespace, schedule], entry.interval_seconds)
            for server, newest in sorted(entry.newest.items()):
                age.add_metric([namespace, schedule, server], max(now - newest, 0.0))
        yield age
        yield interval

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (GaugeMetricFamily("herder_snapshot_age_seconds", "Age of the newest usable ServerSnapshot a "
                                  "schedule made of a server (since the schedule's creation while it has none).",
                                  labels=["namespace", "schedule", "server"]),
                GaugeMetricFamily("herder_snapshot_schedule_interval_seconds", "Seconds between two runs of the "
                                  "ServerSnapshotSchedule (absent while suspended).", labels=["namespace", "schedule"]))


INVENTORY = Inventory()
METERING = Metering()
REGISTRY.register(InventoryCollector(INVENTORY))
REGISTRY.register(MeteringCollector(METERING))
SNAPSHOT_AGES = SnapshotAges(lambda: clock.now().timestamp())
REGISTRY.register(SNAPSHOT_AGES)

# Module-level shortcuts for the controllers.
record_ecs = INVENTORY.record_ecs
forget_ecs = INVENTORY.forget_ecs
record_image = INVENTORY.record_image
forget_image = INVENTORY.forget_image
set_backend_up = INVENTORY.set_backend_up
forget_backend = INVENTORY.forget_backend
record_pool = INVENTORY.record_pool
forget_pool = INVENTORY.forget_pool
record_zone = INVENTORY.record_zone
forget_zone = INVENTORY.forget_zone
record_quota = INVENTORY.record_quota
forget_quota = INVENTORY.forget_quota
record_schedule = SNAPSHOT_AGES.record_schedule
forget_schedule = SNAPSHOT_AGES.forget_schedule


def start_server(port: int, addr: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the pod
    """Serve REGISTRY on http://addr:port/metrics (a daemon thread)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=addr, registry=REGISTRY)
