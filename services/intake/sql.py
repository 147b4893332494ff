"""The SQLAlchemy adapters of intake's ports (``repository``): its repositories over the worker's
session, and :class:`SqlIntakeUnitOfWork`, which the service builds from ``self.db.session``.

Numbers (proposals', opinion items', issues') come from counter rows incremented in the unit's
transaction: concurrent transactions queue on the row (PostgreSQL's row lock, SQLite's write lock)
instead of reading the same ``max()``, and a rollback gives the number back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, exists, false, func, insert, or_, select, union, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from shared.db import Counted, counted_page

from . import duplicate_index
from .models import (
    Conversion,
    Cosigner,
    Notification,
    OpinionCheck,
    OpinionCounter,
    OpinionEvent,
    OpinionForward,
    OpinionInstruction,
    OpinionIssue,
    OpinionIssueCounter,
    OpinionItem,
    OpinionReport,
    Proposal,
    ProposalCounter,
    ProposalEvent,
    ProposalTitleGram,
    Publication,
    Submission,
)
from .repository import NOT_COMPARED, OpinionRepository, ProposalRepository

# Ids per query read by id: within both databases' limits on bound values.
_IDS_PER_QUERY = 5000

_ORDERED = (Proposal.year, Proposal.sequence)


def next_in(session: Session, counter: Any, keys: dict[str, object]) -> int:
    """The next number of the counter row ``keys``, taken in the session's transaction."""
    where = and_(*(getattr(counter, k) == v for k, v in keys.items()))

    def increment() -> int | None:
        return session.execute(
            update(counter).where(where).values(last=counter.last + 1).returning(counter.last)
        ).scalar_one_or_none()

    taken = increment()
    if taken is not None:
        return taken
    try:
        with session.begin_nested():  # the first number of its kind: open the counter
            session.execute(insert(counter).values(**keys, last=1))
        return 1
    except IntegrityError:
        # Another transaction opened the counter first (and has committed, or we would still wait).
        taken = increment()
        assert taken is not None
        return taken


def _of_year(year: int) -> tuple[Any, ...]:
    """The proposals a year's report counts, as conditions on ``Proposal``."""
    return (Proposal.year == year, Proposal.status != "dropped")


_NOTIFICATION_COLUMNS = ("recipient", "proposal_id", "text", "created_at", "delivered_at")
_ADD_NOTIFICATIONS = insert(Notification.__table__).returning(Notification.__table__.c.id, sort_by_parameter_order=True)


_LINES_OF = (
    select(ProposalEvent.data)
    .where(ProposalEvent.proposal_id == bindparam("proposal_id"), ProposalEvent.action == bindparam("action"))
    .order_by(ProposalEvent.id)
)


class SqlProposalRepository(ProposalRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, proposal: Proposal) -> None:
        self.session.add(proposal)

    def add_event(self, event: ProposalEvent) -> None:
        self.session.add(event)

    def add_notifications(self, rows: list[Notification]) -> None:
        # One Core insert of the rows, their ids returned in the order given: the notice names its
        # first row's id, and flushing the unit of work (every pending change) to learn it cost a
        # notice more than the statement itself.
        if not rows:
            return
        params = [{column: getattr(row, column) for column in _NOTIFICATION_COLUMNS} for row in rows]
        with self.session.no_autoflush:  # the rows need nothing pending: it is flushed at the commit
            ids = self.session.execute(_ADD_NOTIFICATIONS, params).scalars().all()
        for row, row_id in zip(rows, ids, strict=True):
            row.id = row_id

    def add_conversion(self, row: Conversion) -> None:
        self.session.add(row)

    def add_publication(self, row: Publication) -> None:
        self.session.add(row)

    def add_submission(self, row: Submission) -> None:
        self.session.add(row)

    def next_sequence(self, year: int) -> int:
        return next_in(self.session, ProposalCounter, {"year": year})

    def get(self, proposal_id: int, lock: bool = False) -> Proposal | None:
        return self.session.get(Proposal, proposal_id, with_for_update=lock or None)

    def by_number(self, number: str, lock: bool = False) -> Proposal | None:
        query = select(Proposal).where(Proposal.number == number)
        return self.session.scalar(query.with_for_update() if lock else query)

    def by_reference(self, initiator: str, reference: str) -> Proposal | None:
        return self.session.scalar(
            select(Proposal).where(Proposal.initiator == initiator, Proposal.client_reference == reference)
        )

    def publication_of(self, proposal: Proposal) -> Publication | None:
        return self.session.scalar(select(Publication).where(Publication.proposal_id == proposal.id))

    def events_of(self, proposal: Proposal, action: str | None = None) -> list[ProposalEvent]:
        query = select(ProposalEvent).where(ProposalEvent.proposal_id == proposal.id)
        if action is not None:
            query = query.where(ProposalEvent.action == action)
        return list(self.session.scalars(query.order_by(ProposalEvent.id)))

    def lines_of(self, proposal: Proposal, action: str) -> list[dict]:
        # One statement built once, its data column only: a handling event reads every handling
        # line of its proposal, and a line object for each cost more than the read.
        return [data or {} for data in self.session.scalars(_LINES_OF, {"proposal_id": proposal.id, "action": action})]

    def merged_into(self, number: str) -> list[Proposal]:
        return list(self.session.scalars(select(Proposal).where(Proposal.merged_into == number).order_by(Proposal.id)))

    def of_thread(self, thread: str) -> list[Proposal]:
        query = select(Proposal).where(Proposal.thread == thread).order_by(Proposal.created_at, Proposal.id)
        return list(self.session.scalars(query))

    def _own(self, user: str | None) -> Any:
        """``user`` initiated the proposal or co-signs it (and has not dropped off). The ids come
        from the two indexes (``proposals.initiator``, ``cosigners.user``): a member's few, not a
        test of every proposal (an ``OR`` with a correlated ``EXISTS`` read all of them)."""
        if user is None:
            return false()
        return Proposal.id.in_(
            union(
                select(Proposal.id).where(Proposal.initiator == user),
                select(Cosigner.proposal_id).where(Cosigner.user == user, Cosigner.status != "dropped"),
            )
        )

    def of_proposer(self, user: str) -> list[Proposal]:
        # Their co-signers in one more query, not one a proposal (a year's list is ~800 of them).
        query = select(Proposal).options(selectinload(Proposal.cosigners)).where(self._own(user)).order_by(*_ORDERED)
        return list(self.session.scalars(query))

    def published_not_of(self, user: str | None) -> list[Publication]:
        query = (
            select(Publication)
            .join(Proposal, Publication.proposal_id == Proposal.id)
            .where(Proposal.status == "published", ~self._own(user))
            .order_by(*_ORDERED)
        )
        return list(self.session.scalars(query))

    def proposal_page(self, offset: int, limit: int, scope: str, user: str | None) -> tuple[Counted, list[Proposal]]:
        where = {
            "every": (),
            "own": (self._own(user),),
            "visible": (or_(self._own(user), Proposal.status == "published"),),
        }[scope]
        newest = [column.desc() for column in _ORDERED]
        return counted_page(self.session, Proposal, where, newest, offset, limit, (selectinload(Proposal.cosigners),))

    def every(self) -> list[Proposal]:
        return list(
            self.session.scalars(select(Proposal).options(selectinload(Proposal.cosigners)).order_by(*_ORDERED))
        )

    def titles(self) -> list[tuple[str, str]]:
        return [(n, t) for n, t in self.session.execute(select(Proposal.number, Proposal.title).order_by(*_ORDERED))]

    def title_candidates(self, grams: list[str], least: int) -> list[int]:
        if not grams or least > len(grams):
            return []
        index = ProposalTitleGram
        # The ids alone, from the index only; the titles are read by id after (joined here,
        # PostgreSQL's planner chose to read every proposal for a hash join).
        query = select(index.proposal_id).where(index.gram.in_(grams)).group_by(index.proposal_id)
        return list(self.session.scalars(query.having(func.count() >= least)))

    def titles_by_id(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        found = {}
        for at in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[at : at + _IDS_PER_QUERY]
            query = select(Proposal.id, Proposal.number, Proposal.title).where(Proposal.id.in_(chunk))
            found.update({pid: (number, title) for pid, number, title in self.session.execute(query)})
        return found

    def duplicate_candidates(
        self, proposal: Proposal, words: list[str], threshold: float
    ) -> Iterable[tuple[str, str, str, str | None]]:
        where = (Proposal.id != proposal.id, Proposal.status.not_in(NOT_COMPARED))
        # The index answers those of the year that may reach the threshold; without one, the whole year is scored.
        found = duplicate_index.candidates(self.session, words, threshold, proposal.year, where)
        if found is None:
            query = select(*duplicate_index.COLUMNS).where(Proposal.year == proposal.year, *where)
            found = list(self.session.execute(query))
        return [(number, title, suggestions, words) for number, title, suggestions, words in found]

    def filed_of_year(self, year: int) -> list[Proposal]:
        query = (
            select(Proposal)
            .where(Proposal.year == year, Proposal.decision == "filed", Proposal.status != "cancelled")
            .order_by(Proposal.sequence)
        )
        return list(self.session.scalars(query))

    def of_year(self, year: int) -> list[Proposal]:
        query = (
            select(Proposal)
            .where(*_of_year(year))
            .options(selectinload(Proposal.cosigners))  # not one query per proposal
            .order_by(Proposal.sequence)
        )
        return list(self.session.scalars(query))

    def area_decisions(self, year: int) -> dict[tuple[str | None, str | None], int]:
        # Grouped in the order of ix_proposals_year_counts (year, decision, area, …): read from
        # the index alone, in order, with no sort.
        query = (
            select(Proposal.area, Proposal.decision, func.count())
            .where(*_of_year(year))
            .group_by(Proposal.decision, Proposal.area)
        )
        return {(area, decision): n for area, decision, n in self.session.execute(query)}

    def year_counts(self, year: int) -> dict[str, Any]:
        # One pass over the year's entries of ix_proposals_year_counts (it holds every column
        # counted, the answer's category and lead unit included, so no row is read and no
        # proposal's history is looked up), grouped in the index's order; summed here.
        groups = self.session.execute(
            select(
                Proposal.decision,
                Proposal.area,
                Proposal.reason_code,
                Proposal.merged_into,
                Proposal.status,
                Proposal.reply_category,
                Proposal.lead_unit,
                func.count(),
            )
            .where(*_of_year(year))
            .group_by(
                Proposal.decision,
                Proposal.area,
                Proposal.reason_code,
                Proposal.merged_into,
                Proposal.status,
                Proposal.reply_category,
                Proposal.lead_unit,
            )
        ).all()
        decisions: Counter[str | None] = Counter()
        reasons: Counter[str] = Counter()
        areas: Counter[tuple[str | None, str | None]] = Counter()
        categories: Counter[str] = Counter()
        lead_units: Counter[str] = Counter()
        cancelled: Counter[str | None] = Counter()
        merged = 0
        for decision, area, reason_code, merged_into, status, category, lead_unit, n in groups:
            decisions[decision] += n
            if status == "cancelled":
                cancelled[decision] += n
            areas[(area, decision)] += n
            if decision == "not_filed" and reason_code:
                reasons[reason_code] += n
            if merged_into is not None:
                merged += n
            if category is not None:
                categories[category] += n
                if lead_unit is not None:
                    lead_units[lead_unit] += n
        # Driven by the conversions (a few a year), each proposal looked up by its key, rather
        # than every proposal of the year probing for a conversion.
        conversions = self.session.execute(
            select(Conversion.kind, func.count())
            .where(exists().where(Proposal.id == Conversion.proposal_id, *_of_year(year)))
            .group_by(Conversion.kind)
        ).all()
        return {
            "received": sum(decisions.values()),
            "merged": merged,
            "decisions": dict(decisions),
            "not_filed_reasons": dict(reasons),
            "conversions": {kind: n for kind, n in conversions},
            "areas": dict(areas),
            "answered": sum(categories.values()),
            "categories": dict(categories),
            "lead_units": dict(lead_units),
            "cancelled": dict(cancelled),
        }

    def year_page(self, year: int, published_only: bool, offset: int, limit: int) -> tuple[Counted, list[Proposal]]:
        where = list(_of_year(year))
        if published_only:
            # Published is the status publish() gives with the publication row, and no later step
            # changes it: the year's other proposals are passed over in ix_proposals_year_counts,
            # and only the published ones are looked up among the publications.
            where += [Proposal.status == "published", exists().where(Publication.proposal_id == Proposal.id)]
        return counted_page(
            self.session, Proposal, where, _ORDERED, offset, limit, (selectinload(Proposal.cosigners),), exact=True
        )

    def answers_of(self, proposal_ids: list[int]) -> list[tuple[int, dict | None]]:
        # Two columns, not event objects; each proposal's publication lines found by
        # ix_proposal_events_proposal_action.
        if not proposal_ids:
            return []
        query = (
            select(ProposalEvent.proposal_id, ProposalEvent.data)
            .where(
                ProposalEvent.proposal_id.in_(proposal_ids),
                ProposalEvent.action.in_(("published", "publication_declined")),
            )
            .order_by(ProposalEvent.id)
        )
        return [(pid, data) for pid, data in self.session.execute(query)]

    def publications_of(self, proposal_ids: list[int]) -> list[Publication]:
        if not proposal_ids:
            return []
        return list(self.session.scalars(select(Publication).where(Publication.proposal_id.in_(proposal_ids))))

    def published_page(
        self, year: int | None, offset: int, limit: int
    ) -> tuple[int, list[tuple[Publication, Proposal]]]:
        where = [Proposal.status == "published"]
        if year is not None:
            where.append(Proposal.year == year)
        joined = select(Publication, Proposal).join(Proposal, Publication.proposal_id == Proposal.id).where(*where)
        total = self.session.scalar(select(func.count()).select_from(joined.subquery())) or 0
        rows = self.session.execute(joined.order_by(*_ORDERED).offset(offset).limit(limit)).all()
        return total, [(row, proposal) for row, proposal in rows]


class SqlOpinionRepository(OpinionRepository):
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, item: OpinionItem) -> None:
        self.session.add(item)

    def add_event(self, event: OpinionEvent) -> None:
        self.session.add(event)

    def add_check(self, row: OpinionCheck) -> None:
        self.session.add(row)

    def add_issue(self, row: OpinionIssue) -> None:
        self.session.add(row)

    def add_report(self, row: OpinionReport) -> None:
        self.session.add(row)

    def add_instruction(self, row: OpinionInstruction) -> None:
        self.session.add(row)

    def add_forward(self, row: OpinionForward) -> None:
        self.session.add(row)

    def next_item_sequence(self, year: int) -> int:
        return next_in(self.session, OpinionCounter, {"year": year})

    def next_issue_sequence(self, channel: str, year: int) -> int:
        return next_in(self.session, OpinionIssueCounter, {"channel": channel, "year": year})

    def get(self, item_id: int, lock: bool = False) -> OpinionItem | None:
        return self.session.get(OpinionItem, item_id, with_for_update=lock or None)

    def by_number(self, number: str, lock: bool = False) -> OpinionItem | None:
        query = select(OpinionItem).where(OpinionItem.number == number)
        return self.session.scalar(query.with_for_update() if lock else query)

    def by_reference(self, submitter: str, reference: str) -> OpinionItem | None:
        return self.session.scalar(
            select(OpinionItem).where(OpinionItem.submitter == submitter, OpinionItem.client_reference == reference)
        )

    def from_case(self, thread: str, case_number: str) -> OpinionItem | None:
        return self.session.scalar(
            select(OpinionItem).where(OpinionItem.thread == thread, OpinionItem.origin_case == case_number)
        )

    def converted_to(self, proposal_number: str) -> OpinionItem | None:
        return self.session.scalar(select(OpinionItem).where(OpinionItem.converted_to == proposal_number))

    def events_of(self, item: OpinionItem) -> list[OpinionEvent]:
        query = select(OpinionEvent).where(OpinionEvent.item_id == item.id).order_by(OpinionEvent.id)
        return list(self.session.scalars(query))

    def last_check_round(self, item: OpinionItem) -> int:
        return self.session.scalar(select(func.max(OpinionCheck.round)).where(OpinionCheck.item_id == item.id)) or 0

    def reports_of(self, item: OpinionItem) -> list[OpinionReport]:
        query = select(OpinionReport).where(OpinionReport.item_id == item.id).order_by(OpinionReport.id)
        return list(self.session.scalars(query))

    def forwards_of(self, item: OpinionItem) -> list[OpinionForward]:
        query = select(OpinionForward).where(OpinionForward.item_id == item.id).order_by(OpinionForward.id)
        return list(self.session.scalars(query))

    def details_of(self, items: list[OpinionItem]) -> dict[int, dict[str, list[Any]]]:
        # A query per kind of row (and one for the reports' issues) for the whole list, not four an
        # item (a year holds ~2,000 items).
        found: dict[int, dict[str, list[Any]]] = {
            item.id: {"checks": [], "reports": [], "instructions": [], "forwards": []} for item in items
        }
        ids = list(found)
        kinds: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
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
                for row in self.session.scalars(query):
                    found[row.item_id][key].append(row)
        return found

    def of_thread(self, thread: str) -> list[OpinionItem]:
        query = select(OpinionItem).where(OpinionItem.thread == thread).order_by(OpinionItem.created_at, OpinionItem.id)
        return list(self.session.scalars(query))

    def item_page(
        self,
        offset: int,
        limit: int,
        status: str | None = None,
        awaiting_instruction: bool = False,
        forwarded_to: str | None = None,
        submitter: str | None = None,
        published: tuple[str, ...] = (),
        without_drafts: bool = False,
    ) -> tuple[Counted, list[OpinionItem]]:
        where = []
        if status:
            where.append(OpinionItem.status == status)
        if without_drafts:
            where.append(OpinionItem.status != "saved")
        if awaiting_instruction:
            # Asked of each item as the page walks the items newest first (an EXISTS on the item's
            # reports, by their (item, channel) key), not as the set of every item ever adopted
            # and not instructed, gathered first: that set only grows with the years.
            instructed = exists().where(
                OpinionInstruction.item_id == OpinionReport.item_id, OpinionInstruction.channel == OpinionReport.channel
            )
            where.append(
                exists().where(
                    OpinionReport.item_id == OpinionItem.id, OpinionReport.adoption == "adopted", ~instructed
                )
            )
            # An item whose process an operator cancelled takes no instruction any more.
            where.append(OpinionItem.status != "cancelled")
        if forwarded_to is not None:
            where.append(OpinionItem.id.in_(select(OpinionForward.item_id).where(OpinionForward.unit == forwarded_to)))
        if submitter is not None:
            # Their own by the submitter index; with the published ones (a large share of every
            # year) a plain OR, so that the page walks the (year, sequence) index backwards and
            # stops at its rows instead of gathering and sorting every published item first.
            mine = OpinionItem.submitter == submitter
            where.append(or_(mine, OpinionItem.status.in_(published)) if published else mine)
        newest = (OpinionItem.year.desc(), OpinionItem.sequence.desc())
        return counted_page(self.session, OpinionItem, where, newest, offset, limit)

    def editing_flags(self, numbers: list[str]) -> list[tuple[str, bool, datetime | None]]:
        rows = self.session.execute(
            select(OpinionItem.number, OpinionItem.urgent, OpinionItem.submitted_at).where(
                OpinionItem.number.in_(list(numbers) or [""])
            )
        )
        return [(number, bool(urgent), submitted_at) for number, urgent, submitted_at in rows]

    def submitted_areas(self, year: int) -> list[tuple[int, str | None]]:
        rows = self.session.execute(
            select(OpinionItem.id, OpinionItem.area).where(
                OpinionItem.year == year, OpinionItem.submitted_at.is_not(None)
            )
        )
        return [(item_id, area) for item_id, area in rows]

    def adopted_among(self, item_ids: list[int]) -> set[int]:
        if not item_ids:
            return set()
        query = select(OpinionReport.item_id).where(
            OpinionReport.adoption == "adopted", OpinionReport.item_id.in_(item_ids)
        )
        return set(self.session.scalars(query))

    def adopted_reports_of_year(self, year: int, publishable_only: bool) -> list[OpinionReport]:
        query = (
            select(OpinionReport)
            .join(OpinionItem, OpinionItem.id == OpinionReport.item_id)
            .where(OpinionItem.year == year, OpinionReport.adoption == "adopted")
        )
        if publishable_only:
            query = query.where(OpinionReport.publishable.is_(True))
        return list(self.session.scalars(query.order_by(OpinionItem.sequence, OpinionReport.channel)))

    def items(self, item_ids: list[int]) -> list[OpinionItem]:
        if not item_ids:
            return []
        return list(self.session.scalars(select(OpinionItem).where(OpinionItem.id.in_(item_ids))))

    def instructions_of(self, item_ids: list[int]) -> list[OpinionInstruction]:
        if not item_ids:
            return []
        query = (
            select(OpinionInstruction).where(OpinionInstruction.item_id.in_(item_ids)).order_by(OpinionInstruction.id)
        )
        return list(self.session.scalars(query))
