"""Intake's opinion-item schemas: the contracts' shapes (``shared/contracts/rpc/opinions.py``) with
the rulebook's length limits (``bpmn/rules/opinion.yaml``'s ``limits``, given when the schema is made:
``OpinionDraftSchema(limits=rules.opinion_rulebook().rules["limits"])``) checked on top, and the job
parameters."""

from __future__ import annotations

from marshmallow import ValidationError, validates_schema

from shared.contracts import field_types as fields

from shared.contracts.jobs.intake import ForwardOpinion as ForwardParams  # noqa: F401
from shared.contracts.jobs.intake import ItemRef  # noqa: F401
from shared.contracts.jobs.intake import OpenOpinionFromCase as CaseOpinionParams  # noqa: F401
from shared.contracts.jobs.intake import OpenProposalFromCase as CaseProposalParams  # noqa: F401
from shared.contracts.jobs.intake import RecordEditing as EditingParams  # noqa: F401
from shared.contracts.jobs.intake import ReportOpinion as ReportParams  # noqa: F401
from shared.contracts.jobs.intake import ReturnToEditing as ReturnParams  # noqa: F401
from shared.contracts.rpc import opinions as _shapes
from shared.contracts.rpc.opinions import *  # noqa: F401,F403
from shared.contracts.rpc.opinions import CONTENT


class _WithinLimits:
    def __init__(self, *args, limits: dict, **kwargs):
        super().__init__(*args, **kwargs)
        self.limits = limits

    @validates_schema(skip_on_field_errors=False)
    def _within_limits(self, data, **kwargs):
        limits = self.limits
        errors = {}
        if len(data.get("title") or "") > limits["max_title"]:
            errors["title"] = [f"at most {limits['max_title']} characters"]
        total = sum(len(data.get(part) or "") for part in CONTENT)
        if total > limits["max_characters"]:
            errors["_schema"] = [
                f"situation, analysis and suggestion have {total} characters together; "
                f"one matter takes at most {limits['max_characters']}"
            ]
        if errors:
            raise ValidationError(errors)


class OpinionContentSchema(_WithinLimits, _shapes.OpinionContentSchema):
    """One matter (一事一报), within the rulebook's limits."""


class OpinionDraftSchema(_WithinLimits, _shapes.OpinionDraftSchema):
    """A new item as a member or an informant submits it, within the rulebook's limits."""


class CaseContent(_WithinLimits, _shapes.CaseContent):
    """A micro-consultation case's content as an opinion item, within the rulebook's limits."""


_ = fields  # the shapes' field types, for modules that import them from here
