"""What a resident sees of their case by its reference: never their phone or name, even where they
wrote them into the title themselves (the public view had shown the title as written)."""

from __future__ import annotations

from datetime import datetime, timezone

from services.assignment.consultation.models import Case
from services.assignment.consultation.public import view
from tests.unit.services.assignment.fakes import FakeAssignmentUnitOfWork


def case(title: str) -> Case:
    return Case(
        id=1,
        number="WX-2026-0001",
        public_reference="r" * 24,
        venue="v1",
        town="t1",
        title=title,
        description="路灯不亮，请联系 13812345678",
        resident_name="王秀英",
        resident_phone="13812345678",
        status="registered",
        created_at=datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
    )


def test_the_title_is_shown_without_the_residents_phone_or_name():
    shown = view(FakeAssignmentUnitOfWork(), case("王秀英家门口路灯坏了 call 13812345678"))
    assert shown["title"] == "王**家门口路灯坏了 call 138****5678"
    assert "13812345678" not in str(shown) and "王秀英" not in str(shown)


def test_a_title_without_either_is_shown_as_written():
    assert view(FakeAssignmentUnitOfWork(), case("路灯坏了"))["title"] == "路灯坏了"


def test_the_answer_a_member_wrote_is_shown_without_the_residents_name_or_phone():
    answered = case("路灯坏了")
    answered.answer = "已联系王秀英（13812345678），物业本周内修复"
    shown = view(FakeAssignmentUnitOfWork(), answered)
    assert shown["answer"] == "已联系王**（138****5678），物业本周内修复"
