"""What people ask supervision: every deadline of a proposal with its provenance, and the overdue list.

One call to :func:`deadlines` explains any deadline: the rule and the rulebook (name, version,
SHA-256 hash) it came from, the start event, the amount and unit, the working-day calendar's
day-by-day account for working-day rules (holidays and weekends skipped, make-up working days
counted, and which source decided each date; ``provisional`` when a year without an official
holiday schedule was counted), every pause, resume, extension, restart and recalculation with who
and why, the reminders and escalations, the current due date and status.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock
from shared.calendar import UnknownCalendarDate, local_date
from shared.errors import Forbidden, NotFound
from shared.validation import load

from .access import oversees, principal_of, require_overdue_reader, restricted_unit
from .models import Deadline, DeadlineChange
from .records import clock_started_at, deadlines_of, iso
from .rules import CAP_RULE, CO_INPUT_RULE, MILESTONE_RULE, REPLY_RULES, SIGN_FOR_RULE, SupervisionRules, ends_at
from .unit_of_work import SupervisionUnitOfWork


def require_sight_of(
    uow: SupervisionUnitOfWork, number: str, principal: dict, is_proposer=None, rows: list | None = None
) -> str | None:
    """The unit a unit principal is limited to, or None for an overseer or one of the proposal's
    proposers. ``is_proposer()`` answers whether the caller proposed it (intake knows); ``rows``
    are the proposal's deadlines when the caller has read them already.

    A member who did not propose it, and a unit it was not given to, are answered NotFound, the
    same words as for a proposal that does not exist (intake answers so too): a refusal would tell
    them the proposal exists and was assigned. A role that never sees deadlines is Forbidden."""
    unit = restricted_unit(principal)
    if unit is not None:
        rows = deadlines_of(uow, number) if rows is None else rows
        if not any(row.unit == unit or unit in (row.units or []) for row in rows):
            raise not_found(number)
        return unit
    if oversees(principal):
        return None
    if "member" in principal["roles"]:
        if is_proposer is not None and is_proposer():
            return None
        raise not_found(number)
    raise Forbidden(
        f"proposal {number}'s deadlines and supervision are seen by its proposers, staff, "
        "the committee, leaders and the units it was given to"
    )


def not_found(number: str) -> NotFound:
    """What a caller who may not see proposal ``number`` hears: the same as when it does not exist."""
    return NotFound(f"there is no proposal {number} with deadlines you may see")


def _cap(uow: SupervisionUnitOfWork, rules: SupervisionRules, number: str) -> dict | None:
    start = clock_started_at(uow, number)
    if start is None:
        return None
    try:
        cap = rules.deadline(CAP_RULE, start)
    except UnknownCalendarDate as exc:  # a query still answers; the job that needs it fails loudly
        return {"rule": CAP_RULE, "error": str(exc)}
    return {
        "rule": CAP_RULE,
        "amount": cap.amount,
        "unit": cap.unit,
        "from": cap.start.isoformat(),
        "latest_due": cap.due.isoformat(),
        "rulebook_version": cap.rulebook_version,
    }


def _calendar_sentence(account: dict | None) -> str:
    if not account:
        return ""
    skipped = ", ".join(f"{d['date']} ({d['name'] or d['kind']})" for d in account["skipped"]) or "none"
    made_up = ", ".join(f"{d['date']} ({d['name'] or 'make-up'})" for d in account["makeup_workdays"])
    sentence = ""
    recomputed = account.get("recomputed")
    if recomputed:
        on = local_date(datetime.fromisoformat(recomputed["at"])).isoformat()
        sentence += (
            f" Counted again on {on} when the {recomputed['year']} holiday calendar became "
            f"{recomputed['calendar']} (it had ended on {recomputed['previous_end']})."
        )
    sentence += f" Days not counted: {skipped}."
    sentence += f" Make-up working days counted: {made_up}." if made_up else ""
    if account.get("provisional"):
        years = ", ".join(str(year) for year in account.get("provisional_years", []))
        sentence += (
            f" PROVISIONAL: {years} has no official holiday schedule yet, so its dates were "
            "counted on weekends and the statutory holidays only (no make-up working days or "
            "bridge days); the deadline is counted again when the schedule is entered."
        )
    return sentence


def _sentence(row: Deadline, changes: list[DeadlineChange]) -> str:
    owner = f" for {row.unit}" if row.unit else f" for {', '.join(row.units)}"
    if row.milestone is not None:  # the unit's own date, reminded by the rulebook's lead times
        text = (
            f'{row.rule}{owner}: milestone {row.milestone} "{row.label}", promised in its category B '
            f"reply, accepted on {row.start_date.isoformat()}, due {row.original_due.isoformat()} (the "
            f"unit's date; reminders from rulebook {row.rulebook} {row.rulebook_version}, {row.rulebook_hash})."
        )
    else:
        text = (
            f"{row.rule}{owner}: {row.amount} {row.amount_unit.replace('_', ' ')} from "
            f"{row.start_event.replace('_', ' ')} on {row.start_date.isoformat()} (rulebook {row.rulebook} "
            f"{row.rulebook_version}, {row.rulebook_hash}), due {row.original_due.isoformat()}."
        )
    text += _calendar_sentence(row.calendar)
    for change in changes:
        moved = f" {iso(change.old_due)} -> {iso(change.new_due) or 'stopped'}"
        text += (
            f" {change.kind.capitalize()} on {local_date(change.at).isoformat()} by "
            f"{change.by}:{moved}" + (f" ({change.reason})" if change.reason else "") + "."
        )
    if row.fulfilled_at is not None:
        text += (
            f" {'Signed' if row.rule == 'sign_for_limit' else 'Done'} on "
            f"{local_date(row.fulfilled_at).isoformat()} by {row.fulfilled_by}."
        )
    pauses = [c for c in changes if c.kind in ("pause", "resume")]
    if pauses and pauses[-1].kind == "pause":
        text += (
            f" PAUSED since {local_date(pauses[-1].at).isoformat()} ({pauses[-1].reason}): "
            "the days paused are added to the due date when it resumes."
        )
    return text + f" Now due {row.due.isoformat()}, {row.status}."


def _provenance(row, changes) -> dict:
    """Where a deadline comes from: the event that started it, the rulebook and the duration, whether
    its calendar year is provisional, and the whole account in one sentence."""
    return {
        "start": {"event": row.start_event, "at": iso(row.started_at), "date": row.start_date.isoformat()},
        "rulebook": {"name": row.rulebook, "version": row.rulebook_version, "hash": row.rulebook_hash},
        "duration": {"amount": row.amount, "unit": row.amount_unit},
        "provisional": bool((row.calendar or {}).get("provisional")),
        "explanation": _sentence(row, changes),
    }


def _view(row, changes, reminders, escalations, replaced_by, cap, now) -> dict:
    view = {
        "id": row.id,
        "number": row.number,
        "rule": row.rule,
        "unit": row.unit,
        "units": list(row.units or []),
        "status": row.status,
        "live": row.closed_at is None,
        **_provenance(row, changes),
        "calendar": row.calendar,
        "original_due": row.original_due.isoformat(),
        "due": row.due.isoformat(),
        "ends_at": ends_at(row.due).isoformat(),
        "passed": now >= ends_at(row.due),
        "changes": [
            {
                "kind": c.kind,
                "at": iso(c.at),
                "by": c.by,
                "reason": c.reason,
                "old_due": iso(c.old_due),
                "new_due": iso(c.new_due),
            }
            for c in changes
        ],
        "replaces": row.replaces_id,
        "replaced_by": replaced_by,
        "reminders": [
            {
                "lead": {"amount": r.lead_amount, "unit": r.lead_unit},
                "for_due": iso(r.for_due),
                "due_at": iso(r.due_at),
                "sent_at": iso(r.sent_at),
            }
            for r in reminders
        ],
        "escalations": [{"unit": e.unit, "due": iso(e.due), "escalated_at": iso(e.escalated_at)} for e in escalations],
        "opened_by": row.opened_by,
        "created_at": iso(row.created_at),
        "closed_at": iso(row.closed_at),
        "paused": bool(
            [c for c in changes if c.kind in ("pause", "resume")][-1:]
            and [c for c in changes if c.kind in ("pause", "resume")][-1].kind == "pause"
        ),
        "fulfilled": ({"at": iso(row.fulfilled_at), "by": row.fulfilled_by} if row.fulfilled_at is not None else None),
    }
    if row.milestone is not None:
        view["milestone"] = {"number": row.milestone, "what": row.label}
    if row.rule in REPLY_RULES:
        view["extension_cap"] = cap
    return view


def deadlines(uow: SupervisionUnitOfWork, rules: SupervisionRules, number, principal, is_proposer=None) -> dict:
    """Every deadline of proposal ``number`` the caller may see, oldest first, each fully explained.

    Units see their own unit's deadlines and the reply deadlines they answer under; staff, committee, leaders and the
    proposal's proposers see all (see ``access``); anyone else is refused. NotFound if the
    proposal has no deadlines. The rows, their changes, reminders and escalations are read in
    several statements: the service gives a unit of work that reads one snapshot
    (``uow.read_snapshot()``), so a deadline's status and its escalations always agree.
    """
    principal = principal_of(principal)
    rows = deadlines_of(uow, str(number))
    unit = require_sight_of(uow, str(number), principal, is_proposer, rows)
    if not rows:
        raise NotFound(f"proposal {number} has no deadlines (it is not assigned yet)")
    # A unit: its own deadlines, and the reply deadlines it answers under (``units``); not those
    # of the units the proposal went to after it was reassigned away.
    visible = [
        row for row in rows if unit is None or row.unit == unit or (row.unit is None and unit in (row.units or []))
    ]
    ids = [row.id for row in visible]
    changes = defaultdict(list, uow.deadlines.changes_by_deadline(ids))
    reminders = defaultdict(list, uow.deadlines.reminders_by_deadline(ids))
    escalations = defaultdict(list, uow.deadlines.escalations_by_deadline(ids))
    replaced_by = {row.replaces_id: row.id for row in rows if row.replaces_id is not None}
    cap = _cap(uow, rules, str(number)) if any(row.rule in REPLY_RULES for row in visible) else None
    now = clock.now()

    def raised(row):  # a unit sees the escalations of its own work only
        return [e for e in escalations[row.id] if unit is None or e.unit == unit]

    return {
        "number": str(number),
        "as_of": iso(now),
        "deadlines": [
            _view(row, changes[row.id], reminders[row.id], raised(row), replaced_by.get(row.id), cap, now)
            for row in visible
        ],
    }


# The most overdue deadlines one page of the board lists.
MAX_OVERDUE_PER_PAGE = 200

# The kind of overdue work each rule is, so a page can tell the rows apart.
OVERDUE_KINDS = {
    **{rule: "reply" for rule in REPLY_RULES},
    SIGN_FOR_RULE: "signing",
    CO_INPUT_RULE: "co_unit_input",
    MILESTONE_RULE: "milestone",
}


# The overdue work the units' annual assessment counts as not done on time: a reply (an answering
# unit's) and a co-unit's input to the lead, the work its on-time share is made of.
ASSESSED_KINDS = {rule: kind for rule, kind in OVERDUE_KINDS.items() if kind in ("reply", "co_unit_input")}


class YearOfProposals(Schema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(1900, 2999))


def overdue_in_year(uow: SupervisionUnitOfWork, principal, year) -> dict:
    """The replies and co-unit inputs of ``year``'s proposals that are overdue now and not done,
    by the unit that owes each (staff, committee and leaders): ``{year, as_of, units: {unit:
    [{number, kind, due, days_overdue}]}}``. The units' assessment counts each as work not done on
    time, so that a unit that never answers does not look better than one that answered late
    (whose late reply its handling score already says)."""
    require_overdue_reader(principal_of(principal))
    wanted = load(YearOfProposals, {"year": year}, "the year")["year"]
    now = clock.now()
    today = local_date(now)
    owed: dict[str, list] = defaultdict(list)
    for row in uow.deadlines.overdue(ASSESSED_KINDS, before=today, year=wanted):
        for unit in row.units:
            owed[unit].append(
                {
                    "number": row.number,
                    "kind": ASSESSED_KINDS[row.rule],
                    "due": row.due.isoformat(),
                    "days_overdue": (today - row.due).days,
                }
            )
    return {"year": wanted, "as_of": iso(now), "units": dict(sorted(owed.items()))}


class OverdueQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(1, 10_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, MAX_OVERDUE_PER_PAGE))


def overdue_per_unit(uow: SupervisionUnitOfWork, principal) -> tuple[int, dict[str, int]]:
    """How many deadlines are overdue in all and how many each unit owes (counted in SQL, not
    listed): the board's figures and the ``ztc_overdue_work_items`` gauge."""
    require_overdue_reader(principal_of(principal))
    return uow.deadlines.overdue_per_unit(OVERDUE_KINDS, before=local_date(clock.now()))


def overdue(uow: SupervisionUnitOfWork, principal, query: dict | None = None) -> dict:
    """The live list of overdue work per unit (staff and leaders only), a page at a time.

    Overdue: a live deadline of work a unit owes whose due day has ended, whether or not a check
    has escalated it yet, listed under each unit that owes it. Each row says its
    ``kind`` (:data:`OVERDUE_KINDS`): ``reply`` (the reply deadline or a re-handling reply's),
    ``signing`` (a sign-for limit not signed), ``co_unit_input`` (a co-unit's input to the lead)
    and ``milestone`` (a milestone a category B reply promised, with ``milestone: {number, what}``),
    its ``explanation``, the sentence ``deadlines`` gives, and its ``provenance`` (start, rulebook,
    duration, provisional, that sentence), so a page explains each row without asking for the
    proposal's deadlines. Objection windows are not work.

    ``query``: ``page`` (from 1) and ``per_page`` (1-200, default 50) of the overdue deadlines,
    most overdue first (oldest due, then oldest deadline), so an answer costs one page whatever
    the number overdue. ``total`` is every overdue deadline; ``units`` lists every unit that owes
    any, with its ``count`` on every page and, in ``overdue``, its rows on this page (oldest due
    first; empty when all of them are on other pages).
    """
    principal = principal_of(principal)
    require_overdue_reader(principal)
    data = load(OverdueQuery, query or {}, "the query")
    now = clock.now()
    today = local_date(now)
    total, per_unit_count = uow.deadlines.overdue_per_unit(OVERDUE_KINDS, before=today)
    offset = (data["page"] - 1) * data["per_page"]
    rows = uow.deadlines.overdue(OVERDUE_KINDS, before=today, offset=offset, limit=data["per_page"])
    ids = [row.id for row in rows]
    escalations = defaultdict(list, uow.deadlines.escalations_by_deadline(ids))
    changes = defaultdict(list, uow.deadlines.changes_by_deadline(ids))
    per_unit: dict[str, list] = {unit: [] for unit in per_unit_count}
    for row in rows:
        raised = {e.unit: e for e in escalations[row.id] if e.due == row.due}
        provenance = _provenance(row, changes[row.id])
        for unit in row.units:
            item = {
                "number": row.number,
                "deadline_id": row.id,
                "rule": row.rule,
                "kind": OVERDUE_KINDS[row.rule],
                "due": row.due.isoformat(),
                "days_overdue": (today - row.due).days,
                "escalated_at": iso(raised[unit].escalated_at) if unit in raised else None,
                "explanation": provenance["explanation"],
                "provenance": provenance,
            }
            if row.milestone is not None:
                item["milestone"] = {"number": row.milestone, "what": row.label}
            per_unit.setdefault(unit, []).append(item)
    return {
        "as_of": iso(now),
        "page": data["page"],
        "per_page": data["per_page"],
        "total": total,
        "units": [
            {"unit": unit, "count": per_unit_count.get(unit, len(items)), "overdue": items}
            for unit, items in sorted(per_unit.items())
        ],
    }
