"""Guest OS customization and Run As accounts over WinRM; no password ever leaves through cmdlet output."""

from __future__ import annotations

from test_vmm import HEAD, ps_json, vm_in_state

from conftest import Sim
from herder_dev.scvmm_sim.vmm.diskfile import write_vhdx

SECRET = "Adm1n-Pa55-w0rd!"
JOIN_SECRET = "J0in-Secr3t"
CREDENTIALS = HEAD + (
    f"$pw = ConvertTo-SecureString '{SECRET}' -AsPlainText -Force\n"
    "$cred = New-Object System.Management.Automation.PSCredential('HERDER\\admin', $pw)\n"
    f"$join = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList 'HERDER\\joiner', "
    f"(ConvertTo-SecureString '{JOIN_SECRET}' -AsPlainText -Force)\n"
)


def config(template: str, name: str) -> str:
    return (f"$cfg = New-SCVMConfiguration -VMTemplate (Get-SCVMTemplate -Name '{template}') -Name '{name}' "
            "-VMHostGroup (Get-SCVMHostGroup -Name 'Zone-B')\n")


def test_run_as_accounts_never_show_the_password(sim: Sim) -> None:
    out = ps_json(sim, CREDENTIALS + "$a = New-SCRunAsAccount -Name 'herder-admin' -Credential $cred "
                  "-Description 'guest admin'\n"
                  "[pscustomobject]@{ Name = $a.Name; User = $a.UserName; Domain = $a.Domain; "
                  "Found = @(Get-SCRunAsAccount -Name 'herder-admin').Count; Account = (Get-SCRunAsAccount); "
                  "Credential = $cred; Length = $cred.Password.Length } | ConvertTo-Json -Depth 5")
    assert (out["Name"], out["User"], out["Domain"], out["Found"], out["Length"]) == (
        "herder-admin", "admin", "HERDER", 1, len(SECRET))
    assert out["Credential"]["UserName"] == "HERDER\\admin"
    assert SECRET not in str(out)
    r = sim.ps(CREDENTIALS + "New-SCRunAsAccount -Name 'HERDER-ADMIN' -Credential $cred")
    assert r.status_code == 1 and b"(Error ID: 12703)" in r.std_err
    r = sim.ps(HEAD + f"ConvertTo-SecureString '{SECRET}' -AsPlainText")
    assert r.status_code == 1 and b"ImportSecureString_InvalidArgument" in r.std_err
    r = sim.ps(CREDENTIALS + "$cred.GetNetworkCredential().Password")
    assert r.status_code == 1 and b"does not support" in r.std_err and SECRET.encode() not in r.std_out
    ps_json(sim, HEAD + "Remove-SCRunAsAccount -RunAsAccount (Get-SCRunAsAccount -Name 'herder-admin')\n'{}'")
    assert sim.admin("GET", "/admin/state")["run_as_accounts"] == []


def test_a_windows_guest_receives_its_profile(sim: Sim) -> None:
    script = CREDENTIALS + "$admin = New-SCRunAsAccount -Name 'herder-admin' -Credential $cred\n" + \
        config("windows-2022-tmpl", "win-1") + (
            "$vm = New-SCVirtualMachine -Name 'win-1' -VMConfiguration $cfg -ComputerName 'WIN01' -TimeZone 85 "
            "-ProductKey 'AAAAA-BBBBB-CCCCC-DDDDD-EEEEE' -LocalAdministratorCredential $admin -JoinDomain "
            "'herder.test' -DomainJoinCredential $join -FullName 'Herder' -OrgName 'Herder Inc' "
            "-GuiRunOnceCommands 'cmd /c echo one', 'cmd /c echo two'\n"
            "$vm = Get-SCVirtualMachine -ID $vm.ID\n"
            "[pscustomobject]@{ ID = [string]$vm.ID; Computer = $vm.ComputerName; All = $vm } | "
            "ConvertTo-Json -Depth 6")
    out = ps_json(sim, script)
    assert out["Computer"] == "WIN01"
    assert SECRET not in str(out) and JOIN_SECRET not in str(out)
    guest = (vm_in_state(sim, out["ID"]) or {})["guest"]
    account = sim.admin("GET", "/admin/state")["run_as_accounts"][0]
    assert guest == {
        "computer_name": "WIN01", "time_zone": 85, "product_key": "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE",
        "local_administrator": {"run_as_account": account["id"], "user": "HERDER\\admin", "password": SECRET},
        "domain": "herder.test",
        "domain_join": {"run_as_account": None, "user": "HERDER\\joiner", "password": JOIN_SECRET},
        "full_name": "Herder", "organization_name": "Herder Inc",
        "gui_run_once_commands": ["cmd /c echo one", "cmd /c echo two"], "os_type": "Windows",
    }


def test_a_linux_guest_and_the_configuration_computer_name(sim: Sim) -> None:
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHerderTestKey herder@test"
    out = ps_json(sim, CREDENTIALS + config("ubuntu-22.04-tmpl", "lin-1") + (
        "$cfg = Set-SCVMConfiguration -VMConfiguration $cfg -ComputerName 'lin01'\n"
        f"$vm = New-SCVirtualMachine -Name 'lin-1' -VMConfiguration $cfg -LinuxDomainName 'herder.test' "
        f"-LinuxAdministratorSSHKeyString '{key}' -LocalAdministratorCredential $cred\n"
        "[pscustomobject]@{ ID = [string]$vm.ID; Computer = $vm.ComputerName } | ConvertTo-Json -Compress"))
    assert out["Computer"] == "lin01"
    guest = (vm_in_state(sim, out["ID"]) or {})["guest"]
    assert (guest["linux_domain_name"], guest["linux_administrator_ssh_key"], guest["os_type"]) == (
        "herder.test", key, "Linux")
    assert guest["local_administrator"]["password"] == SECRET


def test_templates_carry_a_profile_and_a_non_customizable_one_refuses_it(sim: Sim) -> None:
    write_vhdx(sim.running.sim.store.library_root / "vmm01.herder.test" / "MSSCVMMLibrary" / "w.vhdx", 1024**3)
    out = ps_json(sim, CREDENTIALS + (
        "$null = Read-SCLibraryShare -LibraryShare (Get-SCLibraryShare)\n$vhd = Get-SCVirtualHardDisk -Name 'w.vhdx'\n"
        "$os = Get-SCOperatingSystem | Where-Object { $_.Name -eq 'Windows Server 2022 Datacenter' }\n"
        "$t = New-SCVMTemplate -Name 'w-custom' -VirtualHardDisk $vhd -OperatingSystem $os -TimeZone 4 "
        "-ComputerName '*' -Workgroup 'LAB' -LocalAdministratorCredential $cred\n"
        "$null = New-SCVMTemplate -Name 'w-fixed' -VirtualHardDisk $vhd -NoCustomization\n"
        "[pscustomobject]@{ Zone = $t.TimeZone; Group = $t.Workgroup; Name = $t.ComputerName; All = $t } | "
        "ConvertTo-Json -Depth 5"))
    assert (out["Zone"], out["Group"], out["Name"]) == (4, "LAB", "*")
    assert SECRET not in str(out)
    vm = ps_json(sim, HEAD + config("w-custom", "w-1") + "$vm = New-SCVirtualMachine -Name 'w-1' -VMConfiguration "
                 "$cfg -TimeZone 85\n[string]$vm.ID | ConvertTo-Json")
    guest = (vm_in_state(sim, vm) or {})["guest"]
    assert (guest["time_zone"], guest["workgroup"], guest["local_administrator"]["password"]) == (85, "LAB", SECRET)
    r = sim.ps(HEAD + config("w-fixed", "w-2") + "New-SCVirtualMachine -Name 'w-2' -VMConfiguration $cfg "
               "-ComputerName 'W2'")
    assert r.status_code == 0, r.std_err  # the computer name is not guest customization
    r = sim.ps(HEAD + config("w-fixed", "w-3") + "New-SCVirtualMachine -Name 'w-3' -VMConfiguration $cfg "
               "-TimeZone 85")
    assert r.status_code == 1 and b"(Error ID: 10649)" in r.std_err


def test_a_credential_parameter_takes_only_credentials(sim: Sim) -> None:
    r = sim.ps(HEAD + config("ubuntu-22.04-tmpl", "x") + "New-SCVirtualMachine -Name 'x' -VMConfiguration $cfg "
               f"-LocalAdministratorCredential '{SECRET}'")
    assert r.status_code == 1 and b"VMMCredential" in r.std_err
