"""The intake service: a thin nameko shell around ``operations``."""
from __future__ import annotations

from shared.messaging.database import Database
from shared.messaging.entrypoints import job

from . import operations
from .models import Inbox, Outbox


class IntakeService:
    name = "intake"
    db = Database("intake", Outbox, Inbox)

    @job("intake.record_submission")
    def record_submission(self, params, principal):
        return operations.record_submission(self.db.session, params, principal)
