"""Run a service under cProfile counting the process's CPU time, not the wall clock:

    python bench/cpu_profile.py OUT.prof services.runner intake

``python -m cProfile`` times with the wall clock, so an eventlet service's profile is mostly the
time its green threads spent waiting (epoll, a query's reply from the database, a broker frame),
charged to whatever function was on the stack. Timed with ``time.process_time`` the profile shows
where the process spends CPU. The profile is written when the service exits (SIGTERM stops a
service gracefully).
"""

from __future__ import annotations

import cProfile
import runpy
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository root, as with ``python -m``


def main() -> None:
    out, module, *args = sys.argv[1:]
    sys.argv = [module, *args]
    profiler = cProfile.Profile(time.process_time)
    try:
        profiler.runcall(runpy.run_module, module, run_name="__main__", alter_sys=True)
    finally:
        profiler.dump_stats(out)


if __name__ == "__main__":
    main()
