"""The ports intake's domain code works through: its repositories (the unit of work that carries them is in ``unit_of_work``).

:class:`IntakeUnitOfWork` is one business transaction of intake: ``proposals`` and ``opinions`` are
its repositories (the reads and writes of proposals and opinion items, named as the rules speak of
them), and what leaves the service (events, notifications, BPMN messages, process starts) goes out
through it too (``shared.unit_of_work``). Rows are the model classes of ``models``; the domain never
builds a query or touches a session. The SQLAlchemy adapters are in ``sql``; the unit tier's
in-memory fakes in ``tests/unit/services/intake/fakes.py``.

A ``lock=True`` read holds the row until the unit of work ends (``SELECT … FOR UPDATE``): what is
decided on it (the last co-signer, a filing decision) is decided once.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.db import Counted

from .models import (
    Conversion,
    Submission,
    Notification,
    OpinionCheck,
    OpinionEvent,
    OpinionForward,
    OpinionInstruction,
    OpinionIssue,
    OpinionItem,
    OpinionReport,
    Proposal,
    ProposalEvent,
    Publication,
)

# Proposals no other is compared with for duplicates: nothing is merged into them (nor into one
# whose process an operator cancelled: it is handled no further).
NOT_COMPARED = ("merged", "not_filed", "cancelled")


class ProposalRepository(abc.ABC):
    # -- writes ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def add(self, proposal: Proposal) -> None:
        """A new proposal with its co-signers (its id once the unit of work flushes)."""

    @abc.abstractmethod
    def add_event(self, event: ProposalEvent) -> None:
        """A line of a proposal's history."""

    @abc.abstractmethod
    def add_notifications(self, rows: list[Notification]) -> None:
        """What a proposal's people are told, one row a recipient; each row has its id once added."""

    @abc.abstractmethod
    def add_conversion(self, row: Conversion) -> None:
        """What a proposal not filed was converted to."""

    @abc.abstractmethod
    def add_publication(self, row: Publication) -> None:
        """A proposal as published, masked."""

    @abc.abstractmethod
    def add_submission(self, row: Submission) -> None:
        """A submission of the smoke diagram (its id once flushed)."""

    @abc.abstractmethod
    def next_sequence(self, year: int) -> int:
        """The next proposal number of ``year``, without gaps (a rolled back unit gives it back)."""

    # -- one proposal --------------------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, proposal_id: int, lock: bool = False) -> Proposal | None:
        """The proposal with id ``proposal_id``."""

    @abc.abstractmethod
    def by_number(self, number: str, lock: bool = False) -> Proposal | None:
        """The proposal numbered ``number``."""

    @abc.abstractmethod
    def by_reference(self, initiator: str, reference: str) -> Proposal | None:
        """The proposal ``initiator`` submitted with the idempotency key ``reference``."""

    @abc.abstractmethod
    def publication_of(self, proposal: Proposal) -> Publication | None:
        """The proposal as published, if it was."""

    @abc.abstractmethod
    def events_of(self, proposal: Proposal, action: str | None = None) -> list[ProposalEvent]:
        """Its history (the lines of ``action`` only, if given), oldest first."""

    def lines_of(self, proposal: Proposal, action: str) -> list[dict]:
        """The data of its history lines of ``action``, oldest first (an empty dict for a line
        without): for a caller that only looks at them, without a line object for each."""
        return [line.data or {} for line in self.events_of(proposal, action)]

    # -- several ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def merged_into(self, number: str) -> list[Proposal]:
        """The proposals merged into proposal ``number``, in the order they were submitted."""

    @abc.abstractmethod
    def of_thread(self, thread: str) -> list[Proposal]:
        """The proposals of case thread ``thread``, oldest first."""

    @abc.abstractmethod
    def of_proposer(self, user: str) -> list[Proposal]:
        """Those ``user`` initiated or co-signs (not dropped off), by year and number."""

    @abc.abstractmethod
    def published_not_of(self, user: str | None) -> list[Publication]:
        """The publications of published proposals ``user`` does not propose (all, for None), by
        year and number."""

    @abc.abstractmethod
    def every(self) -> list[Proposal]:
        """Every proposal, by year and number."""

    @abc.abstractmethod
    def proposal_page(self, offset: int, limit: int, scope: str, user: str | None) -> tuple[Counted, list[Proposal]]:
        """``limit`` proposals from ``offset``, newest first (by year and number, descending), of
        ``scope``: ``every`` proposal, ``user``'s ``own`` (initiated or co-signed, not dropped) or
        those ``visible`` to them (their own and every published one); with how many in all."""

    @abc.abstractmethod
    def titles(self) -> list[tuple[str, str]]:
        """Every proposal's ``(number, title)``, by year and number."""

    @abc.abstractmethod
    def title_candidates(self, grams: list[str], least: int) -> list[int]:
        """The ids of every proposal whose title has at least ``least`` of the bigrams ``grams``
        (the title index, ``similarity.bigrams`` of each title), in no order."""

    @abc.abstractmethod
    def titles_by_id(self, ids: list[int]) -> dict[int, tuple[str, str]]:
        """``{id: (number, title)}`` of the proposals ``ids``."""

    @abc.abstractmethod
    def duplicate_candidates(
        self, proposal: Proposal, words: list[str], threshold: float
    ) -> Iterable[tuple[str, str, str, str | None]]:
        """``(number, title, suggestions, bigrams)`` of the other proposals of ``proposal``'s year
        (not merged, not filed) that may score ``threshold`` against its bigrams ``words``: a
        superset, the caller scores them exactly. ``bigrams`` is the stored
        ``similarity.match_text`` of title and suggestions (None where it is not kept)."""

    # -- a year's figures -------------------------------------------------------------------------
    @abc.abstractmethod
    def filed_of_year(self, year: int) -> list[Proposal]:
        """The proposals of ``year`` decided ``filed`` and not cancelled since, by number."""

    @abc.abstractmethod
    def of_year(self, year: int) -> list[Proposal]:
        """The proposals of ``year`` a report counts (not dropped), by number, with co-signers."""

    @abc.abstractmethod
    def year_counts(self, year: int) -> dict[str, Any]:
        """What a year's report counts of ``year``'s proposals (not dropped), counted by the
        database: ``received``, ``merged``, ``decisions`` (decision or None -> how many),
        ``not_filed_reasons`` (reason code -> how many not filed for it), ``conversions``
        (``opinion``/``letter`` -> how many), ``areas`` (as :meth:`area_decisions`), ``answered``
        (how many have an answer published or declined), ``categories`` (reply category -> how
        many), ``lead_units`` (the answer's first unit -> how many) and ``cancelled`` (decision or
        None -> how many of those its process was cancelled, status ``cancelled``)."""

    @abc.abstractmethod
    def year_page(self, year: int, published_only: bool, offset: int, limit: int) -> tuple[Counted, list[Proposal]]:
        """How many proposals of ``year`` a report lists (not dropped; with ``published_only``,
        those with a publication) and ``limit`` of them after the first ``offset``, by number,
        with co-signers."""

    @abc.abstractmethod
    def area_decisions(self, year: int) -> dict[tuple[str | None, str | None], int]:
        """How many proposals of ``year`` a report counts there are of each ``(area, decision)``."""

    @abc.abstractmethod
    def answers_of(self, proposal_ids: list[int]) -> list[tuple[int, dict | None]]:
        """``(proposal id, data)`` of the ``published`` and ``publication_declined`` lines of
        the proposals ``proposal_ids``, oldest first."""

    @abc.abstractmethod
    def publications_of(self, proposal_ids: list[int]) -> list[Publication]:
        """The publications of the proposals ``proposal_ids``."""

    @abc.abstractmethod
    def published_page(
        self, year: int | None, offset: int, limit: int
    ) -> tuple[int, list[tuple[Publication, Proposal]]]:
        """How many proposals are published (of ``year``, if given) and a page of them, by year and number."""


class OpinionRepository(abc.ABC):
    # -- writes ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def add(self, item: OpinionItem) -> None:
        """A new opinion item (its id once the unit of work flushes)."""

    @abc.abstractmethod
    def add_event(self, event: OpinionEvent) -> None:
        """A line of an item's history."""

    @abc.abstractmethod
    def add_check(self, row: OpinionCheck) -> None:
        """One of the four checks of an editing round."""

    @abc.abstractmethod
    def add_issue(self, row: OpinionIssue) -> None:
        """A channel's issue an item is reported in (its id once flushed)."""

    @abc.abstractmethod
    def add_report(self, row: OpinionReport) -> None:
        """An item reported to a channel in an issue."""

    @abc.abstractmethod
    def add_instruction(self, row: OpinionInstruction) -> None:
        """A leader's instruction on an adopted report (its id once flushed)."""

    @abc.abstractmethod
    def add_forward(self, row: OpinionForward) -> None:
        """An item forwarded to a department."""

    @abc.abstractmethod
    def next_item_sequence(self, year: int) -> int:
        """The next item number of ``year``, without gaps."""

    @abc.abstractmethod
    def next_issue_sequence(self, channel: str, year: int) -> int:
        """The next issue number of channel ``channel`` in ``year``, without gaps."""

    # -- one item ------------------------------------------------------------------------------------
    @abc.abstractmethod
    def get(self, item_id: int, lock: bool = False) -> OpinionItem | None:
        """The item with id ``item_id``."""

    @abc.abstractmethod
    def by_number(self, number: str, lock: bool = False) -> OpinionItem | None:
        """The item numbered ``number``."""

    @abc.abstractmethod
    def by_reference(self, submitter: str, reference: str) -> OpinionItem | None:
        """The item ``submitter`` sent with the idempotency key ``reference``."""

    @abc.abstractmethod
    def from_case(self, thread: str, case_number: str) -> OpinionItem | None:
        """The item opened in ``thread`` from micro-consultation case ``case_number``."""

    @abc.abstractmethod
    def converted_to(self, proposal_number: str) -> OpinionItem | None:
        """The item that became proposal ``proposal_number``."""

    @abc.abstractmethod
    def events_of(self, item: OpinionItem) -> list[OpinionEvent]:
        """Its history, oldest first."""

    @abc.abstractmethod
    def last_check_round(self, item: OpinionItem) -> int:
        """The last editing round of ``item`` (0: never edited)."""

    @abc.abstractmethod
    def reports_of(self, item: OpinionItem) -> list[OpinionReport]:
        """Its reports, in the order they were made, with their issues."""

    @abc.abstractmethod
    def forwards_of(self, item: OpinionItem) -> list[OpinionForward]:
        """The departments it was forwarded to, in that order."""

    @abc.abstractmethod
    def details_of(self, items: list[OpinionItem]) -> dict[int, dict[str, list[Any]]]:
        """By item id: ``{checks, reports, instructions, forwards}`` of each of ``items``, in order
        (checks by round), read for the whole list at once."""

    # -- several ---------------------------------------------------------------------------------
    @abc.abstractmethod
    def of_thread(self, thread: str) -> list[OpinionItem]:
        """The items of case thread ``thread``, oldest first."""

    @abc.abstractmethod
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
        """How many items there are and ``limit`` of them from ``offset``, newest first (by year
        and number, descending): of ``status``; with an adopted report no leader instructed on
        yet (and not cancelled: it takes no instruction); forwarded to unit ``forwarded_to``; sent in by ``submitter`` (or, with ``published``,
        of one of those statuses) — each if given; ``without_drafts``: no item still ``saved`` (a
        draft is its submitter's alone)."""

    @abc.abstractmethod
    def editing_flags(self, numbers: list[str]) -> list[tuple[str, bool, datetime | None]]:
        """``(number, urgent, submitted_at)`` of the items numbered ``numbers``."""

    @abc.abstractmethod
    def submitted_areas(self, year: int) -> list[tuple[int, str | None]]:
        """``(id, area)`` of each item of ``year`` that was sent in."""

    @abc.abstractmethod
    def adopted_among(self, item_ids: list[int]) -> set[int]:
        """Those of ``item_ids`` a recipient adopted."""

    @abc.abstractmethod
    def adopted_reports_of_year(self, year: int, publishable_only: bool) -> list[OpinionReport]:
        """The adopted reports of ``year``'s items (marked publishable, if asked), by item and channel."""

    @abc.abstractmethod
    def items(self, item_ids: list[int]) -> list[OpinionItem]:
        """The items with ids ``item_ids``."""

    @abc.abstractmethod
    def instructions_of(self, item_ids: list[int]) -> list[OpinionInstruction]:
        """The leaders' instructions on those items, in the order they were recorded."""
