"""The intake service's entrypoints for opinion information (社情民意), mixed into
:class:`~services.intake.service.IntakeService`: RPC for the gateway, jobs for the opinion and
micro-consultation diagrams, and the AMQP queue on which apps submit items."""

from __future__ import annotations

import logging

from shared.messaging.entrypoints import api, job, listen
from shared.messaging.topology import opinion_submissions_queue

from . import opinion_tracking as tracking
from . import opinions, threads

log = logging.getLogger(__name__)


class OpinionEntrypoints:
    """Needs ``self.db`` (the intake ``Database``), ``self.uow`` (its unit of work) and ``self.rules``."""

    def _commit(self, result):
        self.db.commit()
        return result

    # -- RPC: submitters, staff, leaders, departments ---------------------------------------------
    @api
    def submit_opinion(self, draft, principal, key=None):
        return self._commit(opinions.submit(self.uow, self.rules, draft, principal, reference=key))

    @api
    def submit_saved_opinion(self, number, principal):
        return self._commit(opinions.submit_saved(self.uow, number, principal))

    @api
    def get_opinion(self, number, principal):
        return opinions.get(self.uow, number, principal)

    @api
    def check_opinion_open(self, number, principal):
        """A step of a cancelled item is refused naming the cancellation (Conflict); else its status."""
        return opinions.check_open(self.uow, number, principal)

    @api
    def opinion_page(self, principal, query=None):
        return opinions.item_page(self.uow, principal, query)

    @api
    def opinion_editing_flags(self, numbers, principal):
        return opinions.editing_flags(self.uow, self.rules, numbers, principal)

    @api
    def record_adoption(self, number, request, principal):
        return self._commit(tracking.record_adoption(self.uow, self.rules, number, request, principal))

    @api
    def record_instruction(self, number, request, principal):
        return self._commit(tracking.record_instruction(self.uow, self.rules, number, request, principal))

    @api
    def answer_forward(self, number, request, principal):
        return self._commit(tracking.answer_forward(self.uow, number, request, principal))

    @api
    def opinion_to_proposal(self, number, request, principal):
        return self._commit(
            threads.to_proposal(self.uow, self.rules, number, request, principal, directory=self._directory(principal))
        )

    @api
    def thread(self, thread_id, principal):
        return threads.thread(self.uow, thread_id, principal)

    @api
    def open_opinion_from_case(self, params, principal=None):
        return self._commit(threads.open_opinion_from_case(self.uow, self.rules, params, principal))

    @api
    def open_proposal_from_case(self, params, principal=None):
        return self._commit(threads.open_proposal_from_case(self.uow, self.rules, params, principal))

    # -- jobs: the opinion diagram and the micro-consultation diagram ------------------------------
    @job("intake.record_editing")
    def record_editing(self, params, principal):
        return tracking.record_editing(self.uow, self.rules, params, principal)

    @job("intake.return_to_editing")
    def return_to_editing(self, params, principal):
        return tracking.return_to_editing(self.uow, params, principal)

    @job("intake.report_opinion")
    def report_opinion(self, params, principal):
        return tracking.report(self.uow, self.rules, params, principal)

    @job("intake.close_reporting")
    def close_reporting(self, params, principal):
        return tracking.close_reporting(self.uow, params, principal)

    @job("intake.forward_opinion")
    def forward_opinion(self, params, principal):
        return tracking.forward(self.uow, self.rules, params, principal)

    @job("intake.mark_answers_overdue")
    def mark_answers_overdue(self, params, principal):
        return tracking.mark_overdue(self.uow, self.rules, params, principal)

    @job("intake.close_opinion")
    def close_opinion(self, params, principal):
        return tracking.close(self.uow, params, principal)

    @job("intake.open_opinion_from_case")
    def open_opinion_from_case_job(self, params, principal):
        return threads.open_opinion_from_case(self.uow, self.rules, params, principal)

    @job("intake.open_proposal_from_case")
    def open_proposal_from_case_job(self, params, principal):
        return threads.open_proposal_from_case(self.uow, self.rules, params, principal)

    # -- AMQP: items submitted by apps ------------------------------------------------------------
    @listen(opinion_submissions_queue(), with_sender=True)
    def on_opinion_submission(self, body, sender):
        """The submitter is the app's broker user (AMQP ``user_id``). A refusal (malformed item, a
        sender who may not submit) is dead-lettered with its reason by the entrypoint, and nothing
        changes: the worker's transaction rolls back."""
        item = opinions.submit_command(self.uow, self.rules, body, sender)
        self.db.commit()
        log.info("opinion item %s submitted over AMQP", item["number"])
