"""Opinion information (社情民意信息): submission (征), editing (编), sign-off and reporting (报),
adoption, instructions, forwarding and answers (踪), and the case thread; the submitter hears of
each step through the notification inbox (馈).

Decisions that are steps of the diagram (the four checks, sign-off, forwarding) complete the
item's open task in the engine, which checks the caller may act on it and the form; facts that
arrive from outside (a recipient adopted it, a leader's instruction, a department's answer) go to
intake, which authorises the caller again and tells the process.
"""

from __future__ import annotations

from functools import partial

from marshmallow import Schema

from shared.contracts import field_types as fields


from shared.contracts.rpc.opinions import (
    AdoptionRequest,
    AnswerRequest,
    InstructionRequest,
    OpinionDraftSchema,
    OpinionSchema,
    ToProposalRequest,
)
from shared.forms import OpinionEditForm, OpinionForwardForm, OpinionSignOffForm

from .. import schemas
from ..http import complete_open_task, endpoint, given, http

PROCESS_ID = "opinion"
STAFF_ROLES = ("staff", "committee", "leader")
OPINION_READERS = ("member", "informant", *STAFF_ROLES, "unit")


OPINION_QUERY = ("page", "per_page", "mine", "status", "awaiting")


OpinionPage = schemas.page_of(
    "OpinionPage",
    OpinionSchema,
    "items",
    "newest first",
    "the caller may read among those asked for",
    "the caller's own (staff: every one) in full; another member's adopted ones as published; a unit's as "
    "forwarded to it",
)


class OpinionTask(schemas.Task):
    urgent = fields.Boolean(metadata={"description": "急事急报: listed first"})
    submitted_at = fields.String(allow_none=True)


class OpinionConversion(Schema):
    opinion = fields.Nested(OpinionSchema)
    proposal = fields.Nested(schemas.Proposal)


class ThreadEntry(Schema):
    kind = fields.String(metadata={"description": "opinion | proposal (the consultation work adds case)"})
    number = fields.String()
    title = fields.String()
    status = fields.String()
    submitter = fields.String()
    created_at = fields.String()
    events = fields.List(fields.Dict())


class Thread(Schema):
    thread = fields.String()
    entries = fields.List(fields.Nested(ThreadEntry))
    history = fields.List(fields.Dict(), metadata={"description": "every event of the thread, oldest first"})


class ForwardAnswer(Schema):
    number = fields.String()
    unit = fields.String()
    status = fields.String()
    answered_at = fields.String()


class OpinionRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService` (``self.intake``, ``self.engine``)."""

    def _complete(self, principal, number: str, task: str, data: dict) -> dict:
        """Complete the item's open ``task`` with ``data`` (the engine checks the caller and the form)."""
        # No such task open: a cancelled item says who cancelled it, when and why.
        why_not = partial(self.intake.check_opinion_open, number, principal)
        complete_open_task(self.engine, principal, PROCESS_ID, number, task, data, f"opinion item {number}", why_not)
        return self.intake.get_opinion(number, principal)

    # -- 征 submit --------------------------------------------------------------------------------
    @http("POST", "/api/opinions")
    @endpoint("member", "informant", body=OpinionDraftSchema, response=OpinionSchema, status=201, idempotent=True)
    def submit_opinion(self, request, principal, body, key):
        """Submit an opinion item (one matter, within the rulebook's length; urgent: 急事急报), or save it."""
        return 201, self.intake.submit_opinion(body, principal, key=key)

    @http("POST", "/api/opinions/<string:number>/submit")
    @endpoint("member", "informant", body=schemas.EmptyRequest, response=OpinionSchema)
    def submit_saved_opinion(self, request, principal, number, body):
        """Submit an item saved earlier."""
        return 200, self.intake.submit_saved_opinion(number, principal)

    @http("GET", "/api/opinions")
    @endpoint(*OPINION_READERS, response=OpinionPage, query=OPINION_QUERY)
    def list_opinions(self, request, principal):
        """A page of the items the caller may read, newest first (``page``, ``per_page`` 1-200,
        default 50): staff all; members and informants their own (members also adopted ones, as
        published); units those forwarded to them. ``mine=true``: only the caller's own;
        ``status``: only items in it; ``awaiting=instruction``: only those with an adopted report
        on a channel no leader's instruction answers yet."""
        query = given(request, OPINION_QUERY)
        return 200, self.intake.opinion_page(principal, query)

    @http("GET", "/api/opinions/<string:number>")
    @endpoint(*OPINION_READERS, response=OpinionSchema)
    def get_opinion(self, request, principal, number):
        """One item with its checks, reports, adoptions, instructions, forwards and history."""
        return 200, self.intake.get_opinion(number, principal)

    # -- 编 edit, 报 sign off and report ------------------------------------------------------------
    @http("GET", "/api/opinion-tasks")
    @endpoint(*STAFF_ROLES, response=OpinionTask(many=True))
    def opinion_tasks(self, request, principal):
        """The editors' (and leaders') open opinion tasks: urgent items (急事急报) first, then the oldest."""
        tasks = self.engine.list_tasks(principal, None, None, PROCESS_ID)
        flags = self.intake.opinion_editing_flags([t["business_key"] for t in tasks], principal)
        for task in tasks:
            task.update(flags["items"].get(task["business_key"], {"urgent": False, "submitted_at": None}))
        tasks.sort(
            key=lambda t: (not (flags["urgent_first"] and t["urgent"]), t["submitted_at"] or "", t["created_at"])
        )
        return 200, tasks

    @http("POST", "/api/opinions/<string:number>/editing")
    @endpoint("staff", body=OpinionEditForm, response=OpinionSchema)
    def edit_opinion(self, request, principal, number, body):
        """The four checks (四关: political soundness, facts, content, wording) and the decision."""
        return 200, self._complete(principal, number, "edit", body)

    @http("POST", "/api/opinions/<string:number>/sign-off")
    @endpoint("leader", body=OpinionSignOffForm, response=OpinionSchema)
    def sign_off_opinion(self, request, principal, number, body):
        """签发: a leader signs the item off to recipient channels (each numbers its issue), or returns it."""
        return 200, self._complete(principal, number, "sign_off", body)

    # -- 踪 track ---------------------------------------------------------------------------------
    @http("POST", "/api/opinions/<string:number>/adoptions")
    @endpoint("staff", body=AdoptionRequest, response=OpinionSchema)
    def record_adoption(self, request, principal, number, body):
        """A recipient channel adopted (采用) the item, or not."""
        return 200, self.intake.record_adoption(number, body, principal)

    @http("POST", "/api/opinions/<string:number>/instructions")
    @endpoint("staff", "leader", body=InstructionRequest, response=OpinionSchema, status=201)
    def record_instruction(self, request, principal, number, body):
        """A leader's instruction (领导批示) on an adopted report, with its level (city, province, national)."""
        return 201, self.intake.record_instruction(number, body, principal)

    @http("POST", "/api/opinions/<string:number>/forwarding")
    @endpoint("staff", body=OpinionForwardForm, response=OpinionSchema)
    def forward_opinion(self, request, principal, number, body):
        """转办: forward the adopted item to departments (unit codes), or close it without."""
        return 200, self._complete(principal, number, "forward_decision", body)

    @http("POST", "/api/opinions/<string:number>/answers")
    @endpoint("unit", body=AnswerRequest, response=ForwardAnswer, status=201)
    def answer_opinion(self, request, principal, number, body):
        """A department answers an item forwarded to it (its own only)."""
        return 201, self.intake.answer_forward(number, body, principal)

    # -- one thread ---------------------------------------------------------------------------------
    @http("POST", "/api/opinions/<string:number>/to-proposal")
    @endpoint("member", body=ToProposalRequest, response=OpinionConversion, status=201)
    def opinion_to_proposal(self, request, principal, number, body):
        """The submitting member turns the item (in editing or not adopted) into a proposal in its thread."""
        return 201, self.intake.opinion_to_proposal(number, body, principal)

    @http("GET", "/api/threads/<string:thread>")
    @endpoint("member", "informant", *STAFF_ROLES, response=Thread)
    def thread(self, request, principal, thread):
        """Every micro-consultation case, opinion item and proposal of a case thread with their
        states and events, in order."""
        return 200, self._with_case(thread, principal, self.intake.thread(thread, principal))
