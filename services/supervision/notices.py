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


# How a rulebook duration's unit is said in a notice (bpmn/rules/proposal.yaml: {amount, unit}).
UNIT_NAMES = {"working_days": "个工作日", "days": "天", "weeks": "周", "months": "个月", "hours": "小时"}


def _units(row: Deadline) -> list[str]:
    return [f"unit:{unit}" for unit in (row.units or ([row.unit] if row.unit else []))]


def _what(row: Deadline) -> str:
    what = RULE_NAMES.get(row.rule, row.rule)
    return f"{what}（{row.milestone}. {row.label}）" if row.milestone is not None else what


def reminded(uow: SupervisionUnitOfWork, row: Deadline, reminder: Reminder, kind: str = "deadline_reminder") -> None:
    recipients = _units(row)
    if not recipients:
        return
    lead = f"{reminder.lead_amount}{UNIT_NAMES.get(reminder.lead_unit, ' ' + reminder.lead_unit)}"
    uow.notify(
        kind,
        f"supervision.reminder:{reminder.id}",
        row.number,
        recipients,
        title=f"提案 {row.number}：{_what(row)} {row.due.isoformat()} 将至",
        text=f"提案 {row.number} 的{_what(row)}将于 {row.due.isoformat()} 到期，请及时办理（提前 {lead}提醒）。",
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
        text=f"提案 {row.number} 的{_what(row)}已于 {row.due.isoformat()} 届满，{_missing(row)}，已转督办。",
    )


def _missing(row: Deadline) -> str:
    if row.rule in ("reply_deadline", "rehandling_reply"):
        return "尚未答复"
    if row.rule == "followup_milestone":
        return f"节点 {row.milestone}（{row.label}）尚未报告完成"
    if row.rule == "sign_for_limit":
        return "尚未签收（现视为已签收，答复期限自签收期限届满起计算）"
    if row.rule == "objection_window":
        return "异议期已过"
    return "尚未提交协办意见"


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
        text=f"提案 {row.number} 的{_what(row)}原按 {year} 年暂定日历计算为 {old}；"
        f"按 {year} 年正式放假安排重新计算为 {new}。",
    )
