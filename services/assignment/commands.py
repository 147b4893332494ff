"""What a unit does with its assignment (办): sign for it, object, send input, reply, co-sign,
submit, ask for more time. The same functions serve RPC (through the gateway) and AMQP (from a
department's own system, see :func:`from_unit_system`).

Each takes ``(session, rules, params, principal)``; the principal acts on its own unit's
assignments only (Forbidden otherwise). A command that does not fit the assignment's state is a
Conflict whose message says why; input that does not fit the schema is InvalidInput.
"""
from __future__ import annotations

from sqlalchemy import select

from shared import clock
from shared.calendar import local_date
from shared.contracts import ASSIGNMENT_INPUT_SENT, ASSIGNMENT_SIGNED
from shared.errors import Conflict, Forbidden, InvalidInput
from shared.validation import load

from . import contracts
from .contracts import ANSWERING_ROLES, COMMAND_SCHEMAS
from .models import (Assignment, CoUnitInput, ExtensionRequest, Reply, ReplyCosignature, Unit)
from .records import (active_assignments, aware, current_reply, describe, iso, notify_unit,
                      own_assignment, principal_of, record, tell_engine, unit_acted)
from .rules import AssignmentRules


def _begin(session, command: str, params, principal) -> tuple[dict, dict, Assignment]:
    principal = principal_of(principal)
    data = load(COMMAND_SCHEMAS[command], params, f"command {command}")
    return data, principal, own_assignment(session, data["assignment_id"], principal)


def _not_closed(row: Assignment) -> None:
    if row.status == "cancelled":
        raise Conflict(f"assignment {row.id} was cancelled when staff reassigned proposal {row.number}")
    if row.status == "objected":
        raise Conflict(f"{row.unit} objected to assignment {row.id}; staff decide on the objection first")


def _handling(row: Assignment, doing: str) -> None:
    """The unit signed for the assignment and has not replied in this round."""
    _not_closed(row)
    if row.status == "assigned":
        raise Conflict(f"sign for assignment {row.id} (签收) before you {doing}")
    if row.status == "replied":
        raise Conflict(f"the reply to proposal {row.number} for round {row.round} is submitted; "
                       f"you cannot {doing} now")


ROLE_NAMES = {"single": "the single unit", "several": "one of several answering units",
              "lead": "the lead unit", "co": "a co-unit"}


def _role(row: Assignment, roles: tuple[str, ...], rule: str) -> None:
    if row.role not in roles:
        raise Conflict(f"{row.unit} is {ROLE_NAMES[row.role]} of proposal {row.number}: {rule}")


def _lead_of(session, row: Assignment) -> Assignment:
    lead = [other for other in active_assignments(session, row.number) if other.role == "lead"]
    if not lead:
        raise Conflict(f"proposal {row.number} has no active lead unit")
    return lead[0]


def _cosignatures(session, reply: Reply) -> list[ReplyCosignature]:
    """The co-signatures of the reply's current revision (a redraft needs new ones)."""
    return list(session.scalars(select(ReplyCosignature).where(
        ReplyCosignature.reply_id == reply.id, ReplyCosignature.revision == reply.revision)))


def describe_reply(session, reply: Reply) -> dict:
    signed = _cosignatures(session, reply)
    return {"id": reply.id, "assignment_id": reply.assignment_id, "round": reply.round,
            "category": reply.category, "text": reply.text, "status": reply.status,
            "revision": reply.revision, "drafted_at": iso(reply.drafted_at),
            "submitted_at": iso(reply.submitted_at), "sent_back_at": iso(reply.sent_back_at),
            "sent_back_comment": reply.sent_back_comment,
            "cosigned_by": sorted(session.get(Assignment, s.assignment_id).unit for s in signed)}


def sign(session, rules: AssignmentRules, params, principal) -> dict:
    """签收: the unit takes the assignment on. Signing twice changes nothing."""
    _, principal, row = _begin(session, "sign", params, principal)
    _not_closed(row)
    if row.signed_at is None:
        row.signed_at, row.signed_by, row.status = clock.now(), principal["user"], "signed"
        because = record(session, row, principal["user"], "signed")
        unit_acted(session, ASSIGNMENT_SIGNED, row, because, row.signed_at, principal["user"])
    return describe(row)


def object_to_assignment(session, rules: AssignmentRules, params, principal) -> dict:
    """异议: the unit says the work is not its own, within the rulebook's objection window and
    before it replied. Staff decide (they reassign); the engine hears ``objection_raised``."""
    data, principal, row = _begin(session, "object", params, principal)
    _not_closed(row)
    if row.status == "replied":
        raise Conflict(f"the reply to proposal {row.number} is submitted; it is too late to object")
    window = rules.objection_deadline(aware(row.created_at))
    today = local_date(clock.now())
    if today > window.due:
        raise Conflict(
            f"the objection window for assignment {row.id} closed at the end of {window.due.isoformat()} "
            f"({window.amount} {window.unit.replace('_', ' ')} after the assignment on "
            f"{window.start.isoformat()}, rulebook {window.rulebook} {window.rulebook_version}); "
            "ask the committee office if the assignment is wrong",
            {"objection_window": {"due": window.due.isoformat(), "start": window.start.isoformat(),
                                  "amount": window.amount, "unit": window.unit,
                                  "rulebook_version": window.rulebook_version, "today": today.isoformat()}})
    now = clock.now()
    row.status, row.objection_reason, row.objected_at = "objected", data["reason"], now
    because = record(session, row, principal["user"], "objected",
                     {"reason": data["reason"], "window_due": window.due.isoformat()})
    tell_engine(session, contracts.OBJECTION_RAISED, row.number, because,
                {"unit": row.unit, "reason": data["reason"], "assignment_id": row.id})
    return describe(row)


def send_input(session, rules: AssignmentRules, params, principal) -> dict:
    """协办意见: a co-unit sends its input to the lead unit."""
    data, principal, row = _begin(session, "send_input", params, principal)
    _role(row, ("co",), "only a co-unit sends input to the lead")
    _handling(row, "send input")
    lead = _lead_of(session, row)
    now = clock.now()
    item = CoUnitInput(assignment_id=row.id, lead_assignment_id=lead.id, round=row.round,
                       text=data["text"], sent_at=now, sent_by=principal["user"])
    session.add(item)
    session.flush()
    because = record(session, row, principal["user"], "input_sent",
                     {"input_id": item.id, "to": lead.unit, "text": data["text"]})
    unit_acted(session, ASSIGNMENT_INPUT_SENT, row, because, now, principal["user"])
    notify_unit(session, lead, contracts.INPUT_RECEIVED, because,
                {"input": {"id": item.id, "from_unit": row.unit, "round": row.round,
                           "text": data["text"], "sent_at": iso(now)}})
    return {"input_id": item.id, "to": lead.unit, "round": row.round, "sent_at": iso(now)}


def draft_reply(session, rules: AssignmentRules, params, principal) -> dict:
    """An answering unit drafts (or redrafts) its reply; every redraft needs new co-signatures."""
    data, principal, row = _begin(session, "draft_reply", params, principal)
    _role(row, ANSWERING_ROLES, "a co-unit does not reply; it sends input and co-signs")
    _handling(row, "draft a reply")
    enabled = rules.reply_categories()
    if data["category"] not in enabled:
        raise InvalidInput(f"reply category {data['category']!r} is not enabled in the rulebook",
                           {"category": [f"must be one of: {', '.join(enabled)}"]})
    now, reply = clock.now(), current_reply(session, row)
    if reply is None:
        reply = Reply(assignment_id=row.id, round=row.round, revision=1, drafted_at=now,
                      drafted_by=principal["user"], status="draft", category="", text="")
        session.add(reply)
    elif reply.status == "submitted":
        raise Conflict(f"the reply for round {row.round} is submitted; it cannot be redrafted")
    else:
        reply.revision += 1
    reply.category, reply.text, reply.status = data["category"], data["text"], "draft"
    reply.drafted_at, reply.drafted_by = now, principal["user"]
    session.flush()
    because = record(session, row, principal["user"], "reply_drafted",
                     {"reply_id": reply.id, "revision": reply.revision, "category": reply.category,
                      "text": reply.text})
    shown = describe_reply(session, reply)
    for co in (c for c in active_assignments(session, row.number) if c.role == "co"):
        notify_unit(session, co, contracts.REPLY_DRAFTED, because, {"lead_unit": row.unit, "reply": shown})
    return shown


def cosign_reply(session, rules: AssignmentRules, params, principal) -> dict:
    """会签: a co-unit co-signs the lead's current draft. Co-signing twice changes nothing."""
    _, principal, row = _begin(session, "cosign_reply", params, principal)
    _role(row, ("co",), "only a co-unit co-signs the lead's reply")
    _handling(row, "co-sign the reply")
    lead = _lead_of(session, row)
    reply = current_reply(session, lead)
    if reply is None or reply.status == "submitted":
        raise Conflict(f"the lead unit {lead.unit} has no draft reply for round {row.round} to co-sign")
    if row.id not in {s.assignment_id for s in _cosignatures(session, reply)}:
        session.add(ReplyCosignature(reply_id=reply.id, assignment_id=row.id, revision=reply.revision,
                                     signed_at=clock.now(), signed_by=principal["user"]))
        session.flush()
        record(session, row, principal["user"], "reply_cosigned",
               {"reply_id": reply.id, "revision": reply.revision})
    return describe_reply(session, reply)


def _least_favourable(categories: list[str], order: list[str]) -> str:
    # A category the rulebook no longer enables counts as the least favourable of all.
    return max(categories, key=lambda code: order.index(code) if code in order else len(order))


def submit_reply(session, rules: AssignmentRules, params, principal) -> dict:
    """An answering unit submits its reply, once every co-unit co-signed it. When every answering
    unit of the round has submitted, the engine hears ``reply_submitted``."""
    _, principal, row = _begin(session, "submit_reply", params, principal)
    active = active_assignments(session, row.number, lock=True)  # also refreshes ``row``
    _role(row, ANSWERING_ROLES, "a co-unit does not submit a reply; the lead does")
    _handling(row, "submit the reply")
    reply = current_reply(session, row)
    if reply is None:
        raise Conflict(f"draft the reply for round {row.round} before submitting it")
    co_units = [other for other in active if other.role == "co"]
    signed = {s.assignment_id for s in _cosignatures(session, reply)}
    missing = [co.unit for co in co_units if co.id not in signed]
    if missing:
        raise Conflict(f"every co-unit must co-sign the reply (会签) before it is submitted; not yet: "
                       f"{', '.join(missing)}", {"missing_cosignatures": missing})
    now = clock.now()
    reply.status, reply.submitted_at, reply.submitted_by = "submitted", now, principal["user"]
    for done in (row, *(co for co in co_units if co.status == "signed")):
        done.status = "replied"
    because = record(session, row, principal["user"], "reply_submitted",
                     {"reply_id": reply.id, "revision": reply.revision, "category": reply.category})
    answering = [other for other in active if other.role in ANSWERING_ROLES]
    complete = all(other.status == "replied" for other in answering)
    if complete:
        replies = [(other, current_reply(session, other)) for other in answering]
        categories = [r.category for _, r in replies]
        tell_engine(session, contracts.REPLY_SUBMITTED, row.number, because, {
            "round": row.round,
            "replies": [{"unit": other.unit, "category": r.category, "text": r.text} for other, r in replies],
            "category": _least_favourable(categories, rules.reply_categories()),
            # on time is judged at the submission (supervision.close), not at staff's acceptance
            "submitted_at": iso(now),
        })
    return {**describe_reply(session, reply), "all_units_replied": complete}


def request_extension(session, rules: AssignmentRules, params, principal) -> dict:
    """延期: an answering unit asks for more time before it replies; staff decide."""
    data, principal, row = _begin(session, "request_extension", params, principal)
    _role(row, ANSWERING_ROLES, "only an answering unit asks for an extension")
    _handling(row, "ask for an extension")
    today = local_date(clock.now())
    if data["until"] is not None and data["until"] <= today:
        raise InvalidInput("an extension ends after today", {"until": [f"must be after {today.isoformat()}"]})
    item = ExtensionRequest(assignment_id=row.id, round=row.round, requested_until=data["until"],
                            months=data["months"], reason=data["reason"], status="requested",
                            requested_at=clock.now(), requested_by=principal["user"])
    session.add(item)
    session.flush()
    shown = {"id": item.id, "assignment_id": row.id, "round": row.round, "until": iso(item.requested_until),
             "months": item.months, "reason": item.reason, "status": item.status,
             "requested_at": iso(item.requested_at)}
    because = record(session, row, principal["user"], "extension_requested", shown)
    tell_engine(session, contracts.EXTENSION_REQUESTED, row.number, because, {
        "unit": row.unit, "until": shown["until"], "months": item.months, "reason": item.reason,
        "assignment_id": row.id, "request_id": item.id,
        "requested_at": shown["requested_at"]})  # an extension is asked before the deadline
    return shown


def submit_followup(session, rules: AssignmentRules, params, principal) -> dict:
    """A B-category reply promised a solution (正在解决或列入计划): the answering unit reports it
    done, with what was achieved. The engine hears ``followup_reply``."""
    data, principal, row = _begin(session, "submit_followup", params, principal)
    _role(row, ANSWERING_ROLES, "the answering unit reports the follow-up")
    reply = current_reply(session, row)
    if row.status != "replied" or reply is None or reply.category != "B":
        raise Conflict(f"a follow-up reply comes after a submitted category B reply; assignment {row.id} "
                       f"is {row.status}" + (f" with category {reply.category}" if reply else ""))
    shown = {"assignment_id": row.id, "round": row.round, "text": data["text"], "unit": row.unit}
    because = record(session, row, principal["user"], "followup_submitted", shown)
    tell_engine(session, contracts.FOLLOWUP_REPLY, row.number, because,
                {"unit": row.unit, "text": data["text"], "assignment_id": row.id})
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
}


def run(session, rules: AssignmentRules, command: str, params, principal) -> dict:
    return COMMANDS[command](session, rules, params, principal)


def unit_system_principal(unit: str) -> dict:
    return {"user": f"system:{unit}", "roles": ["unit"], "unit": unit}


def from_unit_system(session, rules: AssignmentRules, routing_key: str, body, sender) -> dict:
    """A command from a department's system: routing key ``<unit>.<command>``, body per the command's
    schema. The acting unit is the one whose broker user sent it (``sender``, the AMQP ``user_id``
    RabbitMQ validated), never the body: a command without a ``user_id``, from a user that is no
    unit's, or whose key names another unit than the sender's is refused. (The broker already
    lets each department publish only with its own unit's prefix.)"""
    unit, _, command = (routing_key or "").partition(".")
    if getattr(sender, "kind", None) != "unit":
        who = sender.describe() if sender is not None else "an unknown sender"
        raise Forbidden(f"a unit command from {who}: commands are sent with the unit's own broker "
                        "user and its user_id", {"user_id": [f"expected a unit's broker user, got {who}"]})
    if sender.name != unit:
        raise Forbidden(f"routing key {routing_key!r} names unit {unit!r}, but the command was sent by "
                        f"unit {sender.name!r} ({sender.user}); a unit acts for itself only",
                        {"user_id": [f"{sender.user} acts for {sender.name}"]})
    if command not in COMMANDS:
        raise InvalidInput(f"routing key {routing_key!r} names no command",
                           {"routing_key": ["expected <unit>.<command>, command one of: "
                                            + ", ".join(COMMANDS)]})
    if session.get(Unit, unit) is None:
        raise Forbidden(f"unit {unit!r} of broker user {sender.user} is not in the directory")
    return run(session, rules, command, body, unit_system_principal(unit))
