"""Micro-consultation schemas: the contracts' shapes (``shared/contracts/rpc/consultations.py``) and
job parameters (``shared/contracts/jobs/assignment.py``), under the names the case modules use."""

from __future__ import annotations

from shared.contracts.jobs.assignment import CaseNotTaken as NotTakenParams  # noqa: F401
from shared.contracts.jobs.assignment import CaseRef  # noqa: F401
from shared.contracts.jobs.assignment import CloseCase as CloseParams  # noqa: F401
from shared.contracts.jobs.assignment import DispatchCase as DispatchParams  # noqa: F401
from shared.contracts.jobs.assignment import RecordConversion as ConversionParams  # noqa: F401
from shared.contracts.jobs.assignment import RecordConvertedOutcome as ConvertedOutcomeParams  # noqa: F401
from shared.contracts.jobs.assignment import RecordDecision as DecisionParams  # noqa: F401
from shared.contracts.jobs.assignment import RecordFollowUp as FollowUpParams  # noqa: F401
from shared.contracts.jobs.assignment import RecordMeeting as MeetingParams  # noqa: F401
from shared.contracts.jobs.assignment import RecordReturnVisit as ReturnVisitParams  # noqa: F401
from shared.contracts.jobs.assignment import TakeCase as TakeParams  # noqa: F401
from shared.contracts.rpc.consultations import *  # noqa: F401,F403
