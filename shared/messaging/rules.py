"""Rules read afresh for each worker, when the worker first uses them.

A service's rules (its rulebook and the working-day calendar) are read for each worker, so a changed
rulebook or a year's schedule added with ``ztc calendar add`` counts at once, without a restart.
Reading them costs a worker 0.13-0.30 CPU ms (the files are read and compared each time), and most
workers never use them (an RPC read, an event that only records): :class:`RulesPerWorker` gives
each worker an object that reads them on its first use, and only then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.extensions import DependencyProvider


class Lazy:
    """What ``factory()`` makes, made when one of its attributes is first asked for; every
    attribute after that is the made object's. An error in making it is raised at that first use
    (in the worker, where its job or call fails with it), and again at the next."""

    __slots__ = ("_factory", "_made")

    def __init__(self, factory: Callable[[], Any]) -> None:
        self._factory = factory
        self._made: Any = None

    def __getattr__(self, name: str) -> Any:  # only names Lazy itself does not have
        made = self._made
        if made is None:
            made = self._made = self._factory()
        return getattr(made, name)


class RulesPerWorker(DependencyProvider):  # type: ignore[misc]  # nameko ships no types
    """``rules = RulesPerWorker(RulebookRules)``: each worker gets its own ``RulebookRules()``,
    read when the worker first uses it."""

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory

    def get_dependency(self, worker_ctx: Any) -> Lazy:
        return Lazy(self.factory)
