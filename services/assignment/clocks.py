"""The reply deadline, as supervision keeps it: the one clock a unit's command is checked against
(an extension is asked before the reply is due). Supervision owns deadlines; the assignment service
asks it (RPC ``reply_due``) and keeps no copy that could go stale."""

from __future__ import annotations

import abc
from datetime import date, datetime


class ReplyClock(abc.ABC):
    @abc.abstractmethod
    def reply_due(self, number: str) -> dict | None:
        """``{rule, due: date, ends_at: aware datetime, paused: bool, latest_due: date | None}`` of
        the proposal's live reply deadline (``latest_due``: the latest date all extensions together
        may reach), or None when none is open."""


class SupervisionClock(ReplyClock):
    """Asks supervision over RPC, as the acting principal (a unit sees its own proposals' deadlines)."""

    def __init__(self, supervision, principal: dict | None):
        self.supervision, self.principal = supervision, principal

    def reply_due(self, number: str) -> dict | None:
        answer = self.supervision.reply_due(number, principal=self.principal)
        if answer is None:
            return None
        return {
            "rule": answer["rule"],
            "due": date.fromisoformat(answer["due"]),
            "ends_at": datetime.fromisoformat(answer["ends_at"]),
            "paused": bool(answer["paused"]),
            "latest_due": date.fromisoformat(answer["latest_due"]) if answer.get("latest_due") else None,
        }
