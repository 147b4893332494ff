"""Database round trips the engine makes per job result, counted, not timed (so a busy machine does
not blur them): transactions (commits), connection checkouts, statements, and the pings a
checkout costs, on a throwaway PostgreSQL database.

    .venv/bin/python bench/roundtrips.py            # from the repository root
    cd <another checkout> && python /path/to/bench/roundtrips.py   # the same for older code

It drives ``bpmn/smoke.bpmn`` lifecycles through ``Engine`` (``bench/engine.py``'s lifecycle) and
counts during the ``handle_result`` calls only. Pings are counted as statements ``SELECT 1`` sent
outside a transaction by the pool (``pool_pre_ping``), seen through the DBAPI cursor.
"""

from __future__ import annotations

import collections
import os
import sys
import time
import uuid

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))

from sqlalchemy import event  # noqa: E402

import engine as bench_engine  # noqa: E402  (bench/engine.py of the checkout in the working directory)
from shared import quiet  # noqa: E402

quiet.eventlet_deprecation()  # before nameko is imported: its deprecation warning says nothing here

from shared import db  # noqa: E402


def main() -> int:
    url, drop = bench_engine.postgres_database("postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    try:
        eng = bench_engine.make_engine(url)
        sa_engine = db.get_engine(url)
        counts = collections.Counter()
        counting = {"on": False}

        @event.listens_for(sa_engine, "checkout")
        def _checkout(*_):
            if counting["on"]:
                counts["checkouts"] += 1

        @event.listens_for(sa_engine, "commit")
        def _commit(*_):
            if counting["on"]:
                counts["commits"] += 1

        @event.listens_for(sa_engine, "before_cursor_execute")
        def _statement(conn, cursor, statement, *_):
            if counting["on"]:
                counts["statements"] += 1

        real = sa_engine.dialect.do_ping

        def ping(dbapi_connection):
            if counting["on"]:
                counts["pings"] += 1
            return real(dbapi_connection)

        sa_engine.dialect.do_ping = ping
        original = eng.handle_result

        def counted(raw):
            counting["on"] = True
            try:
                return original(raw)
            finally:
                counting["on"] = False
                counts["results"] += 1

        eng.handle_result = counted
        run = uuid.uuid4().hex[:6]
        began = time.perf_counter()
        for i in range(30):
            bench_engine.engine_lifecycle(eng, i, run)
        seconds = time.perf_counter() - began
        n = counts["results"]
        print(
            f"{n} job results: per result {counts['commits'] / n:.2f} transactions, "
            f"{counts['checkouts'] / n:.2f} connection checkouts, {counts['pings'] / n:.2f} pings, "
            f"{counts['statements'] / n:.2f} statements  (30 lifecycles in {seconds:.2f} s)"
        )
    finally:
        drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
