"""Telling people about deadlines: each reminder and escalation supervision records is also
published as ``notify.<kind>`` (``uow.notify``) in the same unit of work, and
the gateway puts it in the recipients' inboxes.

Recipients: a reminder goes to the handlers of each unit the deadline belongs to
(``unit:<id>``); an escalation goes to those units, to the committee's staff (``role:staff``) and,
for a key proposal, to its supervising leader; a recalculation (a provisional due date moved when
the year's official holiday schedule was entered) goes to those units and the staff. Event ids name the recorded row, so a job's result
delivered twice tells people once.
"""

from __future__ import annotations

from .models import Deadline, DeadlineChange, Reminder
from .unit_of_work import SupervisionUnitOfWork

RULE_NAMES = {
    "reply_deadline": "答复期限",
    "rehandling_reply": "重新办理答复期限",
    "co_unit_input": "协办意见期限",
    "sign_for_limit": "签收期限",
    "objection_window": "异议期限",
    "followup_milestone": "后续办理节点",
}


def _units(row: Deadline) -> list[str]:
    return [f"unit:{unit}" for unit in (row.units or ([row.unit] if row.unit else []))]


def _what(row: Deadline) -> str:
    what = RULE_NAMES.get(row.rule, row.rule)
    return f"{what}（{row.milestone}. {row.label}）" if row.milestone is not None else what


def reminded(uow: SupervisionUnitOfWork, row: Deadline, reminder: Reminder, kind: str = "deadline_reminder") -> None:
    recipients = _units(row)
    if not recipients:
        return
    lead = f"{reminder.lead_amount} {reminder.lead_unit}"
    uow.notify(
        kind,
        f"supervision.reminder:{reminder.id}",
        row.number,
        recipients,
        title=f"提案 {row.number}：{_what(row)} {row.due.isoformat()} 将至",
        text=f"Proposal {row.number}: the {row.rule} is due on {row.due.isoformat()} (reminder {lead} before).",
    )


def escalated(uow: SupervisionUnitOfWork, row: Deadline, kind: str = "deadline_escalation") -> None:
    recipients = [*_units(row), "role:staff"]
    key = uow.key_proposals.get(row.number)
    if key is not None:
        recipients.append(key.supervising_leader)
    uow.notify(
        kind,
        f"supervision.escalation:{row.id}:{row.due.isoformat()}",
        row.number,
        list(dict.fromkeys(recipients)),
        title=f"提案 {row.number}：{_what(row)} {row.due.isoformat()} 已逾期",
        text=f"Proposal {row.number}: the {row.rule} due on {row.due.isoformat()} has passed "
        f"without {_missing(row)}; escalated to supervision.",
    )


def _missing(row: Deadline) -> str:
    if row.rule in ("reply_deadline", "rehandling_reply"):
        return "a reply"
    if row.rule == "followup_milestone":
        return f"milestone {row.milestone} ({row.label}) being reported done"
    if row.rule == "sign_for_limit":
        return "being signed for (it now counts as signed, and the reply clock runs from the limit's end)"
    return "the input"


def recalculated(
    uow: SupervisionUnitOfWork, row: Deadline, change: DeadlineChange, year: int, kind: str = "deadline_recalculated"
) -> None:
    recipients = [*_units(row), "role:staff"]
    old, new = change.old_due.isoformat(), change.new_due.isoformat()
    uow.notify(
        kind,
        f"supervision.recalculation:{change.id}",
        row.number,
        list(dict.fromkeys(recipients)),
        title=f"提案 {row.number}：{_what(row)} 由 {old} 改为 {new}（{year}年放假安排已公布）",
        text=f"Proposal {row.number}: the {row.rule} was counted on the provisional {year} "
        f"calendar and was due on {old}; counted on the official {year} holiday "
        f"schedule it is due on {new}.",
    )
