"""Host maintenance and placement: Disable-SCVMHost, Enable-SCVMHost, and Set-SCVMHost -AvailableForPlacement.

Sources: Disable-SCVMHost and Set-SCVMHost in the VMM cmdlet reference. A host put into maintenance mode
saves its running virtual machines first (a host outside a cluster, as every simulated host is, saves them
all; -MoveWithinCluster therefore changes nothing here). In maintenance mode, VMs cannot be created on the
host or migrated to it; they can still be started, stopped, and migrated away. The reference shows the host's
state as "In Maintenance Mode"; the simulator shows OverallState MaintenanceMode (its enum name is not
documented). Enable-SCVMHost is taken to mirror Disable-SCVMHost's parameters without -MoveWithinCluster.
"""

from __future__ import annotations

from herder_dev.scvmm_sim.ps.binding import Cmdlet, Invocation, Param, boolean, of_type, string
from herder_dev.scvmm_sim.vmm import effects, views
from herder_dev.scvmm_sim.vmm.cmdlets import Outcome, Vmm, _switch
from herder_dev.scvmm_sim.vmm.state import Record, Store

# A VM that is running keeps its memory on the host: maintenance saves it.
LIVE = ("Running", "Paused")


def _maintenance(store: Store, effect: Record) -> None:
    host = store.find("hosts", effect["host"])
    if host is None:
        return
    host["maintenance"] = effect["on"]
    if effect["on"]:
        for vm in store.all("vms"):
            if vm["host"] == host["id"] and vm["status"] in LIVE:
                vm["status"] = "Saved"


def _set_host(store: Store, effect: Record) -> None:
    host = store.find("hosts", effect["host"])
    if host is not None:
        host.update(effect["fields"])


effects.register("host_maintenance", _maintenance)
effects.register("set_host", _set_host)


class Hosts(Vmm):
    def _host_job(self, inv: Invocation, title: str, effect: Record) -> Outcome:
        host = self.store.get("hosts", str(inv.get("VMHost").props["ID"]), "host")
        self.store.ensure_idle(host["id"], host["name"])
        for vm in self.store.all("vms"):
            if vm["host"] == host["id"] and effect["kind"] == "host_maintenance":
                self.store.ensure_idle(vm["id"], vm["name"])  # maintenance must save them: none may be busy
        job = self._job(inv, host, {**effect, "host": host["id"]}, title)
        return Outcome(lambda: [views.host(self.store, h) for h in self.store.all("hosts") if h["id"] == host["id"]],
                       job)

    def disable_host(self, inv: Invocation) -> Outcome:
        return self._host_job(inv, "Start maintenance mode on host", {"kind": "host_maintenance", "on": True})

    def enable_host(self, inv: Invocation) -> Outcome:
        return self._host_job(inv, "Stop maintenance mode on host", {"kind": "host_maintenance", "on": False})

    def set_host(self, inv: Invocation) -> Outcome:
        fields = {key: inv.get(param) for param, key in (("AvailableForPlacement", "available_for_placement"),
                                                          ("Description", "description")) if inv.has(param)}
        return self._host_job(inv, "Change properties of virtual machine host", {"kind": "set_host",
                                                                                "fields": fields})

    def cmdlets(self) -> list[Cmdlet]:
        c = self._cmdlet
        host = Param("VMHost", views.HOST, of_type(views.HOST), mandatory=True, position=0, pipeline=True)
        run_async = _switch("RunAsynchronously")
        return [
            c("Disable-SCVMHost", (host, _switch("MoveWithinCluster"), run_async), self.disable_host),
            c("Enable-SCVMHost", (host, run_async), self.enable_host),
            c("Set-SCVMHost", (host, Param("AvailableForPlacement", "System.Boolean", boolean),
                               Param("Description", convert=string), run_async), self.set_host),
        ]
