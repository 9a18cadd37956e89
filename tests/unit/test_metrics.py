"""herder.metrics and herder.metering: values as Prometheus sees them, parsed from the text exposition."""

from __future__ import annotations

import threading
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from herder import metrics
from herder.metering import Metering, MeteringCollector
from herder.metrics import Inventory, InventoryCollector
from herder.reconcile.metering import Size, from_status, observe, to_status

GIB = 1 << 30


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def scrape(registry: CollectorRegistry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} from the text format, the way Prometheus reads it."""
    text = generate_latest(registry).decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], metric: str, /,
          **labels: str) -> float | None:
    return samples.get((metric, frozenset(labels.items())))


def names(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# -- metering ---------------------------------------------------------------------------------------------------
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


class WallClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def wall() -> WallClock:
    return WallClock()


@pytest.fixture
def metering(wall: WallClock) -> Metering:
    return Metering(clock=wall)


@pytest.fixture
def metering_registry(metering: Metering) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(MeteringCollector(metering))
    return registry


def usage(registry: CollectorRegistry, namespace: str = "team-a", zone: str = "az1") -> tuple[float, float, float]:
    samples = scrape(registry)
    return tuple(value(samples, f"herder_ecs_{what}_total", namespace=namespace, zone=zone) or 0.0  # type: ignore[return-value]
                 for what in ("vcpu_seconds", "memory_byte_seconds", "disk_byte_seconds"))


class Server:
    """One server's durable record, observed as the ECS controller would, stored as its status stores it."""

    def __init__(self, metering: Metering, clock: WallClock, key: str, namespace: str = "team-a",
                 zone: str = "az1") -> None:
        self.metering, self.clock, self.key, self.where = metering, clock, key, (namespace, zone)
        self.status: dict[str, object] | None = None

    def observe(self, vcpus: int, memory: int, disk: int, running: bool) -> None:
        record = observe(from_status(self.status), Size(vcpus, memory, disk, running), self.clock.now)
        self.status = to_status(record)
        self.metering.update(self.key, *self.where, from_status(self.status))  # type: ignore[arg-type]


def test_counters_rise_only_while_running(metering: Metering, metering_registry: CollectorRegistry,
                                          wall: WallClock) -> None:
    web = Server(metering, wall, "web-1")
    web.observe(2, 4 * GIB, 20 * GIB, running=True)
    wall.advance(60)
    assert usage(metering_registry) == (120.0, 240.0 * GIB, 1200.0 * GIB)
    assert usage(metering_registry) == (120.0, 240.0 * GIB, 1200.0 * GIB)  # a scrape changes nothing
    web.observe(2, 4 * GIB, 20 * GIB, running=False)
    wall.advance(100)
    assert usage(metering_registry) == (120.0, 240.0 * GIB, 3200.0 * GIB)  # disk goes on, CPU and memory stop
    web.observe(4, 8 * GIB, 20 * GIB, running=True)
    wall.advance(10)
    assert usage(metering_registry) == (160.0, 320.0 * GIB, 3400.0 * GIB)


def test_an_unchanged_size_writes_nothing_and_a_change_bills_the_old_size_up_to_it(
        metering: Metering, metering_registry: CollectorRegistry, wall: WallClock) -> None:
    web = Server(metering, wall, "uid-1")
    web.observe(1, GIB, 0, running=True)
    first = web.status
    wall.advance(30)
    web.observe(1, GIB, 0, running=True)
    assert web.status == first  # nothing to write at steady state
    web.observe(3, GIB, 0, running=True)  # resized after 30 s
    wall.advance(30)
    assert usage(metering_registry)[0] == 30 * 1 + 30 * 3


def test_a_restart_and_its_downtime_are_billed_from_the_durable_record(wall: WallClock) -> None:
    before = Metering(clock=wall)
    web = Server(before, wall, "uid-1")
    web.observe(2, GIB, 0, running=True)
    wall.advance(50)
    stored = web.status  # what status.metering holds when the operator stops
    wall.advance(30)  # herder is down
    after = Metering(clock=wall)  # a new process: nothing in memory
    after.update("uid-1", "team-a", "az1", from_status(stored))  # type: ignore[arg-type]
    registry = CollectorRegistry()
    registry.register(MeteringCollector(after))
    assert usage(registry)[0] == 2 * 80.0


def test_deleted_servers_stay_billed_and_are_loaded_again(metering: Metering, metering_registry: CollectorRegistry,
                                                          wall: WallClock) -> None:
    web = Server(metering, wall, "uid-1")
    web.observe(2, GIB, 10 * GIB, running=True)
    wall.advance(50)
    final = from_status(web.status).at(wall.now)  # type: ignore[union-attr]
    metering.deleted("team-a", "az1", final)
    metering.forget("uid-1")
    wall.advance(50)
    assert usage(metering_registry) == (100.0, 50.0 * GIB, 500.0 * GIB)
    assert metering.tracked() == 0
    later = Metering(clock=wall)
    later.load_deleted({("team-a", "az1"): final})
    registry = CollectorRegistry()
    registry.register(MeteringCollector(later))
    assert usage(registry) == (100.0, 50.0 * GIB, 500.0 * GIB)


def test_totals_are_per_namespace_and_zone(metering: Metering, metering_registry: CollectorRegistry,
                                           wall: WallClock) -> None:
    for key, namespace, zone, vcpus, running in (("a", "team-a", "az1", 1, True), ("b", "team-a", "az1", 1, True),
                                                 ("c", "team-a", "az2", 4, True), ("d", "team-b", "az1", 8, False)):
        Server(metering, wall, key, namespace, zone).observe(vcpus, 0, 0, running)
    wall.advance(10)
    assert usage(metering_registry, "team-a", "az1")[0] == 20.0
    assert usage(metering_registry, "team-a", "az2")[0] == 40.0
    assert usage(metering_registry, "team-b", "az1")[0] == 0.0


def test_a_clock_going_backwards_does_not_unbill(metering: Metering, metering_registry: CollectorRegistry,
                                                 wall: WallClock) -> None:
    Server(metering, wall, "a").observe(1, 0, 0, running=True)
    wall.advance(10)
    assert usage(metering_registry)[0] == 10.0
    wall.advance(-5)
    assert usage(metering_registry)[0] >= 5.0 - 1e-9  # never negative: at most the time since it was observed


def test_metering_families_are_counters(metering_registry: CollectorRegistry) -> None:
    text = generate_latest(metering_registry).decode()
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert types == {"herder_ecs_vcpu_seconds": "counter", "herder_ecs_memory_byte_seconds": "counter",
                     "herder_ecs_disk_byte_seconds": "counter"}


# -- inventory --------------------------------------------------------------------------------------------------
@pytest.fixture
def inventory(clock: FakeClock) -> Inventory:
    return Inventory(clock=clock)


@pytest.fixture
def inventory_registry(inventory: Inventory) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(InventoryCollector(inventory))
    return registry


def test_ecs_gauges_count_and_forget(inventory: Inventory, inventory_registry: CollectorRegistry) -> None:
    inventory.record_ecs(("team-a", "web-1"), "Running", "On", "az1", True)
    inventory.record_ecs(("team-a", "web-2"), "Running", "On", "az1", True)
    inventory.record_ecs(("team-a", "db-1"), "Provisioning", "Off", "az2", False)
    samples = scrape(inventory_registry)
    assert value(samples, "herder_ecs", namespace="team-a", phase="Running", power_state="On", zone="az1") == 2
    assert value(samples, "herder_ecs", namespace="team-a", phase="Provisioning", power_state="Off",
                 zone="az2") == 1
    assert value(samples, "herder_ecs_ready", namespace="team-a", name="web-1") == 1
    assert value(samples, "herder_ecs_ready", namespace="team-a", name="db-1") == 0

    inventory.forget_ecs(("team-a", "db-1"))
    inventory.record_ecs(("team-a", "web-2"), "Running", "Off", "az1", True)  # powered off: moves series
    samples = scrape(inventory_registry)
    assert value(samples, "herder_ecs", namespace="team-a", phase="Running", power_state="On", zone="az1") == 1
    assert value(samples, "herder_ecs", namespace="team-a", phase="Running", power_state="Off", zone="az1") == 1
    # No stale series for the deleted server or the emptied state.
    assert value(samples, "herder_ecs", namespace="team-a", phase="Provisioning", power_state="Off",
                 zone="az2") is None
    assert value(samples, "herder_ecs_ready", namespace="team-a", name="db-1") is None


def test_not_ready_seconds(inventory: Inventory, inventory_registry: CollectorRegistry, clock: FakeClock) -> None:
    key = ("team-a", "web-1")
    inventory.record_ecs(key, "Provisioning", "Off", "az1", False)
    clock.advance(100)
    inventory.record_ecs(key, "Provisioning", "Off", "az1", False)  # still not ready: age keeps counting
    clock.advance(20)
    assert value(scrape(inventory_registry), "herder_ecs_not_ready_seconds", namespace="team-a", name="web-1") == 120
    inventory.record_ecs(key, "Running", "On", "az1", True)
    assert value(scrape(inventory_registry), "herder_ecs_not_ready_seconds", namespace="team-a", name="web-1") == 0
    # From the Ready condition's lastTransitionTime: right even just after an operator restart.
    inventory.record_ecs(key, "Running", "On", "az1", False, not_ready_since=clock.now - 3600)
    assert value(scrape(inventory_registry), "herder_ecs_not_ready_seconds", namespace="team-a",
                 name="web-1") == 3600


def test_images_backends_and_pools(inventory: Inventory, inventory_registry: CollectorRegistry) -> None:
    inventory.record_image(("Image", "team-a", "ubuntu"), "Image", "Ready")
    inventory.record_image(("Image", "team-b", "ubuntu"), "Image", "Ready")
    inventory.record_image(("ClusterImage", "", "win"), "ClusterImage", "Importing")
    inventory.set_backend_up("VCenter", "vc1", True)
    inventory.set_backend_up("SCVMM", "vmm1", False)
    inventory.record_pool("team-a", "az1", 2000e6, 8 * GIB, cpu_usage_hertz=500e6, memory_usage_bytes=2 * GIB)
    inventory.record_pool("team-b", "az1", 1000e6, 4 * GIB)  # usage not known yet
    samples = scrape(inventory_registry)
    assert value(samples, "herder_images", kind="Image", state="Ready") == 2
    assert value(samples, "herder_images", kind="ClusterImage", state="Importing") == 1
    assert value(samples, "herder_backend_up", kind="VCenter", name="vc1") == 1
    assert value(samples, "herder_backend_up", kind="SCVMM", name="vmm1") == 0
    assert value(samples, "herder_resource_pool_cpu_reservation_hertz", pool="team-a", zone="az1") == 2e9
    assert value(samples, "herder_resource_pool_memory_reservation_bytes", pool="team-b", zone="az1") == 4 * GIB
    assert value(samples, "herder_resource_pool_cpu_usage_hertz", pool="team-a", zone="az1") == 5e8
    assert value(samples, "herder_resource_pool_memory_usage_bytes", pool="team-a", zone="az1") == 2 * GIB
    assert value(samples, "herder_resource_pool_cpu_usage_hertz", pool="team-b", zone="az1") is None

    inventory.forget_backend("SCVMM", "vmm1")
    inventory.forget_pool("team-b")
    inventory.forget_image(("ClusterImage", "", "win"))
    samples = scrape(inventory_registry)
    assert value(samples, "herder_backend_up", kind="SCVMM", name="vmm1") is None
    assert value(samples, "herder_resource_pool_cpu_reservation_hertz", pool="team-b", zone="az1") is None
    assert value(samples, "herder_images", kind="ClusterImage", state="Importing") is None


def test_quota_limits_and_use_per_resource(inventory: Inventory, inventory_registry: CollectorRegistry) -> None:
    inventory.record_quota(("team-a", "compute"), {"cpu": 10.0, "memory": 20.0 * GIB}, {"cpu": 9.0, "memory": 0.0})
    samples = scrape(inventory_registry)
    assert value(samples, "herder_quota_hard", namespace="team-a", quota="compute", resource="cpu") == 10
    assert value(samples, "herder_quota_used", namespace="team-a", quota="compute", resource="cpu") == 9
    assert value(samples, "herder_quota_hard", namespace="team-a", quota="compute", resource="memory") == 20 * GIB
    assert value(samples, "herder_quota_used", namespace="team-a", quota="compute", resource="servers") is None
    inventory.forget_quota(("team-a", "compute"))
    assert value(scrape(inventory_registry), "herder_quota_hard", namespace="team-a", quota="compute",
                 resource="cpu") is None


def test_inventory_is_thread_safe(inventory: Inventory, inventory_registry: CollectorRegistry) -> None:
    def writer(worker: int) -> None:
        for i in range(300):
            inventory.record_ecs((f"ns{worker}", f"vm{i}"), "Running", "On", "az1", True)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        scrape(inventory_registry)  # concurrent reads must not raise "dict changed size during iteration"
    for thread in threads:
        thread.join()
    samples = scrape(inventory_registry)
    assert sum(v for (name, _), v in samples.items() if name == "herder_ecs") == 1200


# -- event metrics on the module registry -----------------------------------------------------------------------
def test_backend_request_hook_counts_by_provider_and_operation() -> None:
    hook = metrics.backend_request_hook("vcenter")
    before = scrape(metrics.REGISTRY)
    labels = {"provider": "vcenter", "operation": "CloneVM_Task"}
    hook("CloneVM_Task", True, 0.2)
    hook("CloneVM_Task", False, 3.0)
    metrics.backend_request_hook("scvmm")("CloneVM_Task", True, 0.1)
    after = scrape(metrics.REGISTRY)

    def delta(metric: str, **extra: str) -> float:
        return (value(after, metric, **labels, **extra) or 0.0) - (value(before, metric, **labels, **extra) or 0.0)

    assert delta("herder_backend_requests_total") == 2
    assert delta("herder_backend_request_errors_total") == 1
    assert delta("herder_backend_request_duration_seconds_count") == 2
    assert delta("herder_backend_request_duration_seconds_sum") == pytest.approx(3.2)
    assert delta("herder_backend_request_duration_seconds_bucket", le="0.25") == 1
    assert delta("herder_backend_request_duration_seconds_bucket", le="5.0") == 2


def test_reconcile_timer_records_result_and_duration() -> None:
    before = scrape(metrics.REGISTRY)
    fake = FakeClock()

    def tick() -> float:
        fake.advance(0.5)
        return fake.now

    with metrics.reconcile_timer("ResourcePool", clock=tick):
        pass
    with pytest.raises(RuntimeError), metrics.reconcile_timer("ResourcePool", clock=tick):
        raise RuntimeError("backend down")
    after = scrape(metrics.REGISTRY)

    def delta(metric: str, **labels: str) -> float:
        return (value(after, metric, **labels) or 0.0) - (value(before, metric, **labels) or 0.0)

    assert delta("herder_reconcile_total", kind="ResourcePool", result="success") == 1
    assert delta("herder_reconcile_total", kind="ResourcePool", result="error") == 1
    assert delta("herder_reconcile_duration_seconds_count", kind="ResourcePool") == 2
    assert delta("herder_reconcile_duration_seconds_sum", kind="ResourcePool") == pytest.approx(1.0)


def test_module_registry_exposes_every_family() -> None:
    families = {f.name: f.type for f in text_string_to_metric_families(generate_latest(metrics.REGISTRY).decode())}
    expected = {
        "herder_reconcile": "counter", "herder_reconcile_duration_seconds": "histogram",
        "herder_backend_requests": "counter", "herder_backend_request_errors": "counter",
        "herder_backend_request_duration_seconds": "histogram", "herder_backend_up": "gauge",
        "herder_ecs": "gauge", "herder_ecs_ready": "gauge", "herder_ecs_not_ready_seconds": "gauge",
        "herder_images": "gauge",
        "herder_resource_pool_cpu_reservation_hertz": "gauge", "herder_resource_pool_memory_reservation_bytes": "gauge",
        "herder_resource_pool_cpu_usage_hertz": "gauge", "herder_resource_pool_memory_usage_bytes": "gauge",
        "herder_ecs_vcpu_seconds": "counter", "herder_ecs_memory_byte_seconds": "counter",
        "herder_ecs_disk_byte_seconds": "counter", "herder_quota_hard": "gauge", "herder_quota_used": "gauge",
        "process_cpu_seconds": "counter",  # process collector: memory, CPU, fds of the operator
    }
    assert {name: families.get(name) for name in expected} == expected


def test_start_server_serves_the_registry() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    metrics.start_server(port, addr="127.0.0.1")
    metrics.set_backend_up("VCenter", "served-test", True)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        metrics.forget_backend("VCenter", "served-test")
    assert 'herder_backend_up{kind="VCenter",name="served-test"} 1.0' in body
