"""What one statement and its commit cost PostgreSQL's server, beside what they cost this process,
for psycopg2 (the project's driver) and, when it is importable, psycopg 3 with and without
server-side prepared statements; all in the same run.

    .venv/bin/python bench/server_cpu.py
    .venv/bin/python bench/server_cpu.py --calls 2000 --postgres-url postgresql://postgres@127.0.0.1:5432/postgres

The server's CPU is read from ``/proc/<pid>/stat`` of the connection's own backend
(``pg_backend_pid()``), so the database server must run on this machine. Two statements of the
shape the services run most, each ``--calls`` times with a commit after each, on a throwaway table
of 2,000 rows that is dropped at the end: a one-row read by a unique key, and a one-row update by
key (which writes the WAL and waits for it at the commit). psycopg 3 is not a dependency of the
project; install it apart (``pip install psycopg[binary]``) to see its rows.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
STATEMENTS = (
    ("read by key", "SELECT id, key, status, revision, data FROM {table} WHERE key = %(key)s"),
    ("update by key", "UPDATE {table} SET revision = revision + 1, status = %(status)s WHERE key = %(key)s"),
)


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measure(connection, table: str, calls: int) -> dict[str, dict[str, float]]:
    """CPU µs a statement and its commit: the server's backend and this process; wall µs."""
    cursor = connection.cursor()
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
    connection.commit()
    out = {}
    for name, sql in STATEMENTS:
        sql = sql.format(table=table)
        for i in range(calls // 10):  # untimed: the backend's caches and any prepared plan
            cursor.execute(sql, {"key": f"k{i % 2000}", "status": "open"})
            connection.commit()
        server, own, wall = process_cpu(backend), time.process_time(), time.perf_counter()
        for i in range(calls):
            cursor.execute(sql, {"key": f"k{i % 2000}", "status": "open"})
            if cursor.description:
                cursor.fetchall()
            connection.commit()
        out[name] = {
            "server_us": 1e6 * (process_cpu(backend) - server) / calls,
            "client_us": 1e6 * (time.process_time() - own) / calls,
            "wall_us": 1e6 * (time.perf_counter() - wall) / calls,
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=4000, help="statements of each kind a driver (default 4000)")
    ap.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a libpq connection URI of a database to make the throwaway table in",
    )
    args = ap.parse_args()
    import psycopg2

    table = f"ztc_bench_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(args.postgres_url)
    with admin.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {table} (id serial PRIMARY KEY, key text UNIQUE, status text, revision int, data jsonb)"
        )
        cursor.execute(
            f"INSERT INTO {table} (key, status, revision, data) "
            "SELECT 'k' || g, 'open', 1, '{\"a\": 1}' FROM generate_series(0, 1999) g"
        )
    admin.commit()
    drivers = [("psycopg2", lambda: psycopg2.connect(args.postgres_url))]
    try:
        import psycopg

        drivers += [
            ("psycopg 3", lambda: psycopg.connect(args.postgres_url, prepare_threshold=None)),
            ("psycopg 3, prepared", lambda: psycopg.connect(args.postgres_url, prepare_threshold=0)),
        ]
    except ImportError:
        print("(psycopg 3 is not installed: only psycopg2 is measured)")
    try:
        print(f"{'driver':<22}{'statement':<16}{'server µs':>11}{'client µs':>11}{'wall µs':>10}")
        for label, connect in drivers:
            connection = connect()
            try:
                for name, figures in measure(connection, table, args.calls).items():
                    print(
                        f"{label:<22}{name:<16}{figures['server_us']:>11.1f}"
                        f"{figures['client_us']:>11.1f}{figures['wall_us']:>10.1f}"
                    )
            finally:
                connection.close()
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")
        admin.commit()
        admin.close()


if __name__ == "__main__":
    main()
