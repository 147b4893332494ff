"""B follow-ups (后续办理): a deadline per milestone an accepted category B reply promised.

The unit sets each milestone's date in its reply (``assignment``'s ``draft_reply``, at least one,
at most the rulebook's ``followup.max_milestones``, each after the day it was drafted); the diagram
opens them once the reply is rated and published (``supervision.open_milestones``), then loops on
``supervision.check_milestones`` until the follow-up reply (the second reply) arrives and
``supervision.close_milestones`` closes what is still open. A milestone's deadline is reminded
before it ends (the rulebook's ``reminders.by_rule.followup_milestone``) and escalated once when it
passes, with the machinery of the reply deadline (``operations``' reminders and escalations,
``notices``). The unit reporting a milestone done (``assignment.milestone_done``) fulfils it:
:mod:`~services.supervision.unit_facts`.
"""

from __future__ import annotations

from datetime import datetime

from shared import clock
from shared.calendar import CHINA_TZ
from shared.contracts.jobs.supervision import NumberRef as NumberParams
from shared.contracts.jobs.supervision import OpenMilestones as OpenMilestonesParams
from shared.validation import load

from . import unit_facts
from .access import actor
from .models import Deadline
from .records import escalated, live_deadlines, pending_reminders, replace
from .rules import MILESTONE_RULE, SupervisionRules, ends_at
from .unit_of_work import SupervisionUnitOfWork

ACCEPTED = "reply_accepted"  # the start event of a milestone's deadline


def _at(moment: datetime) -> str:
    return moment.astimezone(CHINA_TZ).isoformat()


def live_milestones(uow: SupervisionUnitOfWork, number: str) -> list[Deadline]:
    return [row for row in live_deadlines(uow, number) if row.rule == MILESTONE_RULE]


def next_milestone_check(uow: SupervisionUnitOfWork, rules: SupervisionRules, number: str, now: datetime) -> datetime:
    """The earliest reminder or end still to come among the live milestones; ``now`` if one is
    due; the next working morning when none is (all escalated or done, or none promised: the
    diagram still waits for the follow-up reply and needs a timer)."""
    moments = []
    for row in live_milestones(uow, number):
        if now >= ends_at(row.due):
            if not escalated(uow, row):
                moments.append(now)
            continue
        moments += [moment for _, moment in pending_reminders(uow, rules, row)] + [ends_at(row.due)]
    return max(min(moments), now) if moments else rules.next_working_morning(now)


def open_milestones(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    """``supervision.open_milestones {number, milestones: [{unit, milestone, what, due}]}``: one
    deadline per milestone, for its unit, due on the date the unit promised, counted from now
    (``reply_accepted``) with the rulebook's version for its reminders. Milestones of an earlier
    reply still live are superseded (a restart each). A milestone the unit reported done before
    its deadline opened is applied at once. Returns ``{milestones: [{id, unit, milestone, due}],
    next_check}``."""
    data = load(OpenMilestonesParams, params, "supervision.open_milestones parameters")
    number, now, by = data["number"], clock.now(), actor(principal)
    uow.lock(f"supervision:{number}")
    today = now.astimezone(CHINA_TZ).date()
    book = rules.rulebook_identity()
    fresh = [
        Deadline(
            number=number,
            rule=MILESTONE_RULE,
            unit=item["unit"],
            units=[item["unit"]],
            start_event=ACCEPTED,
            started_at=now,
            start_date=today,
            rulebook=book["name"],
            rulebook_version=book["version"],
            rulebook_hash=book["hash"],
            amount=(item["due"] - today).days,
            amount_unit="days",
            original_due=item["due"],
            due=item["due"],
            calendar=None,
            status="open",
            opened_by=by,
            created_at=now,
            milestone=item["milestone"],
            label=item["what"],
        )
        for item in data["milestones"]
    ]
    earlier = live_milestones(uow, number)
    for row in fresh:
        uow.deadlines.add(row)
    uow.flush()
    for old in earlier:
        replace(uow, old, None, now, by, "a newer category B reply promises its own milestones")
    uow.flush()
    unit_facts.apply_pending(uow, number, rules)
    return {
        "milestones": [
            {"id": row.id, "unit": row.unit, "milestone": row.milestone, "due": row.due.isoformat()} for row in fresh
        ],
        "next_check": _at(next_milestone_check(uow, rules, number, now)),
    }


def check_milestones(
    uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None, remind_or_escalate
) -> dict:
    """``supervision.check_milestones {number}``: each live milestone is reminded or escalated as
    the reply deadline is (``remind_or_escalate``: ``operations``' one check of one deadline).
    Returns ``{milestones: {"<unit>#<n>": action}, open, next_check}``."""
    data = load(NumberParams, params, "supervision.check_milestones parameters")
    number, now = data["number"], clock.now()
    actions = {
        f"{row.unit}#{row.milestone}": remind_or_escalate(uow, rules, row, now) for row in live_milestones(uow, number)
    }
    uow.flush()
    return {
        "milestones": actions,
        "open": len(live_milestones(uow, number)),
        "next_check": _at(next_milestone_check(uow, rules, number, now)),
    }


def close_milestones(uow: SupervisionUnitOfWork, rules: SupervisionRules, params: dict, principal: dict | None) -> dict:
    """``supervision.close_milestones {number}``: the follow-up reply (the matter is solved)
    arrived; each milestone still live is fulfilled by it: ``met`` if before the end of its due
    day, ``missed`` if after. Returns ``{closed: [{unit, milestone, status}]}``."""
    data = load(NumberParams, params, "supervision.close_milestones parameters")
    number, now, by = data["number"], clock.now(), actor(principal)
    closed = []
    for row in live_milestones(uow, number):
        row.status = "met" if now < ends_at(row.due) else "missed"
        row.fulfilled_at, row.fulfilled_by, row.closed_at = now, by, now
        closed.append({"unit": row.unit, "milestone": row.milestone, "status": row.status})
    uow.flush()
    return {"closed": closed}
