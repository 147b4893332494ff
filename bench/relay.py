"""What one message costs on its way out of a service: the outbox relay beside bare kombu.

Every message a service sends (a job, a job's result, an event, a notification, a BPMN message)
is written to its outbox in the service's transaction and published by the outbox relay after
the commit (``shared/messaging/relay.py``), with publisher confirms. This measures the relay's CPU
per message in this process, beside a baseline measured in the same run on the same broker:

* ``bare kombu``      - a kombu producer on a connection with publisher confirms publishing the
  same payload to the same queue, one message at a time: what any publish with confirms costs.
* ``relay, 1 a time`` - one outbox row committed, then one flush of the relay (what a service does
  under load: each commit that wrote a row wakes the relay, which most often finds that one row).
* ``relay, backlog``  - all rows committed first, then flushes until the outbox is empty (what the
  relay does after the broker was away; batches of 200).

The rows are written before the timed part (their writing belongs to the service's own
transaction); the relay's part is timed: its transaction, the read of the due rows, the publish
with confirms, the delete and the commit. CPU is this process's (``time.process_time``): the
broker's and PostgreSQL's work is not in it. The process is monkey-patched by eventlet and PostgreSQL's
driver made cooperative (psycogreen), as every service process is. Each variant runs ``--rounds`` times, alternating; the median is printed, and
the ratio to bare kombu of the same round. Afterwards the queue must hold every message published
(the relay lost none); the script exits 1 if it does not.

    .venv/bin/python bench/relay.py                      # SQLite and PostgreSQL, 1,000 messages
    .venv/bin/python bench/relay.py --db sqlite --messages 300 --rounds 3 --json relay.json

It needs RabbitMQ (with its management API, for the throwaway vhost) and, for the PostgreSQL row,
PostgreSQL at 127.0.0.1 (a throwaway database, dropped at the end), as the tests do.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before eventlet is imported: its deprecation warning says nothing here

import eventlet  # noqa: E402

eventlet.monkey_patch()  # as in every service process (services/runner.py), PostgreSQL's driver too

from psycogreen.eventlet import patch_psycopg  # noqa: E402

patch_psycopg()

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from contextlib import ExitStack  # noqa: E402

from kombu import Queue  # noqa: E402
from sqlalchemy.orm import DeclarativeBase  # noqa: E402

from shared.db import dispose_all, ensure_postgres_database, get_engine, session_factory, transaction  # noqa: E402
from shared.messaging import outbox  # noqa: E402
from shared.messaging.models import messaging_models  # noqa: E402
from shared.messaging.relay import OutboxRelay  # noqa: E402
from shared.messaging.topology import connect  # noqa: E402
from tests import support  # noqa: E402


class _Base(DeclarativeBase):
    pass


Outbox, _Inbox = messaging_models(_Base)

QUEUE = "bench-relay"
# A job as the engine sends one (its size and shape; the values are made up).
PAYLOAD = {
    "job_id": "0b0f6a3c-1111-2222-3333-444455556666",
    "operation": "intake.record_filing",
    "instance_id": "5d1c7e2a-aaaa-bbbb-cccc-ddddeeeeffff",
    "task_id": "c0ffee00-1234-5678-9abc-def012345678",
    "params": {
        "number": "2027-0001",
        "title": "关于加强老旧小区加装电梯的建议",
        "units": ["transport", "housing"],
        "decision": {"accepted": True, "reason": None, "note": "立案" * 40},
    },
    "principal": {"user": "staff.wang", "roles": ["staff"], "unit": None, "signature": "x" * 88},
    "attempt": 1,
    "max_attempts": 5,
}


def _write(relay: OutboxRelay, n: int) -> None:
    with transaction(relay.sessions) as s:
        for i in range(n):
            outbox.add(s, Outbox, "", QUEUE, PAYLOAD, headers={"n": i})


def bare_kombu(uri: str, n: int) -> float:
    """CPU seconds to publish ``n`` messages with confirms, one at a time."""
    with connect(uri) as conn:
        producer = conn.Producer(serializer="json")
        started = time.process_time()
        for i in range(n):
            producer.publish(PAYLOAD, exchange="", routing_key=QUEUE, headers={"n": i}, delivery_mode=2, retry=False)
        return time.process_time() - started


def relay_one_at_a_time(relay: OutboxRelay, n: int) -> float:
    spent = 0.0
    for _ in range(n):
        _write(relay, 1)
        started = time.process_time()
        published = relay.flush()
        spent += time.process_time() - started
        if published != 1:
            raise SystemExit(f"the relay published {published} rows, not the one just committed")
    return spent


def relay_backlog(relay: OutboxRelay, n: int) -> float:
    _write(relay, n)
    started = time.process_time()
    published = relay.flush()
    spent = time.process_time() - started
    if published != n:
        raise SystemExit(f"the relay published {published} of a backlog of {n}")
    return spent


VARIANTS = ("bare kombu", "relay, 1 a time", "relay, backlog")


def measure(kind: str, url: str, uri: str, messages: int, rounds: int) -> dict:
    _Base.metadata.create_all(get_engine(url))
    relay = OutboxRelay(session_factory(url), Outbox, uri)
    with connect(uri) as conn:
        Queue(QUEUE, durable=True)(conn.default_channel).declare()
    relay_one_at_a_time(relay, 20)  # warm up: connections, pools, compiled statements
    bare_kombu(uri, 20)
    per_message: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for round_ in range(rounds):
        print(f"[{time.strftime('%H:%M:%S')}] {kind}: round {round_ + 1} of {rounds}", file=sys.stderr, flush=True)
        per_message["bare kombu"].append(bare_kombu(uri, messages) / messages * 1000)
        per_message["relay, 1 a time"].append(relay_one_at_a_time(relay, messages) / messages * 1000)
        per_message["relay, backlog"].append(relay_backlog(relay, messages) / messages * 1000)
    relay.reset()
    expected = 40 + rounds * messages * len(VARIANTS)
    queued = support.ready_count(uri, QUEUE)
    with transaction(relay.sessions) as s:
        left = s.query(Outbox).count()
    dispose_all()
    ratios = {v: [m / b for m, b in zip(per_message[v], per_message["bare kombu"], strict=True)] for v in VARIANTS[1:]}
    return {
        "db": kind,
        "messages": messages,
        "rounds": rounds,
        "cpu_ms_per_message": per_message,
        "ratio_to_bare_kombu": ratios,
        "queued": queued,
        "expected": expected,
        "outbox_left": left,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--messages", type=int, default=1000, help="messages per variant and round (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each running every variant once (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.messages < 1 or args.rounds < 1:
        parser.error("--messages and --rounds must be at least 1")
    results = []
    failed = False
    for kind in args.db:
        with ExitStack() as stack:
            vhost = stack.enter_context(support.rabbit_vhost())
            uri = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
            if kind == "sqlite":
                url = f"sqlite:///{stack.enter_context(tempfile.TemporaryDirectory())}/relay.db"
            else:
                url = stack.enter_context(support.postgres_databases()).format(service="relay")
                ensure_postgres_database(url)
            result = measure(kind, url, uri, args.messages, args.rounds)
        results.append(result)
        print(
            f"\n== {kind}: {args.messages} messages per variant, {args.rounds} rounds (median; CPU of this process) =="
        )
        print(f"{'variant':18} {'cpu ms/message':>15} {'x bare kombu':>13}")
        for variant in VARIANTS:
            ms = statistics.median(result["cpu_ms_per_message"][variant])
            ratio = (
                "" if variant == "bare kombu" else f"{statistics.median(result['ratio_to_bare_kombu'][variant]):.2f}"
            )
            print(f"{variant:18} {ms:15.3f} {ratio:>13}")
        lost = result["queued"] != result["expected"] or result["outbox_left"]
        print(
            f"queued {result['queued']} of {result['expected']} published, {result['outbox_left']} left in the outbox"
            + (": MESSAGES LOST" if lost else "")
        )
        failed = failed or bool(lost)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": platform.python_version(), "runs": results},
                indent=2,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
