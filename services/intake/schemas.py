"""Intake's schemas: the proposal shapes of the contracts (``shared/contracts/rpc/proposals.py``)
and the job parameters (``shared/contracts/jobs/intake.py``), under the names intake's modules use."""

from __future__ import annotations

from shared.contracts.fields import Text, UtcDateTime, not_blank  # noqa: F401
from shared.contracts.jobs.intake import CONVERSIONS, DECISIONS  # noqa: F401
from shared.contracts.jobs.intake import AnswerMerged as AnswerMergedParams  # noqa: F401
from shared.contracts.jobs.intake import ProposalRef  # noqa: F401
from shared.contracts.jobs.intake import Publish as PublishParams  # noqa: F401
from shared.contracts.jobs.intake import PublishFollowup as PublishFollowupParams  # noqa: F401
from shared.contracts.jobs.intake import RecordFiling as FilingParams  # noqa: F401
from shared.contracts.jobs.intake import FilingRefused as FilingRefusedParams  # noqa: F401
from shared.contracts.rpc.proposals import *  # noqa: F401,F403
