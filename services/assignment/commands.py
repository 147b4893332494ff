"""What a unit does with its assignment (办): sign for it, object, send input, reply, co-sign,
submit, ask for more time. The same functions serve RPC (through the gateway) and AMQP (from a
department's own system, see :func:`from_unit_system`).

Each takes ``(uow, rules, params, principal)``; the principal acts on its own unit's
assignments only (Forbidden otherwise). A command that does not fit the assignment's state is a
Conflict whose message says why; input that does not fit the schema is InvalidInput.
"""

from __future__ import annotations

from datetime import date

from shared import clock
from shared.calendar import WorkingCalendar, local_date
from shared.contracts import ASSIGNMENT_INPUT_SENT, ASSIGNMENT_MILESTONE_DONE, ASSIGNMENT_SIGNED
from shared.errors import Conflict, Forbidden, InvalidInput, TooLate
from shared.validation import load

from . import contracts
from .contracts import ANSWERING_ROLES, COMMAND_SCHEMAS
from .models import Assignment, CoUnitInput, ExtensionRequest, Reply, ReplyCosignature
from .clocks import ReplyClock
from .contacts import met_face_to_face, record_contact
from .decisions import decisions_of
from .records import (
    describe,
    handling_event,
    iso,
    not_closed,
    notify_unit,
    own_assignment,
    principal_of,
    record,
    referred_assignment,
    tell_engine,
    unit_acted,
)
from .unit_of_work import AssignmentUnitOfWork
from .rules import AssignmentRules


def _begin(uow: AssignmentUnitOfWork, command: str, params, principal) -> tuple[dict, dict, Assignment]:
    principal = principal_of(principal)
    data = load(COMMAND_SCHEMAS[command], params, f"command {command}")
    return data, principal, own_assignment(uow, data["assignment_id"], principal)


def _handling(uow: AssignmentUnitOfWork, row: Assignment, doing: str) -> None:
    """The unit signed for the assignment and has not replied in this round."""
    not_closed(uow, row)
    if row.status == "assigned":
        raise Conflict(f"sign for assignment {row.id} (签收) before you {doing}")
    if row.status == "replied":
        raise Conflict(f"the reply to proposal {row.number} for round {row.round} is submitted; you cannot {doing} now")


ROLE_NAMES = {
    "single": "the single unit",
    "several": "one of several answering units",
    "lead": "the lead unit",
    "co": "a co-unit",
}


def _role(row: Assignment, roles: tuple[str, ...], rule: str) -> None:
    if row.role not in roles:
        raise Conflict(f"{row.unit} is {ROLE_NAMES[row.role]} of proposal {row.number}: {rule}")


def _lead_of(uow: AssignmentUnitOfWork, row: Assignment) -> Assignment:
    lead = [other for other in uow.assignments.active_assignments(row.number) if other.role == "lead"]
    if not lead:
        raise Conflict(f"proposal {row.number} has no active lead unit")
    return lead[0]


def describe_reply(uow: AssignmentUnitOfWork, reply: Reply, signed: list[ReplyCosignature] | None = None) -> dict:
    """The reply as units and staff read it; ``signed``: its current co-signatures, if read already."""
    if signed is None:
        signed = uow.assignments.cosignatures(reply)
    return {
        "id": reply.id,
        "assignment_id": reply.assignment_id,
        "round": reply.round,
        "category": reply.category,
        "text": reply.text,
        "status": reply.status,
        "revision": reply.revision,
        "drafted_at": iso(reply.drafted_at),
        "submitted_at": iso(reply.submitted_at),
        "sent_back_at": iso(reply.sent_back_at),
        "sent_back_comment": reply.sent_back_comment,
        "milestones": list(reply.milestones or []),
        "cosigned_by": sorted(referred_assignment(uow, s.assignment_id).unit for s in signed),
    }


def sign(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """签收: the unit takes the assignment on. Signing twice changes nothing."""
    _, principal, row = _begin(uow, "sign", params, principal)
    not_closed(uow, row)
    if row.signed_at is None:
        row.signed_at, row.signed_by, row.status = clock.now(), principal["user"], "signed"
        because = record(uow, row, principal["user"], "signed")
        unit_acted(uow, ASSIGNMENT_SIGNED, row, because, row.signed_at, principal["user"])
    return describe(row)


def object_to_assignment(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """异议: the unit says the work is not its own, within the rulebook's objection window and
    before it replied. Staff decide (they reassign); the engine hears ``objection_raised``, once
    for the objections raised before staff decide (their reassignment decides them all)."""
    data, principal, row = _begin(uow, "object", params, principal)
    not_closed(uow, row)
    if row.status == "replied":
        raise Conflict(f"the reply to proposal {row.number} is submitted; it is too late to object")
    window = rules.objection_deadline(row.created_at)
    today = local_date(clock.now())
    if today > window.due:
        raise Conflict(
            f"the objection window for assignment {row.id} closed at the end of {window.due.isoformat()} "
            f"({window.amount} {window.unit.replace('_', ' ')} after the assignment on "
            f"{window.start.isoformat()}, rulebook {window.rulebook} {window.rulebook_version}); "
            "ask the committee office if the assignment is wrong",
            {
                "objection_window": {
                    "due": window.due.isoformat(),
                    "start": window.start.isoformat(),
                    "amount": window.amount,
                    "unit": window.unit,
                    "rulebook_version": window.rulebook_version,
                    "today": today.isoformat(),
                }
            },
        )
    # Staff's reassignment decides every objection it finds undecided (operations.assign): one
    # already before them (its reassign task open) takes this one too, so the engine is not told
    # again. Told again, the instance would ask staff a second time, after they had decided both.
    pending = [
        other.id
        for other in uow.assignments.active_assignments(row.number, lock=True)
        if other.id != row.id and other.status == "objected"
    ]
    now = clock.now()
    row.status, row.objection_reason, row.objected_at = "objected", data["reason"], now
    because = record(
        uow,
        row,
        principal["user"],
        "objected",
        {"reason": data["reason"], "window_due": window.due.isoformat(), **({"with": pending} if pending else {})},
    )
    if not pending:
        tell_engine(
            uow,
            contracts.OBJECTION_RAISED,
            row.number,
            because,
            {"unit": row.unit, "reason": data["reason"], "assignment_id": row.id},
        )
    return describe(row)


def send_input(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """协办意见: a co-unit sends its input to the lead unit."""
    data, principal, row = _begin(uow, "send_input", params, principal)
    _role(row, ("co",), "only a co-unit sends input to the lead")
    _handling(uow, row, "send input")
    lead = _lead_of(uow, row)
    now = clock.now()
    item = CoUnitInput(
        assignment_id=row.id,
        lead_assignment_id=lead.id,
        round=row.round,
        text=data["text"],
        sent_at=now,
        sent_by=principal["user"],
    )
    uow.assignments.add_input(item)
    uow.flush()
    because = record(
        uow, row, principal["user"], "input_sent", {"input_id": item.id, "to": lead.unit, "text": data["text"]}
    )
    unit_acted(uow, ASSIGNMENT_INPUT_SENT, row, because, now, principal["user"])
    notify_unit(
        uow,
        lead,
        contracts.INPUT_RECEIVED,
        because,
        {
            "input": {
                "id": item.id,
                "from_unit": row.unit,
                "round": row.round,
                "text": data["text"],
                "sent_at": iso(now),
            }
        },
    )
    return {"input_id": item.id, "to": lead.unit, "round": row.round, "sent_at": iso(now)}


def draft_reply(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """An answering unit drafts (or redrafts) its reply; every redraft needs new co-signatures."""
    data, principal, row = _begin(uow, "draft_reply", params, principal)
    _role(row, ANSWERING_ROLES, "a co-unit does not reply; it sends input and co-signs")
    _handling(uow, row, "draft a reply")
    enabled = rules.reply_categories()
    if data["category"] not in enabled:
        raise InvalidInput(
            f"reply category {data['category']!r} is not enabled in the rulebook",
            {"category": [f"must be one of: {', '.join(enabled)}"]},
        )
    milestones = _promised(rules, data["category"], data["milestones"])
    now, reply = clock.now(), uow.assignments.current_reply(row)
    if reply is None:
        reply = Reply(
            assignment_id=row.id,
            round=row.round,
            revision=1,
            drafted_at=now,
            drafted_by=principal["user"],
            status="draft",
            category="",
            text="",
        )
        uow.assignments.add_reply(reply)
    elif reply.status == "submitted":
        raise Conflict(f"the reply for round {row.round} is submitted; it cannot be redrafted")
    else:
        reply.revision += 1
    reply.category, reply.text, reply.status = data["category"], data["text"], "draft"
    reply.milestones = milestones
    reply.drafted_at, reply.drafted_by = now, principal["user"]
    uow.flush()
    because = record(
        uow,
        row,
        principal["user"],
        "reply_drafted",
        {
            "reply_id": reply.id,
            "revision": reply.revision,
            "category": reply.category,
            "text": reply.text,
            "milestones": milestones,
        },
    )
    shown = describe_reply(uow, reply)
    for co in (c for c in uow.assignments.active_assignments(row.number) if c.role == "co"):
        notify_unit(uow, co, contracts.REPLY_DRAFTED, because, {"lead_unit": row.unit, "reply": shown})
    return shown


FOLLOWUP_CATEGORY = "B"  # 正在解决或列入计划: the category whose reply promises milestones


def _promised(rules: AssignmentRules, category: str, milestones: list[dict]) -> list[dict] | None:
    """The milestones a reply of ``category`` promises, numbered from 1 in the order given: a
    category B reply names at least one and at most the rulebook's ``followup.max_milestones``,
    each due after today; another category names none. InvalidInput (per field) otherwise."""
    if category != FOLLOWUP_CATEGORY:
        if milestones:
            raise InvalidInput(
                "only a category B reply (正在解决或列入计划) promises milestones",
                {"milestones": [f"leave them out for category {category}"]},
            )
        return None
    most, today = rules.max_milestones(), local_date(clock.now())
    if not milestones:
        raise InvalidInput(
            "a category B reply says what will be done by when: at least one milestone",
            {"milestones": ["give at least one milestone {what, due}"]},
        )
    if len(milestones) > most:
        raise InvalidInput(
            f"a category B reply names at most {most} milestones (rulebook followup.max_milestones)",
            {"milestones": [f"{len(milestones)} given, at most {most}"]},
        )
    past = {
        str(i): {"due": [f"must be after {today.isoformat()}"]}
        for i, item in enumerate(milestones)
        if item["due"] <= today
    }
    if past:
        raise InvalidInput("a milestone is due after today", {"milestones": past})
    latest = furthest_from(today)
    far = {
        str(i): {"due": [f"must be by {latest.isoformat()} ({FURTHEST_YEARS} years from today)"]}
        for i, item in enumerate(milestones)
        if item["due"] > latest
    }
    if far:
        raise InvalidInput(f"a milestone is due within {FURTHEST_YEARS} years", {"milestones": far})
    return [
        {
            "milestone": i,
            "what": item["what"],
            "due": item["due"].isoformat(),
            "done_at": None,
            "done_by": None,
            "note": None,
        }
        for i, item in enumerate(milestones, start=1)
    ]


def _still_ahead(reply: Reply) -> None:
    """A draft may wait: at submission every milestone it promises must still be ahead."""
    today = local_date(clock.now()).isoformat()
    past = [m for m in reply.milestones or [] if m["due"] <= today]
    if past:
        raise Conflict(
            "a milestone of the draft is no longer ahead; redraft the reply with new dates",
            {"milestones": {str(m["milestone"] - 1): {"due": [f"{m['due']} is not after {today}"]} for m in past}},
        )


def cosign_reply(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """会签: a co-unit co-signs the lead's current draft. Co-signing twice changes nothing."""
    _, principal, row = _begin(uow, "cosign_reply", params, principal)
    _role(row, ("co",), "only a co-unit co-signs the lead's reply")
    _handling(uow, row, "co-sign the reply")
    lead = _lead_of(uow, row)
    reply = uow.assignments.current_reply(lead)
    if reply is None or reply.status == "submitted":
        raise Conflict(f"the lead unit {lead.unit} has no draft reply for round {row.round} to co-sign")
    if row.id not in {s.assignment_id for s in uow.assignments.cosignatures(reply)}:
        uow.assignments.add_cosignature(
            ReplyCosignature(
                reply_id=reply.id,
                assignment_id=row.id,
                revision=reply.revision,
                signed_at=clock.now(),
                signed_by=principal["user"],
            )
        )
        uow.flush()
        record(uow, row, principal["user"], "reply_cosigned", {"reply_id": reply.id, "revision": reply.revision})
    return describe_reply(uow, reply)


def _least_favourable(categories: list[str], order: list[str]) -> str:
    # A category the rulebook no longer enables counts as the least favourable of all.
    return max(categories, key=lambda code: order.index(code) if code in order else len(order))


def submit_reply(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """An answering unit submits its reply, once every co-unit co-signed it. When every answering
    unit of the round has submitted, the engine hears ``reply_submitted``, with ``face_to_face``:
    whether each answering unit recorded a face-to-face contact with the proposer before it."""
    _, principal, row = _begin(uow, "submit_reply", params, principal)
    active = uow.assignments.active_assignments(row.number, lock=True)  # also refreshes ``row``
    _role(row, ANSWERING_ROLES, "a co-unit does not submit a reply; the lead does")
    _handling(uow, row, "submit the reply")
    reply = uow.assignments.current_reply(row)
    if reply is None:
        raise Conflict(f"draft the reply for round {row.round} before submitting it")
    _still_ahead(reply)
    co_units = [other for other in active if other.role == "co"]
    signed = {s.assignment_id for s in uow.assignments.cosignatures(reply)}
    missing = [co.unit for co in co_units if co.id not in signed]
    if missing:
        raise Conflict(
            f"every co-unit must co-sign the reply (会签) before it is submitted; not yet: {', '.join(missing)}",
            {"missing_cosignatures": missing},
        )
    now = clock.now()
    reply.status, reply.submitted_at, reply.submitted_by = "submitted", now, principal["user"]
    for done in (row, *(co for co in co_units if co.status == "signed")):
        done.status = "replied"
    because = record(
        uow,
        row,
        principal["user"],
        "reply_submitted",
        {"reply_id": reply.id, "revision": reply.revision, "category": reply.category},
    )
    answering = [other for other in active if other.role in ANSWERING_ROLES]
    complete = all(other.status == "replied" for other in answering)
    if complete:
        replies = [(other, uow.assignments.current_reply(other)) for other in answering]
        categories = [r.category for _, r in replies]
        met = {other.id: met_face_to_face(uow, other) for other in answering}
        tell_engine(
            uow,
            contracts.REPLY_SUBMITTED,
            row.number,
            because,
            {
                "round": row.round,
                "replies": [
                    {
                        "unit": other.unit,
                        "category": r.category,
                        "text": r.text,
                        "milestones": [
                            {"milestone": m["milestone"], "what": m["what"], "due": m["due"]}
                            for m in r.milestones or []
                        ],
                        "face_to_face": met[other.id],
                        # each unit's own submission (分办): supervision judges each on time at it
                        "submitted_at": iso(r.submitted_at),
                    }
                    for other, r in replies
                ],
                "category": _least_favourable(categories, rules.reply_categories()),
                # the handling checklist's fact (见面沟通率): every answering unit met the proposer
                # face to face before submitting (a contact recorded on its assignment, contacts.py)
                "face_to_face": all(met.values()),
                # on time is judged at the submission (supervision.close), not at staff's acceptance
                "submitted_at": iso(now),
            },
        )
    return {**describe_reply(uow, reply), "all_units_replied": complete}


def _before_the_deadline(clocks: ReplyClock | None, number: str, data: dict) -> None:
    """An extension is asked before the reply deadline ends (supervision keeps it): TooLate (422)
    when the end of its due day has passed, naming it. A paused deadline is not counting, so it
    has not passed. One asked past the latest date all extensions together may reach (``latest_due``:
    rule ``max_extension`` from signing) is refused (400) naming that date: staff could only refuse
    it. Without a clock (a test of the other rules) nothing is checked here; staff's approval checks
    again (``supervision.extend``)."""
    due = clocks.reply_due(number) if clocks is not None else None
    if due is None:
        return
    asked = data["until"] or (WorkingCalendar.add_months(due["due"], data["months"]) if data["months"] else None)
    latest = due.get("latest_due")
    if asked is not None and latest is not None and asked > latest:
        field = "until" if data["until"] else "months"
        raise InvalidInput(
            f"an extension reaches {latest.isoformat()} at the latest (all extensions together, from "
            f"signing); {asked.isoformat()} is after it",
            {field: [f"at most until {latest.isoformat()}"]},
        )
    if due["paused"] or clock.now() < due["ends_at"]:
        return
    raise TooLate(
        f"an extension is asked before the deadline; the reply to proposal {number} was due "
        f"on {due['due'].isoformat()} ({due['rule']}), so it is too late to ask",
        {
            "reply_due": due["due"].isoformat(),
            "rule": due["rule"],
            "ended_at": due["ends_at"].isoformat(),
            "asked_at": clock.now().isoformat(),
        },
    )


# How far ahead a unit may name a date (a milestone's, an extension's): a mistyped year (9999) is
# refused when it is given, not found years later. Plans of five years and more are real, so the
# bound is wide; the rulebook's extension cap still decides when staff approve one.
FURTHEST_YEARS = 10


def furthest_from(today: date) -> date:
    """The latest date a unit may name: ``FURTHEST_YEARS`` after ``today`` (29 February: the 28th)."""
    try:
        return today.replace(year=today.year + FURTHEST_YEARS)
    except ValueError:
        return today.replace(year=today.year + FURTHEST_YEARS, day=28)


def request_extension(
    uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal, clocks: ReplyClock | None = None
) -> dict:
    """延期: an answering unit asks for more time before it replies and before the reply deadline
    ends (refused with TooLate after it); staff decide."""
    data, principal, row = _begin(uow, "request_extension", params, principal)
    _role(row, ANSWERING_ROLES, "only an answering unit asks for an extension")
    _handling(uow, row, "ask for an extension")
    _before_the_deadline(clocks, row.number, data)
    today = local_date(clock.now())
    if data["until"] is not None and data["until"] <= today:
        raise InvalidInput("an extension ends after today", {"until": [f"must be after {today.isoformat()}"]})
    latest = furthest_from(today)
    if data["until"] is not None and data["until"] > latest:
        raise InvalidInput(
            f"an extension ends within {FURTHEST_YEARS} years", {"until": [f"must be by {latest.isoformat()}"]}
        )
    item = ExtensionRequest(
        assignment_id=row.id,
        round=row.round,
        requested_until=data["until"],
        months=data["months"],
        reason=data["reason"],
        status="requested",
        requested_at=clock.now(),
        requested_by=principal["user"],
    )
    uow.assignments.add_extension_request(item)
    uow.flush()
    shown = {
        "id": item.id,
        "assignment_id": row.id,
        "round": row.round,
        "until": iso(item.requested_until),
        "months": item.months,
        "reason": item.reason,
        "status": item.status,
        "requested_at": iso(item.requested_at),
    }
    because = record(uow, row, principal["user"], "extension_requested", shown)
    tell_engine(
        uow,
        contracts.EXTENSION_REQUESTED,
        row.number,
        because,
        {
            "unit": row.unit,
            "until": shown["until"],
            "months": item.months,
            "reason": item.reason,
            "assignment_id": row.id,
            "request_id": item.id,
            "requested_at": shown["requested_at"],
        },
    )  # an extension is asked before the deadline
    return shown


def submit_followup(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """A B-category reply promised a solution (正在解决或列入计划): the answering unit reports it
    done, with what was achieved. The engine hears ``followup_reply``."""
    data, principal, row = _begin(uow, "submit_followup", params, principal)
    _role(row, ANSWERING_ROLES, "the answering unit reports the follow-up")
    _accepted_b_reply(uow, row, "a follow-up reply")
    uow.lock(f"assignment.followup:{row.id}")  # two sent at once: the second waits, then finds the first
    sent = [
        event
        for event in uow.assignments.history(row.id, "followup_submitted")
        if (event.data or {}).get("round") == row.round
    ]
    if sent:
        # The engine takes the first and no other: a second text would be kept here and lost there.
        raise Conflict(
            f"the follow-up of assignment {row.id} for round {row.round} was submitted on "
            f"{clock.in_words(sent[0].at.isoformat())} by {sent[0].actor}; it is submitted once",
            {"submitted_at": sent[0].at.isoformat()},
        )
    shown = {"assignment_id": row.id, "round": row.round, "text": data["text"], "unit": row.unit}
    because = record(uow, row, principal["user"], "followup_submitted", shown)
    tell_engine(
        uow,
        contracts.FOLLOWUP_REPLY,
        row.number,
        because,
        {"unit": row.unit, "text": data["text"], "assignment_id": row.id},
    )
    return shown


def _accepted_b_reply(uow: AssignmentUnitOfWork, row: Assignment, doing: str) -> Reply:
    not_closed(uow, row)
    reply = uow.assignments.current_reply(row)
    if row.status != "replied" or reply is None or reply.category != FOLLOWUP_CATEGORY:
        raise Conflict(
            f"{doing} comes after a submitted category B reply; assignment {row.id} "
            f"is {row.status}" + (f" with category {reply.category}" if reply else "")
        )
    return reply


def report_milestone(uow: AssignmentUnitOfWork, rules: AssignmentRules, params, principal) -> dict:
    """后续办理: the answering unit reports one milestone of its category B reply done, once staff
    accepted the reply. Supervision closes the milestone's deadline (``assignment.milestone_done``)
    and the proposers are told (``handling.milestone_done``, heard by intake). Reporting one twice
    is a Conflict."""
    data, principal, row = _begin(uow, "report_milestone", params, principal)
    _role(row, ANSWERING_ROLES, "the answering unit reports its milestones")
    reply = _accepted_b_reply(uow, row, "a milestone report")
    if not any((e or {}).get("round") == row.round for e in decisions_of(uow, row.id, "reply_accepted")):
        raise Conflict(f"staff have not accepted the reply to proposal {row.number} yet; report its milestones after")
    milestones = [dict(m) for m in reply.milestones or []]
    item = next((m for m in milestones if m["milestone"] == data["milestone"]), None)
    if item is None:
        raise InvalidInput(
            f"the reply to proposal {row.number} promises milestones 1 to {len(milestones)}",
            {"milestone": [f"no milestone {data['milestone']}"]},
        )
    if item["done_at"] is not None:
        raise Conflict(f"milestone {item['milestone']} ({item['what']}) was reported done on {item['done_at']}")
    now = clock.now()
    item.update(done_at=iso(now), done_by=principal["user"], note=data["note"])
    reply.milestones = milestones  # a new list, so the JSON column is written
    shown = {"assignment_id": row.id, "round": row.round, "unit": row.unit, **item}
    because = record(uow, row, principal["user"], "milestone_done", shown)
    unit_acted(uow, ASSIGNMENT_MILESTONE_DONE, row, because, now, principal["user"], milestone=item["milestone"])
    handling_event(
        uow,
        "handling.milestone_done",
        row.number,
        because,
        {
            "unit": row.unit,
            "milestone": item["milestone"],
            "what": item["what"],
            "due": item["due"],
            "note": data["note"],
        },
    )
    return shown


COMMANDS = {
    "sign": sign,
    "object": object_to_assignment,
    "send_input": send_input,
    "draft_reply": draft_reply,
    "cosign_reply": cosign_reply,
    "submit_reply": submit_reply,
    "request_extension": request_extension,
    "submit_followup": submit_followup,
    "report_milestone": report_milestone,
    "record_contact": record_contact,
}


def run(
    uow: AssignmentUnitOfWork, rules: AssignmentRules, command: str, params, principal, clocks: ReplyClock | None = None
) -> dict:
    """Run ``command``; ``clocks`` answers the reply deadline (supervision's) where a rule needs it."""
    if command == "request_extension":
        return request_extension(uow, rules, params, principal, clocks)
    return COMMANDS[command](uow, rules, params, principal)


def unit_system_principal(unit: str) -> dict:
    return {"user": f"system:{unit}", "roles": ["unit"], "unit": unit}


def from_unit_system(
    uow: AssignmentUnitOfWork, rules: AssignmentRules, routing_key: str, body, sender, clocks: ReplyClock | None = None
) -> dict:
    """A command from a department's system: routing key ``<unit>.<command>``, body per the command's
    schema. The acting unit is the one whose broker user sent it (``sender``, the AMQP ``user_id``
    RabbitMQ validated), never the body: a command without a ``user_id``, from a user that is no
    unit's, or whose key names another unit than the sender's is refused. (The broker already
    lets each department publish only with its own unit's prefix.)"""
    unit, _, command = (routing_key or "").partition(".")
    if getattr(sender, "kind", None) != "unit":
        who = sender.describe() if sender is not None else "an unknown sender"
        raise Forbidden(
            f"a unit command from {who}: commands are sent with the unit's own broker user and its user_id",
            {"user_id": [f"expected a unit's broker user, got {who}"]},
        )
    if sender.name != unit:
        raise Forbidden(
            f"routing key {routing_key!r} names unit {unit!r}, but the command was sent by "
            f"unit {sender.name!r} ({sender.user}); a unit acts for itself only",
            {"user_id": [f"{sender.user} acts for {sender.name}"]},
        )
    if command not in COMMANDS:
        raise InvalidInput(
            f"routing key {routing_key!r} names no command",
            {"routing_key": ["expected <unit>.<command>, command one of: " + ", ".join(COMMANDS)]},
        )
    if uow.assignments.unit(unit) is None:
        raise Forbidden(f"unit {unit!r} of broker user {sender.user} is not in the directory")
    return run(uow, rules, command, body, unit_system_principal(unit), clocks)
