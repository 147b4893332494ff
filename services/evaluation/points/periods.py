"""Periodic publication with a correction window (公示与更正).

Staff publish a period (a quarter ``2026-Q3`` or a year ``2026``) once it has ended. The
correction window opens then and lasts the number of days the rulebook of the period's term says
(``correction_window``). Inside it members ask for corrections of their own points and staff
apply them (a ``correction`` entry with its reason, dated the period's last day) or reject them.
When the window has passed the period is closed: its final standings are kept, and requests,
corrections and attendance for its dates are refused (409) — a closed period is final.
"""

from __future__ import annotations

from datetime import timedelta

from marshmallow import Schema, validate, validates_schema, ValidationError

from shared.contracts import field_types as fields

from shared import clock
from shared.contracts.fields import POINTS, ROW_ID
from shared.errors import Conflict, Forbidden, InvalidInput, NotFound
from shared.validation import load

from ..access import oversees, principal_of
from ..unit_of_work import EvaluationUnitOfWork
from . import spans
from .files import iso, standings
from .models import CorrectionRequest, LedgerEntry, Period
from .rules import PointsRules


class PublishInput(Schema):
    period = fields.String(required=True, metadata={"description": "a quarter (2026-Q3) or a year (2026)"})


class CorrectionAsk(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    entry_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=ROW_ID)
    points = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=POINTS,
        metadata={"description": "the change the member asks for, if they know it"},
    )


class CorrectionDecision(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("apply", "reject")))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    points = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=POINTS,
        metadata={"description": "points to add (negative: to take away); for apply"},
    )

    @validates_schema
    def _points_to_apply(self, data, **kwargs):
        if data.get("action") == "apply" and not data.get("points"):
            raise ValidationError("a correction changes the points: give a non-zero number", field_name="points")


def _require_staff(who: dict, what: str) -> None:
    if "staff" not in who["roles"]:
        raise Forbidden(f"only staff {what}")


def _settle(uow: EvaluationUnitOfWork, rules: PointsRules, row: Period) -> Period:
    """Close a published period whose window has passed, keeping its final standings."""
    if row.closed_at is None and clock.now() >= row.window_ends:
        book = rules.term(row.term)
        row.final = standings(uow, row.kind, row.starts, row.ends, book)
        row.closed_at = row.window_ends
        uow.flush()
    return row


def is_closed(uow: EvaluationUnitOfWork, rules: PointsRules, row: Period) -> bool:
    return _settle(uow, rules, row).closed_at is not None


def closed_period_covering(uow: EvaluationUnitOfWork, rules: PointsRules, day) -> str | None:
    """The key of a closed period the date falls in, if any."""
    for row in uow.points.periods_covering(day):
        if is_closed(uow, rules, row):
            return row.key
    return None


def as_dict(uow: EvaluationUnitOfWork, rules: PointsRules, row: Period, with_standings: bool = True) -> dict:
    closed = is_closed(uow, rules, row)
    result = {
        "period": row.key,
        "kind": row.kind,
        "starts": row.starts.isoformat(),
        "ends": row.ends.isoformat(),
        "status": "closed" if closed else "published",
        "term": row.term,
        "rulebook": {"term": row.term, "version": row.rulebook_version, "hash": row.rulebook_hash},
        "published_by": row.published_by,
        "published_at": iso(row.published_at),
        "window_ends": iso(row.window_ends),
        "closed_at": iso(row.closed_at),
    }
    if with_standings:
        result["standings"] = (
            row.final if closed else standings(uow, row.kind, row.starts, row.ends, rules.term(row.term))
        )
    return result


def _get(uow: EvaluationUnitOfWork, key: str) -> Period:
    spans.parse(key)
    row = uow.points.period(key)
    if row is None:
        raise NotFound(f"period {key} has not been published")
    return row


def publish(uow: EvaluationUnitOfWork, rules: PointsRules, data, principal) -> dict:
    who = principal_of(principal)
    _require_staff(who, "publish a period")
    key = load(PublishInput, data, "the publication")["period"]
    kind, starts, ends = spans.parse(key)
    if ends >= spans.today():
        raise Conflict(f"period {key} has not ended (its last day is {ends.isoformat()}); publish it after")
    if uow.points.period(key) is not None:
        raise Conflict(f"period {key} is already published")
    book = rules.term_for(starts)
    now = clock.now()
    row = Period(
        key=key,
        kind=kind,
        starts=starts,
        ends=ends,
        term=book.term,
        rulebook_version=book.version,
        rulebook_hash=book.content_hash,
        published_by=who["user"],
        published_at=now,
        window_ends=now + timedelta(days=book.correction_window_days),
        published=standings(uow, kind, starts, ends, book),
    )
    uow.points.add_period(row)
    uow.flush()
    members = [m["member"] for m in row.published]
    if members:
        uow.notify(
            "performance.published",
            f"notify.performance.published:{key}",
            f"points:{key}",
            recipients=members,
            title=f"{key} 履职积分公示 / performance points published",
            text=f"请核对您的履职积分，如有异议请于 {row.window_ends.date().isoformat()} 前申请更正。",
        )
    return as_dict(uow, rules, row)


def list_periods(uow: EvaluationUnitOfWork, rules: PointsRules, principal) -> list[dict]:
    principal_of(principal)
    return [as_dict(uow, rules, row, with_standings=False) for row in uow.points.periods()]


def period(uow: EvaluationUnitOfWork, rules: PointsRules, key: str, principal) -> dict:
    """A published period with its standings: every member may read a published period."""
    who = principal_of(principal)
    if not (oversees(who) or "member" in who["roles"]):
        raise Forbidden("only members, staff, committee and leaders read published periods")
    return as_dict(uow, rules, _get(uow, key))


def _refuse_when_closed(uow: EvaluationUnitOfWork, rules: PointsRules, row: Period, what: str) -> None:
    if is_closed(uow, rules, row):
        raise Conflict(
            f"period {row.key} closed at {iso(row.closed_at)} when its correction window ended: {what} are refused"
        )


def correction_dict(row: CorrectionRequest) -> dict:
    return {
        "id": row.id,
        "period": row.period,
        "member": row.member,
        "entry_id": row.entry_id,
        "reason": row.reason,
        "points_asked": row.points_asked,
        "status": row.status,
        "requested_at": iso(row.requested_at),
        "decided_by": row.decided_by,
        "decided_at": iso(row.decided_at),
        "decision": row.decision,
        "applied_entry": row.applied_entry,
    }


def ask_correction(uow: EvaluationUnitOfWork, rules: PointsRules, key: str, data, principal) -> dict:
    """A member asks for a correction of their own points in a published, open period."""
    who = principal_of(principal)
    if "member" not in who["roles"] or uow.points.member(who["user"]) is None:
        raise Forbidden("corrections are asked by members of the directory, for their own points")
    data = load(CorrectionAsk, data, "the correction request")
    row = _get(uow, key)
    _refuse_when_closed(uow, rules, row, "correction requests")
    if data["entry_id"] is not None:
        entry = uow.points.entry(data["entry_id"])
        if entry is None or entry.member != who["user"]:
            raise InvalidInput("not one of your entries", {"entry_id": [f"you have no entry {data['entry_id']}"]})
        if not row.starts <= entry.counts_on <= row.ends:
            raise InvalidInput(
                "the entry is not in this period",
                {"entry_id": [f"entry {entry.id} counts on {entry.counts_on.isoformat()}, outside {key}"]},
            )
    ask = CorrectionRequest(
        period=key,
        member=who["user"],
        entry_id=data["entry_id"],
        reason=data["reason"],
        points_asked=data["points"],
        status="open",
        requested_at=clock.now(),
    )
    uow.points.add_correction(ask)
    uow.flush()
    return correction_dict(ask)


def corrections(uow: EvaluationUnitOfWork, key: str, principal) -> list[dict]:
    """Staff, committee and leaders see every request of a period; a member sees their own."""
    who = principal_of(principal)
    _get(uow, key)
    rows = uow.points.corrections_of(key, None if oversees(who) else who["user"])
    return [correction_dict(r) for r in rows]


def decide(uow: EvaluationUnitOfWork, rules: PointsRules, correction_id: int, data, principal) -> dict:
    """Staff apply a request (a ``correction`` entry with the reason) or reject it, inside the window."""
    who = principal_of(principal)
    _require_staff(who, "apply or reject corrections")
    data = load(CorrectionDecision, data, "the decision")
    ask = uow.points.correction(correction_id)
    if ask is None:
        raise NotFound(f"there is no correction request {correction_id}")
    row = uow.points.period(ask.period)
    assert row is not None  # a request is of a published period
    _refuse_when_closed(uow, rules, row, "corrections")
    if ask.status != "open":
        raise Conflict(f"correction request {correction_id} was already {ask.status}")
    now = clock.now()
    ask.status = "applied" if data["action"] == "apply" else "rejected"
    ask.decided_by, ask.decided_at, ask.decision = who["user"], now, data["reason"]
    if data["action"] == "apply":
        book = rules.term(row.term)
        entry = LedgerEntry(
            member=ask.member,
            term=book.term,
            counts_on=row.ends,
            kind="correction",
            activity=None,
            points=data["points"],
            rule=None,
            role=None,
            correction_id=ask.id,
            rulebook_version=book.version,
            rulebook_hash=book.content_hash,
            reason=f"correction #{ask.id} by {who['user']}: {data['reason']} "
            f"(asked: {ask.reason}"
            f"{f'; about entry #{ask.entry_id}' if ask.entry_id else ''})",
            after_close=False,
            booked_at=now,
        )
        uow.points.add_entry(entry)
        uow.flush()
        ask.applied_entry = entry.id
    uow.flush()
    return correction_dict(ask)


def close(uow: EvaluationUnitOfWork, rules: PointsRules, key: str, principal) -> dict:
    """Close a period whose window has passed (it closes by itself when next read; this says so)."""
    who = principal_of(principal)
    _require_staff(who, "close a period")
    row = _get(uow, key)
    if not is_closed(uow, rules, row):
        raise Conflict(
            f"period {key}'s correction window is open until {iso(row.window_ends)}: "
            f"members may still ask for corrections"
        )
    return as_dict(uow, rules, row)
