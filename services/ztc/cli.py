"""``ztc``: deploy diagrams, watch and act on incidents and instances, issue tokens, enter a year's
holiday schedule (``ztc calendar``).

It works on the services' own databases through the same code the services run (the engine's
:class:`Engine`), so it works with the services stopped too: ``ztc deploy`` validates and stores a
diagram that the engine picks up when it runs; ``ztc incidents retry`` writes the retried job to
the engine's outbox, which the running engine publishes.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from shared import config
from shared.errors import ZtcError


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
    sys.exit(1)


@click.group(help="Zhitongche's command line for process designers and operators. Instances, "
                   "incidents and diagrams are handled on the services' databases directly, so those "
                   "commands work with the services stopped as well as running; 'queues' and "
                   "'dead-letters' talk to RabbitMQ. Settings come from the ZTC_* environment "
                   "variables (see README). Every listing command takes --json.")
def main():
    pass


# -- deploy ---------------------------------------------------------------------------------
def _deploy_units(paths):
    """Each BPMN file is deployed on its own, with every DMN file given beside it."""
    dmn = {p.name: p.read_bytes() for p in paths if p.suffix == ".dmn"}
    for path in paths:
        if path.suffix != ".dmn":
            yield path, {path.name: path.read_bytes(), **dmn}


def _diagram_files(paths):
    files = []
    for path in paths:
        files.extend(sorted(path.glob("*.bpmn")) + sorted(path.glob("*.dmn")) if path.is_dir() else [path])
    if not files:
        click.echo("error: no .bpmn or .dmn files found", err=True)
        sys.exit(1)
    return files


@main.command(help="Validate diagrams and store each as a new version (unchanged files keep their "
                   "version). A refused diagram gets every problem at once, each with file, line, "
                   "element id and label, and a hint; exits 1 if any diagram is refused. A process "
                   "marked isExecutable=\"false\" is kept as documentation, with a note.")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--check", is_flag=True, help="Only validate; store nothing.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON (a refusal's details carry problem_details: file, line, "
                   "element_id, element_type, label, message, hint, code).")
def deploy(paths, check, as_json):
    files = _diagram_files(paths)
    if check:
        from services.engine.engine import Engine

        engine = Engine(None, _settings())  # validation needs no database
    else:
        engine = _engine()
    results, failed = [], False
    for path, unit in _deploy_units(files):
        try:
            stored = ([{"process_id": d.process_id, "version": d.version, "checked": True, "notes": d.notes}
                       for d in engine.validate(unit)] if check else engine.deploy(unit, "ztc"))
            results.extend(stored)
            if not as_json:
                for row in stored:
                    state = "valid" if check else ("deployed" if row["new"] else "unchanged")
                    click.echo(f"{path}: {row['process_id']} version {row['version']} {state}")
                for note in dict.fromkeys(n for row in stored for n in row.get("notes", [])):
                    click.echo(f"  note: {note}")
        except ZtcError as exc:
            failed = True
            results.append({"file": str(path), **exc.to_dict()})
            if not as_json:
                click.echo(f"{path}: refused", err=True)
                for problem in exc.details.get("problems", []):
                    click.echo(f"  - {problem}", err=True)
                for note in exc.details.get("notes", []):
                    click.echo(f"  note: {note}", err=True)
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    sys.exit(1 if failed else 0)


def _lint_help():
    from shared.workflow.lint import RULES

    return ("Check diagrams for style, beside the deploy checks: every finding names file, line, "
            "element id and label, the rule (bpmnlint's name for it) and a hint. Findings do not "
            "refuse a diagram: the exit status is 0 unless a file would be refused at deploy (then 1, "
            "with its problems). Stores nothing and needs no database.\n\n"
            "\b\nRules:\n" + "".join(f"  {name}: {what}\n" for name, what in RULES.items()))


@main.command(help=_lint_help())
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="Print one object per BPMN file: file, refused, problems, findings (each with file, "
                   "line, element_id, element_type, label, message, hint and code, the rule), notes.")
def lint(paths, as_json):
    from shared.workflow.lint import lint as run_lint

    results, refused = [], False
    for path, unit in _deploy_units(_diagram_files(paths)):
        result = run_lint(unit)
        refused = refused or bool(result.problems)
        results.append({"file": str(path), "refused": bool(result.problems),
                        "problems": [p.to_dict() for p in result.problems],
                        "findings": [f.to_dict() for f in result.findings], "notes": result.notes})
        if as_json:
            continue
        for problem in result.problems:
            click.echo(f"error: {problem}")
        for finding in result.findings:
            click.echo(f"{finding.code}: {finding}")
        for note in result.notes:
            click.echo(f"note: {note}")
        verdict = "refused at deploy" if result.problems else "deploys"
        click.echo(f"{path}: {verdict}; {len(result.problems)} problem(s), "
                   f"{len(result.findings)} style finding(s)")
    if as_json:
        click.echo(json.dumps(results, ensure_ascii=False, indent=2))
    sys.exit(1 if refused else 0)


@main.command(help="List deployed versions, oldest first.")
@click.argument("process_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def versions(process_id, as_json):
    _out(_engine().versions(process_id), as_json, lambda rows: [click.echo(
        f"{r['process_id']} version {r['version']} deployed {r['deployed_at']} by {r['deployed_by']}")
        for r in rows] or click.echo("nothing deployed"))


# -- incidents --------------------------------------------------------------------------------
@main.group(help="Jobs that failed every attempt: list them, retry them, or resolve them.")
def incidents():
    pass


def _print_incidents(rows):
    if not rows:
        click.echo("no incidents")
    for i in rows:
        click.echo(f"#{i['id']} [{i['status']}] instance {i['instance_id']} task {i['task']} "
                   f"({i['operation']}): {i['error']}")


@incidents.command("list", help="List open incidents (--all for every one).")
@click.option("--all", "show_all", is_flag=True, help="Every incident, resolved ones too.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def incidents_list(show_all, as_json):
    _out(_engine().incidents(None if show_all else "open"), as_json, _print_incidents)


@incidents.command("retry", help="Send the incident's job again with a fresh budget of attempts "
                                 "(a failed step: run it again). One INCIDENT_ID, or --all open "
                                 "incidents, narrowed by --operation / --process; --dry-run lists them.")
@click.argument("incident_id", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every open incident (with the filters below).")
@click.option("--operation", help="With --all: only incidents of this operation, e.g. intake.register.")
@click.option("--process", "process_id", help="With --all: only incidents of instances of this process.")
@click.option("--dry-run", is_flag=True, help="With --all: only list what would be retried.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def incidents_retry(incident_id, retry_all, operation, process_id, dry_run, as_json):
    if (incident_id is None) == (not retry_all):
        click.echo("error: give one INCIDENT_ID or --all", err=True)
        sys.exit(2)
    if retry_all:
        _retry_all(operation, process_id, dry_run, as_json)
        return
    try:
        _out(_engine().retry_incident(incident_id, {"user": "ztc", "roles": ["operator"]}), as_json,
             lambda i: click.echo(f"incident #{i['id']} is {i['status']}: its job was sent again"))
    except ZtcError as exc:
        _fail(exc)


@incidents.command("resolve", help="Close an incident without retrying, saying why.")
@click.argument("incident_id", type=int)
@click.option("--reason", required=True, help="What was done instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the incident as JSON.")
def incidents_resolve(incident_id, reason, as_json):
    try:
        i = _engine().resolve_incident(incident_id, reason, {"user": "ztc", "roles": ["operator"]})
    except ZtcError as exc:
        _fail(exc)
    _out(i, as_json, lambda i: click.echo(f"incident #{i['id']} resolved: {i['resolution']}"))


# -- instances --------------------------------------------------------------------------------
@main.group(help="Process instances: find, show (state and history), where (the tokens now), "
                  "suspend, resume and cancel (one, or a batch with --dry-run).")
def instances():
    pass


@instances.command("find", help="Find instances by business key, process or status.")
@click.option("--business-key", help="The business key, exactly (a proposal number).")
@click.option("--process", help="The process id.")
@click.option("--status", help="running, waiting, incident, suspended, completed or cancelled.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def instances_find(business_key, process, status, as_json):
    rows = _engine().find_instances(business_key, process, status)
    _out(rows, as_json, lambda rs: [click.echo(
        f"{r['id']} {r['process_id']}@{r['version']} key={r['business_key']} {r['status']} "
        f"waiting={','.join(r['waiting_tasks'])}") for r in rs] or click.echo("no instances"))


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
            click.echo(f"  {h['at']} {h['actor']:>10} {h['action']} {h['task'] or ''}")

    _out(data, as_json, render)


@main.group(help="Move the clock of every service ahead together (demonstrations and tests only; "
                  "needs ZTC_CLOCK_OFFSET_FILE set for the services).")
def clock():
    pass


@clock.command("advance", help="Advance by a duration such as 31d, 12h, 90m or 45s.")
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
    except (KeyError, ValueError):
        click.echo(f"error: '{duration}' is not a duration like 31d, 12h, 90m or 45s", err=True)
        sys.exit(1)
    offset_clock = OffsetClock(settings.clock_offset_file)
    total = offset_clock.advance(seconds)
    click.echo(f"the clock is now {offset_clock.now().isoformat()} ({total / 86400:.2f} days ahead)")


@main.command(help="Drive several proposals down different paths on the running system (started by "
                   "'make run'), through the HTTP API with the demo tokens, so every stage has examples.")
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


@main.command(help="Issue an API token for a user (shown once).")
@click.option("--user", required=True)
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--unit", default=None, help="The unit a unit handler acts for.")
@click.option("--label", default="")
def token(user, roles, unit, label):
    from services.gateway import tokens
    from shared.db import migrate as run, session_factory, transaction

    settings = _settings()
    url = settings.database_url("gateway")
    run("gateway", url)
    try:
        with transaction(session_factory(url)) as s:
            click.echo(tokens.issue(s, user, list(roles), unit, label))
    except ZtcError as exc:
        _fail(exc)



# -- the operator's commands (services/ztc/ops.py) -------------------------------------------------
from .ops import register as _register_ops  # noqa: E402

_retry_all = _register_ops(main, instances, incidents,
                           {"settings": _settings, "engine": _engine, "out": _out, "fail": _fail})

# -- the working-day calendar (services/ztc/calendar_commands.py) -----------------------------------
from .calendar_commands import register as _register_calendar  # noqa: E402

_register_calendar(main, {"settings": _settings, "out": _out, "fail": _fail})

# -- broker credentials of units and apps (services/ztc/bus_commands.py) -----------------------------
from .bus_commands import register as _register_bus  # noqa: E402

_register_bus(main, {"settings": _settings, "out": _out, "fail": _fail})


if __name__ == "__main__":
    main()
