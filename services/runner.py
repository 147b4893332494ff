"""Run one service in its own process: ``python -m services.runner engine``.

eventlet is patched before anything else is imported; with PostgreSQL, psycopg2 is made
cooperative (psycogreen) so a query waits without blocking the service's other greenlets.
"""

from shared import quiet

quiet.eventlet_deprecation()  # before eventlet is imported: nine lines of a framework's status in every log

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import logging  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

from nameko.runners import ServiceRunner  # noqa: E402

from services.registry import SERVICE_CLASSES, service_class  # noqa: E402
from shared import config  # noqa: E402
from shared.messaging import identity  # noqa: E402

log = logging.getLogger("ztc.runner")


def make_cooperative(settings) -> None:
    if any(settings.database_url(s).startswith("postgresql") for s in SERVICE_CLASSES):
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.runner", description="Run one Zhitongche service until SIGTERM or Ctrl-C."
    )
    parser.add_argument("service", choices=sorted(SERVICE_CLASSES))
    args = parser.parse_args(argv)
    import os

    os.umask(0o077)  # the SQLite files (personal data) and anything else written: the owner's only
    settings = identity.for_service(config.load(), args.service)  # its own broker user, when its password is given
    from shared import logs

    logs.configure(args.service, settings)  # ZTC_LOG_FORMAT=json: JSON lines with the ids
    make_cooperative(settings)
    from shared import clock

    if clock.follow_offset_file(settings.clock_offset_file):
        log.warning("the clock is offset by %s (demonstrations and tests only)", settings.clock_offset_file)
    runner = ServiceRunner(settings.nameko_config())
    runner.add_service(service_class(args.service))

    stopping: list[int] = []

    def shutdown(signum, frame):
        # Ctrl-C in a terminal sends SIGINT to every process of the launcher's group, and the
        # launcher then sends SIGTERM to each service as well: a second stop of the same runner
        # would stop nameko's extensions twice and hang, so a signal after the first is noted only.
        if stopping:
            log.info("already stopping %s (signal %s as well)", args.service, signum)
            return
        stopping.append(signum)
        log.info("stopping %s (signal %s)", args.service, signum)
        eventlet.spawn_n(runner.stop)

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    runner.start()
    log.info("%s started", args.service)
    runner.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
