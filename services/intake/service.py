"""The intake service: a thin nameko shell around ``operations``.

RPC methods (for the gateway) take the caller's principal, commit, and answer a JSON-ready value;
refusals travel back as ``shared.errors`` exceptions. Jobs (for the engine) commit with their
result through the ``@job`` entrypoint.
"""

from __future__ import annotations

from shared.messaging.database import Database
from shared.messaging.entrypoints import Pingable, ServiceRpc, api, job, listen
from shared.messaging.rules import RulesPerWorker
from shared.messaging.topology import events_queue

from . import operations, progress
from .models import Inbox, Outbox
from .opinion_service import OpinionEntrypoints
from .rules import RulebookRules
from .unit_of_work import SqlIntakeUnitOfWork


class IntakeService(Pingable, OpinionEntrypoints):
    name = "intake"
    db = Database("intake", Outbox, Inbox)
    # The proposal and opinion rulebooks and the working-day calendar, read afresh by each worker
    # that uses them (shared.messaging.rules): a changed rulebook or a calendar file added for a new
    # year counts from the next call on, with no restart of the service.
    rules = RulesPerWorker(RulebookRules)
    evaluation = ServiceRpc("evaluation")  # keeps the members directory co-signers are checked in

    @property
    def uow(self) -> SqlIntakeUnitOfWork:
        """This worker's unit of work over its session; the entrypoint commits it."""
        return SqlIntakeUnitOfWork(self.db.session)

    def _directory(self, principal):
        """``users -> those the members directory does not know``, asked of the evaluation service."""
        return lambda users: self.evaluation.unknown_members(users, principal=principal)

    def _member_names(self, principal):
        """``users -> {user: name}`` from the members directory (for those consenting to be named)."""
        return lambda users: self.evaluation.member_names(users, principal=principal)

    # -- RPC: members, staff, the committee, leaders -------------------------------------------
    @api
    def submit(self, draft, principal, key=None):
        """``key``: the idempotency key; a repeat with the same key answers the first proposal."""
        proposal = operations.submit(
            self.uow,
            self.rules,
            draft,
            principal,
            key=key,
            directory=self._directory(principal),
            names=self._member_names(principal),
        )
        self.db.commit()
        return proposal

    @api
    def is_proposer(self, number, principal):
        """Whether the caller (a member) is a proposer of ``number``: asked by supervision."""
        return operations.is_proposer_of(self.uow, number, principal)

    @api
    def reply_access(self, number, principal):
        """Whose reply, and which rounds of it, the caller may read (asked by assignment)."""
        return progress.reply_access(self.uow, number, principal)

    @listen(events_queue("intake", progress.HEARD))
    def on_handling(self, body):
        """The proposal's handling moved on: its status follows, its proposers are told. An operator
        cancelled a proposal's or an opinion item's process: it is cancelled too (``cancellation``)."""
        progress.hear(self.uow, body)
        self.db.note_cancelled(body)  # a job of a cancelled instance still queued is not run
        self.db.commit()

    @api
    def cosign(self, number, principal, publish_name=False):
        proposal = operations.cosign(self.uow, number, principal, publish_name)
        self.db.commit()
        return proposal

    @api
    def get(self, number, principal):
        return operations.get(self.uow, number, principal, self._member_names(principal))

    @api
    def list(self, principal, mine=True):
        """Every proposal the caller may read (their own with ``mine``): unbounded, for callers
        that need them all; people page with :meth:`proposal_page`."""
        return operations.list_proposals(self.uow, principal, mine, self._member_names(principal))

    @api
    def proposal_page(self, principal, query=None):
        """A page of the proposals the caller may read, newest first (``page``, ``per_page`` 1-200
        default 50, ``mine``), with their total."""
        return operations.proposal_page(self.uow, principal, query, self._member_names(principal))

    @api
    def similar_titles(self, query, principal):
        """The proposals whose titles are like each of ``query['titles']`` by the routing measure
        (``ignore``, ``threshold``), from the title index (staff, the committee, leaders)."""
        return operations.similar_titles(self.uow, query, principal)

    @api
    def year_figures(self, year, audience, principal, query=None):
        """The year's counts and a page of its listing for the notice (public) or the bulletin
        (members); ``query``: ``page``, ``per_page``."""
        from .reports import year_figures

        return year_figures(self.uow, self.rules, year, audience, principal, self._member_names(principal), query)

    @api
    def set_area(self, kind, number, body, principal):
        """Staff set or change the 1533 area of a proposal or an opinion item (``areas``)."""
        from .areas import set_area

        result = set_area(self.uow, self.rules, kind, number, body, principal)
        self.db.commit()
        return result

    @api
    def area_figures(self, year, principal):
        """The year's proposals and opinion items by area (``areas``)."""
        from .areas import area_figures

        return area_figures(self.uow, self.rules, year, principal)

    @api
    def key_proposal_facts(self, year, numbers, principal):
        """The year's filed proposals and the proposers of ``numbers``: asked by supervision, which
        chooses key proposals among them (``key_facts``)."""
        from .key_facts import key_proposal_facts

        return key_proposal_facts(self.uow, year, numbers, principal)

    @api
    def public_proposals(self, query, principal):
        """A page of published proposals for the public API (``{items, page, per_page, total}``)."""
        from .public import list_published

        return list_published(self.uow, query, principal, self._member_names(principal))

    @api
    def public_proposal(self, number, principal):
        """One published proposal for the public API; anything else is not found."""
        from .public import get_published

        return get_published(self.uow, number, principal, self._member_names(principal))

    @api
    def adopted_opinions(self, year, audience, principal):
        """The year's adopted opinion items with instructions, for the public or for members."""
        from .reports import adopted_opinions

        return adopted_opinions(self.uow, self.rules, year, audience, principal)

    @api
    def resubmit(self, number, draft, principal):
        proposal = operations.resubmit(self.uow, self.rules, number, draft, principal)
        self.db.commit()
        return proposal

    # -- jobs: the engine's service tasks ------------------------------------------------------
    @job("intake.record_submission")
    def record_submission(self, params, principal):
        return operations.record_submission(self.uow, params, principal)

    @job("intake.settle_cosigners")
    def settle_cosigners(self, params, principal):
        return operations.settle_cosigners(self.uow, params, principal)

    @job("intake.find_duplicates")
    def find_duplicates(self, params, principal):
        return operations.find_duplicates(self.uow, self.rules, params, principal)

    @job("intake.record_filing")
    def record_filing(self, params, principal):
        return operations.record_filing(self.uow, self.rules, params, principal)

    @job("intake.record_filing_refused")
    def record_filing_refused(self, params, principal):
        return operations.record_filing_refused(self.uow, params, principal)

    @job("intake.publish")
    def publish(self, params, principal):
        return operations.publish(self.uow, self.rules, params, principal)

    @job("intake.publish_followup")
    def publish_followup(self, params, principal):
        return operations.publish_followup(self.uow, params, principal)

    @job("intake.answer_merged")
    def answer_merged(self, params, principal):
        return operations.answer_merged(self.uow, params, principal)
