"""The supervision service: a thin nameko shell around ``operations``."""
from __future__ import annotations

from shared.messaging.database import Database
from shared.messaging.entrypoints import job

from . import operations
from .models import Inbox, Outbox


class SupervisionService:
    name = "supervision"
    db = Database("supervision", Outbox, Inbox)

    @job("supervision.escalate")
    def escalate(self, params, principal):
        return operations.escalate(self.db.session, params, principal)
