"""The operator's commands of ``ztc``: queues, dead letters, and acting on instances and
incidents one at a time or in batches (every batch has ``--dry-run``).

``queues`` and ``dead-letters`` talk to RabbitMQ (the broker and its management API); the
instance and incident commands work on the engine's database through :class:`Engine`, like the
rest of ``ztc``, so they work with the services stopped too.
"""

from __future__ import annotations

import sys

import click

from shared.errors import ZtcError

from .identity import operator


def _age(seconds) -> str:
    if seconds is None:
        return "-"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.1f}s"


def register(main, instances, incidents, helpers):
    """Add the operator's commands to ``main`` and its ``instances`` and ``incidents`` groups."""
    _settings, _engine, _out, _fail = (helpers["settings"], helpers["engine"], helpers["out"], helpers["fail"])

    def _run(action):
        try:
            return action()
        except ZtcError as exc:
            _fail(exc)

    def _batch_exit(result, letter_ids=()):
        """Exit 1 if a letter failed, or if an id named no dead letter (said on stderr: a
        mistyped id is not 'done')."""
        seen = {d["id"] for key in ("matched", "replayed", "discarded", "failed") for d in result.get(key, [])}
        unknown = result.get("unknown") or [i for i in dict.fromkeys(letter_ids) if i not in seen]
        for letter_id in unknown:
            click.echo(f"no dead letter {letter_id} (see 'ztc dead-letters list')", err=True)
        sys.exit(1 if result.get("failed") or unknown else 0)

    # -- queues -------------------------------------------------------------------------------
    @main.command(
        help="Every ztc.* queue of the vhost in ZTC_AMQP_URI: messages (ready, unacked), "
        "consumers, age of the oldest message and how many dead letters came from "
        "it. Read from RabbitMQ's management API (ZTC_RABBIT_MANAGEMENT_URL). The age "
        "is the head's timestamp; a message without one is peeked at and given "
        "straight back (--no-peek to skip)."
    )
    @click.option("--no-peek", is_flag=True, help="Do not peek at queue heads for the oldest age.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def queues(no_peek, as_json):
        from shared.messaging import management

        settings = _settings()
        data = _run(
            lambda: {
                "vhost": management.vhost_of(settings.amqp_uri),
                "queues": management.queues(settings, peek=not no_peek),
            }
        )

        def render(d):
            click.echo(f"vhost {d['vhost']}")
            click.echo(f"{'queue':<34} {'msgs':>6} {'ready':>6} {'unack':>6} {'cons':>5} {'oldest':>8} {'dead':>5}")
            for q in d["queues"]:
                click.echo(
                    f"{q['name']:<34} {q['messages']:>6} {q['ready']:>6} {q['unacked']:>6} "
                    f"{q['consumers']:>5} {_age(q['oldest_age_seconds']):>8} {q['dead_letters']:>5}"
                )
            if not d["queues"]:
                click.echo("no ztc.* queues (has 'make run' or 'ztc' declared the topology?)")

        _out(data, as_json, render)

    # -- dead letters -------------------------------------------------------------------------
    @main.group(
        "dead-letters",
        help="Messages no service could handle, in the queue ztc.dead, each "
        "with the reason it died (header x-ztc-reason) and where it came "
        "from. Inspecting takes nothing away; replay sends letters back "
        "where they came from; discard removes them for good, recording "
        "each with your reason in var/dead-letters-discarded.jsonl.",
    )
    def dead_letters():
        pass

    def _box():
        from shared.messaging.deadletter import box

        return box(_settings())

    def _print_letters(rows):
        if not rows:
            click.echo("no dead letters")
        for d in rows:
            click.echo(
                f"{d['id']}  {d['dead_at'] or '-'}  from {d['original_queue'] or '?'} "
                f"({d['original_exchange'] or '(default)'} / {d['original_routing_key']})"
            )
            tried = f", {d['attempts']} attempt(s)" if d.get("attempts") else ""
            click.echo(f"    [{d.get('reason_kind') or 'unknown'}{tried}] {d['reason']}")

    @dead_letters.command(
        "list",
        help="List dead letters (optionally from one queue or with routing "
        "keys matching a pattern such as 'intake.*').",
    )
    @click.option("--queue", help="Only letters that died in this queue.")
    @click.option("--routing-key", help="Only letters whose original routing key matches (shell-style pattern).")
    @click.option("--json", "as_json", is_flag=True, help="Print the letters as JSON, bodies included.")
    def dl_list(queue, routing_key, as_json):
        _out(_run(lambda: _box().list(queue=queue, routing_key=routing_key)), as_json, _print_letters)

    @dead_letters.command("show", help="One dead letter in full: reason, origin, x-death, headers, body.")
    @click.argument("letter_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the letter as JSON.")
    def dl_show(letter_id, as_json):
        import json

        def render(d):
            _print_letters([d])
            if d["x_death"]:
                click.echo(f"    x-death: {json.dumps(d['x_death'], default=str, ensure_ascii=False)}")
            # The reason, origin and time are on the lines above; these are the letter's other headers.
            click.echo(f"    other headers: {json.dumps(d['headers'], default=str, ensure_ascii=False)}")
            click.echo(f"    content-type: {d['content_type']}, {d['size']} bytes")
            click.echo(
                json.dumps(d["body"], indent=2, ensure_ascii=False) if not isinstance(d["body"], str) else d["body"]
            )

        _out(_run(lambda: _box().show(letter_id)), as_json, render)

    def _selection(f):
        f = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")(f)
        f = click.option("--dry-run", is_flag=True, help="Only say which letters would be affected.")(f)
        f = click.option("--routing-key", help="Letters whose original routing key matches this pattern.")(f)
        f = click.option("--queue", help="Letters that died in this queue.")(f)
        f = click.option(
            "--all", "everything", is_flag=True, help="Every letter (with --queue/--routing-key: every matching one)."
        )(f)
        return click.argument("letter_ids", nargs=-1)(f)

    def _print_batch(verb):
        def render(r):
            key = "matched" if r["dry_run"] else verb
            label = "would be " + verb if r["dry_run"] else verb
            rows = r[key]
            click.echo(f"{len(rows)} dead letter(s) {label}")
            for d in rows:
                click.echo(
                    f"  {d['id']} -> {d['original_exchange'] or '(default)'} / {d['original_routing_key']}"
                    f"  ({d['reason'][:100]})"
                )
            for d in r.get("failed", []):
                click.echo(f"  FAILED {d['id']}: {d['error']}", err=True)

        return render

    @dead_letters.command(
        "replay",
        help="Send letters back to the exchange and routing key they were "
        "first sent to (after fixing what made them fail). Name them by "
        "id, or choose with --queue / --routing-key / --all.",
    )
    @_selection
    def dl_replay(letter_ids, everything, queue, routing_key, dry_run, as_json):
        result = _run(
            lambda: _box().replay(
                ids=list(letter_ids),
                queue=queue,
                routing_key=routing_key,
                everything=everything,
                dry_run=dry_run,
                actor=operator()["user"],
            )
        )
        _out(result, as_json, _print_batch("replayed"))
        _batch_exit(result, letter_ids)

    @dead_letters.command(
        "discard",
        help="Remove letters for good. --reason is required and is recorded "
        "with each whole letter in var/dead-letters-discarded.jsonl.",
    )
    @_selection
    @click.option("--reason", required=True, help="Why these letters can go (recorded).")
    def dl_discard(letter_ids, everything, queue, routing_key, dry_run, as_json, reason):
        result = _run(
            lambda: _box().discard(
                reason,
                ids=list(letter_ids),
                queue=queue,
                routing_key=routing_key,
                everything=everything,
                dry_run=dry_run,
                actor=operator()["user"],
            )
        )
        _out(result, as_json, _print_batch("discarded"))
        _batch_exit(result, letter_ids)

    # -- instances ------------------------------------------------------------------------------
    def _print_instance(i):
        click.echo(f"{i['id']} {i['process_id']}@{i['version']} key={i['business_key']} status={i['status']}")

    @instances.command(
        "suspend",
        help="Hold an instance: it takes no job results, messages or timers "
        "until resumed (none are lost: results are held, messages stay "
        "buffered, due timers fire on resume) and its tasks leave the task list.",
    )
    @click.argument("instance_id")
    @click.option("--reason", help="Why (kept in the instance's history).")
    @click.option("--json", "as_json", is_flag=True, help="Print the instance as JSON.")
    def suspend(instance_id, reason, as_json):
        _out(_run(lambda: _engine().suspend(instance_id, reason, operator())), as_json, _print_instance)

    @instances.command(
        "resume",
        help="Let a suspended instance go on: held job results are applied, "
        "buffered messages delivered, its tasks return to the task list.",
    )
    @click.argument("instance_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the instance as JSON.")
    def resume(instance_id, as_json):
        _out(_run(lambda: _engine().resume(instance_id, operator())), as_json, _print_instance)

    @instances.command(
        "cancel",
        help="End an instance with status cancelled: its open tasks are "
        "cancelled, pending jobs closed (late results are dropped), open "
        "incidents resolved. Give one INSTANCE_ID, or choose a batch with "
        "--business-key-prefix / --process / --status (try --dry-run first).",
    )
    @click.argument("instance_id", required=False)
    @click.option("--reason", required=True, help="Why (kept in the history; required).")
    @click.option("--business-key-prefix", help="Batch: every instance whose business key starts so.")
    @click.option("--process", "process_id", help="Batch: instances of this process.")
    @click.option("--status", help="Batch: instances in this status (waiting, incident, suspended...).")
    @click.option("--dry-run", is_flag=True, help="Batch: only list what would be cancelled.")
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def cancel(instance_id, reason, business_key_prefix, process_id, status, dry_run, as_json):
        batch = business_key_prefix or process_id or status
        if bool(instance_id) == bool(batch):
            click.echo(
                "error: give either one INSTANCE_ID or batch filters (--business-key-prefix, --process, --status)",
                err=True,
            )
            sys.exit(2)
        if instance_id:
            if dry_run:
                _out(
                    _run(lambda: _engine().get_instance(instance_id)),
                    as_json,
                    lambda i: click.echo(f"would cancel {i['id']} ({i['status']})"),
                )
                return
            data = _run(lambda: _engine().cancel(instance_id, reason, operator()))
            _out(data, as_json, lambda i: (_print_instance(i), click.echo(f"  closed: {i['closed']}")))
            return
        result = _run(
            lambda: _engine().cancel_instances(reason, business_key_prefix, process_id, status, dry_run, operator())
        )

        def render(r):
            rows = r["matched"] if r["dry_run"] else r["done"]
            click.echo(f"{len(rows)} instance(s) {'would be ' if r['dry_run'] else ''}cancelled")
            for i in rows:
                was = f"was {i['was']}" if "was" in i else i["status"]
                click.echo(f"  {i['id']} {i['process_id']} key={i['business_key']} ({was})")
            for i in r["failed"]:
                click.echo(f"  FAILED {i['id']}: {i['error']}", err=True)

        _out(result, as_json, render)
        _batch_exit(result)

    @instances.command(
        "where",
        help="Where an instance's tokens are now: each user task (for whom, "
        "claimed by), each job (operation, attempt, last error), each "
        "message it waits for, its next timer, results held while suspended.",
    )
    @click.argument("instance_id")
    @click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
    def where(instance_id, as_json):
        def render(d):
            _print_instance(d["instance"])
            if not d["tokens"]:
                click.echo("  no tokens waiting")
            for t in d["tokens"]:
                if t["kind"] == "user_task":
                    who = t["candidate_user"] or t["candidate_unit"] or t["candidate_role"] or "anyone"
                    click.echo(
                        f"  user task {t['task']} ({t['status']}) for {who}"
                        f"{', claimed by ' + t['claimed_by'] if t['claimed_by'] else ''} since {t['since']}"
                    )
                elif t["kind"] == "job":
                    click.echo(
                        f"  job {t['task']} -> {t['operation']} ({t['status']}, attempt "
                        f"{t['attempt']}/{t['max_attempts']}) since {t['since']}"
                        f"{': ' + t['last_error'] if t['last_error'] else ''}"
                    )
                elif t["kind"] == "message":
                    click.echo(f"  message '{t['name']}' keyed {t['correlation_key']} ({t['buffered']} buffered)")
                else:
                    click.echo(f"  timer due {t['due']}")
            for i in d["instance"]["incidents"]:
                click.echo(f"  incident #{i['id']} ({i['status']}) at {i['task']}: {i['error']}")
            if d["held_results"]:
                click.echo(f"  {d['held_results']} job result(s) held until resumed")

        _out(_run(lambda: _engine().where(instance_id)), as_json, render)

    # -- incidents in batches -------------------------------------------------------------------
    def retry_all(operation, process_id, dry_run, as_json):
        result = _run(lambda: _engine().retry_incidents(operation, process_id, dry_run, operator()))

        def render(r):
            rows = r["matched"] if r["dry_run"] else r["done"]
            click.echo(f"{len(rows)} incident(s) {'would be ' if r['dry_run'] else ''}retried")
            for i in rows:
                click.echo(f"  #{i['id']} instance {i['instance_id']} {i['task']} ({i['operation']})")
            for i in r["failed"]:
                click.echo(f"  FAILED #{i['id']}: {i['error']}", err=True)

        _out(result, as_json, render)
        _batch_exit(result)

    return retry_all
