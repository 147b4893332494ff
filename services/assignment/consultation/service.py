"""Micro-consultation's entrypoints, mixed into :class:`~services.assignment.service.AssignmentService`:
jobs for ``bpmn/micro_consultation.bpmn`` and RPC for the gateway (which the service authorises
again: see :mod:`.cases`). Needs ``self.db`` (the assignment ``Database``) and ``self.uow``, the
service's unit of work over it."""

from __future__ import annotations

from shared.messaging.entrypoints import api, job
from shared.messaging.rules import RulesPerWorker

from . import cases, directory, public, steps
from .rules import RulebookConsultationRules


class ConsultationEntrypoints:
    # The micro-consultation rulebook and the working-day calendar, read afresh by each worker that
    # uses them (shared.messaging.rules): a changed rulebook or calendar file counts at once.
    consultation_rules = RulesPerWorker(RulebookConsultationRules)

    def _committed(self, result):
        self.db.commit()
        return result

    # -- RPC: venues' staff, members, departments ----------------------------------------------
    @api
    def register_case(self, request, principal=None, key=None):
        return self._committed(cases.register(self.uow, self.consultation_rules, request, principal, key=key))

    @api
    def public_case(self, reference, principal=None):
        """A case as a resident follows it by its public reference (no name, no phone)."""
        return public.status(self.uow, reference, principal)

    @api
    def get_case(self, number, principal=None):
        return cases.get(self.uow, number, principal)

    @api
    def case_page(self, principal=None, query=None):
        return cases.case_page(self.uow, principal, query)

    @api
    def record_commitment(self, number, request, principal=None):
        return self._committed(cases.record_commitment(self.uow, number, request, principal))

    @api
    def check_case_open(self, number, principal=None):
        """A step of a cancelled case is refused naming the cancellation (Conflict); else its status."""
        return cases.check_open(self.uow, number, principal)

    @api
    def case_thread(self, thread_id, principal=None):
        return cases.thread_entry(self.uow, thread_id, principal)

    @api
    def list_venues(self, query=None, principal=None):
        cases.acting(principal)
        return directory.list_venues(self.uow, self.consultation_rules, query)

    @api
    def venue_coverage(self, principal=None):
        cases.acting(principal)
        return directory.coverage(self.uow)

    def _unknown_members(self, principal):
        """``users -> those the members directory does not know``, asked of the evaluation service
        (``self.evaluation``, the service's RPC proxy)."""
        return lambda users: self.evaluation.unknown_members(users, principal=principal)

    # -- jobs: bpmn/micro_consultation.bpmn ----------------------------------------------------
    @job("assignment.dispatch_case")
    def dispatch_case(self, params, principal):
        return steps.dispatch_case(
            self.uow, self.consultation_rules, params, principal, self._unknown_members(principal)
        )

    @job("assignment.case_not_taken")
    def case_not_taken(self, params, principal):
        return steps.case_not_taken(self.uow, self.consultation_rules, params, principal)

    @job("assignment.take_case")
    def take_case(self, params, principal):
        return steps.take_case(self.uow, self.consultation_rules, params, principal)

    @job("assignment.record_decision")
    def record_decision(self, params, principal):
        return steps.record_decision(self.uow, self.consultation_rules, params, principal)

    @job("assignment.record_conversion")
    def record_conversion(self, params, principal):
        return steps.record_conversion(self.uow, self.consultation_rules, params, principal)

    @job("assignment.record_converted_outcome")
    def record_converted_outcome(self, params, principal):
        return steps.record_converted_outcome(self.uow, self.consultation_rules, params, principal)

    @job("assignment.record_meeting")
    def record_meeting(self, params, principal):
        return steps.record_meeting(
            self.uow, self.consultation_rules, params, principal, self._unknown_members(principal)
        )

    @job("assignment.remind_commitments")
    def remind_commitments(self, params, principal):
        return steps.remind_commitments(self.uow, self.consultation_rules, params, principal)

    @job("assignment.schedule_follow_up")
    def schedule_follow_up(self, params, principal):
        return steps.schedule_follow_up(self.uow, self.consultation_rules, params, principal)

    @job("assignment.record_follow_up")
    def record_follow_up(self, params, principal):
        return steps.record_follow_up(self.uow, self.consultation_rules, params, principal)

    @job("assignment.follow_up_overdue")
    def follow_up_overdue(self, params, principal):
        return steps.follow_up_overdue(self.uow, self.consultation_rules, params, principal)

    @job("assignment.record_return_visit")
    def record_return_visit(self, params, principal):
        return steps.record_return_visit(self.uow, self.consultation_rules, params, principal)

    @job("assignment.close_case")
    def close_case(self, params, principal):
        return steps.close_case(self.uow, self.consultation_rules, params, principal)
