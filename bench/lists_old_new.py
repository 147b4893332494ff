"""The staff's paged lists and the leaders' items awaiting an instruction, counted the old way and
this checkout's way, alternated on the same kept growth databases (PostgreSQL).

    .venv/bin/python bench/growth.py --db postgresql --proposals 100000 --open 10000 --keep
    .venv/bin/python bench/lists_old_new.py ztc_growth_<id>

- **the lists** (``GET /api/proposals``, ``/api/assignments``, ``/api/opinions`` as staff: the first
  page): "old" counts every row the filter matches (``shared.db.counted_page`` with ``exact``, the
  statement every list ran before the count was bounded); "new" counts up to
  ``shared.db.COUNT_BOUND``. Both are the services' own functions, called in this process (no RPC).
- **the leaders' awaiting** (``GET /api/opinions?awaiting=instruction``): the repository's first
  page. "old" is the statement before: the items among every report adopted and not instructed,
  gathered first (``IN``), counted exactly; "new" is this checkout's (an ``EXISTS`` asked of each
  item newest first, counted up to the bound).

Each call's wall time and this process's CPU, medians of ``--rounds`` alternated rounds, and
whether both found the same page.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import exists, select  # noqa: E402

import services.assignment.repository as assignment_repository  # noqa: E402
import services.intake.sql as intake_sql  # noqa: E402
from services.assignment import queries as assignment_queries  # noqa: E402
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork  # noqa: E402
from services.intake import opinions as intake_opinions  # noqa: E402
from services.intake import proposals as intake_proposals  # noqa: E402
from services.intake.models import OpinionInstruction, OpinionItem, OpinionReport  # noqa: E402
from services.intake.unit_of_work import SqlIntakeUnitOfWork  # noqa: E402
from shared import db  # noqa: E402

STAFF = {"user": "staff.zhao", "roles": ["staff"]}
MODULES = (intake_sql, assignment_repository)  # where the lists' counted_page is imported
NEWEST = (OpinionItem.year.desc(), OpinionItem.sequence.desc())


def exact_counts(on: bool) -> None:
    """The lists' counted_page counting every row (``on``) or up to the bound (this checkout)."""
    for module in MODULES:
        module.counted_page = functools.partial(db.counted_page, exact=True) if on else db.counted_page


def old_awaiting(session, offset: int, limit: int):
    instructed = exists().where(
        OpinionInstruction.item_id == OpinionReport.item_id, OpinionInstruction.channel == OpinionReport.channel
    )
    waiting = select(OpinionReport.item_id).where(OpinionReport.adoption == "adopted", ~instructed)
    return db.counted_page(session, OpinionItem, [OpinionItem.id.in_(waiting)], NEWEST, offset, limit, exact=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix", help="the kept databases' prefix, ztc_growth_<id> (growth.py --keep prints it)")
    parser.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/", help="server URL")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    intake = db.session_factory(f"{args.postgres}{args.prefix}_intake")
    assignment = db.session_factory(f"{args.postgres}{args.prefix}_assignment")

    def listed(call: Callable[[], dict]) -> Callable[[bool], tuple]:
        def run(old: bool) -> tuple:
            exact_counts(old)
            try:
                answer = call()
            finally:
                exact_counts(False)
            return answer["total"], answer["total_exact"], [i.get("number", i.get("id")) for i in answer["items"]]

        return run

    def proposals() -> dict:
        with db.transaction(intake) as s:
            return intake_proposals.proposal_page(SqlIntakeUnitOfWork(s), STAFF, {})

    def assignments() -> dict:
        with db.transaction(assignment) as s:
            return assignment_queries.assignment_page(SqlAssignmentUnitOfWork(s), STAFF)

    def opinions() -> dict:
        with db.transaction(intake) as s:
            return intake_opinions.item_page(SqlIntakeUnitOfWork(s), STAFF, {})

    def awaiting(old: bool) -> tuple:
        with db.transaction(intake) as s:
            if old:
                counted, items = old_awaiting(s, 0, 50)
            else:
                counted, items = SqlIntakeUnitOfWork(s).opinions.item_page(0, 50, awaiting_instruction=True)
            return counted.total, counted.exact, [i.number for i in items]

    calls = {
        "proposals, staff": listed(proposals),
        "assignments, staff": listed(assignments),
        "opinions, staff": listed(opinions),
        "opinions, leader's awaiting (the repository's page)": awaiting,
    }
    for call in calls.values():  # warm: the connections, the statements' caches, the buffers
        call(True), call(False)
    figures: dict[tuple[str, str], list] = {}
    pages: dict[tuple[str, str], tuple] = {}
    for _ in range(args.rounds):
        for name, call in calls.items():
            for side in ("old", "new"):
                wall, cpu = time.perf_counter(), time.process_time()
                pages[(name, side)] = call(side == "old")
                figures.setdefault((name, side), []).append((time.perf_counter() - wall, time.process_time() - cpu))
    print(f"{args.prefix} on PostgreSQL, medians of {args.rounds} alternated rounds; COUNT_BOUND {db.COUNT_BOUND}")
    print(
        f"{'call':52} {'old wall ms':>11} {'new wall ms':>11} {'old cpu':>8} {'new cpu':>8}  totals old / new, same page"
    )
    for name in calls:
        (ow, oc), (nw, nc) = (
            [statistics.median(x) * 1000 for x in zip(*figures[(name, side)], strict=True)] for side in ("old", "new")
        )
        old, new = pages[(name, "old")], pages[(name, "new")]
        totals = f"{old[0]}{'' if old[1] else '+'} / {new[0]}{'' if new[1] else '+'}"
        print(f"{name:52} {ow:11.2f} {nw:11.2f} {oc:8.2f} {nc:8.2f}  {totals}, {old[2] == new[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
