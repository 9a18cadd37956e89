"""Adoption decisions: closed unless a zone opens it to the namespace; only an unclaimed VM inside the zone and one
of its opened folders / host groups is taken; the planner neither marks nor touches a refused VM."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from herder.api import AvailabilityZone
from herder.providers.types import ObservedVM, PowerState, VCenterPlacement, VMLocation, VMSpec
from herder.reconcile.adoption import closed, refused
from herder.reconcile.ecs import Desired, Recorded, Step, plan

OWN = "own-ecs-uid"
TARGET = "4207a8b4-1111-2222-3333-444455556666"
VM = ObservedVM(unique_id=TARGET, ref="vm-7", name="tenant-b.db", power=PowerState.ON, cpu=1, memory_mib=1024)
IN_FOLDER = VMLocation(host="DC0_C0_H0", folder="/DC0/vm/migrating/batch-1", vm_root="/DC0/vm", compute="DC0_C0")


def zone(adoption: dict[str, Any] | None = None, *, scvmm: bool = False, **placement: str) -> AvailabilityZone:
    spec: dict[str, Any] = {"region": "r", "provider": {"kind": "SCVMM" if scvmm else "VCenter", "name": "p"}}
    if scvmm:
        spec["scvmm"] = {"libraryShare": "\\\\lib", "vmPath": "D:\\VMs", "logicalNetwork": "n"} | (
            placement or {"hostGroup": "All Hosts\\Zone-A"})
    else:
        spec["vcenter"] = {"datastore": "ds", "network": "n", "folder": "vm"} | (placement or {"cluster": "DC0_C0"})
    if adoption is not None:
        spec["adoption"] = adoption
    return AvailabilityZone.model_validate({"metadata": {"name": "z1"}, "spec": spec})


OPEN = {"allowedNamespaces": {"matchLabels": {"adopt": "yes"}}, "folders": ["vm/migrating"]}


def test_adoption_is_closed_by_default_and_opens_only_to_the_selected_namespaces() -> None:
    assert "not open to adoption" in (closed(zone(), "team-a", {"adopt": "yes"}) or "")
    assert "does not open adoption to namespace team-b" in (closed(zone(OPEN), "team-b", {}) or "")
    assert closed(zone(OPEN), "team-a", {"adopt": "yes"}) is None
    everyone = {"allowedNamespaces": {}, "folders": ["vm"]}
    assert closed(zone(everyone), "anyone", {}) is None


@pytest.mark.parametrize("folders", [["vm/migrating"], ["migrating"], ["/DC0/vm/migrating"], ["vm"], ["/DC0/vm/"]])
def test_an_unclaimed_vm_in_an_opened_folder_of_the_zone_may_be_adopted(folders: list[str]) -> None:
    assert refused(zone(OPEN | {"folders": folders}), VM, IN_FOLDER, OWN, frozenset()) is None


@pytest.mark.parametrize(("vm", "claimants", "where", "says"), [
    # another ECS's owner mark (adopted by someone else, or an SCVMM VM herder made)
    (replace(VM, owner_uid="other-ecs"), frozenset(), IN_FOLDER, "belongs to another"),
    # a VM herder created for another ECS carries that ECS's UID as its instance UUID
    (VM, frozenset({"other-ecs"}), IN_FOLDER, "belongs to another"),
    # a folder that is not opened (a sibling whose name starts the same way, too)
    (VM, frozenset(), VMLocation(folder="/DC0/vm/infra", vm_root="/DC0/vm", compute="DC0_C0"), "outside the folders"),
    (VM, frozenset(), VMLocation(folder="/DC0/vm/migrating-old", vm_root="/DC0/vm", compute="DC0_C0"),
     "outside the folders"),
    # outside the zone's cluster
    (VM, frozenset(), VMLocation(folder="/DC0/vm/migrating", vm_root="/DC0/vm", compute="DC0_C1"),
     "not in AvailabilityZone z1"),
])
def test_claimed_or_misplaced_vms_are_refused(vm: ObservedVM, claimants: frozenset[str], where: VMLocation,
                                              says: str) -> None:
    why = refused(zone(OPEN), vm, where, OWN, claimants)
    assert why is not None and says in why
    assert "tenant-b" not in why  # another tenant's names are not shown


def test_a_vm_this_server_already_marked_is_its_own() -> None:
    mine = replace(VM, owner_uid=OWN)
    assert refused(zone(OPEN), mine, IN_FOLDER, OWN, frozenset({OWN})) is None


def test_scvmm_host_groups_compare_as_windows_paths() -> None:
    policy = {"allowedNamespaces": {}, "hostGroups": ["All Hosts\\Zone-A\\Tenants"]}
    inside = VMLocation(host_group="all hosts\\zone-a\\tenants\\b")
    assert refused(zone(policy, scvmm=True), VM, inside, OWN, frozenset()) is None
    other = VMLocation(host_group="All Hosts\\Zone-A\\Infra")
    assert "outside the host groups" in (refused(zone(policy, scvmm=True), VM, other, OWN, frozenset()) or "")
    elsewhere = VMLocation(host_group="All Hosts\\Zone-B\\Tenants")
    assert "not under All Hosts\\Zone-A" in (refused(zone(policy, scvmm=True), VM, elsewhere, OWN, frozenset()) or "")
    cloud_zone = zone(policy, scvmm=True, cloud="Cloud-Gold")
    assert "not in Cloud-Gold" in (refused(cloud_zone, VM, VMLocation(host_group="All Hosts\\Zone-A\\Tenants",
                                                                     cloud="Cloud-Dev"), OWN, frozenset()) or "")


def test_a_refused_vm_gets_no_step_at_all() -> None:
    spec = VMSpec(uid=OWN, name="ns.adopted", template="", cpu=1, memory_mib=1024, placement=VCenterPlacement())
    p = plan(Desired(spec, adopt_unique_id=TARGET, adoption_refused="VM x belongs to another herder object"),
             None, Recorded())
    assert p.step is Step.NONE
    provisioned = next(c for c in p.conditions if c.type == "Provisioned")
    assert (provisioned.status, provisioned.reason, provisioned.message) == (
        False, "AdoptionRefused", "VM x belongs to another herder object")
    ready = next(c for c in p.conditions if c.type == "Ready")
    assert ready.reason == "AdoptionRefused"
