"""The evaluation service: a thin nameko shell around ``operations``, ``ratings`` and ``assessment``,
and (``points.service.PerformanceMixin``) members' performance points.

Each entrypoint calls one domain function over the ports: the unit of work over the worker's
session (:attr:`EvaluationService.uow`) and the rules read for this worker (``Rules``). Jobs commit
through the ``@job`` entrypoint (effects, inbox row and result in one transaction); RPC commands
commit here, so a rating and the ``ratings_complete`` message it may send leave together or not at
all.
"""

from __future__ import annotations

from shared.messaging.database import Database
from shared.messaging.entrypoints import Pingable, ServiceRpc, api, job
from shared.messaging.rules import RulesPerWorker

from . import appeals, assessment, operations, quality
from . import ratings as rating_rounds
from .models import Inbox, Outbox
from .points import excellence
from .points.service import PerformanceMixin
from .rules import RulebookRules
from .unit_of_work import SqlEvaluationUnitOfWork


class EvaluationService(PerformanceMixin, Pingable):
    name = "evaluation"
    db = Database("evaluation", Outbox, Inbox)
    # The proposal rulebook and the working-day calendar, read afresh by each worker that uses them
    # (shared.messaging.rules): a changed rulebook or calendar file counts at once.
    rules = RulesPerWorker(RulebookRules)
    # The deadlines: the units' assessment counts overdue work not done (assessment.unit_assessment).
    supervision = ServiceRpc("supervision")

    @property
    def uow(self) -> SqlEvaluationUnitOfWork:
        """The unit of work over this worker's session; the entrypoint commits it."""
        return SqlEvaluationUnitOfWork(self.db.session)

    # -- jobs for the engine ------------------------------------------------------------------
    @job("evaluation.record_outcome")
    def record_outcome(self, params, principal):
        return operations.record_outcome(self.uow, params, principal)

    @job("evaluation.open_rating")
    def open_rating(self, params, principal):
        return rating_rounds.open_round(self.uow, self.rules, params, principal)

    @job("evaluation.close_rating")
    def close_rating(self, params, principal):
        return rating_rounds.close_window(self.uow, self.rules, params, principal)

    @job("evaluation.record_followup")
    def record_followup(self, params, principal):
        return operations.record_followup(self.uow, params, principal)

    @job("evaluation.score_handling")
    def score_handling(self, params, principal):
        return operations.score_handling(self.uow, self.rules, params, principal)

    @job("evaluation.grade_quality")
    def grade_quality(self, params, principal):
        uow = self.uow
        result = operations.grade_quality(uow, self.rules, params, principal)
        excellence.announce(uow, params["number"], result["grade"])  # points: proposal.excellent
        return result

    @job("evaluation.decide_appeal")
    def decide_appeal(self, params, principal):
        return appeals.decide(self.uow, params, principal)

    # -- RPC for people, through the gateway ---------------------------------------------------
    @api
    def appeal(self, number, reason, principal=None):
        """A proposer still 不满意 after a re-handled reply appeals, within the window (``appeals``)."""
        lodged = appeals.appeal(self.uow, number, reason, principal)
        self.db.commit()
        return lodged

    @api
    def rate(self, number, handling, result, comment=None, principal=None):
        rating = rating_rounds.rate(self.uow, self.rules, number, handling, result, comment, principal)
        self.db.commit()
        return rating

    @api
    def ratings(self, number, principal=None):
        return rating_rounds.ratings_of(self.uow, number, principal)

    @api
    def quality_grade(self, number, principal=None):
        """A proposal's quality grade with the checklist it was computed from (``quality``)."""
        return quality.grade_of(self.uow, self.rules, number, principal)

    def _overdue(self, principal):
        """The year's overdue work not done, by unit, as supervision keeps the deadlines."""
        return lambda year: self.supervision.overdue_in_year(year, principal=principal)["units"]

    @api
    def unit_assessment(self, year, principal=None):
        return assessment.unit_assessment(self.uow, self.rules, year, principal, self._overdue(principal))

    @api
    def unit_ranking(self, year, principal=None):
        return assessment.ranking(self.uow, self.rules, year, principal, self._overdue(principal))

    @api
    def export_unit_assessment(self, year, format="xlsx", principal=None):
        return assessment.export(self.uow, self.rules, year, format, principal, self._overdue(principal))
