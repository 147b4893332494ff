"""The evaluation service: a thin nameko shell around ``operations``."""
from __future__ import annotations

from shared.messaging.database import Database
from shared.messaging.entrypoints import job

from . import operations
from .models import Inbox, Outbox


class EvaluationService:
    name = "evaluation"
    db = Database("evaluation", Outbox, Inbox)

    @job("evaluation.record_outcome")
    def record_outcome(self, params, principal):
        return operations.record_outcome(self.db.session, params, principal)
