"""The inventory: one JSON document in memory, written atomically after every change, plus VMM jobs."""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from herder_dev.scvmm_sim.vmm.errors import BUSY, NOT_FOUND, problem_text, vmm_error
from herder_dev.scvmm_sim.vmm.seed import build_inventory

Record = dict[str, Any]
KINDS = ("host_groups", "hosts", "clouds", "templates", "vms", "jobs", "custom_properties", "configs")
Effect = Callable[["Store", Record], None]
EffectHandlers = tuple[Effect, Effect]  # what a job's effect does when the job completes, and when it fails


def new_id() -> str:
    return str(uuid.uuid4())


class Store:
    def __init__(self, path: Path | None, seed: dict[str, Any], job_seconds: float) -> None:
        self.path = path
        self.job_seconds = job_seconds
        self.lock = threading.RLock()
        # Library shares are real directories beside the state file.
        self.library_root = (path.parent if path else Path(tempfile.mkdtemp(prefix="scvmm-sim-"))) / "library"
        # Job effects that modules outside this package's core define (see effects.apply_effect).
        self.handlers: dict[str, EffectHandlers] = {}
        if path is not None and path.exists():
            self.data: dict[str, Any] = json.loads(path.read_text())
            for kind, records in build_inventory(seed).items():
                self.data.setdefault(kind, records)  # a state file written before the kind existed
        else:
            self.data = build_inventory(seed)
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        # Write then rename, so that a crash never leaves half a state file behind.
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        os.replace(tmp, self.path)

    @contextmanager
    def mutate(self) -> Iterator[dict[str, Any]]:
        with self.lock:
            yield self.data
            self.save()

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            self.tick()
            copy: dict[str, Any] = json.loads(json.dumps(self.data))  # a deep copy that callers may keep
            return copy

    # ---- lookups ---------------------------------------------------------------------------------
    def all(self, kind: str) -> list[Record]:
        return list(self.data[kind])

    def find(self, kind: str, record_id: str) -> Record | None:
        return next((r for r in self.data[kind] if r["id"].lower() == record_id.lower()), None)

    def get(self, kind: str, record_id: str, what: str) -> Record:
        found = self.find(kind, record_id)
        if found is None:
            raise vmm_error(NOT_FOUND, f"VMM cannot find the {what} object with ID {record_id}. It may have "
                                       "been deleted by another user.")
        return found

    def running_job(self, target_id: str) -> Record | None:
        return next((j for j in self.data["jobs"] if j["target"] == target_id and j["status"] == "Running"), None)

    def ensure_idle(self, target_id: str, name: str) -> None:
        job = self.running_job(target_id)
        if job is not None:
            raise vmm_error(BUSY, f"The object {name} is being used by job {job['name']} ({job['id']}). Wait for "
                                  "the job to complete, and then try the operation again.")

    # ---- jobs ------------------------------------------------------------------------------------
    def start_job(self, name: str, cmdlet: str, target: Record | None, effect: Record,
                  fail_error: int | None) -> Record:
        now = time.time()
        job = {
            "id": new_id(), "name": name, "cmdlet": cmdlet, "status": "Running", "started": now,
            "ends": now + self.job_seconds, "ended": None, "target": target["id"] if target else "",
            "target_name": target["name"] if target else "", "effect": effect, "fail": fail_error,
            "error": None,
        }
        self.data["jobs"].append(job)
        if target is not None and "most_recent_job" in target:
            target["most_recent_job"] = job["id"]
        return job

    def tick(self) -> None:
        """Finish every job whose time has come; called before any read or write of the inventory."""
        now = time.time()
        done = [j for j in self.data["jobs"] if j["status"] == "Running" and j["ends"] <= now]
        for job in sorted(done, key=lambda j: j["ends"]):
            self._finish(job)
        if done:
            self.save()

    def _finish(self, job: Record) -> None:
        from herder_dev.scvmm_sim.vmm.effects import apply_effect, fail_effect

        job["ended"] = job["ends"]
        if job["fail"] is not None:
            job["status"] = "Failed"
            job["error"] = {"code": job["fail"], "problem": problem_text(job["fail"])}
            fail_effect(self, job["effect"])
        else:
            job["status"] = "Completed"
            apply_effect(self, job["effect"])
