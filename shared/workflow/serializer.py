"""One configured serializer for instances and process specs.

Instance state is stored without its spec (the spec is stored once, with the deployed version),
so a saved instance is its tasks and data only.
"""
from __future__ import annotations

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.serializer.task_spec import ServiceTaskConverter

from .specs import JobServiceTask

_config = dict(SPIFF_CONFIG)
_config[JobServiceTask] = ServiceTaskConverter
SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(_config))
VERSION = SERIALIZER.VERSION


def spec_to_dict(spec, subprocess_specs) -> dict:
    registry = SERIALIZER.registry
    return {
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(sp) for name, sp in subprocess_specs.items()},
    }


def specs_from_dict(dct: dict):
    registry = SERIALIZER.registry
    spec = registry.restore(dct["spec"])
    subs = {name: registry.restore(sp) for name, sp in dct["subprocess_specs"].items()}
    return spec, subs


def workflow_to_dict(workflow) -> dict:
    dct = SERIALIZER.to_dict(workflow)
    dct.pop("spec", None)
    dct.pop("subprocess_specs", None)
    dct["serializer_version"] = VERSION
    return dct


def workflow_from_dict(state: dict, spec_dict: dict):
    dct = dict(state)
    dct.pop("serializer_version", None)
    dct["spec"] = spec_dict["spec"]
    dct["subprocess_specs"] = spec_dict["subprocess_specs"]
    return SERIALIZER.from_dict(dct)
