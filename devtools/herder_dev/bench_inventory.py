"""`python -m herder_dev.bench_inventory`: what one SCVMM drift read costs, by number of herder's VMs.

The SCVMM inventory reads every VM herder marked in one script per interval (herder.providers.scvmm.inventory).
This runs that same script against the simulator with 1 to N marked VMs and prints, per size: the wall time of
one read as herder sees it (WinRM round trips, the simulator's PowerShell, parsing into ObservedVMs), the WinRM
requests it costs, the size of its answer, and the share of one PowerShell's time it takes at a 5 s interval.
Prints figures; asserts nothing. The simulator is not VMM: real VMM answers `Get-SCVirtualMachine -All` from
its database, typically slower per VM, so read the figures as herder's side of the cost and as the request
count, which is the same on both.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from herder.providers.scvmm import SCVMMProvider, observe
from herder.providers.types import Credentials, PowerState, SCVMMPlacement, TaskStatus, TLSSettings, VMSpec
from herder_dev import pki
from herder_dev.scvmm_sim.server import Config, start

USER, INTERVAL = "bench", 5.0


def _make(provider: SCVMMProvider, count: int) -> None:
    for _ in range(count):
        spec = VMSpec(uid=str(uuid.uuid4()), name=f"bench-{uuid.uuid4().hex[:8]}", template="ubuntu-22.04-tmpl",
                      cpu=1, memory_mib=512, placement=SCVMMPlacement(host_group="All Hosts\\Zone-A"),
                      power=PowerState.OFF)
        task = provider.vms.create(spec)
        while provider.vms.task(task).status is TaskStatus.RUNNING:
            time.sleep(0.01)


def _read(provider: SCVMMProvider) -> tuple[float, int, int]:
    """(seconds, WinRM requests, answer characters) of one bulk read, the inventory's own script."""
    before = provider.endpoint.request_counts().get("bench", 0)
    started = time.perf_counter()
    rows = provider.endpoint.run("bench", "read the VM inventory", observe.project_all(observe.owned()))
    servers = [observe.to_server(row) for row in rows or ()]
    took = time.perf_counter() - started
    return took, provider.endpoint.request_counts()["bench"] - before, len(repr(servers))


def run(sizes: list[int], reads: int, directory: Path) -> list[dict[str, float]]:
    ca = pki.ensure_ca(directory)
    cert = pki.issue_server_cert(directory, "scvmm-sim", ca)
    password = uuid.uuid4().hex
    running = start(Config(host="127.0.0.1", port=0, cert=cert.cert, key=cert.key, username=USER, password=password,
                           state_file=directory / "state.json", job_seconds=0.0))
    provider = SCVMMProvider(f"https://127.0.0.1:{running.port}/wsman", Credentials(USER, password),
                             TLSSettings(ca_bundle=ca.cert.read_text()), transport="basic", job_timeout=60.0)
    figures = []
    try:
        made = 0
        for size in sizes:
            _make(provider, size - made)
            made = size
            _read(provider)  # warm: the shell is open
            samples = [_read(provider) for _ in range(reads)]
            seconds = statistics.median(s for s, _, _ in samples)
            figures.append({"vms": size, "seconds_per_read": seconds, "requests_per_read": samples[0][1],
                            "answer_chars": samples[0][2], "busy_share_at_5s": seconds / INTERVAL})
    finally:
        provider.close()
        running.stop()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,50,200,500", help="numbers of marked VMs (default 1,50,200,500)")
    parser.add_argument("--reads", type=int, default=5, help="reads timed per size (the median is shown)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="herder-bench-inventory-") as directory:
        figures = run([int(n) for n in args.sizes.split(",")], args.reads, Path(directory))
    print(f"SCVMM drift read (one script for all marked VMs), simulator, median of {args.reads}")
    print(f"  {'VMs':>5} {'s/read':>8} {'requests':>9} {'answer chars':>13} {'share of 5 s':>13}")
    for f in figures:
        print(f"  {f['vms']:>5.0f} {f['seconds_per_read']:>8.3f} {f['requests_per_read']:>9.0f} "
              f"{f['answer_chars']:>13.0f} {f['busy_share_at_5s']:>12.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
