"""examples/unit_client.py, the example a department's integrator starts from, sends every command
docs/unit-integration.md lists: a subcommand per command (``submit_followup`` as ``submit-followup``),
with its --help text, whose body the assignment service takes."""

from __future__ import annotations

import argparse
import importlib.util

import pytest

from services.assignment.contracts import COMMAND_SCHEMAS
from shared.config import ROOT
from shared.validation import load

# One command line per command, as a department's operator would type it.
LINES = {
    "sign": ["sign", "17"],
    "object": ["object", "17", "--reason", "公交站亭属住建局管理"],
    "send_input": ["send-input", "18", "--text", "学校周边公交站亭优先改造"],
    "draft_reply": [
        "draft-reply",
        "17",
        "--category",
        "B",
        "--text",
        "已列入计划",
        "--milestone",
        "完成改造@2099-09-30",
    ],
    "cosign_reply": ["cosign-reply", "18"],
    "submit_reply": ["submit-reply", "17"],
    "request_extension": ["request-extension", "17", "--months", "2", "--reason", "需等待年度预算批复"],
    "report_milestone": ["report-milestone", "17", "1", "--note", "设计招标已完成"],
    "record_contact": [
        "record-contact",
        "17",
        "--kind",
        "face_to_face",
        "--held-on",
        "2026-03-05",
        "--participants",
        "王处长与张委员",
    ],
    "submit_followup": ["submit-followup", "17", "--text", "公交站亭已于9月完成改造。"],
}


@pytest.fixture(scope="module")
def client():
    spec = importlib.util.spec_from_file_location("unit_client", ROOT / "examples" / "unit_client.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_unit_command_has_a_subcommand_with_help(client):
    [subcommands] = [a for a in client.parser()._actions if isinstance(a, argparse._SubParsersAction)]
    helped = {choice.dest: choice.help for choice in subcommands._choices_actions}
    assert set(LINES) == set(COMMAND_SCHEMAS)
    for command in COMMAND_SCHEMAS:
        assert helped.get(command.replace("_", "-")), f"no subcommand {command.replace('_', '-')} with --help text"


@pytest.mark.parametrize("command", COMMAND_SCHEMAS)
def test_each_subcommand_sends_a_body_the_service_takes(client, command):
    args = client.parser().parse_args(["--unit", "transport", *LINES[command]])
    assert args.command.replace("-", "_") == command
    load(COMMAND_SCHEMAS[command], client.body_of(args), f"command {command}")
