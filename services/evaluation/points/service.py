"""The performance side of the evaluation service: a mixin of RPC for people (through the
gateway) and the listener that feeds the ledger from domain events. Each handler calls one
function of this package over the ports (the service's unit of work, ``self.uow``, and the terms'
points rulebooks read for this worker, ``self.points_rules``) and commits; the functions authorise
the caller themselves."""

from __future__ import annotations

from eventlet.semaphore import Semaphore

from shared import contracts
from shared.messaging.entrypoints import api, listen
from shared.messaging.rules import RulesPerWorker
from shared.messaging.topology import events_queue

from .. import cancellation, merged
from . import attendance, directory, files, ledger, periods
from .rules import RulebookPointsRules

# The events the ledger hears: every row of every term names one of these (an event with no row
# for it is kept as heard, with no points). attendance.recorded comes from this service's outbox.
# process.cancelled is heard on the same queue but never booked (``cancellation``).
POINTS_EVENTS = contracts.subscriptions.EVALUATION_HEARS
# One event booked at a time in this process (a green lock: the workers are greenlets): SQLite has no row locks, and
# a member's next entry depends on what they hold. PostgreSQL also locks the members' rows.
BOOKING = Semaphore(1)


class PerformanceMixin:
    """Mixed into :class:`~services.evaluation.service.EvaluationService`, which supplies ``self.db``
    and ``self.uow``."""

    # The terms' points rulebooks, read afresh by each worker that uses them
    # (shared.messaging.rules): a new or changed term file counts at once, with no restart.
    points_rules = RulesPerWorker(RulebookPointsRules)

    @listen(events_queue("evaluation"))
    def book_points(self, body):
        """A domain event: its points booked once (a redelivery books nothing); a malformed event,
        or one dated outside every term, is dead-lettered with its reason. ``process.cancelled``
        earns and costs no points and is not booked: it closes the proposal's rating round or appeal
        (``cancellation``; a malformed one is dead-lettered too)."""
        with BOOKING:
            uow = self.uow
            if cancellation.concerns(body):
                cancellation.hear(uow, body)
                self.db.note_cancelled(body)  # a job of that instance still queued is not run
            else:
                ledger.book_event(uow, self.points_rules, body)
                merged.hear(uow, body)  # a merged proposal's proposers rate the answer it joined
            self.db.commit()

    # -- directory and terms -----------------------------------------------------------------
    @api
    def members(self, sector=None, principal=None):
        return directory.list_members(self.uow, principal, sector)

    @api
    def unknown_members(self, users, principal=None):
        """Those of ``users`` not in the members directory (intake checks co-signers with it)."""
        return directory.unknown_members(self.uow, users, principal)

    @api
    def member_names(self, users, principal=None):
        """``{user: name}`` for the known ones of ``users`` (intake names consenting proposers)."""
        return directory.member_names(self.uow, users, principal)

    @api
    def save_member(self, data, principal=None):
        result = directory.save_member(self.uow, self.points_rules, data, principal)
        self.db.commit()
        return result

    @api
    def terms(self, principal=None):
        return directory.terms(self.points_rules, principal)

    # -- attendance (谁组织谁记录) --------------------------------------------------------------
    @api
    def record_attendance(self, data, principal=None, key=None):
        result = attendance.record(self.uow, self.points_rules, data, principal, key=key)
        self.db.commit()
        return result

    @api
    def attendance_records(self, principal=None):
        return attendance.list_records(self.uow, principal)

    # -- files and statistics -------------------------------------------------------------------
    @api
    def performance_file(self, member, period=None, term=None, principal=None):
        result = files.member_file(self.uow, self.points_rules, member, principal, period, term)
        self.db.commit()
        return result

    @api
    def performance_statistics(self, period=None, term=None, principal=None):
        return files.statistics(self.uow, self.points_rules, principal, period, term)

    # -- publication and corrections ----------------------------------------------------------
    @api
    def publish_period(self, data, principal=None):
        result = periods.publish(self.uow, self.points_rules, data, principal)
        self.db.commit()
        return result

    @api
    def periods(self, principal=None):
        result = periods.list_periods(self.uow, self.points_rules, principal)
        self.db.commit()  # reading may close a period whose window has passed
        return result

    @api
    def period(self, key, principal=None):
        result = periods.period(self.uow, self.points_rules, key, principal)
        self.db.commit()
        return result

    @api
    def ask_correction(self, key, data, principal=None):
        result = periods.ask_correction(self.uow, self.points_rules, key, data, principal)
        self.db.commit()
        return result

    @api
    def corrections(self, key, principal=None):
        result = periods.corrections(self.uow, key, principal)
        self.db.commit()
        return result

    @api
    def decide_correction(self, correction_id, data, principal=None):
        result = periods.decide(self.uow, self.points_rules, correction_id, data, principal)
        self.db.commit()
        return result

    @api
    def close_period(self, key, principal=None):
        result = periods.close(self.uow, self.points_rules, key, principal)
        self.db.commit()
        return result
