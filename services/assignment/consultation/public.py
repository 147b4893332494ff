"""What a resident sees of their case (群众查单) by its public reference, without signing in.

A case number is sequential and guessable, so a case is followed by its ``public_reference``, a
random string given once, to whoever raised the case. What shows is the state of the work and
what was decided on it, never who raised it (no name, no phone) nor the departments' contacts;
every text shown (the title, the resident's own words; the answer; the departments' commitments;
the reason given for a converted case) is masked of phone and identity numbers, e-mail addresses
and the resident's name on the way out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.errors import Forbidden, NotFound
from shared.principal import acting

from .models import Case
from .records import iso, without_resident

if TYPE_CHECKING:
    from ..unit_of_work import AssignmentUnitOfWork

PUBLIC = "public"
STAGES = (
    "registered",
    "dispatched",
    "taken",
    "answered",
    "converted",
    "meeting",
    "committed",
    "following_up",
    "return_visit",
    "closed",
    "cancelled",  # an operator cancelled its process (close_reason process_cancelled)
)


def view(uow: AssignmentUnitOfWork, case: Case) -> dict:
    """The public view of ``case`` (see the module's docstring)."""
    venue = uow.cases.venue(case.venue)
    meetings = uow.cases.meetings(case.id)
    commitments = [c for c in uow.cases.commitments(case.id) if c.status == "committed"]
    follow_ups = uow.cases.follow_ups(case.id)
    return {
        "reference": case.public_reference,
        "number": case.number,
        # The resident wrote it: it may hold their phone number or name, which the public view never shows.
        "title": without_resident(case, case.title),
        "venue": case.venue,
        "venue_name": venue.name if venue else case.venue,
        "town": case.town,
        "status": case.status,
        "member_assigned": case.member is not None,
        "outcome": case.outcome,
        "answer": without_resident(case, case.answer),
        "converted_kind": case.converted_kind,
        "converted_number": case.converted_number,
        "converted_outcome": (
            {**case.converted_outcome, "reason": without_resident(case, case.converted_outcome.get("reason"))}
            if case.converted_outcome
            else None
        ),
        "created_at": iso(case.created_at),
        "closed_at": iso(case.closed_at),
        "satisfaction": case.satisfaction,
        "meetings": [{"form": m.form, "held_on": m.held_on.isoformat()} for m in meetings],
        "commitments": [
            {
                "unit": c.unit,
                "actions": without_resident(case, c.actions),
                "done_by": c.done_by.isoformat() if c.done_by else None,
            }
            for c in commitments
        ],
        "follow_ups": [{"actions_done": f.actions_done, "checked_at": iso(f.checked_at)} for f in follow_ups],
        "return_visit_done": case.satisfaction is not None or case.status == "closed",
    }


def status(uow: AssignmentUnitOfWork, reference: str, principal: dict | None) -> dict:
    """The case whose public reference is ``reference``; NotFound for any other string."""
    _, roles, _ = acting(principal)
    if PUBLIC not in roles:
        raise Forbidden("a case is followed by its public reference through the public API")
    case = None
    if isinstance(reference, str) and 1 <= len(reference) <= 40:
        case = uow.cases.case_by_public_reference(reference)
    if case is None:
        raise NotFound("there is no case with this reference")
    return view(uow, case)
