"""Marshmallow schemas of micro-consultation: requests (RPC and HTTP), job parameters, answers.

The gateway uses the request and answer schemas for its routes and OpenAPI document; the service
loads every request and job with them again (authorisation and validation live in the service).
"""

from __future__ import annotations

from marshmallow import RAISE, Schema, validate

from shared.contracts import field_types as fields

from shared.validation import PageQuery

from ..fields import filled


VENUE_KINDS = ("contact_point", "reception_room", "consultation_room", "sector_studio")


class _Strict(Schema):
    class Meta:
        unknown = RAISE


# -- requests --------------------------------------------------------------------------------------
class CaseRegistration(_Strict):
    """A resident's issue as staff of the venue or a member register it (群众点单)."""

    venue = fields.String(
        required=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "the venue code where it was raised"},
    )
    town = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=50),
        metadata={"description": "town or street concerned; default: the venue's own"},
    )
    title = fields.String(required=True, validate=[validate.Length(min=1, max=100), filled])
    description = fields.String(required=True, validate=[validate.Length(min=1, max=1000), filled])
    resident_name = fields.String(required=True, validate=[validate.Length(min=1, max=50), filled])
    resident_phone = fields.String(
        load_default=None, allow_none=True, validate=validate.Regexp(r"^[0-9+\- ]{5,20}\Z", error="a phone number")
    )


class CommitmentRequest(_Strict):
    """A department's commitment (承诺事项) to act on a case after the meeting."""

    actions = fields.String(required=True, validate=[validate.Length(min=1, max=2000), filled])
    done_by = fields.Date(required=True, metadata={"description": "the date the department promises to finish"})
    contact = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))


class CaseQuery(_Strict, PageQuery):
    """A page of the cases list: which page, how long, and the filters."""

    status = fields.String(load_default=None, allow_none=True)
    venue = fields.String(load_default=None, allow_none=True)
    mine = fields.Boolean(load_default=False)


class VenueQuery(_Strict):
    kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(VENUE_KINDS))
    town = fields.String(load_default=None, allow_none=True)


# -- job parameters ----------------------------------------------------------------------------------
# -- answers ---------------------------------------------------------------------------------------
class EventSchema(Schema):
    at = fields.String()
    actor = fields.String()
    action = fields.String()
    data = fields.Raw(allow_none=True)


class MeetingSchema(Schema):
    id = fields.Integer()
    form = fields.String(metadata={"description": "in_person | on_site | online"})
    venue = fields.String(allow_none=True)
    held_on = fields.String()
    attendees = fields.List(fields.String())
    units = fields.List(fields.String())
    summary = fields.String()
    recorded_by = fields.String()


class CommitmentSchema(Schema):
    id = fields.Integer()
    unit = fields.String()
    status = fields.String(metadata={"description": "pending | committed | cancelled (its case was cancelled first)"})
    due = fields.String(metadata={"description": "when the department must commit (rulebook)"})
    actions = fields.String(allow_none=True)
    done_by = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)
    committed_at = fields.String(allow_none=True)
    committed_by = fields.String(allow_none=True)


class FollowUpSchema(Schema):
    actions_done = fields.Boolean()
    note = fields.String()
    checked_by = fields.String()
    checked_at = fields.String()


class ConvertedOutcomeSchema(Schema):
    """What became of the opinion item or proposal a case was turned into."""

    kind = fields.String(metadata={"description": "opinion | proposal"})
    number = fields.String()
    status = fields.String(
        metadata={
            "description": "a proposal: published | answered (not published) | not_filed | merged; "
            "an opinion item: adopted | not_adopted | handled; either: cancelled (an operator cancelled "
            "its process)"
        }
    )
    reason = fields.String(
        allow_none=True, metadata={"description": "why, in words (a proposal not filed or merged), else null"}
    )


class CaseSchema(Schema):
    """A case as staff, its member and its registrar see it; a department sees its own commitment
    only, and the resident's name masked and phone left out."""

    number = fields.String()
    thread = fields.String()
    venue = fields.String()
    venue_name = fields.String()
    town = fields.String()
    title = fields.String()
    description = fields.String()
    resident_name = fields.String()
    resident_phone = fields.String(allow_none=True)
    registered_by = fields.String()
    status = fields.String()
    member = fields.String(allow_none=True)
    venue_members = fields.List(
        fields.String(),
        metadata={"description": "the members who serve at the case's venue: it reached them when it was raised"},
    )
    outcome = fields.String(allow_none=True)
    answer = fields.String(allow_none=True)
    converted_kind = fields.String(allow_none=True)
    converted_number = fields.String(allow_none=True)
    converted_outcome = fields.Nested(
        ConvertedOutcomeSchema,
        allow_none=True,
        metadata={"description": "what became of the item or proposal; null until intake says"},
    )
    satisfaction = fields.String(allow_none=True)
    close_reason = fields.String(allow_none=True)
    close_note = fields.String(allow_none=True)
    follow_up_due = fields.String(allow_none=True)
    created_at = fields.String()
    closed_at = fields.String(allow_none=True)
    rulebook_version = fields.String()
    meetings = fields.List(fields.Nested(MeetingSchema))
    commitments = fields.List(fields.Nested(CommitmentSchema))
    follow_ups = fields.List(fields.Nested(FollowUpSchema))
    history = fields.List(fields.Nested(EventSchema))


class VenueSchema(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String(metadata={"description": "contact_point | reception_room | consultation_room | sector_studio"})
    kind_zh = fields.String()
    town = fields.String()
    address = fields.String()
    sector = fields.String(allow_none=True)
    covers = fields.List(fields.String())
    members = fields.List(fields.String(), metadata={"description": "the members who serve there (user ids)"})


class TownCoverage(Schema):
    code = fields.String()
    name = fields.String()
    kind = fields.String()
    district = fields.String()
    venues = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "venue codes covering it, by kind"},
    )
    cases = fields.Integer()


class CoverageSchema(Schema):
    towns = fields.List(fields.Nested(TownCoverage))
    uncovered = fields.List(fields.String(), metadata={"description": "towns and streets no venue covers"})
    venues_by_kind = fields.Dict(keys=fields.String(), values=fields.Integer())
    cases_per_venue = fields.Dict(keys=fields.String(), values=fields.Integer())


class ThreadCaseEntry(Schema):
    kind = fields.String()
    number = fields.String()
    title = fields.String()
    status = fields.String()
    submitter = fields.String()
    created_at = fields.String()
    events = fields.List(fields.Nested(EventSchema))


# -- the public view (群众查单): what a resident sees by the case's public reference ----------------------
class _PublicMeeting(Schema):
    form = fields.String(metadata={"description": "in_person | on_site | online"})
    held_on = fields.String()


class _PublicCommitment(Schema):
    unit = fields.String()
    actions = fields.String(metadata={"description": "phone and identity numbers masked"})
    done_by = fields.String(allow_none=True)


class _PublicFollowUp(Schema):
    actions_done = fields.Boolean()
    checked_at = fields.String()


class PublicCaseSchema(Schema):
    """A case as the resident who raised it follows it: the state of the work and what was decided,
    never who raised it (no name, no phone); texts masked of phone and identity numbers."""

    reference = fields.String(metadata={"description": "the case's public reference (keep it to follow the case)"})
    number = fields.String()
    title = fields.String()
    venue = fields.String()
    venue_name = fields.String()
    town = fields.String()
    status = fields.String(
        metadata={
            "description": "registered | dispatched | taken | answered | converted | "
            "meeting | committed | following_up | return_visit | closed | cancelled (its process was "
            "cancelled by an operator)"
        }
    )
    member_assigned = fields.Boolean(metadata={"description": "a member has the case"})
    outcome = fields.String(allow_none=True)
    answer = fields.String(allow_none=True)
    converted_kind = fields.String(allow_none=True, metadata={"description": "opinion | proposal"})
    converted_number = fields.String(allow_none=True)
    converted_outcome = fields.Nested(
        ConvertedOutcomeSchema,
        allow_none=True,
        metadata={"description": "what became of the item or proposal; null until it is known"},
    )
    created_at = fields.String()
    closed_at = fields.String(allow_none=True)
    satisfaction = fields.String(allow_none=True)
    meetings = fields.List(fields.Nested(_PublicMeeting))
    commitments = fields.List(fields.Nested(_PublicCommitment))
    follow_ups = fields.List(fields.Nested(_PublicFollowUp))
    return_visit_done = fields.Boolean()
