"""Every job operation a diagram may name: ``<service>.<operation>``, its parameters and errors.

A diagram's service task names an operation and passes parameters; the engine sends them as a
job; the owning service's ``@job`` handler does the work. This registry is what the three agree
on: a deploy refuses an operation that is not here or a task that leaves out a required parameter,
and a service refuses to declare a ``@job`` that is not here. The schemas are shapes: a limit that
depends on a rulebook (a category code, a satisfaction level) stays in the owning service, which
re-validates.
"""

from __future__ import annotations

from . import assignment, evaluation, intake, supervision  # noqa: F401 - each registers its operations
from .base import OPERATIONS, Operation, get, of_service, register

__all__ = ["OPERATIONS", "Operation", "get", "of_service", "register"]
