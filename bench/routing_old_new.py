"""Routing suggestions for ten proposals: the code before the title index (every title handed to
assignment and compared there) against the code of this checkout (intake's title index),
alternated on the same kept growth databases (PostgreSQL).

    .venv/bin/python bench/growth.py --db postgresql --proposals 100000 --open 10000 --keep
    .venv/bin/python bench/routing_old_new.py ztc_growth_<id> --before 1130a81~1

The old ``services/assignment/routing.py`` is read from git at ``--before`` and run with the read
of assignments it used. Both are called in this process (no RPC: the old path's two RPC messages
of every title, 10.6 MB each at 110,000 proposals, are not in its figure). Prints each one's wall
and this process's CPU (medians), and whether both found the same units with the same counts.

Its "new" side counted every alike title from 1130a81 to 563258b; since routing counts the nearest
alike titles only (the rulebook's ``similar_titles.nearest``), the counts differ by design. To
reproduce the figures of that change, run it from a checkout of 563258b; to compare later
revisions, use ``bench/routing_revisions.py``.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from services.assignment import routing  # noqa: E402
from services.assignment.models import Assignment  # noqa: E402
from services.assignment.repository import SqlAssignmentRepository  # noqa: E402
from services.assignment.rules import RulebookRules  # noqa: E402
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork  # noqa: E402
from services.intake import proposals as intake_proposals  # noqa: E402
from services.intake.models import Proposal  # noqa: E402
from services.intake.unit_of_work import SqlIntakeUnitOfWork  # noqa: E402
from shared import db  # noqa: E402

STAFF = {"user": "staff.bench", "roles": ["staff"], "unit": None}


def old_module(revision: str):
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{revision}:services/assignment/routing.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader("services.assignment.old_routing", None))
    module.__package__ = "services.assignment"
    exec(compile(source, "old_routing.py", "exec"), module.__dict__)  # noqa: S102 - our own code at a revision

    def live_assignments(self, numbers):  # the read the old code made, as it was
        wanted = list(numbers)
        query = select(Assignment).where(Assignment.number.in_(wanted), Assignment.status != "cancelled")
        return list(self.session.scalars(query)) if wanted else []

    SqlAssignmentRepository.live_assignments = live_assignments
    return module


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix", help="the kept databases' prefix, ztc_growth_<id> (growth.py --keep prints it)")
    parser.add_argument("--before", default="1130a81~1", help="the git revision of the old code")
    parser.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/", help="server URL")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    old_routing = old_module(args.before)
    rules = RulebookRules().routing()
    intake = db.session_factory(f"{args.postgres}{args.prefix}_intake")
    assignment = db.session_factory(f"{args.postgres}{args.prefix}_assignment")
    with intake() as s:
        newest = select(Proposal.number, Proposal.title, Proposal.suggestions).order_by(Proposal.id.desc()).limit(10)
        routed = [{"number": n, "title": t, "text": x} for n, t, x in s.execute(newest)]
        total = s.scalar(select(func.count()).select_from(Proposal))

    def old():
        with intake() as s:  # what the gateway did: intake.titles, every proposal's number and title
            others = [{"number": n, "title": t} for n, t in SqlIntakeUnitOfWork(s).proposals.titles() if t]
        with assignment() as s:
            request = {"proposals": routed, "others": others}
            return old_routing.suggest_many(SqlAssignmentUnitOfWork(s), rules, request, STAFF)

    def new():
        def similar_titles(query):
            with intake() as s:
                return intake_proposals.similar_titles(SqlIntakeUnitOfWork(s), query, STAFF)

        with assignment() as s:
            return routing.suggest_many(SqlAssignmentUnitOfWork(s), rules, {"proposals": routed}, STAFF, similar_titles)

    figures: dict[str, list] = {"old": [], "new": []}
    counts = {}
    for _ in range(args.rounds):
        for name, call in (("old", old), ("new", new)):
            wall, cpu = time.perf_counter(), time.process_time()
            answer = call()
            figures[name].append((time.perf_counter() - wall, time.process_time() - cpu))
            key = "similar_proposals" if name == "old" else "similar_count"
            counts[name] = [
                (s["unit"], len(s[key]) if name == "old" else s[key]) for a in answer for s in a["suggestions"]
            ]
    print(f"{total} proposals in intake; ten routed ({routed[0]['number']}..{routed[-1]['number']})")
    for name in ("old", "new"):
        walls, cpus = zip(*figures[name], strict=True)
        runs = ", ".join(f"{w * 1000:.0f}" for w in walls)
        print(
            f"{name}: wall {statistics.median(walls) * 1000:.0f} ms (runs {runs}), "
            f"CPU in this process {statistics.median(cpus) * 1000:.0f} ms"
        )
    print("the same units with the same counts of similar past proposals:", counts["old"] == counts["new"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
