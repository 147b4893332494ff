"""What one statement costs this process in SQLAlchemy's execution, on the driver's cursor through
``shared.direct.Direct``, and on the bare cursor, in the same run (CPU microseconds a statement,
``time.process_time``: the database server's CPU is not in it).

    .venv/bin/python bench/direct.py                  # SQLite and PostgreSQL
    .venv/bin/python bench/direct.py --no-postgres --calls 5000

Two of the engine's per-step statements, on a fresh database of the engine's schema: the history
insert (a JSON column, a UTC datetime) and the one-row read of an instance's step columns by key.
Each is run ``--calls`` times (after a tenth as many untimed) in one transaction, rolled back at the
end, three ways: ``Connection.execute`` of the Core statement (what the engine did before
``Direct``), ``Direct`` (SQLAlchemy's SQL and type processing, the driver's cursor), and the same
SQL with the values already converted on the bare DB-API cursor (the floor: no type processing).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from sqlalchemy import insert  # noqa: E402

import engine as bench_engine  # noqa: E402  (bench/engine.py: the throwaway PostgreSQL database)
from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before nameko is imported: its deprecation warning says nothing here

from services.engine.models import History  # noqa: E402
from services.engine.store import LOAD_STEP  # noqa: E402
from shared import db  # noqa: E402
from shared.direct import Direct  # noqa: E402

AT = datetime(2026, 12, 2, 9, 30, tzinfo=timezone.utc)
ROW = {
    "instance_id": "0" * 36,
    "at": AT,
    "actor": "system",
    "action": "job_completed",
    "task": "record_submission",
    "data": {"id": 41, "title": "关于加强老旧小区加装电梯的建议", "units": ["transport", "education"]},
}
KEYS = tuple(ROW)


def per_call(calls: int, run) -> float:
    for _ in range(max(1, calls // 10)):
        run()
    started = time.process_time()
    for _ in range(calls):
        run()
    return (time.process_time() - started) * 1e6 / calls


def measure(url: str, calls: int) -> dict[str, dict[str, float]]:
    sessions = bench_engine.make_engine(url).sessions  # migrated, with bpmn/smoke.bpmn deployed (version 1)
    history = insert(History.__table__)
    history_direct = Direct(history, KEYS)
    read_direct = Direct(LOAD_STEP)
    out: dict[str, dict[str, float]] = {}
    with sessions() as s:
        conn = s.connection()
        # An instance row for the read (its step columns), written by the engine's own insert.
        from services.engine.store import INSERT_INSTANCE_DIRECT

        INSERT_INSTANCE_DIRECT.execute(
            conn,
            {
                "id": "i" * 36,
                "process_id": "smoke",
                "business_key": "2026-0001",
                "status": "waiting",
                "waiting_tasks": ["review"],
                "waiting_messages": "",
                "next_timer": None,
                "state": {"tasks": {}},
                "updated_at": AT,
                "data": {},
                "version_id": 1,
                "revision": 1,
                "created_at": AT,
            },
        )
        key = {"instance_id": "i" * 36}
        cursor = conn.connection.driver_connection.cursor()
        plan = history_direct._plan(conn.dialect)
        converted = history_direct._values(plan, ROW)
        read_plan = read_direct._plan(conn.dialect)
        read_values = read_direct._values(read_plan, key)
        out["history insert"] = {
            "sqlalchemy": per_call(calls, lambda: conn.execute(history, ROW)),
            "direct": per_call(calls, lambda: history_direct.execute(conn, ROW)),
            "bare cursor": per_call(calls, lambda: cursor.execute(plan.sql, converted)),
        }

        def bare_read():
            cursor.execute(read_plan.sql, read_values)
            cursor.fetchall()

        out["step read by key"] = {
            "sqlalchemy": per_call(calls, lambda: conn.execute(LOAD_STEP, key).one()),
            "direct": per_call(calls, lambda: read_direct.first(conn, key)),
            "bare cursor": per_call(calls, bare_read),
        }
        cursor.close()
        s.rollback()
    db.dispose_all()
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000, help="timed calls of each (default 3000)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
        help="an admin URL; a throwaway database is made there and dropped at the end",
    )
    args = parser.parse_args(argv)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        runs.append(("sqlite", measure(f"sqlite:///{tmp}/engine.db", args.calls)))
    if not args.no_postgres:
        try:
            url, drop = bench_engine.postgres_database(args.postgres_url)
        except Exception as exc:  # noqa: BLE001 - said plainly, like bench/engine.py
            print(f"PostgreSQL is not reachable at {args.postgres_url}: {exc}", file=sys.stderr)
            return 2
        try:
            runs.append(("postgresql", measure(url, args.calls)))
        finally:
            drop()
    print(f"CPU µs a statement ({args.calls} calls each, process_time)")
    print(
        f"{'database':<11} {'statement':<18} {'sqlalchemy':>10} {'direct':>8} {'bare cursor':>12} {'direct ÷ sqlalchemy':>20}"
    )
    for name, figures in runs:
        for statement, row in figures.items():
            print(
                f"{name:<11} {statement:<18} {row['sqlalchemy']:>10.1f} {row['direct']:>8.1f} {row['bare cursor']:>12.1f}"
                f" {row['direct'] / row['sqlalchemy']:>20.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
