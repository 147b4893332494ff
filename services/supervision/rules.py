"""What supervision needs from the rulebook and the working-day calendar.

:class:`SupervisionRules` is the port; :class:`RulebookRules` reads ``bpmn/rules/proposal.yaml``
and counts working days on :class:`~shared.calendar.WorkingCalendar`. Tests may pass a rulebook or
a calendar directory of their own.

A date of a year without an official holiday schedule is answered by the calendar's provisional
rule, and the account of a working-day deadline says so (``provisional``, ``provisional_years``);
:func:`~services.supervision.operations.recompute_provisional` counts those again when the
schedule is entered. Only a date no source knows (a year before the current holiday rules, with no
file) raises :class:`~shared.calendar.UnknownCalendarDate`. It is never caught here: in a job it is
a technical failure, so the engine retries and then raises an incident whose message names the file
to add (``bpmn/calendar/<year>.yaml``).
"""

from __future__ import annotations

import abc
from datetime import date, datetime, time, timedelta

from shared.calendar import CHINA_TZ, WorkingCalendar, local_date
from shared.rulebook import Deadline, Duration, Rulebook, deadline, load_rulebook

# Reply deadlines: the clocks the diagram waits on, reminded before and escalated after.
from shared.contracts.jobs.supervision import REPLY_RULES  # noqa: E402, F401 - re-exported

# Per-unit clocks opened for every assigned unit.
SIGN_FOR_RULE = "sign_for_limit"
OBJECTION_RULE = "objection_window"
# Opened for each co-unit (协办单位): its input to the lead unit, reminded and escalated like a reply.
CO_INPUT_RULE = "co_unit_input"
CAP_RULE = "max_extension"
# A milestone a category B reply promised: due on the unit's own date (services/supervision/milestones.py).
MILESTONE_RULE = "followup_milestone"
# When a check after an escalation comes back: the start of office hours on the next working day.
# An office hour, not a deadline rule, so it is not in the rulebook.
MORNING = time(9, 0)


def ends_at(due: date) -> datetime:
    """The moment a deadline due on ``due`` passes: midnight after it, Chinese local time."""
    return datetime.combine(due + timedelta(days=1), time(0), CHINA_TZ)


class SupervisionRules(abc.ABC):
    @abc.abstractmethod
    def deadline(self, rule: str, start: datetime) -> Deadline:
        """The deadline of ``rule`` for an event at ``start``, with its provenance."""

    @abc.abstractmethod
    def recount(self, start: date, working_days: int) -> dict:
        """The calendar's account of ``working_days`` from ``start`` as the calendar stands now."""

    @abc.abstractmethod
    def calendar_year(self, year: int) -> dict:
        """How the calendar answers ``year`` now: package, official, provisional or unknown."""

    @abc.abstractmethod
    def reminder_lead_times(self, rule: str | None = None) -> list[Duration]:
        """How long before a deadline of ``rule`` each reminder comes."""

    @abc.abstractmethod
    def rulebook_identity(self) -> dict:
        """``{name, version, hash}`` of the rulebook in force (a milestone's reminders come from it)."""

    @abc.abstractmethod
    def key_proposal_share(self) -> tuple[float, float]:
        """The guidance share of a year's filed proposals its key proposals should come to: ``(low, high)``."""

    @abc.abstractmethod
    def before(self, due: date, lead: Duration) -> datetime:
        """The moment ``lead`` before the end of a deadline due on ``due``."""

    @abc.abstractmethod
    def next_working_morning(self, after: datetime) -> datetime:
        """The first start of office hours on a working day strictly after ``after``."""


class RulebookRules(SupervisionRules):
    def __init__(self, rulebook: Rulebook | None = None, calendar: WorkingCalendar | None = None):
        self.rulebook = rulebook or load_rulebook("proposal")
        self.calendar = calendar or WorkingCalendar()

    def deadline(self, rule: str, start: datetime) -> Deadline:
        return deadline(self.rulebook, rule, start, self.calendar)

    def recount(self, start: date, working_days: int) -> dict:
        return self.calendar.explain(start, working_days)

    def calendar_year(self, year: int) -> dict:
        return self.calendar.year_status(year)

    def reminder_lead_times(self, rule: str | None = None) -> list[Duration]:
        return self.rulebook.reminder_lead_times(rule)

    def rulebook_identity(self) -> dict:
        return {"name": self.rulebook.name, "version": self.rulebook.version, "hash": self.rulebook.content_hash}

    def key_proposal_share(self) -> tuple[float, float]:
        return self.rulebook.key_proposal_share()

    def before(self, due: date, lead: Duration) -> datetime:
        """``days``: calendar days before the end; ``months``: calendar months before it, clamped;
        ``working_days``: the start of the ``n``-th working day counted back from the due day
        (so 1 working day before is the start of the last working day on time)."""
        end = due + timedelta(days=1)
        if lead.unit == "days":
            day = end - timedelta(days=lead.amount)
        elif lead.unit == "months":
            day = self.calendar.add_months(end, -lead.amount)
        else:
            day, counted = end, 0
            while counted < lead.amount:
                day -= timedelta(days=1)
                counted += self.calendar.is_working_day(day)
        return datetime.combine(day, time(0), CHINA_TZ)

    def next_working_morning(self, after: datetime) -> datetime:
        day = local_date(after)
        while True:
            morning = datetime.combine(day, MORNING, CHINA_TZ)
            if morning > after and self.calendar.is_working_day(day):
                return morning
            day += timedelta(days=1)
