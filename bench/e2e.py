"""Load benchmark: whole proposal lifecycles through the real services and broker, beside
(a) bare SpiffWorkflow replaying the same steps of ``bpmn/proposal.bpmn`` in one process and
(b) bare kombu publishing and consuming on the same broker, all in one run.

    .venv/bin/python bench/e2e.py                          # SQLite and PostgreSQL, 100 lifecycles each
    .venv/bin/python bench/e2e.py --db postgresql --proposals 200 --concurrency 24
    .venv/bin/python bench/e2e.py --profile-proposals 0    # skip the profiled pass
    .venv/bin/python bench/e2e.py --json out.json
    .venv/bin/python bench/e2e.py --db sqlite --proposals 40 --profile-proposals 0 --sample   # py-spy on every process
    .venv/bin/python bench/e2e.py --profile-proposals 0 --floor   # and the floor: bench/floor.py on the same system
    .venv/bin/python bench/e2e.py --proposals 240 --rate 4 --concurrency 48 --people eager   # an open load, 4 new a second

For each database kind: every service is started as its own process on a throwaway vhost and
databases (``bench/harness.py``), and ``--concurrency`` simulated people at a time (a member, staff,
the committee and the transport unit's handler) take ``--proposals`` proposals from submission
through filing, assignment, signing, an A reply, acceptance, rating and grading to publication,
over HTTP.

The people are a model, not a measurement (``bench/harness.py``, ``Board(patient=True)``): the
staff, the committee and the unit each look at their list now and then - again soon (0.5 s) after
a look that showed new work, otherwise after twice the last wait, up to 4 s - and the member rates
and looks at the published proposal when a notification in their inbox tells them to (the inbox is
the gateway's own data: no message on the bus). Every look at a list is an RPC call through the
gateway, so the people's messages per lifecycle grow with how long a lifecycle takes. With
``--people eager`` every role looks every 0.3 s instead (the chaos harness's people): a lifecycle
then waits for the system rather than for the people, which is how the system's capacity (the
completed lifecycles per second at 16 in flight) is measured. Printed:

* completed lifecycles per second (first submission to last publication, wall clock);
* with ``--rate``, an open load (new lifecycles due at that rate, at most ``--concurrency`` in
  flight): how late they started against when they were due, the rate they started at, the most in
  flight, a lifecycle's duration, and whether every HTTP step's p99 stayed under 250 ms at that rate;
* per step, p50/p99 of the HTTP call that takes it (client side), and per job operation, p50/p99
  from the engine sending the job to the result being applied (from the engine's history);
* each service process's CPU milliseconds per completed lifecycle (``/proc/<pid>/stat`` before and
  after the timed part), its share, and their sum beside the 150 ms target; the load generator's
  own CPU (the simulated people) apart;
* the whole machine during the timed part (``/proc/stat`` and every process's ``/proc/<pid>/stat``):
  how busy its CPUs were, and the CPU milliseconds per lifecycle of the services, the broker
  (RabbitMQ's Erlang VM), the database server (PostgreSQL's processes; SQLite runs inside the
  services), the load generator and the rest (the kernel, other work on the machine): whether the
  throughput was bound by the CPU, and what it would be if every CPU did only this;
* the engine process's CPU seconds per instance step (``/proc/<pid>/stat``), next to baseline (a):
  the instances' recorded steps (start data, job results, user-task data, messages) replayed on
  bare ``WorkflowRuntime`` objects in this process, in memory and with the JSON round trip the
  engine makes between steps;
* baseline (b): persistent messages with publisher confirms published to and consumed (acked)
  from a durable queue on the same broker, throughput and one-at-a-time round trip, and how many
  messages one lifecycle publishes on the vhost, and every one of them by party (the people's HTTP
  calls, the system's own), exchange and routing key (the broker's firehose: ``bench/tap.py``);
* unless ``--profile-proposals 0``, a second, smaller pass with the processes of
  ``--profile-services`` (the engine by default) under cProfile timed by their CPU clock
  (``bench/cpu_profile.py``; the standard library's), whose top functions by
  cumulative and own time are printed (``--profile-dir`` keeps the pstats files). cProfile slows
  the process, so that pass's throughput is not reported;
* with ``--sample`` (all processes, or those named), a sampling profile of the timed load itself:
  py-spy attached to each service process, on-CPU samples only (``bench/sampling.py``): where
  each process's CPU went by library and by function. py-spy's own processes take CPU beside the
  services, so read that run's throughput and CPU figures as disturbed.
"""

from __future__ import annotations

import argparse
import collections
import copy
import dataclasses
import json
import os
import platform
import pstats
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
import sampling  # noqa: E402
from harness import System, cpu_seconds, machine_cpu, percentile, say  # noqa: E402
from tap import MessageTap  # noqa: E402

from shared.db import json_dumps, json_loads  # noqa: E402
from tests import support  # noqa: E402

STEP_ACTIONS = ("started", "job_completed", "bpmn_error", "task_completed", "message_delivered", "timer_fired")


def vhost_published(vhost: str) -> int:
    import requests

    resp = requests.get(
        f"{harness.RABBIT_API}/vhosts/{requests.utils.quote(vhost, safe='')}", auth=harness.RABBIT_AUTH, timeout=10
    )
    resp.raise_for_status()
    return (resp.json().get("message_stats") or {}).get("publish", 0)


def quiet_published(vhost: str, still: float = 7.0, timeout: float = 90.0) -> int:
    """The vhost's publish count once it has not moved for ``still`` seconds. The management API
    samples its counts every 5 s (``collect_statistics_interval``): a count read right after the
    load misses the last seconds of it, which once looked like 8 messages per lifecycle that no
    tap could see."""
    deadline = time.time() + timeout
    last, since = vhost_published(vhost), time.time()
    while time.time() < deadline:
        time.sleep(1)
        now = vhost_published(vhost)
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= still:
            break
    return last


# The counters of ``pg_stat_database`` read for each service's database: how much work the
# services ask of PostgreSQL's server (its CPU is in "the whole machine", not in the services').
PG_ACTIVITY = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
)


def database_activity(system) -> dict[str, dict[str, int]] | None:
    """``{service: {counter: value}}`` from PostgreSQL's ``pg_stat_database``, or None on SQLite.

    A server process sends its counters to the shared statistics when its transaction ends at
    most once a second, and otherwise after 10 s idle (PostgreSQL 15), so this waits 11 s first:
    called after the load has gone quiet, every backend's counters are in."""
    if system.db_kind != "postgresql":
        return None
    from sqlalchemy import create_engine, text

    time.sleep(11)
    names = {service: system.settings.database_url(service).rsplit("/", 1)[1] for service in harness.SERVICES}
    admin = create_engine(support.POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            rows = conn.execute(
                text(f"SELECT datname, {', '.join(PG_ACTIVITY)} FROM pg_stat_database WHERE datname = ANY(:names)"),
                {"names": list(names.values())},
            ).mappings()
            by_name = {row["datname"]: {key: int(row[key] or 0) for key in PG_ACTIVITY} for row in rows}
    finally:
        admin.dispose()
    return {service: by_name.get(name, dict.fromkeys(PG_ACTIVITY, 0)) for service, name in names.items()}


def activity_per_lifecycle(before, after, lifecycles: int) -> dict[str, dict[str, float]] | None:
    """Each service database's counters during the timed part, per lifecycle: transactions
    (commits and rollbacks) and rows read, inserted, updated and deleted."""
    if before is None or after is None:
        return None
    out = {}
    for service, counts in after.items():
        delta = {key: counts[key] - before[service][key] for key in PG_ACTIVITY}
        out[service] = {
            "transactions": round((delta["xact_commit"] + delta["xact_rollback"]) / lifecycles, 1),
            "rows_read": round(delta["tup_fetched"] / lifecycles, 1),
            "rows_scanned": round(delta["tup_returned"] / lifecycles, 1),
            "rows_written": round(
                (delta["tup_inserted"] + delta["tup_updated"] + delta["tup_deleted"]) / lifecycles, 1
            ),
        }
    return out


# -- the system under load -------------------------------------------------------------------------


def run_load(
    db_kind: str,
    proposals: int,
    concurrency: int,
    profile=(),
    profile_dir: str | None = None,
    patient: bool = True,
    sample: list[str] | None = None,
    sample_rate: int = 100,
    floor_calls: int = 0,
    rate: float | None = None,
) -> dict:
    """One load (see the module's docstring); ``sample``: the processes py-spy samples during the
    timed part (an empty list: every process; None: no sampling)."""
    tag = f"LOAD{uuid.uuid4().hex[:6]}"
    with System(db_kind, profile=profile) as system:
        engine_pid = system.procs["engine"].pid
        # Warm up: a few lifecycles not counted, so imports, caches and pools are ready.
        harness.drive(system, min(4, proposals), min(4, concurrency), tag + "w", patient=patient)
        quiet_published(system.vhost)  # the warm-up's last jobs and events are done
        activity_before = database_activity(system)
        tap = MessageTap(system.vhost).__enter__()
        published_before = vhost_published(system.vhost)
        pids = {name: proc.pid for name, proc in system.procs.items()}
        cpu_all_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        cpu_self_before = time.process_time()
        machine_before = machine_cpu()
        cpu_before = cpu_seconds(engine_pid)
        steps_before = count_steps(system)
        sampler = None
        if sample is not None:
            sampled = {name: pids[name] for name in sample or pids}
            sampler = sampling.Sampler(sampled, system.tmp / "samples", sample_rate).start()
        began = time.time()
        lifecycles, failures, http = harness.drive(system, proposals, concurrency, tag, patient=patient, rate=rate)
        seconds = time.time() - began
        samples = sampler.stop() if sampler is not None else None
        cpu = cpu_seconds(engine_pid) - cpu_before
        cpu_all = {name: cpu_seconds(pid) - cpu_all_before[name] for name, pid in pids.items()}
        cpu_people = time.process_time() - cpu_self_before
        machine = {key: value - machine_before[key] for key, value in machine_cpu().items()}
        published = quiet_published(system.vhost) - published_before  # the lifecycles' last messages too
        by_kind = tap.counts()
        tap.__exit__(None, None, None)
        activity = activity_per_lifecycle(activity_before, database_activity(system), proposals)
        steps = count_steps(system) - steps_before
        out = {
            "db": db_kind,
            "people": "patient" if patient else "eager",
            "proposals": proposals,
            "concurrency": concurrency,
            "completed": sum(1 for lc in lifecycles if lc.marks and lc.marks[-1][0] == "published"),
            "failed": [f"{lc.title}: {exc}" for lc, exc in failures][:10],
            "seconds": round(seconds, 2),
            "lifecycles_per_second": round(proposals / seconds, 3),
            "http_steps": harness.step_table(http.timings),
            "open_load": harness.open_load(lifecycles, rate) if rate else None,
            "job_round_trips": harness.step_table(harness.job_round_trips(system)),
            "engine_steps": steps,
            "engine_cpu_seconds": round(cpu, 2),
            "service_cpu_seconds": {name: round(v, 2) for name, v in cpu_all.items()},
            # CPU seconds per completed lifecycle of each service process, and of all of them.
            "service_cpu_ms_per_lifecycle": {name: round(v * 1000 / proposals, 1) for name, v in cpu_all.items()},
            "service_cpu_seconds_per_lifecycle": round(sum(cpu_all.values()) / proposals, 3),
            # The load generator (this process: the simulated people's HTTP clients), apart.
            "people_cpu_ms_per_lifecycle": round(cpu_people * 1000 / proposals, 1),
            "engine_cpu_ms_per_step": round(cpu * 1000 / steps, 3) if steps else None,
            # The whole machine during the timed part, per lifecycle (see machine_summary).
            "machine": machine_summary(machine, sum(cpu_all.values()), cpu_people, seconds, proposals),
            # PostgreSQL only: each service database's transactions and rows per lifecycle.
            "database_activity_per_lifecycle": activity,
            "messages_published_per_lifecycle": round(published / proposals, 1) if published else None,
            # Copies the tap counted, per lifecycle, by party, exchange and routing key (bench/tap.py).
            "messages_per_lifecycle_by_kind": {
                f"{party} {exchange} {key}": round(n / proposals, 2)
                for (party, exchange, key), n in sorted(by_kind.items())
            },
            "messages_per_lifecycle_by_party": {
                party: round(sum(n for (p, _x, _k), n in by_kind.items() if p == party) / proposals, 2)
                for party in ("people", "system")
            },
            "messages_not_tapped_per_lifecycle": round((published - sum(by_kind.values())) / proposals, 2),
        }
        if samples is not None:
            out["samples"] = samples
            out["sample_rate"] = sample_rate
        if not profile:
            out["replay"] = replay(system, tag)
        if floor_calls and not profile:
            say(f"floors on {db_kind}: bench/floor.py on this system, {floor_calls} calls a variant")
            out["floor"] = measure_floor(system, floor_calls)
            parties = out["messages_per_lifecycle_by_party"]
            out["floor_per_lifecycle"] = lifecycle_floor(
                out["floor"],
                people_rpc_calls=parties["people"] / 2,  # a request and its reply
                system_messages=parties["system"],
                steps=steps / proposals,
                step_ms=out["replay"]["spiff + json"]["cpu_ms_per_step"],
            )
        if profile:
            system.stop()  # a graceful stop writes the profiles
            out["profile"] = {}
            for name in profile:
                prof = system.tmp / f"{name}.prof"
                out["profile"][name] = profile_summary(prof) if prof.exists() else "no profile written"
                if profile_dir and prof.exists():
                    Path(profile_dir).mkdir(parents=True, exist_ok=True)
                    (Path(profile_dir) / f"{db_kind}-{name}.prof").write_bytes(prof.read_bytes())
        return out


def measure_floor(system, calls: int) -> dict:
    """``bench/floor.py --attach``: the floors per message measured on this system's broker and
    processes (the load is over; they are idle), beside bare kombu and bare nameko responders."""
    return measure_floor_of(harness.Target.of(system), system.tmp, calls)


def measure_floor_of(target: harness.Target, workdir: Path, calls: int) -> dict:
    """:func:`measure_floor` on any running system ``target`` describes; its files go in ``workdir``."""
    described = workdir / "floor-target.json"
    figures = workdir / "floor.json"
    described.write_text(json.dumps(dataclasses.asdict(target)))
    services = [name for name in harness.SERVICES if name != "gateway"]
    done = support.run_bench(
        "floor.py",
        "--attach",
        str(described),
        "--services",
        *services,
        "--calls",
        str(calls),
        "--rounds",
        "1",
        "--json",
        str(figures),
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench/floor.py failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(figures.read_text())


def _median_of(result: dict, variant: str) -> float:
    return statistics.median(result["cpu_ms_per_call"][variant])


def lifecycle_floor(
    result: dict, people_rpc_calls: float, system_messages: float, steps: float, step_ms: float
) -> dict:
    """What a lifecycle's messages and steps cost at least, priced at the floors measured in
    ``result`` (CPU ms): each of the people's requests that makes an RPC call is an HTTP answer,
    the caller's side of the call and its answer in bare nameko; each of the system's own messages
    is published with confirms once (bare kombu's RPC answer less its event consumed) and consumed
    by nameko at least once; each engine step costs ``step_ms`` (Spiff + JSON of the same run).
    A lower bound: events consumed by more than one service, requests that make no RPC call,
    timers and heartbeats are left out."""
    http = _median_of(result, "bare nameko /health")
    caller = (_median_of(result, "bare nameko /ready") - http) / 5
    request = http + caller + _median_of(result, "bare nameko")
    message = max(0.0, _median_of(result, "bare kombu") - _median_of(result, "bare kombu event")) + _median_of(
        result, "bare nameko event"
    )
    parts = {
        "people's requests": people_rpc_calls * request,
        "system's messages": system_messages * message,
        "engine steps": steps * step_ms,
    }
    return {
        "request_ms": round(request, 3),
        "message_ms": round(message, 3),
        "parts_ms": {k: round(v, 1) for k, v in parts.items()},
        "ms": round(sum(parts.values()), 1),
    }


def count_steps(system) -> int:
    from sqlalchemy import func, select

    from services.engine.models import History

    with system.session("engine") as s:
        return s.scalar(select(func.count()).select_from(History).where(History.action.in_(STEP_ACTIONS)))


def profile_summary(path: Path, top: int = 25) -> dict:
    """Own time grouped by library, and the top functions by own time and (for our code and the
    libraries it calls) by cumulative time. cProfile follows one OS thread; eventlet's green
    threads switch inside it, so cumulative times of the hub and its waits are not meaningful."""
    import io

    stats = pstats.Stats(str(path))
    groups = collections.Counter()
    for (filename, _line, function), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        # The same groups as the sampling profile's (a library by the path of its file).
        label = sampling.group_of_path(filename)
        if label == "other" and "poll" in function:
            label = "select/poll (idle)"
        groups[label] += tt
    busy = sum(v for k, v in groups.items() if k != "select/poll (idle)")
    result = {
        "total_seconds": round(stats.total_tt, 2),
        "busy_seconds": round(busy, 2),
        "own_time_by_group": {k: round(v, 2) for k, v in groups.most_common()},
    }
    buffer = io.StringIO()
    pstats.Stats(str(path), stream=buffer).sort_stats("tottime").print_stats(top)
    result["tottime"] = buffer.getvalue().split("ncalls", 1)[-1]
    buffer = io.StringIO()
    pstats.Stats(str(path), stream=buffer).sort_stats("cumulative").print_stats(
        r"/services/|/shared/|SpiffWorkflow/bpmn/serializer|sqlalchemy/orm/session", top
    )
    result["cumulative"] = buffer.getvalue().split("ncalls", 1)[-1]
    return result


# -- baseline (a): the same steps on bare SpiffWorkflow --------------------------------------------


def recorded_instances(system, tag):
    """For each of this run's completed proposal instances: its start data and its steps, in order."""
    from sqlalchemy import select

    from services.engine.models import History, Instance, ProcessVersion

    with system.session("engine") as s:
        spec = {}
        out = []
        for inst in s.scalars(
            select(Instance).where(Instance.process_id == "proposal", Instance.status == "completed")
        ):
            version = s.get(ProcessVersion, inst.version_id)
            spec.setdefault(version.id, (f"{version.process_id}@{version.version}", version.spec))
            start = next(t for t in inst.state["tasks"].values() if t["task_spec"] == "Start")
            steps = [
                (h.action, h.task, h.data)
                for h in s.scalars(select(History).where(History.instance_id == inst.id).order_by(History.id))
                if h.action in STEP_ACTIONS[1:]
            ]
            out.append((spec[version.id], copy.deepcopy(start["data"]), steps))
    return out


def replay(system, tag) -> dict:
    from shared.workflow.runtime import WorkflowRuntime

    recorded = recorded_instances(system, tag)
    result = {}
    for variant in ("spiff in memory", "spiff + json"):
        runtime = WorkflowRuntime()
        steps, began_cpu, began = 0, time.process_time(), time.perf_counter()
        for (key, spec), data, events in recorded:
            steps += replay_one(runtime, key, spec, data, events, variant == "spiff + json")
        wall, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        result[variant] = {
            "instances": len(recorded),
            "steps": steps,
            "seconds": round(wall, 3),
            "cpu_ms_per_step": round(cpu * 1000 / steps, 3) if steps else None,
        }
    return result


def replay_one(runtime, key, spec, data, events, with_json) -> int:
    workflow = runtime.create(spec, data, version_key=key)
    wait = runtime.run(workflow)
    steps, jobs = 1, {}

    def note(wait):
        for request in wait.new_jobs:
            runtime.mark_job_sent(workflow, request.task_id, "j" + request.task_id)
            jobs[request.task_name] = request.task_id

    note(wait)
    for action, task, payload in events:
        if with_json:
            # The JSON the engine's columns are written and read with (shared/db.py).
            workflow = runtime.loads(json_loads(json_dumps(runtime.dumps(workflow))), spec, version_key=key)
        # The runtime's steps answer nothing; the engine computes the wait state once per save.
        if action == "job_completed":
            task_id = jobs.pop(task)
            runtime.complete_job(workflow, task_id, "j" + task_id, payload.get("result"))
        elif action == "bpmn_error":
            task_id = jobs.pop(task)
            runtime.throw_job_error(workflow, task_id, "j" + task_id, payload["code"], payload.get("message", ""))
        elif action == "task_completed":
            info = next(u for u in runtime.wait_state(workflow).user_tasks if u.task_name == task)
            runtime.complete_user_task(workflow, info.task_id, payload or {}, actor="replay")
        elif action == "message_delivered":
            runtime.deliver_message(workflow, task, payload.get("payload") or {})
        elif action == "timer_fired":
            runtime.fire_timers(workflow)
        note(runtime.wait_state(workflow))  # the one wait state the engine computes per save
        steps += 1
    if not workflow.completed:
        raise RuntimeError("a replayed instance did not complete: the replay went off the recorded path")
    return steps


# -- baseline (b): bare kombu on the same broker ---------------------------------------------------


def kombu_baseline(messages: int = 2000, round_trips: int = 300) -> dict:
    from kombu import Connection, Exchange, Queue

    body = json.dumps(
        {
            "job_id": "x" * 32,
            "instance_id": str(uuid.uuid4()),
            "task_id": str(uuid.uuid4()),
            "operation": "intake.record_submission",
            "params": {"title": "在学校周边设置安全过街设施"},
            "attempt": 1,
            "principal": {"user": "member.li"},
        }
    )
    with support.rabbit_vhost() as vhost:
        uri = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
        exchange = Exchange("bench", "topic", durable=True)
        queue = Queue("bench.jobs", exchange, routing_key="#", durable=True)
        with Connection(uri, transport_options={"confirm_publish": True}) as conn:
            channel = conn.channel()
            queue(channel).declare()
            producer = conn.Producer(channel)
            began = time.perf_counter()
            for _ in range(messages):
                producer.publish(
                    body,
                    exchange=exchange,
                    routing_key="intake.record_submission",
                    delivery_mode=2,
                    content_type="application/json",
                )
            published = time.perf_counter() - began
            got = []
            with conn.Consumer(queue, callbacks=[lambda b, m: (got.append(1), m.ack())], prefetch_count=50):
                began = time.perf_counter()
                while len(got) < messages:
                    conn.drain_events(timeout=10)
                consumed = time.perf_counter() - began
            latencies = []
            done = []
            with conn.Consumer(queue, callbacks=[lambda b, m: (done.append(1), m.ack())], prefetch_count=1):
                for _ in range(round_trips):
                    before = len(done)
                    t0 = time.perf_counter()
                    producer.publish(
                        body,
                        exchange=exchange,
                        routing_key="intake.record_submission",
                        delivery_mode=2,
                        content_type="application/json",
                    )
                    while len(done) == before:
                        conn.drain_events(timeout=10)
                    latencies.append((time.perf_counter() - t0) * 1000)
    return {
        "messages": messages,
        "publish_per_second": round(messages / published),
        "consume_per_second": round(messages / consumed),
        "round_trip_ms_p50": round(percentile(latencies, 50), 2),
        "round_trip_ms_p99": round(percentile(latencies, 99), 2),
    }


# -- report ----------------------------------------------------------------------------------------


def print_report(report):
    print()
    print(
        f"bench/e2e.py  {report['when']}  python {report['python']}  {report['cpus']} CPUs  "
        f"(shared machine: other work was running)"
    )
    kombu = report["kombu"]
    print(
        f"\n(b) bare kombu, persistent + confirms, same broker: publish {kombu['publish_per_second']}/s, "
        f"consume {kombu['consume_per_second']}/s, round trip p50 {kombu['round_trip_ms_p50']} ms "
        f"p99 {kombu['round_trip_ms_p99']} ms"
    )
    for run in report["runs"]:
        opened = run.get("open_load")
        shape = (
            f"{opened['rate_offered']}/s offered, at most {run['concurrency']}" if opened else str(run["concurrency"])
        )
        print(
            f"\n== {run['db']}: {run['proposals']} lifecycles, {shape} in flight, "
            f"{run.get('people', 'patient')} people =="
        )
        print(
            f"completed {run['completed']}/{run['proposals']} in {run['seconds']} s: "
            f"{run['lifecycles_per_second']} lifecycles/s"
        )
        if opened:
            print(
                f"open load at {opened['rate_offered']}/s: started late by p50 {opened['start_lag_s_p50']} s, "
                f"p99 {opened['start_lag_s_p99']} s, most {opened['start_lag_s_max']} s "
                f"({opened['started_late_over_1s']} of {opened['started']} over 1 s late"
                + (": the cap was reached, the system fell behind" if opened["started_late_over_1s"] else "")
                + f"); started at {opened['start_rate']}/s; "
                f"at most {opened['peak_in_flight']} in flight; a lifecycle took p50 {opened['lifecycle_s_p50']} s, "
                f"p99 {opened['lifecycle_s_p99']} s (median {opened['lifecycle_s_first_quarter']} s in the first "
                f"quarter, {opened['lifecycle_s_last_quarter']} s in the last): "
                + ("kept up" if opened["kept_up"] else "did not keep up")
            )
        if run["failed"]:
            print("failed:", *run["failed"], sep="\n  ")
        print(f"{'HTTP step':<18}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}")
        for step, (n, p50, p99) in sorted(run["http_steps"].items()):
            print(f"{step:<18}{n:>6}{p50:>10.1f}{p99:>10.1f}")
        if opened and run["http_steps"]:
            print(p99_verdict(run["http_steps"], opened))
        print(f"{'job (sent->applied)':<34}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}")
        for step, (n, p50, p99) in sorted(run["job_round_trips"].items()):
            print(f"{step:<34}{n:>6}{p50:>10.1f}{p99:>10.1f}")
        print(
            f"engine: {run['engine_steps']} instance steps, {run['engine_cpu_seconds']} CPU s, "
            f"{run['engine_cpu_ms_per_step']} CPU ms/step"
        )
        print(
            "CPU seconds of each service process during the load: "
            + ", ".join(f"{k} {v}" for k, v in run["service_cpu_seconds"].items())
            + f"; {run['service_cpu_seconds_per_lifecycle']} CPU s per lifecycle in all "
            f"(the machine has {os.cpu_count()} CPUs, shared with PostgreSQL, RabbitMQ and this load generator)"
        )
        total_ms = run["service_cpu_seconds_per_lifecycle"] * 1000
        print(f"{'CPU per lifecycle':<18}{'ms':>8}{'share':>8}")
        for name, ms in sorted(run["service_cpu_ms_per_lifecycle"].items(), key=lambda kv: -kv[1]):
            print(f"{name:<18}{ms:>8.1f}{(ms / total_ms if total_ms else 0):>8.0%}")
        print(f"{'all services':<18}{total_ms:>8.1f}   (target 150)")
        print(
            f"{'(the people)':<18}{run['people_cpu_ms_per_lifecycle']:>8.1f}   this load generator, not counted above"
        )
        if run.get("machine"):
            m = run["machine"]
            parts = m["cpu_ms_per_lifecycle"]
            print(
                f"the whole machine during the load: its {m['cpus']} CPUs {m['busy_percent']} % busy "
                f"(steal {m['steal_percent']} %); CPU ms per lifecycle: "
                + ", ".join(f"{name} {parts[name]}" for name in ("services", "broker", "database", "people", "rest"))
                + f"; in all {parts['machine']}, so at most {1000 * m['cpus'] / parts['machine']:.1f} lifecycles/s "
                "if every CPU did only this"
            )
        if run.get("database_activity_per_lifecycle"):
            activity = run["database_activity_per_lifecycle"]
            print("PostgreSQL's work per lifecycle, by service database (pg_stat_database):")
            print(f"  {'database':<14}{'transactions':>14}{'rows read':>12}{'scanned':>10}{'written':>10}")
            for service, a in sorted(activity.items(), key=lambda kv: -kv[1]["transactions"]):
                print(
                    f"  {service:<14}{a['transactions']:>14.1f}{a['rows_read']:>12.1f}"
                    f"{a['rows_scanned']:>10.1f}{a['rows_written']:>10.1f}"
                )
            total = sum(a["transactions"] for a in activity.values())
            print(f"  {'all':<14}{total:>14.1f}")
        for variant, r in (run.get("replay") or {}).items():
            ratio = (run["engine_cpu_ms_per_step"] / r["cpu_ms_per_step"]) if r["cpu_ms_per_step"] else None
            print(
                f"(a) {variant:<16} {r['steps']} steps of {r['instances']} instances: "
                f"{r['cpu_ms_per_step']} CPU ms/step; engine process / this = "
                f"{ratio:.1f}x"
                if ratio
                else ""
            )
        if run.get("floor_per_lifecycle"):
            floor = run["floor_per_lifecycle"]
            parts = ", ".join(f"{name} {ms}" for name, ms in floor["parts_ms"].items())
            print(
                f"floor: these messages and steps in bare nameko and Spiff + JSON (bench/floor.py on this system "
                f"after the load): {floor['ms']} ms per lifecycle ({parts}; a request {floor['request_ms']} ms, "
                f"a message {floor['message_ms']} ms); the services spent {total_ms / floor['ms']:.1f}x the floor"
            )
        if run.get("messages_published_per_lifecycle"):
            per = run["messages_published_per_lifecycle"]
            print(
                f"bus: {per} messages published per lifecycle; at bare kombu's publish rate that is "
                f"{kombu['publish_per_second'] / per:.1f} lifecycles/s of pure messaging"
            )
            parties = run["messages_per_lifecycle_by_party"]
            print(
                f"messages per lifecycle by party, exchange and routing key (bench/tap.py's firehose): "
                f"the people's HTTP calls {parties['people']}, the system's own {parties['system']}"
            )
            for party in ("people", "system"):
                for kind, n in sorted(run["messages_per_lifecycle_by_kind"].items(), key=lambda kv: -kv[1]):
                    if kind.startswith(party + " "):
                        print(f"  {n:>7.2f}  {kind}")
            print(
                f"  {run['messages_not_tapped_per_lifecycle']:>7.2f}  in the vhost's publish count but not "
                "seen by the tap's firehose (should be 0)"
            )
        for name, summary in (run.get("samples") or {}).items():
            sampling.print_summary(
                name,
                summary,
                f"{run['db']}, {run['proposals']} lifecycles, py-spy at {run['sample_rate']} Hz",
                run["service_cpu_seconds"].get(name),
            )
    for run in report.get("profiles", []):
        for name, profile in run["profile"].items():
            print_profile(run, name, profile)


def machine_summary(machine: dict, services: float, people: float, seconds: float, lifecycles: int) -> dict:
    """Where the whole machine's CPU went during the timed part, in CPU ms per lifecycle: the
    services, the broker, the database server, the load generator and the rest (the kernel's own
    work, other work on the shared machine); and how busy the machine's CPUs were, which says
    whether the throughput was bound by CPU (busy near 100 %) or by waiting."""
    per = 1000 / lifecycles
    rest = machine["busy"] - services - machine["broker"] - machine["database"] - people
    return {
        "cpus": os.cpu_count(),
        "busy_percent": round(100 * machine["busy"] / (seconds * (os.cpu_count() or 1)), 1),
        "steal_percent": round(100 * machine["steal"] / (seconds * (os.cpu_count() or 1)), 1),
        "cpu_ms_per_lifecycle": {
            "services": round(services * per, 1),
            "broker": round(machine["broker"] * per, 1),
            "database": round(machine["database"] * per, 1),
            "people": round(people * per, 1),
            "rest": round(rest * per, 1),
            "machine": round(machine["busy"] * per, 1),
        },
    }


def p99_verdict(http_steps: dict, opened: dict, limit_ms: float = 250.0) -> str:
    """One line: is every HTTP step's p99 under ``limit_ms`` at the open load's rate, and did the
    system keep up with it (:func:`harness.open_load`'s ``kept_up``)."""
    over = sorted((step for step, (_n, _p50, p99) in http_steps.items() if p99 >= limit_ms), key=str)
    worst_step, (_n, _p50, worst) = max(http_steps.items(), key=lambda kv: kv[1][2])
    held = opened["kept_up"]
    verdict = "met" if not over and held else "not met"
    why = []
    if over:
        why.append(f"{len(over)} of {len(http_steps)} steps at or over {limit_ms:.0f} ms: {', '.join(over)}")
    if opened["started_late_over_1s"]:
        why.append(f"the rate was not held: {opened['started_late_over_1s']} lifecycles started over 1 s late")
    elif not held:
        why.append(
            f"the system did not keep up: a lifecycle took {opened['lifecycle_s_last_quarter']} s in the last "
            f"quarter against {opened['lifecycle_s_first_quarter']} s in the first"
        )
    return (
        f"p99 of every HTTP step < {limit_ms:.0f} ms at {opened['rate_offered']}/s: {verdict} "
        f"(worst {worst_step} {worst:.1f} ms" + (f"; {'; '.join(why)}" if why else "") + ")"
    )


def print_profile(run, name, profile):
    print(f"\n== profile of the {name} process ({run['db']}, {run['proposals']} lifecycles, cProfile) ==")
    if isinstance(profile, dict):
        print(
            f"profiled {profile['total_seconds']} s, of which busy (not waiting in epoll) "
            f"{profile['busy_seconds']} s; own time by group:"
        )
        for group, seconds in profile["own_time_by_group"].items():
            print(f"  {group:<28}{seconds:>8.2f} s")
        print("top functions by own time:\n   ncalls" + profile["tottime"])
        print("our code and what it calls, by cumulative time:\n   ncalls" + profile["cumulative"])
    else:
        print(profile)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/e2e.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"])
    parser.add_argument("--proposals", type=int, default=100)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="lifecycles in flight (default 16); with --rate, the most in flight at once",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="an open load: start a lifecycle every 1/RATE s whether or not the earlier ones are done "
        "(new proposals arrive at RATE a second), at most --concurrency in flight; prints how late "
        "lifecycles started and whether every HTTP step's p99 stayed under 250 ms at that rate",
    )
    parser.add_argument(
        "--people",
        choices=("patient", "eager"),
        default="patient",
        help="patient (default): the people look now and then and when told, as people do; eager: every "
        "role looks every 0.3 s, so a lifecycle waits for the system, not for the people - the system's "
        "capacity (the throughput target is measured so)",
    )
    parser.add_argument(
        "--profile-proposals",
        type=int,
        default=30,
        help="lifecycles of the profiled pass on the first --db (0: no profile)",
    )
    parser.add_argument(
        "--profile-services",
        nargs="+",
        default=["engine"],
        help="the processes run under cProfile in the profiled pass (default: engine)",
    )
    parser.add_argument("--profile-dir", help="also keep the profiled pass's cProfile files here (pstats)")
    parser.add_argument(
        "--sample",
        nargs="*",
        choices=harness.SERVICES,
        metavar="PROCESS",
        help="sample the timed load of each --db with py-spy: every process, or those named (engine, gateway, "
        "intake, assignment, supervision, evaluation); its figures are disturbed by py-spy's own CPU",
    )
    parser.add_argument("--sample-rate", type=int, default=100, help="py-spy samples per second per process")
    parser.add_argument("--kombu-messages", type=int, default=2000)
    parser.add_argument(
        "--floor",
        action="store_true",
        help="after each load, measure the floors per message on the same system (bench/floor.py) and "
        "print what the lifecycle's messages and steps cost at least in bare nameko and Spiff + JSON",
    )
    parser.add_argument("--floor-calls", type=int, default=1000, help="calls per variant for --floor (default 1000)")
    parser.add_argument("--json", help="also write the report to this file")
    args = parser.parse_args(argv)
    if args.rate is not None and args.rate <= 0:
        parser.error(f"--rate must be a positive number of lifecycles a second, not {args.rate}")
    if args.concurrency < 1 or args.proposals < 1:
        parser.error("--proposals and --concurrency must be at least 1")
    report = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "args": vars(args),
        "runs": [],
        "profiles": [],
    }
    say("baseline (b): bare kombu")
    report["kombu"] = kombu_baseline(args.kombu_messages)
    for db_kind in args.db:
        shape = f"{args.rate}/s offered, at most {args.concurrency}" if args.rate else str(args.concurrency)
        say(f"load on {db_kind}: {args.proposals} lifecycles, {shape} in flight")
        report["runs"].append(
            run_load(
                db_kind,
                args.proposals,
                args.concurrency,
                patient=args.people == "patient",
                sample=args.sample,
                sample_rate=args.sample_rate,
                floor_calls=args.floor_calls if args.floor else 0,
                rate=args.rate,
            )
        )
    if args.profile_proposals:
        say(f"profiled pass on {args.db[0]}: {args.profile_proposals} lifecycles")
        report["profiles"].append(
            run_load(
                args.db[0],
                args.profile_proposals,
                min(args.concurrency, args.profile_proposals),
                profile=tuple(args.profile_services),
                profile_dir=args.profile_dir,
                patient=args.people == "patient",
            )
        )
    print_report(report)
    if args.json:
        Path(args.json).write_text(harness.dump(report))
    return 0 if all(r["completed"] == r["proposals"] for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
