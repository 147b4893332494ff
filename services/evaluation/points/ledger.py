"""How one domain event becomes ledger entries. The ledger is fed only by events.

For each member the event names (``members: [{member, role}]``), in this order:

1. the member must be in the members directory (else nothing, and the event's outcome says why);
2. the term's rulebook is the one covering the date the event counts for (:func:`counts_on`);
   its first row matching (event name, role, payload) applies, or nothing does;
3. ``unit``: ``event`` counts 1, ``half_day`` counts the payload's ``half_days``, ``item`` counts
   once per member, activity and subject — a second event about the same item books 0, saying why;
4. ``cap``: points beyond the row's cap for the member in the cap period (year or term) are cut;
5. ``group`` (no double counting): within one thread a member holds one entry of the group.
   A new entry worth more than the holder replaces it: an ``adjustment`` entry books minus the
   holder's points (naming it) and the new entry books its own. A new entry worth the same or
   less books 0, naming the holder. So a case → opinion item → proposal thread counts its
   authorship once, at the highest value reached, and every step stays visible.

Every entry records the event (id, name, subject, thread), the rule row and the rulebook's term,
version and hash. An event already heard (same ``event_id``) changes nothing.
"""

from __future__ import annotations

from datetime import date

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared import clock, contracts
from shared.calendar import local_date
from shared.errors import InvalidInput
from shared.validation import load

from ..unit_of_work import EvaluationUnitOfWork
from . import rulebook as rulebooks
from .models import HeardEvent, LedgerEntry
from .rules import PointsRules


class _MemberRef(Schema):
    member = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=50))


def counts_on(event: dict) -> date:
    """The date an event counts for: the payload's ``held_on`` (an activity's date, for attendance)
    if it has one, else the Chinese local date of ``occurred_at``."""
    held_on = event["payload"].get("held_on")
    if held_on is not None:
        try:
            return date.fromisoformat(str(held_on))
        except ValueError:
            raise InvalidInput(
                "the event's held_on is not a date", {"payload": {"held_on": [f"'{held_on}' is not YYYY-MM-DD"]}}
            ) from None
    return local_date(clock.as_utc(event["occurred_at"]))


def _quantity(rule: rulebooks.Rule, payload: dict) -> int:
    if rule.unit != "half_day":
        return 1
    value = payload.get("half_days")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 20:
        raise InvalidInput(
            f"rule {rule.activity} counts half days: the event needs payload.half_days",
            {"payload": {"half_days": ["a whole number from 1 to 20"]}},
        )
    return value


def _earned_in_cap_period(uow: EvaluationUnitOfWork, member: str, activity: str, day: date, book) -> int:
    if book.caps_per == "term":
        starts, ends = book.starts, book.ends
    else:
        starts, ends = date(day.year, 1, 1), date(day.year, 12, 31)
    return uow.points.earned_between(member, activity, starts, ends)


def _entry(event, day, book, member, role, **values) -> LedgerEntry:
    return LedgerEntry(
        member=member,
        term=book.term,
        counts_on=day,
        role=role,
        event_id=event["event_id"],
        event_name=event["name"],
        subject=event["subject"],
        thread=event["thread"],
        rulebook_version=book.version,
        rulebook_hash=book.content_hash,
        booked_at=clock.now(),
        **values,
    )


def _book_member(
    uow: EvaluationUnitOfWork, event, day, book, member: str, role: str | None, after_close: str | None
) -> dict:
    said = {"member": member, "role": role, "entries": [], "points": 0, "why": None}
    if uow.points.member(member) is None:
        return {**said, "why": "not in the members directory"}
    rule = book.rule_for(event["name"], role, event["payload"])
    if rule is None:
        return {
            **said,
            "why": f"no row of the term {book.term} rulebook (version {book.version}) "
            f"for {event['name']} with role {role}",
        }
    quantity = _quantity(rule, event["payload"])
    points = rule.points * quantity
    reasons = [f"{rule.points} × {quantity} half days" if rule.unit == "half_day" else f"{rule.points} ({rule.zh})"]
    if rule.unit == "item":
        earlier = uow.points.first_earned_for(member, rule.activity, event["subject"])
        if earlier is not None:
            points = 0
            reasons = [
                f"{event['subject']} already counted for {rule.activity} by entry #{earlier.id} "
                f"({earlier.event_name}); counted once per item"
            ]
    if points > 0 and rule.cap is not None:
        room = max(0, rule.cap - _earned_in_cap_period(uow, member, rule.activity, day, book))
        if points > room:
            reasons.append(f"capped: {points} earned, {room} within the cap of {rule.cap} a {book.caps_per}")
            points = room
    holder = None
    key = f"{rule.group}:{event['thread'] or event['subject']}" if rule.group else None
    if key and points > 0:
        holder = uow.points.holder(member, key)
        if holder is not None and points <= holder.points:
            reasons = [
                f"the thread already counts for {rule.group} by entry #{holder.id} "
                f"({holder.activity}, {holder.points} points, {holder.event_name} {holder.subject}); "
                f"a thread counts once, at its highest value"
            ]
            points, key, holder = 0, None, None
    if after_close:
        reasons.append(f"counted after period {after_close} closed")
    entries = []
    if holder is not None:
        adjustment = _entry(
            event,
            day,
            book,
            member,
            role,
            kind="adjustment",
            activity=holder.activity,
            points=-holder.points,
            rule=holder.rule,
            replaces=holder.id,
            after_close=bool(after_close),
            reason=f"replaces entry #{holder.id} ({holder.activity}, {holder.points} points, "
            f"{holder.event_name} {holder.subject}): the thread counts once for "
            f"{rule.group}, now as {rule.activity}",
        )
        uow.points.add_entry(adjustment)
        entries.append(adjustment)
    earned = _entry(
        event,
        day,
        book,
        member,
        role,
        kind="earned",
        activity=rule.activity,
        points=points,
        rule={**rule.as_dict(), "quantity": quantity},
        exclusive_key=key if points > 0 else None,
        reason="; ".join(reasons),
        after_close=bool(after_close),
    )
    uow.points.add_entry(earned)
    uow.flush()
    entries.append(earned)
    if holder is not None:
        holder.superseded_by = earned.id
    return {
        **said,
        "entries": [e.id for e in entries],
        "points": sum(e.points for e in entries),
        "activity": rule.activity,
    }


def book_event(uow: EvaluationUnitOfWork, rules: PointsRules, body) -> dict:
    """Book the points an event earns. Returns what happened for each member it names; an event
    heard before returns ``duplicate: true`` and books nothing. A malformed event, or one dated
    outside every term, is refused (``InvalidInput``) and nothing is booked."""
    event = load(contracts.EventSchema, body, "the event")
    members = [load(_MemberRef, m, f"the event's members[{i}]") for i, m in enumerate(event["members"])]
    # One booking at a time per member: what a member already holds (items, caps, a thread's
    # authorship) decides the next entry, so two events of one thread must not be booked side by
    # side. PostgreSQL locks the members' rows until commit (across processes; sorted, so two
    # bookings never wait on each other); SQLite has no row locks: the listener books one event at
    # a time in its process (``service.BOOKING``).
    uow.points.lock_members(sorted({m["member"] for m in members}))
    heard = uow.points.heard(event["event_id"])
    if heard is not None:
        return {"event_id": event["event_id"], "duplicate": True, "outcome": heard.outcome}
    day = counts_on(event)
    book = rules.term_for(day)
    from .periods import closed_period_covering  # periods reads the ledger; imported when used

    closed = closed_period_covering(uow, rules, day)
    outcome = [_book_member(uow, event, day, book, m["member"], m["role"], closed) for m in members]
    occurred = clock.as_utc(event["occurred_at"])
    uow.points.add_heard(
        HeardEvent(
            event_id=event["event_id"],
            name=event["name"],
            subject=event["subject"],
            thread=event["thread"],
            occurred_at=occurred,
            counts_on=day,
            term=book.term,
            outcome=outcome,
            heard_at=clock.now(),
        )
    )
    uow.flush()
    return {
        "event_id": event["event_id"],
        "duplicate": False,
        "term": book.term,
        "counts_on": day.isoformat(),
        "outcome": outcome,
    }
