"""docs/unit-integration.md tells a department's integrator what answers each AMQP command, since
the assignment service applies commands side by side and not in the order sent: the table names
every command the service takes, the action each one records on the assignment (what
``GET /api/assignments/{id}`` lists in ``events``) and only events the service sends to units."""

from __future__ import annotations

import inspect
import re

from services.assignment import commands, contracts
from shared.config import ROOT

DOC = ROOT / "docs" / "unit-integration.md"


def _answers() -> dict[str, str]:
    """The ordering table: command -> its answer cell."""
    text = DOC.read_text(encoding="utf-8")
    rows = re.findall(r"^\s*\| `([a-z_]+)` \| (.*(?:action|assignment\.).*) \|$", text, flags=re.MULTILINE)
    answers: dict[str, str] = {}
    for command, answer in rows:
        assert command not in answers, f"{command} is listed twice"
        answers[command] = answer
    return answers


def test_the_integration_guide_names_the_answer_of_every_unit_command():
    answers = _answers()
    assert set(answers) == set(commands.COMMANDS)
    unit_events = {value for name, value in vars(contracts).items() if name.isupper() and isinstance(value, str)}
    for command, answer in answers.items():
        [action] = re.findall(r"action `([a-z_]+)`", answer)
        assert f'"{action}"' in inspect.getsource(commands.COMMANDS[command]), (command, action)
        for event in re.findall(r"`(assignment\.[a-z_]+)`", answer):
            assert event in unit_events, (command, event)


def test_the_integration_guide_says_to_wait_for_one_answer_before_the_next_command():
    text = " ".join(DOC.read_text(encoding="utf-8").split())
    assert "may be applied in either order" in text
    assert "`<unit>.command.refused`" in text and "`correlation_id`" in text
