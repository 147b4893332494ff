"""The per-member performance file (履职档案), the standings of a period and the statistics.

A file lists every entry of the member in a period (a quarter, a year) or a whole term, each with
the event behind it, its rule row and rulebook version; its total; and the 100-point view and
grade by the rulebook of the term the period starts in (``grading`` in the rulebook: points ×
100 ÷ the full marks for that kind of period, cut to 0–100; grades by their minimum).
"""

from __future__ import annotations

from collections import defaultdict

from shared.errors import Forbidden, NotFound

from ..access import oversees, principal_of
from ..unit_of_work import EvaluationUnitOfWork
from . import spans
from .models import HeardEvent, LedgerEntry
from .rules import PointsRules


def span(rules: PointsRules, period: str | None = None, term: str | None = None):
    """``(key, kind, starts, ends, rulebook)`` of a period by name, a term, or the current term."""
    if period:
        kind, starts, ends = spans.parse(period)
        return period, kind, starts, ends, rules.term_for(starts)
    book = rules.term(term) if term else rules.term_for(spans.today())
    return f"term {book.term}", "term", book.starts, book.ends, book


def iso(moment) -> str | None:
    """A stored time in ISO form (aware UTC, as every ``UtcDateTime`` column gives it), or None."""
    return None if moment is None else moment.isoformat()


def entry_dict(row: LedgerEntry, heard: HeardEvent | None = None) -> dict:
    return {
        "id": row.id,
        "kind": row.kind,
        "activity": row.activity,
        "activity_zh": (row.rule or {}).get("zh"),
        "points": row.points,
        "counts_on": row.counts_on.isoformat(),
        "period": spans.quarter_of(row.counts_on),
        "role": row.role,
        "event": None
        if row.event_id is None
        else {
            "event_id": row.event_id,
            "name": row.event_name,
            "subject": row.subject,
            "thread": row.thread,
            "occurred_at": iso(heard.occurred_at) if heard else None,
        },
        "rule": row.rule,
        "rulebook": {"term": row.term, "version": row.rulebook_version, "hash": row.rulebook_hash},
        "reason": row.reason,
        "replaces": row.replaces,
        "superseded_by": row.superseded_by,
        "correction_id": row.correction_id,
        "after_close": row.after_close,
        "booked_at": iso(row.booked_at),
    }


def _may_read(who: dict, member: str) -> None:
    if oversees(who) or who["user"] == member:
        return
    raise Forbidden("a member reads their own performance file; staff, committee and leaders read every file")


def member_file(
    uow: EvaluationUnitOfWork,
    rules: PointsRules,
    member: str,
    principal,
    period: str | None = None,
    term: str | None = None,
) -> dict:
    who = principal_of(principal)
    _may_read(who, member)
    row = uow.points.member(member)
    if row is None:
        raise NotFound(f"{member} is not in the members directory")
    key, kind, starts, ends, book = span(rules, period, term)
    entries = uow.points.entries_of(member, starts, ends)
    heard = uow.points.heard_among(e.event_id for e in entries if e.event_id)
    total = sum(e.points for e in entries)
    view, grade = book.grade(total, kind)
    by_activity, by_period = defaultdict(int), defaultdict(int)
    for e in entries:
        by_activity[e.activity or "correction"] += e.points
        by_period[spans.quarter_of(e.counts_on)] += e.points
    return {
        "member": {"user": row.user, "name": row.name, "sector": row.sector, "terms": list(row.terms)},
        "period": {"key": key, "kind": kind, "starts": starts.isoformat(), "ends": ends.isoformat()},
        "rulebook": {"term": book.term, "version": book.version, "hash": book.content_hash},
        "entries": [entry_dict(e, heard.get(e.event_id)) for e in entries],
        "total": total,
        "view100": view,
        "grade": grade,
        "by_activity": dict(by_activity),
        "by_period": dict(sorted(by_period.items())),
    }


def standings(uow: EvaluationUnitOfWork, kind, starts, ends, book) -> list[dict]:
    """Every member serving the term, with total, 100-point view and grade; highest first."""
    totals = uow.points.totals_by_member(starts, ends)
    rows = []
    for m in sorted(uow.points.members(), key=lambda m: m.user):
        if book.term not in (m.terms or []) and m.user not in totals:
            continue
        total = int(totals.get(m.user) or 0)
        view, grade = book.grade(total, kind)
        rows.append(
            {"member": m.user, "name": m.name, "sector": m.sector, "total": total, "view100": view, "grade": grade}
        )
    return sorted(rows, key=lambda r: (-r["total"], r["member"]))


def statistics(
    uow: EvaluationUnitOfWork, rules: PointsRules, principal, period: str | None = None, term: str | None = None
) -> dict:
    """By member, by sector, by activity and by quarter, for a period or a term. Overseers only:
    members see the standings of a published period (:func:`periods.period`)."""
    who = principal_of(principal)
    if not oversees(who):
        raise Forbidden("only staff, committee and leaders see the statistics; members read published periods")
    key, kind, starts, ends, book = span(rules, period, term)
    members = standings(uow, kind, starts, ends, book)
    sectors = defaultdict(lambda: {"members": 0, "total": 0, "grades": defaultdict(int)})
    for m in members:
        s = sectors[m["sector"]]
        s["members"] += 1
        s["total"] += m["total"]
        s["grades"][m["grade"]["code"]] += 1
    by_sector = [
        {
            "sector": name,
            "members": s["members"],
            "total": s["total"],
            "average": round(s["total"] / s["members"], 2),
            "grades": dict(s["grades"]),
        }
        for name, s in sorted(sectors.items())
    ]
    by_activity = [
        {"activity": a or "correction", "entries": n, "points": p}
        for a, n, p in uow.points.totals_by_activity(starts, ends)
    ]
    by_period = defaultdict(int)
    for day, points in uow.points.points_by_day(starts, ends):
        by_period[spans.quarter_of(day)] += points
    return {
        "period": {"key": key, "kind": kind, "starts": starts.isoformat(), "ends": ends.isoformat()},
        "rulebook": {"term": book.term, "version": book.version, "hash": book.content_hash},
        "by_member": members,
        "by_sector": by_sector,
        "by_activity": by_activity,
        "by_period": [{"period": k, "points": v} for k, v in sorted(by_period.items())],
    }
