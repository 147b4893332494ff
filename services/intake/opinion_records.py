"""Finding opinion items, numbering them and their issues, and appending to what happened to them."""

from __future__ import annotations

from shared import clock, contracts
from shared.errors import Conflict, NotFound
from shared.rulebook import Label, Rulebook

from .models import OpinionEvent, OpinionItem
from .unit_of_work import IntakeUnitOfWork


def next_item_number(uow: IntakeUnitOfWork, rulebook: Rulebook, year: int) -> tuple[int, str]:
    sequence = uow.opinions.next_item_sequence(year)
    return sequence, f"{rulebook.rules['numbering']['prefix']}-{year}-{sequence:04d}"


def next_issue_number(uow: IntakeUnitOfWork, rulebook: Rulebook, channel: Label, year: int) -> tuple[int, str]:
    """``市委-2027-003``: one sequence per channel per year."""
    sequence = uow.opinions.next_issue_sequence(channel.code, year)
    digits = rulebook.rules["numbering"]["issue_digits"]
    return sequence, f"{channel.zh}-{year}-{sequence:0{digits}d}"


def by_number(uow: IntakeUnitOfWork, number: str, lock: bool = False) -> OpinionItem | None:
    return uow.opinions.by_number(number, lock=lock)


def by_id(uow: IntakeUnitOfWork, item_id: int, lock: bool = False) -> OpinionItem:
    item = uow.opinions.get(item_id, lock=lock)
    if item is None:
        raise NotFound(f"there is no opinion item with id {item_id}")
    return item


def not_found(number: str) -> NotFound:
    return NotFound(f"there is no opinion item {number}")


def record(uow: IntakeUnitOfWork, item: OpinionItem, actor: str, action: str, data: dict | None = None) -> None:
    uow.opinions.add_event(OpinionEvent(item_id=item.id, at=clock.now(), actor=actor, action=action, data=data))


def members_of(item: OpinionItem) -> list[dict]:
    """Who an item's events concern for points: its submitter, if a member (informants earn none)."""
    return [{"member": item.submitter, "role": "author"}] if item.submitter_role == "member" else []


def event(uow: IntakeUnitOfWork, item: OpinionItem, name: str, key: str, payload: dict) -> None:
    """A domain event (``docs/events.md``), sent if the unit of work commits."""
    uow.publish_event(
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
    uow: IntakeUnitOfWork,
    item: OpinionItem,
    step: str,
    key: str,
    title: str,
    text: str = "",
    recipients: list[str] | None = None,
) -> None:
    """Feedback (馈): ``notify.opinion.<step>`` to the submitter (or ``recipients``)."""
    uow.notify(
        f"opinion.{step}",
        f"notify.opinion.{step}:{item.number}:{key}",
        item.number,
        recipients=recipients or [item.submitter],
        title=title,
        text=text,
        thread=item.thread,
    )


def details(uow: IntakeUnitOfWork, item: OpinionItem) -> dict:
    """The item's checks, reports, instructions and forwards, for :class:`OpinionSchema`."""
    return uow.opinions.details_of([item])[item.id]


def events_of(uow: IntakeUnitOfWork, item: OpinionItem) -> list[OpinionEvent]:
    return uow.opinions.events_of(item)


def refuse_if_cancelled(uow: IntakeUnitOfWork, item: OpinionItem, what: str) -> None:
    """An item whose process an operator cancelled (status ``cancelled``) takes no more commands
    nor jobs: refused (``Conflict``) naming the cancellation — when, by whom, why — from its
    ``cancelled`` line; ``what``: what it takes no more of, in words."""
    if item.status != "cancelled":
        return
    line = next((e for e in reversed(events_of(uow, item)) if e.action == "cancelled"), None)
    data = (line.data or {}) if line is not None else {}
    stamp = data.get("occurred_at") or (line.at.isoformat() if line is not None else None)
    raise Conflict(
        f"the handling of opinion item {item.number} was cancelled on {clock.in_words(stamp or '?')} "
        f"by {data.get('by') or '?'} ({data.get('reason') or 'no reason recorded'}); it takes no more {what}",
        contracts.cancelled_details(data.get("by"), stamp, data.get("reason")),
    )
