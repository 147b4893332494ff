"""Structured logs: every record says which service wrote it and, where known, the process
instance, job and business key it concerns.

- ``bind(instance_id=..., job_id=..., business_key=...)`` sets the context of the running worker
  (a greenlet under eventlet; ``threading.local`` is green once eventlet has patched it);
  ``LogContext``, a nameko dependency every service has, binds what the worker's context data
  carries (a job's ids) and clears it when the worker ends.
- ``configure(service, settings)`` installs the handler: ``ZTC_LOG_FORMAT=json`` writes one JSON
  object per line; otherwise a line of text with the ids appended as ``key=value``.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TextIO

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider

if TYPE_CHECKING:
    from shared.config import Settings

FIELDS = ("instance_id", "job_id", "business_key")
# SpiffWorkflow logs every task's every change of state at INFO (``spiff.task``): some 125 records
# a proposal's lifecycle, formatted and written by the engine for nobody, about a twentieth of its
# CPU. They are kept at ZTC_LOG_LEVEL=DEBUG; otherwise only the library's warnings pass.
LIBRARY_CHATTER = ("spiff", "spiff.task", "spiff.workflow", "spiff.data")
_context = threading.local()
_service = {"name": "-"}


def bind(**fields: object) -> None:
    """Add ``fields`` (None values are ignored) to the current worker's log context."""
    current = dict(getattr(_context, "fields", None) or {})
    current.update({k: str(v) for k, v in fields.items() if v not in (None, "")})
    _context.fields = current


def clear() -> None:
    _context.fields = {}


def current() -> dict[str, str]:
    return dict(getattr(_context, "fields", None) or {})


class ContextFilter(logging.Filter):
    """Puts the service and the bound ids on every record (``record.instance_id`` etc.)."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = current()
        record.service = getattr(record, "service", None) or _service["name"]
        for name in FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, fields.get(name))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": getattr(record, "service", _service["name"]),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """``text`` with every character that is not printable escaped (``\\n``, ``\\x00``,
    ``\\u2028``): a value a client sent (a path, a number it made up) cannot start a log line of
    its own that a reader would take for the service's. Chinese and other printable text is kept."""
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else _ESCAPES.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in text
    )


class TextFormatter(logging.Formatter):
    """One line a record (its traceback, when it has one, below it): the message's control
    characters are escaped (:func:`one_line`)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(service)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = " ".join(f"{name}={getattr(record, name)}" for name in FIELDS if getattr(record, name, None))
        return f"{line} [{ids}]" if ids else line


class ExpectedRefusals(logging.Filter):
    """nameko logs every exception an entrypoint expects (a refusal the caller is answered with: not
    found, forbidden, invalid input) as a WARNING with its whole traceback: about twenty lines for
    each 404. Such a refusal is the service working, so it becomes one INFO line; the traceback is
    kept at ``ZTC_LOG_LEVEL=DEBUG`` (the filter is not installed then)."""

    PREFIX = "(expected) error handling worker"

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "nameko.containers" and str(record.msg).startswith(self.PREFIX):
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def configure(service: str, settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """Send the root logger's records to ``stream`` (stderr) in the configured format."""
    _service["name"] = service
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    if root.getEffectiveLevel() > logging.DEBUG:
        handler.addFilter(ExpectedRefusals())
    chatter = logging.NOTSET if root.getEffectiveLevel() <= logging.DEBUG else logging.WARNING
    for name in LIBRARY_CHATTER:
        logging.getLogger(name).setLevel(chatter)
    return handler


class LogContext(DependencyProvider):  # type: ignore[misc]  # nameko ships no types
    """Binds a worker's job, instance and business key (from its context data) for its logs."""

    def worker_setup(self, worker_ctx: WorkerContext) -> None:
        data = worker_ctx.context_data or {}
        clear()
        bind(**{name: data.get(name) for name in FIELDS})

    def worker_teardown(self, worker_ctx: WorkerContext) -> None:
        clear()

    def get_dependency(self, worker_ctx: WorkerContext) -> Callable[..., None]:
        return bind
