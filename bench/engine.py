"""Instance steps per second: the Zhitongche engine with persistence, beside bare SpiffWorkflow.

Every variant drives the same lifecycle of ``bpmn/smoke.bpmn`` (the "answered" path), counting
one step per external input, six per lifecycle:

    start -> result of intake.record_submission -> user task ``review`` (approved)
          -> result of assignment.assign_unit -> message ``unit_reply``
          -> result of evaluation.record_outcome -> completed

Variants, all measured in one run of this script:

* ``spiff in memory``   - ``WorkflowRuntime`` on one workflow object, nothing persisted; the
  baseline (the cost of SpiffWorkflow plus the runtime's thin wrapper).
* ``spiff + json``      - the same, but after every step the instance is serialised with
  ``runtime.dumps`` + ``shared.db.json_dumps`` and restored with ``json_loads`` +
  ``runtime.loads``, as the engine does between steps (the JSON its columns are written with:
  orjson since 2026-11-30, the standard library before); shows the serializer's share.
* ``engine sqlite``     - ``Engine`` on a temporary SQLite file (WAL), through its public methods
  (``start``, ``handle_result``, ``list_tasks``/``complete_task``, ``send_message``). Jobs are
  taken from the outbox by the engine's outbox relay itself, its broker replaced by a recorder,
  inside the timed loop (before 2026-12-01 by a select and a delete in an ORM session, as the
  relay's SQLite path does, also on PostgreSQL, where the relay takes them in one statement).
* ``engine postgresql`` - the same on a throwaway PostgreSQL database, dropped at the end.

Each variant runs ``--warmup`` lifecycles first (untimed), then ``--lifecycles`` timed with
``time.perf_counter``. No broker, no worker services: job results are made up by this script.
The runtime's clock is used as-is; no timer fires on this path. After timing, every lifecycle's
status is checked; the script exits 1 if any did not reach ``completed``.

With ``--rounds N`` every variant runs N times, the variants alternating (warm-up in the first
round only), and each figure printed is the median of the rounds; a ratio is the median of the
ratios taken within each round, against the baseline measured beside it. On a shared machine
whose speed drifts between runs, this keeps the ratios honest where one run of each would not.

Run from the repository root:  .venv/bin/python bench/engine.py --lifecycles 200
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import tempfile
import time
import uuid
from statistics import median
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
# This tree's code first: run from another worktree with this checkout's virtualenv, the editable
# install would import the checkout's code instead, and a before/after would compare it with itself.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before nameko is imported: its deprecation warning says nothing here

from services.engine.engine import Engine  # noqa: E402
from services.engine.models import Instance, Outbox  # noqa: E402
from shared import config, db  # noqa: E402
from shared.workflow.parser import parse_paths  # noqa: E402
from shared.messaging.relay import OutboxRelay  # noqa: E402
from shared.workflow.runtime import WorkflowRuntime  # noqa: E402

BPMN = ROOT / "bpmn" / "smoke.bpmn"
STEPS_PER_LIFECYCLE = 6
# Each row's ratios to the baselines of its own round (see main()).
RATIOS = ("per_step_vs_spiff", "cpu_vs_spiff", "cpu_vs_spiff_json")
DATA = {"title": "Bus stop", "unit": "transport", "reply_within": "P30D"}
STARTER = {"user": "m1"}
STAFF = {"user": "s1", "roles": ["staff"]}
REPLY = {"text": "done"}


class BenchError(Exception):
    """The lifecycle did not go as the diagram says it should."""


def _results(i: int) -> dict:
    return {
        "intake.record_submission": {"id": abs(i) + 1},
        "assignment.assign_unit": {"unit": "transport"},
        "evaluation.record_outcome": {"id": abs(i) + 1},
    }


# -- bare SpiffWorkflow ------------------------------------------------------------------------


def spiff_lifecycle(rt: WorkflowRuntime, spec: dict, key: str, i: int, roundtrip: bool) -> str:
    jobs = {}  # operation -> (task_id, job_id)

    def settle(wf):
        """Hand out new jobs as the engine would; optionally serialise and restore the instance."""
        wait = rt.wait_state(wf)
        for req in wait.new_jobs:
            jobs[req.operation] = (req.task_id, uuid.uuid4().hex)
            rt.mark_job_sent(wf, req.task_id, jobs[req.operation][1])
        if roundtrip:
            state = db.json_dumps(rt.dumps(wf))  # the JSON every column is written with
            wf = rt.loads(db.json_loads(state), spec, version_key=key)
        return wf, wait

    def job(wf, operation):
        if operation not in jobs:
            raise BenchError(f"no job {operation} was requested")
        task_id, job_id = jobs.pop(operation)
        rt.complete_job(wf, task_id, job_id, _results(i)[operation])
        return settle(wf)

    wf = rt.create(spec, dict(DATA), version_key=key)
    rt.advance(wf)
    wf, wait = settle(wf)
    wf, wait = job(wf, "intake.record_submission")
    if len(wait.user_tasks) != 1:
        raise BenchError(f"expected the review task, found {wait.user_tasks}")
    rt.complete_user_task(wf, wait.user_tasks[0].task_id, {"approved": True})
    wf, wait = settle(wf)
    wf, wait = job(wf, "assignment.assign_unit")
    if not rt.deliver_message(wf, "unit_reply", dict(REPLY)):
        raise BenchError("the instance was not waiting for unit_reply")
    wf, wait = settle(wf)
    wf, wait = job(wf, "evaluation.record_outcome")
    return wait.status


# -- the engine --------------------------------------------------------------------------------


class _Recorded:
    """What the relay's producer would have published: the payloads, in order."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []

    def publish(self, payload, **_how) -> None:
        self.payloads.append(payload)


class _BenchRelay(OutboxRelay):
    """The engine's outbox relay itself (its statements, its transaction: on PostgreSQL the due
    rows deleted and returned in one statement, on SQLite read then deleted), publishing to a
    recorder instead of the broker."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine.sessions, Outbox, "amqp://guest:guest@127.0.0.1:5672/%2F")
        self.recorded = _Recorded()

    def _get_producer(self):
        return self.recorded


def take_job(engine: Engine, instance_id: str, operation: str) -> dict:
    """Take the outbox rows as the relay does (``shared.messaging.relay.OutboxRelay``, its own
    code with the broker replaced by a recorder); expect exactly the one job named."""
    relay = engine.__dict__.get("_bench_relay")
    if relay is None:
        relay = engine.__dict__["_bench_relay"] = _BenchRelay(engine)
    relay.recorded.payloads.clear()
    relay.flush()
    payloads = list(relay.recorded.payloads)
    if [(p["operation"], p["instance_id"]) for p in payloads] != [(operation, instance_id)]:
        raise BenchError(f"expected one {operation} job for {instance_id}, outbox held {payloads}")
    return payloads[0]


def engine_lifecycle(engine: Engine, i: int, run_id: str) -> str:
    business_key = f"{run_id}-{i}"

    def job(instance_id, operation):
        payload = take_job(engine, instance_id, operation)
        result = {k: payload[k] for k in ("job_id", "instance_id", "task_id", "operation", "attempt")}
        outcome = engine.handle_result(result | {"status": "ok", "result": _results(i)[operation]})
        if outcome != "completed":
            raise BenchError(f"result of {operation} was {outcome}")

    instance_id = engine.start("smoke", business_key, dict(DATA), STARTER)["id"]
    job(instance_id, "intake.record_submission")
    tasks = engine.list_tasks(STAFF, instance_id)
    if len(tasks) != 1:
        raise BenchError(f"expected the review task, found {tasks}")
    engine.complete_task(tasks[0]["task_id"], {"approved": True}, STAFF)
    job(instance_id, "assignment.assign_unit")
    sent = engine.send_message(
        {"name": "unit_reply", "correlation_key": business_key, "message_id": uuid.uuid4().hex, "payload": dict(REPLY)}
    )
    if sent["status"] != "delivered":
        raise BenchError(f"unit_reply was {sent['status']}")
    job(instance_id, "evaluation.record_outcome")
    return instance_id


def make_engine(url: str, cache_size: int = 1000) -> Engine:
    db.migrate("engine", url)
    settings = config.load({"ZTC_DB_ENGINE": url, "ZTC_WORKFLOW_CACHE_SIZE": str(cache_size)})
    engine = Engine(db.session_factory(url), settings)
    engine.deploy({BPMN.name: BPMN.read_text()}, actor="bench")
    return engine


def statuses(engine: Engine, ids: list) -> list:
    with db.transaction(engine.sessions) as s:
        return list(s.scalars(select(Instance.status).where(Instance.id.in_(ids))))


# -- timing --------------------------------------------------------------------------------------


def timed(name: str, n: int, warmup: int, lifecycle, check) -> dict:
    for i in range(warmup):
        lifecycle(-1 - i)
    gc.collect()
    outputs = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for i in range(n):
        outputs.append(lifecycle(i))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    done = sum(1 for status in check(outputs) if status == "completed")
    steps = n * STEPS_PER_LIFECYCLE
    return {
        "variant": name,
        "lifecycles": n,
        "completed": done,
        "steps": steps,
        "seconds": seconds,
        "steps_per_s": steps / seconds,
        "cpu_seconds": cpu,
        "cpu_ms_per_step": cpu * 1000 / steps,
    }


def postgres_database(admin_url: str):
    """Create a throwaway database; return (its URL, a function that drops it)."""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"ztc_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    def drop():
        db.dispose_all()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="Instance steps per second of the engine (SQLite, PostgreSQL) beside bare "
        "SpiffWorkflow on bpmn/smoke.bpmn; 6 steps per lifecycle. See bench/README.md."
    )
    ap.add_argument("--lifecycles", type=int, default=200, help="timed lifecycles per variant (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed lifecycles run first (default 20)")
    ap.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL variant")
    ap.add_argument(
        "--postgres-url",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="an admin URL (psycopg2 is the installed driver); a throwaway database "
        "ztc_bench_<random> is made there and dropped at the end (default %(default)s)",
    )
    ap.add_argument(
        "--workflow-cache-size",
        type=int,
        default=1000,
        help="the engine's cache of restored workflows (ZTC_WORKFLOW_CACHE_SIZE; 0 restores "
        "every instance from its JSON on every step, as before the cache; default 1000)",
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every variant this many times, alternating, and print the medians (ratios taken "
        "within each round, so a machine that drifts between rounds moves both sides; default 1)",
    )
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = ap.parse_args(argv)
    if args.lifecycles < 1 or args.warmup < 0 or args.rounds < 1:
        ap.error("--lifecycles and --rounds must be at least 1 and --warmup at least 0")
    n, w, run_id = args.lifecycles, args.warmup, uuid.uuid4().hex[:8]

    drop_postgres = None
    if not args.no_postgres:
        try:
            pg_url, drop_postgres = postgres_database(args.postgres_url)
        except Exception as exc:
            print(
                f"cannot use PostgreSQL at {args.postgres_url}: {str(exc).strip()}\n"
                f"Start it, pass --postgres-url, or skip it with --no-postgres.",
                file=sys.stderr,
            )
            return 2

    definition = next(d for d in parse_paths([BPMN]) if d.process_id == "smoke")
    spec, key = definition.spec, f"smoke@{definition.version}"
    variants = {}  # name -> (lifecycle, check)
    for name, roundtrip in (("spiff in memory", False), ("spiff + json", True)):
        rt = WorkflowRuntime()
        variants[name] = (
            lambda i, rt=rt, roundtrip=roundtrip: spiff_lifecycle(rt, spec, key, i, roundtrip),
            lambda out: out,
        )
    rounds: list[list[dict]] = []  # each round: one row per variant, in order
    with tempfile.TemporaryDirectory(prefix="ztc-bench-") as tmp:
        try:
            engines = [("engine sqlite", config.load({"ZTC_VAR_DIR": tmp}).database_url("engine"))]
            if drop_postgres:
                engines.append(("engine postgresql", pg_url))
            for name, url in engines:
                engine = make_engine(url, args.workflow_cache_size)
                variants[name] = (
                    lambda i, engine=engine: engine_lifecycle(engine, i, f"{run_id}-{len(rounds)}"),
                    lambda ids, engine=engine: statuses(engine, ids),
                )
            for round_ in range(args.rounds):
                if args.rounds > 1:
                    print(f"[{time.strftime('%H:%M:%S')}] round {round_ + 1} of {args.rounds}", file=sys.stderr)
                rows = [
                    timed(name, n, w if round_ == 0 else 0, lifecycle, check)
                    for name, (lifecycle, check) in variants.items()
                ]
                base, cpu_base, json_base = (
                    rows[0]["seconds"] / rows[0]["steps"],
                    rows[0]["cpu_ms_per_step"],
                    rows[1]["cpu_ms_per_step"],
                )
                for row in rows:
                    row["per_step_vs_spiff"] = (row["seconds"] / row["steps"]) / base
                    row["cpu_vs_spiff"] = row["cpu_ms_per_step"] / cpu_base
                    row["cpu_vs_spiff_json"] = row["cpu_ms_per_step"] / json_base
                rounds.append(rows)
        finally:
            db.dispose_all()
            if drop_postgres:
                drop_postgres()

    # Each figure is the median of the rounds; a ratio is the median of the ratios taken within
    # each round (the baseline measured beside it), not a ratio of medians.
    rows = []
    for i in range(len(variants)):
        runs = [r[i] for r in rounds]
        row = dict(runs[0], rounds=len(runs))  # lifecycles and steps are a round's
        row["completed"] = min(r["completed"] for r in runs)
        for field in ("seconds", "steps_per_s", "cpu_seconds", "cpu_ms_per_step", *RATIOS):
            row[field] = median(r[field] for r in runs)
        rows.append(row)
    incomplete = sum(r["lifecycles"] - r["completed"] for each in rounds for r in each)
    if args.json:
        print(
            json.dumps(
                {
                    "steps_per_lifecycle": STEPS_PER_LIFECYCLE,
                    "warmup": w,
                    "workflow_cache_size": args.workflow_cache_size,
                    "python": platform.python_version(),
                    "rounds": args.rounds,
                    "rows": rows,
                    "each_round": rounds,
                },
                indent=2,
            )
        )
    else:
        print(
            f"{'variant':<18} {'lifecycles':>10} {'completed':>9} {'steps':>6} {'seconds':>8} "
            f"{'steps/s':>9} {'x spiff':>8} {'cpu ms/step':>12} {'cpu x spiff':>12} {'cpu x s+json':>12}"
        )
        for r in rows:
            print(
                f"{r['variant']:<18} {r['lifecycles']:>10} {r['completed']:>9} {r['steps']:>6} "
                f"{r['seconds']:>8.3f} {r['steps_per_s']:>9.1f} {r['per_step_vs_spiff']:>8.2f} "
                f"{r['cpu_ms_per_step']:>12.3f} {r['cpu_vs_spiff']:>12.2f} {r['cpu_vs_spiff_json']:>12.2f}"
            )
        print(
            "x spiff: wall time of one step relative to 'spiff in memory' (higher is slower).\n"
            "cpu ms/step: this process's CPU time per step (time.process_time; the database server's\n"
            "CPU is not in it), steadier than wall time on a shared machine; cpu x spiff and\n"
            "cpu x s+json: that relative to 'spiff in memory' and to 'spiff + json'."
        )
    if incomplete:
        print(f"FAILED: {incomplete} lifecycle(s) did not reach status completed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
