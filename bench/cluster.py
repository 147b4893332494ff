"""A three-node RabbitMQ cluster of its own on this machine, and the chaos harness run against it
with one node SIGKILLed mid-run.

    .venv/bin/python bench/cluster.py                                    # 60 proposals, 8 kills, 2 engines, 2 of each
    .venv/bin/python bench/cluster.py --keep-up                          # start the cluster, wait for Ctrl-C
    .venv/bin/python bench/cluster.py -- --proposals 40 --kills 6 --engines 3 --replicas 2

Three extra nodes, ``ztc1@localhost`` .. ``ztc3@localhost``, run from the installed RabbitMQ's own
scripts (``/usr/lib/rabbitmq/bin/rabbitmq-server``, not the Debian wrapper in ``/usr/sbin``, which
runs every node as the ``rabbitmq`` user with that user's cookie), each configured only through
RabbitMQ's documented environment: ``RABBITMQ_NODENAME``, ``RABBITMQ_NODE_PORT`` (AMQP 5681..),
``RABBITMQ_DIST_PORT`` (25681..), ``RABBITMQ_CONFIG_FILE`` (the management API on 15681..,
``queue_leader_locator = balanced`` so quorum queue leaders are spread over the nodes),
``RABBITMQ_MNESIA_BASE``, ``RABBITMQ_LOG_BASE``, ``RABBITMQ_ENABLED_PLUGINS_FILE`` and
``RABBITMQ_CONF_ENV_FILE`` (an empty file, so ``/etc/rabbitmq/rabbitmq-env.conf`` and its node name
are not read), all under one temporary directory. Their Erlang cookie is a fresh random one in
that directory's ``.erlang.cookie`` (``HOME`` of the nodes and of our ``rabbitmqctl`` calls): the
machine's cookie is never read or written. ztc2 and ztc3 join ztc1 (``stop_app``, ``join_cluster``,
``start_app``); every durable queue of the harness's vhost is a quorum queue (three members).

The services connect to ztc1. Half way through the load, ztc2 (leader of about a third of the
quorum queues) is SIGKILLed, left down ``--node-down`` seconds and started again (it rejoins the
cluster); the harness's checks must hold: nothing lost, nothing twice, every queue drained.

Nothing here touches the machine's own node (rabbit@localhost, 5672/15672, /var/lib/rabbitmq):
ports it uses are refused, every process started is in a process group of its own and is stopped
(``rabbitmqctl stop``, then SIGKILL of that group) at the end, on failure, on Ctrl-C and on
SIGTERM; the temporary directory is removed. Exit status: the harness's (0 when every check
holds), 2 when the cluster could not be made (the error is printed).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import say  # noqa: E402
from nodes import Cluster, ClusterError  # noqa: E402


def _terminate(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/cluster.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument(
        "--base-port",
        type=int,
        default=5681,
        help="ztc1's AMQP port; node i uses base+i-1, its management API +10000, distribution +20000",
    )
    parser.add_argument("--victim", type=int, default=2, help="the node killed mid-run (default 2: ztc2)")
    parser.add_argument("--node-down", type=float, default=10.0, help="seconds the killed node stays down")
    parser.add_argument("--keep-up", action="store_true", help="start the cluster and wait for Ctrl-C")
    parser.add_argument(
        "chaos",
        nargs=argparse.REMAINDER,
        help="after --: arguments for bench/chaos.py (default: --proposals 60 --kills 8 "
        "--engines 2 --replicas 2 --spread-kills)",
    )
    args = parser.parse_args(argv)
    chaos_args = [a for a in args.chaos if a != "--"] or [
        "--proposals",
        "60",
        "--kills",
        "8",
        "--engines",
        "2",
        "--replicas",
        "2",
        "--spread-kills",
    ]
    if "--no-broker-restart" in chaos_args:
        parser.error("the node kill is this run's broker fault: leave out --no-broker-restart")
    if not 1 < args.victim <= args.nodes:
        parser.error("--victim names a node other than ztc1 (the one the services connect to)")
    signal.signal(signal.SIGTERM, _terminate)
    try:
        with Cluster(args.nodes, args.base_port) as cluster:
            if args.keep_up:
                first = cluster.nodes[0]
                say(
                    f"AMQP amqp://guest:guest@127.0.0.1:{first.amqp_port}/, management "
                    f"http://127.0.0.1:{first.management_port}/ ; Ctrl-C stops the cluster"
                )
                while True:
                    time.sleep(3600)
            import chaos

            return chaos.main(
                [*chaos_args, "--queue-type", "quorum"], broker=cluster.broker(args.victim, args.node_down)
            )
    except ClusterError as exc:
        say(f"could not run a RabbitMQ cluster here: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted; the cluster was stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
