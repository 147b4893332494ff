"""Run a service under cProfile counting the process's CPU time, not the wall clock:

    python bench/cpu_profile.py OUT.prof services.runner intake

``python -m cProfile`` times with the wall clock, so an eventlet service's profile is mostly the
time its green threads spent waiting (epoll, a query's reply from the database, a broker frame),
charged to whatever function was on the stack. Timed with ``time.process_time`` the profile shows
where the process spends CPU. The profile is written when the service exits (SIGTERM stops a
service gracefully).
"""

from __future__ import annotations

import argparse
import cProfile
import runpy
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository root, as with ``python -m``


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="bench/cpu_profile.py",
        description="Run a module (a service: services.runner NAME) under cProfile timed by the process's CPU clock.",
    )
    parser.add_argument("out", help="the profile file to write when the module exits (pstats format)")
    parser.add_argument("module", help="the module to run as with python -m, e.g. services.runner")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments, e.g. intake")
    options = parser.parse_args()
    sys.argv = [options.module, *options.args]
    out, module = options.out, options.module
    profiler = cProfile.Profile(time.process_time)
    try:
        profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    finally:
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
