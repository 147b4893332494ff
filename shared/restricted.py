"""The restricted language of diagram scripts and expressions: compile and run.

Scripts and expressions in diagrams are written by process designers, not by us, so they run
through RestrictedPython: no imports, no names or attributes that start with an underscore
(so no dunders), and no builtins that reach the file system, the network or the interpreter
(``open``, ``eval``, ``exec``, ``getattr``...). :func:`check` runs the same rules at deploy time so a
diagram that breaks them is refused before it can run.

This module imports nothing of SpiffWorkflow: the sandbox's worker processes
(:mod:`shared.sandbox`) import it alone, so they start quickly and small.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
import datetime as _dt
from functools import lru_cache
from types import CodeType
from typing import Any, Literal

from RestrictedPython.compile import compile_restricted
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.PrintCollector import PrintCollector
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from RestrictedPython.Limits import limited_builtins
from RestrictedPython.Utilities import utility_builtins

FORBIDDEN_CALLS = frozenset(
    {
        "open",
        "eval",
        "exec",
        "compile",
        "globals",
        "locals",
        "vars",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "__import__",
        "exit",
        "quit",
    }
)


class UnsafeScript(ValueError):
    """A script or expression breaks the evaluator's rules; ``str()`` says which rule."""


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    # a diagram script's values are whatever its task data holds
    ops: dict[str, Callable[[Any, Any], Any]] = {
        "+=": lambda a, b: a + b,
        "-=": lambda a, b: a - b,
        "*=": lambda a, b: a * b,
        "/=": lambda a, b: a / b,
        "//=": lambda a, b: a // b,
        "%=": lambda a, b: a % b,
        "|=": lambda a, b: a | b,
        "&=": lambda a, b: a & b,
    }
    if op not in ops:
        raise UnsafeScript(f"operator {op} is not allowed")
    return ops[op](x, y)


_BUILTINS = dict(safe_builtins)
_BUILTINS.update(limited_builtins)
_BUILTINS.update(utility_builtins)
for _name in (
    "dict",
    "list",
    "set",
    "sum",
    "min",
    "max",
    "any",
    "all",
    "enumerate",
    "sorted",
    "reversed",
    "map",
    "filter",
    "zip",
    "range",
):
    _BUILTINS[_name] = __builtins__[_name] if isinstance(__builtins__, dict) else getattr(__builtins__, _name)
for _name in list(_BUILTINS):
    if _name in FORBIDDEN_CALLS:
        del _BUILTINS[_name]
# utility_builtins carries whole modules (string, math, random, whrandom, set, frozenset): keep
# only math, which is handy in expressions and harmless.
for _name in ("string", "random", "whrandom"):
    _BUILTINS.pop(_name, None)

GLOBALS = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplacevar,
    "_print_": PrintCollector,  # print() works; its output goes nowhere
    "__metaclass__": type,  # lets a script define a small class
    "__name__": "diagram",
    "datetime": _dt.datetime,
    "date": _dt.date,
    "timedelta": _dt.timedelta,
}


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.problems: list[str] = []

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        self.problems.append(f"line {node.lineno}: imports are not allowed")

    visit_ImportFrom = visit_Import

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_CALLS:
            self.problems.append(f"line {node.lineno}: the name {node.id} is not allowed")


@lru_cache(maxsize=4096)
def _compile(source: str, mode: Literal["exec", "eval", "single"]) -> CodeType:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise UnsafeScript(f"syntax error on line {exc.lineno}: {exc.msg}") from None
    checker = _Checker()
    checker.visit(tree)
    if checker.problems:
        raise UnsafeScript("; ".join(dict.fromkeys(checker.problems)))
    try:
        return compile_restricted(source, filename="<diagram>", mode=mode)
    except SyntaxError as exc:
        errors = exc.args[0] if exc.args else str(exc)
        if isinstance(errors, (tuple, list)):
            errors = "; ".join(errors)
        raise UnsafeScript(str(errors)) from None


def check(source: str, mode: Literal["exec", "eval", "single"] = "exec") -> None:
    """Raise :class:`UnsafeScript` if ``source`` would be refused at run time."""
    _compile(source, mode)


def evaluate(expression: str, context: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    code = _compile(expression.strip(), "eval")
    env = dict(GLOBALS)
    env.update(extra or {})
    env.update(context)
    return eval(code, env)  # noqa: S307 - compiled by RestrictedPython above


def execute(script: str, context: dict[str, Any], extra: Mapping[str, Any] | None = None) -> None:
    code = _compile(script, "exec")
    env = dict(GLOBALS)
    env.update(extra or {})
    env.update(context)
    exec(code, env)  # noqa: S102 - compiled by RestrictedPython above
    helpers = dict(GLOBALS)
    helpers.update(extra or {})
    for key in list(context):
        if key not in env:
            del context[key]
    for key, value in env.items():
        if key in helpers and value is helpers[key] and key not in context:
            continue  # a helper the script did not touch
        if key.startswith("_") or isinstance(value, type) or callable(value):
            continue  # functions and classes a script defines are not task data
        context[key] = value
