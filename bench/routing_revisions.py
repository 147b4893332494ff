"""Routing suggestions for ten proposals, the code of two git revisions alternated on the same kept
growth databases (PostgreSQL): what ``GET /api/routing-suggestions`` does for a page of the staff's
task list, with intake's answer passed through the bus's JSON serializer as its RPC reply is.

    .venv/bin/python bench/growth.py --db postgresql --proposals 100000 --open 10000 --keep
    .venv/bin/python bench/routing_revisions.py ztc_growth_<id> 563258b HEAD

Each revision is checked out in a temporary git worktree and measured by a child process of its
own (its code imported, nothing of the other's), one child per revision and round, alternating, so
a machine that drifts moves both. A child calls ``routing.suggest_many`` with intake's
``similar_titles`` called directly (the RPC's transfer is not in the figure; the encoding and
decoding of its answer are), once to warm up and then ``--calls`` times. Prints each revision's
wall and CPU per call (medians over the rounds), the size of intake's answer, and the units
suggested for the first proposal. Both revisions must have intake's title index (1130a81 on).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Run by the child in a revision's worktree (its code first on the path).
CHILD = r"""
import json, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from kombu.utils.json import dumps, loads
from sqlalchemy import select
from services.assignment import routing
from services.assignment.rules import RulebookRules
from services.assignment.unit_of_work import SqlAssignmentUnitOfWork
from services.intake import proposals as intake_proposals
from services.intake.models import Proposal
from services.intake.unit_of_work import SqlIntakeUnitOfWork
from shared import db

server, prefix, calls = sys.argv[2], sys.argv[3], int(sys.argv[4])
STAFF = {"user": "staff.bench", "roles": ["staff"], "unit": None}
rules = RulebookRules().routing()
intake = db.session_factory(f"{server}{prefix}_intake")
assignment = db.session_factory(f"{server}{prefix}_assignment")
with intake() as s:
    newest = select(Proposal.number, Proposal.title, Proposal.suggestions).order_by(Proposal.id.desc()).limit(10)
    routed = [{"number": n, "title": t, "text": x} for n, t, x in s.execute(newest)]
sizes = []

def similar_titles(query):
    with intake() as s:
        answer = intake_proposals.similar_titles(SqlIntakeUnitOfWork(s), query, STAFF)
    body = dumps(answer)  # the reply as the bus carries it
    sizes.append(len(body.encode()))
    return loads(body)

def call():
    with assignment() as s:
        return routing.suggest_many(SqlAssignmentUnitOfWork(s), rules, {"proposals": routed}, STAFF, similar_titles)

call()
walls, cpus = [], []
for _ in range(calls):
    wall, cpu = time.perf_counter(), time.process_time()
    answer = call()
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
first = [(s["unit"], s["score"]) for s in answer[0]["suggestions"]]
print(json.dumps({"wall": statistics.median(walls), "cpu": statistics.median(cpus), "bytes": sizes[-1], "first": first}))
"""


def worktree(revision: str, into: Path) -> Path:
    path = into / revision.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), revision], check=True)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix", help="the kept databases' prefix, ztc_growth_<id> (growth.py --keep prints it)")
    parser.add_argument("revisions", nargs=2, metavar="REVISION", help="two git revisions (a commit, HEAD, a branch)")
    parser.add_argument("--postgres", default="postgresql+psycopg2://postgres@127.0.0.1:5432/", help="server URL")
    parser.add_argument("--rounds", type=int, default=3, help="children per revision, alternating (default 3)")
    parser.add_argument("--calls", type=int, default=3, help="timed calls per child (default 3)")
    args = parser.parse_args(argv)
    figures: dict[str, list[dict]] = {revision: [] for revision in args.revisions}
    with tempfile.TemporaryDirectory(prefix="ztc-routing-") as tmp:
        trees = {revision: worktree(revision, Path(tmp)) for revision in args.revisions}
        try:
            for round_ in range(1, args.rounds + 1):
                for revision, tree in trees.items():
                    child = [sys.executable, "-c", CHILD, str(tree), args.postgres, args.prefix, str(args.calls)]
                    done = subprocess.run(child, capture_output=True, text=True, cwd=tree)
                    if done.returncode != 0:
                        print(done.stderr, file=sys.stderr)
                        return 1
                    figures[revision].append(json.loads(done.stdout.strip().splitlines()[-1]))
                    print(f"round {round_}: {revision} done", file=sys.stderr)
        finally:
            for tree in trees.values():
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
    print(
        f"routing suggestions for ten proposals on {args.prefix}, medians of {args.rounds} children x {args.calls} calls"
    )
    for revision, runs in figures.items():
        wall = statistics.median(r["wall"] for r in runs) * 1000
        cpu = statistics.median(r["cpu"] for r in runs) * 1000
        print(
            f"{revision}: wall {wall:.0f} ms, CPU {cpu:.0f} ms (intake's and assignment's, one process), "
            f"intake's answer {runs[-1]['bytes'] / 1e6:.2f} MB; first proposal's units {runs[-1]['first']}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
