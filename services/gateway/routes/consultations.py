"""Micro-consultation (微协商) and the venue directory: registering a resident's issue, the steps
of the case (dispatch, take, decide, meeting, follow-up, return visit), departments' commitments,
and the venues with their coverage.

Steps of the diagram complete the case's open task in the engine, which checks the caller may act
on it (role and, for the member's steps, the member the case was given to) and the form; facts
from outside (a department's commitment) go to the assignment service, which authorises the
caller again and tells the process.
"""

from __future__ import annotations

from functools import partial

from marshmallow import Schema

from shared.contracts import field_types as fields


from shared.contracts.rpc.consultations import (
    CaseRegistration,
    CaseSchema,
    CommitmentRequest,
    CoverageSchema,
    VenueSchema,
)
from shared.forms import (
    ConsultationDecideForm,
    ConsultationDispatchForm,
    ConsultationFollowUpForm,
    ConsultationMeetingForm,
    ConsultationReturnVisitForm,
    ConsultationTakeForm,
)

from .. import schemas
from ..http import EVERYONE, complete_open_task, endpoint, given, http

PROCESS_ID = "micro_consultation"
CASE_READERS = ("member", "staff", "committee", "leader", "unit")
CASE_QUERY = ("page", "per_page", "status", "venue", "mine")


CasePage = schemas.page_of("CasePage", CaseSchema, "cases", "newest first", "the caller may read among those asked for")


class CaseStep(Schema):
    """The case after the step was handed to the engine (the recording job follows at once)."""

    number = fields.String()
    task = fields.String()
    case = fields.Nested(CaseSchema)


class ConsultationRoutes:
    """Mixed into :class:`~services.gateway.service.GatewayService` (``self.assignment``, ``self.engine``)."""

    def _step(self, principal, number: str, task: str, data: dict) -> dict:
        """Complete the case's open ``task`` with ``data`` (the engine checks the caller and the form)."""
        # No such task open: a cancelled case says who cancelled it, when and why.
        why_not = partial(self.assignment.check_case_open, number, principal)
        complete_open_task(self.engine, principal, PROCESS_ID, number, task, data, f"case {number}", why_not)
        return {"number": number, "task": task, "case": self.assignment.get_case(number, principal)}

    def _with_case(self, thread: str, principal, found: dict) -> dict:
        """``GET /api/threads/<thread>``: add the micro-consultation case of the thread, if it is one,
        first among the entries and its events in the history (the assignment service checks the
        caller may read the case)."""
        case = self.assignment.case_thread(thread, principal)
        if case is None:
            return found
        entries = [case, *found.get("entries", [])]
        history = [
            *({"kind": "case", "number": case["number"], **e} for e in case["events"]),
            *found.get("history", []),
        ]
        history.sort(key=lambda h: h.get("at") or "")
        return {**found, "thread": thread, "entries": entries, "history": history}

    # -- 群众点单 register, read -------------------------------------------------------------------
    @http("POST", "/api/consultations")
    @endpoint("staff", "member", body=CaseRegistration, response=CaseSchema, status=201, idempotent=True)
    def register_case(self, request, principal, body, key):
        """Register a resident's issue raised at a venue; the case number is its thread."""
        return 201, self.assignment.register_case(body, principal, key=key)

    @http("GET", "/api/consultations")
    @endpoint(*CASE_READERS, response=CasePage, query=CASE_QUERY)
    def list_cases(self, request, principal):
        """A page of the cases the caller may read, newest first (``page``, ``per_page`` 1-200,
        default 50): staff all (mine=true: those they registered); a member those given to them,
        registered by them or raised where they serve; a department those it was asked to commit
        on. ``status``, ``venue``: only those."""
        query = given(request, CASE_QUERY)
        return 200, self.assignment.case_page(principal, query)

    @http("GET", "/api/consultations/<string:number>")
    @endpoint(*CASE_READERS, response=CaseSchema)
    def get_case(self, request, principal, number):
        """One case with its meetings, commitments, follow-ups and history (a department: its own
        commitment only, the resident's name masked)."""
        return 200, self.assignment.get_case(number, principal)

    # -- 派单 接单 解单 -----------------------------------------------------------------------------
    @http("POST", "/api/consultations/<string:number>/dispatch")
    @endpoint("staff", body=ConsultationDispatchForm, response=CaseStep)
    def dispatch_case(self, request, principal, number, body):
        """政协派单: give the case to a member, or close it with a rulebook close reason."""
        return 200, self._step(principal, number, "dispatch", body)

    @http("POST", "/api/consultations/<string:number>/take")
    @endpoint("member", body=ConsultationTakeForm, response=CaseStep)
    def take_case(self, request, principal, number, body):
        """委员接单: the member the case was given to takes it, or declines saying why."""
        return 200, self._step(principal, number, "take", body)

    @http("POST", "/api/consultations/<string:number>/decision")
    @endpoint("member", body=ConsultationDecideForm, response=CaseStep)
    def decide_case(self, request, principal, number, body):
        """协商解单: answered on the spot, turned into an opinion item or a proposal (in the case's
        thread), or taken to a consultation meeting."""
        return 200, self._step(principal, number, "decide", body)

    @http("POST", "/api/consultations/<string:number>/meeting")
    @endpoint("member", body=ConsultationMeetingForm, response=CaseStep)
    def record_meeting(self, request, principal, number, body):
        """The consultation meeting held (in person, on site, online): who attended, which
        departments are asked to commit."""
        return 200, self._step(principal, number, "hold_meeting", body)

    @http("POST", "/api/consultations/<string:number>/commitments")
    @endpoint("unit", body=CommitmentRequest, response=CaseSchema, status=201)
    def record_commitment(self, request, principal, number, body):
        """A department commits to actions on a case it was asked about (its own commitment only)."""
        body = {**body, "done_by": body["done_by"].isoformat()}
        return 201, self.assignment.record_commitment(number, body, principal)

    @http("POST", "/api/consultations/<string:number>/follow-up")
    @endpoint("member", body=ConsultationFollowUpForm, response=CaseStep)
    def follow_up_case(self, request, principal, number, body):
        """跟进查单: are the departments' actions done? Not yet: the next follow-up is set."""
        return 200, self._step(principal, number, "follow_up", body)

    @http("POST", "/api/consultations/<string:number>/return-visit")
    @endpoint("member", body=ConsultationReturnVisitForm, response=CaseStep)
    def return_visit(self, request, principal, number, body):
        """回访: the resident's satisfaction (or why they could not be reached); closes the case."""
        return 200, self._step(principal, number, "return_visit", body)

    # -- the venue directory -----------------------------------------------------------------------
    @http("GET", "/api/venues")
    @endpoint(*EVERYONE, response=VenueSchema(many=True), query=("kind", "town"))
    def list_venues(self, request, principal):
        """Contact points, reception rooms, consultation rooms and sector studios, by kind and by
        a town or street they cover."""
        query = given(request, ("kind", "town"))
        return 200, self.assignment.list_venues(query, principal=principal)

    @http("GET", "/api/venues/coverage")
    @endpoint("member", "staff", "committee", "leader", response=CoverageSchema)
    def venue_coverage(self, request, principal):
        """Per town or street the venues covering it and its cases; towns none covers; cases per venue."""
        return 200, self.assignment.venue_coverage(principal=principal)
