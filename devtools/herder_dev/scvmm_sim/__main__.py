"""python -m herder_dev.scvmm_sim: serve until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from herder_dev.scvmm_sim.server import Config, start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m herder_dev.scvmm_sim", description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5986)
    p.add_argument("--state-file", type=Path, required=True)
    p.add_argument("--cert", type=Path, required=True)
    p.add_argument("--key", type=Path, required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--seed", type=Path, help="YAML or JSON inventory used when the state file does not exist")
    p.add_argument("--job-seconds", type=float, default=2.0, help="how long each VMM job runs")
    a = p.parse_args(argv)
    config = Config(host=a.host, port=a.port, cert=a.cert, key=a.key, username=a.username, password=a.password,
                    state_file=a.state_file, seed=a.seed, job_seconds=a.job_seconds)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    running = start(config)
    print(f"scvmm-sim ready on https://{a.host}:{running.port}/wsman", flush=True)
    stop.wait()
    running.stop()
    print("scvmm-sim stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
