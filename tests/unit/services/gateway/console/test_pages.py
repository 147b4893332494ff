"""The web console without a browser: accounts and sessions, the CSRF check, the catalogues, the
task forms' data, and every page rendered in both languages from answers shaped like the API's."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import tokens
from services.gateway.console import accounts, api, decisions, i18n, leader, member, member_items, session, unit
from services.gateway.console.designer import by_process, problem_marks, read_uploads
from services.gateway.console import staff
from services.gateway.console.staff import REPORTS
from services.gateway.console.views import Visit
from services.gateway.console.cases import FORMS as CASE_FORMS, choices as case_choices
from services.gateway.console.work import FORMS, task_data
from services.gateway.models import Base
from shared import config
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import Forbidden, InvalidInput, Unauthenticated
from shared.rulebook import current_rulebook
from shared.workflow import diff as diagram_diff


@pytest.fixture
def db(tmp_path):
    url = f"sqlite:///{tmp_path}/gateway.db"
    Base.metadata.create_all(get_engine(url))
    with session_factory(url)() as s:
        yield s
    dispose_all()


def test_a_password_is_kept_only_as_an_argon2_hash_and_a_wrong_one_is_refused(db):
    accounts.set_password(db, "member.li", "correct horse", ["member"])
    row = accounts.check(db, "member.li", "correct horse")
    assert row.password_hash.startswith("$argon2id$") and "correct horse" not in row.password_hash
    for user, password in (("member.li", "wrong horse"), ("nobody", "correct horse")):
        with pytest.raises(Unauthenticated, match="user id or the password is wrong"):
            accounts.check(db, user, password)
    with pytest.raises(InvalidInput, match="at least 8"):
        accounts.set_password(db, "member.li", "short", ["member"])
    with pytest.raises(InvalidInput, match="names its unit"):
        accounts.set_password(db, "handler.zhao", "long enough", ["unit"])


def test_an_unknown_user_id_costs_a_password_check_as_a_known_one_does(db, monkeypatch):
    """A refusal that came back at once for an unknown user id would tell, by its time alone, which
    accounts exist: the password is checked against a hash either way."""
    accounts.set_password(db, "member.li", "correct horse", ["member"])
    checked = []

    class Recording:
        def __init__(self, hasher):
            self.hasher = hasher

        def verify(self, hashed, password):
            checked.append(hashed)
            return self.hasher.verify(hashed, password)

        def __getattr__(self, name):
            return getattr(self.hasher, name)

    monkeypatch.setattr(accounts, "_hasher", Recording(accounts._hasher))
    for user in ("member.li", "nobody"):
        with pytest.raises(Unauthenticated):
            accounts.check(db, user, "wrong horse")
    assert len(checked) == 2 and all(h.startswith("$argon2id$") for h in checked)


@pytest.mark.parametrize(
    "given, went",
    [
        ("/console/tasks?page=2", "/console/tasks?page=2"),
        ("/console\r\nX-Injected: 1", "/console"),
        ("/console/\x00", "/console"),
        ("//evil.example/console", "/console"),
        ("https://evil.example/console", "/console"),
        (None, "/console"),
    ],
)
def test_after_login_only_a_console_path_a_header_can_carry_is_followed(given, went):
    from services.gateway.console.auth import _safe_next

    given = given.encode().decode("unicode_escape") if given else given
    assert _safe_next(given) == went


def test_a_console_session_is_an_api_token_that_logout_revokes(db):
    accounts.set_password(db, "handler.zhao", "long enough", ["unit"], "transport")
    token = session.start(db, config.load({}), accounts.check(db, "handler.zhao", "long enough"))
    assert tokens.principal_for(db, f"Bearer {token}") == {
        "user": "handler.zhao",
        "roles": ["unit"],
        "unit": "transport",
    }
    session.end(db, token)
    with pytest.raises(Unauthenticated):
        tokens.principal_for(db, f"Bearer {token}")
    session.end(db, "not-a-token")  # a stale cookie ends nothing and raises nothing


def _post(form):
    return Request(EnvironBuilder(method="POST", path="/console/proposals", data=form).get_environ())


def test_a_form_must_carry_its_sessions_csrf_token():
    session.check_csrf(_post({"csrf": session.csrf_for("token-a")}), "token-a")
    for form in ({}, {"csrf": session.csrf_for("token-b")}, {"csrf": ""}):
        with pytest.raises(Forbidden):
            session.check_csrf(_post(form), "token-a")
    with pytest.raises(Forbidden):
        session.check_csrf(_post({"csrf": session.csrf_for("")}), None)


def test_both_catalogues_have_the_same_keys_and_chinese_is_the_default():
    assert set(i18n.catalogue("zh-CN")) == set(i18n.catalogue("en"))
    request = Request(EnvironBuilder(path="/console").get_environ())
    assert i18n.choose(request) == "zh-CN"
    assert i18n.translator("en")("home.welcome", user="li") == "Welcome, li"
    assert i18n.translator("en")("no.such.key") == "no.such.key"


def test_task_forms_become_the_task_data_the_diagram_checks():
    from werkzeug.datastructures import MultiDict

    assert task_data("pre_review", MultiDict({"eligible": "yes", "format_ok": "yes"})) == {
        "eligible": True,
        "content_ok": False,
        "format_ok": True,
        "pre_review_notes": "",
    }
    assert task_data("assign", MultiDict({"mode": "several", "units": "transport, education、health"}))["units"] == [
        "transport",
        "education",
        "health",
    ]
    lead = task_data(
        "assign", MultiDict({"mode": "lead_co", "units": "x", "lead": "transport", "co_units": "education"})
    )
    assert lead == {"mode": "lead_co", "units": [], "lead": "transport", "co_units": ["education"]}
    assert (
        task_data("filing_decision", MultiDict({"decision": "not_filed", "reason_code": "academic_debate"}))[
            "reason_code"
        ]
        == "academic_debate"
    )


def test_a_reply_recategorised_to_b_at_review_carries_the_milestones_typed_and_the_form_checks_them():
    from werkzeug.datastructures import MultiDict

    from shared.forms import ReviewReplyForm

    kept = task_data("review_reply", MultiDict({"action": "accept", "override_category": ""}))
    assert kept == {"action": "accept", "comment": ""}
    later = (date.today() + timedelta(days=90)).isoformat()
    to_b = task_data(
        "review_reply",
        MultiDict({"action": "accept", "override_category": "B", "override_milestones": f"{later} 完成改造\n\n"}),
    )
    assert to_b["override_milestones"] == [{"due": later, "what": "完成改造"}]
    assert ReviewReplyForm().load(to_b)["override_milestones"][0]["milestone"] == 1
    # To B without a milestone: the form's schema refuses it, naming the field.
    bare = task_data("review_reply", MultiDict({"action": "accept", "override_category": "B"}))
    with pytest.raises(ValidationError) as refused:
        ReviewReplyForm().load(bare)
    assert "override_milestones" in refused.value.messages


def test_the_staff_task_forms_become_the_task_data_their_diagram_schemas_check():
    from werkzeug.datastructures import MultiDict

    from shared.forms import ApproveExtensionForm, AssignForm, DecideAppealForm, FilingDecisionForm

    kept = {"keep_mode": "lead_co", "keep_units": "", "keep_lead": "transport", "keep_co_units": "education"}
    keep = task_data("reassign", MultiDict({"choice": "keep", "units": "health", **kept}))
    assert keep == {"mode": "lead_co", "units": [], "lead": "transport", "co_units": ["education"]}
    move = task_data("reassign", MultiDict({"choice": "move", "mode": "single", "units": "transport", **kept}))
    assert move == {"mode": "single", "units": ["transport"]}
    for data in (keep, move):
        AssignForm().load(data)
    assert staff.kept_assignment(
        [
            {"unit": "education", "role": "single", "status": "cancelled"},
            {"unit": "transport", "role": "several", "status": "signed"},
            {"unit": "health", "role": "several", "status": "assigned"},
        ]
    ) == {"mode": "several", "units": "transport, health", "lead": "", "co_units": ""}

    as_asked = task_data(
        "approve_extension", MultiDict({"decision": "approve", "until": " ", "extension_comment": "同意"})
    )
    assert as_asked == {"approved": True, "until": None, "extension_comment": "同意"}
    own_date = task_data("approve_extension", MultiDict({"decision": "approve", "until": "2027-03-31"}))
    assert ApproveExtensionForm().load(own_date)["until"] == "2027-03-31"
    assert task_data("approve_extension", MultiDict({"decision": "refuse"}))["approved"] is False
    # No choice made: nothing is assumed, the form schema refuses it by name.
    undecided = task_data("approve_extension", MultiDict({"extension_comment": "?"}))
    with pytest.raises(Exception, match="approved"):
        ApproveExtensionForm().load(undecided)

    appeal = task_data("decide_appeal", MultiDict({"appeal_decision": "rehandle", "appeal_reason": "未回应调查"}))
    assert DecideAppealForm().load(appeal) == {"appeal_decision": "rehandle", "appeal_reason": "未回应调查"}
    with pytest.raises(Exception, match="appeal_reason"):
        DecideAppealForm().load(task_data("decide_appeal", MultiDict({"appeal_decision": "upheld"})))

    # The button under a near-duplicate merges into it, whatever the filing form's select says.
    merged = task_data("filing_decision", MultiDict({"merge_with": "2026-3"}))
    assert (merged["decision"], merged["merge_into"]) == ("merged", "2026-3")
    FilingDecisionForm().load(merged)


def test_the_overdue_board_explains_each_row_by_its_deadline_and_keeps_rows_of_any_kind():
    board = OVERDUE_BOARD[0]["overdue"]
    assert board[0]["deadline"]["duration"] == {"amount": 3, "unit": "months"}
    assert board[1]["kind"] == "milestone" and board[1]["deadline"] is None
    given = staff.overdue_board(
        {"units": [{"unit": "x", "count": 1, "overdue": [{"number": "1", "provenance": {"explanation": "own"}}]}]}
    )
    assert given[0]["overdue"][0]["deadline"] == {"explanation": "own"}
    request = Request(EnvironBuilder(path="/console/overdue").get_environ())
    html = (
        Visit(None, request, "token", {"user": "x", "roles": ["staff"]}, "zh-CN")
        .render("staff_overdue.html", as_of=None, units=OVERDUE_BOARD)
        .get_data(as_text=True)
    )
    assert "办理节点" in html and "a_new_kind" in html and "完成改造" in html
    assert html.count('class="overdue-row"') == 3 and "3 个月" in html


def test_the_overdue_board_pages_on_and_keeps_the_count_of_a_unit_with_no_rows_on_this_page():
    request = Request(EnvironBuilder(path="/console/overdue", query_string="page=2").get_environ())
    units = OVERDUE_BOARD + [{"unit": "education", "count": 4, "overdue": []}]
    html = (
        Visit(None, request, "token", {"user": "x", "roles": ["staff"]}, "zh-CN")
        .render("staff_overdue.html", as_of=None, units=units, page=2, pages=3, total=160)
        .get_data(as_text=True)
    )
    assert 'href="?page=3" rel="next"' in html and 'href="?page=1" rel="prev"' in html
    assert "第 2 页，共 3 页" in html and "共 160 项超期期限" in html
    assert "4 件超期" in html and 'id="unit-education"' not in html  # counted, no rows here
    last = (
        Visit(None, request, "token", {"user": "x", "roles": ["staff"]}, "zh-CN")
        .render("staff_overdue.html", as_of=None, units=units, page=3, pages=3, total=160)
        .get_data(as_text=True)
    )
    assert 'rel="next"' not in last and 'rel="prev"' in last


PROPOSAL = {
    "number": "2026-7",
    "title": "学校周边过街设施",
    "status": "assigned",
    "initiator": "member.li",
    "situation": "情况",
    "analysis": "分析",
    "suggestions": "建议",
    "cosign_due": "2026-11-30T08:00:00+00:00",
    "cosigners": [{"user": "member.zhou", "order": 1, "status": "invited", "confirmed_at": None}],
    "filing": None,
}
DEADLINE = {
    "rule": "reply_deadline",
    "unit": "transport",
    "due": "2027-03-01",
    "provisional": True,
    "start": {"event": "signed", "date": "2026-12-01"},
    "duration": {"amount": 3, "unit": "months"},
    "rulebook": {"version": "2026.3"},
    "explanation": "3 months from signing",
}
VERSION = {
    "id": 2,
    "process_id": "smoke",
    "name": "Smoke test",
    "version": "ab" * 32,
    "number": 2,
    "status": "active",
    "deployed_at": "2026-11-29T10:00:00+00:00",
    "deployed_by": "designer.lin",
    "activated_at": "2026-11-29T10:00:00+00:00",
    "activated_by": "designer.lin",
    "live_instances": 3,
}
DIFF = {
    "process_id": "smoke",
    "from": {"version": "cd" * 32, "number": 1},
    "to": {"version": "ab" * 32, "number": 2},
    "added": [{"id": "late", "type": "scriptTask", "label": "Late"}],
    "removed": [{"id": "overdue", "type": "scriptTask", "label": "Overdue"}],
    "changed": [{"id": "f_1", "type": "sequenceFlow", "label": "", "changes": ["to: 'overdue' → 'late'"]}],
}
PROBLEMS = [
    {
        "file": "bad.bpmn",
        "element_id": "record",
        "element_type": "bpmn:serviceTask",
        "label": "Record",
        "message": "operation 'nowhere' is not declared",
        "hint": "",
        "line": 10,
        "code": "operation",
    },
    {
        "file": "bad.bpmn",
        "element_id": "decide",
        "element_type": "bpmn:exclusiveGateway",
        "label": "OK?",
        "message": "flow 'f_no' has no condition and is not the default",
        "hint": "add one",
        "line": 14,
        "code": "flow",
    },
    {
        "file": "bad.bpmn",
        "element_id": "",
        "element_type": "",
        "label": "",
        "message": "no DI",
        "hint": "",
        "line": None,
        "code": "xml",
    },
]
DEAD_LETTER = {
    "id": "ab12",
    "reason": "not JSON",
    "reason_kind": "undecodable",
    "attempts": 1,
    "original_exchange": "ztc.jobs",
    "original_routing_key": "intake.record_submission",
    "original_queue": "ztc.jobs.intake",
    "dead_at": "2026-11-29T10:00:00+00:00",
    "size": 12,
    "content_type": "application/json",
}
INCIDENT = {
    "id": 5,
    "instance_id": "i-1",
    "task": "assign",
    "operation": "assignment.assign",
    "error": "no unit",
    "status": "open",
    "created_at": "2026-11-29T10:00:00+00:00",
}
INSTANCE = {
    "id": "i-1",
    "process_id": "proposal",
    "version": "abc123",
    "business_key": "2026-7",
    "status": "incident",
    "waiting_tasks": ["assign"],
    "incidents": [INCIDENT],
    "updated_at": "2026-11-29T10:00:00+00:00",
}
PUBLIC_PROPOSAL = {
    "number": "2026-7",
    "title": "t",
    "year": 2026,
    "situation": "s",
    "analysis": "a",
    "suggestions": "g",
    "proposers": [{"name": "李*", "named": False}],
    "units": [{"code": "transport", "name": "交通局"}],
    "reply_category": "B",
    "reply_summary": "r",
    "published_at": "2026-11-29T10:00:00+00:00",
}
PUBLIC_CASE = {
    "reference": "r" * 24,
    "number": "2026-W-1",
    "title": "路灯",
    "venue": "cp_jiefang",
    "venue_name": "解放路联系点",
    "town": "解放路街道",
    "status": "committed",
    "member_assigned": True,
    "answer": "a",
    "converted_kind": "opinion",
    "converted_number": "2026-S-2",
    "closed_at": None,
    "return_visit_done": False,
    "commitments": [{"unit": "交通局", "actions": "修灯", "done_by": "2026-12-20"}],
}
ASSIGNED = {"id": 8, "number": "2026-7", "unit": "education", "role": "single", "status": "assigned"}
OBJECTED = ASSIGNED | {"objection": {"reason": "属交通部门职责", "at": "2026-11-29T09:00:00+00:00", "decision": None}}
TASK_CONTEXT = {
    "t1": {
        "duplicates": [
            {"number": "2026-3", "title": "学校门前信号灯", "score": 0.72, "proposal": PROPOSAL | {"number": "2026-3"}}
        ],
        "own": PROPOSAL,
    },
    "t5": {"request": {"unit": "transport", "months": 2, "until": None, "reason": "等待预算批复"}},
    "t6": {"objections": [OBJECTED], "keep": staff.kept_assignment([OBJECTED])},
    "t7": {
        "round": {
            "round": 2,
            "appeal": {"appellant": "member.li", "reason": "信号灯仍未设置", "lodged_at": "2026-11-29T09:00:00"},
        }
    },
}
OVERDUE_BOARD = staff.overdue_board(
    {
        "units": [
            {
                "unit": "transport",
                "count": 3,
                "overdue": [
                    {
                        "number": "2026-7",
                        "deadline_id": 4,
                        "rule": "reply_deadline",
                        "due": "2026-11-20",
                        "days_overdue": 10,
                        "provenance": DEADLINE,
                    },
                    {
                        "number": "2026-8",
                        "deadline_id": 9,
                        "rule": "followup_milestone",
                        "kind": "milestone",
                        "milestone": {"number": 1, "what": "完成改造"},
                        "due": "2026-11-25",
                        "days_overdue": 5,
                        "escalated_at": "2026-11-26T01:00:00+00:00",
                    },
                    {
                        "number": "2026-9",
                        "rule": "a_new_rule",
                        "kind": "a_new_kind",
                        "due": "2026-11-28",
                        "days_overdue": 2,
                    },
                ],
            }
        ]
    },
)
YEAR_FIGURES = {
    "year": 2026,
    "prepared_by": "staff.wang",
    "received": 12,
    "filed": 9,
    "merged": 1,
    "not_filed": 2,
    "undecided": 0,
    "answered": 7,
    "not_filed_reasons": [{"code": "academic_debate", "label": "学术讨论", "count": 2}],
    "categories": [{"code": "A", "label": "已解决", "count": 5}, {"code": "B", "label": "列入计划", "count": 2}],
    "lead_units": [{"unit": "transport", "count": 4}],
    "areas": {
        "areas": [
            {
                "code": "economy",
                "label": "经济",
                "en": "Economy",
                "proposals": 3,
                "filed": 2,
                "opinions": 1,
                "adopted": 1,
            }
        ],
        "unclassified": {
            "label": "未分类",
            "en": "Not classified",
            "proposals": 9,
            "filed": 7,
            "opinions": 0,
            "adopted": 0,
        },
    },
    "proposals": [
        {
            "number": "2026-7",
            "title": "学校周边过街设施",
            "proposers": ["李*"],
            "units": ["transport"],
            "category": "A",
            "status": "published",
        }
    ],
    "personal_data": "masked",
}
ASSESSMENT = {
    "year": 2026,
    "units": [
        {
            "unit": "transport",
            "proposals_handled": 4,
            "average_handling_score": 91.5,
            "proposals_assisted": 2,
            "average_co_unit_score": 27.5,
            "on_time_rate": 0.8,
            "overdue_not_done": 1,
            "satisfaction": {"ratings": 6},
        },
        {  # only ever a co-unit: no handling figures of its own
            "unit": "education",
            "proposals_handled": 0,
            "average_handling_score": None,
            "proposals_assisted": 3,
            "average_co_unit_score": 31.0,
            "on_time_rate": 0.67,
            "satisfaction": {"ratings": 0},
        },
    ],
}
ADOPTED = {
    "year": 2026,
    "adopted": 1,
    "instructed": 1,
    "items": [
        {
            "number": "2026-S-2",
            "title": "菜市场改造",
            "submitter": "member.li",
            "adopted_by": [{"channel": "city", "channel_name": "市委", "channel_name_en": "City", "issue": "2026-3"}],
            "instructions": [{"level": "city", "leader": "leader.chen", "text": "请研究"}],
        }
    ],
}
B_ASSIGNMENT = {
    "id": 3,
    "number": "2026-7",
    "unit": "transport",
    "role": "single",
    "round": 1,
    "status": "replied",
    "signed_at": "2026-11-29",
    "objection": None,
    "replies": [
        {
            "round": 1,
            "status": "submitted",
            "category": "B",
            "text": "已列入计划",
            "milestones": [
                {"milestone": 1, "what": "设计", "due": "2027-01-10", "done_at": "2026-12-01", "note": "已完成"},
                {"milestone": 2, "what": "施工", "due": "2027-06-10", "done_at": None, "note": None},
            ],
        }
    ],
    "extension_requests": [
        {
            "id": 1,
            "months": 2,
            "until": None,
            "reason": "等待预算",
            "status": "approved",
            "decision": {"outcome": "approved", "until": "2027-05-01", "by": "staff.wang", "at": "2026-11-30"},
        }
    ],
    "events": [
        {"at": "2026-11-29T10:00:00", "actor": "handler.zhao", "action": "signed", "data": None},
        {
            "at": "2026-11-30T10:00:00",
            "actor": "staff.wang",
            "action": "extension_decided",
            "data": {
                "request_id": 1,
                "outcome": "approved",
                "decided_by": "staff.wang",
                "decided_at": "2026-11-30T10:00:00",
                "until": "2027-05-01",
            },
        },
        {
            "at": "2026-12-01T10:00:00",
            "actor": "system",
            "action": "reply_accepted",
            "data": {"round": 1, "category": "B"},
        },
        {"at": "2026-12-01T10:00:00", "actor": "system", "action": "followup_expected", "data": {"round": 1}},
    ],
    "contacts": [
        {
            "id": 1,
            "kind": "face_to_face",
            "face_to_face": True,
            "held_on": "2026-11-28",
            "participants": "王处长与李委员",
            "note": "现场查看",
        },
        {
            "id": 2,
            "kind": "phone",
            "face_to_face": False,
            "held_on": "2026-11-29",
            "participants": "王处长",
            "note": None,
        },
    ],
}
# An assignment whose proposal's handling an operator cancelled while it was objected to, with an
# extension request waiting: both closed ``cancelled``, then the assignment itself.
CANCELLATION_NOTE = "重复提交，撤销办理"
CANCELLED_ASSIGNMENT = {
    "id": 9,
    "number": "2026-7",
    "unit": "transport",
    "role": "single",
    "round": 1,
    "status": "cancelled",
    "signed_at": "2026-11-29T02:00:00+00:00",
    "cancelled_at": "2026-12-02T06:30:00+00:00",
    "objection": {"reason": "不归我们", "at": "2026-11-30T02:00:00+00:00"},
    "replies": [{"round": 1, "status": "draft", "category": "A", "text": "稿", "milestones": []}],
    "extension_requests": [
        {"id": 2, "months": 2, "until": None, "reason": "等待预算", "status": "cancelled", "decision": None}
    ],
    "events": [
        {"at": "2026-11-29T02:00:00+00:00", "actor": "handler.zhao", "action": "signed", "data": None},
        {
            "at": "2026-12-02T06:30:00+00:00",
            "actor": "ops.sun",
            "action": "objection_decided",
            "data": {"outcome": "cancelled", "decided_by": "ops.sun", "decided_at": "2026-12-02T06:30:00+00:00"}
            | {"assigned_to": [], "comment": CANCELLATION_NOTE},
        },
        {
            "at": "2026-12-02T06:30:00+00:00",
            "actor": "ops.sun",
            "action": "extension_decided",
            "data": {"request_id": 2, "outcome": "cancelled", "decided_by": "ops.sun", "comment": CANCELLATION_NOTE}
            | {"decided_at": "2026-12-02T06:30:00+00:00", "event_id": "e-1"},
        },
        {
            "at": "2026-12-02T06:30:00+00:00",
            "actor": "ops.sun",
            "action": "cancelled",
            "data": {"reason": "process_cancelled", "note": CANCELLATION_NOTE, "by": "ops.sun"}
            | {"previous_status": "objected", "instance_id": "i-1", "event_id": "e-1"},
        },
    ],
    "contacts": [],
}
CANCELLED_DEADLINE = DEADLINE | {
    "status": "cancelled",
    "live": False,
    "closed_at": "2026-12-02T06:30:01+00:00",
    "changes": [
        {
            "kind": "cancellation",
            "at": "2026-12-02T06:30:01+00:00",
            "by": "ops.sun",
            "reason": f"process proposal instance i-1 cancelled: {CANCELLATION_NOTE}",
            "old_due": "2027-03-01T00:00:00+00:00",
            "new_due": None,
        }
    ],
}
CANCELLED_PROPOSAL = PROPOSAL | {"status": "cancelled", "cosigners": [], "thread": "2026-7"}
CANCELLED_INSTANCE = INSTANCE | {"status": "cancelled", "waiting_tasks": [], "incidents": []}
OPINION = {
    "number": "2026-S-2",
    "thread": "2026-S-2",
    "title": "菜市场改造",
    "situation": "情况",
    "analysis": "分析",
    "suggestion": "建议",
    "urgent": True,
    "submitter": "member.li",
    "status": "forwarded",
    "status_zh": "已转办",
    "not_adopted_reason": None,
    "converted_to": None,
    "submitted_at": "2026-11-02T01:00:00+00:00",
    "reports": [
        {
            "channel": "city_government",
            "issue": "市政府-2026-3",
            "reported_at": "2026-11-03T02:00:00+00:00",
            "adoption": "adopted",
            "adoption_note": "",
            "adoption_at": "2026-11-10T02:00:00+00:00",
        },
        {
            "channel": "provincial_committee",
            "issue": "省政协-2026-1",
            "reported_at": "2026-11-03T02:00:00+00:00",
            "adoption": None,
            "adoption_note": None,
            "adoption_at": None,
        },
    ],
    "instructions": [
        {
            "channel": "city_government",
            "level": "city",
            "leader": "某副市长",
            "text": "请研究",
            "recorded_at": "2026-11-12T02:00:00+00:00",
        }
    ],
    "forwards": [
        {"unit": "transport", "status": "answered", "answer": "已办", "answered_at": "2026-11-20T02:00:00+00:00"}
    ],
    "history": [
        {"at": "2026-11-02T01:00:00+00:00", "actor": "member.li", "action": "submitted", "data": {"urgent": True}},
        {
            "at": "2026-11-03T02:00:00+00:00",
            "actor": "leader.chen",
            "action": "sent",
            "data": {
                "reports": [],
                "adoption_wait": {
                    "rule": "adoption_wait",
                    "rulebook_version": "3",
                    "start": "2026-11-03T02:00:00+00:00",
                    "amount": 30,
                    "unit": "days",
                    "due": "2026-12-03",
                },
            },
        },
        {
            "at": "2026-11-13T02:00:00+00:00",
            "actor": "staff.wang",
            "action": "forwarded",
            "data": {
                "units": ["transport"],
                "answer_due": {
                    "rule": "forward_answer",
                    "rulebook_version": "3",
                    "start": "2026-11-13T02:00:00+00:00",
                    "amount": 1,
                    "unit": "months",
                    "due": "2026-12-13",
                },
            },
        },
        {"at": "2026-11-14T02:00:00+00:00", "actor": "staff.wang", "action": "something_new", "data": None},
    ],
}
POINTS_FILE = {
    "member": {"user": "member.li", "name": "李明华", "sector": "中国民主同盟", "terms": ["14"]},
    "period": {"key": "term 14", "kind": "term", "starts": "2023-01-01", "ends": "2027-12-31"},
    "rulebook": {"term": "14", "version": "2", "hash": "sha256:x"},
    "total": 3,
    "view100": 3.0,
    "grade": {"code": "basic", "zh": "基本称职"},
    "by_activity": {"opinion_submitted": 5, "correction": -2},
    "by_period": {"2026-Q4": 3},
    "entries": [
        {
            "id": 1,
            "kind": "earned",
            "activity": "opinion_submitted",
            "activity_zh": "报送社情民意信息",
            "points": 5,
            "counts_on": "2026-11-02",
            "period": "2026-Q4",
            "role": "author",
            "event": {
                "event_id": "e1",
                "name": "opinion.submitted",
                "subject": "2026-S-2",
                "thread": "2026-S-2",
                "occurred_at": "2026-11-02T01:00:00+00:00",
            },
            "rule": {"activity": "opinion_submitted", "points": 5, "unit": "item", "cap": 50},
            "rulebook": {"term": "14", "version": "2", "hash": "sha256:x"},
            "reason": "",
        },
        {
            "id": 2,
            "kind": "correction",
            "activity": None,
            "activity_zh": None,
            "points": -2,
            "counts_on": "2026-11-20",
            "period": "2026-Q4",
            "role": None,
            "event": None,
            "rule": None,
            "rulebook": {"term": "14", "version": "2", "hash": "sha256:x"},
            "reason": "重复计分",
        },
    ],
}
# A task asked for again: supervision refused the extension staff approved (past the cap).
EXTENSION_REFUSED = {
    "code": "extension_refused",
    "message": "2027-09-30 is past the latest reply date the rulebook allows, 2027-08-31",
    "operation": "supervision.extend",
}

PAGES = {
    "login.html": {"user": "", "error": "wrong", "login_csrf": "x", "next": "/console"},
    "member_opinions.html": {
        "items": [OPINION, OPINION | {"number": "2026-S-3", "status": "saved"}],
        "page": 1,
        "pages": 2,
        "total": 52,
    },
    "member_opinions_none.html": {"items": []},
    "member_opinion_new.html": {
        "draft": {"title": "菜市场", "situation": "", "analysis": "a", "suggestion": "b", "urgent": True},
        "errors": {"situation": ["required"], "_": ["too long"]},
    },
    "member_opinion.html": {
        "item": OPINION,
        "stages": member_items.STAGES,
        "reached": 4,
        "deadlines": member_items.deadlines_of(OPINION),
        "labels": leader.opinion_labels(),
        "mine": True,
    },
    "member_opinion_co.html": {  # another member's adopted item, as the API shows it to them
        "item": {
            "number": "2026-S-4",
            "title": "某",
            "status": "adopted",
            "status_zh": "已采用",
            "submitter": "李*",
            "adopted_by": ["city_government"],
            "instruction_levels": ["city"],
        },
        "stages": member_items.STAGES,
        "reached": -1,
        "deadlines": [],
        "labels": leader.opinion_labels(),
        "mine": False,
    },
    "member_performance.html": {
        "file": POINTS_FILE,
        "period": "",
        "periods": member_items.by_period(POINTS_FILE["entries"]),
    },
    "member_performance_none.html": {"file": POINTS_FILE | {"entries": []}, "period": "2026-Q1", "periods": []},
    "home.html": {"unread": 2},
    "proposals.html": {"proposals": [PROPOSAL], "invited": [PROPOSAL]},
    "proposal_new.html": {
        "draft": {"kind": "plenary", "publish_consent": False, "cosigners": ["member.zhou"]},
        "errors": {"title": ["required"]},
        "members": [{"user": "member.zhou", "name": "周雅琴", "sector": "教育界"}],
    },
    "proposal.html": {
        "p": PROPOSAL,
        "stages": ("cosigning", "submitted", "assigned"),
        "reached": 2,
        "invited": True,
        "proposer": True,
        "deadlines": [DEADLINE],
        "reply": {"rounds": [{"replies": [{"unit": "transport", "category": "A", "text": "已办"}]}]},
        "ratings": {
            "rounds": [{"ratings": [{"rater": "member.li", "handling": "satisfied", "result": "unsatisfied"}]}]
        },
    },
    "notifications.html": {
        "notes": [
            {
                "id": 1,
                "title": "已交办",
                "text": "t",
                "subject": "2026-7",
                "created_at": "2026-11-29T10:00:00",
                "read_at": None,
            }
        ]
    },
    "tasks.html": {
        "tasks": [
            {"task": name, "task_id": f"t{i}", "business_key": "2026-7"}
            | ({"reason": EXTENSION_REFUSED} if name == "approve_extension" else {})
            for i, name in enumerate(
                ("pre_review", "filing_decision", "assign", "review_reply", "grade_quality", "approve_extension")
                + ("reassign", "decide_appeal")
            )
        ]
        + [
            {"task": schema.split(".")[1], "task_id": f"c{i}", "business_key": "WXS-2026-0007", "form_schema": schema}
            for i, schema in enumerate(CASE_FORMS)
        ],
        "forms": FORMS,
        "case_forms": CASE_FORMS,
        "case_choices": case_choices(),
        "reasons": current_rulebook("proposal").reasons(),
        "categories": current_rulebook("proposal").reply_categories(),
        "grades": current_rulebook("proposal").quality_grades(),
        "standards": current_rulebook("proposal").quality_standards(),
        "areas": current_rulebook("proposal").areas(),
        "suggestions": {"2026-7": [{"unit": "transport", "name": "交通运输局", "reasons": ["keyword 公交"]}]},
        "task_context": TASK_CONTEXT,
    },
    "staff_overdue.html": {"as_of": "2026-11-30T04:00:00+00:00", "units": OVERDUE_BOARD},
    "staff_overdue_none.html": {"as_of": "2026-11-30T04:00:00+00:00", "units": []},
    "staff_reports.html": {"year": 2026, "reports": REPORTS},
    "staff_report_notice.html": {"report": YEAR_FIGURES, "year": 2026, "kind": "notice"},
    "staff_report_bulletin.html": {
        "report": YEAR_FIGURES | {"assessment": ASSESSMENT},
        "year": 2026,
        "kind": "bulletin",
    },
    "staff_report_opinions.html": {"report": ADOPTED, "year": 2026, "kind": "opinions"},
    "assignment_co.html": {
        "a": {
            "id": 4,
            "number": "2026-7",
            "unit": "education",
            "role": "co",
            "status": "signed",
            "signed_at": "2026-11-29",
            "replies": [],
        },
        "deadlines": [],
        "categories": [],
    },
    "assignments.html": {"rows": [{"id": 3, "number": "2026-7", "role": "lead", "status": "assigned"}]},
    "assignment.html": {
        "a": {
            "id": 3,
            "number": "2026-7",
            "unit": "transport",
            "role": "single",
            "status": "signed",
            "signed_at": "2026-11-29",
            "replies": [{"status": "draft", "category": "A", "text": "稿"}],
        },
        "deadlines": [DEADLINE],
        "categories": current_rulebook("proposal").reply_categories(),
    },
    "assignment_followup.html": {  # an accepted category B reply, a refused extension form, decisions
        "a": B_ASSIGNMENT,
        "deadlines": [],
        "categories": current_rulebook("proposal").reply_categories(),
        "decisions": decisions.of(B_ASSIGNMENT),
        "offers": dict(unit.offers(B_ASSIGNMENT), extension=True, object=True),
        "contact_kinds": current_rulebook("proposal").contact_kinds(),
        "typed": {"action": "extension", "by": "until", "until": "2020-01-01", "reason": "等待预算"},
        "refused": api.Answer(400, {"message": "bad", "details": {"until": ["a date after today"]}}),
    },
    "leader_key_proposals.html": {
        "year": 2026,
        "view": {
            "year": 2026,
            "key_proposals": [{"number": "2026-7", "supervising_leader": "leader.chen"}],
            "lists": [],
            "guidance": {
                "share_min": 0.05,
                "share_max": 0.1,
                "filed": 10,
                "key_proposals": 1,
                "share": 0.1,
                "within": True,
                "warning": None,
            },
        },
        "titles": {"2026-7": "学校周边过街设施"},
    },
    "leader_supervision.html": {
        "log": {
            "number": "2026-7",
            "supervising_leader": "leader.chen",
            "entries": [
                {"id": 1, "kind": "visit", "text": "实地察看", "leader": "leader.chen", "at": "2026-11-29T10:00"}
            ],
        },
        "kinds": ("visit", "meeting", "instruction", "note"),
        "typed": {"kind": "note", "text": ""},
        "refused": api.Answer(400, {"message": "bad", "details": {"text": ["blank"]}}),
    },
    "leader_opinions.html": {
        "waiting": [
            {
                "number": "2026-S-1",
                "title": "t",
                "channel": "city_government",
                "issue": "市政府-2026-001",
                "adopted_at": "",
            }
        ],
        "labels": leader.opinion_labels(),
        "typed": {"number": "2026-S-1", "channel": "city_government", "level": "city", "leader": "", "text": "x"},
        "refused": api.Answer(400, {"message": "bad", "details": {"leader": ["blank"]}}),
        "page": 2,
        "pages": 3,
        "total": 41,
    },
    "published.html": {
        "page": {
            "items": [
                {
                    "number": "2026-7",
                    "title": "t",
                    "units": [{"code": "transport", "name": "市交通运输局"}],
                    "reply_category": "A",
                    "reply_summary": "s",
                }
            ],
            "page": 2,
            "per_page": 20,
            "total": 41,
        },
        "pages": 3,
    },
    "designs.html": {
        "processes": [
            {
                "process_id": "smoke",
                "name": "Smoke test",
                "versions": [VERSION, dict(VERSION, number=1, status="inactive", activated_at=None, activated_by=None)],
            }
        ]
    },
    "design_version.html": {
        "process_id": "smoke",
        "shown": {"version": "ab" * 32, "number": 2, "file": "smoke.bpmn"},
        "row": VERSION,
        "previous": 1,
        "deployed": "deployed",
    },
    "design_diff.html": {"process_id": "smoke", "diff": DIFF, "marks": diagram_diff.markers(DIFF)},
    "design_coverage.html": {
        "process_id": "smoke",
        "marks": {"markers": {"start": ["covered"]}},
        "cov": {
            "process_id": "smoke",
            "number": 2,
            "diagram": "smoke.bpmn",
            "scenario_file": "smoke.scenarios.yaml",
            "error": None,
            "results": [
                {"scenario": "approved", "passed": True},
                {"scenario": "late", "passed": False, "message": "waits at review"},
            ],
            "elements": {
                "total": 2,
                "covered": 1,
                "percent": 50.0,
                "missed": [{"id": "end", "label": "Done", "type": "endEvent"}],
            },
            "flows": {
                "total": 1,
                "covered": 0,
                "percent": 0.0,
                "missed": [{"id": "f", "label": "", "source": "start", "target": "end"}],
            },
            "reached": ["start"],
            "taken": [],
        },
    },
    "design_coverage_none.html": {
        "process_id": "trial",
        "marks": {},
        "cov": {
            "process_id": "trial",
            "number": 1,
            "diagram": "trial.bpmn",
            "scenario_file": None,
            "error": None,
            "results": [],
        },
    },
    "deploy.html": {
        "limit": 524288,
        "problems": PROBLEMS,
        "general": [PROBLEMS[2]],
        "diagrams": [{"file": "bad.bpmn", "xml": "<x/>", "marks": problem_marks(PROBLEMS, "bad.bpmn")}],
        "upload_errors": [("deploy.too_large", "big.bpmn")],
    },
    "public_home.html": {"year": 2026},
    "public_proposals.html": {
        "page": {"items": [PUBLIC_PROPOSAL], "page": 1, "per_page": 20, "total": 21},
        "pages": 2,
        "year": "2026",
    },
    "public_proposal.html": {"p": PUBLIC_PROPOSAL},
    "public_proposal_followup.html": {
        "p": dict(
            PUBLIC_PROPOSAL,
            followup_status="received",
            followup_text="done",
            followup_received_at="2027-03-01T00:00:00+00:00",
        )
    },
    "public_notice.html": {
        "year": 2026,
        "report": {
            "year": 2026,
            "prepared_by": "public",
            "received": 3,
            "filed": 2,
            "merged": 0,
            "not_filed": 1,
            "undecided": 0,
            "answered": 2,
            "categories": [{"code": "A", "label": "A 类", "count": 2}],
            "proposals": [{"number": "2026-7", "title": "t", "reply_category": "A"}],
            "personal_data": "masked",
        },
    },
    "public_opinions.html": {
        "year": 2026,
        "report": {
            "adopted": 1,
            "instructed": 1,
            "personal_data": "masked",
            "items": [
                {
                    "number": "2026-S-1",
                    "title": "t",
                    "submitter": "李*",
                    "instructions": [{"level": "city"}],
                    "adopted_by": [
                        {
                            "channel": "city_government",
                            "channel_name": "市政府",
                            "channel_name_en": "City government",
                            "issue": "3",
                        }
                    ],
                }
            ],
        },
    },
    "public_case_new.html": {
        "typed": {"venue": "cp_jiefang", "title": "路灯"},
        "form_csrf": "x",
        "venues": [
            {
                "code": "cp_jiefang",
                "name": "解放路联系点",
                "kind": "contact_point",
                "kind_zh": "委员联系点",
                "town": "解放路街道",
            }
        ],
        "refused": api.Answer(400, {"message": "bad", "details": {"title": ["blank"]}}),
    },
    "public_case.html": {"raised": True, "case": PUBLIC_CASE},
    "ops_queues.html": {
        "overview": {"vhost": "ztc", "dead_letters_total": 1},
        "queues": [
            {
                "name": "ztc.dead",
                "messages": 1,
                "ready": 1,
                "unacked": 0,
                "consumers": 0,
                "oldest_age_seconds": 40.0,
                "dead_letters": 0,
                "problems": ["ops.queue.problem.dead_queue"],
            },
            {
                "name": "ztc.jobs.intake",
                "messages": 0,
                "ready": 0,
                "unacked": 0,
                "consumers": 1,
                "oldest_age_seconds": None,
                "dead_letters": 0,
                "problems": [],
            },
        ],
    },
    "ops_dead_letters.html": {"letters": [DEAD_LETTER], "done": "discarded", "done_id": "ab12"},
    "ops_dead_letter.html": {"letter": DEAD_LETTER, "body": "{}", "letter_headers": "{}"},
    "ops_incidents.html": {"incidents": [INCIDENT]},
    "ops_instances.html": {
        "query": {"business_key": "2026-7", "process_id": "", "status": ""},
        "rows": [INSTANCE],
        "errors": {"status": ["Must be one of: running."]},
    },
    "ops_instance.html": {
        "inst": INSTANCE,
        "version": {"number": 2},
        "queues_unavailable": "503",
        "where": {
            "held_results": 1,
            "tokens": [
                {"kind": "user_task", "task": "review", "candidate_role": "staff"},
                {"kind": "message", "name": "unit_reply", "buffered": 0},
                {"kind": "timer", "due": "2026-12-01T00:00:00+00:00"},
            ],
        },
        "view": {
            "marks": {"markers": {"assign": ["incident"]}, "overlays": []},
            "elements": [
                {
                    "id": "assign",
                    "name": "分配",
                    "state": "incident",
                    "incidents": [INCIDENT],
                    "jobs": [
                        {
                            "operation": "assignment.assign",
                            "attempt": 1,
                            "max_attempts": 3,
                            "status": "incident",
                            "last_error": "no unit",
                        }
                    ],
                    "queue": {"name": "ztc.jobs.assignment", "messages": 0, "consumers": 1},
                },
                {"id": "start", "name": "start", "state": "done", "incidents": [], "jobs": [], "queue": None},
            ],
        },
        "history": [{"at": "2026-11-29", "actor": "ops.sun", "action": "started", "task": None}],
        "variables": [("unit", '"transport"')],
    },
    "assignment_cancelled.html": {  # a unit's cancelled assignment: why and when, no form
        "a": CANCELLED_ASSIGNMENT,
        "deadlines": [CANCELLED_DEADLINE],
        "categories": current_rulebook("proposal").reply_categories(),
        "contact_kinds": current_rulebook("proposal").contact_kinds(),
        "decisions": decisions.of(CANCELLED_ASSIGNMENT),
        "offers": unit.offers(CANCELLED_ASSIGNMENT),
        "cancelled": unit.cancellation(CANCELLED_ASSIGNMENT),
    },
    "proposal_cancelled.html": {  # a proposal whose handling an operator cancelled once it was assigned
        "p": CANCELLED_PROPOSAL,
        "stages": member.STAGES,
        "reached": member.STAGES.index("assigned"),
        "cancelled": {"at": "2026-12-02T06:30:00+00:00", "by": "ops.sun", "reason": CANCELLATION_NOTE},
        "invited": False,
        "proposer": True,
        "rating_open": False,
        "deadlines": [CANCELLED_DEADLINE],
        "reply": {"rounds": [{"replies": [{"unit": "transport", "category": "A", "text": "已办"}]}]},
        "ratings": {"rounds": [{"outcome": "cancelled", "ratings": []}]},
    },
    "public_case_cancelled.html": {"raised": False, "case": PUBLIC_CASE | {"status": "cancelled", "answer": None}},
    "ops_instance_cancelled.html": {
        "inst": CANCELLED_INSTANCE,
        "version": {"number": 2},
        "queues_unavailable": None,
        "where": {"held_results": 0, "tokens": [{"kind": "timer", "due": "2026-12-01T00:00:00+00:00"}]},
        "view": {"marks": {"markers": {"start": ["done"]}, "overlays": []}, "elements": []},
        "history": [
            {"at": "2026-11-29", "actor": "ops.sun", "action": "started", "task": None, "data": None},
            {
                "at": "2026-12-02T06:30:00+00:00",
                "actor": "ops.sun",
                "action": "cancelled",
                "task": None,
                "data": {"reason": CANCELLATION_NOTE, "closed": {"work_items": 1}},
            },
        ],
        "cancelled": {"at": "2026-12-02T06:30:00+00:00", "by": "ops.sun", "reason": CANCELLATION_NOTE},
        "variables": [],
    },
    "refused.html": {
        "answer": api.Answer(
            403, {"message": "this needs one of the roles: staff", "details": {"roles": ["staff"], "request_id": "r"}}
        )
    },
}


def _pager(path: str, principal: dict, template: str, context: dict, pager_id: str) -> str:
    """The page ``template`` rendered with ``context`` for ``principal`` at ``path?page=2``, from its
    pager (``id=pager_id``) on."""
    request = Request(EnvironBuilder(path=path, query_string="page=2").get_environ())
    html = Visit(None, request, "token", principal, "zh-CN").render(template, **context).get_data(as_text=True)
    return html[html.index(f'id="{pager_id}"') :]


class _Asking:
    """A console visit that records the API calls a page makes and what it renders."""

    def __init__(self, answers: dict, roles=("staff",), args=None):
        self.answers, self.calls, self.roles = answers, [], set(roles)
        self.request = Request(EnvironBuilder(path="/console/x", query_string=args or {}).get_environ())

    def api(self, route, **kwargs):
        self.calls.append((route, kwargs))
        if route not in self.answers:  # what the test is not about (a task's context)
            return api.Answer(404, {"error": "not_found", "message": "not here"})
        return api.Answer(200, self.answers[route])

    def may(self, route):
        return "staff" in self.roles

    def render(self, template, **context):
        return template, context


def test_the_published_list_asks_for_one_page_at_a_time():
    from services.gateway.console.work import ConsoleWorkRoutes

    page = {"items": [{"number": "2026-0021", "title": "t", "units": []}], "page": 2, "per_page": 20, "total": 41}
    visit = _Asking({"published_proposals": page}, roles=("member",), args={"page": "2"})
    template, context = ConsoleWorkRoutes.console_published.__wrapped__(None, visit)
    assert visit.calls == [("published_proposals", {"query": {"page": "2", "per_page": "20"}})]
    assert template == "published.html" and context["pages"] == 3 and context["page"] is page
    nonsense = _Asking({"published_proposals": page}, args={"page": "x"})
    ConsoleWorkRoutes.console_published.__wrapped__(None, nonsense)
    assert nonsense.calls[0][1]["query"]["page"] == "1"


def test_the_task_list_asks_for_one_page_and_links_the_next_and_the_previous():
    from services.gateway.console.work import ConsoleWorkRoutes

    listed = {"items": [{"task": "pre_review", "task_id": "t0", "business_key": "2026-0051"}], "page": 2}
    listed |= {"per_page": 50, "total": 120}
    visit = _Asking({"tasks": listed}, args={"page": "2"})
    template, context = ConsoleWorkRoutes.console_tasks.__wrapped__(None, visit)
    assert visit.calls[0] == ("tasks", {"query": {"page": "2"}})
    assert template == "tasks.html" and (context["page"], context["pages"], context["total"]) == (2, 3, 120)
    request = Request(EnvironBuilder(path="/console/tasks", query_string="page=2").get_environ())
    visit = Visit(None, request, "token", {"user": "x", "roles": ["staff"]}, "zh-CN")
    html = visit.render("tasks.html", **PAGES["tasks.html"], page=2, pages=3).get_data(as_text=True)
    nav = html[html.index('id="task-pages"') :]
    assert 'href="?page=1" rel="prev"' in nav and 'href="?page=3" rel="next"' in nav
    last = visit.render("tasks.html", **PAGES["tasks.html"], page=3, pages=3).get_data(as_text=True)
    assert 'rel="prev"' in last and 'rel="next"' not in last
    assert 'id="task-pages"' not in visit.render("tasks.html", **PAGES["tasks.html"]).get_data(as_text=True)


class _Instructing(_Asking):
    def may(self, route):
        return route == "record_instruction"


def test_the_items_awaiting_an_instruction_are_asked_for_a_page_at_a_time_and_a_refused_form_on_its_page():
    from services.gateway.console.leader import ConsoleLeaderRoutes

    item = {
        "number": "2026-S-30",
        "title": "t",
        "reports": [{"channel": "city_government", "adoption": "adopted", "adoption_at": "2026-11-02"}],
    }
    listed = {"items": [item], "page": 2, "per_page": leader.WAITING_PER_PAGE, "total": 41}
    visit = _Instructing({"list_opinions": listed}, roles=("leader",), args={"page": "2"})
    template, context = ConsoleLeaderRoutes.console_opinions_to_instruct.__wrapped__(ConsoleLeaderRoutes(), visit)
    asked = {"awaiting": "instruction", "page": "2", "per_page": str(leader.WAITING_PER_PAGE)}
    assert visit.calls == [("list_opinions", {"query": asked})]
    assert template == "leader_opinions.html" and (context["page"], context["pages"], context["total"]) == (2, 3, 41)
    assert [(w["number"], w["channel"]) for w in context["waiting"]] == [("2026-S-30", "city_government")]
    # Past the last page (its last item was just instructed): the last page instead.
    gone = _Instructing({"list_opinions": listed | {"items": [], "page": 4}}, roles=("leader",))
    ConsoleLeaderRoutes()._instructions_page(gone, 4)
    assert [call[1]["query"]["page"] for call in gone.calls] == ["4", "3"]
    # A refused form is shown again on the page it was on, with what was typed.
    typed = {"number": "2026-S-30", "channel": "city_government", "text": "x"}
    again = _Instructing({"list_opinions": listed}, roles=("leader",))
    refused = api.Answer(400, {"message": "bad", "details": {"leader": ["blank"]}})
    _, shown = ConsoleLeaderRoutes()._instructions_page(again, 2, typed, refused, 400)
    assert again.calls[0][1]["query"]["page"] == "2" and shown["typed"] == typed and shown["refused"] is refused
    nobody = _Asking({"list_opinions": listed}, roles=("member",))
    nobody.may = lambda route: False
    nobody.forbidden = lambda route: ("forbidden", route)
    assert ConsoleLeaderRoutes()._instructions_page(nobody, 1) == ("forbidden", "record_instruction")
    assert nobody.calls == []


def test_the_members_own_items_are_asked_for_a_page_at_a_time_with_a_pager():
    from services.gateway.console.member_items import ConsoleMemberItemRoutes

    listed = {"items": [OPINION], "page": 2, "per_page": 50, "total": 51}
    visit = _Asking({"list_opinions": listed}, roles=("member",), args={"page": "2"})
    template, context = ConsoleMemberItemRoutes.console_my_opinions.__wrapped__(None, visit)
    assert visit.calls == [("list_opinions", {"query": {"mine": "true", "page": "2"}})]
    assert template == "member_opinions.html" and context["items"] == [OPINION]
    assert (context["page"], context["pages"], context["total"]) == (2, 2, 51)
    nav = _pager("/console/opinions", {"user": "m", "roles": ["member"]}, template, context, "opinion-pages")
    assert 'href="?page=1" rel="prev"' in nav and 'rel="next"' not in nav


def test_the_task_list_asks_for_every_assign_tasks_routing_suggestions_in_one_call():
    from services.gateway.console.work import ConsoleWorkRoutes

    tasks = [{"task": "pre_review", "task_id": "t0", "business_key": "2026-0001"}] + [
        {"task": name, "task_id": f"t{i}", "business_key": f"2026-{i:04d}"}
        for i, name in ((2, "assign"), (3, "reassign"), (4, "assign"))
    ]
    found = [{"number": f"2026-{i:04d}", "suggestions": [{"unit": f"u{i}"}]} for i in (2, 3, 4)]
    listed = {"items": tasks, "page": 1, "per_page": 50, "total": len(tasks)}
    visit = _Asking({"tasks": listed, "routing_suggestions_of": {"proposals": found, "unknown": []}})
    _, context = ConsoleWorkRoutes.console_tasks.__wrapped__(None, visit)
    routing = [call for call in visit.calls if call[0].startswith("routing")]
    assert routing == [("routing_suggestions_of", {"query": {"numbers": "2026-0002,2026-0003,2026-0004"}})]
    assert context["suggestions"] == {f"2026-{i:04d}": [{"unit": f"u{i}"}] for i in (2, 3, 4)}
    # Those the route would refuse are not asked: a committee member sees no suggestions.
    committee = _Asking({"tasks": listed}, roles=("committee",))
    assert ConsoleWorkRoutes.console_tasks.__wrapped__(None, committee)[1]["suggestions"] == {}
    assert not [call for call in committee.calls if call[0].startswith("routing")]


def _co_unit_figures(html: str) -> dict[str, dict[str, str]]:
    """``{unit: {figure: text}}`` of the cells named by ``data-figure`` in each unit's assessment
    row: its co-unit figures and its overdue work not done."""
    rows = re.findall(r'<tr (?:data-unit|id)="(?:assessment-)?([a-z]+)">(.*?)</tr>', html, flags=re.S)
    return {unit: dict(re.findall(r'data-figure="([a-z_]+)"[^>]*>([^<]*)<', cells)) for unit, cells in rows}


CO_UNIT_FIGURES = {
    "transport": {"proposals_assisted": "2", "average_co_unit_score": "27.5", "overdue_not_done": "1"},
    "education": {"proposals_assisted": "3", "average_co_unit_score": "31.0", "overdue_not_done": "0"},
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_bulletin_shows_each_units_co_unit_figures_beside_its_handling(lang):
    request = Request(EnvironBuilder(path="/console/reports/bulletin/2026").get_environ())
    principal = {"user": "staff.wang", "roles": ["staff"], "unit": None}
    page = Visit(None, request, "token", principal, lang).render(
        "staff_report_bulletin.html", **PAGES["staff_report_bulletin.html"]
    )
    html = page.get_data(as_text=True)
    assert _co_unit_figures(html) == CO_UNIT_FIGURES
    heading = {"zh-CN": ("协办件数", "协办平均得分"), "en": ("As co-unit", "Average co-unit score")}[lang]
    assert all(f">{text}</th>" in html for text in heading)


def test_the_printed_bulletin_shows_each_units_co_unit_figures():
    from services.gateway.reports import render

    figures = YEAR_FIGURES | {"converted": {"opinion": 1, "letter": 0}}
    html = render("proposal_report.html", f=figures, assessment=ASSESSMENT, heading="书面通报", subheading="")
    html = html.get_data(as_text=True)
    assert _co_unit_figures(html) == CO_UNIT_FIGURES
    assert "<th>协办件数 As co-unit</th>" in html and "<th>协办平均得分 Co-unit score</th>" in html
    assert "<td>市交通运输局</td>" in html and "<td>transport</td>" not in html  # units by their names
    unassessed = {**ASSESSMENT, "units": [{**ASSESSMENT["units"][1], "average_co_unit_score": None}]}
    html = render("proposal_report.html", f=figures, assessment=unassessed, heading="书面通报", subheading="")
    assert _co_unit_figures(html.get_data(as_text=True))["education"]["average_co_unit_score"] == "—"


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("template", sorted(PAGES))
def test_every_page_renders_in_both_languages_with_nothing_untranslated(template, lang):
    request = Request(EnvironBuilder(path="/console/x").get_environ())
    principal = {
        "user": "member.li",
        "roles": ["member", "staff", "unit", "committee", "operator"],
        "unit": "transport",
    }
    name = re.sub(r"_(co|none|followup|cancelled)\.html$", ".html", template)  # a second case of one page
    response = Visit(None, request, "token", principal, lang).render(name, **PAGES[template])
    html = response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert f'<html lang="{lang}">' in html
    # What a reader sees holds no catalogue key (a text missing from both catalogues shows its key).
    # (Identifiers shown as data — file names, user ids, element ids — are set in <code>.)
    text = (
        re.sub(r"<script.*?</script>|<code[^>]*>.*?</code>|<[^>]+>", " ", html, flags=re.S)
        .replace("member.li", "")
        .replace("member.zhou", "")
    )
    assert not re.findall(r"\b[a-z_]{3,}\.[A-Za-z_0-9]+\b", text), "a text shown by its key"
    if template != "login.html":
        assert session.csrf_for("token") in html  # every form of a signed-in page carries the CSRF token


def test_an_operator_sets_a_console_password_with_ztc_and_a_short_one_is_refused(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from services.ztc.cli import main

    monkeypatch.setenv("ZTC_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("ZTC_DATABASE_URL", raising=False)
    monkeypatch.delenv("ZTC_DB_GATEWAY", raising=False)
    runner = CliRunner()
    done = runner.invoke(
        main,
        ["console-user", "set", "--user", "handler.zhao", "--role", "unit", "--unit", "transport", "--password-stdin"],
        input="a long password\n",
    )
    assert done.exit_code == 0, done.output
    refused = runner.invoke(
        main, ["console-user", "set", "--user", "member.li", "--role", "member", "--password-stdin"], input="short\n"
    )
    assert refused.exit_code != 0 and "at least 8" in refused.output
    with session_factory(f"sqlite:///{tmp_path}/gateway.db")() as db:
        assert accounts.check(db, "handler.zhao", "a long password").unit == "transport"
        with pytest.raises(Unauthenticated):
            accounts.check(db, "member.li", "short")
    dispose_all()


@pytest.mark.parametrize("roles,buttons", [(["unit"], True), (["staff"], False), (["committee", "leader"], False)])
def test_only_a_unit_handler_sees_the_buttons_to_sign_and_reply(roles, buttons):
    request = Request(EnvironBuilder(path="/console/assignments/3").get_environ())
    unsigned = {
        "id": 3,
        "number": "2026-7",
        "unit": "transport",
        "role": "single",
        "status": "assigned",
        "signed_at": None,
        "replies": [],
    }
    html = (
        Visit(None, request, "token", {"user": "x", "roles": roles, "unit": "transport"}, "zh-CN")
        .render("assignment.html", a=unsigned, deadlines=[], categories=[])
        .get_data(as_text=True)
    )
    assert ('id="sign"' in html) is buttons
    signed = dict(unsigned, signed_at="2026-11-29", status="signed")
    html = (
        Visit(None, request, "token", {"user": "x", "roles": roles, "unit": "transport"}, "zh-CN")
        .render("assignment.html", a=signed, deadlines=[], categories=current_rulebook("proposal").reply_categories())
        .get_data(as_text=True)
    )
    assert ('id="save-draft"' in html) is buttons


def test_each_problem_is_marked_on_its_element_with_its_number_and_those_without_an_element_are_not():
    marks = problem_marks(PROBLEMS + [dict(PROBLEMS[0], message="a second one")], "bad.bpmn")
    assert marks["markers"] == {"record": ["problem"], "decide": ["problem"]}
    badges = {o["element"]: o for o in marks["overlays"]}
    assert badges["record"]["text"] == "1,4" and badges["decide"]["text"] == "2"
    assert "a second one" in badges["record"]["title"]
    assert problem_marks(PROBLEMS, "other.bpmn") == {"markers": {}, "overlays": []}


def test_an_upload_that_is_no_diagram_too_large_or_not_utf8_is_refused_naming_the_file():
    from io import BytesIO

    from werkzeug.datastructures import FileStorage

    def upload(name, data):
        return FileStorage(BytesIO(data), filename=name)

    files, errors = read_uploads([upload("ok.bpmn", "<定义/>".encode()), upload("C:\\x\\rules.dmn", b"<d/>")], 100)
    assert (files, errors) == ({"ok.bpmn": "<定义/>", "rules.dmn": "<d/>"}, [])
    files, errors = read_uploads(
        [upload("a.txt", b"x"), upload("big.bpmn", b"x" * 101), upload("latin.bpmn", "é".encode("latin-1"))], 100
    )
    assert files == {} and errors == [
        ("deploy.not_diagram", "a.txt"),
        ("deploy.too_large", "big.bpmn"),
        ("deploy.not_utf8", "latin.bpmn"),
    ]
    assert read_uploads([upload("", b"")], 100) == ({}, [("deploy.no_file", "")])


def test_versions_are_grouped_per_process_newest_first():
    rows = [dict(VERSION, number=1), dict(VERSION, process_id="a", name=None, number=1), dict(VERSION, number=2)]
    grouped = by_process(rows)
    assert [(g["process_id"], [v["number"] for v in g["versions"]]) for g in grouped] == [("a", [1]), ("smoke", [2, 1])]


@pytest.mark.parametrize(
    "roles,designer", [(["designer"], True), (["operator"], True), (["staff"], False), (["member"], False)]
)
def test_only_designers_and_operators_see_the_designers_navigation_and_the_deploy_button(roles, designer):
    from services.gateway.service import GatewayService

    request = Request(EnvironBuilder(path="/console/designs").get_environ())
    visit = Visit(
        object.__new__(GatewayService), request, "token", {"user": "x", "roles": roles, "unit": None}, "zh-CN"
    )
    html = visit.render("designs.html", processes=[]).get_data(as_text=True)
    assert ('id="nav-designs"' in html) is designer
    assert ('id="deploy-link"' in html) is designer


def test_an_opinion_items_page_explains_its_deadlines_and_a_submitted_form_keeps_what_was_typed():
    from werkzeug.datastructures import MultiDict

    assert [(d["rule"], d["due"]) for d in member_items.deadlines_of(OPINION)] == [
        ("adoption_wait", "2026-12-03"),
        ("forward_answer", "2026-12-13"),
    ]
    assert member_items.deadlines_of({"number": "2026-S-4", "status": "adopted"}) == []  # another's, no history
    typed = MultiDict({"title": "菜市场", "situation": "", "analysis": "a", "suggestion": "b", "urgent": "yes"})
    assert member_items._draft(typed) == {
        "title": "菜市场",
        "situation": "",
        "analysis": "a",
        "suggestion": "b",
        "urgent": True,
        "submit": True,
    }
    assert member_items._draft(MultiDict({"action": "save"}))["submit"] is False
    request = Request(EnvironBuilder(path="/console/opinions/2026-S-2").get_environ())
    visit = Visit(None, request, "token", {"user": "member.li", "roles": ["member"]}, "zh-CN")
    html = visit.render("member_opinion.html", **PAGES["member_opinion.html"]).get_data(as_text=True)
    assert "自签发报送（2026-11-03）起计 30 天，依据社情民意规则第 3 版。" in html
    assert "<code>something_new</code>" in html  # an action the catalogue does not know yet, shown as it is
    form = visit.render("member_opinion_new.html", **PAGES["member_opinion_new.html"]).get_data(as_text=True)
    assert 'value="菜市场"' in form and 'aria-describedby="op-situation-error"' in form and "checked" in form


def test_a_performance_file_lists_each_quarters_points_with_the_event_behind_each():
    periods = member_items.by_period(POINTS_FILE["entries"] + [POINTS_FILE["entries"][0] | {"period": "2027-Q1"}])
    assert [(p, len(rows), points) for p, rows, points in periods] == [("2026-Q4", 2, 3), ("2027-Q1", 1, 5)]
    request = Request(EnvironBuilder(path="/console/performance").get_environ())
    visit = Visit(None, request, "token", {"user": "member.li", "roles": ["member"]}, "zh-CN")
    html = visit.render("member_performance.html", **PAGES["member_performance.html"]).get_data(as_text=True)
    assert '<a href="/console/opinions/2026-S-2">2026-S-2</a>' in html and "<code>opinion.submitted</code>" in html
    assert "5 分/件 （上限 50 分）" in html and "重复计分" in html


def test_a_printed_report_asks_for_every_page_of_its_list_and_keeps_the_first_pages_figures():
    from services.gateway.reports import PRINT_PAGE, every_page

    numbers = [f"2026-{i:04d}" for i in range(1, 2 * PRINT_PAGE + 8)]
    asked = []

    def fetch(query):
        asked.append(query)
        start = (query["page"] - 1) * query["per_page"]
        chunk = [{"number": n} for n in numbers[start : start + query["per_page"]]]
        return {"received": len(numbers) + len(asked), "listed": len(numbers), "proposals": chunk}

    report = every_page(fetch)
    assert [p["number"] for p in report["proposals"]] == numbers
    assert [q["page"] for q in asked] == [1, 2, 3] and report["received"] == len(numbers) + 1

    def dropped_meanwhile(query):  # counted 2,007, but only five left when the pages were read
        return {"listed": len(numbers), "proposals": [{"number": n} for n in numbers[:5]] if query["page"] == 1 else []}

    assert [p["number"] for p in every_page(dropped_meanwhile)["proposals"]] == numbers[:5]


def test_the_incidents_page_asks_for_one_page_of_the_open_ones_with_a_pager():
    from services.gateway.console.operator import ConsoleOperatorRoutes

    listed = {"items": [INCIDENT], "page": 2, "per_page": 50, "total": 51}
    visit = _Asking({"incidents": listed}, roles=("operator",), args={"page": "2"})
    template, context = ConsoleOperatorRoutes.console_ops_incidents.__wrapped__(None, visit)
    assert visit.calls == [("incidents", {"query": {"page": "2"}})]
    assert template == "ops_incidents.html" and context["incidents"] == [INCIDENT]
    assert (context["page"], context["pages"], context["total"]) == (2, 2, 51)
    nav = _pager(
        "/console/ops/incidents", {"user": "ops.sun", "roles": ["operator"]}, template, context, "incident-pages"
    )
    assert 'href="?page=1" rel="prev"' in nav and 'rel="next"' not in nav


def test_a_list_counted_up_to_a_bound_says_more_and_links_the_next_page():
    """An answer whose total stopped at the count's bound (``total_exact`` false): the pager says
    "or more" of pages and total, and links the next page even from what would be the last."""
    from services.gateway.console.operator import ConsoleOperatorRoutes

    listed = {"items": [INCIDENT], "page": 2, "per_page": 50, "total": 100, "total_exact": False}
    visit = _Asking({"incidents": listed}, roles=("operator",), args={"page": "2"})
    template, context = ConsoleOperatorRoutes.console_ops_incidents.__wrapped__(None, visit)
    assert (context["page"], context["pages"], context["total"], context["total_exact"]) == (2, 3, 100, False)
    nav = _pager(
        "/console/ops/incidents", {"user": "ops.sun", "roles": ["operator"]}, template, context, "incident-pages"
    )
    assert 'href="?page=1" rel="prev"' in nav and 'href="?page=3" rel="next"' in nav
    assert "共 3 页以上" in nav and "100 件以上" in nav
    exact = dict(context, total=100, total_exact=True, pages=2)
    nav = _pager(
        "/console/ops/incidents", {"user": "ops.sun", "roles": ["operator"]}, template, exact, "incident-pages"
    )
    assert "以上" not in nav and 'rel="next"' not in nav and "共 100 件" in nav


class _Acting(_Asking):
    """A console visit posting a form (``form``) whose API calls answer ``answers`` by route."""

    def __init__(self, answers: dict, form: dict, roles=("operator",)):
        super().__init__(answers, roles)
        self.request = Request(EnvironBuilder(path="/console/x", method="POST", data=form).get_environ())

    def refusal(self, answer):
        return answer


@pytest.mark.parametrize(
    "action, answered, went",
    [
        ("retry", {"status": "retrying"}, "done=retrying"),
        ("retry", {"status": "open"}, "done=open"),  # the step ran again and failed again
        ("resolve", {"status": "resolved"}, "done=resolved"),
    ],
)
def test_an_incident_action_goes_back_saying_what_became_of_it(action, answered, went):
    from services.gateway.console.operator import ConsoleOperatorRoutes

    route = {"retry": "retry_incident", "resolve": "resolve_incident"}[action]
    form = {"back": "/console/ops/instances/inst-1?tab=history", "resolution": " rerouted by hand "}
    visit = _Acting({route: answered}, form)
    done = ConsoleOperatorRoutes.console_ops_incident_action.__wrapped__(None, visit, 7, action)
    assert done.status_code == 303 and done.headers["Location"] == f"/console/ops/instances/inst-1?incident=7&{went}"
    if action == "resolve":
        assert visit.calls == [
            (route, {"method": "POST", "incident_id": 7, "body": {"resolution": "rerouted by hand"}})
        ]


def test_a_blank_resolution_comes_back_asking_for_one_and_nothing_is_sent():
    from services.gateway.console.operator import ConsoleOperatorRoutes

    visit = _Acting({}, {"resolution": "   "})
    back = ConsoleOperatorRoutes.console_ops_incident_action.__wrapped__(None, visit, 7, "resolve")
    assert back.headers["Location"] == "/console/ops/incidents?incident=7&refused=resolution" and visit.calls == []
    stranger = _Acting({}, {"resolution": ""}, roles=("staff",))  # not an operator: the API refuses them
    ConsoleOperatorRoutes.console_ops_incident_action.__wrapped__(None, stranger, 7, "resolve")
    assert [call[0] for call in stranger.calls] == ["resolve_incident"]


@pytest.mark.parametrize(
    "query, says",
    [
        ("incident=7&done=retrying", "Incident 7: its job was sent again."),
        ("incident=7&done=open", "Incident 7: the step ran again and failed again; the error is updated."),
        ("incident=7&refused=resolution", "Incident 7: say how it was resolved."),
        ("incident=x&done=retrying", None),
    ],
)
def test_the_incidents_page_says_what_became_of_the_incident_acted_on(query, says):
    request = Request(EnvironBuilder(path="/console/ops/incidents", query_string=query).get_environ())
    principal = {"user": "ops.sun", "roles": ["operator"]}
    html = Visit(None, request, "token", principal, "en").render("ops_incidents.html", incidents=[]).get_data(True)
    if says is None:
        assert 'id="incident-done"' not in html
    else:
        assert says in html


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_task_asked_for_again_says_why_and_one_asked_for_the_first_time_says_nothing(lang):
    request = Request(EnvironBuilder(path="/console/tasks").get_environ())
    principal = {"user": "staff.wang", "roles": ["staff"], "unit": None}
    html = Visit(None, request, "token", principal, lang).render("tasks.html", **PAGES["tasks.html"])
    html = html.get_data(as_text=True)
    notices = re.findall(r'<p class="notice" role="status" data-reason="([a-z_]+)">([^<]*)</p>', html)
    assert [(code, EXTENSION_REFUSED["message"] in text) for code, text in notices] == [("extension_refused", True)]
    assert ("再次办理，原因：" if lang == "zh-CN" else "Asked for again because:") in notices[0][1]


# A person's filled-in case forms (as the browser posts them) and what the diagram's schema keeps.
FILLED_CASE_FORMS = {
    "consultation.dispatch": (
        {"dispatch_action": "dispatch", "member": " member.li ", "close_reason": "", "dispatch_note": "请跟进"},
        {"dispatch_action": "dispatch", "member": "member.li"},
    ),
    "consultation.take": ({"accepted": "no", "decline_reason": "本人出差"}, {"accepted": False}),
    "consultation.decide": (
        {"outcome": "proposal", "convert_title": "关于增设公交站的建议", "suggestion": "增设站点", "urgent": "yes"},
        {"outcome": "proposal", "urgent": True, "suggestion": "增设站点"},
    ),
    "consultation.meeting": (
        {
            "meeting_form": "on_site",
            "meeting_venue": "cp_jiefang",
            "held_on": "2026-11-20",
            "attendees": "member.li、member.zhao",
            "units": "transport, housing",
            "summary": "达成共识",
        },
        {"attendees": ["member.li", "member.zhao"], "units": ["transport", "housing"], "held_on": "2026-11-20"},
    ),
    "consultation.follow_up": ({"actions_done": "yes", "follow_up_note": "已落实"}, {"actions_done": True}),
    "consultation.return_visit": (
        {"reached": "yes", "satisfaction": "basically_satisfied", "visit_comment": ""},
        {"reached": True, "satisfaction": "basically_satisfied"},
    ),
}


@pytest.mark.parametrize("schema", CASE_FORMS)
def test_each_case_form_gives_data_the_diagrams_form_accepts_and_a_choice_left_out_is_refused(schema, skipping_clock):
    from werkzeug.datastructures import MultiDict

    from shared.forms import FORMS as SCHEMAS
    from shared.validation import made

    skipping_clock.set(datetime(2026, 11, 30, 2, tzinfo=timezone.utc))  # the meeting was held before it
    posted, kept = FILLED_CASE_FORMS[schema]
    data = task_data(schema, MultiDict(posted))
    loaded = made(SCHEMAS[schema]).load(data)
    assert {key: loaded[key] for key in kept} == kept
    choice = next(iter(posted))  # the form's first field is its choice
    with pytest.raises(ValidationError) as refused:
        made(SCHEMAS[schema]).load(task_data(schema, MultiDict({k: v for k, v in posted.items() if k != choice})))
    assert choice in refused.value.messages


def test_the_task_list_shows_a_form_for_each_case_task_posting_its_form_schema():
    request = Request(EnvironBuilder(path="/console/tasks").get_environ())
    principal = {"user": "member.li", "roles": ["member", "staff"], "unit": None}
    html = Visit(None, request, "token", principal, "zh-CN").render("tasks.html", **PAGES["tasks.html"])
    html = html.get_data(as_text=True)
    posted = re.findall(r'<input type="hidden" name="task" value="(consultation\.[a-z_]+)">', html)
    assert posted == list(CASE_FORMS)
    assert "面对面协商" in html and "基本满意" in html and "群众撤回" in html  # the rulebook's codes, in Chinese
