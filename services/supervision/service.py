"""The supervision service: a thin nameko shell around ``operations``, ``queries`` and ``key_proposals``.

Each entrypoint calls one domain function over the ports: the unit of work over the worker's
session (:attr:`SupervisionService.uow`) and the rules read for this worker (``Rules``). Jobs commit
through the ``@job`` entrypoint (effects, inbox row and result in one transaction);
an RPC command (pause, resume, the recount of provisional deadlines, the key-proposal lists, the
supervising leader's log) commits in its method; the deadlines and overdue queries read one snapshot
(:attr:`SupervisionService.snapshot`). Every RPC call carries the principal ``{user, roles, unit}``.
"""

from __future__ import annotations

from shared.messaging.database import Database
from shared.messaging.entrypoints import Pingable, ServiceRpc, api, job, listen
from shared.messaging.rules import RulesPerWorker
from shared.messaging.topology import events_queue

from . import key_proposals, key_selection, operations, queries, unit_facts
from .models import Inbox, Outbox
from .gauges import supervision_gauges
from .rules import RulebookRules
from .unit_of_work import SqlSupervisionUnitOfWork


class SupervisionService(Pingable):
    name = "supervision"
    metrics_gauges = staticmethod(supervision_gauges)
    db = Database("supervision", Outbox, Inbox)
    # The proposal rulebook and the working-day calendar, read afresh by each worker that uses them
    # (shared.messaging.rules): a calendar file added for a new year (``ztc calendar add``, or the
    # fix an UnknownCalendarDate incident names) takes effect at once, with no restart:
    # ``recompute_provisional`` counts on the file just written.
    rules = RulesPerWorker(RulebookRules)
    intake = ServiceRpc("intake")

    @property
    def uow(self) -> SqlSupervisionUnitOfWork:
        """The unit of work over this worker's session; the entrypoint commits it."""
        return SqlSupervisionUnitOfWork(self.db.session)

    @property
    def snapshot(self) -> SqlSupervisionUnitOfWork:
        """The unit of work of a query that reads its answer in several statements (a proposal's
        deadlines, then their changes, reminders and escalations): all of them read one snapshot of
        the database, so a check's escalation committed meanwhile never shows beside the status it
        changed as it was before."""
        uow = self.uow
        uow.read_snapshot()
        return uow

    # -- jobs for the engine --------------------------------------------------------------------
    @job("supervision.escalate")
    def escalate(self, params, principal):
        return operations.escalate(self.uow, params, principal)

    @job("supervision.open_deadlines")
    def open_deadlines(self, params, principal):
        return operations.open_deadlines(self.uow, self.rules, params, principal)

    @job("supervision.check")
    def check(self, params, principal):
        return operations.check(self.uow, self.rules, params, principal)

    @job("supervision.extend")
    def extend(self, params, principal):
        return operations.extend(self.uow, self.rules, params, principal)

    @job("supervision.restart")
    def restart(self, params, principal):
        return operations.restart(self.uow, self.rules, params, principal)

    @job("supervision.close")
    def close(self, params, principal):
        return operations.close(self.uow, self.rules, params, principal)

    @job("supervision.open_milestones")
    def open_milestones(self, params, principal):
        return operations.open_milestones(self.uow, self.rules, params, principal)

    @job("supervision.check_milestones")
    def check_milestones(self, params, principal):
        return operations.check_milestones(self.uow, self.rules, params, principal)

    @job("supervision.close_milestones")
    def close_milestones(self, params, principal):
        return operations.close_milestones(self.uow, self.rules, params, principal)

    # -- domain events ---------------------------------------------------------------------------
    @listen(events_queue("supervision"))
    def on_unit_acted(self, body):
        """A unit signed, a co-unit sent its input or a unit reported a milestone done: fulfil its
        deadline (once per event). An operator cancelled a proposal's process: its live deadlines
        close (``unit_facts`` hands ``process.cancelled`` to ``cancellation``)."""
        unit_facts.hear(self.uow, body, self.rules)
        self.db.note_cancelled(body)  # a job of a cancelled instance still queued is not run
        self.db.commit()

    # -- RPC for people, through the gateway ---------------------------------------------------
    def _is_proposer(self, number, principal):
        """Asks intake, which knows who proposed what, whether the caller is a proposer of ``number``."""
        return lambda: bool(self.intake.is_proposer(str(number), principal))

    @api
    def deadlines(self, number, principal=None):
        return queries.deadlines(self.snapshot, self.rules, number, principal, self._is_proposer(number, principal))

    @api
    def reply_due(self, number, principal=None):
        """The live reply deadline (a unit asks for an extension before it ends)."""
        return operations.reply_due(self.uow, number, principal, self.rules)

    @api
    def overdue(self, query=None, principal=None):
        """A page of the overdue board (``query``: ``page``, ``per_page``)."""
        return queries.overdue(self.snapshot, principal, query)

    @api
    def overdue_in_year(self, year, principal=None):
        """The replies and co-unit inputs of the year's proposals overdue and not done, by unit
        (the units' assessment counts them as not on time)."""
        return queries.overdue_in_year(self.snapshot, principal, year)

    @api
    def log_key_supervision(self, number, kind, text, principal=None):
        entry = key_proposals.log_key_supervision(self.uow, number, kind, text, principal)
        self.db.commit()
        return entry

    @api
    def recompute_provisional(self, year, principal=None):
        """Count again the live deadlines counted on a provisional ``year`` (after the official
        holiday schedule was entered: ``ztc calendar add``); see ``operations.recompute_provisional``."""
        result = operations.recompute_provisional(self.uow, self.rules, {"year": year}, principal)
        self.db.commit()
        return result

    @api
    def pause(self, number, reason, principal=None):
        """Staff pause a reply deadline, with the reason (``operations.pause``)."""
        result = operations.pause(self.uow, self.rules, {"number": number, "reason": reason}, principal)
        self.db.commit()
        return result

    @api
    def resume(self, number, reason, principal=None):
        """Staff resume a paused reply deadline; its due date moves by the days paused."""
        result = operations.resume(self.uow, self.rules, {"number": number, "reason": reason}, principal)
        self.db.commit()
        return result

    # -- key proposals chosen at the chair's meeting (key_selection) ----------------------------
    def _filing_facts(self, principal):
        """``(year, numbers) -> YearFilingFacts``, asked of intake, which knows what was filed."""
        return lambda year, numbers: self.intake.key_proposal_facts(year, numbers, principal)

    @api
    def propose_key_proposals(self, year, body, principal=None):
        """Staff put a list of key proposals to the chair's meeting."""
        result = key_selection.propose_list(self.uow, self.rules, year, body, principal, self._filing_facts(principal))
        self.db.commit()
        return result

    @api
    def decide_key_proposals(self, list_id, body, principal=None):
        """The chair's meeting decides on a list: the chosen proposals become key proposals."""
        result = key_selection.decide_list(
            self.uow, self.rules, list_id, body, principal, self._filing_facts(principal)
        )
        self.db.commit()
        return result

    @api
    def key_proposals_of_year(self, year, principal=None):
        return key_selection.year_view(self.uow, self.rules, year, principal, self._filing_facts(principal))

    @api
    def key_supervision_log(self, number, principal=None):
        return key_proposals.key_supervision_log(self.uow, number, principal, self._is_proposer(number, principal))
