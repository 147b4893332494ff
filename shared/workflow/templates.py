"""Element templates for Camunda Modeler, generated from the job contracts (shared/contracts/jobs).

Why Camunda 8 templates and ``zeebe:`` elements: Camunda Modeler is the modeler designers have (and
bpmn.io's), and its element templates can bind only to BPMN attributes and Camunda's own extension
elements — never to ``spiffworkflow:serviceTaskOperator``. Templates targeting SpiffArena's modeler
would need that modeler instead, which has no template support of this kind. So each template
writes what Camunda Modeler 8 writes for a job worker — ``zeebe:taskDefinition type="<service>.
<operation>"``, one ``zeebe:input`` per parameter and a ``zeebe:taskHeader`` ``resultVariable`` —
and the parser (:mod:`shared.workflow.zeebe`) reads a service task written so exactly as it reads
``spiffworkflow:serviceTaskOperator``: the same contract checks, the same job.

A parameter's value is a Python expression on the task data (as in ``spiffworkflow:parameter``), not
FEEL: the templates do not mark inputs as FEEL, so the modeler writes the text as it is typed.
"""

from __future__ import annotations

from typing import Any

from shared.contracts import field_types as fields

from shared.contracts import jobs

SCHEMA = "https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json"
TEMPLATE_VERSION = 1


def _describe(field: fields.Field[Any], required: bool) -> str:
    kind = type(field).__name__.lower()
    if isinstance(field, fields.List):
        kind = f"list of {type(field.inner).__name__.lower()}"
    text = f"{'required' if required else 'optional'} {kind}; a Python expression on the task data"
    choices = getattr(getattr(field, "validate", None), "choices", None)
    for validator in getattr(field, "validators", []) or []:
        choices = choices or getattr(validator, "choices", None)
    if choices:
        text += " (one of " + ", ".join(map(str, choices)) + ")"
    return text


def template(op: jobs.Operation) -> dict[str, Any]:
    short = op.name.split(".", 1)[1]
    properties: list[dict[str, Any]] = [
        {
            "type": "Hidden",
            "value": op.name,
            "binding": {"type": "zeebe:taskDefinition", "property": "type"},
        }
    ]
    for name, field in op.params._declared_fields.items():
        required = bool(field.required)
        prop: dict[str, object] = {
            "label": name,
            "description": _describe(field, required),
            "type": "String",
            "group": "parameters",
            "binding": {"type": "zeebe:input", "name": name},
        }
        if required:
            prop["constraints"] = {"notEmpty": True}
        else:
            prop["optional"] = True
        properties.append(prop)
    properties.append(
        {
            "label": "Result variable",
            "description": "The task data variable the job's result is stored in.",
            "type": "String",
            "value": short,
            "group": "result",
            "binding": {"type": "zeebe:taskHeader", "key": "resultVariable"},
            "constraints": {"notEmpty": True},
        }
    )
    description = op.summary
    if op.errors:
        description += " — BPMN errors it may answer (catch them with an error boundary event): " + ", ".join(op.errors)
    return {
        "$schema": SCHEMA,
        "name": f"{op.name}",
        "id": f"zhitongche.job.{op.name}",
        "version": TEMPLATE_VERSION,
        "description": description,
        "category": {"id": f"zhitongche-{op.service}", "name": f"Zhitongche: {op.service}"},
        "appliesTo": ["bpmn:Task"],
        "elementType": {"value": "bpmn:ServiceTask"},
        "groups": [{"id": "parameters", "label": "Parameters"}, {"id": "result", "label": "Result"}],
        "properties": properties,
    }


def element_templates() -> list[dict[str, Any]]:
    """One template per declared job operation, sorted by name."""
    return [template(op) for _, op in sorted(jobs.OPERATIONS.items())]
