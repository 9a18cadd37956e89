"""Get-/Remove-SCCustomPropertyValue and the Pausing state, as Microsoft's VMM reference describes them."""

from __future__ import annotations

import json

from conftest import Sim

HEAD = "$ProgressPreference = 'SilentlyContinue'\n$ErrorActionPreference = 'Stop'\n"
NEW_VM = HEAD + (
    "$t = Get-SCVMTemplate -Name 'ubuntu-22.04-tmpl'\n$hg = Get-SCVMHostGroup -Name 'Zone-B'\n"
    "$cfg = New-SCVMConfiguration -VMTemplate $t -Name 'vm' -VMHostGroup $hg\n"
    "$vm = New-SCVirtualMachine -Name 'vm' -VMConfiguration $cfg\n"
)


def test_get_and_remove_a_custom_property_value(sim: Sim) -> None:
    r = sim.ps(NEW_VM + "$p = New-SCCustomProperty -Name 'Owner' -AddMember @('VM')\n"
               "$none = @(Get-SCCustomPropertyValue -InputObject $vm -CustomProperty $p).Count\n"
               "$null = Set-SCCustomPropertyValue -InputObject $vm -CustomProperty $p -Value 'me'\n"
               "$v = Get-SCCustomPropertyValue -InputObject $vm -CustomProperty $p\n"
               "$before = $v.Value\n"
               "$null = Remove-SCCustomPropertyValue -CustomPropertyValue $v\n"
               "$after = (Get-SCVirtualMachine -ID $vm.ID).CustomProperty['Owner']\n"
               "ConvertTo-Json -Compress -InputObject @($none, $before, $after)")
    assert r.status_code == 0, r.std_err.decode()
    assert json.loads(r.std_out) == [0, "me", None]
    state = sim.admin("GET", "/admin/state")
    assert state["vms"][0]["custom"] == {}


def test_a_vm_being_paused_can_be_read(sim: Sim) -> None:
    r = sim.ps(NEW_VM + "$vm = Start-SCVirtualMachine -VM $vm\n"
               "$vm = Suspend-SCVirtualMachine -VM $vm -RunAsynchronously\n"
               "[string](Get-SCVirtualMachine -ID $vm.ID).Status")
    assert r.status_code == 0, r.std_err.decode()
    assert r.std_out.decode().strip() == "Pausing"
