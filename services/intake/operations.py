"""Intake's rules, as plain functions of a unit of work (``repository.IntakeUnitOfWork``), the rules
where they need them (``rules.IntakeRules``), validated input and the caller's principal.

The service calls these over its session's unit of work and commits; unit tests call them over the
in-memory fakes (``tests/unit/services/intake/fakes.py``), integration tests over a session of their own. The rules live
in ``proposals`` (提: submit, co-sign, read, resubmit), ``registration`` (立: settle co-signers,
find duplicates, record the filing decision) and ``publication`` (公开).
"""

from __future__ import annotations

from shared import clock
from shared.contracts.jobs.intake import RecordSubmission as RecordSubmissionParams
from shared.validation import load
from shared.principal import acting_user

from .models import Submission
from .unit_of_work import IntakeUnitOfWork
from .proposals import cosign, get, is_proposer_of, list_proposals, proposal_page, resubmit, similar_titles, submit
from .publication import answer_merged, publish, publish_followup
from .registration import find_duplicates, record_filing, record_filing_refused, settle_cosigners

__all__ = [
    "record_submission",
    "submit",
    "cosign",
    "get",
    "is_proposer_of",
    "list_proposals",
    "proposal_page",
    "similar_titles",
    "resubmit",
    "settle_cosigners",
    "find_duplicates",
    "record_filing",
    "record_filing_refused",
    "publish",
    "publish_followup",
    "answer_merged",
]


def record_submission(uow: IntakeUnitOfWork, params: dict, principal: dict | None) -> dict:
    data = load(RecordSubmissionParams, params, "intake.record_submission parameters")
    row = Submission(
        title=data["title"],
        business_key=data["business_key"],
        submitted_by=acting_user(principal),
        created_at=clock.now(),
    )
    uow.proposals.add_submission(row)
    uow.flush()
    return {"id": row.id, "title": row.title}
