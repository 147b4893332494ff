"""``python -m shared.contracts > docs/contracts.md``: the contracts as a document.

Generated, never edited by hand; ``tests/contract/test_contracts_document.py`` keeps the committed
copy in step with the code."""

from __future__ import annotations

import sys
from typing import Any

from shared.contracts import field_types as fields

from . import bus, jobs, messages, subscriptions


_TYPES = (
    (fields.Integer, "integer"),
    (fields.Boolean, "boolean"),
    (fields.AwareDateTime, "date-time"),
    (fields.DateTime, "date-time"),
    (fields.Date, "date"),
    (fields.Dict, "object"),
    (fields.Nested, "object"),
    (fields.String, "string"),
    (fields.Raw, "any"),
)


def _type(field: fields.Field[Any]) -> str:
    if isinstance(field, fields.List):
        return f"list of {_type(field.inner)}"
    return next((name for kind, name in _TYPES if isinstance(field, kind)), type(field).__name__)


def _choices(field: fields.Field[Any]) -> str:
    validators = getattr(field, "validators", []) or []
    for v in validators:
        if hasattr(v, "choices"):
            return " — one of " + ", ".join(f"`{c}`" for c in v.choices)
    return ""


def document() -> str:
    out = [
        "# Contracts",
        "",
        "What crosses the bus, generated from `shared/contracts/` by `python -m shared.contracts`.",
        "Do not edit by hand: a test keeps this file in step with the code.",
        "",
        "## Exchanges and queues",
        "",
        "| name | what |",
        "|---|---|",
    ]
    names = [
        ("JOBS_EXCHANGE", "jobs for the services; routing key `<service>.<operation>`"),
        ("RESULTS_EXCHANGE", "job results for the engine"),
        ("MESSAGES_EXCHANGE", "BPMN messages and start commands for the engine; opinion items from apps"),
        ("EVENTS_EXCHANGE", "domain events; routing key = the event name"),
        ("UNITS_EXCHANGE", "events for departments; routing key `<unit>.<event>`"),
        ("UNIT_COMMANDS_EXCHANGE", "departments' commands; routing key `<unit>.<command>`"),
        ("DEAD_EXCHANGE", "dead letters, with `x-ztc-reason`"),
    ]
    for constant, what in names:
        out.append(f"| `{getattr(bus, constant)}` | {what} |")
    out += [
        "",
        "## Who consumes and calls what",
        "",
        "Each service's use of the bus (`shared/contracts/subscriptions.py`): the broker's definitions and "
        "each service's broker permissions are built from it, and a test holds every service class to it.",
        "",
        "| service | consumes (queue: binding keys) | job queue | answers RPC | calls RPC of |",
        "|---|---|---|---|---|",
    ]
    for service, use in subscriptions.BUS_USE.items():
        queues = "<br>".join(f"`{item.queue}`: " + ", ".join(f"`{key}`" for key in item.keys) for item in use.listens)
        out.append(
            f"| {service} | {queues or '—'} | {'`' + bus.job_queue(service) + '`' if use.jobs else '—'} | "
            f"{'yes' if use.rpc_server else 'no'} | {', '.join(use.rpc_targets) or '—'} |"
        )
    out += [
        "",
        "## Job operations",
        "",
        "A diagram's service task names one of these (`spiffworkflow:serviceTaskOperator id=...`) "
        "and passes its parameters; a deploy refuses any other operation, a missing required "
        "parameter or an unknown one.",
        "",
    ]
    for op in sorted(jobs.OPERATIONS.values(), key=lambda o: o.name):
        out += [
            f"### `{op.name}`",
            "",
            op.summary[:1].upper() + op.summary[1:] + ".",
            "",
            "| parameter | type | required |",
            "|---|---|---|",
        ]
        for name, field in op.params._declared_fields.items():
            out.append(f"| `{name}` | {_type(field)}{_choices(field)} | {'yes' if field.required else 'no'} |")
        if op.errors:
            out += ["", "BPMN errors: " + ", ".join(f"`{e}`" for e in op.errors)]
        out.append("")
    out += [
        "## Refusals told back to a unit",
        "",
        f"A command a department sent over `{bus.UNIT_COMMANDS_EXCHANGE}` that the assignment service refuses "
        f"changes nothing; the refusal is published to `{bus.UNITS_EXCHANGE}` with routing key "
        f"`<unit>.{bus.UNIT_COMMAND_REFUSED}`, read from the sending unit's own queue `{bus.unit_queue('<unit>')}` "
        "(the unit the command's broker-validated `user_id` belongs to), and the command itself is still "
        f"dead-lettered to `{bus.DEAD_EXCHANGE}` for the operators. A message from no unit's user has "
        "nobody to tell. Body:",
        "",
        "| field | type | required |",
        "|---|---|---|",
    ]
    for name, field in bus.UnitRefusalSchema._declared_fields.items():
        out.append(f"| `{name}` | {_type(field)}{_choices(field)} | {'yes' if field.required else 'no'} |")
    out.append("")
    out += ["## BPMN messages", "", "| message | sent by | correlates on | what |", "|---|---|---|---|"]
    for m in sorted(messages.MESSAGES.values(), key=lambda m: m.name):
        out.append(f"| `{m.name}` | {', '.join(m.senders)} | {m.correlation} | {m.summary} |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    sys.stdout.write(document())
