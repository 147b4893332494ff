"""Proposals (提案): what intake accepts (drafts, revisions) and what it answers (proposals,
publications), over RPC from the gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from marshmallow import Schema, ValidationError, post_load, validate, validates, validates_schema

from shared.contracts import field_types as fields

from ..fields import Text, UtcDateTime, not_blank

KINDS = ("plenary", "between_sessions")
CONTENT = ("title", "situation", "analysis", "suggestions")
# The longest title the proposals table holds. The format rules of one matter, one proposal (the
# title's and the whole text's limits) are the proposal rulebook's ``format``, checked by intake.
MAX_TITLE = 200
# A proposal in handling (filed and not yet published): what another may be merged into, and what
# the handling events move (intake).
IN_HANDLING = ("filed", "assigned", "replied", "rating", "rated", "rehandling")

# -- input -------------------------------------------------------------------------------------


class ContentSchema(Schema):
    """The proposal text and the proposer's choices: what a resubmission may change."""

    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    title = Text(required=True, validate=[not_blank, validate.Length(max=MAX_TITLE)])
    situation = Text(required=True, validate=not_blank)
    analysis = Text(required=True, validate=not_blank)
    suggestions = Text(required=True, validate=not_blank)
    sector = Text(allow_none=True, load_default=None, validate=validate.Length(max=100))
    publish_consent = fields.Boolean(required=True)
    no_publish_reason = Text(allow_none=True, load_default=None, validate=validate.Length(max=1000))
    area = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Length(min=1, max=30),
        metadata={
            "description": "the 1533 model's area (one of the proposal rulebook's areas: economy, politics, "
            "culture, society, ecology); optional, staff set or change it at filing"
        },
    )
    publish_name = fields.Boolean(
        load_default=False,
        metadata={
            "description": "the initiator consents to being named where the proposal is published "
            "(公开提办双方); otherwise the name is masked there"
        },
    )

    @validates_schema(skip_on_field_errors=False)
    def _refusal_gives_a_reason(self, data: dict[str, Any], **kwargs: object) -> None:
        if data.get("publish_consent") is False and not data.get("no_publish_reason"):
            raise ValidationError(
                "give a reason when the proposal is not to be published", field_name="no_publish_reason"
            )

    @post_load
    def _tidy(self, data: dict[str, Any], **kwargs: object) -> dict[str, Any]:
        data["sector"] = data.get("sector") or None
        if data["publish_consent"]:
            data["no_publish_reason"] = None  # a reason not to publish means nothing with consent
        return data


class DraftSchema(ContentSchema):
    """A new proposal as its initiator submits it."""

    cosigners = fields.List(Text(validate=[not_blank, validate.Length(max=100)]), load_default=list)
    session_year = fields.Integer(
        allow_none=True,
        load_default=None,
        strict=True,
        validate=validate.Range(2000, 2999),
        metadata={
            "description": "The session year the proposal is numbered in: this year in China (the default), "
            "the last or the next; intake refuses any other"
        },
    )

    def __init__(self, *, initiator: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initiator = initiator

    @validates("cosigners")
    def _distinct_others(self, value: list[str], **kwargs: object) -> None:
        repeated = sorted({user for user in value if value.count(user) > 1})
        if repeated:
            raise ValidationError(f"co-signers are listed more than once: {', '.join(repeated)}")
        if self.initiator is not None and self.initiator in value:
            raise ValidationError("the initiator signs first and cannot also co-sign")


class CosignRequest(Schema):
    """An invited co-signer confirms (联名确认); consent to being named is theirs to give, here."""

    publish_name = fields.Boolean(
        load_default=False,
        metadata={
            "description": "the co-signer consents to being named where the proposal is published "
            "(公开提办双方); otherwise (the default) the name is masked there"
        },
    )


# -- output ------------------------------------------------------------------------------------


class CosignerSchema(Schema):
    user = fields.String()
    order = fields.Integer()
    status = fields.String()
    confirmed_at = UtcDateTime(allow_none=True)
    publish_name = fields.Boolean()


class Filed(Protocol):
    """What :class:`ProposalSchema` reads of a proposal's filing decision (the intake service's model,
    which shared code does not import)."""

    @property
    def decision(self) -> str | None: ...

    @property
    def reason_code(self) -> str | None: ...

    @property
    def reason_text(self) -> str | None: ...

    @property
    def converted_kind(self) -> str | None: ...

    @property
    def converted_reference(self) -> str | None: ...

    @property
    def merged_into(self) -> str | None: ...

    @property
    def decided_by(self) -> str | None: ...

    @property
    def decided_at(self) -> datetime | None: ...


class ProposalSchema(Schema):
    """A proposal as its proposers, staff, the committee and leaders see it."""

    id = fields.Integer()
    number = fields.String()
    thread = fields.String(allow_none=True)
    year = fields.Integer()
    kind = fields.String()
    title = fields.String()
    situation = fields.String()
    analysis = fields.String()
    suggestions = fields.String()
    initiator = fields.String()
    sector = fields.String(allow_none=True)
    area = fields.String(allow_none=True)
    publish_consent = fields.Boolean()
    no_publish_reason = fields.String(allow_none=True)
    publish_name = fields.Boolean()
    status = fields.String()
    revision = fields.Integer()
    cosigners = fields.List(fields.Nested(CosignerSchema))
    cosign_due = UtcDateTime(allow_none=True)
    filing = fields.Method("_filing")
    created_at = UtcDateTime()

    def _filing(self, proposal: Filed) -> dict[str, object] | None:
        if proposal.decision is None:
            return None
        converted = (
            {"kind": proposal.converted_kind, "reference": proposal.converted_reference}
            if proposal.converted_kind
            else None
        )
        decided_at = UtcDateTime()._serialize(proposal.decided_at, "decided_at", proposal)
        return {
            "decision": proposal.decision,
            "reason_code": proposal.reason_code,
            "reason_text": proposal.reason_text,
            "converted_to": converted,
            "merged_into": proposal.merged_into,
            "decided_by": proposal.decided_by,
            "decided_at": decided_at,
        }


class PublicationSchema(Schema):
    """A published proposal as anyone may see it: personal data masked."""

    number = fields.String()
    kind = fields.String()
    title = fields.String()
    situation = fields.String()
    analysis = fields.String()
    suggestions = fields.String()
    proposers = fields.List(fields.String())
    units = fields.List(fields.String())
    reply_category = fields.String()
    reply_summary = fields.String()
    followup_status = fields.String(
        allow_none=True,
        metadata={
            "description": "category B only: pending (published before the unit's follow-up reply), "
            "received (the follow-up reply is in followup_text) or stopped (the proposal's handling was "
            "cancelled before it came); null otherwise"
        },
    )
    followup_text = fields.String(allow_none=True, metadata={"description": "the follow-up reply, masked"})
    followup_received_at = UtcDateTime(allow_none=True)
    published_at = UtcDateTime()
    status = fields.Constant("published")


class PublicProposerSchema(Schema):
    name = fields.String(
        metadata={"description": "the members directory's name if they consented to being named, else masked"}
    )
    named = fields.Boolean()


class PublicProposalSchema(PublicationSchema):
    """A published proposal and its reply as the public API serves it (intake's ``public_proposals``)."""

    year = fields.Integer()
    proposers = fields.List(fields.Nested(PublicProposerSchema))


class AreaInput(Schema):
    """Staff set or change the area of a proposal or an opinion item (``PUT …/area``); null clears it."""

    area = fields.String(required=True, allow_none=True, validate=validate.Length(min=1, max=30))


class AreaFigureSchema(Schema):
    code = fields.String(allow_none=True)
    label = fields.String()
    en = fields.String()
    proposals = fields.Integer()
    filed = fields.Integer()
    opinions = fields.Integer()
    adopted = fields.Integer()


class AreaReportSchema(Schema):
    """The year's proposals and opinion items by the 1533 model's areas (``unclassified``: no area)."""

    year = fields.Integer()
    areas = fields.List(fields.Nested(AreaFigureSchema))
    unclassified = fields.Nested(AreaFigureSchema)


# -- similar titles (routing suggestions) --------------------------------------------------------

# The most titles one question asks about: a page of the staff's task list.
MAX_TITLES_ASKED = 100
# The most alike proposals named for one title (its nearest): at 110,000 proposals of a few
# common matters a title has thousands alike, and answering every one cost more than finding them.
MAX_NEAREST = 500
NEAREST = 50  # unless the question says


class AskedTitle(Schema):
    """A proposal asked about by its number and title."""

    number = fields.String(required=True, validate=validate.Length(min=1, max=50))
    title = fields.String(required=True, validate=validate.Length(min=1, max=500))


class SimilarTitlesQuery(Schema):
    """Which proposals have titles like these (assignment's routing suggestions ask intake, which
    holds the titles and their index): the measure is the routing rulebook's ``similar_titles``.
    Answered in the order asked: ``[{number, total, similar: [{number, similarity}]}]``: how many
    proposals (never itself) have a title alike, and the ``nearest`` of them, most similar first,
    then by number."""

    titles = fields.List(
        fields.Nested(AskedTitle), required=True, validate=validate.Length(min=1, max=MAX_TITLES_ASKED)
    )
    ignore = fields.List(
        fields.String(validate=validate.Length(max=50)),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "boilerplate cut out of every title before comparing (关于, 的建议…)"},
    )
    threshold = fields.Float(
        required=True,
        validate=validate.Range(min=0, max=1, min_inclusive=False),
        metadata={"description": "the least Jaccard index of the titles' bigrams (rounded to 3 places) that counts"},
    )
    nearest = fields.Integer(
        load_default=NEAREST,
        validate=validate.Range(min=1, max=MAX_NEAREST),
        metadata={"description": "how many of each title's alike proposals are named, the most similar"},
    )
