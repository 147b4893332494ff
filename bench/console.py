"""The console's first paint: each role's main pages on an empty system and with a year of data.

In one run, on one database kind (``--db``):

1. starts every service as its own process, prepared as ``make run`` prepares them (migrate,
   declare, deploy, seed, demo accounts), on a throwaway vhost and databases (``harness.System``);
2. loads a **seed**: three proposals (one the demo member's, one published) with their instances,
   work, deadlines and assignments, so that every page has something to show — the empty system;
3. drives Debian's chromium (``tests/e2e/browser.py``) through the pages below, each signed in as
   its role: ``--loads`` loads per page after one not timed, reading the first contentful paint
   (``performance.getEntriesByType('paint')``) and the navigation timing's ``responseEnd``;
4. loads **a year of data** with ``bench/growth.py``'s loader (``--proposals`` finished and
   ``--open`` open proposals of this year, assignments and replies for the filed ones) and
   measures the same pages again;
5. prints per page the medians empty and loaded, the ratio, and whether the loaded page's first
   paint is under 1 s, beside the baseline measured in the same run: a static file the gateway
   serves (``/console/static/console.css``), and the load average.

Run from the repository root:  .venv/bin/python bench/console.py --help
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402 - bench/harness.py, beside this file (puts the repository on sys.path)

import growth  # noqa: E402 - bench/growth.py: the bulk loader
from harness import say  # noqa: E402
from services.launcher import DEMO_PASSWORD, DEMO_USERS  # noqa: E402
from shared import clock  # noqa: E402

TARGET_MS = 1000
LOADED = ("engine", "intake", "supervision", "assignment")
YEAR_OPINIONS, YEAR_MEMBERS = 2000, 400  # a city committee's year: opinion items, its members
STATIC = "/console/static/console.css"
PAINT = """
const nav = performance.getEntriesByType('navigation')[0];
const fcp = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
return {fcp: fcp ? fcp.startTime : null, response_end: nav ? nav.responseEnd : null,
        status: nav && nav.responseStatus !== undefined ? nav.responseStatus : null,
        url: location.pathname, bytes: nav ? nav.transferSize : null};
"""


def pages(system) -> list[tuple[str, str | None, str]]:
    """(page, role signed in or None for the public, path) — the main pages of each role, with the
    proposal, assignment and version each detail page shows picked from the databases."""
    from sqlalchemy import select

    from services.assignment.models import Assignment
    from services.engine.models import ProcessVersion
    from services.intake.models import Proposal

    member, unit = DEMO_USERS["member"]["user"], DEMO_USERS["unit"]["unit"]
    year = clock.now().year
    with system.session("intake") as s:
        mine = s.scalar(select(Proposal.number).where(Proposal.initiator == member).order_by(Proposal.id.desc()))
        published = s.scalar(select(Proposal.number).where(Proposal.status == "published").order_by(Proposal.id.desc()))
    with system.session("assignment") as s:
        assignment = s.scalar(select(Assignment.id).where(Assignment.unit == unit).order_by(Assignment.id.desc()))
    with system.session("engine") as s:
        version = s.scalar(
            select(ProcessVersion.version).where(ProcessVersion.process_id == "proposal").order_by(ProcessVersion.id)
        )
    if not (mine and published and assignment and version):
        raise RuntimeError(f"nothing to show: {mine=} {published=} {assignment=} {version=}")
    return [
        ("member: home", "member", "/console"),
        ("member: my proposals", "member", "/console/proposals"),
        ("member: a proposal", "member", f"/console/proposals/{mine}"),
        ("member: new proposal", "member", "/console/proposals/new"),
        ("member: my opinion items", "member", "/console/opinions"),
        ("staff: task list", "staff", "/console/tasks"),
        ("staff: overdue board", "staff", "/console/overdue"),
        ("staff: published", "staff", "/console/published"),
        ("staff: opinions report", "staff", f"/console/reports/opinions/{year}"),
        ("committee: task list", "committee", "/console/tasks"),
        ("leader: opinions", "leader", "/console/leader/opinions"),
        ("leader: key proposals", "leader", "/console/leader/key-proposals"),
        ("unit: assignments", "unit", "/console/assignments"),
        ("unit: an assignment", "unit", f"/console/assignments/{assignment}"),
        ("public: home", None, "/console/public"),
        ("public: proposals", None, "/console/public/proposals"),
        ("public: a proposal", None, f"/console/public/proposals/{published}"),
        ("public: adopted opinions", None, f"/console/public/opinions/{year}"),
        ("operator: queues", "operator", "/console/ops/queues"),
        ("operator: instances", "operator", "/console/ops/instances"),
        ("designer: versions", "operator", "/console/designs"),
        ("designer: a version", "operator", f"/console/designs/proposal/versions/{version}"),
    ]


def give_to_demo_unit(system) -> None:
    """The seed's first assignment goes to the demo handler's unit, so their inbox is not empty."""
    from sqlalchemy import select, update

    from services.assignment.models import Assignment

    with system.session("assignment") as s:
        first = s.scalar(select(func_min(Assignment.id)))
        if first is None:
            raise RuntimeError("the seed made no assignment")
        s.execute(update(Assignment).where(Assignment.id == first).values(unit=DEMO_USERS["unit"]["unit"]))


def func_min(column):
    from sqlalchemy import func

    return func.min(column)


def log_in(driver, base: str, role: str | None) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.delete_all_cookies()
    if role is None:
        return
    driver.get(base + "/console/login")
    driver.find_element(By.ID, "user").send_keys(DEMO_USERS[role]["user"])
    driver.find_element(By.ID, "password").send_keys(DEMO_PASSWORD + Keys.ENTER)
    deadline = time.time() + 20
    while "/console/login" in driver.current_url:
        if time.time() > deadline:
            raise RuntimeError(f"{role} could not sign in")
        time.sleep(0.1)


def timed_load(driver, url: str) -> dict:
    """One navigation: the page's own figures once its first contentful paint is known."""
    driver.get(url)
    deadline = time.time() + 10
    while True:
        figures = driver.execute_script(PAINT)
        if figures["fcp"] is not None or time.time() > deadline:
            return figures
        time.sleep(0.05)


def measure(driver, base: str, listed, loads: int) -> dict:
    """{page: {fcp, response_end (medians, ms), status, rows of every load}}. A page answering
    anything but 200, or leading elsewhere (the login page), stops the run: its time means nothing."""
    results, signed_in = {}, "nobody"
    for name, role, path in [("baseline: static file", None, STATIC), *listed]:
        if role != signed_in:
            log_in(driver, base, role)
            signed_in = role
        runs = [timed_load(driver, base + path) for _ in range(loads + 1)][1:]  # the first warms
        if any(r["url"] != path for r in runs):
            raise RuntimeError(f"{name} ({path}) led elsewhere: {runs}")
        bad = [r["status"] for r in runs if r["status"] not in (None, 200)]
        if bad:  # shown in the table: a page that fails is a finding, not a figure
            say(f"  {name} ({path}) answered {bad}; the log says: {log_hint()}")
        fcps = [r["fcp"] for r in runs if r["fcp"] is not None]
        results[name] = {
            "path": path,
            "fcp": statistics.median(fcps) if fcps else None,
            "response_end": statistics.median(r["response_end"] for r in runs),
            "bytes": runs[-1]["bytes"],
            "failed": bad,
            "runs": runs,
        }
        say(f"  {name:<24} fcp {_ms(results[name]['fcp'])}  responseEnd {_ms(results[name]['response_end'])}")
    return results


LOG_HINT: list = []


def log_hint() -> str:
    """The gateway log's last error line (set by :func:`run`)."""
    return LOG_HINT[0]() if LOG_HINT else ""


def _ms(value) -> str:
    return "   -  " if value is None else f"{value:6.0f}"


def urls_of(system) -> dict:
    return {service: system.settings.database_url(service) for service in LOADED}


def run(args) -> dict:
    sys.path.insert(0, str(harness.ROOT))
    from tests.e2e import browser

    why = browser.missing()
    if why and "axe" not in why:  # axe-core is not used here
        raise RuntimeError(why)
    year = clock.now().year
    member = DEMO_USERS["member"]["user"]
    load_average = {"start": os.getloadavg()}
    with harness.System(args.db) as system:
        say(f"[{args.db}] system ready at {system.base}; seeding the empty system")
        seed = growth.load(urls_of(system), None, year, 2, 1, 1, args.seed, True, this_year=True, member=member)
        give_to_demo_unit(system)
        seed["opinion_items"] = growth.load_opinions(system.settings.database_url("intake"), year, 3, args.seed, True)
        LOG_HINT[:] = [
            lambda: next(
                (line for line in reversed(system.log_tail("gateway", 200).splitlines()) if "Error" in line), ""
            )
        ]
        driver = browser.chromium()
        try:
            say(f"[{args.db}] measuring, empty ({args.loads} loads a page)")
            empty = measure(driver, system.base, pages(system), args.loads)
            say(f"[{args.db}] loading a year: {args.proposals} finished and {args.open} open proposals")
            counts = growth.load(
                urls_of(system),
                None,
                year,
                args.proposals,
                args.open,
                1,
                args.seed + 1,
                True,
                this_year=True,
                member=member,
            )
            counts["opinions"] = growth.load_opinions(
                system.settings.database_url("intake"), year, args.opinions, args.seed + 1, True
            )
            counts["members"] = growth.load_members(system.settings.database_url("evaluation"), args.members)
            say(f"[{args.db}] loaded in {counts['seconds']} s: {counts}")
            say(f"[{args.db}] measuring, loaded")
            loaded = measure(driver, system.base, pages(system), args.loads)
        finally:
            driver.quit()
    load_average["end"] = os.getloadavg()
    return {
        "db": args.db,
        "loads": args.loads,
        "seed_rows": seed,
        "loaded_rows": counts,
        "empty": empty,
        "loaded": loaded,
        "load_average": load_average,
    }


def report(result: dict) -> str:
    la = result["load_average"]
    lines = [
        f"\nThe console's first paint on {result['db']}: median of {result['loads']} loads a page; "
        f"a year = {result['loaded_rows'].get('proposals')} proposals; load average at the start "
        + " ".join(f"{x:.2f}" for x in la["start"])
        + ", at the end "
        + " ".join(f"{x:.2f}" for x in la["end"]),
        f"{'page':<24} {'FCP empty':>9} {'FCP year':>9} {'ratio':>6} {'<1 s':>5} "
        f"{'resp. empty':>11} {'resp. year':>10} {'KB year':>8}",
    ]
    for name, e in result["empty"].items():
        y = result["loaded"][name]
        ratio = y["fcp"] / e["fcp"] if e["fcp"] and y["fcp"] else None
        under = "?" if y["fcp"] is None else "yes" if y["fcp"] < TARGET_MS else "NO"
        if e["failed"] or y["failed"]:
            under = f"ERR {(y['failed'] or e['failed'])[0]}"
        kb = f"{y['bytes'] / 1024:8.1f}" if y["bytes"] else "       -"
        lines.append(
            f"{name:<24} {_ms(e['fcp']):>9} {_ms(y['fcp']):>9} "
            f"{(f'{ratio:.2f}' if ratio else '-'):>6} {under:>5} "
            f"{_ms(e['response_end']):>11} {_ms(y['response_end']):>10} {kb}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="The console's first contentful paint and response end per page, each role's main pages, "
        "on an empty system and with a year of data (bench/growth.py's loader), beside a static file "
        "served by the same gateway. Needs RabbitMQ with its management API, PostgreSQL (for "
        "--db postgresql) and Debian's chromium (make browser). See bench/README.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--db", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--loads", type=int, default=5, help="timed loads a page (after one not timed); the median")
    ap.add_argument("--proposals", type=int, default=growth.YEAR_FINISHED, help="finished proposals of the year")
    ap.add_argument("--open", type=int, default=growth.YEAR_OPEN, help="open proposals of the year")
    ap.add_argument("--opinions", type=int, default=YEAR_OPINIONS, help="opinion items of the year")
    ap.add_argument("--members", type=int, default=YEAR_MEMBERS, help="members in the directory")
    ap.add_argument("--seed", type=int, default=2026, help="random seed of the generated data")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = ap.parse_args(argv)
    if args.loads < 1 or min(args.proposals, args.open, args.opinions, args.members) < 0:
        ap.error("--loads must be at least 1, --proposals, --open, --opinions and --members at least 0")
    result = run(args)
    print(report(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    over = [n for n, y in result["loaded"].items() if y["failed"] or y["fcp"] is None or y["fcp"] >= TARGET_MS]
    print(f"\nover 1 s with a year loaded: {', '.join(over) if over else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
