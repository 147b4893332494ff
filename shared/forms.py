"""Form schemas that user tasks name in diagrams (``formSchema`` property).

A task completed with data that does not fit its schema is refused with field-level messages and
nothing changes. Diagrams naming a schema that is not here are refused at deploy. Every field a
diagram reads has a default, so an expression never meets an undefined name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, validate, validates, validates_schema

from shared.contracts import field_types as fields
from shared.contracts.jobs.intake import FourChecksDecide
from shared.contracts.rpc.assignments import Milestone

FOLLOWUP_CATEGORY = "B"  # 正在解决或列入计划: the category whose reply promises milestones


class Form(Schema):
    class Meta:
        unknown = RAISE


def _a_directory_unit(code: str) -> None:
    """A unit code the form names is in the unit directory (``deploy/seed/units.yaml``, which the
    assignment service seeds its directory from and intake checks forwarding with): a typo is
    refused here, with the closest codes, rather than failing the job after the task is done."""
    from shared.names import seeded_units

    known = seeded_units()
    if code not in known:
        close = difflib.get_close_matches(code, list(known), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ValidationError(f"{code!r} is not a unit of the directory{hint}")


def _unit_code(**kwargs: Any) -> fields.String:
    """A unit code field checked against the directory."""
    return fields.String(validate=[validate.Length(min=1, max=100), _a_directory_unit], **kwargs)


class SmokeReviewForm(Form):
    approved = fields.Boolean(required=True)
    comment = fields.String(load_default="")


class PreReviewForm(Form):
    """Staff pre-review: eligibility, content, format."""

    eligible = fields.Boolean(required=True)
    content_ok = fields.Boolean(required=True)
    format_ok = fields.Boolean(required=True)
    pre_review_notes = fields.String(load_default="", validate=validate.Length(max=2000))


class FilingDecisionForm(Form):
    decision = fields.String(required=True, validate=validate.OneOf(["filed", "not_filed", "returned", "merged"]))
    reason_code = fields.String(load_default=None, allow_none=True)
    convert_to = fields.String(load_default="none", validate=validate.OneOf(["opinion", "letter", "none"]))
    merge_into = fields.String(load_default=None, allow_none=True)
    filing_notes = fields.String(load_default="", validate=validate.Length(max=2000))
    # the 1533 model's area: staff set or change it when the proposal is filed (none: as it is)
    area = fields.String(load_default=None, allow_none=True)

    @validates("area")
    def _a_rulebook_area(self, value: str | None, **kwargs: object) -> None:
        if value is None:
            return
        from shared.rulebook import current_rulebook

        codes = [area.code for area in current_rulebook("proposal").areas()]
        if value not in codes:
            raise ValidationError(f"not an area of the rulebook; one of: {', '.join(codes)}")

    @validates_schema
    def _decision_needs(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["decision"] == "not_filed":
            from shared.rulebook import load_rulebook

            codes = [reason.code for reason in load_rulebook("proposal").reasons()]
            if data.get("reason_code") not in codes:
                raise ValidationError(
                    f"a not-filed decision needs one of the reason codes: {', '.join(codes)}", "reason_code"
                )
        if data["decision"] == "merged" and not data.get("merge_into"):
            raise ValidationError("a merge needs the number of the proposal to merge into", "merge_into")
        if data["decision"] != "not_filed" and data.get("convert_to", "none") != "none":
            raise ValidationError("only a proposal that is not filed is converted", "convert_to")


class AssignForm(Form):
    mode = fields.String(required=True, validate=validate.OneOf(["single", "several", "lead_co"]))
    units = fields.List(_unit_code(), load_default=list)
    lead = _unit_code(load_default=None, allow_none=True)
    co_units = fields.List(_unit_code(), load_default=list)

    @validates_schema
    def _units_fit_the_mode(self, data: dict[str, Any], **kwargs: object) -> None:
        mode, units, lead, co = data["mode"], data["units"], data.get("lead"), data["co_units"]
        if mode == "single" and len(units) != 1:
            raise ValidationError("a single assignment names exactly one unit", "units")
        if mode == "several" and len(set(units)) < 2:
            raise ValidationError("a several-units assignment names at least two units", "units")
        if mode == "lead_co":
            if not lead:
                raise ValidationError("a lead unit is required", "lead")
            if not co or lead in co:
                raise ValidationError("at least one co-unit, other than the lead", "co_units")

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = super().load(data, **kwargs)
        # Key proposals are chosen at the chair's meeting (services/supervision/key_selection.py),
        # not here. Instances of proposal diagrams deployed before that still read these two names
        # when they open the clocks; False there leaves a key proposal already registered as it is.
        loaded.setdefault("key_proposal", False)
        loaded.setdefault("supervising_leader", None)
        return loaded


class ApproveExtensionForm(Form):
    """Staff decide on a unit's extension request. Approved without ``until``: as the unit asked
    (its date, or its months counted by supervision from the current reply deadline)."""

    approved = fields.Boolean(required=True)
    until = fields.Date(load_default=None, allow_none=True)
    extension_comment = fields.String(load_default="")

    @validates("until")
    def _ahead(self, value: Any, **kwargs: object) -> None:
        """A date already past can never move a deadline on: refused when the task is completed.
        (One not after the current due date, which the form does not know, goes back to staff:
        supervision's ``extension_not_later``, caught in the diagram.)"""
        if value is None:
            return
        from shared import clock
        from shared.calendar import local_date

        today = local_date(clock.now())
        if value <= today:
            raise ValidationError(f"an extension runs until a date after today ({today.isoformat()})")

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = super().load(data, **kwargs)
        if loaded.get("until") is not None:
            loaded["until"] = loaded["until"].isoformat()  # task data stays JSON
        return loaded


class ReviewReplyForm(Form):
    """Staff review the reply: accept it (perhaps in another category) or send it back.

    A reply recategorised to B (正在解决或列入计划) carries the milestones staff settled with the
    unit at review, ``override_milestones: [{what, due}]``: at least one, at most the rulebook's
    ``followup.max_milestones``, each due after today, as a unit drafting a B reply gives them.
    They become the unit's promise (``assignment.recategorise_reply``) and their deadlines open
    as for a reply submitted as B. Loaded, they are numbered from 1 (``milestone``) and their dates
    are ISO strings (task data stays JSON). Another category takes none."""

    action = fields.String(required=True, validate=validate.OneOf(["accept", "send_back"]))
    # One of the categories the proposal rulebook enables (D only where the committee enabled it),
    # so a recategorisation the scoring would refuse never reaches evaluation.score_handling.
    override_category = fields.String(load_default=None, allow_none=True)
    override_milestones = fields.List(fields.Nested(Milestone), load_default=list)
    comment = fields.String(load_default="")

    @validates("override_category")
    def _an_enabled_category(self, value: str | None, **kwargs: object) -> None:
        if value is None:
            return
        from shared.rulebook import current_rulebook

        codes = [category.code for category in current_rulebook("proposal").reply_categories()]
        if value not in codes:
            raise ValidationError(f"not a reply category the rulebook enables; one of: {', '.join(codes)}")

    @validates_schema
    def _send_back_says_why(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["action"] == "send_back" and not data.get("comment"):
            raise ValidationError("say why the reply is sent back", "comment")

    @validates_schema(skip_on_field_errors=True)
    def _b_carries_its_milestones(self, data: dict[str, Any], **kwargs: object) -> None:
        milestones = data.get("override_milestones") or []
        if data.get("override_category") != FOLLOWUP_CATEGORY or data["action"] != "accept":
            if milestones:
                raise ValidationError(
                    "only a reply accepted as recategorised to B carries milestones; leave them out",
                    "override_milestones",
                )
            return
        from shared import clock
        from shared.calendar import local_date
        from shared.rulebook import current_rulebook

        most, today = current_rulebook("proposal").max_milestones(), local_date(clock.now())
        if not milestones:
            raise ValidationError(
                "a reply recategorised to B says what the unit will do by when: give at least one "
                "milestone {what, due}, as settled with the unit",
                "override_milestones",
            )
        if len(milestones) > most:
            raise ValidationError(
                f"{len(milestones)} milestones given, at most {most} (rulebook followup.max_milestones)",
                "override_milestones",
            )
        past = {
            i: {"due": [f"must be after {today.isoformat()}"]} for i, m in enumerate(milestones) if m["due"] <= today
        }
        if past:
            raise ValidationError({"override_milestones": past})

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], **kwargs: Any) -> Any:
        loaded = super().load(data, **kwargs)
        loaded["override_milestones"] = [
            {"milestone": i, "what": m["what"], "due": m["due"].isoformat()}
            for i, m in enumerate(loaded["override_milestones"], start=1)
        ]
        return loaded


class GradeQualityForm(Form):
    """The items of the proposal rulebook's ``quality_checklist`` the proposal meets (the 1533
    model's three standards): evaluation computes the grade from their points. A ``grade`` given
    directly (one of ``quality_grades``; 优秀提案 is ``excellent``), the input before the checklist,
    is still taken, with no checklist; one or the other."""

    quality_checklist = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)), load_default=None, allow_none=True
    )
    grade = fields.String(load_default=None, allow_none=True)

    @validates("grade")
    def _a_rulebook_grade(self, value: str | None, **kwargs: object) -> None:
        if value is None:
            return
        from shared.rulebook import current_rulebook

        codes = [grade.code for grade in current_rulebook("proposal").quality_grades()]
        if value not in codes:
            raise ValidationError(f"not a quality grade of the rulebook; one of: {', '.join(codes)}")

    @validates("quality_checklist")
    def _rulebook_items(self, value: list[str] | None, **kwargs: object) -> None:
        if value is None:
            return
        from shared.rulebook import current_rulebook

        codes = [
            item.code for standard in current_rulebook("proposal").quality_standards() for item in standard["items"]
        ]
        unknown = sorted(set(value) - set(codes))
        if unknown:
            raise ValidationError(
                f"not items of the quality checklist: {', '.join(unknown)}; the items are: {', '.join(codes)}"
            )
        if len(set(value)) != len(value):
            raise ValidationError("each item once")

    @validates_schema
    def _checklist_or_grade(self, data: dict[str, Any], **kwargs: object) -> None:
        if (data.get("grade") is None) == (data.get("quality_checklist") is None):
            raise ValidationError(
                "tick the quality checklist's items the proposal meets (or give a grade)", "quality_checklist"
            )

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = super().load(data, **kwargs)
        if loaded["quality_checklist"] is not None:
            # The grade the checklist comes to, in the task data: instances of proposal diagrams
            # deployed before the checklist pass only the grade. evaluation.grade_quality computes
            # it again from the checklist and keeps its own.
            from shared.rulebook import current_rulebook

            rulebook = current_rulebook("proposal")
            points = sum(
                item.points
                for standard in rulebook.quality_standards()
                for item in standard["items"]
                if item.code in loaded["quality_checklist"]
            )
            loaded["grade"] = rulebook.quality_grade_for(points)
        return loaded


class DecideAppealForm(Form):
    """The committee decides a proposer's appeal of a re-handled reply, with its reasons: uphold the
    handling as it stands (the rating stays) or order another re-handling."""

    appeal_decision = fields.String(required=True, validate=validate.OneOf(["upheld", "rehandle"]))
    appeal_reason = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class OpinionEditForm(FourChecksDecide, Form):
    """编: the four checks (四关), each passed or not with a note, and the decision. Only an item
    that passed all four is reported; one not adopted says why (the submitter is told)."""

    political_ok = fields.Boolean(required=True)
    political_note = fields.String(load_default="", validate=validate.Length(max=2000))
    facts_ok = fields.Boolean(required=True)
    facts_note = fields.String(load_default="", validate=validate.Length(max=2000))
    content_ok = fields.Boolean(required=True)
    content_note = fields.String(load_default="", validate=validate.Length(max=2000))
    wording_ok = fields.Boolean(required=True)
    wording_note = fields.String(load_default="", validate=validate.Length(max=2000))
    decision = fields.String(required=True, validate=validate.OneOf(["report", "not_adopted"]))
    not_adopted_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    edited_title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))

    @validates("edited_title")
    def _title_within_the_rulebook(self, value: str | None, **kwargs: object) -> None:
        """The editors' title is held to the rulebook's ``limits.max_title``, as the member's is."""
        most = _opinion_max_title()
        if value is not None and len(value) > most:
            raise ValidationError(f"at most {most} characters (the opinion rulebook's max_title); it has {len(value)}")


class OpinionSignOffForm(Form):
    """签发: a leader signs the item off to the chosen recipient channels (codes of
    bpmn/rules/opinion.yaml; an unknown one sends the task back with the reason) or returns it."""

    approved = fields.Boolean(required=True)
    channels = fields.List(fields.String(validate=validate.Length(min=1)), load_default=list)
    sign_off_comment = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _approval_names_channels(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["approved"] and not data["channels"]:
            raise ValidationError("a signed-off item goes to at least one recipient channel", "channels")


class OpinionForwardForm(Form):
    """转办: forward the adopted item to departments (unit codes) with a request, or not."""

    forward = fields.Boolean(required=True)
    units = fields.List(_unit_code(), load_default=list)
    forward_request = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _forwarding_names_units(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["forward"] and not data["units"]:
            raise ValidationError("name the departments it is forwarded to", "units")


def _opinion_max_title() -> int:
    """``limits.max_title`` of bpmn/rules/opinion.yaml (intake's rulebook, read as written)."""
    from shared.rulebook import rules_as_written

    return int((rules_as_written("opinion").get("limits") or {}).get("max_title") or 100)


def _consultation_codes(section: str) -> list[str]:
    """Codes of a section of bpmn/rules/micro_consultation.yaml (read when a form is checked)."""
    from shared.rulebook import current_rulebook

    return [label.code for label in current_rulebook("micro_consultation").rules[section]]


class ConsultationDispatchForm(Form):
    """派单: staff give the case to a member, or close it with a rulebook close reason."""

    dispatch_action = fields.String(required=True, validate=validate.OneOf(["dispatch", "close"]))
    member = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=100))
    close_reason = fields.String(load_default=None, allow_none=True)
    dispatch_note = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _action_needs(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["dispatch_action"] == "dispatch" and not data.get("member"):
            raise ValidationError("name the member who takes the case", "member")
        if data["dispatch_action"] == "close" and data.get("close_reason") not in _consultation_codes("close_reasons"):
            raise ValidationError(f"one of: {', '.join(_consultation_codes('close_reasons'))}", "close_reason")


class ConsultationTakeForm(Form):
    """接单: the member takes the case, or declines it saying why."""

    accepted = fields.Boolean(required=True)
    decline_reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))

    @validates_schema
    def _decline_says_why(self, data: dict[str, Any], **kwargs: object) -> None:
        if not data["accepted"] and not (data.get("decline_reason") or "").strip():
            raise ValidationError("say why the case is declined", "decline_reason")


class ConsultationDecideForm(Form):
    """协商解单: answered on the spot (with the answer), turned into an opinion item or a proposal
    (with the member's analysis and suggestion), or taken to a consultation meeting."""

    outcome = fields.String(required=True, validate=validate.OneOf(["answered", "opinion", "proposal", "meeting"]))
    answer = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    convert_title = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    analysis = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    suggestion = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))
    urgent = fields.Boolean(load_default=False)

    @validates_schema
    def _outcome_needs(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["outcome"] == "answered" and not (data.get("answer") or "").strip():
            raise ValidationError("an answer on the spot says what was answered", "answer")
        if data["outcome"] in ("opinion", "proposal") and not (data.get("suggestion") or "").strip():
            raise ValidationError("an opinion item or a proposal needs the member's suggestion", "suggestion")


class ConsultationMeetingForm(Form):
    """协商议事: the meeting's form (rulebook meeting_forms), venue, date, attending members, the
    departments (unit codes) asked to commit, and the summary."""

    meeting_form = fields.String(required=True)
    meeting_venue = fields.String(load_default=None, allow_none=True)
    held_on = fields.Date(required=True)
    attendees = fields.List(fields.String(validate=validate.Length(min=1, max=100)), load_default=list)
    units = fields.List(_unit_code(), load_default=list)
    summary = fields.String(required=True, validate=validate.Length(min=1, max=4000))

    @validates_schema
    def _known_form(self, data: dict[str, Any], **kwargs: object) -> None:
        if data["meeting_form"] not in _consultation_codes("meeting_forms"):
            raise ValidationError(f"one of: {', '.join(_consultation_codes('meeting_forms'))}", "meeting_form")

    @validates("held_on")
    def _held_already(self, value: Any, **kwargs: object) -> None:
        """A meeting is recorded once it was held: a day to come is a mistake (and would book the
        attendees' points on it)."""
        from shared.calendar import local_date
        from shared.clock import now

        today = local_date(now())
        if value > today:
            raise ValidationError(
                f"{value.isoformat()} is after today ({today.isoformat()}): record the meeting once it was held"
            )

    def load(self, data: Mapping[str, Any] | Sequence[Mapping[str, Any]], **kwargs: Any) -> dict[str, Any]:
        loaded: dict[str, Any] = super().load(data, **kwargs)
        loaded["held_on"] = loaded["held_on"].isoformat()  # task data stays JSON
        return loaded


class ConsultationFollowUpForm(Form):
    """跟进查单: are the departments' actions done?"""

    actions_done = fields.Boolean(required=True)
    follow_up_note = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ConsultationReturnVisitForm(Form):
    """回访: the resident reached, and their satisfaction (rulebook levels); or why not reached."""

    reached = fields.Boolean(required=True)
    satisfaction = fields.String(load_default=None, allow_none=True)
    visit_comment = fields.String(load_default="", validate=validate.Length(max=2000))

    @validates_schema
    def _reached_has_satisfaction(self, data: dict[str, Any], **kwargs: object) -> None:
        levels = _consultation_codes("satisfaction")
        if data["reached"] and data.get("satisfaction") not in levels:
            raise ValidationError(f"one of: {', '.join(levels)}", "satisfaction")
        if not data["reached"] and not data.get("visit_comment"):
            raise ValidationError("say why the resident could not be reached", "visit_comment")


FORMS: dict[str, type[Schema]] = {
    "smoke.review": SmokeReviewForm,
    "proposal.pre_review": PreReviewForm,
    "proposal.filing_decision": FilingDecisionForm,
    "proposal.assign": AssignForm,
    "proposal.approve_extension": ApproveExtensionForm,
    "proposal.review_reply": ReviewReplyForm,
    "proposal.grade_quality": GradeQualityForm,
    "proposal.decide_appeal": DecideAppealForm,
    "opinion.edit": OpinionEditForm,
    "opinion.sign_off": OpinionSignOffForm,
    "opinion.forward": OpinionForwardForm,
    "consultation.dispatch": ConsultationDispatchForm,
    "consultation.take": ConsultationTakeForm,
    "consultation.decide": ConsultationDecideForm,
    "consultation.meeting": ConsultationMeetingForm,
    "consultation.follow_up": ConsultationFollowUpForm,
    "consultation.return_visit": ConsultationReturnVisitForm,
}
