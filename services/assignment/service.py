"""The assignment service: a thin nameko shell around ``operations``."""
from __future__ import annotations

from shared.messaging.database import Database
from shared.messaging.entrypoints import job

from . import operations
from .models import Inbox, Outbox


class AssignmentService:
    name = "assignment"
    db = Database("assignment", Outbox, Inbox)

    @job("assignment.assign_unit")
    def assign_unit(self, params, principal):
        return operations.assign_unit(self.db.session, params, principal)
