#!/usr/bin/env python
"""What the running system spends when nobody uses it: CPU milliseconds per second of each service
process, with every service its own process (``harness.System``) and nothing to do.

Whatever a process spends idle it spends during a load too, so it is in every lifecycle's CPU
figure of ``bench/e2e.py``: the outbox relay's sweep for rows no commit of its own woke it for,
the engine's timer tick, supervision's and the gateway's timers, AMQP heartbeats. Each
``--relay-interval`` given is a system of its own, started one after the other in this run, so
the intervals can be compared in one sitting.

Baseline, measured in the same run: a bare kombu consumer in a process of its own, connected to
the same broker with nameko's heartbeat (60 s) and waiting for messages on a queue of its own,
which is the least an idle AMQP consumer process costs.

    .venv/bin/python bench/idle.py                                   # SQLite, 0.1 0.2 1.0 s, 20 s each
    .venv/bin/python bench/idle.py --db postgresql sqlite --seconds 30 --relay-interval 0.2 1.0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import harness  # noqa: E402
from harness import System, cpu_seconds, say  # noqa: E402

BARE_CONSUMER = textwrap.dedent(
    """
    import socket, sys
    from kombu import Connection, Queue
    with Connection(sys.argv[1], heartbeat=60) as conn:
        queue = Queue("ztc-idle-baseline", auto_delete=True, exclusive=True)
        with conn.Consumer(queue, callbacks=[lambda body, message: message.ack()]):
            print("ready", flush=True)
            while True:
                try:
                    conn.drain_events(timeout=1.0)
                except socket.timeout:
                    conn.heartbeat_check()
    """
)


def sample(pids: dict[str, int], seconds: float) -> dict[str, float]:
    """CPU milliseconds per second of each process over ``seconds`` of wall time."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    began = time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - began
    return {name: round((cpu_seconds(pid) - before[name]) * 1000 / wall, 2) for name, pid in pids.items()}


def bare_consumer(amqp_uri: str, seconds: float) -> float:
    proc = subprocess.Popen([sys.executable, "-c", BARE_CONSUMER, amqp_uri], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(2)  # imports and connecting are not idle time
        return sample({"bare": proc.pid}, seconds)["bare"]
    finally:
        proc.kill()
        proc.wait()


def idle_system(db_kind: str, interval: float, seconds: float, settle: float) -> dict:
    with System(db_kind, env={"ZTC_RELAY_INTERVAL_SECONDS": str(interval)}) as system:
        time.sleep(settle)  # the deployment's seeding and the first sweeps are done
        per_process = sample({name: proc.pid for name, proc in system.procs.items()}, seconds)
        baseline = bare_consumer(system.broker.uri(system.vhost), seconds)
    return {
        "db": db_kind,
        "relay_interval_s": interval,
        "seconds": seconds,
        "cpu_ms_per_s": per_process,
        "all": round(sum(per_process.values()), 2),
        "bare_kombu_consumer_ms_per_s": baseline,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite"])
    parser.add_argument(
        "--relay-interval",
        nargs="+",
        type=float,
        default=[0.1, 0.2, 1.0],
        metavar="SECONDS",
        help="ZTC_RELAY_INTERVAL_SECONDS of each system measured (default: 0.1 0.2 1.0)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="how long each idle system is sampled")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after ready before sampling")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or any(i <= 0 for i in args.relay_interval):
        parser.error("--seconds and every --relay-interval must be positive")

    runs = []
    for db_kind in args.db:
        for interval in args.relay_interval:
            say(f"{db_kind}: relay interval {interval} s, sampling {args.seconds:g} s idle")
            runs.append(idle_system(db_kind, interval, args.seconds, args.settle))

    names = harness.replica_names()
    print("\nCPU ms per second, idle (each service process; bare kombu consumer is the baseline)")
    header = ["db", "relay s", *names, "all six", "bare kombu", "all ÷ bare"]
    print(" | ".join(header))
    for run in runs:
        bare = run["bare_kombu_consumer_ms_per_s"]
        # /proc counts CPU in clock ticks: under one tick in the whole sample reads as 0
        resolution = 1000 / os.sysconf("SC_CLK_TCK") / run["seconds"]
        ratio = f"{run['all'] / bare:.0f}×" if bare > 0 else f"> {run['all'] / resolution:.0f}×"
        cells = [run["db"], f"{run['relay_interval_s']:g}"]
        cells += [f"{run['cpu_ms_per_s'].get(n, 0):.1f}" for n in names]
        cells += [f"{run['all']:.1f}", f"{bare:.2f}" if bare > 0 else f"< {resolution:.2f}", ratio]
        print(" | ".join(cells))
    if args.json:
        Path(args.json).write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
