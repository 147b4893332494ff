"""Finding opinion items, numbering them and their issues, and appending to what happened to them."""

from __future__ import annotations

from sqlalchemy import and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from shared import clock
from shared.errors import NotFound
from shared.messaging.outbox import notify as notify_people, publish_event

from .models import (
    OpinionCheck,
    OpinionCounter,
    OpinionEvent,
    OpinionForward,
    OpinionInstruction,
    OpinionIssueCounter,
    OpinionItem,
    OpinionReport,
    Outbox,
)


def next_in(session, counter, keys: dict) -> int:
    """The next number of the counter row ``keys``, taken in the session's transaction (see
    ``numbering``: concurrent transactions queue on the row; a rollback gives the number back)."""
    where = and_(*(getattr(counter, k) == v for k, v in keys.items()))

    def increment():
        return session.execute(
            update(counter).where(where).values(last=counter.last + 1).returning(counter.last)
        ).scalar_one_or_none()

    taken = increment()
    if taken is not None:
        return taken
    try:
        with session.begin_nested():
            session.execute(insert(counter).values(**keys, last=1))
        return 1
    except IntegrityError:
        return increment()


def next_item_number(session, rulebook, year: int) -> tuple[int, str]:
    sequence = next_in(session, OpinionCounter, {"year": year})
    return sequence, f"{rulebook.rules['numbering']['prefix']}-{year}-{sequence:04d}"


def next_issue_number(session, rulebook, channel, year: int) -> tuple[int, str]:
    """``市委-2027-003``: one sequence per channel per year."""
    sequence = next_in(session, OpinionIssueCounter, {"channel": channel.code, "year": year})
    digits = rulebook.rules["numbering"]["issue_digits"]
    return sequence, f"{channel.zh}-{year}-{sequence:0{digits}d}"


def by_number(session, number: str, lock: bool = False) -> OpinionItem | None:
    query = select(OpinionItem).where(OpinionItem.number == number)
    return session.scalar(query.with_for_update() if lock else query)


def by_id(session, item_id: int, lock: bool = False) -> OpinionItem:
    item = session.get(OpinionItem, item_id, with_for_update=lock or None)
    if item is None:
        raise NotFound(f"there is no opinion item with id {item_id}")
    return item


def not_found(number: str) -> NotFound:
    return NotFound(f"there is no opinion item {number}")


def record(session, item: OpinionItem, actor: str, action: str, data: dict | None = None) -> None:
    session.add(OpinionEvent(item_id=item.id, at=clock.now(), actor=actor, action=action, data=data))


def members_of(item: OpinionItem) -> list[dict]:
    """Who an item's events concern for points: its submitter, if a member (informants earn none)."""
    return [{"member": item.submitter, "role": "author"}] if item.submitter_role == "member" else []


def event(session, item: OpinionItem, name: str, key: str, payload: dict) -> None:
    """A domain event (``docs/events.md``), sent if the caller's transaction commits."""
    publish_event(
        session,
        Outbox,
        name,
        f"{name}:{item.number}{':' + key if key else ''}",
        item.number,
        thread=item.thread,
        members=members_of(item),
        payload={
            "number": item.number,
            "submitter": item.submitter,
            "submitter_role": item.submitter_role,
            "origin_case": item.origin_case,
            **payload,
        },
    )


def tell(
    session, item: OpinionItem, step: str, key: str, title: str, text: str = "", recipients: list[str] | None = None
) -> None:
    """Feedback (馈): ``notify.opinion.<step>`` to the submitter (or ``recipients``)."""
    notify_people(
        session,
        Outbox,
        f"opinion.{step}",
        f"notify.opinion.{step}:{item.number}:{key}",
        item.number,
        recipients=recipients or [item.submitter],
        title=title,
        text=text,
        thread=item.thread,
    )


def details(session, item: OpinionItem) -> dict:
    """The item's checks, reports, instructions and forwards, for :class:`OpinionSchema`."""

    def rows(model, *order):
        return list(session.scalars(select(model).where(model.item_id == item.id).order_by(*order)))

    return {
        "checks": rows(OpinionCheck, OpinionCheck.round, OpinionCheck.id),
        "reports": rows(OpinionReport, OpinionReport.id),
        "instructions": rows(OpinionInstruction, OpinionInstruction.id),
        "forwards": rows(OpinionForward, OpinionForward.id),
    }


def details_of(session, items: list[OpinionItem]) -> dict[int, dict]:
    """:func:`details` of many items at once, by item id: a query per kind of row (and one for
    the reports' issues) for the whole list, not four an item (a year holds ~2,000 items)."""
    found = {item.id: {"checks": [], "reports": [], "instructions": [], "forwards": []} for item in items}
    ids = list(found)
    kinds = (
        ("checks", OpinionCheck, (OpinionCheck.round, OpinionCheck.id)),
        ("reports", OpinionReport, (OpinionReport.id,)),
        ("instructions", OpinionInstruction, (OpinionInstruction.id,)),
        ("forwards", OpinionForward, (OpinionForward.id,)),
    )
    for start in range(0, len(ids), 500):  # within every database's limit of bound parameters
        chunk = ids[start : start + 500]
        for key, model, order in kinds:
            query = select(model).where(model.item_id.in_(chunk)).order_by(*order)
            if model is OpinionReport:
                query = query.options(selectinload(OpinionReport.issue))
            for row in session.scalars(query):
                found[row.item_id][key].append(row)
    return found


def events_of(session, item: OpinionItem) -> list[OpinionEvent]:
    return list(session.scalars(select(OpinionEvent).where(OpinionEvent.item_id == item.id).order_by(OpinionEvent.id)))
