"""One configured serializer for instances and process specs.

Instance state is stored without its spec (the spec is stored once, with the deployed version),
so a saved instance is its tasks and data only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs import BpmnProcessSpec
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter

from .specs import JobServiceTask

_config = dict(SPIFF_CONFIG)
_config[JobServiceTask] = ServiceTaskConverter
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))
VERSION = SERIALIZER.VERSION

# A deployed version's process spec and the specs of the processes it calls, by name.
Specs = tuple[BpmnProcessSpec, dict[str, BpmnProcessSpec]]


def spec_to_dict(spec: BpmnProcessSpec, subprocess_specs: Mapping[str, BpmnProcessSpec]) -> dict[str, Any]:
    registry = SERIALIZER.registry
    return {
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(sp) for name, sp in subprocess_specs.items()},
    }


def specs_from_dict(dct: Mapping[str, Any]) -> Specs:
    """Restore specs from a stored dictionary (which is left untouched)."""
    dct = copy.deepcopy(dct)
    registry = SERIALIZER.registry
    spec = registry.restore(dct["spec"])
    subs = {name: registry.restore(sp) for name, sp in dct["subprocess_specs"].items()}
    return spec, subs


_converter = BpmnWorkflowConverter(BpmnWorkflow, SERIALIZER.registry)
_TYPENAME = SERIALIZER.registry.typenames[BpmnWorkflow]


def workflow_to_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    """An instance's state: ``SERIALIZER.to_dict(workflow)`` without the ``spec`` and
    ``subprocess_specs`` it would make and the caller drop (converting the specs was half the cost
    of every save). Follows ``BpmnWorkflowConverter.to_dict`` (and the registry's ``typename``)."""
    registry = SERIALIZER.registry
    dct: dict[str, Any] = WorkflowConverter.to_dict(_converter, workflow)
    dct["subprocesses"] = _converter.mapping_to_dict(workflow.subprocesses)
    dct["bpmn_events"] = registry.convert(workflow.bpmn_events)
    dct["typename"] = _TYPENAME
    dct["serializer_version"] = VERSION
    return dct


def workflow_from_dict(
    state: dict[str, Any], spec: BpmnProcessSpec, subprocess_specs: Mapping[str, BpmnProcessSpec]
) -> BpmnWorkflow:
    """Restore an instance onto spec objects already restored (and cached) for its version.

    This follows ``BpmnWorkflowConverter.from_dict`` except that it does not restore the specs
    from their dictionaries: restoring consumes the dictionaries, and restoring the same spec for
    every step of every instance would cost more than the step itself. ``state`` is consumed.
    """
    dct = state
    dct.pop("serializer_version", None)
    workflow = BpmnWorkflow(spec, subprocess_specs, deserializing=True)
    workflow.tasks = _converter.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
    workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
    _converter.set_default_attributes(workflow, dct)
    _converter.subprocesses_from_dict(dct["subprocesses"], workflow)
    workflow.bpmn_events = SERIALIZER.registry.restore(dct.pop("bpmn_events", []))
    return workflow
