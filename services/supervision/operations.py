"""Supervision's jobs (督), as plain functions of a unit of work, the rules and validated input.

The diagram (``bpmn/proposal.bpmn``) opens the clocks after each assignment, waits on a timer set
to the ``next_check`` these jobs return (an ISO 8601 datetime with its offset, Chinese local time),
asks :func:`check` what to do when it fires, and closes the clocks when the reply is accepted.

Every duration comes from the rulebook and every working day from the calendar. A date of a year
without an official holiday schedule is counted on the calendar's provisional rule and the deadline
keeps that in its account; :func:`recompute_provisional` counts such deadlines again when the
schedule is entered (``ztc calendar add``). A date no source knows raises
:class:`~shared.calendar.UnknownCalendarDate` out of the job: it is a technical failure, never a
plain weekday in silence, so the engine retries and then raises an incident whose message names the
calendar file to add; nothing of the job is kept.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock
from shared.calendar import CHINA_TZ
from shared.contracts import DEADLINE_EXTENDED
from shared.errors import BusinessError, Conflict, InvalidInput, NotFound
from shared.contracts.jobs.supervision import Escalate as EscalateParams
from shared.contracts.jobs.supervision import Extend as ExtendParams
from shared.contracts.jobs.supervision import Close as CloseParams
from shared.contracts.jobs.supervision import NumberRef as NumberParams
from shared.contracts.jobs.supervision import OpenDeadlines as OpenDeadlinesParams
from shared.contracts.jobs.supervision import Restart as RestartParams
from shared.validation import load

from . import key_proposals, milestones, notices, reply_clock, unit_facts  # noqa: F401 - reply_clock named in docs

from .access import actor, principal_of, require_calendar_keeper, require_pauser
from shared.rulebook import Deadline as RuleDeadline

from .models import SET_ASIDE, Deadline, Escalation, Reminder
from .records import (
    ASSIGNED,
    REASSIGNED,
    REHANDLING,
    SIGN_LIMIT_END,
    clock_started_at,
    deadlines_of,
    escalated,
    iso,
    latest_reply,
    live_deadlines,
    live_reply,
    new_deadline,
    next_check,
    paused_since,
    pending_reminders,
    record_change,
    replace,
)
from .rules import CAP_RULE, CO_INPUT_RULE, OBJECTION_RULE, REPLY_RULES, SIGN_FOR_RULE, SupervisionRules, ends_at
from .unit_of_work import SupervisionUnitOfWork

_NUMBER = fields.String(required=True, validate=validate.Length(min=1, max=50))
_UNIT = fields.String(validate=validate.Length(min=1, max=100))


def _at(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat()


def _no_reply_deadline(number: str) -> BusinessError:
    return BusinessError(
        "no_reply_deadline",
        f"proposal {number} has no open reply deadline; supervision.open_deadlines opens it after the assignment",
    )


# -- the smoke diagram's escalation (kept as it was) ---------------------------------------------------


def escalate(uow: SupervisionUnitOfWork, params: dict, principal: dict | None) -> dict:
    data = load(EscalateParams, params, "supervision.escalate parameters")
    row = Escalation(submission_id=data["submission_id"], unit=data["unit"], escalated_at=clock.now())
    uow.deadlines.add_escalation(row)
    uow.flush()
    return {"escalation_id": row.id, "escalated_at": row.escalated_at.isoformat()}


# -- open_deadlines -------------------------------------------------------------------------------


def _unique(items):
    return list(dict.fromkeys(items))


def open_deadlines(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    """``supervision.open_deadlines {number, key_proposal, supervising_leader, units[, answering_units,
    proposers, kept_units]}``.

    Starts the clocks of an assignment made now: for each of ``units`` its sign-for limit
    (``sign_for_limit``) and objection window (``objection_window``), and the reply deadline
    (``reply_deadline``) of the answering units (``answering_units``, by default ``units``).
    Opening again for the same number (after a reassignment) supersedes the live deadlines, each
    with a recorded restart, and the new ones count from ``reassigned``, except those of
    ``kept_units``: units staff kept in the same role (an objection overruled), whose signing and
    input stand and whose clocks go on, the reply clock too when only kept units answer. A key proposal is
    registered with its supervising leader (a later opening without ``key_proposal`` leaves that
    registration alone: the chair's meeting chooses key proposals, not the reassignment form), and
    ``proposal.key_selected`` is published for the points of its ``proposers`` (once per proposal:
    its event id is the number's).

    Returns ``{deadlines: [{id, rule, unit, due}], next_check}``: kept small, since the diagram
    keeps the result in its task data; :func:`~services.supervision.queries.deadlines` explains them.
    """
    data = load(OpenDeadlinesParams, params, "supervision.open_deadlines parameters")
    number, now, by = data["number"], clock.now(), actor(principal)
    uow.lock(f"supervision:{number}")  # a unit's signing heard meanwhile waits for us
    units = _unique(data["units"])
    answering = _unique(data["answering_units"] or units)
    earlier = deadlines_of(uow, number)
    start_event = REASSIGNED if earlier else ASSIGNED
    # Units whose assignment goes on after a reassignment (staff kept them, in the same role): what
    # they did stands (signing, input) and their clocks go on; nothing is opened for them again.
    live_reply_row = live_reply(uow, number)
    kept = set(data["kept_units"]) & set(units) if live_reply_row is not None else set()
    starting = [unit for unit in units if unit not in kept]
    new_answering = [unit for unit in answering if unit not in kept]
    # Compute every due date before changing anything: an unknown calendar date fails the job whole.
    computed = [
        (rules.deadline(rule, now), unit, [unit]) for unit in starting for rule in (SIGN_FOR_RULE, OBJECTION_RULE)
    ]
    # A unit assigned but not answering is a co-unit (主办 + 协办): its input to the lead is due.
    computed += [(rules.deadline(CO_INPUT_RULE, now), unit, [unit]) for unit in starting if unit not in answering]
    fresh = [
        new_deadline(number, d, unit=unit, units=owners, start_event=start_event, started_at=now, by=by)
        for d, unit, owners in computed
    ]
    reply_restarts = bool(new_answering) or live_reply_row is None
    if reply_restarts:
        # The reply clock counts from signing; until the answering units sign, from the end of their
        # sign-for limit (reply_clock: signing moves it earlier, with a clock_start change).
        signing_ends = max(ends_at(d.due) for d, unit, _ in computed if d.rule == SIGN_FOR_RULE and unit in answering)
        reply = rules.deadline("reply_deadline", signing_ends)
        fresh.append(
            new_deadline(
                number,
                reply,
                unit=None,
                units=answering,
                start_event=SIGN_LIMIT_END,
                started_at=clock.as_utc(signing_ends),
                by=by,
            )
        )
        fresh[-1].created_at = now
    elif set(live_reply_row.units) != set(answering):
        # Only kept units answer now: their reply clock goes on, owed by them alone.
        live_reply_row.units = list(answering)
    for row in fresh:
        uow.deadlines.add(row)
    uow.flush()
    reason = f"reassigned on {now.astimezone(CHINA_TZ).date().isoformat()}: the clocks start again"
    for old in (row for row in earlier if row.closed_at is None):
        if old.unit in kept or (old.rule in REPLY_RULES and not reply_restarts):
            continue  # a kept unit's clock, or the reply clock of kept units only: it goes on
        counterpart = next(
            (
                new
                for new in fresh
                if new.unit == old.unit
                and (new.rule == old.rule or (new.rule in REPLY_RULES and old.rule in REPLY_RULES))
            ),
            None,
        )
        replace(uow, old, counterpart, now, by, reason)
    if data.get("key_proposal"):
        key_proposals.register(uow, number, data["supervising_leader"], by, now)
        proposers = _unique(data.get("proposers") or [])
        uow.publish_event(
            "proposal.key_selected",
            f"proposal.key_selected:{number}",
            number,
            members=[{"member": m, "role": "lead" if i == 0 else "co"} for i, m in enumerate(proposers)],
            payload={"supervising_leader": data["supervising_leader"]},
        )
    uow.flush()
    unit_facts.apply_pending(uow, number, rules)
    reply = fresh[-1] if reply_restarts else live_reply_row  # opened above, or the kept units' live one
    assert reply is not None
    return {
        "deadlines": [{"id": row.id, "rule": row.rule, "unit": row.unit, "due": row.due.isoformat()} for row in fresh],
        "next_check": _at(_next_check(uow, rules, reply, now)),
    }


def _co_input_deadlines(uow: SupervisionUnitOfWork, number: str):
    return [row for row in live_deadlines(uow, number) if row.rule == CO_INPUT_RULE]


def _sign_for_deadlines(uow: SupervisionUnitOfWork, number: str):
    return [row for row in live_deadlines(uow, number) if row.rule == SIGN_FOR_RULE]


def _next_check(uow: SupervisionUnitOfWork, rules: SupervisionRules, reply, now: datetime) -> datetime:
    """The reply deadline's next check, or earlier if a co-unit's input deadline or a unit's
    sign-for limit has a reminder or its end to come first (an escalated one needs no more checks)."""
    moments = [next_check(uow, rules, reply, now)]
    for row in _co_input_deadlines(uow, reply.number) + _sign_for_deadlines(uow, reply.number):
        if now >= ends_at(row.due):
            if not escalated(uow, row):
                moments.append(now)
            continue
        moments += [moment for _, moment in pending_reminders(uow, rules, row)] + [ends_at(row.due)]
    return max(min(moments), now)


def _remind_or_escalate(uow: SupervisionUnitOfWork, rules: SupervisionRules, row, now: datetime) -> str:
    """One check of one deadline: ``escalate``, ``remind``, ``paused`` or ``none`` (see :func:`check`)."""
    if paused_since(uow, row) is not None:
        return "paused"
    if row.fulfilled_at is not None:  # a reply submitted, awaiting staff's review: nothing is owed
        return "none"
    if now >= ends_at(row.due):
        if escalated(uow, row):
            return "none"
        for unit in row.units:
            uow.deadlines.add_escalation(
                Escalation(number=row.number, deadline_id=row.id, due=row.due, unit=unit, escalated_at=now)
            )
        row.status = "missed"
        notices.escalated(uow, row)
        return "escalate"
    due_now = [(lead, moment) for lead, moment in pending_reminders(uow, rules, row) if moment <= now]
    if not due_now:
        return "none"
    lead, moment = due_now[-1]
    reminder = Reminder(
        deadline_id=row.id,
        lead_amount=lead.amount,
        lead_unit=lead.unit,
        for_due=row.due,
        due_at=clock.as_utc(moment),
        sent_at=now,
    )
    uow.deadlines.add_reminder(reminder)
    uow.flush()
    notices.reminded(uow, row, reminder)
    return "remind"


# -- check ----------------------------------------------------------------------------------------


def check(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    """``supervision.check {number}``: remind, escalate or nothing, for the live reply deadline.

    - Before the end of the deadline, at or after a reminder's moment (each lead time of the
      rulebook's ``reminders.before_deadline``, counted back from the end of the due day): record
      one :class:`Reminder` per lead time and due date; ``action: remind``. A check that comes late
      records only the most urgent reminder due (see ``records.pending_reminders``).
    - At or after the end of the due day: record one :class:`Escalation` per answering unit for
      this due date and mark the deadline ``missed``; ``action: escalate``. The proposal is then on
      the overdue list (``queries.overdue``) until its reply is accepted or the deadline moves.
    - Otherwise ``action: none``.

    Each co-unit's live input deadline (``co_unit_input``) is reminded and escalated the same way;
    what was done for each is in ``co_units: {unit: action}`` (only when there are co-units). So is
    each unit's sign-for limit not yet signed (``signing: {unit: action}``, with the rulebook's
    ``reminders.by_rule.sign_for_limit`` lead times): escalated once when it runs out, after which
    the assignment counts as signed (the reply clock already counts from the limit's end).
    A paused reply deadline (:func:`pause`) answers ``paused`` and is checked again the next
    working morning.

    ``next_check`` is the next reminder moment or the end of the deadline (``now`` when one is
    already due). After an escalation it is the next working-day morning (09:00 Chinese time,
    ``rules.MORNING``): the escalation is recorded once per due date, so those later checks answer
    ``none`` while the reply is outstanding; the diagram's event gateway needs a timer, and a
    working-day cadence bounds how long a change made outside the diagram goes unnoticed. An
    extension moves the due date: its reminders, and if it is missed too its escalation, follow
    from the new date. Counting that working day may raise UnknownCalendarDate (module docstring).
    """
    data = load(NumberParams, params, "supervision.check parameters")
    number, now = data["number"], clock.now()
    row = live_reply(uow, number)
    if row is None:
        raise _no_reply_deadline(number)
    action = _remind_or_escalate(uow, rules, row, now)
    co_units = {co.unit: _remind_or_escalate(uow, rules, co, now) for co in _co_input_deadlines(uow, number)}
    signing = {
        d.unit: _remind_or_escalate(uow, rules, d, now)
        for d in _sign_for_deadlines(uow, number)
        if not escalated(uow, d)
    }
    uow.flush()
    result = {"action": action, "next_check": _at(_next_check(uow, rules, row, now))}
    if co_units:
        result["co_units"] = co_units
    if signing:
        result["signing"] = signing
    return result


# -- B follow-ups: a deadline per milestone (milestones.py) --------------------------------------


def open_milestones(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    return milestones.open_milestones(uow, rules, params, principal)


def check_milestones(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    return milestones.check_milestones(uow, rules, params, principal, _remind_or_escalate)


def close_milestones(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    return milestones.close_milestones(uow, rules, params, principal)


def reply_due(uow: SupervisionUnitOfWork, number: str, principal, rules: SupervisionRules | None = None) -> dict | None:
    """The live reply deadline of ``number`` for a unit about to ask for an extension:
    ``{number, rule, due, ends_at, paused, latest_due}``, or None when none is live (or the clocks
    are not opened yet). ``latest_due`` (with ``rules``; else None): the latest reply date all
    extensions together may reach (rule ``max_extension`` from signing), which approval enforces.
    Seen by the proposal's units and its overseers (``queries.require_sight_of``)."""
    from .queries import require_sight_of

    principal = principal_of(principal)
    if not deadlines_of(uow, str(number)):  # not opened yet: nothing has passed
        return None
    require_sight_of(uow, str(number), principal)
    row = live_reply(uow, str(number))
    if row is None:
        return None
    cap = _extension_cap(uow, rules, row) if rules else None
    return {
        "number": row.number,
        "rule": row.rule,
        "due": row.due.isoformat(),
        "ends_at": ends_at(row.due).isoformat(),
        "paused": paused_since(uow, row) is not None,
        "latest_due": cap.due.isoformat() if cap is not None else None,
    }


# -- extend ---------------------------------------------------------------------------------------


def _extension_cap(uow: SupervisionUnitOfWork, rules: SupervisionRules, row: Deadline) -> RuleDeadline:
    """The latest reply date all extensions of ``row`` (a live reply deadline) together may reach:
    rule ``max_extension`` from the start of the reply clock (signing)."""
    return rules.deadline(CAP_RULE, clock_started_at(uow, row.number) or row.started_at)


def extended_until(rules: SupervisionRules, due: date, data: dict) -> date:
    """The new reply deadline an approval sets: staff's own date; else the date the unit asked for;
    else the months it asked for, counted from the current deadline ``due`` as the rulebook counts
    month deadlines (calendar months, clamped at month end). InvalidInput when none is given."""
    if data.get("until") is not None:
        return data["until"]
    if data.get("asked_until") is not None:
        return data["asked_until"]
    if data.get("asked_months") is not None:
        return rules.calendar.add_months(due, data["asked_months"])
    raise InvalidInput(
        "supervision.extend parameters is not valid",
        {"until": ["an approved extension says until when, or the unit's request does (a date or months)"]},
    )


def extend(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    """``supervision.extend {number, until | asked_until | asked_months[, reason]}``: the reply deadline
    moves to :func:`extended_until` (approved as asked when staff give no date).

    An extension is asked and approved before the deadline: ``BusinessError("extension_after_deadline")``
    when the request (``requested_at``, the unit's request) or the approval (now) comes at or after
    the end of the due day. ``BusinessError("extension_not_later")`` when ``until`` is not after the
    current due date, and ``BusinessError("extension_too_long")`` when it is after the cap: rule
    ``max_extension`` counted from the start of the reply clock (signing), all extensions together.
    Records an ``extension`` change (who: the job's principal). Returns ``{reply_due, next_check}``.
    """
    data = load(ExtendParams, params, "supervision.extend parameters")
    number, now = data["number"], clock.now()
    row = live_reply(uow, number)
    if row is None:
        raise _no_reply_deadline(number)
    until = extended_until(rules, row.due, data)
    end = ends_at(row.due)
    asked = data.get("requested_at")
    for what, moment in (("asked", asked), ("approved", now)):
        if moment is not None and moment >= end:
            raise BusinessError(
                "extension_after_deadline",
                f"an extension is asked and approved before the deadline; this one was {what} "
                f"on {moment.astimezone(CHINA_TZ).date().isoformat()}, after the reply was due "
                f"on {row.due.isoformat()}",
            )
    if until <= row.due:
        # Staff approved a date the deadline cannot move to: the diagram takes it back to them
        # (an error boundary), rather than the instance stopping on an incident no retry can clear.
        raise BusinessError(
            "extension_not_later",
            f"an extension must end after the current due date {row.due.isoformat()}; "
            f"{until.isoformat()} is not after it",
        )
    cap = _extension_cap(uow, rules, row)
    if until > cap.due:
        raise BusinessError(
            "extension_too_long",
            f"{until.isoformat()} is after {cap.due.isoformat()}, the latest reply date: "
            f"rule {CAP_RULE} ({cap.amount} {cap.unit}) from signing on "
            f"{cap.start.isoformat()}, rulebook {cap.rulebook} {cap.rulebook_version}",
        )
    reason = (data["reason"] + "; " if data["reason"] else "") + (
        f"approved within the cap {cap.due.isoformat()} ({CAP_RULE}: {cap.amount} {cap.unit} from "
        f"{cap.start.isoformat()}, rulebook {cap.rulebook} {cap.rulebook_version})"
    )
    record_change(uow, row, "extension", now, actor(principal), reason, row.due, until)
    # Tell whoever keeps the unit's request (the assignment service) that staff approved it.
    uow.publish_event(
        DEADLINE_EXTENDED,
        f"{DEADLINE_EXTENDED}:{row.id}:{until.isoformat()}",
        number,
        payload={
            "number": number,
            "until": until.isoformat(),
            "previous_due": row.due.isoformat(),
            "by": actor(principal),
            "reason": data["reason"],
            "request_id": data["request_id"],
        },
    )
    row.due = until
    if row.status == "missed":
        row.status = "open"
    uow.flush()
    return {"reply_due": row.due.isoformat(), "next_check": _at(_next_check(uow, rules, row, now))}


# -- pause and resume ----------------------------------------------------------------------------


class PauseParams(Schema):
    number = _NUMBER
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


def pause(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal) -> dict:
    """``pause {number, reason}`` (staff): the live reply deadline stops counting, e.g. while the
    proposer is abroad or a court case the reply depends on is pending. Records a ``pause`` change
    with the reason (it shows in the deadline's explanation); while paused, checks neither remind
    nor escalate. Refused (Conflict) when already paused. Returns ``{number, paused_at, due}``."""
    principal = principal_of(principal)
    require_pauser(principal)
    data = load(PauseParams, params, "pause parameters")
    number, now = data["number"], clock.now()
    row = live_reply(uow, number)
    if row is None:
        raise NotFound(f"proposal {number} has no live reply deadline to pause")
    if paused_since(uow, row) is not None:
        raise Conflict(f"the reply deadline of {number} is already paused")
    record_change(uow, row, "pause", now, actor(principal), data["reason"], row.due, row.due)
    uow.flush()
    return {"number": number, "paused_at": iso(now), "due": row.due.isoformat()}


def resume(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal) -> dict:
    """``resume {number, reason}`` (staff): the paused reply deadline counts again; its due date
    moves by the calendar days it was paused (from the pause's day to today), recorded as a
    ``resume`` change (old and new due date, the days, the reason). Returns ``{number, due, paused_days}``."""
    principal = principal_of(principal)
    require_pauser(principal)
    data = load(PauseParams, params, "resume parameters")
    number, now = data["number"], clock.now()
    row = live_reply(uow, number)
    since = paused_since(uow, row) if row is not None else None
    if since is None:
        raise Conflict(f"the reply deadline of {number} is not paused")
    days = (now.astimezone(CHINA_TZ).date() - since.astimezone(CHINA_TZ).date()).days
    old_due = row.due
    row.due = old_due + timedelta(days=days)
    record_change(
        uow,
        row,
        "resume",
        now,
        actor(principal),
        f"{data['reason']}; paused {days} day(s) since {since.astimezone(CHINA_TZ).date().isoformat()}, "
        "added to the due date",
        old_due,
        row.due,
    )
    if row.status == "missed" and now < ends_at(row.due):
        row.status = "open"
    uow.flush()
    return {"number": number, "due": row.due.isoformat(), "paused_days": days}


# -- restart --------------------------------------------------------------------------------------


def restart(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    """``supervision.restart {number, rule}``: a new reply deadline from now by ``rule`` (re-handling
    after an unsatisfied rating: ``rehandling_reply``), for the same answering units. It replaces
    the newest reply deadline (superseding it if still live); both record the restart.
    Returns ``{reply_due, next_check}``.
    """
    data = load(RestartParams, params, "supervision.restart parameters")
    number, now, by = data["number"], clock.now(), actor(principal)
    previous = latest_reply(uow, number)
    if previous is None:
        raise _no_reply_deadline(number)
    row = new_deadline(
        number,
        rules.deadline(data["rule"], now),
        unit=None,
        units=previous.units,
        start_event=REHANDLING,
        started_at=now,
        by=by,
    )
    uow.deadlines.add(row)
    uow.flush()
    reason = data["reason"] or "re-handling requested: the reply clock starts again"
    replace(uow, previous, row, now, by, reason)
    uow.flush()
    return {"reply_due": row.due.isoformat(), "next_check": _at(_next_check(uow, rules, row, now))}


# -- close ----------------------------------------------------------------------------------------


def close(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    """``supervision.close {number[, replied_at, replies]}``: the reply is accepted; every live deadline closes.

    A reply deadline is ``met`` if the unit submitted the reply (``replied_at``, from the
    ``reply_submitted`` message; the acceptance time when not given) before its end, else ``missed``; a sign-for limit
    is ``met`` unless it was escalated; an objection window is ``closed``. Returns
    ``{replied_on_time, signed_on_time, units, co_units}``: whether the newest reply deadline was
    met, and whether every sign-for limit of the current assignment was; then the same per unit,
    for the handling checklist of each: ``units: {unit: {replied_on_time, signed_on_time}}`` for
    each answering unit of the reply deadline (``replies: [{unit, submitted_at}]`` gives each
    unit's own submission, judged against the same deadline; a unit not in it is judged at
    ``replied_at``), and ``co_units: {unit: {signed_on_time, input}}`` for each co-unit, ``input``
    being ``on_time`` (its ``co_unit_input`` deadline met), ``late`` (input sent after it) or
    ``not_sent``.

    A sign-for limit is fulfilled when supervision hears ``assignment.signed`` (see
    :mod:`~services.supervision.unit_facts`): ``met`` if the unit signed before the end of its due
    day, ``missed`` if after. One still live here is one whose signing supervision has not heard
    (a reply needs a signed assignment, so this is an event still in flight, or clocks opened by a
    job alone, as in tests): it counts as ``met`` unless it was escalated. A co-unit's input deadline still live is ``missed`` once passed, else
    ``closed`` (the lead replied without that input).
    """
    data = load(CloseParams, params, "supervision.close parameters")
    number, now = data["number"], clock.now()
    replied_at = clock.as_utc(data["replied_at"]) if data.get("replied_at") else now
    if latest_reply(uow, number) is None:
        raise _no_reply_deadline(number)
    for row in live_deadlines(uow, number):
        if row.rule in REPLY_RULES:  # judged at the unit's submission, not at staff's acceptance
            row.status = "met" if replied_at < ends_at(row.due) else "missed"
            row.fulfilled_at = replied_at
        elif row.rule == SIGN_FOR_RULE:  # no signing heard (see the docstring)
            row.status = "missed" if escalated(uow, row) else "met"
        elif row.rule == CO_INPUT_RULE:  # no input heard: the lead replied without it
            row.status = "missed" if row.status == "missed" or now >= ends_at(row.due) else "closed"
        else:
            row.status = "closed"
        row.closed_at = now
    uow.flush()
    current = [row for row in deadlines_of(uow, number) if row.status not in SET_ASIDE]
    signing = [row for row in current if row.rule == SIGN_FOR_RULE]
    reply = latest_reply(uow, number)
    submitted = {r["unit"]: clock.as_utc(r["submitted_at"]) for r in data["replies"] if r["submitted_at"]}

    def signed_on_time(unit: str) -> bool:
        return all(row.status == "met" for row in signing if row.unit == unit)

    return {
        "replied_on_time": reply.status == "met",
        "signed_on_time": all(row.status == "met" for row in signing),
        "units": {
            unit: {
                "replied_on_time": submitted.get(unit, replied_at) < ends_at(reply.due),
                "signed_on_time": signed_on_time(unit),
            }
            for unit in reply.units
        },
        "co_units": {
            row.unit: {"signed_on_time": signed_on_time(row.unit), "input": _input(row)}
            for row in current
            if row.rule == CO_INPUT_RULE
        },
    }


def _input(row) -> str:
    """A co-unit's input to the lead, as its closed ``co_unit_input`` deadline tells it."""
    if row.status == "met":
        return "on_time"
    return "late" if row.fulfilled_at is not None else "not_sent"


# -- recompute_provisional --------------------------------------------------------------------------


class RecomputeParams(Schema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(1949, 2999))


def _differences(before: dict, after: dict) -> list[str]:
    """What the new account says differently, e.g. ``2027-02-09 holiday (Spring Festival, 2027.yaml;
    was workday)``: the dates both accounts looked at whose answer changed, and the holidays and
    make-up working days of the dates only the new one reached."""
    old = {entry["date"]: entry for entry in before.get("days", [])}
    changed = []
    for entry in after["days"]:
        was = old.get(entry["date"])
        if was is None and entry["kind"] not in ("holiday", "makeup_workday"):
            continue
        if was is not None and (was["working"], was["kind"]) == (entry["working"], entry["kind"]):
            continue
        named = f"{entry['name']}, " if entry["name"] else ""
        earlier = f"; was {was['kind']}" if was is not None else ""
        changed.append(f"{entry['date']} {entry['kind']} ({named}{entry['source']}{earlier})")
    return changed


def recompute_provisional(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal) -> dict:
    """``recompute_provisional {year}``: count again every live working-day deadline whose
    calendar account counted a provisional date of ``year``, on the calendar as it stands now
    (the service reads the calendar files afresh for each call, so a file just written by
    ``ztc calendar add`` is what counts). Operators and staff only.

    Each such deadline gets the new account (with ``recomputed``: when, by whom, the previous end
    and the dates whose answer changed). If the end moved and the due date was still the computed
    one, the due date moves with it: a ``recalculation`` change records old and new due date and
    why, a missed deadline whose new end is still to come is open again, and ``notify.deadline_
    recalculated`` tells its units and the staff. A due date set by hand (an extension) is kept.
    A deadline whose end did not move changes nothing but its account, which is no longer
    provisional once the year has an official schedule. Calling again changes nothing more.

    Returns ``{year, calendar, recounted, moved: [{id, number, rule, unit, old_due, new_due}],
    still_provisional}``.
    """
    principal = principal_of(principal)
    require_calendar_keeper(principal)
    year = load(RecomputeParams, params, "recompute_provisional parameters")["year"]
    now, by = clock.now(), actor(principal)
    status = rules.calendar_year(year)
    rows = uow.deadlines.live_in_working_days()
    affected = [row for row in rows if year in ((row.calendar or {}).get("provisional_years") or [])]
    moved, still = [], 0
    for row in affected:
        before = row.calendar
        account = rules.recount(row.start_date, row.amount)
        previous_end, end = date.fromisoformat(before["end"]), date.fromisoformat(account["end"])
        changed = _differences(before, account)
        account["recomputed"] = {
            "at": iso(now),
            "by": by,
            "year": year,
            "calendar": status["status"],
            "previous_end": previous_end.isoformat(),
            "changed_days": changed,
        }
        row.calendar = account  # a new dict, so the JSON column is written
        still += bool(account["provisional"])
        if end == previous_end or row.due != previous_end:
            continue
        sources = "; ".join(f"{name}: {text}" for name, text in status["sources"].items())
        reason = (
            f"the {year} holiday calendar is now {status['status']} ({sources}); counted again, "
            f"{row.amount} working days from {row.start_date.isoformat()} end on {end.isoformat()}"
            + (f": {', '.join(changed)}" if changed else "")
        )
        change = record_change(uow, row, "recalculation", now, by, reason, row.due, end)
        row.due = end
        if row.status == "missed" and now < ends_at(end):
            row.status = "open"
        uow.flush()
        notices.recalculated(uow, row, change, year)
        moved.append(
            {
                "id": row.id,
                "number": row.number,
                "rule": row.rule,
                "unit": row.unit,
                "old_due": previous_end.isoformat(),
                "new_due": end.isoformat(),
            }
        )
    uow.flush()
    return {"year": year, "calendar": status, "recounted": len(affected), "moved": moved, "still_provisional": still}
