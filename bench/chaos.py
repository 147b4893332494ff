"""Chaos harness: many proposals in flight over HTTP while services are SIGKILLed at random and
the broker is restarted; then a checker proves nothing was lost and nothing happened twice.

    .venv/bin/python bench/chaos.py                                   # long form: 1000 proposals, PostgreSQL
    .venv/bin/python bench/chaos.py --db sqlite --proposals 300 --kills 20
    .venv/bin/python bench/chaos.py --short                           # what CI runs (tests/e2e/test_chaos.py)
    .venv/bin/python bench/chaos.py --proposals 60 --kills 8 --engines 3 --replicas 2 --baseline --no-broker-restart

With ``--engines N --replicas M`` the engine runs as N processes and every other service (the
gateway included) as M, on quorum queues (``--queue-type``), all on the one vhost and the same
databases; the kills then hit replicas. Revision conflicts (two engine processes, or two workers
of one, saving the same instance) are counted from the engines' logs (``revision conflict``
lines, each a save retried on the fresh state) and reported with the throughput.
``--baseline`` first runs the same load with one process of each, then prints both side by side.

Every service runs as its own process on a throwaway vhost and databases. A killer SIGKILLs a
service every few seconds and starts it again (each service once first, the gateway included, in
a random order, then random ones); once, about half way,
the RabbitMQ application is stopped and started (``rabbitmqctl stop_app`` / ``start_app``, which
touches every vhost on the broker). The people's HTTP calls never repeat a POST blindly: a call
that got no answer is followed by a look (is the proposal there by its unique title, is the task
still open, is the assignment signed, is the rating recorded) before it is sent again.

The checker, after the load: every accepted proposal must reach its end (instance completed and
the proposal published or not filed), or be an incident that a retry (``Engine.retry_incident``,
what ``ztc incidents retry`` runs) completes; no side effect may be recorded twice (read from each
service's database); every queue the services consume, and the dead-letter queue, must be empty.
Exit status 0 when every check holds, 1 otherwise; ``--json FILE`` writes the report.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from harness import SERVICES, Broker, System, say, service_of  # noqa: E402


class Killer(threading.Thread):
    """Every ``interval`` seconds SIGKILLs a random service and restarts it; restarts the broker
    once when half the proposals are done (``broker_now``, set by the load's progress) and, when the
    kills are paced by the load, its kills are all done."""

    def __init__(
        self,
        system: System,
        interval: float,
        kills: int,
        seed: int,
        broker: bool,
        targets=SERVICES,
        spread_over: int = 0,
    ):
        """``spread_over``: the number of proposals; kill ``i`` then waits until ``i`` twelfths
        (for 12 kills) of half of them are done, so the kills fall along the load, at every stage
        of the proposals in flight, not only at its start, and before its last proposals (kills
        three or more behind follow each other half a second
        apart)."""
        super().__init__(daemon=True)
        self.spread_over = spread_over
        self.done = 0  # proposals done so far (set by the load's progress)
        self.system, self.interval, self.kills_wanted = system, interval, kills
        self.rng = random.Random(seed)
        self.targets = list(targets)
        # The first round kills every service once, a random one of its replicas; it is popped
        # from the end.
        by_service: dict[str, list[str]] = collections.defaultdict(list)
        for target in self.targets:
            by_service[service_of(target)].append(target)
        self.first_round = [
            self.rng.choice(by_service[s]) for s in self.rng.sample(sorted(by_service), len(by_service))
        ]
        self.stopping = threading.Event()
        self.broker_wanted = broker
        self.broker_now = threading.Event()
        self.broker_restarts: list[float] = []
        self.broker_errors: list[str] = []
        self.consumers_back = None
        self.lock = threading.Lock()

    def run(self):
        next_kill = 0.0
        while not self.stopping.is_set():
            n = len(self.system.kills)
            # Paced by the load, the broker restart comes after the last kill: the restart and the
            # wait for consumers hold this thread for 20 s or more, and kills still due behind it
            # would otherwise fall after the load has ended.
            kills_done = not self.spread_over or n >= self.kills_wanted
            if self.broker_now.is_set() and self.broker_wanted and not self.broker_restarts and kills_done:
                say(f"broker fault on {self.system.broker.name}")
                with self.lock:
                    try:
                        self.broker_restarts.append(self.system.broker.restart())
                    except Exception as exc:  # said and reported (the run then fails), the load goes on
                        say(f"the broker fault went wrong: {type(exc).__name__}: {exc}")
                        self.broker_errors.append(f"{type(exc).__name__}: {exc}"[:2000])
                        self.broker_wanted = False
                say(f"broker back after {self.broker_restarts[-1]:.1f}s")
                self.consumers_back = self._consumers_back()
                say(f"every service queue had a consumer again {self.consumers_back}s after the broker was up")
            if (
                n < self.kills_wanted
                and self.done >= self._due(n)
                and (time.time() >= next_kill or self.done >= self._due(n + 3))
            ):
                # Every service once first (in a random order, a random replica of each), then any
                # process at random: a short run still kills each service, the gateway included.
                name = self.first_round.pop() if self.first_round else self.rng.choice(self.targets)
                self.system.kill(name)
                say(f"SIGKILLed {name} (kill {len(self.system.kills)}) and started it again")
                next_kill = time.time() + self.interval * self.rng.uniform(0.5, 1.5)
            self.stopping.wait(0.5 if self.spread_over else self.interval * self.rng.uniform(0.5, 1.5))

    def _due(self, kill: int) -> int:
        """Proposals that must be done before kill number ``kill`` (from 0)."""
        return int(kill * 0.5 * self.spread_over / self.kills_wanted) if self.spread_over else 0

    def _consumers_back(self, timeout=120):
        """Seconds until every job, result, message, start and RPC queue has a consumer again."""
        began = time.time()
        while time.time() - began < timeout:
            try:
                qs = [q for q in self.system.queues() if q["name"].startswith(("ztc.jobs.", "ztc.engine.", "rpc-"))]
                if qs and all(q.get("consumers", 0) > 0 for q in qs):
                    return round(time.time() - began, 1)
            except Exception:  # the management API is coming back too
                pass
            time.sleep(0.5)
        return None

    def stop(self):
        self.stopping.set()
        self.join(timeout=300)


# -- the checker ---------------------------------------------------------------------------------


def _dupes(rows):
    counts = collections.Counter(rows)
    return {str(k): n for k, n in counts.items() if n > 1}


def duplicates(system: System, tag: str) -> dict:
    """Side effects recorded more than once, by kind; each entry {key: count}."""
    from sqlalchemy import select

    from services.assignment.models import Assignment, Reply
    from services.engine.models import History, Instance
    from services.evaluation.models import QualityGrade, Rating, RatingRound
    from services.intake.models import Proposal, Publication
    from services.supervision.models import Deadline

    found = {}
    with system.session("intake") as s:
        found["proposals per title"] = _dupes(s.scalars(select(Proposal.title).where(Proposal.title.like(f"{tag}-%"))))
        found["publications per proposal"] = _dupes(s.scalars(select(Publication.number)))
    with system.session("engine") as s:
        found["instances per business key"] = _dupes(
            s.execute(select(Instance.process_id, Instance.business_key)).all()
        )
        found["job completions per job"] = _dupes(
            (h.data or {}).get("job_id") for h in s.scalars(select(History).where(History.action == "job_completed"))
        )
        found["task completions per instance and task"] = _dupes(
            s.execute(select(History.instance_id, History.task).where(History.action == "task_completed")).all()
        )
    with system.session("assignment") as s:
        found["assignments per proposal, round and unit"] = _dupes(
            s.execute(
                select(Assignment.number, Assignment.round, Assignment.unit).where(Assignment.status != "cancelled")
            ).all()
        )
        found["replies per assignment and round"] = _dupes(s.execute(select(Reply.assignment_id, Reply.round)).all())
    with system.session("evaluation") as s:
        found["rating rounds per proposal and round"] = _dupes(
            s.execute(select(RatingRound.number, RatingRound.round)).all()
        )
        found["ratings per round and rater"] = _dupes(s.execute(select(Rating.round_id, Rating.rater)).all())
        found["quality grades per proposal"] = _dupes(s.scalars(select(QualityGrade.number)))
    with system.session("supervision") as s:
        found["first deadlines per proposal, rule and unit"] = _dupes(
            s.execute(select(Deadline.number, Deadline.rule, Deadline.unit).where(Deadline.replaces_id.is_(None))).all()
        )
    return found


def instances_by_number(system: System) -> dict:
    from sqlalchemy import select

    from services.engine.models import Instance

    with system.session("engine") as s:
        return {
            i.business_key: (i.id, i.status)
            for i in s.scalars(select(Instance).where(Instance.process_id == "proposal"))
        }


def proposal_statuses(system: System, tag: str) -> dict:
    from sqlalchemy import select

    from services.intake.models import Proposal

    with system.session("intake") as s:
        return {
            p.number: (p.title, p.status) for p in s.scalars(select(Proposal).where(Proposal.title.like(f"{tag}-%")))
        }


def retry_incidents(system: System) -> list[dict]:
    """Retry every open incident with the engine's own code, as ``ztc incidents retry`` does."""
    from services.engine.engine import Engine
    from shared.db import session_factory

    engine = Engine(session_factory(system.settings.database_url("engine")), system.settings)
    retried = []
    for incident in engine.incidents("open"):
        retried.append(engine.retry_incident(incident["id"], {"user": "chaos.checker", "roles": ["operator"]}))
    return retried


def service_queues(system: System) -> list[dict]:
    """Every queue a ztc service consumes, and the dead-letter queue. A unit's own queue
    (``ztc.unit.<code>``) is read by that department's system, which this harness does not run."""
    return [
        q
        for q in system.queues()
        if q["name"].startswith("ztc.") and not q["name"].startswith("ztc.unit.") or q["name"].startswith("rpc-")
    ]


def settle(system: System, lifecycles, tag: str, timeout: float) -> dict:
    """Wait for every accepted proposal to end; retry incidents; report."""
    expected_end = {
        lc.number: ("not_filed" if lc.path == "not_filed" else "published") for lc in lifecycles if lc.number
    }
    retried, deadline = [], time.time() + timeout
    while True:
        statuses = proposal_statuses(system, tag)
        instances = instances_by_number(system)
        pending = [
            n
            for n, end in expected_end.items()
            if statuses.get(n, (None, None))[1] != end or instances.get(n, (None, None))[1] != "completed"
        ]
        incidents = [n for n in pending if instances.get(n, (None, None))[1] == "incident"]
        if incidents:
            say(f"{len(incidents)} proposal(s) in incident: retrying")
            retried += retry_incidents(system)
        if not pending or time.time() > deadline:
            break
        time.sleep(1)
    queues, drained_at = [], time.time() + 60
    while True:
        queues = service_queues(system)
        busy = [q for q in queues if q.get("messages", 0)]
        if not busy or time.time() > drained_at:
            break
        time.sleep(1)
    return {
        "statuses": statuses,
        "instances": instances,
        "pending": pending,
        "retried": retried,
        "queues": queues,
        "expected_end": expected_end,
    }


CONFLICT_LINE = "revision conflict on instance"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/chaos.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--proposals", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=24, help="lifecycles in flight at once")
    parser.add_argument("--kills", type=int, default=40, help="SIGKILLs of random services")
    parser.add_argument("--kill-interval", type=float, default=6.0, help="mean seconds between kills")
    parser.add_argument("--no-broker-restart", action="store_true")
    parser.add_argument(
        "--own-broker",
        action="store_true",
        help="run on a RabbitMQ node of this run's own (bench/nodes.py's, one node on free ports from 5691, "
        "stopped at the end): the broker fault restarts that node only, so work on the machine's broker "
        "goes on beside it (make test runs the short form so)",
    )
    parser.add_argument(
        "--spread-kills",
        action="store_true",
        help="pace the kills by the proposals done, so they fall all along the load",
    )
    parser.add_argument("--spare-gateway", action="store_true", help="never kill the gateway")
    parser.add_argument(
        "--not-filed-every",
        type=int,
        default=5,
        help="every Nth proposal is refused at filing instead of published (0: none)",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=180,
        help="seconds one step of one proposal may wait before the run is failed",
    )
    parser.add_argument(
        "--short",
        action="store_true",
        help="CI's short form: 80 proposals, 12 kills (every service at least once), one broker restart, PostgreSQL",
    )
    parser.add_argument("--engines", type=int, default=1, help="engine processes (replicas), default 1")
    parser.add_argument(
        "--replicas", type=int, default=1, help="processes of every other service, the gateway included (default 1)"
    )
    parser.add_argument(
        "--queue-type",
        choices=("classic", "quorum"),
        default=None,
        help="x-queue-type of the durable queues (default: quorum with replicas, else classic)",
    )
    parser.add_argument(
        "--max-workers",
        type=int,
        default=None,
        help="ZTC_MAX_WORKERS of every process (default 10 for one of each; with replicas "
        "10 divided by the most replicas of a service, at least 3, so that the "
        "database connections stay within PostgreSQL's max_connections)",
    )
    parser.add_argument(
        "--baseline", action="store_true", help="first run the same load with one process of each service, then compare"
    )
    parser.add_argument("--json", help="write the report to this file")
    return parser


def main(argv=None, broker: Broker | None = None) -> int:
    """``broker``: where to run (default the machine's broker, or with ``--own-broker`` a node of
    this run's own); its ``restart`` is the broker fault."""
    args = parser().parse_args(argv)
    if args.own_broker and broker is None:
        from nodes import Cluster, free_base_port

        with Cluster(nodes=1, base_port=free_base_port(), name=f"ztcchaos{os.getpid()}-") as node:
            return _main(args, node.restarting())
    return _main(args, broker)


def _main(args, broker: Broker | None) -> int:
    if args.short:
        # 24 proposals in flight at every stage; the 12 kills (every service at least once) are
        # spread along the load by the proposals done, at least 2 s apart on average, and all
        # fall while proposals are in flight (the report lists any that did not).
        args.proposals, args.kills, args.kill_interval, args.concurrency = 80, 12, 2.0, 24
        args.spread_kills = True
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    scaled = args.engines > 1 or args.replicas > 1
    queue_type = args.queue_type or ("quorum" if scaled else "classic")
    runs = []
    if args.baseline and scaled:
        runs.append(("one of each", 1, 1))
    runs.append(
        (
            f"{args.engines} engine(s), {args.replicas} of each other service" if scaled else "one of each",
            args.engines,
            args.replicas,
        )
    )
    reports = []
    for label, engines, replicas in runs:
        report = run(args, seed, engines, replicas, queue_type, broker or Broker())
        report["label"] = label
        reports.append(report)
    if len(reports) > 1:
        compare(reports)
    if args.json:
        Path(args.json).write_text(harness.dump(reports[0] if len(reports) == 1 else {"runs": reports}))
    return 0 if all(r["ok"] for r in reports) else 1


def compare(reports) -> None:
    """The runs side by side: throughput, conflicts and the checks."""
    rows = [
        ("lifecycles completed", lambda r: r["completed"]),
        ("load seconds", lambda r: r["load_seconds"]),
        ("lifecycles per second", lambda r: r["lifecycles_per_second"]),
        ("processes x workers each", lambda r: f"{r['processes']} x {r['max_workers']}"),
        ("kills", lambda r: len(r["kills"])),
        ("revision conflicts (retried)", lambda r: r["revision_conflicts"]),
        ("conflicts given up", lambda r: r["revision_conflicts_given_up"]),
        ("lost / duplicates", lambda r: f"{len(r['lost'])} / {sum(len(v) for v in r['duplicates'].values())}"),
        ("queues not drained", lambda r: len(r["queues_not_drained"])),
        ("load average (1 min) at the end", lambda r: r["load_average"]),
        ("checks", lambda r: "OK" if r["ok"] else "FAILED"),
    ]
    width = max(len(r["label"]) for r in reports) + 2
    say("".ljust(34) + "".join(r["label"].ljust(width) for r in reports))
    for title, value in rows:
        say(title.ljust(34) + "".join(str(value(r)).ljust(width) for r in reports))


def run(args, seed: int, engines: int, replicas: int, queue_type: str, broker: Broker) -> dict:
    tag = f"CHAOS{uuid.uuid4().hex[:6]}"
    counts = {name: replicas for name in SERVICES if name != "engine"}
    counts["engine"] = engines
    say(
        f"chaos: {args.proposals} proposals on {args.db}, {engines} engine(s), {replicas} of each other "
        f"service, {args.max_workers or max(3, 10 // max(engines, replicas))} workers each, {queue_type} queues on {broker.name}, {args.kills} kills, "
        f"{'no' if args.no_broker_restart else 'one'} broker fault, seed {seed}"
    )
    report = {
        "db": args.db,
        "proposals": args.proposals,
        "seed": seed,
        "tag": tag,
        "engines": engines,
        "replicas": replicas,
        "queue_type": queue_type,
        "broker": broker.name,
    }
    began = time.time()
    # Each process holds up to a connection per worker (and its relay's) to its database: with
    # replicas, fewer workers each keep the total about that of one of each.
    workers = args.max_workers or max(3, 10 // max(engines, replicas))
    report["max_workers"] = workers
    with System(
        args.db, replicas=counts, queue_type=queue_type, broker=broker, env={"ZTC_MAX_WORKERS": str(workers)}
    ) as system:
        report["processes"] = len(system.names)
        say(
            f"system up in {time.time() - began:.0f}s (vhost {system.vhost}, logs {system.tmp}, "
            f"{len(system.names)} processes)"
        )
        targets = [p for p in system.names if not (args.spare_gateway and service_of(p) == "gateway")]
        killer = Killer(
            system,
            args.kill_interval,
            args.kills,
            seed,
            not args.no_broker_restart,
            targets,
            spread_over=args.proposals if args.spread_kills else 0,
        )
        killer.start()

        def progress(done, failed):
            killer.done = done
            if done >= args.proposals // 2:
                killer.broker_now.set()
            if done % 20 == 0 or done == args.proposals:
                say(f"{done}/{args.proposals} lifecycles done ({failed} failed)")

        load_began = time.time()
        lifecycles, failures, http = harness.drive(
            system,
            args.proposals,
            args.concurrency,
            tag,
            args.not_filed_every,
            on_progress=progress,
            step_timeout=args.step_timeout,
        )
        load_ended = time.time()
        # The kills and the broker restart are part of the run even if the load ended first.
        killer.broker_now.set()
        while killer.is_alive() and (
            len(system.kills) < args.kills or (killer.broker_wanted and not killer.broker_restarts)
        ):
            time.sleep(0.5)
        killer.stop()
        load_seconds = time.time() - load_began
        say(f"load done in {load_seconds:.0f}s; {len(failures)} lifecycle(s) stopped; checking")
        for lc, exc in failures[:10]:
            say(f"  {lc.title} ({lc.number}): {type(exc).__name__}: {exc}")
        system.wait_ready()
        settled = settle(system, lifecycles, tag, timeout=180)
        dupes = duplicates(system, tag)
        statuses = settled["statuses"]
        accepted = [lc.number for lc in lifecycles if lc.number]
        ours = set(statuses)
        lost = sorted(n for n in settled["pending"])
        unaccounted = sorted(ours - set(accepted))  # recorded but the people never learnt its number
        busy_queues = {q["name"]: q["messages"] for q in settled["queues"] if q.get("messages", 0)}
        completed = [n for n in accepted if n not in lost]
        conflicts = system.log_count("engine", CONFLICT_LINE)
        given_up = system.log_count("engine", "gave up after")
        report.update(
            {
                "seconds": round(time.time() - began, 1),
                "load_seconds": round(load_seconds, 1),
                "accepted": len(accepted),
                "completed": len(completed),
                # the load's wall time, first submission to the last kill or lifecycle
                "lifecycles_per_second": round(len(completed) / (load_ended - load_began), 2),
                "revision_conflicts": sum(conflicts.values()) - sum(given_up.values()),
                "revision_conflicts_by_engine": conflicts,
                "revision_conflicts_given_up": sum(given_up.values()),
                "load_average": round(os.getloadavg()[0], 1),
                "incidents_retried": len(settled["retried"]),
                "completed_after_retry": len(
                    {r["instance_id"] for r in settled["retried"]}
                    & {settled["instances"][n][0] for n in completed if n in settled["instances"]}
                ),
                "lost": lost,
                "unaccounted": unaccounted,
                "lifecycles_stopped": [f"{lc.title}: {exc}" for lc, exc in failures],
                "duplicates": {k: v for k, v in dupes.items() if v},
                # A duplicate proposal whose client sent it again (after a look that found nothing)
                # may be the client's doing; one whose client sent it once is the system's.
                "submissions_sent_again": {lc.title: lc.resubmitted for lc in lifecycles if lc.resubmitted},
                "kills": [name for _, name in system.kills],
                "broker_restarts": killer.broker_restarts,
                "kills_after_the_load": [name for at, name in system.kills if at > load_ended],
                "services_never_killed": sorted(
                    {service_of(t) for t in targets} - {service_of(name) for _, name in system.kills}
                ),
                "consumers_back_seconds_after_broker_restart": killer.consumers_back,
                "broker_fault_errors": killer.broker_errors,
                "queues_not_drained": busy_queues,
                "http_calls_unanswered": http.gone,
                "exited_by_themselves": [{k: e[k] for k in ("service", "code", "log")} for e in system.exits],
                "queues_checked": sorted(q["name"] for q in settled["queues"]),
            }
        )
        if lost:
            for n in lost[:5]:
                say(f"  not finished: {n} intake={statuses.get(n)} engine={settled['instances'].get(n)}")
    ok = (
        not report["lost"]
        and not report["unaccounted"]
        and not report["duplicates"]
        and not report["queues_not_drained"]
        and not report["lifecycles_stopped"]
        and not report["revision_conflicts_given_up"]
        and (args.kills < len({service_of(t) for t in targets}) or not report["services_never_killed"])
        and report["accepted"] == args.proposals
        and len(report["kills"]) >= args.kills
        and (args.no_broker_restart or len(report["broker_restarts"]) == 1)
    )
    report["ok"] = ok
    say(
        f"accepted {report['accepted']}, completed {report['completed']} "
        f"({report['completed_after_retry']} after an incident retry), lost {len(report['lost'])}, "
        f"duplicates {sum(len(v) for v in report['duplicates'].values())}, "
        f"kills {len(report['kills'])} ({', '.join(report['kills'])}), broker faults {len(report['broker_restarts'])}, "
        f"queues not drained {report['queues_not_drained'] or 'none'}, "
        f"{report['lifecycles_per_second']} lifecycles/s, revision conflicts {report['revision_conflicts']} "
        f"(given up {report['revision_conflicts_given_up']}), in {report['seconds']:.0f}s: "
        f"{'OK' if ok else 'FAILED'}"
    )
    if report["exited_by_themselves"]:
        say(
            f"{len(report['exited_by_themselves'])} service process(es) exited by themselves and were "
            f"started again: {', '.join(e['service'] for e in report['exited_by_themselves'])} "
            "(see 'exited_by_themselves' in the report)"
        )
    if report["duplicates"]:
        say(f"duplicates: {harness.dump(report['duplicates'])}")
    return report


if __name__ == "__main__":
    sys.exit(main())
