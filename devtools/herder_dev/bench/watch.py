"""When each ECS of a namespace appeared and when it first turned Ready, as a Kubernetes watch delivers them."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

from herder_dev.bench.measure import GROUP
from herder_dev.stack import StackState


def is_ready(body: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (body.get("status") or {}).get("conditions") or [])


class ReadyWatch:
    """Times (time.monotonic()) at which each ECS was first seen and first seen Ready. A watch, not polling:
    the bench must not add API load that grows with N."""

    def __init__(self, state: StackState, namespace: str) -> None:
        import kubernetes

        self._api = kubernetes.client.CustomObjectsApi(
            kubernetes.config.new_client_from_config(config_file=str(state.kubeconfig)))
        self._watch = kubernetes.watch.Watch()
        self._namespace = namespace
        self._lock = threading.Lock()
        self.added: dict[str, float] = {}
        self.ready: dict[str, float] = {}
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="bench-ready-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped:  # a watch ends now and then (server timeouts): watch again
            try:
                for event in self._watch.stream(self._api.list_namespaced_custom_object, GROUP, "v1alpha1",
                                                self._namespace, "elasticcloudservers", timeout_seconds=300):
                    self._seen(event["object"])
            except Exception:
                time.sleep(0.2)

    def _seen(self, body: dict[str, Any]) -> None:
        name, now = body["metadata"]["name"], time.monotonic()
        with self._lock:
            self.added.setdefault(name, now)
            if name not in self.ready and is_ready(body):
                self.ready[name] = now

    def ready_count(self) -> int:
        with self._lock:
            return len(self.ready)

    def latencies(self) -> list[float]:
        """Per ECS that turned Ready: seconds from its appearance to Ready."""
        with self._lock:
            return [at - self.added[name] for name, at in self.ready.items()]

    def last_ready(self) -> float | None:
        with self._lock:
            return max(self.ready.values(), default=None)

    def wait(self, count: int, stall_seconds: float, report_every: float = 60.0) -> int:
        """Until `count` ECSs are Ready, or none turned Ready for `stall_seconds`; how many are. Says how far
        it got every `report_every` seconds on stderr (stdout may be JSON)."""
        started = progress_at = reported = time.monotonic()
        progress = -1
        while (done := self.ready_count()) < count:
            now = time.monotonic()
            if done != progress:
                progress, progress_at = done, now
            elif now - progress_at > stall_seconds:
                break
            if now - reported >= report_every:
                print(f"bench: {done}/{count} Ready after {now - started:.0f}s", file=sys.stderr, flush=True)
                reported = now
            time.sleep(0.2)
        return done

    def stop(self) -> None:
        self._stopped = True
        self._watch.stop()
