"""The engine's statements per lifecycle, by kind, and the CPU its process spends in the database
driver for each, beside the same driver's bare round trip measured in the same run.

    .venv/bin/python bench/statements.py                 # SQLite and PostgreSQL
    .venv/bin/python bench/statements.py --no-postgres --lifecycles 100

It drives ``bpmn/smoke.bpmn`` lifecycles through ``Engine`` (``bench/engine.py``'s lifecycle: six
steps, the jobs taken by the engine's own outbox relay). Around every statement the driver
executes (SQLAlchemy's ``before_cursor_execute`` and ``after_cursor_execute``) it reads this
process's CPU clock (``time.process_time``: user and system time, the database server's not in
it), and sums it by the statement's first words. On PostgreSQL one round trip may carry several
statements (the engine's writes held until its next statement, ``shared.direct``): it is counted by
the statements it carried. Printed per database: statements, round trips and commits per lifecycle
and per step, then per kind of round trip how many a lifecycle makes, the CPU microseconds of one,
and the mean size of its parameters.

The baseline is the driver alone, on a connection of its own to the same database, in a tight loop
(``--baseline-calls`` round trips, after a tenth as many untimed): ``SELECT 1``, and a one-row
``SELECT`` by primary key from the engine's ``instances`` table; on PostgreSQL also ``SELECT 1``
over the server's Unix socket (``/var/run/postgresql``, where it is) instead of TCP. A statement
inside the engine costs more than in the loop even where the server's work is the same (the
server's CPU is in neither figure). The likely reason, not measured: between two statements the
process runs SpiffWorkflow and SQLAlchemy, so the driver's code and data are no longer in the CPU's
caches. Commits are timed the same way (the dialect's ``do_commit``). The difference between the
databases' driver CPU per step is what a step costs more on one than on the other in the driver
itself; SQLAlchemy's own work around each statement is not in it (see ``bench/engine.py`` for the whole step).
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sqlalchemy import event, text  # noqa: E402

import engine as bench_engine  # noqa: E402  (bench/engine.py beside this file)
from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before nameko is imported: its deprecation warning says nothing here

from shared import config, db  # noqa: E402

SOCKET_DIR = "/var/run/postgresql"  # Debian's PostgreSQL puts its socket here


# A round trip that carries the engine's held writes (``shared.direct``: rendered with their values,
# joined by ";") is split where a statement begins. A value holding ";INSERT INTO " would be split
# too; the bench's lifecycles hold none.
_NEXT_STATEMENT = re.compile(r";(?=(?:INSERT INTO|UPDATE|DELETE FROM|SELECT|WITH) )")


def kind(statement: str) -> str:
    """The kind of a round trip: of its one statement (:func:`one_kind`), or of each it carried,
    joined by `` + ``."""
    return " + ".join(one_kind(part) for part in _NEXT_STATEMENT.split(statement))


def one_kind(statement: str) -> str:
    """A statement's verb and tables: ``INSERT INTO history``, ``UPDATE instances``, ``DELETE FROM
    outbox``, ``SELECT FROM jobs JOIN instances`` (the tables after FROM and JOIN, in order)."""
    head = " ".join(statement.split())
    if found := re.match(r"(INSERT INTO|UPDATE|DELETE FROM) (\w+)", head):
        return f"{found[1]} {found[2]}"
    if head.startswith("SELECT"):
        tables = re.findall(r" (FROM|JOIN) (\w+)", head)
        return "SELECT " + " ".join(f"{word} {table}" for word, table in tables)
    return head[:40]


def measure(url: str, lifecycles: int, warmup: int) -> dict:
    eng = bench_engine.make_engine(url)
    run = uuid.uuid4().hex[:8]
    for i in range(warmup):
        bench_engine.engine_lifecycle(eng, -1 - i, run)
    sa_engine = db.get_engine(url)
    cpu: collections.Counter = collections.Counter()
    calls: collections.Counter = collections.Counter()
    size: collections.Counter = collections.Counter()
    commits = [0]
    commit_cpu = [0.0]
    started: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        started.append(time.process_time())

    def after(conn, cursor, statement, parameters, context, executemany):
        k = kind(statement)
        cpu[k] += time.process_time() - started.pop()
        calls[k] += 1
        # A round trip of held writes has its values in its text.
        size[k] += len(repr(parameters)) if parameters is not None else len(statement)

    def commit(conn):
        commits[0] += 1

    real_commit = sa_engine.dialect.do_commit

    def timed_commit(dbapi_connection):
        t = time.process_time()
        try:
            return real_commit(dbapi_connection)
        finally:
            commit_cpu[0] += time.process_time() - t

    event.listen(sa_engine, "before_cursor_execute", before)
    event.listen(sa_engine, "after_cursor_execute", after)
    event.listen(sa_engine, "commit", commit)
    sa_engine.dialect.do_commit = timed_commit
    try:
        ids = [bench_engine.engine_lifecycle(eng, i, run) for i in range(lifecycles)]
    finally:
        sa_engine.dialect.do_commit = real_commit
        event.remove(sa_engine, "before_cursor_execute", before)
        event.remove(sa_engine, "after_cursor_execute", after)
        event.remove(sa_engine, "commit", commit)
    done = bench_engine.statuses(eng, ids)
    if done.count("completed") != lifecycles:
        raise bench_engine.BenchError(f"{done.count('completed')} of {lifecycles} lifecycles completed")
    return {
        "cpu": cpu,
        "calls": calls,
        "size": size,
        "commits": commits[0],
        "commit_cpu": commit_cpu[0],
        "lifecycles": lifecycles,
    }


def baseline(url: str, calls: int) -> dict[str, float]:
    """CPU microseconds of one bare driver round trip (a raw DBAPI cursor), per query."""
    sa_engine = db.get_engine(url)
    with sa_engine.connect() as conn:
        instance_id = conn.execute(text("SELECT id FROM instances LIMIT 1")).scalar_one()
        raw = conn.connection.dbapi_connection
        cursor = raw.cursor()
        param = "%s" if sa_engine.dialect.name == "postgresql" else "?"
        out = {}
        for name, query, params in (
            ("SELECT 1", "SELECT 1", ()),
            ("one row by key", f"SELECT id, status, revision FROM instances WHERE id = {param}", (instance_id,)),
        ):
            for _ in range(max(calls // 10, 1)):
                cursor.execute(query, params)
                cursor.fetchall()
            t = time.process_time()
            for _ in range(calls):
                cursor.execute(query, params)
                cursor.fetchall()
            out[name] = (time.process_time() - t) * 1e6 / calls
        cursor.close()
        conn.rollback()
    if sa_engine.dialect.name == "postgresql" and Path(SOCKET_DIR).is_dir():
        # The same round trip over the server's Unix socket instead of TCP: a driver's floor that
        # a deployment on the database's own machine could have.
        import psycopg2

        u = sa_engine.url
        raw = psycopg2.connect(host=SOCKET_DIR, port=u.port or 5432, user=u.username, dbname=u.database)
        try:
            cursor = raw.cursor()
            for _ in range(max(calls // 10, 1)):
                cursor.execute("SELECT 1")
                cursor.fetchall()
            t = time.process_time()
            for _ in range(calls):
                cursor.execute("SELECT 1")
                cursor.fetchall()
            out["SELECT 1 over the Unix socket"] = (time.process_time() - t) * 1e6 / calls
        finally:
            raw.close()
    return out


def report(name: str, m: dict, base: dict[str, float]) -> None:
    n, steps = m["lifecycles"], m["lifecycles"] * bench_engine.STEPS_PER_LIFECYCLE
    total_calls, total_cpu = sum(m["calls"].values()), sum(m["cpu"].values())
    carried = sum(c * (k.count(" + ") + 1) for k, c in m["calls"].items())
    print(f"== {name}: {n} lifecycles, {steps} steps ==")
    print(
        f"statements: {carried / n:.1f} a lifecycle in {total_calls / n:.1f} round trips, "
        f"{total_calls / steps:.2f} round trips a step; "
        f"commits: {m['commits'] / n:.1f} a lifecycle, "
        f"{m['commit_cpu'] * 1e6 / max(m['commits'], 1):.1f} us each, {m['commit_cpu'] * 1e3 / steps:.3f} ms a step"
    )
    print(
        f"driver CPU: {total_cpu * 1e3 / steps:.3f} ms a step, "
        f"{total_cpu * 1e6 / max(total_calls, 1):.1f} us a round trip on average"
    )
    print("bare driver, same database, tight loop: " + ", ".join(f"{k} {v:.1f} us" for k, v in base.items()))
    print(f"{'a lifecycle':>11} {'us each':>8} {'params B':>9}  round trip: its statement, or those it carried")
    for k, c in m["cpu"].most_common():
        count = m["calls"][k]
        print(f"{count / n:11.1f} {c * 1e6 / count:8.1f} {m['size'][k] / count:9.0f}  {k}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="The engine's statements per lifecycle by kind, and the driver CPU of each, beside "
        "the bare driver's round trip (SQLite and PostgreSQL). See the module's docstring."
    )
    ap.add_argument("--lifecycles", type=int, default=200, help="counted lifecycles per database (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="uncounted lifecycles first (default 20)")
    ap.add_argument("--baseline-calls", type=int, default=3000, help="bare round trips per query (default 3000)")
    ap.add_argument("--no-postgres", action="store_true", help="SQLite only")
    ap.add_argument(
        "--postgres-url",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="an admin URL; a throwaway database is made there and dropped at the end (default %(default)s)",
    )
    args = ap.parse_args(argv)
    if args.lifecycles < 1 or args.warmup < 0 or args.baseline_calls < 1:
        ap.error("--lifecycles and --baseline-calls must be at least 1 and --warmup at least 0")
    with tempfile.TemporaryDirectory(prefix="ztc-statements-") as tmp:
        targets = [("sqlite", config.load({"ZTC_VAR_DIR": tmp}).database_url("engine"), lambda: None)]
        if not args.no_postgres:
            try:
                url, drop = bench_engine.postgres_database(args.postgres_url)
            except Exception as exc:
                print(f"cannot use PostgreSQL at {args.postgres_url}: {str(exc).strip()}", file=sys.stderr)
                return 2
            targets.append(("postgresql", url, drop))
        try:
            for name, url, _ in targets:
                m = measure(url, args.lifecycles, args.warmup)
                report(name, m, baseline(url, args.baseline_calls))
        finally:
            for _, _, drop in targets:
                drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
