"""The 1533 model: its five areas (经济, 政治, 文化, 社会, 生态文明) — staff classify proposals and opinion
items, and the year's figures by area (intake keeps and counts them: ``services.intake.areas``) — and
the quality checklist on its three standards a proposal's grade was computed from (evaluation:
``services.evaluation.quality``)."""

from __future__ import annotations

from marshmallow import Schema, validate

from shared.contracts import field_types as fields

from shared.contracts.rpc.proposals import AreaInput, AreaReportSchema
from shared.errors import InvalidInput
from shared.validation import load

from ..http import endpoint, http


class _AreaSet(Schema):
    number = fields.String()
    area = fields.String(allow_none=True)
    was = fields.String(allow_none=True)


class _ChecklistItem(Schema):
    code = fields.String()
    zh = fields.String()
    en = fields.String()
    met = fields.Boolean()
    points = fields.Integer()
    max = fields.Integer()


class _Standard(Schema):
    code = fields.String()
    zh = fields.String()
    en = fields.String()
    points = fields.Integer()
    max = fields.Integer()
    items = fields.List(fields.Nested(_ChecklistItem))


class _Checklist(Schema):
    grade = fields.String()
    points = fields.Integer()
    total = fields.Integer()
    standards = fields.List(fields.Nested(_Standard))


class QualityGradeSchema(Schema):
    number = fields.String()
    grade = fields.String()
    grade_zh = fields.String()
    graded_by = fields.String()
    graded_at = fields.String()
    points = fields.Integer(allow_none=True, metadata={"description": "none for a grade given without the checklist"})
    checklist = fields.Nested(_Checklist, allow_none=True)


class _YearQuery(Schema):
    year = fields.Integer(required=True, strict=False, validate=validate.Range(min=1900, max=2999))


class Model1533Routes:
    """Mixed into :class:`~services.gateway.service.GatewayService`."""

    @http("PUT", "/api/proposals/<string:number>/area")
    @endpoint("staff", body=AreaInput, response=_AreaSet)
    def set_proposal_area(self, request, principal, number, body):
        """Staff set or change a proposal's area (one of the proposal rulebook's ``areas``; null
        clears it); recorded in its history with the area it had."""
        return 200, self.intake.set_area("proposal", number, body, principal)

    @http("PUT", "/api/opinions/<string:number>/area")
    @endpoint("staff", body=AreaInput, response=_AreaSet)
    def set_opinion_area(self, request, principal, number, body):
        """Staff set or change an opinion item's area, as for a proposal."""
        return 200, self.intake.set_area("opinion", number, body, principal)

    @http("GET", "/api/proposals/<string:number>/quality")
    @endpoint("staff", "committee", "leader", response=QualityGradeSchema)
    def proposal_quality(self, request, principal, number):
        """The committee's quality grade of a proposal and the checklist on the three standards
        (服务中心有为、建言资政有力、凝聚共识有效) it was computed from, each item met or not."""
        return 200, self.evaluation.quality_grade(number, principal=principal)

    @http("GET", "/api/reports/areas")
    @endpoint("staff", "committee", "leader", response=AreaReportSchema, query=("year",))
    def area_report(self, request, principal):
        """The year's proposals (received, filed) and opinion items (submitted, adopted) by area,
        and those not classified: ``?year=2027``."""
        if "year" not in request.args:
            raise InvalidInput("the year is needed", {"year": ["give ?year=YYYY"]})
        year = load(_YearQuery, {"year": request.args["year"]}, "the query")["year"]
        return 200, self.intake.area_figures(year, principal)
