"""The registry of job operations (see the package): what an operation is, and how one is declared."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import Schema


@dataclass(frozen=True)
class Operation:
    name: str  # "<service>.<operation>"
    params: type[Schema]  # the parameters' shape
    summary: str
    errors: tuple[str, ...] = ()  # BPMN error codes the operation may answer with

    @property
    def service(self) -> str:
        return self.name.split(".", 1)[0]

    def parameters(self) -> dict[str, bool]:
        """``{name: required}`` for every declared parameter."""
        return {name: bool(field.required) for name, field in self.params._declared_fields.items()}

    def required(self) -> set[str]:
        return {name for name, required in self.parameters().items() if required}


OPERATIONS: dict[str, Operation] = {}


def register(*operations: Operation) -> None:
    for op in operations:
        if op.name in OPERATIONS:
            raise ValueError(f"operation {op.name} is declared twice")
        if "." not in op.name:
            raise ValueError(f"operation {op.name} must be '<service>.<operation>'")
        OPERATIONS[op.name] = op


def get(name: str) -> Operation | None:
    return OPERATIONS.get(name)


def of_service(service: str) -> list[Operation]:
    return [op for name, op in sorted(OPERATIONS.items()) if op.service == service]
