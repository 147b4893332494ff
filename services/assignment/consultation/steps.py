"""The jobs of ``bpmn/micro_consultation.bpmn``: people decide in user tasks (dispatch, take,
decide, meeting, follow-up, return visit); these functions record the decision on the case, set
its deadlines from the rulebook, and tell the people concerned.

Each is a plain function of a unit of work, the rules, the job's parameters and the principal; a job delivered
twice finds the case already moved and answers the same without a second effect (events and
notifications carry stable ids, so a retried job tells nobody twice).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from shared import clock
from shared.calendar import local_date
from shared.errors import BusinessError
from shared.validation import load
from shared import names

from .models import Case, CaseCommitment, CaseFollowUp, CaseMeeting
from .records import CANCELLED, actor_of, case_by_id, event, record, tell, without_resident
from .rules import ConsultationRules, require_for_job
from .schemas import (
    CaseRef,
    CloseParams,
    ConversionParams,
    ConvertedOutcomeParams,
    DecisionParams,
    DispatchParams,
    FollowUpParams,
    MeetingParams,
    NotTakenParams,
    ReturnVisitParams,
    TakeParams,
)

if TYPE_CHECKING:
    from ..unit_of_work import AssignmentUnitOfWork

# ``users -> those of them the members directory does not know`` (the evaluation service keeps it).
UnknownMembers = Callable[[list[str]], list[str]]


def _due(rules: ConsultationRules, rule: str, start: datetime | None = None) -> tuple[str, dict]:
    return rules.due(rule, start or clock.now())


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def dispatch_case(
    uow: AssignmentUnitOfWork,
    rules: ConsultationRules,
    params: dict,
    principal: dict | None,
    unknown_members: UnknownMembers,
) -> dict:
    """派单: staff give the case to a member, who has the rulebook's ``take_case`` time to take it.
    A member the members directory does not know is the BPMN error ``unknown_member``: back to
    staff, instead of a case nobody can see lapsing after the take time."""
    data = load(DispatchParams, params, "assignment.dispatch_case parameters")
    case = case_by_id(uow, data["case_id"])
    take_due, provenance = _due(rules, "take_case")
    if case.status != "dispatched" or case.member != data["member"]:
        if unknown_members([data["member"]]):
            raise BusinessError("unknown_member", f"{data['member']!r} is not in the members directory")
        case.status, case.member = "dispatched", data["member"]
        record(
            uow,
            case,
            actor_of(principal, data["dispatched_by"]),
            "dispatched",
            {"member": data["member"], "note": data["note"] or "", "take_due": provenance},
        )
        tell(
            uow,
            case,
            "dispatched",
            f"{data['member']}:{_count(uow, case, 'dispatched')}",
            [data["member"]],
            f"请接单：微协商 {case.number} {case.title}",
            f"请在 {provenance['due']} 前接单",
        )
    return {"member": case.member, "take_due": take_due, "deadline": provenance}


def _count(uow: AssignmentUnitOfWork, case: Case, action: str) -> int:
    return len(uow.cases.history(case.id, action))


def case_not_taken(uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None) -> dict:
    """The member did not take the case in time: staff dispatch it again."""
    data = load(NotTakenParams, params, "assignment.case_not_taken parameters")
    case = case_by_id(uow, data["case_id"])
    if case.status == "dispatched":
        record(uow, case, "system", "not_taken", {"member": case.member})
        tell(
            uow,
            case,
            "not_taken",
            f"{case.member}:{_count(uow, case, 'not_taken')}",
            ["role:staff"],
            f"微协商 {case.number} 未按时接单",
            f"{case.member} 未在时限内接单，请重新派单",
        )
        # Back to staff, and to nobody: the member never took it (it is not theirs to read or score).
        case.status, case.member = "registered", None
    return {"status": case.status}


def take_case(uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None) -> dict:
    """接单: the member takes the case (``consultation.case_taken``) or declines it with a reason."""
    data = load(TakeParams, params, "assignment.take_case parameters")
    case = case_by_id(uow, data["case_id"])
    if data["accepted"]:
        if case.status == "dispatched":
            case.status, case.member = "taken", data["by"]
            record(uow, case, data["by"], "taken", {})
            event(
                uow,
                case,
                "consultation.case_taken",
                f"{data['by']}:{_count(uow, case, 'taken')}",
                {"member": data["by"], "title": case.title},
                members=[{"member": data["by"], "role": "taker"}],
            )
    elif case.status == "dispatched":
        # Declined: back to staff, and to nobody (the log keeps who declined and why).
        case.status, case.member = "registered", None
        record(uow, case, data["by"], "declined", {"reason": data["reason"] or ""})
        tell(
            uow,
            case,
            "declined",
            f"{data['by']}:{_count(uow, case, 'declined')}",
            ["role:staff"],
            f"微协商 {case.number} 被委员退回",
            data["reason"] or "",
        )
    return {"accepted": data["accepted"], "member": case.member, "status": case.status}


def record_decision(uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None) -> dict:
    """协商解单: the member's decision. ``content`` is what an opinion item or proposal made of the
    case says: the resident's issue as the situation, the member's analysis and suggestion."""
    data = load(DecisionParams, params, "assignment.record_decision parameters")
    case = case_by_id(uow, data["case_id"])
    outcome = data["outcome"]
    if case.outcome != outcome or case.status == "taken":
        case.outcome = outcome
        if outcome == "answered":
            case.status, case.answer = "answered", data["answer"]
        elif outcome == "meeting":
            case.status = "meeting"
        else:
            case.status = "converting"
        record(uow, case, data["by"], "decided", {"outcome": outcome, "answer": data["answer"]})
    title = data["title"] or case.title
    content = {
        "title": title,
        "situation": case.description,
        "analysis": data["analysis"] or case.description,
        "suggestion": data["suggestion"] or case.description,
    }
    return {"outcome": outcome, "member": case.member, "title": title, "content": content}


def record_conversion(
    uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None
) -> dict:
    """The case goes on as an opinion item or a proposal in its own thread: recorded and announced
    (``consultation.converted``). The case stays open (``converted``) until that item or proposal
    has its outcome (intake's ``converted_outcome`` message) or the rulebook's ``conversion_outcome``
    time passes (``outcome_due``); then the resident gets the return visit."""
    data = load(ConversionParams, params, "assignment.record_conversion parameters")
    case = case_by_id(uow, data["case_id"])
    number = data["converted"].get("number")
    if case.status not in ("converted", "closed"):
        due, provenance = _due(rules, "conversion_outcome")
        case.status, case.converted_kind, case.converted_number = "converted", data["kind"], number
        case.follow_up_due = _dt(due)
        record(
            uow,
            case,
            actor_of(principal),
            "converted",
            {"to": data["kind"], "number": number, "outcome_deadline": provenance},
        )
        event(
            uow,
            case,
            "consultation.converted",
            "",
            {"to": data["kind"], "converted_number": number, "member": case.member},
            members=[{"member": case.member, "role": "taker"}] if case.member else [],
        )
    due = case.follow_up_due.isoformat() if case.follow_up_due else None
    return {"status": case.status, "converted_number": case.converted_number, "outcome_due": due}


def record_converted_outcome(
    uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None
) -> dict:
    """The opinion item or proposal the case became has its outcome (``outcome``, intake's message:
    a proposal published, not filed with its reason, merged into another; an item adopted or not),
    or none came before ``outcome_due`` (``outcome`` null): recorded, kept on the case
    (``converted_outcome: {kind, number, status, reason}``, shown on its public status too), and
    the member is asked for the return visit."""
    data = load(ConvertedOutcomeParams, params, "assignment.record_converted_outcome parameters")
    case = case_by_id(uow, data["case_id"])
    if case.status == "converted":
        case.status, case.follow_up_due = "return_visit", None
        outcome = data["outcome"]
        record(
            uow,
            case,
            actor_of(principal),
            "converted_outcome",
            outcome if outcome is not None else {"timed_out": True},
        )
        if outcome is not None:
            case.converted_outcome = {
                "kind": outcome.get("kind") or case.converted_kind,
                "number": outcome.get("number") or case.converted_number,
                "status": outcome.get("outcome"),
                "reason": outcome.get("reason"),
            }
        what = (
            f"{case.converted_number} 在期限内尚无结果"
            if outcome is None
            else f"{case.converted_number} 已有结果：{outcome.get('reason')}"
            if outcome.get("reason")
            else f"{case.converted_number} 已有结果"
        )
        tell(
            uow,
            case,
            "return_visit_due",
            "converted",
            [case.member] if case.member else ["role:staff"],
            f"请回访微协商 {case.number} 的群众",
            what,
        )
    return {"status": case.status}


def record_meeting(
    uow: AssignmentUnitOfWork,
    rules: ConsultationRules,
    params: dict,
    principal: dict | None,
    unknown_members: UnknownMembers,
) -> dict:
    """A consultation meeting held (``consultation.meeting_held``); each department named is asked
    to commit within the rulebook's ``commitment`` time. An unknown form, venue, department or
    attending member, or a day before the case was registered (a mistyped year: its attendees'
    points would be booked in a term long past, or in none), is the BPMN error
    ``unknown_meeting_detail``: the member corrects the record (an attendee the members directory
    lacks would have scored nothing, silently)."""
    data = load(MeetingParams, params, "assignment.record_meeting parameters")
    case = case_by_id(uow, data["case_id"])
    registered = local_date(case.created_at)
    if data["held_on"] < registered:
        raise BusinessError(
            "unknown_meeting_detail",
            f"held on {data['held_on'].isoformat()}, before the case was registered ({registered.isoformat()})",
        )
    require_for_job(rules, "meeting_forms", data["form"], "unknown_meeting_detail")
    if data["venue"] and uow.cases.venue(data["venue"]) is None:
        raise BusinessError("unknown_meeting_detail", f"no venue {data['venue']!r} in the directory")
    unknown = [u for u in data["units"] if uow.assignments.unit(u) is None]
    if unknown:
        raise BusinessError("unknown_meeting_detail", f"no department {', '.join(unknown)} in the directory")
    units = list(dict.fromkeys(data["units"]))
    attendees = list(dict.fromkeys([case.member, *data["attendees"]] if case.member else data["attendees"]))
    strangers = unknown_members(list(data["attendees"])) if data["attendees"] else []
    if strangers:
        raise BusinessError(
            "unknown_meeting_detail", f"attendees {', '.join(strangers)} are not in the members directory"
        )
    commitment_due, provenance = _due(rules, "commitment")
    meeting = uow.cases.meeting_held(case.id, data["held_on"], data["summary"])
    if meeting is None:
        meeting = CaseMeeting(
            case_id=case.id,
            form=data["form"],
            venue=data["venue"],
            held_on=data["held_on"],
            attendees=attendees,
            units=units,
            summary=data["summary"],
            recorded_by=data["by"],
            recorded_at=clock.now(),
        )
        uow.cases.add_meeting(meeting)
        uow.flush()
        for unit in units:
            uow.cases.add_commitment(
                CaseCommitment(
                    case_id=case.id, meeting_id=meeting.id, unit=unit, status="pending", due=_dt(commitment_due)
                )
            )
            tell(
                uow,
                case,
                "commitment_requested",
                f"{meeting.id}:{unit}",
                [f"unit:{unit}"],
                f"请就微协商 {case.number} 作出承诺",
                # A department sees the resident's name masked and no phone (docs/micro-consultation.md):
                # the summary the member wrote may hold them.
                f"协商议事：{without_resident(case, data['summary'])}；请在 {provenance['due']} 前承诺",
            )
        case.status = "meeting" if units else "return_visit"
        record(
            uow,
            case,
            data["by"],
            "meeting_held",
            {
                "meeting_id": meeting.id,
                "form": data["form"],
                "venue": data["venue"],
                "units": units,
                "attendees": attendees,
                "commitment_due": provenance,
            },
        )
        event(
            uow,
            case,
            "consultation.meeting_held",
            str(meeting.id),
            {
                "form": data["form"],
                "meeting_venue": data["venue"],
                "held_on": data["held_on"].isoformat(),
                "units": units,
            },
            members=[{"member": m, "role": "attendee"} for m in attendees],
        )
        uow.flush()
    return {"meeting_id": meeting.id, "units": meeting.units, "commitment_due": commitment_due, "deadline": provenance}


def remind_commitments(
    uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None
) -> dict:
    """Departments that have not committed by their time are reminded (and staff told); the
    process checks again after the rulebook's ``commitment_reminder``."""
    data = load(CaseRef, params, "assignment.remind_commitments parameters")
    case = case_by_id(uow, data["case_id"])
    meeting = uow.cases.latest_meeting(case.id)
    pending = (
        [c.unit for c in uow.cases.commitments(case.id) if c.meeting_id == meeting.id and c.status == "pending"]
        if meeting
        else []
    )
    next_check, provenance = _due(rules, "commitment_reminder")
    round_ = _count(uow, case, "commitments_overdue") + 1
    if pending:
        record(uow, case, "system", "commitments_overdue", {"units": pending, "next_check": provenance})
        tell(
            uow,
            case,
            "commitment_overdue",
            str(round_),
            [f"unit:{u}" for u in pending] + ["role:staff"],
            f"微协商 {case.number} 的承诺已逾期",
            # the departments by the directory's names (a code it does not hold, as it is)
            f"尚未承诺：{names.units_zh(pending, {u.code: u.name for u in uow.assignments.units(pending)})}",
        )
    return {"pending": pending, "next_check": next_check}


def schedule_follow_up(
    uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None
) -> dict:
    """Every department committed: the member follows up (跟进查单) by the rulebook's ``follow_up``."""
    data = load(CaseRef, params, "assignment.schedule_follow_up parameters")
    case = case_by_id(uow, data["case_id"])
    if case.status in ("meeting", "committed"):
        due, provenance = _due(rules, "follow_up")
        case.status, case.follow_up_due = "following_up", _dt(due)
        record(uow, case, "system", "follow_up_scheduled", {"deadline": provenance})
        tell(
            uow,
            case,
            "follow_up_due",
            "first",
            [case.member] if case.member else ["role:staff"],
            f"请跟进微协商 {case.number} 的落实情况",
            f"跟进期限 {provenance['due']}",
        )
    return {"follow_up_due": case.follow_up_due.isoformat() if case.follow_up_due else None}


def record_follow_up(uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None) -> dict:
    """The member checked the departments' actions: done goes on to the return visit; not yet
    done sets the next follow-up after the rulebook's ``follow_up_again``."""
    data = load(FollowUpParams, params, "assignment.record_follow_up parameters")
    case = case_by_id(uow, data["case_id"])
    now = clock.now()
    uow.cases.add_follow_up(
        CaseFollowUp(
            case_id=case.id,
            actions_done=data["actions_done"],
            note=data["note"] or "",
            checked_by=data["by"],
            checked_at=now,
        )
    )
    if data["actions_done"]:
        case.status = "return_visit"
        record(uow, case, data["by"], "followed_up", {"actions_done": True, "note": data["note"] or ""})
        return {"actions_done": True, "follow_up_due": case.follow_up_due.isoformat() if case.follow_up_due else None}
    due, provenance = _due(rules, "follow_up_again")
    case.follow_up_due = _dt(due)
    record(
        uow,
        case,
        data["by"],
        "followed_up",
        {"actions_done": False, "note": data["note"] or "", "next": provenance},
    )
    return {"actions_done": False, "follow_up_due": due}


def follow_up_overdue(
    uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None
) -> dict:
    """The follow-up is late: the member and staff are reminded; the next reminder after the
    rulebook's ``follow_up_reminder``."""
    data = load(CaseRef, params, "assignment.follow_up_overdue parameters")
    case = case_by_id(uow, data["case_id"])
    due, provenance = _due(rules, "follow_up_reminder")
    round_ = _count(uow, case, "follow_up_overdue") + 1
    case.follow_up_due = _dt(due)
    record(uow, case, "system", "follow_up_overdue", {"next": provenance})
    tell(
        uow,
        case,
        "follow_up_overdue",
        str(round_),
        [m for m in [case.member] if m] + ["role:staff"],
        f"微协商 {case.number} 跟进已逾期",
        f"请尽快跟进，下次提醒 {provenance['due']}",
    )
    return {"actions_done": False, "follow_up_due": due}


def record_return_visit(
    uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None
) -> dict:
    """回访: the resident's satisfaction (rulebook levels). A level in ``reopen_on`` sends the case
    back to the member's decision while ``max_reopen`` allows; a resident not reached closes the
    case with the reason ``unreachable``."""
    data = load(ReturnVisitParams, params, "assignment.record_return_visit parameters")
    case = case_by_id(uow, data["case_id"])
    if not data["reached"]:
        record(uow, case, data["by"], "return_visit", {"reached": False, "comment": data["comment"] or ""})
        return {"reopen": False, "close_reason": "unreachable", "note": data["comment"] or ""}
    level = require_for_job(rules, "satisfaction", data["satisfaction"] or "", "unknown_satisfaction")
    reopen = level.code in rules.reopen_on() and (case.reopened or 0) < rules.max_reopen()
    case.satisfaction = level.code
    record(
        uow,
        case,
        data["by"],
        "return_visit",
        {"reached": True, "satisfaction": level.code, "comment": data["comment"] or "", "reopened": reopen},
    )
    if reopen:
        case.reopened = (case.reopened or 0) + 1
        case.status = "taken"
        tell(
            uow,
            case,
            "reopened",
            str(case.reopened),
            [case.member] if case.member else ["role:staff"],
            f"群众对微协商 {case.number} 不满意，请重新协商",
            data["comment"] or "",
        )
    return {"reopen": reopen, "close_reason": None, "note": data["comment"] or ""}


CONVERTED = "converted"  # the close reason of a case that became an opinion item or a proposal


def _close(uow: AssignmentUnitOfWork, case: Case, reason: str | None, note: str | None, actor: str) -> None:
    if reason is None and case.converted_kind:
        # It became an opinion item or a proposal: that counts, in the same thread; the points
        # rulebook's closing row is ``unless: {reason: converted}`` (no double counting).
        reason = CONVERTED
    case.status, case.closed_at = "closed", clock.now()
    case.close_reason, case.close_note = reason, note
    record(uow, case, actor, "closed", {"reason": reason, "note": note, "satisfaction": case.satisfaction})
    # Only a member who took the case handled it: one it was dispatched to and who has not taken it
    # (closed at dispatch) scores nothing for its closing.
    took = case.member is not None and any(h.actor == case.member for h in uow.cases.history(case.id, "taken"))
    event(
        uow,
        case,
        "consultation.case_closed",
        "",
        {"satisfaction": case.satisfaction, "reason": reason, "member": case.member, "outcome": case.outcome},
        members=[{"member": case.member, "role": "taker"}] if took else [],
    )
    recipients = [m for m in [case.member, case.registered_by] if m]
    tell(
        uow,
        case,
        "closed",
        "",
        list(dict.fromkeys(recipients)),
        f"微协商 {case.number} 已办结",
        f"满意度：{case.satisfaction}" if case.satisfaction else f"原因：{reason}",
    )


def close_case(uow: AssignmentUnitOfWork, rules: ConsultationRules, params: dict, principal: dict | None) -> dict:
    """Close the case: after the return visit (its satisfaction), or with a rulebook close reason."""
    data = load(CloseParams, params, "assignment.close_case parameters")
    case = case_by_id(uow, data["case_id"])
    if data["reason"]:
        require_for_job(rules, "close_reasons", data["reason"], "unknown_close_reason")
    if case.status not in FINAL:  # a cancelled case stays cancelled (nothing was resolved)
        _close(uow, case, data["reason"], data["note"], actor_of(principal, data["by"]))
    return {"status": case.status, "satisfaction": case.satisfaction, "reason": case.close_reason}


CANCELLED_PROCESS = "process_cancelled"  # the case's close_reason when its process was cancelled
FINAL = ("closed", CANCELLED)


def cancel_case(uow: AssignmentUnitOfWork, number: str, reason: str, by: str, at: datetime, source: dict) -> str | None:
    """An operator cancelled the case's process (``process.cancelled``, heard by
    :func:`services.assignment.decisions.hear_cancellation`): a case not yet final becomes
    ``cancelled`` (``closed_at`` the cancellation's time, ``close_reason`` ``process_cancelled``,
    ``close_note`` the operator's reason, no follow-up due), every commitment request still
    ``pending`` becomes ``cancelled`` (a commitment made stays), its log keeps ``cancelled``
    (reason, by, the status it had, the departments whose request was closed, ``source``: the
    event's and instance's ids), and one notice (``notify.consultation.cancelled``, the reason
    without the resident's name or phone) tells, once each, its member (the one it was dispatched
    to or who took it), every department asked to commit on it (committed or not) and the
    committee's staff. No ``consultation.case_closed`` follows: nothing was resolved. Returns the
    case's number, or None when there is no such case or it was final already (closed, or
    cancelled by an earlier delivery: nobody is told twice)."""
    case = uow.cases.case_numbered(number, lock=True)
    if case is None or case.status in FINAL:
        return None
    previous = case.status
    case.status, case.closed_at, case.follow_up_due = CANCELLED, at, None
    case.close_reason, case.close_note = CANCELLED_PROCESS, reason
    commitments = uow.cases.commitments(case.id)
    closed = []
    for commitment in commitments:
        if commitment.status == "pending":
            commitment.status = CANCELLED
            closed.append(commitment.unit)
    record(
        uow,
        case,
        by,
        "cancelled",
        {
            "reason": reason,
            "by": by,
            "previous_status": previous,
            "commitments_cancelled": list(dict.fromkeys(closed)),
            **source,
        },
    )
    units = list(dict.fromkeys(c.unit for c in commitments))
    recipients = [*([case.member] if case.member else []), *(f"unit:{u}" for u in units), "role:staff"]
    tell(
        uow,
        case,
        "cancelled",
        "",
        list(dict.fromkeys(recipients)),
        f"微协商 {case.number} 已撤销",
        f"原因：{without_resident(case, reason)}",
    )
    uow.flush()
    return case.number
