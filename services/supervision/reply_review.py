"""A reply submitted waits for staff's review: the units owe nothing meanwhile.

The assignment service publishes ``handling.reply_submitted`` when every answering unit has
submitted its reply, and ``handling.sent_back`` when staff send it back. Between the two the reply
deadline stays open (staff may send the reply back, and ``supervision.close`` judges it on time at
the submission when staff accept), but it is marked fulfilled at the submission: the overdue
board does not list it and the deadline's checks send no reminder or escalation, since the units
owe no work. Sent back, the mark goes and the deadline counts again, from its own due date.

Each event is applied as it comes; applied twice it changes nothing more. One heard when no
reply deadline is live (closed by staff's acceptance, or cancelled with its process) is ignored.
"""

from __future__ import annotations

from datetime import datetime

from shared import clock

from .records import live_reply, record_change
from .unit_of_work import SupervisionUnitOfWork

SUBMITTED, SENT_BACK = "handling.reply_submitted", "handling.sent_back"
HEARD = (SUBMITTED, SENT_BACK)


def hear(uow: SupervisionUnitOfWork, event: dict) -> dict:
    """Apply one of :data:`HEARD`, an event :mod:`.unit_facts` loaded (``contracts.EventSchema``);
    returns ``{event_id, deadline_id, awaiting_review}``."""
    number = event["subject"]
    uow.lock(f"supervision:{number}")
    row = live_reply(uow, number)
    if row is None:
        return {"event_id": event["event_id"], "deadline_id": None, "awaiting_review": False}
    at = clock.as_utc(event["occurred_at"])
    if event["name"] == SUBMITTED and row.fulfilled_at is None:
        submitted = event["payload"].get("submitted_at")
        row.fulfilled_at = clock.as_utc(datetime.fromisoformat(submitted)) if submitted else at
        row.fulfilled_by = "units"
        record_change(
            uow, row, "submitted", at, "units", "the units submitted the reply; staff review it", row.due, row.due
        )
    elif event["name"] == SENT_BACK and row.fulfilled_at is not None:
        row.fulfilled_at = row.fulfilled_by = None
        record_change(
            uow, row, "sent_back", at, "staff", "staff sent the reply back: it is owed again", row.due, row.due
        )
    uow.flush()
    return {"event_id": event["event_id"], "deadline_id": row.id, "awaiting_review": row.fulfilled_at is not None}
