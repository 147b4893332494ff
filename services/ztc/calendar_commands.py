"""``ztc calendar``: enter a year's official holiday schedule, see how a year is answered, and have
supervision count again the deadlines that were counted on a provisional year.

The calendar is read from the yearly files in ``$ZTC_BPMN_DIR/calendar`` (``shared.calendar``).
``add`` checks a file (schema, year, dates, the statutory holidays it should cover), writes it there
(keeping the file it replaces under ``replaced/``), and asks the running supervision service over
RPC to recompute every open deadline counted on a provisional date of that year. Supervision reads
the calendar files afresh for each call, so it counts on the file just written, with no restart.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import click

from .identity import operator

RPC_TIMEOUT_SECONDS = 120


# The years a calendar can answer (shared/calendar.py checks a file's year the same way).
CALENDAR_YEARS = click.IntRange(1949, 2999)


def _directory(settings) -> Path:
    return settings.bpmn_dir / "calendar"


def _refuse(path, errors: dict[str, list[str]]):
    click.echo(f"error: {path}: refused, nothing written", err=True)
    for field, messages in errors.items():
        click.echo(f"  {field}: {' '.join(messages)}", err=True)
    sys.exit(1)


def _other_files_for(directory: Path, year: int, target: Path) -> dict[str, list[str]]:
    """Every other file of the directory must load, and none may give ``year`` too."""
    from shared.calendar import DataFileError, OverrideSchema, load_yaml

    errors: dict[str, list[str]] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if path.name == target.name:
            continue
        try:
            if load_yaml(path, OverrideSchema())["year"] == year:
                errors.setdefault("year", []).append(
                    f"{path} gives {year} already; remove it first (one file per year)"
                )
        except DataFileError as exc:
            errors.setdefault("(directory)", []).append(f"{exc} (fix or remove it first)")
    return errors


def _recompute(settings, year: int) -> dict:
    from nameko.standalone.rpc import ClusterRpcProxy

    from shared import principal as signing
    from shared.messaging import identity

    # As the operator's broker user, for a principal signed with the deployment key.
    signed = signing.sign(operator(), signing.key_of(settings), settings.principal_ttl_seconds)
    with ClusterRpcProxy(
        settings.nameko_config(AMQP_URI=identity.operator_uri(settings)), timeout=RPC_TIMEOUT_SECONDS
    ) as rpc:
        return rpc.supervision.recompute_provisional(year, principal=signed)


def _print_recomputed(result: dict):
    status = result["calendar"]["status"]
    click.echo(
        f"supervision: {result['year']} is {status}; {result['recounted']} open deadline(s) "
        f"counted on it provisionally were counted again, {len(result['moved'])} moved "
        f"(each with a recalculation change and a notice to its units and the staff)"
    )
    for row in result["moved"]:
        owner = f" ({row['unit']})" if row["unit"] else ""
        click.echo(f"  proposal {row['number']} {row['rule']}{owner}: {row['old_due']} -> {row['new_due']}")
    if result["still_provisional"]:
        click.echo(
            f"  {result['still_provisional']} of them are still provisional: the calendar does "
            f"not have {result['year']}'s whole schedule (complete: true) yet"
        )


def register(main, helpers):
    """Add the ``calendar`` group to ``main``."""
    _settings, _out, _fail = helpers["settings"], helpers["out"], helpers["fail"]

    @main.group(
        help="The working-day calendar deadlines are counted on: chinesecalendar, the yearly "
        "files in $ZTC_BPMN_DIR/calendar, and for a year without an official schedule "
        "the provisional rule (weekends and statutory holidays only; deadlines counted "
        "on it are marked provisional). 'add' enters the State Council's schedule for a "
        "year and has supervision recompute those deadlines."
    )
    def calendar():
        pass

    def _recompute_or_exit(year, written=None) -> dict:
        from shared.errors import ZtcError

        try:
            return _recompute(_settings(), year)
        except ZtcError as exc:
            _fail(exc)
        except Exception as exc:  # the broker or the service is not there: say what to do next
            done = f"{written} is written, but " if written else ""
            click.echo(
                f"error: {done}supervision did not recompute ({type(exc).__name__}: {exc}). "
                f"Once supervision runs: ztc calendar recompute {year}",
                err=True,
            )
            sys.exit(2)

    @calendar.command(
        "add",
        help="Enter YEAR's official holiday schedule from FILE (YAML: year, "
        "source, complete, holidays, workdays; see bpmn/calendar/README.md). "
        "The file is checked first: a wrong field, a date outside YEAR or "
        "both holiday and workday, or a file for another year is refused "
        "and nothing is written; a statutory holiday not listed, a weekday "
        "listed as a make-up day or complete: false is warned about. Then it "
        "is written as <dir>/YEAR.yaml (a file it replaces is kept under "
        "<dir>/replaced/) and supervision recomputes every open deadline "
        "counted on a provisional YEAR: a due date that moves gets a "
        "recalculation change and a notice.",
    )
    @click.argument("year", type=CALENDAR_YEARS)
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--check", is_flag=True, help="Only check the file; write nothing, recompute nothing.")
    @click.option(
        "--no-recompute",
        is_flag=True,
        help="Write the file but do not call supervision (run 'ztc calendar recompute YEAR' later).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def calendar_add(year, file, check, no_recompute, as_json):
        from shared.calendar import DataFileError, WorkingCalendar, check_year_file

        settings = _settings()
        directory = _directory(settings)
        if not directory.is_dir():
            click.echo(f"error: the calendar directory {directory} does not exist (ZTC_BPMN_DIR)", err=True)
            sys.exit(1)
        raw = file.read_bytes()
        try:
            data, problems = check_year_file(file, year, raw)
        except DataFileError as exc:
            _refuse(file, exc.errors)
        target = directory / f"{year}.yaml"
        errors = _other_files_for(directory, year, target)
        if errors:
            _refuse(file, errors)
        with tempfile.TemporaryDirectory() as trial:  # the directory as it would be: does it load?
            for path in [*directory.glob("*.yaml"), *directory.glob("*.yml")]:
                if path.name != target.name:
                    shutil.copy(path, trial)
            Path(trial, target.name).write_bytes(raw)
            try:
                status = WorkingCalendar(trial).year_status(year)
            except DataFileError as exc:
                _refuse(file, {"(directory)": [str(exc)]})
        if not as_json:
            for warning in problems:
                click.echo(f"warning: {warning}", err=True)
        if check:
            _out(
                {"year": year, "file": str(file), "valid": True, "warnings": problems, "would_be": status},
                as_json,
                lambda d: click.echo(
                    f"{file}: valid for {year}; {year} would be {d['would_be']['status']}; nothing written"
                ),
            )
            return
        replaced = None
        if target.exists():
            keep = directory / "replaced"
            keep.mkdir(exist_ok=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            replaced = keep / f"{year}.{stamp}.yaml"
            shutil.copy2(target, replaced)
        partial = directory / f".{year}.yaml.writing"
        partial.write_bytes(raw)
        os.replace(partial, target)  # atomic: a service reading the directory sees old or new
        written = {
            "year": year,
            "written": str(target),
            "replaced": str(replaced) if replaced else None,
            "calendar": status,
            "warnings": problems,
            "source": data["source"],
        }
        if not as_json:
            click.echo(
                f"{target} written ({year} is now {status['status']}: {data['source']})"
                + (f"; the file it replaces is kept as {replaced}" if replaced else "")
            )
        if no_recompute:
            if as_json:
                _out(written, True, None)
            else:
                click.echo(f"supervision was not asked; run: ztc calendar recompute {year}")
            return
        result = _recompute_or_exit(year, str(target))
        _out({**written, "recomputed": result}, as_json, lambda d: _print_recomputed(d["recomputed"]))

    @calendar.command(
        "recompute",
        help="Have supervision count again every open deadline that was "
        "counted on a provisional date of YEAR, on the calendar files as "
        "they are now ('add' does this itself; use this when supervision "
        "was not running then). Safe to repeat.",
    )
    @click.argument("year", type=CALENDAR_YEARS)
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def calendar_recompute(year, as_json):
        _out(_recompute_or_exit(year), as_json, _print_recomputed)

    @calendar.command(
        "show",
        help="How YEAR is answered (package, official file, provisional rule, or "
        "unknown) and its holidays and make-up working days, each with the "
        "source that decided it and whether it is provisional.",
    )
    @click.argument("year", type=CALENDAR_YEARS)
    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    def calendar_show(year, as_json):
        from shared.calendar import UnknownCalendarDate, WorkingCalendar

        calendar_ = WorkingCalendar(_directory(_settings()))
        status = calendar_.year_status(year)
        try:
            days = [day.as_dict() for day in calendar_.special_days(year)]
        except UnknownCalendarDate as exc:
            days, status = [], {**status, "error": str(exc)}

        def render(d):
            click.echo(
                f"{year}: {d['status']}"
                + (f" ({d['file']}, complete: {str(d['complete']).lower()})" if d["file"] else "")
            )
            for name, text in d["sources"].items():
                click.echo(f"  {name}: {text}")
            if d["status"] == "provisional":
                click.echo(
                    f"  PROVISIONAL: no official schedule for {year} yet; make-up working days and "
                    f"bridge days are unknown. Enter it with: ztc calendar add {year} FILE"
                )
            if d.get("error"):
                click.echo(f"  {d['error']}")
            for day in d["days"]:
                mark = " [provisional]" if day["provisional"] and day["source"] != "provisional" else ""
                click.echo(
                    f"  {day['date']} {day['weekday']} {day['kind']:<14} {day['name'] or '':<36} {day['source']}{mark}"
                )

        _out({**status, "days": days}, as_json, render)
