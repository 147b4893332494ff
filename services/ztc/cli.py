"""``ztc``: deploy diagrams, watch and act on incidents and instances, issue tokens, enter a year's
holiday schedule (``ztc calendar``).

It works on the services' own databases through the same code the services run (the engine's
:class:`Engine`), so it works with the services stopped too: ``ztc deploy`` validates and stores a
diagram that the engine picks up when it runs; ``ztc incidents retry`` writes the retried job to
the engine's outbox, which the running engine publishes.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

from shared import config, contracts
from shared.errors import InvalidInput, ZtcError

from .identity import acting_name, operator


def _settings():
    return config.load()


def _engine(settings=None):
    from services.engine.engine import Engine
    from shared.db import migrate, session_factory

    settings = settings or _settings()
    url = settings.database_url("engine")
    migrate("engine", url)
    return Engine(session_factory(url), settings)


def _out(data, as_json: bool, render):
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        render(data)


def _fail(exc: ZtcError):
    click.echo(f"error: {exc.message}", err=True)
    for problem in exc.details.get("problems", []):
        click.echo(f"  - {problem}", err=True)
    for field, messages in exc.details.items():
        if field not in ("problems", "problem_details", "notes"):
            click.echo(f"  {field}: {messages}", err=True)
    if exc.code == "not_found" and exc.message.startswith("no instance "):
        click.echo(
            "  an instance is named by its id; to find it by a proposal's, an item's or a case's number: "
            "ztc instances find --business-key NUMBER",
            err=True,
        )
    sys.exit(1)


class _Commands(click.Group):
    """The command group: a broker that refuses the login or cannot be reached is one line saying
    which broker and what to check, not a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            said = _broker_trouble(exc)
            if said is None:
                raise
            click.echo(f"error: {said}", err=True)
            sys.exit(1)


def _broker_trouble(exc: BaseException) -> str | None:
    """What to tell an operator about ``exc`` if it is the broker refusing or away, else None."""
    from urllib.parse import urlsplit

    from amqp.exceptions import AccessRefused, NotAllowed
    from kombu.exceptions import OperationalError

    settings = _settings()
    parts = urlsplit(settings.amqp_uri)
    where = f"{parts.hostname}:{parts.port or 5672}{parts.path or '/'}"
    cause = exc.__cause__ or exc.__context__
    for error in (exc, cause):
        if isinstance(error, (AccessRefused, NotAllowed)):
            return (
                f"the broker at {where} refused user {parts.username!r} ({error}); "
                "check ZTC_AMQP_URI's user, password and vhost"
            )
    if isinstance(exc, OperationalError) or (isinstance(exc, ConnectionError) and _raised_in_amqp(exc)):
        return f"could not reach the broker at {where} ({exc}); is RabbitMQ running? (ZTC_AMQP_URI)"
    return None


def _raised_in_amqp(exc: BaseException) -> bool:
    """Whether ``exc`` came out of the AMQP client (not a database's or a pipe's connection)."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").split(".")[0] in ("amqp", "kombu"):
            return True
        tb = tb.tb_next
    return False


@click.group(
    cls=_Commands,
    help="Zhitongche's command line for process designers and operators. Instances, "
    "incidents and diagrams are handled on the services' databases directly, so those "
    "commands work with the services stopped as well as running; 'queues' and "
    "'dead-letters' talk to RabbitMQ. Settings come from the ZTC_* environment "
    "variables (see README). Every listing command takes --json. The records name who ran a "
    "command as ztc:<login name>, or ztc:<ZTC_OPERATOR> when that is set (a shared or container account).",
)
def main():
    import os

    from shared import quiet

    quiet.eventlet_deprecation()  # the commands that reach nameko would print it every time
    os.umask(0o077)  # databases and files written by an operator's command: the owner's only
    from shared import clock, config

    try:
        offset_file = config.load().clock_offset_file
    except ValueError:  # settings the command itself reports when it reads them
        offset_file = None
    # Under a moved clock (a demonstration's, an end-to-end test's) an operator's cancel, retry or
    # suspend is stamped on the services' time, not before what they recorded.
    clock.follow_offset_file(offset_file)


# -- deploy ---------------------------------------------------------------------------------
def _process_links(data: bytes) -> tuple[list[str], list[str]]:
    """The ids of the processes a BPMN file holds, and of those its call activities call (nothing
    for a file that is not XML: deploying it says what is wrong)."""
    from lxml import etree

    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return [], []
    held = root.xpath("//*[local-name()='process']/@id")
    called = root.xpath("//*[local-name()='callActivity']/@calledElement")
    return [str(i) for i in held], [str(c) for c in called]


def _deploy_units(paths):
    """Each BPMN file is deployed on its own, with every DMN file given beside it; but files a
    call activity links (one calls a process another holds) go together, since a caller runs the
    process it calls from the same deployment. A process keeps the version of its own files either
    way (``shared.workflow.parser.parse``). Yields (what to name the unit by, its files)."""
    dmn = {p.name: p.read_bytes() for p in paths if p.suffix == ".dmn"}
    bpmn = [p for p in paths if p.suffix != ".dmn"]
    contents = {p: p.read_bytes() for p in bpmn}
    holder, calls = {}, {}
    for path, data in contents.items():
        held, calls[path] = _process_links(data)
        for process_id in held:
            holder.setdefault(process_id, path)
    parent = {p: p for p in bpmn}

    def root(p):
        while parent[p] != p:
            p = parent[p]
        return p

    for path in bpmn:
        for process_id in calls[path]:
            if process_id in holder:
                parent[root(path)] = root(holder[process_id])
    units: dict = {}
    for path in bpmn:
        units.setdefault(root(path), []).append(path)
    for members in units.values():
        name = members[0] if len(members) == 1 else " + ".join(str(m) for m in members)
        yield name, {**{m.name: contents[m] for m in members}, **dmn}


def _diagram_files(paths):
    files = []
    for path in paths:
        files.extend(sorted(path.glob("*.bpmn")) + sorted(path.glob("*.dmn")) if path.is_dir() else [path])
    if not files:
        click.echo("error: no .bpmn or .dmn files found", err=True)
        sys.exit(1)
    return files


_DEPLOY_STATES = {
    "deployed": "deployed, active",
    "draft": "deployed as a draft (not active: 'ztc versions activate' makes it so)",
    "activated": "already stored: active again",
    "unchanged": "unchanged",
}


def _deploy_line(path, row) -> str:
    state = _DEPLOY_STATES.get(row["state"], row["state"])
    if row["state"] == "unchanged":
        state += " (active)" if row.get("active") else " (not active)"
    previous = row.get("previous")
    if row["state"] in ("deployed", "activated") and previous:
        state += f"; new instances start on it instead of version {previous['number']} ({previous['version']})"
    return f"{path}: {row['process_id']} version {row['number']} ({row['version']}) {state}"


@main.command(
    help="Validate diagrams and store each as a version (named by its content, numbered per "
    "process) that new instances start on: the active version. A file stored before "
    "(the known-good one of a rollback) is made active again. Every file is checked first: "
    "if any is refused, none is stored (two files holding the same process are refused too). "
    "--draft stores new versions without making them active; 'ztc versions activate' does "
    "later. A refused diagram gets every problem at once, each with file, line, element id and "
    "label, and a hint; exits 1 if any diagram is refused. A process "
    'marked isExecutable="false" is kept as documentation, with a note. Running '
    "instances stay on their version ('ztc instances migrate' moves them)."
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate; store nothing.")
@click.option(
    "--draft",
    is_flag=True,
    help="Store new versions as drafts: nothing starts on them until 'ztc versions activate PROCESS VERSION'.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as JSON (a refusal's details carry problem_details: file, line, "
    "element_id, element_type, label, message, hint, code).",
)
def deploy(paths, check, draft, as_json):
    from services.engine.engine import Engine

    files = _diagram_files(paths)
    units = list(_deploy_units(files))
    # Every file is checked before any is stored: a deployment of several files is all or nothing,
    # as the HTTP API's is.
    validator = Engine(None, _settings())  # validation needs no database
    checked, refused = {}, []
    for path, unit in units:
        try:
            checked[path] = validator.validate(unit)
        except ZtcError as exc:
            refused.append((path, exc))
    holders: dict[str, list] = {}
    for path, definitions in checked.items():
        for definition in definitions:
            holders.setdefault(definition.process_id, []).append(path)
    for process_id, held in holders.items():
        if len(held) > 1:
            names = ", ".join(str(p) for p in held)
            problem = f"process '{process_id}' is in {len(held)} of the files given ({names}): deploy one of them"
            refused.append((held[-1], InvalidInput(problem, {"problems": [problem]})))
    bad = {path for path, _ in refused}
    results = [{"file": str(path), **exc.to_dict()} for path, exc in refused]
    if refused and not check:  # nothing is stored: say what was refused
        _print_refusals(refused, as_json, results)
        if not as_json:
            click.echo(f"nothing deployed: {len(refused)} of the {len(units)} file(s) refused", err=True)
        sys.exit(1)
    # --check says, file by file, what is valid beside what was refused; a deploy stores every file.
    engine = None if check else _engine()
    for path, unit in units:
        if path in bad:
            continue
        stored = (
            [
                {"process_id": d.process_id, "version": d.version, "checked": True, "notes": d.notes}
                for d in checked[path]
            ]
            if engine is None
            else engine.deploy(unit, acting_name(), draft)
        )
        results.extend(stored)
        if not as_json:
            for row in stored:
                click.echo(
                    f"{path}: {row['process_id']} version {row['version']} valid" if check else _deploy_line(path, row)
                )
            for note in dict.fromkeys(n for row in stored for n in row.get("notes", [])):
                click.echo(f"  note: {note}")
    _print_refusals(refused, as_json, results)
    sys.exit(1 if refused else 0)


def _print_refusals(refused, as_json: bool, results: list) -> None:
    """Each refused file with its problems on stderr, or, with --json, every result on stdout."""
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
        return
    for path, exc in refused:
        click.echo(f"{path}: refused", err=True)
        for problem in exc.details.get("problems", []):
            click.echo(f"  - {problem}", err=True)
        for note in exc.details.get("notes", []):
            click.echo(f"  note: {note}", err=True)


def _lint_help():
    from shared.workflow.lint import RULES

    return (
        "Check diagrams for style, beside the deploy checks: every finding names file, line, "
        "element id and label, the rule (bpmnlint's name for it) and a hint. Findings do not "
        "refuse a diagram: the exit status is 0 unless a file would be refused at deploy (then 1, "
        "with its problems). Stores nothing and needs no database.\n\n"
        "\b\nRules:\n" + "".join(f"  {name}: {what}\n" for name, what in RULES.items())
    )


@main.command(help=_lint_help())
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one object per BPMN file: file, refused, problems, findings (each with file, "
    "line, element_id, element_type, label, message, hint and code, the rule), notes.",
)
def lint(paths, as_json):
    from shared.workflow.lint import lint as run_lint

    results, refused = [], False
    for path, unit in _deploy_units(_diagram_files(paths)):
        result = run_lint(unit)
        refused = refused or bool(result.problems)
        results.append(
            {
                "file": str(path),
                "refused": bool(result.problems),
                "problems": [p.to_dict() for p in result.problems],
                "findings": [f.to_dict() for f in result.findings],
                "notes": result.notes,
            }
        )
        if as_json:
            continue
        for problem in result.problems:
            click.echo(f"error: {problem}")
        for finding in result.findings:
            click.echo(f"{finding.code}: {finding}")
        for note in result.notes:
            click.echo(f"note: {note}")
        verdict = "refused at deploy" if result.problems else "deploys"
        click.echo(f"{path}: {verdict}; {len(result.problems)} problem(s), {len(result.findings)} style finding(s)")
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    sys.exit(1 if refused else 0)


class _ListByDefault(click.Group):
    """``ztc versions [PROCESS]`` lists; ``ztc versions activate|diff|log …`` act."""

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["list", *args]
        return super().parse_args(ctx, args)


@main.group(
    cls=_ListByDefault,
    help="Deployed versions of each process: list them (the default: "
    "'ztc versions [PROCESS]'), choose the active one (what new "
    "instances start on), see its log, and compare two. VERSION is a "
    "number (3), a content hash or a prefix of one, or 'active'; "
    "PROCESS@VERSION names one of a given process.",
)
def versions():
    pass


def _print_versions(rows):
    if not rows:
        click.echo("nothing deployed")
    for r in rows:
        line = (
            f"{r['process_id']} version {r['number']} ({r['version']}) {r['status'].upper():8} "
            f"deployed {r['deployed_at']} by {r['deployed_by']}"
        )
        if r["status"] == "active":
            line += f"; active since {r['activated_at']} (by {r['activated_by']})"
        if r["live_instances"]:
            line += f"; {r['live_instances']} live instance(s)"
        click.echo(line)


@versions.command(
    "list",
    help="Every version, oldest first: active, draft (never active) or inactive "
    "(active once), who activated the active one and when, live instances.",
)
@click.argument("process_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def versions_list(process_id, as_json):
    rows = _engine().versions(process_id)
    if process_id and not rows:
        _not_deployed(process_id)
    _out(rows, as_json, _print_versions)


def _not_deployed(process_id):
    """A process nobody deployed (or a typo): said, and not a success."""
    click.echo(f"no process '{process_id}' is deployed (see 'ztc versions' for those that are)", err=True)
    sys.exit(1)


@versions.command(
    "activate",
    help="Make VERSION of PROCESS the one new instances start on: a draft going "
    "live, or a rollback to an earlier version. Recorded with who and when "
    "('ztc versions log PROCESS'). Running instances stay where they are.",
)
@click.argument("process_id")
@click.argument("version")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def versions_activate(process_id, version, as_json):
    try:
        result = _engine().activate(process_id, version, acting_name())
    except ZtcError as exc:
        _fail(exc)

    def render(r):
        if r["state"] == "unchanged":
            click.echo(f"{r['process_id']} version {r['number']} ({r['version']}) was already active")
            return
        was = f" instead of version {r['previous']['number']} ({r['previous']['version']})" if r["previous"] else ""
        click.echo(
            f"{r['process_id']} version {r['number']} ({r['version']}) is active: new instances start on it{was}"
        )

    _out(result, as_json, render)


@versions.command("log", help="Which version of PROCESS was active from when, and who chose it.")
@click.argument("process_id")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def versions_log(process_id, as_json):
    engine = _engine()
    if not engine.versions(process_id):
        _not_deployed(process_id)
    _out(
        engine.activations(process_id),
        as_json,
        lambda rows: (
            [click.echo(f"{r['at']} version {r['number']} ({r['version']}) by {r['by']} ({r['how']})") for r in rows]
            or click.echo("never activated")
        ),
    )


@versions.command(
    "diff",
    help="Elements added, removed and changed from version A to version B (by id, "
    "with labels; the drawing is not compared). A and B: PROCESS@VERSION, or "
    "VERSION with --process.",
)
@click.argument("version_a")
@click.argument("version_b")
@click.option("--process", "process_id", help="The process, when A and B are not PROCESS@VERSION.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def versions_diff(version_a, version_b, process_id, as_json):
    from shared.workflow.diff import render

    try:
        result = _engine().diff_versions(version_a, version_b, process_id)
    except ZtcError as exc:
        _fail(exc)

    def show(r):
        click.echo(
            f"{r['process_id']}: version {r['from']['number']} ({r['from']['version']}) → "
            f"version {r['to']['number']} ({r['to']['version']})"
        )
        for line in render(r):
            click.echo(line)

    _out(result, as_json, show)


# -- messages ------------------------------------------------------------------------------------
@main.command(
    help="BPMN messages the engine holds: by default those still waiting (buffered), each "
    "with the live instance its correlation key names, if any, and whether that instance "
    "waits for it now. A message with no instance expires after ZTC_MESSAGE_TTL_SECONDS; "
    "one whose instance exists (suspended, blocked by an incident, or waiting elsewhere) "
    "is kept for it."
)
@click.option(
    "--status", type=click.Choice(["buffered", "delivered", "expired", "all"]), default="buffered", show_default=True
)
@click.option("--name", help="Only messages of this name.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def messages(status, name, as_json):
    rows = _engine().waiting_messages(None if status == "all" else status, name)

    def render(rows):
        if not rows:
            click.echo(f"no {'' if status == 'all' else status + ' '}messages")
        for m in rows:
            if m["instances"]:
                whom = "; ".join(
                    f"instance {i['id']} ({i['process_id']}, {i['status']}"
                    f"{', waits for it' if i['waiting_for_it'] else ', not waiting for it now'})"
                    for i in m["instances"]
                )
            elif m["status"] == "buffered":
                whom = f"NO INSTANCE with this key: expires {m['expires_at']}"
            else:
                whom = f"delivered to {m['delivered_to']}" if m["delivered_to"] else m["status"]
            kept = " (kept past its time to live for its instance)" if m["kept_past_ttl"] else ""
            click.echo(
                f"{m['received_at']} {m['name']} key={m['correlation_key']} id={m['message_id']} "
                f"[{m['status']}]: {whom}{kept}"
            )

    _out(rows, as_json, render)


# -- incidents --------------------------------------------------------------------------------
@main.group(help="Jobs that failed every attempt: list them, retry them, or resolve them.")
def incidents():
    pass


def _print_incidents(rows):
    if not rows:
        click.echo("no incidents")
    for i in rows:
        # A failed step (a script, an expression, a bound) has no job and so no operation.
        what = i.get("operation") or "failed step"
        click.echo(f"#{i['id']} [{i['status']}] instance {i['instance_id']} task {i['task']} ({what}): {i['error']}")


def _print_retried(i):
    if i.get("operation"):
        click.echo(
            f"incident #{i['id']} is {i['status']}: its job {i['operation']} is queued to be sent again "
            "(the engine sends it within a second while it runs)"
        )
    elif i["status"] == "open":
        click.echo(f"incident #{i['id']} is still open: the step at {i['task']} ran again and failed: {i['error']}")
    else:
        click.echo(f"incident #{i['id']} is {i['status']}: the step at {i['task']} ran again and went on")


@incidents.command(
    "list",
    help="List incidents: the open ones by default, oldest first. --status chooses another status "
    "(--all: every status); --page N prints one page of them instead, newest first, as "
    "GET /api/incidents answers it.",
)
@click.option(
    "--status",
    type=click.Choice(["open", "retrying", "resolved", "any"]),
    default="open",
    show_default=True,
    help="Which incidents: resolved ones are kept for the record.",
)
@click.option("--all", "show_all", is_flag=True, help="Every incident whatever its status (--status any).")
@click.option("--page", type=click.IntRange(min=1), help="Only this page, newest first (see --per-page).")
@click.option(
    "--per-page", type=click.IntRange(1, 200), default=50, show_default=True, help="Incidents on a page (with --page)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (with --page: the page, its total).")
def incidents_list(status, show_all, page, per_page, as_json):
    status = "" if show_all or status == "any" else status
    engine = _engine()
    if page is None:
        _out(engine.incidents(status or None), as_json, _print_incidents)
        return
    answer = engine.incident_page({"page": page, "per_page": per_page, "status": status})

    def render(answer):
        _print_incidents(answer["items"])
        exact = answer.get("total_exact", True)
        pages = max(1, -(-(answer["total"] + (0 if exact else 1)) // answer["per_page"]))
        what = f"{status} incidents" if status else "incidents"
        if exact:
            click.echo(f"page {answer['page']} of {pages}, {answer['total']} {what} in all, newest first")
        else:  # counted up to a bound: there are more
            click.echo(f"page {answer['page']} of {pages} or more, more than {answer['total']} {what}, newest first")

    _out(answer, as_json, render)


@incidents.command(
    "retry",
    help="Send the incident's job again with a fresh budget of attempts "
    "(a failed step: run it again). One INCIDENT_ID (--dry-run shows it), or --all open "
    "incidents, narrowed by --operation / --process (--dry-run lists them). Exits 1 "
    "when a failed step ran again and failed again.",
)
@click.argument("incident_id", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every open incident (with the filters below).")
@click.option("--operation", help="With --all: only incidents of this operation, e.g. intake.publish.")
@click.option("--process", "process_id", help="With --all: only incidents of instances of this process.")
@click.option("--dry-run", is_flag=True, help="Only show what would be retried; nothing is sent.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def incidents_retry(incident_id, retry_all, operation, process_id, dry_run, as_json):
    if (incident_id is None) == (not retry_all):
        click.echo("error: give one INCIDENT_ID or --all", err=True)
        sys.exit(2)
    if retry_all:
        _retry_all(operation, process_id, dry_run, as_json)
        return
    if operation or process_id:
        click.echo("error: --operation and --process choose among --all; not with one INCIDENT_ID", err=True)
        sys.exit(2)
    try:
        if dry_run:
            found = _engine().incident(incident_id)
            _out(found, as_json, lambda i: click.echo(f"would retry incident #{i['id']} ({i['status']}): {i['error']}"))
            if found["status"] != "open":
                click.echo(f"error: incident {incident_id} is {found['status']}, not open", err=True)
                sys.exit(1)
            return
        retried = _engine().retry_incident(incident_id, operator())
    except ZtcError as exc:
        _fail(exc)
    _out(retried, as_json, _print_retried)
    if not retried.get("operation") and retried["status"] == "open":
        sys.exit(1)  # the step ran again and failed again: still an incident


@incidents.command("resolve", help="Close an incident without retrying, saying why.")
@click.argument("incident_id", type=int)
@click.option("--reason", required=True, help="What was done instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
def incidents_resolve(incident_id, reason, as_json):
    try:
        i = _engine().resolve_incident(incident_id, reason, operator())
    except ZtcError as exc:
        _fail(exc)
    _out(i, as_json, lambda i: click.echo(f"incident #{i['id']} resolved: {i['resolution']}"))


# -- instances --------------------------------------------------------------------------------
@main.group(
    help="Process instances: find, show (state and history), where (the tokens now), "
    "suspend, resume and cancel (one, or a batch with --dry-run)."
)
def instances():
    pass


@instances.command("find", help="Find instances by business key, process or status.")
@click.option("--business-key", help="The business key, exactly (a proposal number).")
@click.option("--process", help="The process id.")
@click.option("--status", type=click.Choice(contracts.INSTANCE_STATUSES), help="The instances' status.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def instances_find(business_key, process, status, as_json):
    rows = _engine().find_instances(business_key, process, status)
    _out(
        rows,
        as_json,
        lambda rs: (
            [
                click.echo(
                    f"{r['id']} {r['process_id']}@{r['version']} key={r['business_key']} {r['status']} "
                    f"waiting={','.join(r['waiting_tasks'])}"
                )
                for r in rs
            ]
            or click.echo("no instances")
        ),
    )


@instances.command("show", help="One instance: state, where it waits, and its history.")
@click.argument("instance_id")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def instances_show(instance_id, as_json):
    engine = _engine()
    try:
        data = {"instance": engine.get_instance(instance_id), "history": engine.history(instance_id)}
    except ZtcError as exc:
        _fail(exc)

    def render(d):
        i = d["instance"]
        click.echo(f"{i['id']} {i['process_id']}@{i['version']} key={i['business_key']} status={i['status']}")
        click.echo(f"  waiting for: {', '.join(i['waiting_tasks']) or '-'}; next timer: {i['next_timer'] or '-'}")
        for h in d["history"]:
            # An operator's act says why (suspended, cancelled, an incident resolved...): shown here too.
            why = (h.get("data") or {}).get("reason") if isinstance(h.get("data"), dict) else None
            click.echo(
                f"  {h['at']} {h['actor']:>10} {h['action']} {h['task'] or ''}".rstrip() + (f": {why}" if why else "")
            )

    _out(data, as_json, render)


@instances.command(
    "migrate",
    help="Move the live instances of version A of a process to version B. "
    "Each is checked first: every task it waits at must exist in B or be "
    "mapped (--map OLD=NEW, element ids), and the instance rebuilt on B must "
    "survive a save and restore. --dry-run only reports; without it nothing "
    "moves unless every selected instance passed. A job that had become an "
    "incident on a task B changed is sent again; the move is in each "
    "instance's history. A and B: PROCESS@VERSION, or VERSION with --process.",
)
@click.option("--from", "from_version", required=True, help="Version A (e.g. proposal@3).")
@click.option("--to", "to_version", required=True, help="Version B (e.g. proposal@4, or proposal@active).")
@click.option("--process", "process_id", help="The process, when A and B are not PROCESS@VERSION.")
@click.option(
    "--map",
    "mapping",
    multiple=True,
    metavar="OLD=NEW",
    help="A task of A that B has under another id; repeat for several.",
)
@click.option("--instance", "instance_ids", multiple=True, help="Only this instance (repeat for several).")
@click.option("--dry-run", is_flag=True, help="Check every instance; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def instances_migrate(from_version, to_version, process_id, mapping, instance_ids, dry_run, as_json):

    try:
        result = _engine().migrate_instances(
            from_version, to_version, list(mapping), dry_run, list(instance_ids) or None, process_id, operator()
        )
    except ZtcError as exc:
        _fail(exc)

    def render(r):
        click.echo(
            f"{r['process_id']}: version {r['from']['number']} ({r['from']['version']}) → "
            f"version {r['to']['number']} ({r['to']['version']})"
            + (f", mapping {', '.join(f'{k}={v}' for k, v in r['mapping'].items())}" if r["mapping"] else "")
        )
        for i in r["instances"]:
            verdict = "ok" if i["ok"] else "REFUSED"
            click.echo(
                f"  {i['id']} key={i.get('business_key')} [{i.get('status')}] {verdict}: waits at "
                f"{', '.join(i.get('waiting_tasks') or []) or '-'}"
                + (f" → {', '.join(i['waiting_on_b'])}" if i.get("waiting_on_b") else "")
            )
            for problem in i.get("problems", []):
                click.echo(f"      - {problem}")
            if i.get("history_only"):
                click.echo(f"      history only (not in B, already passed): {', '.join(i['history_only'])}")
            if i.get("rerun"):
                click.echo(f"      sent again on B: {', '.join(i['rerun'])}")
        if not r["instances"]:
            click.echo("  no live instances on that version")
        if r["dry_run"]:
            click.echo(f"dry run: {r['ready']} would move, {r['refused']} refused; nothing changed")
        elif r["refused"]:
            click.echo(
                f"nothing moved: {r['refused']} instance(s) refused (map their tasks, or leave them "
                "out with --instance)"
            )
        else:
            click.echo(f"moved {len(r['migrated'])} instance(s) to version {r['to']['number']}")

    _out(result, as_json, render)
    sys.exit(1 if result["refused"] else 0)


@main.group(
    help="Move the clock of every service ahead together (demonstrations and tests only; "
    "needs ZTC_CLOCK_OFFSET_FILE set for the services)."
)
def clock():
    pass


MAX_CLOCK_ADVANCE_DAYS = 3660  # ten years at one go


@clock.command(
    "advance",
    help="Advance by a duration such as 31d, 12h, 90m or 45s (ahead only, at most ten years at "
    "a time). Tokens and console sessions live on this clock too: moving it past their lifetime "
    "expires them (restart 'make run' for fresh demo tokens, or 'ztc token').",
)
@click.argument("duration")
def clock_advance(duration):
    from shared.clock import OffsetClock

    settings = _settings()
    if not settings.clock_offset_file:
        click.echo("error: ZTC_CLOCK_OFFSET_FILE is not set; the services run on the system clock", err=True)
        sys.exit(1)
    units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    try:
        seconds = float(duration[:-1]) * units[duration[-1]]
    except (KeyError, ValueError, IndexError):
        seconds = math.nan
    # Every service reads the file this writes: nan, inf or a day before now would stop them all.
    if not math.isfinite(seconds) or not 0 < seconds <= MAX_CLOCK_ADVANCE_DAYS * 86400:
        click.echo(
            f"error: '{duration}' is not a duration like 31d, 12h, 90m or 45s "
            f"(more than nothing, at most {MAX_CLOCK_ADVANCE_DAYS} days; the clock only moves ahead)",
            err=True,
        )
        sys.exit(1)
    offset_clock = OffsetClock(settings.clock_offset_file)
    total = offset_clock.advance(seconds)
    click.echo(f"the clock is now {offset_clock.now().isoformat()} ({total / 86400:.2f} days ahead)")


@main.command(
    help="Drive several proposals down different paths on the running system (started by "
    "'make run'), through the HTTP API with the demo tokens, so every stage has examples."
)
@click.option("--url", default=None, help="The gateway (default: from ZTC_GATEWAY_HOST/PORT).")
def demo(url):
    from .demo import run

    settings = _settings()
    base = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    sys.exit(run(base, settings.var_dir / "demo-tokens.json", echo=click.echo))


# -- set-up -------------------------------------------------------------------------------------
@main.command(help="Bring every service's database to the newest migration.")
def migrate():
    from services.registry import DATABASES
    from shared.db import migrate as run

    settings = _settings()
    for service in DATABASES:
        run(service, settings.database_url(service))
        click.echo(f"{service}: migrated ({settings.database_url(service)})")


def _gateway_sessions():
    from shared.db import migrate as run, session_factory

    settings = _settings()
    url = settings.database_url("gateway")
    run("gateway", url)
    return settings, session_factory(url)


def _units_in_directory(settings) -> list[str] | None:
    """The units' codes in the assignment service's directory, or None where it has none yet (its
    database not made, or no unit entered)."""
    from sqlalchemy import inspect, select

    from services.assignment.models import Unit
    from shared.db import get_engine

    engine = get_engine(settings.database_url("assignment"))
    if not inspect(engine).has_table(Unit.__tablename__):
        return None
    with engine.connect() as conn:
        return list(conn.scalars(select(Unit.code).order_by(Unit.code))) or None


def _refuse_unknown_unit(settings, unit: str | None, coming: bool, what: str) -> None:
    """Exit 1 when ``unit`` is not in the directory (most likely a typo: a token or an account
    that sees nothing, handed to a department), unless ``coming`` says it is about to be entered;
    then only a warning. No directory yet: nothing to compare with."""
    units = _units_in_directory(settings) if unit else None
    if units is None or unit in units:
        return
    if not coming:
        click.echo(
            f"error: unit '{unit}' is not in the directory ({', '.join(units)}); no {what} made. "
            "Enter the unit first (deploy/seed/units.yaml, seeded at start), or give --unit-not-yet-entered "
            "to make it anyway",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"warning: unit '{unit}' is not in the directory ({', '.join(units)}); the {what} is made, "
        "but it sees no assignment until a unit of that code is entered",
        err=True,
    )


def _issue(user, roles, unit, label, system, hours, as_json=False, unit_not_yet_entered=False):
    from services.gateway import tokens
    from shared.db import transaction

    settings, sessions = _gateway_sessions()
    _refuse_unknown_unit(settings, unit, unit_not_yet_entered, "token")
    kind = "system" if system else "person"
    try:
        with transaction(sessions) as s:
            token = tokens.issue(
                s, user, list(roles), unit, label, kind=kind, ttl=tokens.lifetime(settings, kind, hours)
            )
            described = tokens.describe_token(s, token) if as_json else None
    except ZtcError as exc:
        _fail(exc)
    # With --json: the token beside what 'ztc tokens list --json' says of it (its id, expiry...).
    click.echo(json.dumps({"token": token, **described}, ensure_ascii=False, indent=2) if as_json else token)


_ISSUE_OPTIONS = [
    click.option("--user", required=True),
    click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles."),
    click.option("--unit", default=None, help="The unit a unit handler acts for."),
    click.option("--label", default=""),
    click.option(
        "--system",
        is_flag=True,
        help="A department system's token: it lives ZTC_TOKEN_SYSTEM_TTL_HOURS (90 days), not a person's 12 hours.",
    ),
    click.option("--hours", type=float, default=None, help="Expire after this many hours instead."),
    click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print the token with its id, roles, kind and expiry as JSON (the token is still shown only this once).",
    ),
    click.option(
        "--unit-not-yet-entered",
        is_flag=True,
        help="Issue a unit token although --unit is not in the directory yet (it sees nothing until it is).",
    ),
]


def _issue_options(command):
    for option in reversed(_ISSUE_OPTIONS):
        command = option(command)
    return command


@main.command(
    help="Issue an API token for a user (shown once). It expires: a person's after "
    "ZTC_TOKEN_TTL_HOURS (12), a department system's (--system) after "
    "ZTC_TOKEN_SYSTEM_TTL_HOURS (2160), or after --hours."
)
@_issue_options
def token(user, roles, unit, label, system, hours, as_json, unit_not_yet_entered):
    _issue(user, roles, unit, label, system, hours, as_json, unit_not_yet_entered)


@main.group(help="API tokens: issue, list, revoke.")
def tokens():
    pass


@tokens.command("issue", help="The same as 'ztc token': issue a token (shown once).")
@_issue_options
def tokens_issue(user, roles, unit, label, system, hours, as_json, unit_not_yet_entered):
    _issue(user, roles, unit, label, system, hours, as_json, unit_not_yet_entered)


@tokens.command("list", help="Active tokens (--all: expired and revoked too), by id (never the token).")
@click.option("--user", default=None)
@click.option("--all", "everything", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def tokens_list(user, everything, as_json):
    from services.gateway import tokens as api_tokens
    from shared.db import transaction

    _, sessions = _gateway_sessions()
    with transaction(sessions) as s:
        rows = api_tokens.listing(s, user, everything)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no tokens")
    for row in rows:
        click.echo(
            f"{row['id']}  {row['state']:<7}  {row['user']:<20} {','.join(row['roles']):<20} "
            f"{row['unit'] or '-':<14} {row['kind']:<6} expires {row['expires_at']}  {row['label']}"
        )


@tokens.command(
    "revoke",
    help="Revoke tokens by id (from 'ztc tokens list'), or every token of --user; a revoked token answers 401 at once.",
)
@click.argument("ids", nargs=-1)
@click.option("--user", default=None, help="Every token of this user.")
@click.option("--json", "as_json", is_flag=True)
def tokens_revoke(ids, user, as_json):
    from services.gateway import tokens as api_tokens
    from shared.db import transaction

    if not ids and not user:
        raise click.UsageError("name token ids or --user")
    _, sessions = _gateway_sessions()
    try:
        with transaction(sessions) as s:
            revoked = api_tokens.revoke(s, ids, user)
    except ZtcError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(revoked, ensure_ascii=False, indent=2))
        return
    click.echo(f"revoked {len(revoked)} token(s)" + "".join(f"\n  {r['id']} {r['user']}" for r in revoked))


@main.group("console-user", help="Web console accounts: a person's password (stored as an Argon2id hash).")
def console_user():
    pass


@console_user.command(
    "set",
    help="Make or change a console account: its roles, unit and password "
    "(asked for twice, never echoed; or one line on standard input with "
    "--password-stdin).",
)
@click.option("--user", required=True)
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--unit", default=None, help="The unit a unit handler acts for.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--unit-not-yet-entered",
    is_flag=True,
    help="Make a unit handler's account although --unit is not in the directory yet.",
)
def console_user_set(user, roles, unit, password_stdin, unit_not_yet_entered):
    from services.gateway.console import accounts
    from services.gateway.tokens import check_identity
    from shared.db import transaction

    try:
        check_identity(user, list(roles), unit, "console account")  # before a password is asked for
    except ZtcError as exc:
        _fail(exc)
    settings, sessions = _gateway_sessions()
    _refuse_unknown_unit(settings, unit, unit_not_yet_entered, "console account")
    password = (
        sys.stdin.readline().rstrip("\n")
        if password_stdin
        else click.prompt("password", hide_input=True, confirmation_prompt=True)
    )
    try:
        with transaction(sessions) as s:
            accounts.set_password(s, user, password, list(roles), unit)
    except ZtcError as exc:
        _fail(exc)
    click.echo(f"console account {user} set ({', '.join(roles)})")


# -- the operator's commands (services/ztc/ops.py) -------------------------------------------------
from .ops import register as _register_ops  # noqa: E402

_retry_all = _register_ops(
    main, instances, incidents, {"settings": _settings, "engine": _engine, "out": _out, "fail": _fail}
)

# -- the designers' commands: test, templates (services/ztc/designer_commands.py) -------------------
from .designer_commands import register as _register_designers  # noqa: E402

_register_designers(main, {"settings": _settings})

# -- the working-day calendar (services/ztc/calendar_commands.py) -----------------------------------
from .calendar_commands import register as _register_calendar  # noqa: E402

_register_calendar(main, {"settings": _settings, "out": _out, "fail": _fail})

# -- broker credentials of units and apps (services/ztc/bus_commands.py) -----------------------------
from .bus_commands import register as _register_bus  # noqa: E402

_register_bus(main, {"settings": _settings, "out": _out, "fail": _fail})

# -- e-mail and SMS deliveries of notifications (services/ztc/notification_commands.py) -------------
from .notification_commands import register as _register_notifications  # noqa: E402

_register_notifications(main, {"gateway_sessions": _gateway_sessions, "out": _out, "fail": _fail})


if __name__ == "__main__":
    main()
