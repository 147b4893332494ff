"""Intake: submissions and proposals (提案), their numbering, co-signers, filing and publication."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, false, inspect
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shared.db import make_base, UtcDateTime
from shared.messaging.models import messaging_models

from .similarity import as_words, bigrams

Base = make_base()
Outbox, Inbox = messaging_models(Base)


class Submission(Base):
    """A bare submission, recorded by the smoke diagram."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300))
    business_key: Mapped[str | None] = mapped_column(String(200), nullable=True, index=True)
    submitted_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProposalCounter(Base):
    """The last number given in a session year. Updated in the submitting transaction, so a
    rolled-back submission gives its number back and concurrent ones queue on the row lock."""

    __tablename__ = "proposal_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class Proposal(Base):
    __tablename__ = "proposals"
    __table_args__ = (
        UniqueConstraint("year", "sequence"),
        UniqueConstraint("initiator", "client_reference", name="uq_proposals_initiator_client_reference"),
        # What a year's report counts (decision, area, reason, merged, not dropped, the answer's
        # category and lead unit), so that the counts read this index alone, grouped in its order
        # (``sql.SqlProposalRepository.year_counts``; intake migration gq_answer_on_proposal).
        Index(
            "ix_proposals_year_counts",
            "year",
            "decision",
            "area",
            "reason_code",
            "merged_into",
            "status",
            "reply_category",
            "lead_unit",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # "2027-0001"
    # The identity a case keeps across channels (micro-consultation → opinion item → proposal);
    # a proposal submitted fresh is its own thread (its number).
    thread: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)  # the session year
    sequence: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # plenary | between_sessions
    title: Mapped[str] = mapped_column(String(200))
    situation: Mapped[str] = mapped_column(Text)
    analysis: Mapped[str] = mapped_column(Text)
    suggestions: Mapped[str] = mapped_column(Text)
    initiator: Mapped[str] = mapped_column(String(100), index=True)
    sector: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The 1533 model's area (a code of the proposal rulebook's ``areas``); the member may give it,
    # staff set or change it.
    area: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)
    publish_consent: Mapped[bool] = mapped_column(Boolean)
    no_publish_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The initiator consents to being named where the proposal is published; else masked there.
    publish_name: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(20), index=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # raised by each resubmission
    cosign_due: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # 立 register: the committee's filing decision
    decision: Mapped[str | None] = mapped_column(String(20), nullable=True)
    reason_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    reason_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    converted_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    converted_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    merged_into: Mapped[str | None] = mapped_column(String(20), nullable=True, index=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The submission's idempotency key (the HTTP Idempotency-Key, or one per HTTP request): the
    # same initiator submitting with the same key gets this proposal back, never a second one.
    client_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # The bigrams of title and suggestions (similarity.match_text), kept in step on every insert and
    # update below: what the duplicate index (pg_trgm GIN index, SQLite FTS5 table) is built on.
    match_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    # How many bigrams match_text holds, kept in step with it: the near-duplicate search takes from
    # the text index only the rows whose count can reach the threshold (similarity.size_range),
    # checked on each row the text index hands over (no index of its own: neither database's plan
    # used one, and every insert paid for it; migration gp_no_bigram_count_index).
    bigram_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The answer as last published or declined for publication (``publication.record_answer``,
    # beside its ``published`` / ``publication_declined`` line): its reply category and lead unit,
    # counted by the year's report from ix_proposals_year_counts alone instead of looking up every
    # proposal's history lines; NULL until answered.
    reply_category: Mapped[str | None] = mapped_column(String(20), nullable=True)
    lead_unit: Mapped[str | None] = mapped_column(Text, nullable=True)  # units are not length-bounded

    cosigners: Mapped[list[Cosigner]] = relationship(
        back_populates="proposal", order_by="Cosigner.order", cascade="all, delete-orphan"
    )


@event.listens_for(Proposal, "before_insert")
@event.listens_for(Proposal, "before_update")
def _keep_match_text(mapper, connection, proposal: Proposal) -> None:
    grams = bigrams(proposal.title, proposal.suggestions)
    text = as_words(grams)  # similarity.match_text, from the bigrams counted below too
    if proposal.match_text != text:
        proposal.match_text = text
    if proposal.bigram_count != len(grams):
        proposal.bigram_count = len(grams)


class ProposalTitleGram(Base):
    """The title index: one row per bigram of a proposal's title (``similarity.bigrams`` of the
    title alone, no boilerplate cut), kept in step on every insert and title change below. Routing
    suggestions find the past proposals whose titles share enough of a new title's bigrams here
    (``similar_titles``), instead of comparing it with every title there is."""

    __tablename__ = "proposal_title_grams"
    __table_args__ = (Index("ix_proposal_title_grams_proposal", "proposal_id"),)

    gram: Mapped[str] = mapped_column(String(8), primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"), primary_key=True)


def title_gram_rows(proposal_id: int, title: str) -> list[dict]:
    """The title index's rows of a proposal."""
    return [{"gram": gram, "proposal_id": proposal_id} for gram in sorted(bigrams(title))]


@event.listens_for(Proposal, "after_insert")
def _index_new_title(mapper, connection, proposal: Proposal) -> None:
    if rows := title_gram_rows(proposal.id, proposal.title):
        connection.execute(ProposalTitleGram.__table__.insert(), rows)


@event.listens_for(Proposal, "after_update")
def _index_changed_title(mapper, connection, proposal: Proposal) -> None:
    if not inspect(proposal).attrs.title.history.has_changes():
        return
    table = ProposalTitleGram.__table__
    connection.execute(table.delete().where(table.c.proposal_id == proposal.id))
    if rows := title_gram_rows(proposal.id, proposal.title):
        connection.execute(table.insert(), rows)


class Cosigner(Base):
    __tablename__ = "cosigners"
    __table_args__ = (UniqueConstraint("proposal_id", "user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    user: Mapped[str] = mapped_column(String(100), index=True)
    order: Mapped[int] = mapped_column(Integer)  # 1 = signs right after the initiator
    status: Mapped[str] = mapped_column(String(20))  # invited | confirmed | dropped | cancelled (its process was)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Consent, given when co-signing, to being named where the proposal is published (as the
    # initiator's Proposal.publish_name); without it the public sees the name masked.
    publish_name: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    proposal: Mapped[Proposal] = relationship(back_populates="cosigners")


class ProposalEvent(Base):
    """Append-only: every change to a proposal, who made it, when, with what data."""

    __tablename__ = "proposal_events"
    # A proposal's lines by its id (the history), and a year's answers: each proposal's publication
    # lines found in the index, not among all its lines (it replaced ix_proposal_events_proposal_id).
    __table_args__ = (Index("ix_proposal_events_proposal_action", "proposal_id", "action"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class Conversion(Base):
    """A not-filed proposal turned into an opinion item or a letter, waiting to be forwarded."""

    __tablename__ = "conversions"
    __table_args__ = (UniqueConstraint("proposal_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # opinion | letter
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Notification(Base):
    """Something a person must be told about a proposal; the gateway delivers it."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recipient: Mapped[str] = mapped_column(String(100), index=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Publication(Base):
    """What the public sees of a proposal: its text, proposers, units and reply, personal data masked."""

    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"), unique=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text)  # masking may lengthen a Latin name
    situation: Mapped[str] = mapped_column(Text)
    analysis: Mapped[str] = mapped_column(Text)
    suggestions: Mapped[str] = mapped_column(Text)
    proposers: Mapped[list] = mapped_column(JSON)  # masked names
    units: Mapped[list] = mapped_column(JSON)
    reply_category: Mapped[str] = mapped_column(String(10))
    reply_summary: Mapped[str] = mapped_column(Text)
    # A category B reply is published before its follow-up: ``pending``, then ``received`` with it.
    followup_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    followup_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    followup_received_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    published_at: Mapped[datetime] = mapped_column(UtcDateTime())


# -- opinion information (社情民意信息): 征 → 编 → 报 → 踪 → 馈 ----------------------------------------


class OpinionCounter(Base):
    """The last item number given in a year (as ProposalCounter)."""

    __tablename__ = "opinion_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class OpinionItem(Base):
    """One matter reported by a member or an informant (信息员)."""

    __tablename__ = "opinion_items"
    __table_args__ = (UniqueConstraint("year", "sequence"), UniqueConstraint("submitter", "client_reference"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # "SQ-2027-0001"
    thread: Mapped[str] = mapped_column(String(100), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    situation: Mapped[str] = mapped_column(Text)
    analysis: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str] = mapped_column(Text)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)  # 急事急报
    area: Mapped[str | None] = mapped_column(String(30), nullable=True, index=True)  # as a proposal's
    submitter: Mapped[str] = mapped_column(String(100), index=True)
    submitter_role: Mapped[str] = mapped_column(String(20))  # member | informant
    status: Mapped[str] = mapped_column(String(20), index=True)
    not_adopted_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    origin_case: Mapped[str | None] = mapped_column(String(100), nullable=True)  # a micro-consultation case
    converted_to: Mapped[str | None] = mapped_column(String(20), nullable=True)  # a proposal number
    client_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)  # AMQP idempotency
    rulebook_version: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OpinionCheck(Base):
    """One of the four checks (四关) in one editing round, with its result and note."""

    __tablename__ = "opinion_checks"
    __table_args__ = (UniqueConstraint("item_id", "round", "check"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    check: Mapped[str] = mapped_column(String(20))  # political | facts | content | wording
    passed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    checked_by: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OpinionIssueCounter(Base):
    __tablename__ = "opinion_issue_counters"

    channel: Mapped[str] = mapped_column(String(50), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class OpinionIssue(Base):
    """An issue (期) of a recipient channel: 市委-2027-003."""

    __tablename__ = "opinion_issues"
    __table_args__ = (UniqueConstraint("channel", "year", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(50), index=True)
    year: Mapped[int] = mapped_column(Integer)
    sequence: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(50), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OpinionReport(Base):
    """An item reported (报送) to one recipient channel in one issue, and whether it adopted it."""

    __tablename__ = "opinion_reports"
    __table_args__ = (UniqueConstraint("item_id", "channel"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), index=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("opinion_issues.id"), index=True)
    channel: Mapped[str] = mapped_column(String(50))
    signed_off_by: Mapped[str] = mapped_column(String(100))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime())
    adoption: Mapped[str | None] = mapped_column(String(20), nullable=True)  # adopted | not_adopted
    adoption_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    adoption_recorded_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    adoption_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The adoption may be published (公开): only such adoptions are in the public list.
    publishable: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    issue: Mapped[OpinionIssue] = relationship()


class OpinionInstruction(Base):
    """A leader's instruction (领导批示) on a reported item, with its level."""

    __tablename__ = "opinion_instructions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), index=True)
    channel: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(20))  # city | province | national
    leader: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OpinionForward(Base):
    """An item forwarded to a department (转办) and its answer."""

    __tablename__ = "opinion_forwards"
    __table_args__ = (UniqueConstraint("item_id", "unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), index=True)
    unit: Mapped[str] = mapped_column(String(100), index=True)
    request: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(20))  # forwarded | overdue | answered | cancelled (its item was)
    forwarded_by: Mapped[str] = mapped_column(String(100))
    forwarded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    answered_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class OpinionEvent(Base):
    """Append-only: every change to an opinion item, who made it, when, with what data."""

    __tablename__ = "opinion_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("opinion_items.id"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    data: Mapped[dict | None] = mapped_column(JSON, nullable=True)
