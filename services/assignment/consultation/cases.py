"""The case registry: registering a resident's issue (群众点单), reading cases, and departments'
commitments (each department its own). Each function authorises the caller itself and leaves
committing to the caller: the case, its log, its events and the start of its process are one
transaction.

Who reads what: staff (and the committee, leaders, operators) every case; a member the cases
assigned to them, those they registered and those raised at a venue they serve; a department (role ``unit``) only the cases on which
it was asked to commit, with its own commitment only and the resident's name masked, no phone.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from shared import clock, names
from shared.calendar import local_date
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.principal import acting
from shared.validation import load, made, page_answer, page_window
from shared.contracts import messages

from . import directory
from .models import Case, CaseCommitment
from .records import (
    CANCELLED,
    as_events,
    case_by_number,
    event,
    events_of,
    iso,
    record,
    tell,
    refused_case_cancelled,
    without_resident,
)
from .rules import ConsultationRules
from .schemas import CaseQuery, CaseRegistration, CaseSchema, CommitmentRequest

if TYPE_CHECKING:
    from ..unit_of_work import AssignmentUnitOfWork

PROCESS_ID = "micro_consultation"
REGISTRARS = ("staff", "member", "public")  # public: a resident through the public API
READ_ALL = ("staff", "committee", "leader", "operator")


def mask(name: str) -> str:
    name = (name or "").strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else name


def register(
    uow: AssignmentUnitOfWork, rules: ConsultationRules, request: dict, principal: dict | None, key: str | None = None
) -> dict:
    """Staff of a venue or a member registers a resident's issue; the case gets its number, which
    is its thread, and its process starts.

    ``key``: the registration's idempotency key. A repeat by the same registrar with the same key
    (a retry, a redelivered RPC request) answers the case already registered; its body is not
    compared (the first wins)."""
    user, roles, _ = acting(principal)
    role = next((r for r in REGISTRARS if r in roles), None)
    if role is None:
        raise Forbidden("cases are registered by staff of a venue, by members or by residents")
    if role == "public":
        key = None  # every resident acts as the one public user: a key would match another's case
    if key is not None:
        if not isinstance(key, str) or not 1 <= len(key) <= 100:
            raise InvalidInput("the idempotency key is not valid", {"key": ["1 to 100 characters"]})
        existing = uow.cases.registered_with_key(user, key)
        if existing is not None:
            return dump(uow, existing, principal)
    data = load(CaseRegistration, request, "the case")
    venue = uow.cases.venue(data["venue"])
    if venue is None:
        raise InvalidInput("the case is not valid", {"venue": [f"no venue {data['venue']!r} in the directory"]})
    town = data["town"] or venue.town
    if uow.cases.town(town) is None:
        raise InvalidInput("the case is not valid", {"town": [f"no town or street {town!r} in the directory"]})
    now = clock.now()
    year = local_date(now).year
    sequence = uow.cases.next_case_sequence(year)
    number = f"{rules.numbering_prefix()}-{year}-{sequence:04d}"
    case = Case(
        number=number,
        thread=number,
        year=year,
        sequence=sequence,
        venue=venue.code,
        town=town,
        title=data["title"].strip(),
        description=data["description"].strip(),
        resident_name=data["resident_name"].strip(),
        resident_phone=data["resident_phone"],
        registered_by=user,
        registered_role=role,
        status="registered",
        reopened=0,
        rulebook_version=rules.version(),
        created_at=now,
        client_reference=key,
        public_reference=secrets.token_urlsafe(18),
    )
    uow.cases.add_case(case)
    uow.flush()
    covered = uow.cases.covers(venue.code, town)
    serving = directory.venue_members(uow, venue.code)
    record(
        uow,
        case,
        user,
        "registered",
        {
            "venue": venue.code,
            "town": town,
            "role": role,
            "venue_covers_town": covered,
            "rulebook": rules.version(),
            "venue_members": serving,
        },
    )
    event(uow, case, "consultation.case_registered", "", {"registered_by": user, "role": role, "title": case.title})
    uow.start_process(
        f"start-{number}",
        PROCESS_ID,
        number,
        {"case_id": case.id, "number": number, "thread": case.thread, "title": case.title},
        principal,
    )
    tell(uow, case, "registered", "staff", ["role:staff"], f"新的微协商诉求 {number}：{case.title}", "请派单给委员")
    if serving:  # the members of the venue hear of it at once (staff still dispatch it)
        tell(
            uow,
            case,
            "raised_at_venue",
            "members",
            serving,
            f"{venue.name} 收到新的微协商诉求 {number}：{case.title}",
            "可与工作人员联系接单",
        )
    uow.flush()
    if role == "public":  # a resident reads only the public view, by the reference it carries
        from .public import view

        return view(uow, case)
    return dump(uow, case, principal)


def _commitments(uow: AssignmentUnitOfWork, case: Case, unit: str | None = None) -> list[CaseCommitment]:
    return uow.cases.commitments(case.id, unit)


def may_read(uow: AssignmentUnitOfWork, case: Case, principal: dict | None) -> str:
    """``all`` | ``member`` | ``unit``, or Forbidden."""
    user, roles, unit = acting(principal)
    if roles & set(READ_ALL):
        return "all"
    if "member" in roles and (
        user in (case.member, case.registered_by) or user in directory.venue_members(uow, case.venue)
    ):
        return "member"
    if "unit" in roles and unit and _commitments(uow, case, unit):
        return "unit"
    raise Forbidden(f"case {case.number} is not yours to read")


def dump(
    uow: AssignmentUnitOfWork, case: Case, principal: dict | None, view: str | None = None, found: dict | None = None
) -> dict:
    """The case as ``principal`` may read it (``view``: as :func:`may_read` says, if not given);
    ``found``: what :func:`_details` read already for a page of them."""
    view = view or may_read(uow, case, principal)
    _, _, unit = acting(principal)
    if found is None:
        found = _details(uow, [case], unit if view == "unit" else None)[case.id]
    venue, commitments, meetings, follow_ups = (
        found["venue"],
        found["commitments"],
        found["meetings"],
        found["follow_ups"],
    )
    data = {
        c: getattr(case, c)
        for c in (
            "number",
            "thread",
            "venue",
            "town",
            "title",
            "description",
            "resident_name",
            "resident_phone",
            "registered_by",
            "status",
            "member",
            "outcome",
            "answer",
            "converted_kind",
            "converted_number",
            "converted_outcome",
            "satisfaction",
            "close_reason",
            "close_note",
            "rulebook_version",
        )
    }
    data.update(
        venue_name=venue.name if venue else case.venue,
        created_at=iso(case.created_at),
        venue_members=found["venue_members"],
        closed_at=iso(case.closed_at),
        follow_up_due=iso(case.follow_up_due),
        meetings=[
            {
                "id": m.id,
                "form": m.form,
                "venue": m.venue,
                "held_on": m.held_on.isoformat(),
                "attendees": m.attendees,
                "units": m.units if view != "unit" else [unit],
                "summary": m.summary,
                "recorded_by": m.recorded_by,
            }
            for m in meetings
        ],
        commitments=[
            {
                "id": c.id,
                "unit": c.unit,
                "status": c.status,
                "due": iso(c.due),
                "actions": c.actions,
                "done_by": c.done_by.isoformat() if c.done_by else None,
                "contact": c.contact,
                "committed_at": iso(c.committed_at),
                "committed_by": c.committed_by,
            }
            for c in commitments
        ],
        follow_ups=[
            {
                "actions_done": f.actions_done,
                "note": f.note,
                "checked_by": f.checked_by,
                "checked_at": iso(f.checked_at),
            }
            for f in follow_ups
        ],
        history=as_events(found["history"]) if view != "unit" else [],
    )
    if view == "unit":
        # A department sees the resident's name masked and no phone, also where the resident or the
        # member wrote them into a text (the title, the description, a meeting's summary...).
        data.update(
            resident_name=mask(case.resident_name),
            resident_phone=None,
            **{key: without_resident(case, data[key]) for key in ("title", "description", "answer", "close_note")},
        )
        for meeting in data["meetings"]:
            meeting["summary"] = without_resident(case, meeting["summary"])
        for follow_up in data["follow_ups"]:
            follow_up["note"] = without_resident(case, follow_up["note"])
    return made(CaseSchema).dump(data)


def _details(uow: AssignmentUnitOfWork, cases: list[Case], unit: str | None) -> dict[int, dict]:
    """What :func:`dump` shows of each case beside its own columns, read once for all of them:
    its venue and the venue's members, meetings, commitments (``unit``'s only, if given),
    follow-ups and history."""
    found = uow.cases.details_of([c.id for c in cases], unit)
    # The venue directory (a city's hundred or so, each with a few members) in two reads, whether
    # one case is shown or a page of them.
    venues = {v.code: v for v in uow.cases.venues()}
    members = uow.cases.members_by_venue()
    for case in cases:
        found[case.id].update(venue=venues.get(case.venue), venue_members=members.get(case.venue, []))
    return found


def get(uow: AssignmentUnitOfWork, number: str, principal: dict | None) -> dict:
    return dump(uow, case_by_number(uow, number), principal)


def case_page(uow: AssignmentUnitOfWork, principal: dict | None, query: dict | None = None) -> dict:
    """A page of the cases the caller may read, newest first (by year and number), with how many
    there are in all (``query``: ``page`` from 1, ``per_page`` 1-200, default 50, ``status``,
    ``venue``, ``mine``). Staff: every case (``mine``: those they registered); a member: assigned
    to them, registered by them or raised at a venue they serve; a department: those it was asked
    to commit on."""
    user, roles, unit = acting(principal)
    data = load(CaseQuery, query or {}, "the case filter")
    member = committed_by = None
    if roles & set(READ_ALL) and not data["mine"]:
        view = "all"
    elif roles & set(READ_ALL) or "member" in roles:
        view = "all" if roles & set(READ_ALL) else "member"
        member = user
    elif "unit" in roles and unit:
        view, committed_by = "unit", unit
    else:
        raise Forbidden("cases are read by staff, members and the departments asked to commit")
    total, found = uow.cases.case_page(
        *page_window(data),
        seen_by_member=member,
        committed_by_unit=committed_by,
        status=data["status"],
        venue=data["venue"],
    )
    details = _details(uow, found, committed_by)
    return page_answer(data, total, [dump(uow, case, principal, view, details[case.id]) for case in found])


def record_commitment(uow: AssignmentUnitOfWork, number: str, request: dict, principal: dict | None) -> dict:
    """A department commits to actions on a case it was asked about (its own commitment only).
    When the last department of the meeting has committed, the process hears ``commitments_made``."""
    user, roles, unit = acting(principal)
    if "unit" not in roles or not unit:
        raise Forbidden("only a department's handler records its commitment")
    data = load(CommitmentRequest, request, "the commitment")
    today = local_date(clock.now())
    if data["done_by"] < today:
        raise InvalidInput(
            "the commitment is not valid: it promises a day already past",
            {"done_by": [f"{data['done_by'].isoformat()} is before today ({today.isoformat()})"]},
        )
    case = case_by_number(uow, number, lock=True)
    meeting = uow.cases.latest_meeting(case.id)
    mine = None if meeting is None else uow.cases.commitment(meeting.id, unit)
    if mine is None:
        raise Forbidden(f"{unit} was not asked to commit on case {number}")
    if case.status == CANCELLED:
        raise refused_case_cancelled(uow, case, masked=True)
    if mine.status == "committed":
        raise Conflict(f"{unit} has already committed on case {number}")
    if case.status != "meeting":
        raise Conflict(f"case {number} is {case.status}; commitments are recorded after its meeting")
    now = clock.now()
    mine.status, mine.actions, mine.done_by, mine.contact = (
        "committed",
        data["actions"],
        data["done_by"],
        data["contact"],
    )
    mine.committed_at, mine.committed_by = now, user
    record(
        uow,
        case,
        user,
        "committed",
        {"unit": unit, "actions": data["actions"], "done_by": data["done_by"].isoformat()},
    )
    tell(
        uow,
        case,
        "committed",
        unit,
        [case.member] if case.member else ["role:staff"],
        f"{_unit_zh(uow, unit)} 已就微协商 {number} 作出承诺",
        data["actions"],
    )
    pending = [c.unit for c in _commitments(uow, case) if c.meeting_id == meeting.id and c.status != "committed"]
    if not pending:
        case.status = "committed"
        record(uow, case, "system", "all_committed", {"meeting_id": meeting.id})
        uow.send_message(
            name=messages.COMMITMENTS_MADE,
            correlation_key=number,
            message_id=f"commitments-{number}-{meeting.id}",
            payload={"units": [c.unit for c in _commitments(uow, case) if c.meeting_id == meeting.id]},
        )
    uow.flush()
    return dump(uow, case, principal, "unit")


def check_open(uow: AssignmentUnitOfWork, number: str, principal: dict | None) -> dict:
    """Before a step of the case (take, decide, meeting, follow-up, return visit, dispatch) is
    handed to its process: a cancelled case is a Conflict naming the cancellation (who, when, why),
    as a command on it would be; otherwise ``{number, status}``. Only who may read the case asks
    (Forbidden otherwise); a department reads the reason without the resident's name or phone."""
    case = case_by_number(uow, number)
    view = may_read(uow, case, principal)
    if case.status == CANCELLED:
        raise refused_case_cancelled(uow, case, masked=view == "unit")
    return {"number": case.number, "status": case.status}


def thread_entry(uow: AssignmentUnitOfWork, thread_id: str, principal: dict | None) -> dict | None:
    """The case whose thread is ``thread_id`` as an entry of ``GET /api/threads/<thread>``, or
    None when it is no case's thread, and also when the caller may not read the case: the thread
    then answers as one with nothing in it, as intake's part does (a refusal would tell a member
    that the case and its thread exist)."""
    case = uow.cases.case_on_thread(thread_id)
    if case is None:
        return None
    try:
        view = may_read(uow, case, principal)
    except Forbidden:
        return None
    return {
        "kind": "case",
        "number": case.number,
        "title": case.title,
        "status": case.status,
        "submitter": case.registered_by,
        "member": case.member,
        "created_at": iso(case.created_at),
        "converted_kind": case.converted_kind,
        "converted_number": case.converted_number,
        "events": events_of(uow, case) if view != "unit" else [],
    }


def _unit_zh(uow: AssignmentUnitOfWork, code: str) -> str:
    """A unit as a Chinese notice names it: the directory's name (its Chinese part), else its code."""
    row = uow.assignments.unit(code)
    return names.zh(row.name if row is not None else None, code)
