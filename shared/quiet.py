"""Warnings that say nothing an operator can act on, silenced where the project's own processes
start (the service runner, ``ztc``).

nameko runs on eventlet, and eventlet warns on import that it is deprecated: nine lines on every
``ztc`` command and in every service's log at start. That is a fact about the framework the
services are built on, not about the command run. The warning's message starts with a newline, so
the filter lets ``.`` match it.
"""

from __future__ import annotations

import warnings

EVENTLET_DEPRECATED = r"(?s).*Eventlet is deprecated"


def eventlet_deprecation() -> None:
    """Ignore eventlet's deprecation warning in this process (call it before eventlet is imported)."""
    warnings.filterwarnings("ignore", message=EVENTLET_DEPRECATED)
