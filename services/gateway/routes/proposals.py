"""Proposals (提案): intake, assignment (交, 办), supervision (督), evaluation (评)."""

from __future__ import annotations

import base64
import re

from marshmallow import Schema

from shared.contracts import field_types as fields
from werkzeug.wrappers import Response


from shared.contracts.rpc.proposals import MAX_TITLES_ASKED
from shared.errors import InvalidInput, NotFound

from .. import schemas
from ..http import endpoint, given, http

ASSIGNMENT_QUERY = ("page", "per_page", "number", "status")
PROPOSAL_QUERY = ("page", "per_page", "mine")


class _SimilarProposal(Schema):
    number = fields.String()
    similarity = fields.Float(metadata={"description": "Jaccard index of the titles' character bigrams"})


class _RoutingSuggestion(Schema):
    unit = fields.String()
    name = fields.String()
    score = fields.Integer(metadata={"description": "keyword matches plus similar_count"})
    similar_count = fields.Integer(
        metadata={"description": "how many of the most similar past proposals (similar_counted) went to this unit"}
    )
    reasons = fields.List(
        fields.String(),
        metadata={
            "description": "e.g. 'keyword 公交', '3 past proposals with similar titles went to transport', "
            "'7 of the 50 most similar past proposals went to transport'"
        },
    )
    keywords = fields.List(fields.String())
    similar_proposals = fields.List(
        fields.Nested(_SimilarProposal),
        metadata={"description": "the ten most similar of them (similar_count counts them all), most similar first"},
    )


class RoutingSuggestions(Schema):
    number = fields.String()
    routing_version = fields.String(metadata={"description": "the rulebook's routing section version"})
    rulebook = fields.Dict(metadata={"description": "name, version, hash of bpmn/rules/proposal.yaml"})
    similar_total = fields.Integer(metadata={"description": "how many past proposals have a similar title"})
    similar_counted = fields.Integer(
        metadata={
            "description": "how many of them, the most similar, were counted (the rulebook's similar_titles.nearest)"
        }
    )
    suggestions = fields.List(fields.Nested(_RoutingSuggestion))


class RoutingSuggestionsOf(Schema):
    proposals = fields.List(
        fields.Nested(RoutingSuggestions),
        metadata={"description": "the suggestions of each proposal asked that exists, in the order asked"},
    )
    unknown = fields.List(
        fields.String(),
        metadata={
            "description": "the numbers asked that are no proposal (none with that number, or not a proposal "
            "number at all), in the order asked: the others are answered all the same"
        },
    )


OVERSEERS = ("staff", "committee", "leader")
_OVERDUE_PAGE = ("page", "per_page")
# What a proposal number looks like (intake's numbering: the session year and a sequence of at least
# four digits, 2027-0001); anything else is no proposal, answered without asking intake.
PROPOSAL_NUMBER = re.compile(r"\d{4}-\d{4,}")
# The most proposals one call of /api/routing-suggestions routes (the assignment service's and
# intake's own limit): a page of the staff's task list.
ROUTED_AT_ONCE = MAX_TITLES_ASKED
# Proposals are read by members (their own in full, published ones as published), overseers and the
# public (published ones only).
PROPOSAL_READERS = ("member", *OVERSEERS, "public")
# A proposal's deadlines and supervision log: its proposers, overseers and the units it was given to
# (the services narrow a member and a unit to their own proposals).
INVOLVED = ("member", *OVERSEERS, "unit")


class ProposalRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService`, which supplies ``self.engine``,
    ``self.intake``, ``self.assignment``, ``self.supervision`` and ``self.evaluation`` (RPC proxies)."""

    # -- proposals (提案) ---------------------------------------------------------------------
    @http("POST", "/api/proposals")
    @endpoint("member", body=schemas.ProposalDraft, response=schemas.Proposal, status=201, idempotent=True)
    def submit_proposal(self, request, principal, body, key):
        """Submit a proposal (one matter: situation, analysis, suggestions), perhaps with co-signers."""
        return 201, self.intake.submit(body, principal, key=key)

    @http("GET", "/api/proposals")
    @endpoint(*PROPOSAL_READERS, response=schemas.ProposalPage, query=PROPOSAL_QUERY)
    def list_proposals(self, request, principal):
        """A page of the proposals the caller may read, newest first (``page``, ``per_page`` 1-200,
        default 50; ``mine=true``: only the caller's own)."""
        query = given(request, PROPOSAL_QUERY)
        return 200, self.intake.proposal_page(principal, query)

    @http("GET", "/api/proposals/<string:number>")
    @endpoint(*PROPOSAL_READERS, response=schemas.Proposal)
    def get_proposal(self, request, principal, number):
        """One proposal; other members and the public see it only once published, with personal data masked."""
        return 200, self.intake.get(number, principal)

    @http("POST", "/api/proposals/<string:number>/cosign")
    @endpoint("member", body=schemas.CosignRequest, response=schemas.Proposal)
    def cosign_proposal(self, request, principal, number, body):
        """An invited co-signer confirms, before the co-signing deadline; named where the proposal
        is published only with ``publish_name: true`` (without a body: confirmed, not named)."""
        return 200, self.intake.cosign(number, principal, body["publish_name"])

    @http("POST", "/api/proposals/<string:number>/resubmit")
    @endpoint("member", body=schemas.ProposalRevision, response=schemas.Proposal)
    def resubmit_proposal(self, request, principal, number, body):
        """The initiator resubmits a proposal returned for revision."""
        return 200, self.intake.resubmit(number, body, principal)

    @http("GET", "/api/proposals/<string:number>/reply")
    @endpoint("member", *OVERSEERS, response=schemas.ProposalReply)
    def proposal_reply(self, request, principal, number):
        """The answer to a proposal: each accepted round's replies (category, text, units) and the
        co-units' input. For its proposers (of a merged proposal too: the answer of the one it was
        merged into), staff, the committee and leaders; not found for anyone else."""
        return 200, self.assignment.proposal_reply(number, principal=principal)

    # -- evaluation (评) -------------------------------------------------------------------------
    @http("POST", "/api/proposals/<string:number>/ratings")
    @endpoint("member", body=schemas.RatingRequest, response=schemas.Rating, status=201)
    def rate(self, request, principal, number, body):
        """A proposer rates the reply: two scores (handling, result), only for themselves."""
        return 201, self.evaluation.rate(number, body["handling"], body["result"], body["comment"], principal=principal)

    @http("POST", "/api/proposals/<string:number>/appeal")
    @endpoint(
        "member",
        body=schemas.AppealRequest,
        response=schemas.Appeal,
        status=201,
        statuses=(
            (409, "not appealable: a first reply, not rated 不满意 by the caller, or appealed already"),
            (422, "the appeal window has ended"),
        ),
    )
    def appeal(self, request, principal, number, body):
        """申诉: a proposer still 不满意 after a re-handled reply appeals within the window; the
        committee decides (uphold the handling, or order another re-handling)."""
        return 201, self.evaluation.appeal(number, body["reason"], principal=principal)

    @http("GET", "/api/proposals/<string:number>/ratings")
    @endpoint("member", *OVERSEERS, response=schemas.Ratings)
    def ratings(self, request, principal, number):
        """Rating rounds: proposers see their own ratings, staff and leaders all of them."""
        return 200, self.evaluation.ratings(number, principal=principal)

    @http("GET", "/api/assessments/units/<year:year>")
    @endpoint("staff", "committee", "leader", response=schemas.UnitAssessment)
    def unit_assessment(self, request, principal, year):
        """The units' annual assessment, computed from handling scores and ratings."""
        return 200, self.evaluation.unit_assessment(year, principal=principal)

    @http("GET", "/api/assessments/units/<year:year>/export")
    @endpoint(
        "staff",
        "committee",
        "leader",
        query=("format",),
        files=("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "text/csv"),
    )
    def export_unit_assessment(self, request, principal, year):
        """The units' 目标考核 scores in rank order as a file: ``?format=xlsx`` (default) or ``csv``."""
        exported = self.evaluation.export_unit_assessment(year, request.args.get("format", "xlsx"), principal=principal)
        return 200, Response(
            base64.b64decode(exported["content_base64"]),
            status=200,
            content_type=exported["content_type"],
            headers={"Content-Disposition": f'attachment; filename="{exported["filename"]}"'},
        )

    # -- supervision (督) -------------------------------------------------------------------------
    @http("GET", "/api/proposals/<string:number>/deadlines")
    @endpoint(*INVOLVED, response=schemas.Deadlines)
    def deadlines(self, request, principal, number):
        """Every deadline of a proposal and why it is what it is: rule, start, calendar, changes. For
        its proposers, staff, the committee, leaders and the units it was given to."""
        return 200, self.supervision.deadlines(number, principal=principal)

    @http("GET", "/api/overdue")
    @endpoint(*OVERSEERS, response=schemas.OverdueBoard, query=_OVERDUE_PAGE)
    def overdue(self, request, principal):
        """The live list of overdue work per unit, a page of overdue deadlines at a time, most
        overdue first, with every unit's count on every page."""
        query = given(request, _OVERDUE_PAGE)
        return 200, self.supervision.overdue(query, principal=principal)

    @http("POST", "/api/proposals/<string:number>/supervision-log")
    @endpoint("leader", body=schemas.SupervisionLogRequest, response=schemas.SupervisionLogEntry, status=201)
    def log_key_supervision(self, request, principal, number, body):
        """The supervising leader of a key proposal records a visit, meeting or instruction."""
        return 201, self.supervision.log_key_supervision(number, body["kind"], body["text"], principal=principal)

    @http("GET", "/api/proposals/<string:number>/supervision-log")
    @endpoint(*INVOLVED, response=schemas.SupervisionLog)
    def key_supervision_log(self, request, principal, number):
        """A key proposal's supervision log: for its proposers, overseers and the units it was given to."""
        return 200, self.supervision.key_supervision_log(number, principal=principal)

    @http("GET", "/api/proposals/<string:number>/routing-suggestions")
    @endpoint("staff", response=RoutingSuggestions)
    def routing_suggestions(self, request, principal, number):
        """Units the proposal might go to, each with its reasons: rulebook keywords, and the units
        that answered past proposals with similar titles. Staff decide."""
        proposal = self.intake.get(number, principal)
        text = "\n".join(proposal.get(key) or "" for key in ("situation", "analysis", "suggestions"))
        return 200, self.assignment.routing_suggestions(
            {"number": number, "title": proposal["title"], "text": text}, principal=principal
        )

    @http("GET", "/api/routing-suggestions")
    @endpoint("staff", response=RoutingSuggestionsOf, query=("numbers",))
    def routing_suggestions_of(self, request, principal):
        """Routing suggestions of several proposals at once, in the order asked
        (``?numbers=2026-0001,2026-0002``, at most 100): what the staff's task list shows beside
        each proposal to assign, with one search of the title index for all of them. A number of
        no proposal does not spoil the rest: it is listed in ``unknown`` and the others are
        answered in ``proposals``; 400 only when no number given is a proposal number."""
        numbers = list(dict.fromkeys(n.strip() for n in request.args.get("numbers", "").split(",") if n.strip()))
        if not 1 <= len(numbers) <= ROUTED_AT_ONCE:
            raise InvalidInput(
                "which proposals?",
                {"numbers": [f"give 1 to {ROUTED_AT_ONCE} proposal numbers, comma-separated ({len(numbers)} given)"]},
            )
        if not any(PROPOSAL_NUMBER.fullmatch(number) for number in numbers):
            raise InvalidInput(
                "which proposals?",
                {"numbers": [f"no proposal number (such as 2026-0001) among {', '.join(numbers)}"]},
            )
        proposals, unknown = [], []
        for number in numbers:
            try:
                if not PROPOSAL_NUMBER.fullmatch(number):
                    raise NotFound(f"{number} is no proposal number")
                proposal = self.intake.get(number, principal)
            except NotFound:
                unknown.append(number)
                continue
            text = "\n".join(proposal.get(key) or "" for key in ("situation", "analysis", "suggestions"))
            proposals.append({"number": number, "title": proposal["title"], "text": text})
        if not proposals:
            return 200, {"proposals": [], "unknown": unknown}
        found = self.assignment.routing_suggestions_many({"proposals": proposals}, principal=principal)
        return 200, {"proposals": found, "unknown": unknown}

    # -- units (交, 办): a unit handler acts on its own unit's assignments only ---------------------
    @http("GET", "/api/assignments")
    @endpoint("unit", "staff", "leader", "committee", response=schemas.AssignmentPage, query=ASSIGNMENT_QUERY)
    def list_assignments(self, request, principal):
        """A page of assignments, newest first: a unit sees its own, staff every unit's (``page``,
        ``per_page`` 1-200, default 50; filters ``number``, the proposal, and ``status``)."""
        query = given(request, ASSIGNMENT_QUERY)
        return 200, self.assignment.assignment_page(principal=principal, query=query)

    @http("GET", "/api/assignments/<id:assignment_id>")
    @endpoint("unit", "staff", "leader", "committee", response=schemas.AssignmentShown)
    def get_assignment(self, request, principal, assignment_id):
        """One assignment with its replies, co-signatures and events."""
        return 200, self.assignment.get_assignment(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<id:assignment_id>/sign")
    @endpoint("unit", body=schemas.EmptyRequest, response=schemas.AssignmentAnswer)
    def sign_assignment(self, request, principal, assignment_id, body):
        """签收: the unit signs for the assignment; its clock starts. The body is empty (or ``{}``)."""
        return 200, self.assignment.sign(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<id:assignment_id>/object")
    @endpoint("unit", body=schemas.ObjectionRequest, response=schemas.AssignmentAnswer)
    def object_to_assignment(self, request, principal, assignment_id, body):
        """Object to an assignment within the window; staff reassign."""
        return 200, self.assignment.object(assignment_id, body["reason"], principal=principal)

    @http("POST", "/api/assignments/<id:assignment_id>/input")
    @endpoint("unit", body=schemas.TextRequest, response=schemas.InputSent)
    def send_input(self, request, principal, assignment_id, body):
        """A co-unit sends its input to the lead unit."""
        return 200, self.assignment.send_input(assignment_id, body["text"], principal=principal)

    @http("POST", "/api/assignments/<id:assignment_id>/reply-draft")
    @endpoint("unit", body=schemas.ReplyDraftRequest, response=schemas.ReplyShown)
    def draft_reply(self, request, principal, assignment_id, body):
        """The answering unit drafts its reply with a category; category B with its milestones."""
        milestones = [{"what": m["what"], "due": m["due"].isoformat()} for m in body["milestones"]]
        return 200, self.assignment.draft_reply(
            assignment_id, body["category"], body["text"], principal=principal, milestones=milestones
        )

    @http("POST", "/api/assignments/<id:assignment_id>/cosign-reply")
    @endpoint("unit", body=schemas.EmptyRequest, response=schemas.ReplyShown)
    def cosign_reply(self, request, principal, assignment_id, body):
        """会签: a co-unit co-signs the lead's draft."""
        return 200, self.assignment.cosign_reply(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<id:assignment_id>/reply")
    @endpoint("unit", body=schemas.EmptyRequest, response=schemas.ReplySubmitted)
    def submit_reply(self, request, principal, assignment_id, body):
        """Submit the reply; refused until every co-unit co-signed."""
        return 200, self.assignment.submit_reply(assignment_id, principal=principal)

    @http("POST", "/api/assignments/<id:assignment_id>/extension")
    @endpoint(
        "unit",
        body=schemas.ExtensionRequest,
        response=schemas.ExtensionAskedAnswer,
        statuses=((422, "asked after the reply deadline ended"),),
    )
    def request_extension(self, request, principal, assignment_id, body):
        """Ask for a later reply deadline, before the current one: until a date or for some months."""
        until = body["until"].isoformat() if body["until"] is not None else None
        return 200, self.assignment.request_extension(
            assignment_id, until=until, months=body["months"], reason=body["reason"], principal=principal
        )

    @http("POST", "/api/assignments/<id:assignment_id>/milestone")
    @endpoint("unit", body=schemas.MilestoneRequest, response=schemas.MilestoneDone)
    def report_milestone(self, request, principal, assignment_id, body):
        """After a category B reply was accepted: report one of its milestones done."""
        return 200, self.assignment.report_milestone(
            assignment_id, body["milestone"], body["note"], principal=principal
        )

    @http("POST", "/api/assignments/<id:assignment_id>/contacts")
    @endpoint("unit", body=schemas.ContactRequest, response=schemas.Contact, status=201)
    def record_contact(self, request, principal, assignment_id, body):
        """办理沟通: record a contact with the proposer (face to face, phone, letter, online: the
        rulebook's kinds); a face-to-face one before the reply counts for the handling checklist."""
        return 201, self.assignment.record_contact(
            assignment_id,
            body["kind"],
            body["held_on"].isoformat(),
            body["participants"],
            note=body["note"],
            principal=principal,
        )

    @http("POST", "/api/assignments/<id:assignment_id>/followup")
    @endpoint("unit", body=schemas.TextRequest, response=schemas.FollowupSent)
    def submit_followup(self, request, principal, assignment_id, body):
        """After a category B reply: report the matter solved (the second reply)."""
        return 200, self.assignment.submit_followup(assignment_id, body["text"], principal=principal)
