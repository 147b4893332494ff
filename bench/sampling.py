"""A sampling profile of running service processes: py-spy attached to each by its pid.

``bench/e2e.py --sample`` runs it over the timed load itself: py-spy reads a process's stacks
from outside (``--nonblocking``: the process is never paused) ``rate`` times a second and keeps
only the samples where the thread held the GIL (``--gil``: waiting in C, for epoll or a database
server, releases it), so, unlike cProfile (``bench/cpu_profile.py``), it does not slow the
service, and it counts little of an eventlet hub's waiting. Not none: read with the CPU that
``/proc`` measured over the same interval, printed beside it (without ``--gil`` the samples came
to 1.8–3.4 times the measured CPU, with it 1.2–2.3 on SQLite and about 2 on PostgreSQL, whose
waits for the server are partly counted). py-spy itself runs as a process of its own beside each service and
takes some CPU; the figures of a run with ``--sample`` are for reading the profile, the
throughput and CPU figures are measured without it.

:func:`summarize` reads py-spy's raw (collapsed stacks) output: samples by where the CPU was
(the innermost frame: library or our code), the functions with most samples of their own, and our
code's functions with most samples including what they called. Under eventlet py-spy takes some
waiting for work (see :func:`print_summary`): read the shares, beside the CPU ``/proc`` measured.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

# (label, part of the frame's file as py-spy names it); the first that matches wins.
GROUPS = [
    ("SpiffWorkflow", "SpiffWorkflow/"),
    ("SQLAlchemy", "sqlalchemy/"),
    ("psycopg2", "psycopg2/"),
    ("sqlite3", "sqlite3/"),
    ("json", "json/"),
    ("marshmallow", "marshmallow/"),
    ("kombu/amqp", "kombu/"),
    ("kombu/amqp", "amqp/"),
    ("nameko", "nameko/"),
    ("eventlet", "eventlet/"),
    ("werkzeug", "werkzeug/"),
    ("logging", "logging/"),
    ("engine (services/engine)", "services/engine/"),
    ("gateway (services/gateway)", "services/gateway/"),
    ("other services (services/)", "services/"),
    ("shared/", "shared/"),
    ("copy/deepcopy", "copy.py"),
]
OURS = ("services/", "shared/")


def py_spy() -> Path:
    """The py-spy of this virtualenv (``make venv`` installs it with the test tools)."""
    path = Path(sys.executable).parent / "py-spy"
    if not path.exists():
        raise SystemExit(f"py-spy is not installed ({path}): run `make venv`")
    return path


class Sampler:
    """py-spy recording each of ``pids`` ({name: pid}) into ``directory`` until :meth:`stop`."""

    def __init__(self, pids: dict[str, int], directory: Path, rate: int = 100):
        self.directory, self.rate = directory, rate
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list[IO[bytes]] = []
        self.pids = pids

    def start(self) -> Sampler:
        self.directory.mkdir(parents=True, exist_ok=True)
        for name, pid in self.pids.items():
            self.logs.append(open(self.directory / f"{name}.log", "wb"))  # noqa: SIM115 - closed by stop()
            self.procs[name] = subprocess.Popen(
                [
                    str(py_spy()),
                    "record",
                    "--pid",
                    str(pid),
                    "--rate",
                    str(self.rate),
                    "--format",
                    "raw",
                    "--function",  # one line per function, not per line of it
                    "--nonblocking",
                    "--gil",  # only while it holds the GIL: waiting in C (libpq, epoll) releases it
                    "--output",
                    str(self.directory / f"{name}.raw"),
                ],
                stdout=subprocess.DEVNULL,
                stderr=self.logs[-1],
            )
        return self

    def stop(self, timeout: float = 30.0) -> dict[str, dict | str]:
        """Stop every recorder (SIGINT writes its output) and summarize each process's samples;
        a recorder that failed (no ptrace permission, the process gone) answers its error."""
        for proc in self.procs.values():
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in self.logs:
            log.close()
        out: dict[str, dict | str] = {}
        for name, proc in self.procs.items():
            raw = self.directory / f"{name}.raw"
            if raw.exists() and raw.stat().st_size:
                out[name] = summarize(raw, self.rate)
            else:
                said = (self.directory / f"{name}.log").read_text(errors="replace").strip()
                out[name] = f"no samples (py-spy exited {proc.returncode}): {said[-500:]}"
        return out


def _file(frame: str) -> str:
    # "function (path/to/file.py:123)" -> "path/to/file.py"
    inside = frame.rsplit(" (", 1)[-1].rstrip(")")
    return inside.rsplit(":", 1)[0]


def group_of_path(path: str) -> str:
    """The group of :data:`GROUPS` a source file is in (py-spy's module path or a full path)."""
    return next((label for label, part in GROUPS if part in path), "other")


def summarize(raw: Path, rate: int, top: int = 20) -> dict:
    """Samples by group (the innermost frame's library), the ``top`` functions by own samples,
    and our code's ``top`` functions by samples including their callees."""
    by_group: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        by_group[group_of_path(_file(frames[-1]))] += n
        own[frames[-1]] += n
        for frame in set(frames):
            if _file(frame).startswith(OURS):
                inclusive[frame] += n
    return {
        "samples": total,
        "sampled_seconds": round(total / rate, 2),
        "by_group": dict(by_group.most_common()),
        "top_own": own.most_common(top),
        "top_ours_inclusive": inclusive.most_common(top),
    }


def print_summary(name: str, summary: dict | str, heading: str, measured_cpu: float | None = None) -> None:
    """``measured_cpu``: the process's CPU seconds over the same interval by ``/proc``, printed
    beside the samples' reckoning. Under eventlet py-spy counts part of the waiting as on-CPU (a
    sample taken as the hub wakes from epoll, a socket's send loop), so the eventlet share is
    overstated and the samples add up to more than the measured CPU; the other shares keep their
    proportions to each other."""
    print(f"\n== sampled: the {name} process ({heading}) ==")
    if isinstance(summary, str):
        print(summary)
        return
    total = summary["samples"] or 1
    measured = f"; /proc measured {measured_cpu:.2f} CPU s" if measured_cpu is not None else ""
    print(
        f"{summary['samples']} samples counted on-CPU by py-spy ({summary['sampled_seconds']} s){measured}; "
        "where they were:"
    )
    for group, n in summary["by_group"].items():
        print(f"  {group:<28}{n / total:>7.1%}")
    print("functions with most samples of their own:")
    for frame, n in summary["top_own"]:
        print(f"  {n / total:>6.1%}  {frame}")
    print("our code, samples including what it called:")
    for frame, n in summary["top_ours_inclusive"]:
        print(f"  {n / total:>6.1%}  {frame}")
