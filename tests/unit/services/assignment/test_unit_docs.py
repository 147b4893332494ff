"""docs/asyncapi.yaml and docs/unit-integration.md, read by a department's integrator (and the
AsyncAPI document by tools), say what the service does: operation ids that name one operation
each, the vhost left to the deployment's AMQP URI, only events a unit receives, the refusal
codes the service sends, and whose calendar day a command's date is judged on."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import yaml

from services.assignment import contracts
from shared.calendar import local_date
from shared.config import ROOT
from shared.contracts import REFUSAL_KINDS

ASYNCAPI = yaml.safe_load((ROOT / "docs" / "asyncapi.yaml").read_text(encoding="utf-8"))
GUIDE = (ROOT / "docs" / "unit-integration.md").read_text(encoding="utf-8")


def descriptions(node) -> list[str]:
    """Every ``description`` text of the AsyncAPI document."""
    if isinstance(node, dict):
        found = [node["description"]] if isinstance(node.get("description"), str) else []
        return found + [text for value in node.values() for text in descriptions(value)]
    if isinstance(node, list):
        return [text for value in node for text in descriptions(value)]
    return []


def test_each_operation_id_names_one_operation():
    ids = [
        operation["operationId"]
        for channel in ASYNCAPI["channels"].values()
        for kind in ("publish", "subscribe")
        if (operation := channel.get(kind))
    ]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_the_vhost_is_the_one_of_the_deployments_amqp_uri_not_a_fixed_one():
    bindings = [
        *ASYNCAPI["components"]["channelBindings"].values(),
        ASYNCAPI["channels"]["ztc.dead"]["bindings"]["amqp"],
    ]
    for binding in bindings:
        for place in ("exchange", "queue"):
            assert "vhost" not in binding.get(place, {}), binding
    for name, server in ASYNCAPI["servers"].items():
        assert "`ZTC_AMQP_URI`" in server["description"], name
        assert "vhost `/`" not in server["description"], name


def test_the_document_names_only_events_a_unit_receives():
    named = {
        name
        for text in descriptions(ASYNCAPI)
        for name in re.findall(r"\b((?:assignment|objection|extension|command)\.[a-z_]+)\b", text)
    }
    assert named <= set(contracts.UNIT_EVENTS), named - set(contracts.UNIT_EVENTS)


def test_the_refusal_codes_are_the_ones_the_service_sends_in_both_documents():
    reason = ASYNCAPI["components"]["messages"]["refusedCommand"]["headers"]["properties"]["x-ztc-reason"]
    [listed] = re.findall(r"code one of ([a-z_, ]+)", reason["description"])
    in_table = re.findall(r"^\| `([a-z_]+)` \| .* \| `\1: .*\|$", GUIDE, flags=re.MULTILINE)
    assert [code.strip() for code in listed.split(",")] == list(REFUSAL_KINDS)
    assert in_table == list(REFUSAL_KINDS)


def test_the_guide_says_a_commands_date_is_a_day_of_the_china_calendar_as_the_service_judges_it():
    text = " ".join(GUIDE.split())
    assert re.search(r"`held_on`, `until`, a milestone's `due`\) are judged on the China \(Asia/Shanghai\)", text)
    assert '"today" starts at 16:00 UTC' in text
    assert local_date(datetime(2026, 3, 1, 15, 59, tzinfo=timezone.utc)) == date(2026, 3, 1)
    assert local_date(datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)) == date(2026, 3, 2)
