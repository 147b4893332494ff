"""The assignment service: a thin nameko shell around ``operations``, ``commands`` and ``queries``.

Jobs come from the engine; commands come over RPC (the gateway, for a unit's handlers) and over
AMQP (a department's own system, routing key ``<unit>.<command>``) into the same functions.
"""

from __future__ import annotations

import logging

from nameko.contextdata import ContextDataProvider

from shared.messaging.database import Database
from shared.messaging.entrypoints import Pingable, ServiceRpc, api, job, listen
from shared.messaging.rules import RulesPerWorker
from shared.messaging.topology import events_queue
from shared.principal import Principal

from . import commands, decisions, operations, queries, refusals, routing
from .bus import UnitQueues, commands_queue, listen_to_units
from .clocks import SupervisionClock
from .consultation.service import ConsultationEntrypoints
from .models import Inbox, Outbox
from .unit_of_work import SqlAssignmentUnitOfWork
from .rules import RulebookRules

log = logging.getLogger(__name__)


class BusinessKey(ContextDataProvider):
    """The business key (proposal number) of the instance whose job is running."""

    context_key = "business_key"


class AssignmentService(Pingable, ConsultationEntrypoints):
    name = "assignment"
    db = Database("assignment", Outbox, Inbox)
    # The proposal rulebook and the working-day calendar, read afresh by each worker that uses them
    # (shared.messaging.rules): a year's official holiday schedule added (``ztc calendar add``) or a
    # changed rulebook counts for objection windows at once, without a restart.
    rules = RulesPerWorker(RulebookRules)
    unit_queues = UnitQueues()
    business_key = BusinessKey()
    intake = ServiceRpc("intake")  # knows who proposed what: proposers read their proposal's reply
    supervision = ServiceRpc("supervision")  # keeps the reply deadline an extension is asked before
    evaluation = ServiceRpc("evaluation")  # keeps the members directory a case's member is checked in

    @property
    def uow(self) -> SqlAssignmentUnitOfWork:
        """This worker's unit of work over its session; the entrypoint commits it."""
        return SqlAssignmentUnitOfWork(self.db.session)

    # -- jobs for the engine --------------------------------------------------------------------
    @job("assignment.assign_unit")
    def assign_unit(self, params, principal):
        return operations.assign_unit(self.uow, params, principal, number=self.business_key)

    @job("assignment.assign")
    def assign(self, params, principal):
        result = operations.assign(self.uow, params, principal)
        # Before the job commits, so the relay never publishes to a unit that has no queue yet.
        self.unit_queues.ensure(a["unit"] for a in result["assignments"])
        return result

    @job("assignment.request_rehandling")
    def request_rehandling(self, params, principal):
        return operations.request_rehandling(self.uow, params, principal)

    @job("assignment.send_back")
    def send_back(self, params, principal):
        return operations.send_back(self.uow, params, principal)

    @job("assignment.recategorise_reply")
    def recategorise_reply(self, params, principal):
        return operations.recategorise_reply(self.uow, params, principal)

    @job("assignment.record_extension_refusal")
    def record_extension_refusal(self, params, principal):
        return decisions.record_extension_refusal(self.uow, params, principal)

    # -- commands from units over RPC ---------------------------------------------------------
    def _command(self, command, params, principal):
        result = commands.run(
            self.uow, self.rules, command, params, principal, SupervisionClock(self.supervision, principal)
        )
        self.db.commit()
        return result

    @api
    def sign(self, assignment_id, principal=None):
        return self._command("sign", {"assignment_id": assignment_id}, principal)

    @api
    def object(self, assignment_id, reason, principal=None):
        return self._command("object", {"assignment_id": assignment_id, "reason": reason}, principal)

    @api
    def submit_followup(self, assignment_id, text, principal=None):
        return self._command("submit_followup", {"assignment_id": assignment_id, "text": text}, principal)

    @api
    def report_milestone(self, assignment_id, milestone, note, principal=None):
        return self._command(
            "report_milestone", {"assignment_id": assignment_id, "milestone": milestone, "note": note}, principal
        )

    @api
    def send_input(self, assignment_id, text, principal=None):
        return self._command("send_input", {"assignment_id": assignment_id, "text": text}, principal)

    @api
    def draft_reply(self, assignment_id, category, text, principal=None, milestones=None):
        return self._command(
            "draft_reply",
            {"assignment_id": assignment_id, "category": category, "text": text, "milestones": milestones or []},
            principal,
        )

    @api
    def cosign_reply(self, assignment_id, principal=None):
        return self._command("cosign_reply", {"assignment_id": assignment_id}, principal)

    @api
    def submit_reply(self, assignment_id, principal=None):
        return self._command("submit_reply", {"assignment_id": assignment_id}, principal)

    @api
    def request_extension(self, assignment_id, until=None, reason=None, principal=None, months=None):
        params = {"assignment_id": assignment_id, "until": until, "months": months, "reason": reason}
        return self._command("request_extension", {k: v for k, v in params.items() if v is not None}, principal)

    @api
    def record_contact(self, assignment_id, kind, held_on, participants, note=None, principal=None):
        """办理沟通: the unit records a contact with the proposer (``held_on`` an ISO date)."""
        params = {"assignment_id": assignment_id, "kind": kind, "held_on": held_on, "participants": participants}
        return self._command("record_contact", {**params, "note": note}, principal)

    # -- queries ----------------------------------------------------------------------------------
    @api
    def routing_suggestions(self, proposal, principal=None):
        """Which units ``proposal`` ``{number, title, text}`` might go to, each with its reasons
        (rulebook keywords, past assignments of proposals with similar titles: intake finds
        those); staff only."""
        return routing.suggest(self.uow, self.rules.routing(), proposal, principal, self._similar_titles(principal))

    @api
    def routing_suggestions_many(self, request, principal=None):
        """:meth:`routing_suggestions` for ``{proposals: [{number, title, text}]}`` at once (a page
        of the staff's task list), in the order asked."""
        return routing.suggest_many(self.uow, self.rules.routing(), request, principal, self._similar_titles(principal))

    def _similar_titles(self, principal):
        return lambda query: self.intake.similar_titles(query, principal=principal)

    @api
    def unit_names(self, codes, principal=None):
        """``{code: name}`` of the known ones of ``codes`` (published proposals name their units)."""
        return queries.unit_names(self.uow, codes, principal)

    @api
    def list_assignments(self, principal=None, number=None):
        """Every assignment the caller sees (of proposal ``number``): unbounded, for callers that
        narrow it to a proposal; people page with :meth:`assignment_page`."""
        return queries.list_assignments(self.uow, principal, number)

    @api
    def assignment_page(self, principal=None, query=None):
        """A page of the assignments the caller sees, newest first (``page``, ``per_page`` 1-200
        default 50, ``number``, ``status``), with their total."""
        return queries.assignment_page(self.uow, principal, query)

    @api
    def get_assignment(self, assignment_id, principal=None):
        return queries.get_assignment(self.uow, assignment_id, principal)

    @api
    def proposal_reply(self, number, principal=None):
        """The answer to proposal ``number`` for its proposers (and overseers): intake, which knows
        who proposed what, says whether the caller may read it and which rounds."""
        return queries.proposal_reply(self.uow, self.intake.reply_access(str(number), principal))

    # -- domain events ---------------------------------------------------------------------------
    @listen(events_queue("assignment"))
    def on_deadline_extended(self, body):
        """Staff approved an extension (supervision moved the deadline): record it on the request.
        Staff accepted a reply (a rating round opened): its units are told (B: a follow-up is due).
        The committee decided an appeal: the answering units are told. An operator cancelled a
        process instance: the proposal's open assignments (their units told) or the
        micro-consultation case are cancelled. A malformed event is refused (dead-lettered with
        its reason)."""
        if isinstance(body, dict) and body.get("name") == decisions.RATING_OPENED:
            decisions.hear_acceptance(self.uow, body)
        elif isinstance(body, dict) and body.get("name") == decisions.APPEAL_DECIDED:
            decisions.hear_appeal_decision(self.uow, body)
        elif isinstance(body, dict) and body.get("name") == decisions.PROCESS_CANCELLED:
            decisions.hear_cancellation(self.uow, body)
            self.db.note_cancelled(body)  # a job of that instance still queued is not run
        else:
            decisions.hear_extension(self.uow, body)
        self.db.commit()

    # -- commands from department systems over AMQP -----------------------------------------------
    @listen_to_units(commands_queue())
    def on_unit_command(self, body, routing_key, sender, ids):
        """A refusal (a sender that is not the key's unit, invalid body, another unit's assignment,
        wrong state) changes nothing (the command's transaction rolls back); it is told back to the
        sending unit on its own queue (``refusals``) and then dead-lettered with its reason by the
        entrypoint, the operators' copy."""
        try:
            # The unit's broker user is vouched for by RabbitMQ (its user_id): a principal this process
            # took from a verified source, so the proxy signs it on for supervision.
            clocks = (
                SupervisionClock(self.supervision, Principal(commands.unit_system_principal(sender.name)))
                if getattr(sender, "kind", None) == "unit"
                else None
            )
            result = commands.from_unit_system(self.uow, self.rules, routing_key, body, sender, clocks)
            self.db.commit()
        except Exception as exc:
            told = refusals.refusal_of(exc, routing_key, sender, ids)
            if told is None:
                raise
            self.db.rollback()
            if refusals.tell(self.uow, told):
                # If this commit fails, that failure is what the entrypoint sees: tried again, refusal and all.
                self.db.commit()
            raise
        log.info("unit command %s done: assignment %s", routing_key, result.get("id") or result)
