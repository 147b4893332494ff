"""A unit's free texts (an objection's reason, an input, a reply, a milestone, a contact's
participants) must say something: white space alone is refused naming the field, as a title is.
The text is kept as written otherwise (a reply's own layout)."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from shared.contracts.rpc import assignments


@pytest.mark.parametrize(
    "schema, data, field",
    [
        (assignments.ObjectionRaised, {"reason": " \t "}, "reason"),
        (assignments.UnitText, {"text": "\n\n"}, "text"),
        (assignments.ExtensionAsked, {"months": 1, "reason": "　"}, "reason"),  # an ideographic space
        (assignments.ReplyDrafted, {"category": "A", "text": "   "}, "text"),
        (
            assignments.ReplyDrafted,
            {"category": "B", "text": "x", "milestones": [{"what": " ", "due": "2099-01-01"}]},
            "milestones",
        ),
        (assignments.MilestoneReported, {"milestone": 1, "note": "  "}, "note"),
        (
            assignments.ContactRecorded,
            {"kind": "phone", "held_on": "2026-12-03", "participants": "   "},
            "participants",
        ),
    ],
)
def test_a_text_of_white_space_alone_is_refused(schema, data, field):
    with pytest.raises(ValidationError) as refused:
        schema().load(data)
    assert field in refused.value.messages


def test_a_text_keeps_its_own_layout():
    text = "  一、已完成设计\n  二、明年施工  "
    assert assignments.ReplyDrafted().load({"category": "A", "text": text})["text"] == text


@pytest.mark.parametrize("invisible", ["\u200b\u200d", "\u2060", "\ufeff", "\u200e\u200f", "\u0301", " \u3000\u00a0"])
def test_text_of_invisible_characters_alone_is_empty(invisible):
    from shared.contracts.rpc import proposals

    draft = {
        "kind": "between_sessions",
        "publish_consent": True,
        "title": invisible,
        "situation": "候车亭遮雨面积小。",
        "analysis": "缺少统一规划。",
        "suggestions": "制定改造计划。",
    }
    with pytest.raises(ValidationError) as refused:
        proposals.DraftSchema().load(draft)
    assert list(refused.value.messages) == ["title"]
    with pytest.raises(ValidationError) as refused:
        assignments.UnitText().load({"text": invisible})
    assert "text" in refused.value.messages
    assert proposals.DraftSchema().load({**draft, "title": "\u200b标题"})["title"] == "\u200b标题"
