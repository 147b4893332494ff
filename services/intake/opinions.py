"""征 collect: members and informants submit opinion items; who may read which item.

Each function takes the unit of work (``repository.IntakeUnitOfWork``), the rules where it needs
them and the caller's principal, authorises the caller itself, and
leaves committing to the caller: the item, its history, its events and the start of its process
are one transaction.

Who reads what: staff, the committee and leaders read every item; a member or an informant reads
their own; another member's item only once a recipient adopted it (as published: the submitter
masked) — before that, 403; a department (role ``unit``) reads only the items forwarded to it.
"""

from __future__ import annotations

from marshmallow import validate

from shared.contracts import field_types as fields

from shared import clock
from shared.calendar import local_date
from shared.errors import Conflict, Forbidden
from shared.rulebook import Rulebook
from shared.validation import PageQuery, load, made, page_answer, page_window

from .access import acting_user, reads_all
from .areas import check_area
from shared.masking import mask_name, mask_text
from .models import OpinionItem
from .opinion_records import (
    by_number,
    details,
    event,
    events_of,
    next_item_number,
    not_found,
    record,
    refuse_if_cancelled,
    tell,
)
from .opinion_schemas import (
    STATUS_ZH,
    EventSchema,
    OpinionDraftSchema,
    OpinionSchema,
    OpinionSubmissionCommand,
    PublicOpinionSchema,
    UnitOpinionSchema,
)
from .unit_of_work import IntakeUnitOfWork
from .rules import IntakeRules

PROCESS_ID = "opinion"
SUBMITTERS = ("member", "informant")
PUBLISHED = ("adopted", "forwarded", "not_handled", "handled")  # adopted by a recipient


def submitter_role(principal: dict | None) -> tuple[str, str]:
    user, roles = acting_user(principal)
    for role in SUBMITTERS:
        if role in roles:
            return user, role
    raise Forbidden("opinion items are submitted by members and informants (信息员)")


ITEM_FIELDS = (
    "number",
    "thread",
    "title",
    "situation",
    "analysis",
    "suggestion",
    "urgent",
    "area",
    "submitter",
    "submitter_role",
    "status",
    "not_adopted_reason",
    "origin_case",
    "converted_to",
    "created_at",
    "submitted_at",
)


def dump(uow: IntakeUnitOfWork, item: OpinionItem, with_history: bool = False, found: dict | None = None) -> dict:
    """The item as its readers see it; ``found``: its :func:`details`, read already for a list."""
    result = made(OpinionSchema).dump(
        {
            **{c: getattr(item, c) for c in ITEM_FIELDS},
            "status_zh": STATUS_ZH.get(item.status, item.status),
            **(found if found is not None else details(uow, item)),
        }
    )
    if with_history:
        result["history"] = made(EventSchema).dump(events_of(uow, item), many=True)
    return result


def public(uow: IntakeUnitOfWork, item: OpinionItem, found: dict | None = None) -> dict:
    reports = found if found is not None else details(uow, item)
    return made(PublicOpinionSchema).dump(
        {
            "number": item.number,
            "title": mask_text(item.title, [item.submitter]),
            "status": item.status,
            "status_zh": STATUS_ZH.get(item.status, item.status),
            "submitter": mask_name(item.submitter),
            "adopted_by": [r.channel for r in reports["reports"] if r.adoption == "adopted"],
            "instruction_levels": sorted({i.level for i in reports["instructions"]}),
        }
    )


def for_unit(uow: IntakeUnitOfWork, item: OpinionItem, unit: str, found: dict | None = None) -> dict:
    """The item as unit ``unit`` sees it, with its forward; ``found``: its details, read already for a list."""
    forwards = found["forwards"] if found is not None else uow.opinions.forwards_of(item)
    forward = next((f for f in forwards if f.unit == unit), None)
    return made(UnitOpinionSchema).dump(
        {
            **{k: getattr(item, k) for k in ("number", "title", "situation", "analysis", "suggestion", "status")},
            "forward": forward,
        }
    )


def create(
    uow: IntakeUnitOfWork,
    rulebook: Rulebook,
    *,
    submitter: str,
    role: str,
    content: dict,
    urgent: bool,
    thread: str | None,
    origin_case: str | None = None,
    reference: str | None = None,
) -> OpinionItem:
    now = clock.now()
    year = local_date(now).year
    sequence, number = next_item_number(uow, rulebook, year)
    item = OpinionItem(
        number=number,
        thread=thread or number,
        year=year,
        sequence=sequence,
        title=content["title"],
        situation=content["situation"],
        analysis=content["analysis"],
        suggestion=content["suggestion"],
        urgent=urgent,
        area=content.get("area"),
        submitter=submitter,
        submitter_role=role,
        status="saved",
        origin_case=origin_case,
        client_reference=reference,
        rulebook_version=rulebook.version,
        created_at=now,
    )
    uow.opinions.add(item)
    uow.flush()
    record(
        uow,
        item,
        submitter,
        "saved",
        {"rulebook": rulebook.version, "thread": item.thread, "origin_case": origin_case},
    )
    return item


def send_in(uow: IntakeUnitOfWork, item: OpinionItem, actor: str, principal: dict | None) -> None:
    """A saved item goes to the editors: its process starts, points hear ``opinion.submitted``."""
    item.status, item.submitted_at = "submitted", clock.now()
    record(uow, item, actor, "submitted", {"urgent": item.urgent})
    event(uow, item, "opinion.submitted", "", {"urgent": item.urgent})
    tell(
        uow,
        item,
        "received",
        "submitted",
        f"社情民意信息 {item.number}《{item.title}》已收到",
        "编辑审核后将告知您结果。" + ("已按急事急报优先处理。" if item.urgent else ""),
    )
    uow.start_process(
        command_id=f"opinion-{item.number}",
        process_id=PROCESS_ID,
        business_key=item.number,
        principal=principal,
        data={
            "item_id": item.id,
            "number": item.number,
            "thread": item.thread,
            "title": item.title,
            "urgent": item.urgent,
            "submitter": item.submitter,
        },
    )
    uow.flush()


def submit(
    uow: IntakeUnitOfWork, rules: IntakeRules, draft: dict, principal: dict, reference: str | None = None
) -> dict:
    """Record a member's or informant's item; submitted (unless ``submit`` is false: saved).

    ``reference``: the idempotency key (over HTTP the Idempotency-Key or one per request; over AMQP
    the command's reference). A repeat by the same submitter answers the item it made, as it is
    now; the repeat's body is not compared (the first wins)."""
    user, role = submitter_role(principal)
    if reference is not None:
        existing = uow.opinions.by_reference(user, reference)
        if existing is not None:
            return dump(uow, existing)
    rulebook = rules.opinion_rulebook()
    data = load(OpinionDraftSchema(limits=rulebook.rules["limits"]), draft, "the opinion item")
    check_area(rules, data["area"], "the opinion item")
    item = create(
        uow,
        rulebook,
        submitter=user,
        role=role,
        content=data,
        urgent=data["urgent"],
        thread=None,
        reference=reference,
    )
    if data["submit"]:
        send_in(uow, item, user, principal)
    return dump(uow, item)


def submit_saved(uow: IntakeUnitOfWork, number: str, principal: dict) -> dict:
    user, _ = submitter_role(principal)
    item = by_number(uow, number, lock=True)
    if item is None:
        raise not_found(number)
    if item.submitter != user:
        raise Forbidden(f"only the submitter of opinion item {number} submits it")
    refuse_if_cancelled(uow, item, "submission")
    if item.status != "saved":
        raise Conflict(f"opinion item {number} is {item.status}; only a saved item is submitted")
    send_in(uow, item, user, principal)
    return dump(uow, item)


def app_principal(sender) -> dict:
    """The member or informant whose app sent a submission: its broker user (``<prefix>member-<user>``
    or ``<prefix>informant-<user>``), as RabbitMQ validated it in the AMQP ``user_id``."""
    if getattr(sender, "kind", None) not in SUBMITTERS:
        who = sender.describe() if sender is not None else "an unknown sender"
        raise Forbidden(
            f"an opinion item from {who}: apps submit with the member's or informant's own broker user and its user_id",
            {"user_id": [f"expected a member's or informant's broker user, got {who}"]},
        )
    return {"user": sender.name, "roles": [sender.kind], "unit": None}


def submit_command(uow: IntakeUnitOfWork, rules: IntakeRules, body, sender) -> dict:
    """An item submitted over AMQP by the app of the member or informant ``sender`` (the broker-
    validated AMQP ``user_id``). A repeated ``reference`` of the same submitter is answered with the
    item it made; a refusal raises (and the message is dead-lettered with the reason)."""
    principal = app_principal(sender)
    command = load(
        OpinionSubmissionCommand, body if isinstance(body, dict) else {"_": body}, "the opinion submission command"
    )
    claimed = command.get("principal")
    if claimed is not None and (not isinstance(claimed, dict) or claimed.get("user") != principal["user"]):
        named = claimed.get("user") if isinstance(claimed, dict) else claimed
        raise Forbidden(
            f"the body names {named}, but "
            f"the item was sent by {principal['user']} ({sender.user}); an app submits for its own "
            "member or informant only",
            {"principal": ["must be the sender's, or left out"]},
        )
    user, _ = submitter_role(principal)
    existing = uow.opinions.by_reference(user, command["reference"])
    if existing is not None:
        return dump(uow, existing)
    return submit(uow, rules, command["item"], principal, reference=command["reference"])


def _forwarded_to(uow: IntakeUnitOfWork, item: OpinionItem, unit: str | None) -> bool:
    return unit is not None and any(f.unit == unit for f in uow.opinions.forwards_of(item))


def check_open(uow: IntakeUnitOfWork, number: str, principal: dict) -> dict:
    """Before a step of the item (editing, sign-off, forwarding) is handed to its process: one whose
    handling was cancelled is refused naming the cancellation (Conflict: when, by whom, why), as a
    command on it is; otherwise ``{number, status}``. Only who may read the item asks."""
    get(uow, number, principal)  # who may not read it is refused as a read is
    item = by_number(uow, number)
    assert item is not None  # read above
    refuse_if_cancelled(uow, item, "editing, sign-off or forwarding")
    return {"number": item.number, "status": item.status}


def get(uow: IntakeUnitOfWork, number: str, principal: dict) -> dict:
    user, roles = acting_user(principal)
    item = by_number(uow, number)
    if item is None:
        raise not_found(number)
    if item.submitter == user or (reads_all(roles) and item.status != "saved"):
        return dump(uow, item, with_history=True)
    if item.status == "saved":  # a draft is its submitter's alone: as if there were none
        raise not_found(number)
    if "unit" in roles:
        if _forwarded_to(uow, item, principal.get("unit")):
            return for_unit(uow, item, principal["unit"])
        raise Forbidden(f"opinion item {number} was not forwarded to your unit")
    if "member" in roles and item.status in PUBLISHED:
        return public(uow, item)
    raise Forbidden(f"opinion item {number} is another submitter's and not published")


class OpinionQuery(PageQuery):
    """What a page of the opinion items list asks: which page, how long, the caller's own only,
    one status, only those awaiting a leader's instruction."""

    mine = fields.Boolean(load_default=False)
    status = fields.String(load_default=None, validate=validate.OneOf(sorted(STATUS_ZH)))
    awaiting = fields.String(
        load_default=None,
        validate=validate.OneOf(["instruction"], error="only 'instruction' is known, not {input!r}"),
    )


def item_page(uow: IntakeUnitOfWork, principal: dict, query: dict | None = None) -> dict:
    """A page of the items the caller may read, newest first (by year and number), with how many
    there are in all: ``query`` holds ``page`` (from 1), ``per_page`` (1-200, default 50), ``mine``,
    ``status`` and ``awaiting`` (``instruction``: only items with a report adopted on a channel
    where no leader's instruction is recorded yet — the leaders' list; an item whose process was
    cancelled is not among them, it takes no instruction).

    Who reads what: staff, the committee, leaders every item but the drafts (``saved``: their
    submitters' alone; ``mine``: none of theirs are);
    members and informants their own, members with ``mine=false`` also the adopted items of
    others, as published; units the items forwarded to them. The database narrows and pages (a
    year holds thousands of items and every year stays readable)."""
    user, roles = acting_user(principal)
    data = load(OpinionQuery, dict(query or {}), "the opinion items list's query")
    narrowed: dict = {"status": data["status"], "awaiting_instruction": data["awaiting"] == "instruction"}
    if "unit" in roles and not reads_all(roles):
        unit = principal.get("unit")
        if unit is None:
            return page_answer(data, 0, [])
        narrowed["forwarded_to"] = unit

        def shown(item: OpinionItem, found: dict) -> dict:
            return for_unit(uow, item, unit, found)

    elif reads_all(roles) and not data["mine"]:
        narrowed["without_drafts"] = True  # a draft is its submitter's alone

        def shown(item: OpinionItem, found: dict) -> dict:
            return dump(uow, item, found=found)

    elif set(SUBMITTERS) & roles or reads_all(roles):
        narrowed["submitter"] = user
        if not data["mine"] and "member" in roles:
            narrowed["published"] = PUBLISHED

        def shown(item: OpinionItem, found: dict) -> dict:
            return dump(uow, item, found=found) if item.submitter == user else public(uow, item, found)

    else:
        raise Forbidden("opinion items are read by their submitters, staff, the committee, leaders and units")
    total, items = uow.opinions.item_page(*page_window(data), **narrowed)
    found = uow.opinions.details_of(items)
    return page_answer(data, total, [shown(item, found[item.id]) for item in items])


def editing_flags(uow: IntakeUnitOfWork, rules: IntakeRules, numbers: list[str], principal: dict) -> dict:
    """For the editors' task list (急事急报 first): each item's urgency and submission time."""
    _, roles = acting_user(principal)
    if not reads_all(roles):
        raise Forbidden("the editors' task list is for staff, the committee and leaders")
    rows = uow.opinions.editing_flags(list(numbers))
    urgent_first = rules.opinion_rulebook().rules["urgent_first"]
    return {
        "urgent_first": urgent_first,
        "items": {n: {"urgent": bool(u), "submitted_at": s.isoformat() if s else None} for n, u, s in rows},
    }
