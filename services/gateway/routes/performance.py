"""Members' performance (委员履职积分 / 履职档案): the members directory, attendance recorded by the
organising office, a member's performance file, statistics, and periods published with a
correction window. The evaluation service authorises every call again; the roles here are a first
filter. Rules: docs/performance-points.md."""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields


from shared.contracts.fields import POINTS, ROW_ID, USER_ID, Text

from .. import schemas
from ..http import endpoint, http

OVERSEERS = ("staff", "committee", "leader")


# -- bodies -------------------------------------------------------------------------------------
class MemberRequest(Schema):
    user = fields.String(required=True, validate=USER_ID)
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    sector = fields.String(
        required=True, validate=validate.Length(min=1, max=200), metadata={"description": "界别, the member's sector"}
    )
    terms = fields.List(
        fields.String(),
        load_default=None,
        metadata={"description": "terms (届) served; omitted: every term with a rulebook"},
    )


class AttendanceRequest(Schema):
    kind = fields.String(
        required=True,
        metadata={"description": "plenary, standing_committee, inspection... (the term rulebook's activity_kinds)"},
    )
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    held_on = fields.Date(required=True, metadata={"description": "the activity's date; its term's rulebook applies"})
    half_days = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1, max=20))
    present = fields.List(fields.String(), load_default=list)
    excused = fields.List(fields.String(), load_default=list, metadata={"description": "absent with leave"})
    absent = fields.List(fields.String(), load_default=list, metadata={"description": "absent without leave"})


class PublishRequest(Schema):
    period = fields.String(
        required=True,
        validate=validate.Regexp(r"^(19|2[0-9])[0-9]{2}(-Q[1-4])?\Z"),
        metadata={"description": "a quarter (2026-Q3) or a year (2026) that has ended"},
    )


class CorrectionAskRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    entry_id = fields.Integer(load_default=None, allow_none=True, strict=True, validate=ROW_ID)
    points = fields.Integer(load_default=None, allow_none=True, strict=True, validate=POINTS)


class CorrectionDecisionRequest(Schema):
    action = fields.String(required=True, validate=validate.OneOf(("apply", "reject")))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    points = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=POINTS,
        metadata={"description": "for apply: points added (negative: taken away)"},
    )


# -- answers ------------------------------------------------------------------------------------
class Member(Schema):
    user = fields.String()
    name = fields.String()
    sector = fields.String()
    terms = fields.List(fields.String())


class Rulebook(Schema):
    term = fields.String()
    version = fields.String()
    hash = fields.String(metadata={"description": "sha256 of the rulebook file"})


class Term(Schema):
    term = fields.String()
    name = fields.String()
    starts = fields.String()
    ends = fields.String()
    version = fields.String()
    hash = fields.String()
    file = fields.String()
    caps_per = fields.String()
    activity_kinds = fields.List(fields.String())
    correction_window_days = fields.Integer()
    full_marks = fields.Dict()
    grades = fields.List(fields.Dict())
    rows = fields.List(
        fields.Dict(), metadata={"description": "(activity, event, role, when, unless, points, unit, cap, group)"}
    )


class Attendance(Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    held_on = fields.String()
    half_days = fields.Integer()
    organiser = fields.String()
    office = fields.String(allow_none=True)
    attendees = fields.List(
        fields.Dict(), metadata={"description": "[{member, role: present|absent_excused|absent_unexcused}]"}
    )
    recorded_at = fields.String()
    event_id = fields.String(metadata={"description": "the attendance.recorded event the ledger books"})


class EventRef(Schema):
    event_id = fields.String()
    name = fields.String()
    subject = fields.String()
    thread = fields.String(allow_none=True)
    occurred_at = fields.String(allow_none=True)


class Entry(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "earned, adjustment (replaces an entry) or correction"})
    activity = fields.String(allow_none=True)
    activity_zh = fields.String(allow_none=True)
    points = fields.Integer()
    counts_on = fields.String()
    period = fields.String()
    role = fields.String(allow_none=True)
    event = fields.Nested(EventRef, allow_none=True, metadata={"description": "the event that earned it"})
    rule = fields.Dict(allow_none=True)
    rulebook = fields.Nested(Rulebook)
    reason = fields.String()
    replaces = fields.Integer(allow_none=True)
    superseded_by = fields.Integer(allow_none=True)
    correction_id = fields.Integer(allow_none=True)
    after_close = fields.Boolean()
    booked_at = fields.String()


class Span(Schema):
    key = fields.String()
    kind = fields.String()
    starts = fields.String()
    ends = fields.String()


class Grade(Schema):
    code = fields.String()
    zh = fields.String()


class PerformanceFile(Schema):
    member = fields.Nested(Member)
    period = fields.Nested(Span)
    rulebook = fields.Nested(Rulebook)
    entries = fields.List(fields.Nested(Entry))
    total = fields.Integer()
    view100 = fields.Float(metadata={"description": "the 100-point view (rulebook grading)"})
    grade = fields.Nested(Grade)
    by_activity = fields.Dict()
    by_period = fields.Dict()


class Standing(Schema):
    member = fields.String()
    name = fields.String()
    sector = fields.String()
    total = fields.Integer()
    view100 = fields.Float()
    grade = fields.Nested(Grade)


class Statistics(Schema):
    period = fields.Nested(Span)
    rulebook = fields.Nested(Rulebook)
    by_member = fields.List(fields.Nested(Standing))
    by_sector = fields.List(fields.Dict())
    by_activity = fields.List(fields.Dict())
    by_period = fields.List(fields.Dict())


class PeriodAnswer(Schema):
    period = fields.String()
    kind = fields.String()
    starts = fields.String()
    ends = fields.String()
    status = fields.String(metadata={"description": "published (window open) or closed"})
    term = fields.String()
    rulebook = fields.Nested(Rulebook)
    published_by = fields.String()
    published_at = fields.String()
    window_ends = fields.String()
    closed_at = fields.String(allow_none=True)
    standings = fields.List(fields.Nested(Standing))


class Correction(Schema):
    id = fields.Integer()
    period = fields.String()
    member = fields.String()
    entry_id = fields.Integer(allow_none=True)
    reason = fields.String()
    points_asked = fields.Integer(allow_none=True)
    status = fields.String(metadata={"description": "open, applied or rejected"})
    requested_at = fields.String()
    decided_by = fields.String(allow_none=True)
    decided_at = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    applied_entry = fields.Integer(allow_none=True, metadata={"description": "the correction entry in the ledger"})


class PerformanceRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`, which supplies ``self.evaluation``."""

    @http("GET", "/api/performance/members")
    @endpoint("member", *OVERSEERS, response=Member(many=True), query=("sector",))
    def performance_members(self, request, principal):
        """The members directory: each member's sector (界别) and terms (届)."""
        return 200, self.evaluation.members(request.args.get("sector"), principal=principal)

    @http("POST", "/api/performance/members")
    @endpoint("staff", body=MemberRequest, response=Member)
    def save_performance_member(self, request, principal, body):
        """Add a member to the directory, or change one's name, sector or terms."""
        return 200, self.evaluation.save_member(body, principal=principal)

    @http("GET", "/api/performance/terms")
    @endpoint("staff", "designer", "operator", response=Term(many=True))
    def performance_terms(self, request, principal):
        """Every term with its dates and its points rulebook (version, hash, rows): for staff, designers
        and operators."""
        return 200, self.evaluation.terms(principal=principal)

    @http("POST", "/api/performance/attendance")
    @endpoint("staff", body=AttendanceRequest, response=Attendance, status=201, idempotent=True)
    def record_attendance(self, request, principal, body, key):
        """The organising office records attendance (谁组织谁记录); it reaches the ledger as an
        ``attendance.recorded`` event."""
        return 201, self.evaluation.record_attendance(_dated(body), principal=principal, key=key)

    @http("GET", "/api/performance/attendance")
    @endpoint(*OVERSEERS, response=Attendance(many=True))
    def attendance_records(self, request, principal):
        """Attendance records, oldest activity first."""
        return 200, self.evaluation.attendance_records(principal=principal)

    @http("GET", "/api/performance/members/<string:member>/file")
    @endpoint("member", *OVERSEERS, response=PerformanceFile, query=("period", "term"))
    def performance_file(self, request, principal, member):
        """A member's performance file (履职档案): every point with the event behind it, total and
        grade, for a period (2026-Q3, 2026) or a term (default: the current term). A member reads
        their own; staff, committee and leaders read every file."""
        return 200, self.evaluation.performance_file(
            member, request.args.get("period"), request.args.get("term"), principal=principal
        )

    @http("GET", "/api/performance/statistics")
    @endpoint(*OVERSEERS, response=Statistics, query=("period", "term"))
    def performance_statistics(self, request, principal):
        """Points by member, sector, activity and quarter for a period or a term."""
        return 200, self.evaluation.performance_statistics(
            request.args.get("period"), request.args.get("term"), principal=principal
        )

    @http("GET", "/api/performance/periods")
    @endpoint("member", *OVERSEERS, response=PeriodAnswer(many=True))
    def performance_periods(self, request, principal):
        """Published periods and whether their correction window is open."""
        return 200, self.evaluation.periods(principal=principal)

    @http("POST", "/api/performance/periods")
    @endpoint("staff", body=PublishRequest, response=PeriodAnswer, status=201)
    def publish_period(self, request, principal, body):
        """Publish a period that has ended; its correction window opens (length in the rulebook)."""
        return 201, self.evaluation.publish_period(body, principal=principal)

    @http("GET", "/api/performance/periods/<string:period>")
    @endpoint("member", *OVERSEERS, response=PeriodAnswer)
    def performance_period(self, request, principal, period):
        """A published period with its standings (final once closed)."""
        return 200, self.evaluation.period(period, principal=principal)

    @http("POST", "/api/performance/periods/<string:period>/corrections")
    @endpoint("member", body=CorrectionAskRequest, response=Correction, status=201)
    def ask_correction(self, request, principal, period, body):
        """A member asks for a correction of their own points, inside the window (409 after)."""
        return 201, self.evaluation.ask_correction(period, body, principal=principal)

    @http("GET", "/api/performance/periods/<string:period>/corrections")
    @endpoint("member", *OVERSEERS, response=Correction(many=True))
    def corrections(self, request, principal, period):
        """Correction requests of a period: a member sees their own, overseers all."""
        return 200, self.evaluation.corrections(period, principal=principal)

    @http("POST", "/api/performance/corrections/<id:correction_id>")
    @endpoint("staff", body=CorrectionDecisionRequest, response=Correction)
    def decide_correction(self, request, principal, correction_id, body):
        """Staff apply a correction (a ledger entry with the reason) or reject it, inside the window
        (409 after)."""
        return 200, self.evaluation.decide_correction(correction_id, body, principal=principal)

    @http("POST", "/api/performance/periods/<string:period>/close")
    @endpoint("staff", body=schemas.EmptyRequest, response=PeriodAnswer)
    def close_period(self, request, principal, period, body):
        """Close a period whose correction window has passed (409 while it is open)."""
        return 200, self.evaluation.close_period(period, principal=principal)


def _dated(body: dict) -> dict:
    """Dates cross RPC as ISO strings."""
    return {**body, "held_on": body["held_on"].isoformat()}
