"""An ECS's NICs: spec.networks as NICSpecs, zone restrictions, and the changes that make a VM's NICs match."""

from __future__ import annotations

import pytest

from herder.api.ecs import NetworkInterface, PowerState
from herder.errors import Unresolvable
from herder.providers.types import NICSpec, ObservedNIC, ObservedVM, VMChange, VMSpec
from herder.reasons import Reason
from herder.reconcile import nics
from herder.reconcile.ecs import Desired, Recorded, Step, plan


def _interfaces(*items: dict[str, object]) -> list[NetworkInterface]:
    return [NetworkInterface.model_validate(i) for i in items]


def _vm(*have: ObservedNIC, power: PowerState = PowerState.ON, hot: bool = True, mac_hot: bool = True,
        known: bool = True) -> ObservedVM:
    return ObservedVM("u", "vm-1", "ns.web", power, 2, 2048, owner_uid="u", nics=have, disks_known=known,
                      nic_hot_plug=hot, mac_hot_change=mac_hot)


def test_interfaces_become_nic_specs_on_the_default_network() -> None:
    specs = nics.nic_specs(_interfaces(
        {}, {"network": "Herder-VMNet", "vlan": 100, "macAddress": "00-1d-d8-b7-1c-10", "addressing": "Static",
             "ipv4": {"address": "10.30.0.15/24", "gateway": "10.30.0.1", "dnsServers": ["10.30.0.2"]}},
        {"network": "Backup", "addressing": "Static"}), "VM Network", None)
    assert specs == (NICSpec("VM Network"),
                     NICSpec("Herder-VMNet", vlan=100, mac="00:1D:D8:B7:1C:10", static=True, address="10.30.0.15/24",
                             gateway="10.30.0.1", dns=("10.30.0.2",)),
                     NICSpec("Backup", static=True))
    assert nics.nic_specs(None, "VM Network", None) == ()


def test_a_network_the_zone_does_not_allow_is_refused() -> None:
    assert nics.nic_specs(_interfaces({"network": "vm network"}), None, ["VM Network"])[0].network == "vm network"
    with pytest.raises(Unresolvable) as refused:
        nics.nic_specs(_interfaces({"network": "DMZ"}), None, ["VM Network", "Backup"])
    assert refused.value.reason is Reason.NETWORK_NOT_ALLOWED
    assert "'DMZ'" in str(refused.value) and "VM Network, Backup" in str(refused.value)


def test_nics_are_matched_by_position() -> None:
    vm = _vm(ObservedNIC("4000", "VM Network", "00:50:56:00:00:01"), ObservedNIC("4001", "Old", "00:50:56:00:00:02"))
    change = nics.nic_change((NICSpec("vm network"), NICSpec("New"), NICSpec("Third")), vm)
    assert change == VMChange(add_nics=(NICSpec("Third"),), change_nics=(("4001", NICSpec("New")),))
    fewer = nics.nic_change((NICSpec("VM Network", mac="00:50:56:00:00:09"),), vm)
    assert fewer == VMChange(change_nics=(("4000", NICSpec("VM Network", mac="00:50:56:00:00:09")),),
                             remove_nics=("4001",))
    assert nics.nic_change((), vm).is_empty()  # spec.networks unset: left as they are
    assert nics.nic_change((NICSpec("X"),), _vm(known=False)).is_empty()  # a watch update without devices


def test_what_needs_the_vm_stopped() -> None:
    vm = _vm(ObservedNIC("a", "Net", "00:1D:D8:B7:00:01", vlan=100), hot=False, mac_hot=False)
    add = VMChange(add_nics=(NICSpec("Net"),))
    assert nics.needs_stop(add, vm) and not nics.needs_stop(add, _vm(hot=True))
    move = VMChange(change_nics=(("a", NICSpec("Other")),))
    assert not nics.needs_stop(move, vm)  # moving to another network is hot
    mac = VMChange(change_nics=(("a", NICSpec("Other", mac="00:1D:D8:B7:00:09")),))
    assert nics.needs_stop(mac, vm)
    assert nics.hot_part(mac, vm) == VMChange(change_nics=(("a", NICSpec("Other", mac="00:1D:D8:B7:00:01")),))
    assert nics.hot_part(add, vm).is_empty()


def _desired(*networks: NICSpec, cycle: bool = False) -> Desired:
    spec = VMSpec(uid="u", name="ns.web", template="t", cpu=2, memory_mib=2048, placement=None,  # type: ignore[arg-type]
                  networks=networks)
    return Desired(spec=spec, power_cycle_allowed=cycle)


def test_the_planner_changes_nics_live_or_as_the_power_cycle_policy_says() -> None:
    running = _vm(ObservedNIC("a", "Net", "00:1D:D8:B7:00:01"))
    live = plan(_desired(NICSpec("Net"), NICSpec("Backup")), running, Recorded(unique_id="u"))
    assert live.step is Step.RECONFIGURE and live.change.add_nics == (NICSpec("Backup"),)
    generation_1 = _vm(ObservedNIC("a", "Net", "00:1D:D8:B7:00:01"), hot=False)
    held = plan(_desired(NICSpec("Net"), NICSpec("Backup")), generation_1, Recorded(unique_id="u"))
    assert held.step is Step.NONE
    assert next(c for c in held.conditions if c.type == "ConfigSynced").reason is Reason.POWER_CYCLE_REQUIRED
    cycled = plan(_desired(NICSpec("Net"), NICSpec("Backup"), cycle=True), generation_1, Recorded(unique_id="u"))
    assert (cycled.step, cycled.power) == (Step.POWER, PowerState.OFF)
    stopped = _vm(ObservedNIC("a", "Net", "00:1D:D8:B7:00:01"), power=PowerState.OFF, hot=False)
    off = plan(_desired(NICSpec("Net"), NICSpec("Backup"), cycle=True), stopped, Recorded(unique_id="u"))
    assert off.step is Step.RECONFIGURE and off.change.add_nics == (NICSpec("Backup"),)
