"""NICs on both backends: by network name in order, with a MAC address and static addressing at creation; added,
moved and removed on a running server; addresses from an SCVMM static IP pool, exhausted or taken; a zone that
allows some networks only. What each backend holds is read with its own tools (govc; the SCVMM simulator's admin
state)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from e2e_world import (
    Backend,
    Govc,
    ScvmmSim,
    apply,
    condition_is,
    patch_spec,
    stays,
    wait_for,
    wait_ready,
)

from herder_dev.operator_process import OperatorProcess
from herder_dev.stack import StackState


@dataclass(frozen=True)
class Nets:
    """Two networks of a backend, and a static address setting it takes."""

    first: str
    second: str
    static: dict[str, Any]  # a NIC's addressing fields
    address: str  # the address the guest then reports


NETS = {
    "vcenter": Nets("VM Network", "DC0_DVPG0", {"addressing": "Static", "ipv4": {
        "address": "10.0.5.7/24", "gateway": "10.0.5.1", "dnsServers": ["10.0.5.2"]}}, "10.0.5.7"),
    "scvmm": Nets("Herder-VMNet", "Herder-Backup", {"addressing": "Static"}, "10.30.0."),
}


@pytest.fixture(params=["vcenter", "scvmm"])
def backend(request: pytest.FixtureRequest, stack: StackState, operator: OperatorProcess, govc: Govc) -> Backend:
    if request.param == "scvmm" and not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    return Backend(request.param, stack, govc)


def nics(backend: Backend, namespace: str, name: str) -> list[dict[str, Any]]:
    """{network, mac, addresses} of each NIC, in order, as the backend's own tools show them."""
    full = f"{namespace}.{name}"
    if backend.sim is not None:
        state = backend.sim.state()
        names = {n["id"]: n["name"] for n in state["vm_networks"]}
        vm = next(v for v in state["vms"] if v["name"] == full)
        return [{"network": names.get(n.get("vm_network") or ""), "mac": n["mac"], "addresses": n["ipv4"]}
                for n in vm["nics"]]
    info = backend.govc.vm(full)
    assert info is not None
    cards = sorted((d for d in info["config"]["hardware"]["device"] if "macAddress" in d), key=lambda d: d["key"])
    guest = {n.get("deviceConfigId"): n for n in info["guest"].get("net") or []}
    networks = json.loads(backend.govc("ls", "-json", "/DC0/network").stdout or "{}").get("elements") or []
    by_key = {e["Object"]["self"]["value"]: e["Object"]["name"] for e in networks}
    out = []
    for card in cards:
        backing = card["backing"]
        network = backing.get("deviceName") or by_key.get((backing.get("port") or {}).get("portgroupKey"))
        out.append({"network": network, "mac": card["macAddress"].upper(),
                    "addresses": (guest.get(card["key"]) or {}).get("ipAddress") or []})
    return out


def test_nics_in_order_with_a_mac_and_a_static_address(stack: StackState, backend: Backend, namespace: str) -> None:
    nets = NETS[backend.kind]
    mac = "00:50:56:3F:00:10" if backend.kind == "vcenter" else "00:1D:D8:B7:2C:10"
    apply(stack, backend.manifest("multi", networks=[{"network": nets.first} | nets.static,
                                                     {"network": nets.second, "macAddress": mac.lower()}]),
          namespace=namespace)
    status = wait_ready(stack, namespace, "multi", timeout=60)
    got = nics(backend, namespace, "multi")
    assert [n["network"] for n in got] == [nets.first, nets.second]
    assert got[1]["mac"] == mac
    assert len(got[0]["addresses"]) == 1 and got[0]["addresses"][0].startswith(nets.address), got
    # status says the same.
    assert [(n["network"], n.get("macAddress")) for n in status["networks"]] == [
        (nets.first, got[0]["mac"]), (nets.second, mac)]
    assert got[0]["addresses"][0] in status["ipAddresses"]


def test_nics_are_added_moved_and_removed_on_a_running_server(stack: StackState, backend: Backend,
                                                              namespace: str) -> None:
    nets = NETS[backend.kind]
    apply(stack, backend.manifest("nic", networks=[{"network": nets.first}]), namespace=namespace)
    wait_ready(stack, namespace, "nic")
    before = backend.vm(namespace, "nic")
    assert before is not None

    def networks_are(*wanted: str) -> bool:
        return [n["network"] for n in nics(backend, namespace, "nic")] == list(wanted)

    patch_spec(stack, namespace, "nic", {"networks": [{"network": nets.second}, {"network": nets.first}]})
    wait_for(lambda: networks_are(nets.second, nets.first), timeout=45, what="moved and added")
    patch_spec(stack, namespace, "nic", {"networks": [{"network": nets.second}]})
    wait_for(lambda: networks_are(nets.second), timeout=45, what="removed")
    status = wait_ready(stack, namespace, "nic")
    assert [n["network"] for n in status["networks"]] == [nets.second]
    after = backend.vm(namespace, "nic")
    assert after is not None and after["id"] == before["id"] and after["power"] == "On"  # live, the same VM
    assert backend.count(namespace) == 1


def test_a_zone_that_allows_some_networks_refuses_others(stack: StackState, backend: Backend,
                                                         namespace: str) -> None:
    nets = NETS[backend.kind]
    zone = json.loads(stack.kubectl("get", "az", backend.zone, "-o", "json").stdout)
    name = f"{backend.kind}-only-{uuid.uuid4().hex[:6]}"
    apply(stack, {"apiVersion": "herder.dev/v1alpha1", "kind": "AvailabilityZone", "metadata": {"name": name},
                  "spec": zone["spec"] | {"allowedNetworks": [nets.first]}})
    try:
        apply(stack, backend.manifest("outside", availabilityZone=name, networks=[{"network": nets.second}]),
              backend.manifest("inside", availabilityZone=name, networks=[{"network": nets.first}]),
              namespace=namespace)
        status = wait_for(lambda: condition_is(stack, "ecs", "outside", namespace, "Provisioned", "False",
                                               "NetworkNotAllowed"), timeout=30, what="NetworkNotAllowed")
        message = next(c["message"] for c in status["conditions"] if c["type"] == "Provisioned")
        assert nets.second in message and nets.first in message
        wait_ready(stack, namespace, "inside")
        stays(lambda: backend.names(namespace) == [f"{namespace}.inside"], 2, what="no VM outside")
    finally:
        stack.kubectl("delete", "ecs", "--all", "--wait=true", "--timeout=60s", namespace=namespace)
        stack.kubectl("delete", "az", name, "--wait=true", "--timeout=60s")


# -- SCVMM's static IP pool ------------------------------------------------------------------------------------

@pytest.fixture
def sim(stack: StackState, operator: OperatorProcess) -> ScvmmSim:
    if not stack.scvmm_url:
        pytest.skip("the stack runs no SCVMM simulator")
    return ScvmmSim(stack)


@pytest.fixture
def granted(sim: ScvmmSim) -> Iterator[list[str]]:
    """Addresses of Herder-Pool granted behind herder's back; revoked afterwards."""
    taken: list[str] = []
    yield taken
    for address in taken:
        sim.run_ps(f"$ip = Get-SCIPAddress -IPAddress '{address}'\nif ($ip) {{ $null = Revoke-SCIPAddress $ip }}")


def grant(sim: ScvmmSim, granted: list[str], address: str) -> None:
    sim.run_ps("$p = Get-SCStaticIPAddressPool -Name 'Herder-Pool'\n$null = Grant-SCIPAddress -StaticIPAddressPool $p "
               f"-GrantToObjectType VirtualMachine -IPAddress '{address}'")
    granted.append(address)


def free_addresses(sim: ScvmmSim) -> list[str]:
    """Herder-Pool's free addresses, as VMM lists its allocations (Get-SCIPAddress) to a plain WinRM client."""
    taken = set(sim.run_ps("$p = Get-SCStaticIPAddressPool -Name 'Herder-Pool'\n"
                           "@(Get-SCIPAddress -StaticIPAddressPool $p) | ForEach-Object { $_.Address }").split())
    return [f"10.30.0.{i}" for i in range(10, 21) if f"10.30.0.{i}" not in taken]


def test_scvmm_pool_exhaustion_and_a_taken_address_are_reported_and_heal(
        stack: StackState, sim: ScvmmSim, govc: Govc, namespace: str, granted: list[str]) -> None:
    scvmm = Backend("scvmm", stack, govc)
    free = free_addresses(sim)
    wanted = free[0]
    grant(sim, granted, wanted)
    for address in free[1:]:
        grant(sim, granted, address)
    apply(stack, scvmm.manifest("pooled", networks=[{"network": "Herder-VMNet", "addressing": "Static"}]),
          scvmm.manifest("chosen", networks=[{"network": "Herder-VMNet", "addressing": "Static",
                                              "ipv4": {"address": f"{wanted}/24"}}]), namespace=namespace)
    for name, words in (("pooled", "no available IP addresses"), ("chosen", wanted)):
        status = wait_for(lambda n=name: condition_is(stack, "ecs", n, namespace, "Provisioned",  # type: ignore[misc]
                                                      "False", "AddressUnavailable"),
                          timeout=30, what=f"{name}: AddressUnavailable")
        message = next(c["message"] for c in status["conditions"] if c["type"] == "Provisioned")
        assert words in message, message
    # Never a half-made server, and nothing held for it.
    stays(lambda: scvmm.count(namespace) == 0, 2, what="no VM made")
    assert not sim.state()["configs"]
    # Addresses come free: both are made, each with the address it asked for (the pool's one first, so that it
    # cannot take the chosen one).
    sim.run_ps(f"$null = Revoke-SCIPAddress (Get-SCIPAddress -IPAddress '{free[-1]}')")
    wait_ready(stack, namespace, "pooled", timeout=90)
    sim.run_ps(f"$null = Revoke-SCIPAddress (Get-SCIPAddress -IPAddress '{wanted}')")
    wait_ready(stack, namespace, "chosen", timeout=90)
    assert nics(scvmm, namespace, "chosen")[0]["addresses"] == [wanted]
    assert nics(scvmm, namespace, "pooled")[0]["addresses"] == [free[-1]]
    stack.kubectl("delete", "ecs", "chosen", "pooled", "--wait=true", "--timeout=60s", namespace=namespace)
    assert {wanted, free[-1]} <= set(free_addresses(sim))  # deleting the servers gave them back


def test_vcenter_refuses_what_it_cannot_do_for_a_nic(stack: StackState, operator: OperatorProcess, govc: Govc,
                                                     namespace: str) -> None:
    vcenter = Backend("vcenter", stack, govc)
    apply(stack, vcenter.manifest("pool", networks=[{"network": "VM Network", "addressing": "Static"}]),
          vcenter.manifest("vlan", networks=[{"network": "VM Network", "vlan": 100}]), namespace=namespace)
    for name, words in (("pool", "vCenter has no IP address pools"), ("vlan", "the port group fixes the VLAN")):
        status = wait_for(lambda n=name: condition_is(stack, "ecs", n, namespace, "Provisioned", "False",  # type: ignore[misc]
                                                      "NotSupported"), timeout=30, what=f"{name}: NotSupported")
        assert words in next(c["message"] for c in status["conditions"] if c["type"] == "Provisioned")
    assert vcenter.count(namespace) == 0
