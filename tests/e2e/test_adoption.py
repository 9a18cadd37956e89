"""Adoption across tenants, on both backends: closed unless a zone opens it to a namespace, refused for a VM another
herder object claims or one outside the opened folder / host group, and a refused VM is left exactly as it was
(read back with govc, or the SCVMM simulator's admin API and a plain pywinrm session)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_world import (
    Backend,
    Govc,
    apply,
    condition_is,
    conditions,
    stays,
    uid_of,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState

TENANT = "herder-e2e/tenant"
ADOPTER = "herder-e2e/adopt"


@dataclass(frozen=True)
class World:
    """Two tenant namespaces on one backend, and a zone of their own on the backend's placement, open to
    adoption for namespaces labelled ADOPTER=<token> from `source` (a VM folder or a host group)."""

    stack: StackState
    backend: Backend
    zone: str
    token: str
    source: str  # vCenter: the opened folder under /DC0/vm; SCVMM: the opened host group's name
    outside: str  # vCenter: a folder that is not opened; SCVMM: a host group outside the zone

    def namespace(self, *, adopter: bool) -> str:
        name = f"t-adopt-{uuid.uuid4().hex[:8]}"
        self.stack.kubectl("create", "namespace", name)
        labels = [f"{TENANT}={self.token}"] + ([f"{ADOPTER}={self.token}"] if adopter else [])
        self.stack.kubectl("label", "namespace", name, *labels)
        return name

    def adopter(self, name: str, unique_id: str, zone: str | None = None) -> dict[str, Any]:
        """An ECS adopting `unique_id`, sized as the VMs make_vm makes (adoption alone, no resize)."""
        return self.backend.manifest(name, image=None, availabilityZone=zone or self.zone, cpu=self.size[0],
                                     memory=f"{self.size[1]}Mi", adoptFrom={"uniqueID": unique_id})

    @property
    def size(self) -> tuple[int, int]:
        """(vCPUs, MiB) of the template make_vm clones."""
        return (1, 1024) if self.backend.sim is None else (2, 2048)

    def vm(self, name: str, where: str | None = None) -> dict[str, Any] | None:
        folder = (where or self.source) if self.backend.sim is None else ""
        return self.backend.vm_named(name, folder)


@pytest.fixture(params=["vcenter", "scvmm"])
def world(request: pytest.FixtureRequest, stack: StackState, operator: OperatorProcess,
          govc: Govc) -> Iterator[World]:
    if request.param == "scvmm" and not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    backend = Backend(request.param, stack, govc)
    token = uuid.uuid4().hex[:8]
    scvmm = backend.sim is not None
    source = "Zone-A" if scvmm else f"adopt-{token}"
    spec = backend.zone_spec() | {
        # only this test's namespaces may place servers here (the scheduler must not pick it for other tests)
        "allowedNamespaces": {"matchLabels": {TENANT: token}},
        "adoption": {"allowedNamespaces": {"matchLabels": {ADOPTER: token}},
                     **({"hostGroups": ["All Hosts\\Zone-A"]} if scvmm else {"folders": [f"vm/{source}"]})},
    }
    zone = f"adopt-{token}"
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": zone},
                  "spec": spec})
    wait_for(lambda: condition_is(stack, "az", zone, None, "Ready", "True"), timeout=30, what=f"zone {zone} Ready")
    try:
        yield World(stack, backend, zone, token, source, "Zone-B" if scvmm else f"infra-{token}")
    finally:
        stack.kubectl("delete", "az", zone, "--wait=false", check=False)


def _refused(stack: StackState, namespace: str, name: str, says: str) -> str:
    status = wait_for(lambda: condition_is(stack, "ecs", name, namespace, "Provisioned", "False", "AdoptionRefused"),
                      timeout=30, what=f"ECS {namespace}/{name} AdoptionRefused")
    message: str = conditions(status)["Provisioned"]["message"]
    assert says in message, message
    assert conditions(status)["Ready"]["reason"] == "AdoptionRefused"
    assert "uniqueID" not in status and "managedObjectID" not in status  # nothing of the VM is recorded
    return message


def _untouched(world: World, name: str, before: dict[str, Any], where: str | None = None) -> None:
    """The VM as the backend's own tools show it: no mark written, no power change, the same size, for a while."""
    def same() -> bool:
        return world.vm(name, where) == before

    stays(same, 4, what=f"{world.backend}: VM {name} untouched")


def test_adoption_is_closed_unless_a_zone_opens_it_to_the_namespace(world: World) -> None:
    stack = world.stack
    vm_name = f"legacy-{world.token}"
    vm_id = world.backend.make_vm(vm_name, world.source)
    before = world.vm(vm_name)
    assert before is not None and before["owner"] == "" and before["power"] == "On"
    # a namespace that may use the zone but is not opened to adoption
    tenant = world.namespace(adopter=False)
    apply(stack, world.adopter("grab", vm_id), namespace=tenant)
    _refused(stack, tenant, "grab", f"does not open adoption to namespace {tenant}")
    # the session's zone on the same placement opens adoption to nobody
    opened = world.namespace(adopter=True)
    apply(stack, world.adopter("elsewhere", vm_id, zone=world.backend.zone), namespace=opened)
    _refused(stack, opened, "elsewhere", "is not open to adoption")
    _untouched(world, vm_name, before)


def test_adoption_in_an_opened_zone_marks_the_vm_and_manages_it(world: World) -> None:
    stack = world.stack
    vm_name = f"legacy-{world.token}"
    vm_id = world.backend.make_vm(vm_name, world.source)
    tenant = world.namespace(adopter=True)
    apply(stack, world.adopter("mine", vm_id), namespace=tenant)
    status = wait_ready(stack, tenant, "mine", timeout=45)
    adopted = world.vm(vm_name)
    assert adopted is not None and status["uniqueID"] == vm_id == adopted["id"]
    assert adopted["owner"] == uid_of(stack, tenant, "mine")
    assert world.backend.names(tenant) == []  # adopted, not cloned
    stack.kubectl("delete", "ecs", "mine", "--wait=false", namespace=tenant)
    wait_for(lambda: world.vm(vm_name) is None, timeout=45, what="the adopted VM deleted with its ECS")


def test_cross_tenant_adoption_is_refused(world: World) -> None:
    """Tenant B, opened to adoption too, names tenant A's VMs: the one herder made for A's server, and the one A
    adopted. Both are refused and stay exactly as they were."""
    stack = world.stack
    tenant_a, tenant_b = world.namespace(adopter=True), world.namespace(adopter=True)
    # A's own server (herder made its VM) and a VM A adopted
    apply(stack, world.backend.manifest("app", availabilityZone=world.zone), namespace=tenant_a)
    made = wait_ready(stack, tenant_a, "app", timeout=60)
    vm_name = f"legacy-{world.token}"
    vm_id = world.backend.make_vm(vm_name, world.source)
    apply(stack, world.adopter("adopted", vm_id), namespace=tenant_a)
    wait_ready(stack, tenant_a, "adopted", timeout=45)
    app_before = world.backend.vm(tenant_a, "app")
    adopted_before = world.vm(vm_name)
    assert app_before is not None and adopted_before is not None
    assert adopted_before["owner"] == uid_of(stack, tenant_a, "adopted")

    apply(stack, world.adopter("steal-app", made["uniqueID"]), world.adopter("steal-adopted", vm_id),
          namespace=tenant_b)
    for name in ("steal-app", "steal-adopted"):
        message = _refused(stack, tenant_b, name, "belongs to another herder object")
        assert tenant_a not in message  # tenant A is not named to tenant B
    stays(lambda: world.backend.vm(tenant_a, "app") == app_before, 4, what="A's own VM untouched")
    _untouched(world, vm_name, adopted_before)
    assert condition_is(stack, "ecs", "app", tenant_a, "Ready", "True")
    assert condition_is(stack, "ecs", "adopted", tenant_a, "Ready", "True")
    # deleting B's refused servers deletes nothing of A's
    stack.kubectl("delete", "ecs", "steal-app", "steal-adopted", namespace=tenant_b)
    assert world.backend.vm(tenant_a, "app") == app_before and world.vm(vm_name) == adopted_before


def test_marked_vms_and_vms_outside_the_opened_source_are_refused(world: World) -> None:
    stack = world.stack
    tenant = world.namespace(adopter=True)
    marked_name, outside_name = f"marked-{world.token}", f"infra-{world.token}"
    marked_id = world.backend.make_vm(marked_name, world.source)
    world.backend.mark(marked_name, str(uuid.uuid4()), world.source if world.backend.sim is None else "")
    outside_id = world.backend.make_vm(outside_name, world.outside)
    marked_before = world.vm(marked_name)
    outside_before = world.vm(outside_name, world.outside)
    assert marked_before is not None and marked_before["owner"] and outside_before is not None

    apply(stack, world.adopter("marked", marked_id), world.adopter("outside", outside_id), namespace=tenant)
    _refused(stack, tenant, "marked", "belongs to another herder object")
    # vCenter: a folder that is not opened; SCVMM: a host group outside the zone
    _refused(stack, tenant, "outside", "outside the folders" if world.backend.sim is None else "not in Availab")
    _untouched(world, marked_name, marked_before)
    _untouched(world, outside_name, outside_before, world.outside)
