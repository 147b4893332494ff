"""Expressions written for other engines, and the ISO 8601 values of timers.

Our diagrams' expressions are Python (:mod:`shared.restricted`). Diagrams drawn in other modelers
carry FEEL (Camunda 8, DMN: ``=approved``), JUEL (Camunda 7, Activiti, Flowable: ``${approved}``)
or XPath, the BPMN standard's default (``bpmn:getDataObject('approved')``). :func:`foreign`
recognises them and translates the simple cases into the Python to write instead.

Timer values are checked with SpiffWorkflow's own parsers, which are the ones that run them.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from . import bounds

from shared import restricted

# -- other expression languages ---------------------------------------------------------------------

_JUEL = re.compile(r"^\s*[$#]\{(.*)\}\s*$", re.S)
_STRING = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.S)
_KEYWORDS = {"and", "or", "not", "in", "is", "if", "else", "None", "True", "False", "for", "lambda"}


@dataclass(frozen=True)
class Foreign:
    language: str  # FEEL, JUEL or XPath
    python: str | None  # the same condition in Python, when it could be translated exactly
    renamed: bool = False  # names with spaces were joined into one Python name


def _segments(text: str) -> Iterator[tuple[bool, str]]:
    """``(is_string, piece)`` pairs: string literals are left alone by the translations."""
    pos = 0
    for m in _STRING.finditer(text):
        if m.start() > pos:
            yield False, text[pos : m.start()]
        yield True, m.group(0)
        pos = m.end()
    if pos < len(text):
        yield False, text[pos:]


def _code_only(text: str, change: Callable[[str], str]) -> str:
    return "".join(piece if is_string else change(piece) for is_string, piece in _segments(text))


def _tidy(text: str) -> str:
    return _code_only(text, lambda code: re.sub(r"\s+", " ", code)).strip()


def _words(code: str, literals: Mapping[str, str]) -> str:
    for word, python in literals.items():
        code = re.sub(rf"\b{word}\b", python, code)
    return code


def _single_equals(code: str) -> str:
    return re.sub(r"(?<![<>!=:])=(?!=)", " == ", code)


def _join_spaced_names(code: str) -> tuple[str, bool]:
    """FEEL allows names with spaces (``Vacation Approval``): join them into one Python name."""
    changed = False

    def join(m: re.Match[str]) -> str:
        nonlocal changed
        words = m.group(0).split()
        runs: list[list[str]] = []
        run: list[str] = []
        for word in words:
            if word in _KEYWORDS:
                if run:
                    runs.append(run)
                runs.append([word])
                run = []
            else:
                run.append(word)
        if run:
            runs.append(run)
        out = []
        for r in runs:
            if len(r) > 1:
                changed = True
                out.append("_".join(w.lower() for w in r))
            else:
                out.append(r[0])
        return " ".join(out)

    code = re.sub(r"[A-Za-z_]\w*(?:[ \t]+[A-Za-z_]\w*)+", join, code)
    return code, changed


def _not_call(code: str) -> str:
    """FEEL's and XPath's ``not(x)``: Python's ``not x`` (parenthesised unless x is a name)."""
    code = re.sub(r"\bnot\s*\(", "not (", code)
    return code


def _simplify_not(python: str) -> str:
    return re.sub(r"\bnot \(\s*([A-Za-z_]\w*)\s*\)", r"not \1", python)


def _valid(python: str) -> str | None:
    if not python:
        return None
    python = re.sub(r"!=\s*None\b", "is not None", python)
    python = re.sub(r"==\s*None\b", "is None", python)
    try:
        restricted.check(python, "eval")
    except restricted.UnsafeScript:
        return None
    return python


def juel_to_python(inner: str) -> str | None:
    def change(code: str) -> str:
        code = code.replace("&&", " and ").replace("||", " or ")
        code = re.sub(r"!(?!=)", " not ", code)
        code = _words(
            code,
            {
                "eq": "==",
                "ne": "!=",
                "lt": "<",
                "gt": ">",
                "le": "<=",
                "ge": ">=",
                "div": "/",
                "mod": "%",
                "null": "None",
                "true": "True",
                "false": "False",
                "empty": "not",
            },
        )
        return code

    return _valid(_tidy(_code_only(inner, change)))


_QUANTIFIED = re.compile(r"^\s*(some|every)\s+([A-Za-z_]\w*)\s+in\s+([A-Za-z_][\w.]*)\s+satisfies\s+(.+)$", re.S)
_FEEL_ONLY = re.compile(r"\b(satisfies|return|then|between|instance\s+of)\b")


def feel_to_python(text: str) -> tuple[str | None, bool]:
    quantified = _QUANTIFIED.match(text)
    if quantified:
        # some x in xs satisfies c  ->  any(c for x in xs); every ... -> all(...)
        which, item, items, condition = quantified.groups()
        inner, renamed = feel_to_python(condition)
        if inner is None:
            return None, False
        python = _valid(f"{'any' if which == 'some' else 'all'}({inner} for {item} in {items})")
        return python, renamed and python is not None
    if any(_FEEL_ONLY.search(code) for is_string, code in _segments(text) if not is_string):
        return None, False  # if-then-else, between, for-return...: no exact translation
    renamed = False

    def change(code: str) -> str:
        nonlocal renamed
        code = _not_call(code)
        code = _single_equals(code)
        code = _words(code, {"null": "None", "true": "True", "false": "False"})
        code, joined = _join_spaced_names(code)
        renamed = renamed or joined
        return code

    python = _valid(_simplify_not(_tidy(_code_only(text, change))))
    return python, renamed and python is not None


def xpath_to_python(text: str) -> tuple[str | None, bool]:
    renamed = False

    def change(code: str) -> str:
        nonlocal renamed
        code = re.sub(r"true\(\)", "True", code)
        code = re.sub(r"false\(\)", "False", code)
        code = _not_call(code)
        code, joined = _join_spaced_names(_single_equals(code))
        renamed = renamed or joined
        return code

    data = re.sub(r"(?:bpmn:)?getDataObject\(\s*(['\"])([A-Za-z_]\w*)\1\s*\)", r"\2", text)
    python = _valid(_simplify_not(_tidy(_code_only(data, change))))
    return python, renamed and python is not None


def declared_language(language: str) -> str | None:
    """FEEL, XPath or JUEL if a ``language`` / ``expressionLanguage`` URI names one."""
    lowered = (language or "").lower()
    for marker, name in (("feel", "FEEL"), ("xpath", "XPath"), ("juel", "JUEL")):
        if marker in lowered:
            return name
    return None


def foreign(text: str, language: str = "") -> Foreign | None:
    """How ``text`` is written if it is FEEL, JUEL or XPath rather than Python, else None.

    ``language`` is the element's ``language`` attribute or the file's ``expressionLanguage``.
    Text that is valid Python is Python, whatever the file declares (modelers declare XPath by
    default), except the forms no Python expression takes: ``${...}``, ``#{...}`` and ``=...``.
    """
    source = (text or "").strip()
    m = _JUEL.match(source)
    if m:
        return Foreign("JUEL", juel_to_python(m.group(1)))
    if source.startswith("=") and not source.startswith("=="):
        python, renamed = feel_to_python(source[1:])
        return Foreign("FEEL", python, renamed)
    try:
        ast.parse(source, mode="eval")
        return None
    except SyntaxError:
        pass
    declared = declared_language(language)
    if "getDataObject" in source or declared == "XPath":
        python, renamed = xpath_to_python(source)
        return Foreign("XPath", python, renamed)
    if declared == "FEEL":
        python, renamed = feel_to_python(source)
        return Foreign("FEEL", python, renamed)
    if declared == "JUEL":
        return Foreign("JUEL", juel_to_python(source))
    return None


def spaced_names(text: str) -> str | None:
    """``text`` as valid Python once names with spaces are joined (``Service Level == 'Premium'``
    -> ``service_level == 'Premium'``), or None if that does not make it Python."""
    try:
        ast.parse((text or "").strip(), mode="eval")
        return None
    except SyntaxError:
        pass
    python: str | None
    python, changed = _code_only(text, lambda code: code), False
    pieces = []
    for is_string, piece in _segments(text):
        if not is_string:
            piece, joined = _join_spaced_names(piece)
            changed = changed or joined
        pieces.append(piece)
    python = _valid(_tidy("".join(pieces)))
    return python if changed else None


def foreign_advice(what: str, text: str, found: Foreign) -> tuple[str, str]:
    """(message, hint) for an expression written in another language."""
    message = (
        f"{what} '{text.strip()}' is written in {found.language}; expressions here are Python "
        f"(FEEL, JUEL and XPath are not run)"
    )
    if found.python:
        hint = f"write it in Python: {found.python}"
        if found.renamed:
            hint += " (names with spaces were joined into one name: use the name your task data carries)"
    else:
        hint = (
            "write it as a Python expression over the task data, e.g. approved, not approved, "
            "amount > 1000 and region == 'north'"
        )
    return message, hint


# -- timers -------------------------------------------------------------------------------------------

_ISO_DURATION = re.compile(r"^P(?=\d|T\d)(\d+(?:[.,]\d+)?[YMWD])*(T(\d+(?:[.,]\d+)?[HMS])+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$")
_ISO_CYCLE = re.compile(r"^R\d*/\S+$")

TIMER_EXAMPLES = {
    "timeDuration": "'P3D' (3 days), 'PT4H' (4 hours) or 'P1DT12H'",
    "timeDate": "'2026-05-01T09:00:00+08:00'",
    "timeCycle": "'R3/PT1H' (3 times, an hour apart) or 'R/P1D' (every day)",
}
_UNITS = {
    "year": "Y",
    "month": "M",
    "week": "W",
    "day": "D",
    "hour": "H",
    "minute": "M",
    "min": "M",
    "second": "S",
    "sec": "S",
}


def bare_iso(text: str) -> bool:
    """True if ``text`` is an ISO 8601 value written without quotes (a Python name or worse)."""
    source = (text or "").strip()
    return bool(_ISO_DURATION.match(source) or _ISO_DATE.match(source) or _ISO_CYCLE.match(source))


NOT_A_CONSTANT = object()


def constant(text: str | None) -> object:
    """The value ``text`` writes as a Python literal (``'P3D'``, ``20000``, ``True``), or
    :data:`NOT_A_CONSTANT` for an expression that needs the task data or a computation."""
    try:
        return ast.literal_eval((text or "").strip())
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return NOT_A_CONSTANT


def string_literal(text: str) -> str | None:
    """The value of ``text`` if it is a Python string literal, else None."""
    value = constant(text)
    return value if isinstance(value, str) else None


def _duration_from_words(value: str) -> str | None:
    """'3 days', '2 hours 30 minutes' as an ISO 8601 duration, or None."""
    parts = re.findall(r"(\d+)\s*(year|month|week|day|hour|minute|min|second|sec)s?\b", value.lower())
    if not parts:
        return None
    dates, times = "", ""
    for number, unit in parts:
        if unit in ("hour", "minute", "min", "second", "sec"):
            times += number + _UNITS[unit]
        else:
            dates += number + _UNITS[unit]
    return "P" + dates + ("T" + times if times else "")


def timer_value_problem(kind: str, value: str) -> str | None:
    """Why the literal ``value`` cannot be a ``kind`` (timeDuration, timeDate or timeCycle), or None.
    Its bounds first (:func:`.bounds.timer_problem`): SpiffWorkflow's own parsing of a very long
    repeating interval would loop for hours."""
    too_far = bounds.timer_problem(kind, value)
    if too_far:
        return too_far
    try:
        if kind == "timeDuration":
            if not value.upper().startswith("P") or not TimerEventDefinition.parse_iso_duration(value):
                raise ValueError
        elif kind == "timeDate":
            if not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
                return f"'{value}' is a duration, not a date and time: put it in a timeDuration"
        elif kind == "timeCycle":
            if not value.upper().startswith("R"):
                raise ValueError
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception:  # noqa: BLE001 - SpiffWorkflow's parsers raise plain exceptions
        what = {
            "timeDuration": "an ISO 8601 duration",
            "timeDate": "an ISO 8601 date and time",
            "timeCycle": "an ISO 8601 repeating interval",
        }[kind]
        return f"'{value}' is not {what}"
    return None


def timer_hint(kind: str, value: str | None = None) -> str:
    if kind == "timeDuration" and value:
        guess = _duration_from_words(value)
        if guess and timer_value_problem(kind, guess) is None:
            return f"write '{guess}'; e.g. {TIMER_EXAMPLES[kind]}"
    return f"e.g. {TIMER_EXAMPLES[kind]}, or an expression over the task data"
