"""What the console shows of work whose process an operator cancelled, without a browser: the unit's
cancelled assignment (why, when, no form), the member's cancelled proposal (the stages reached, who
cancelled it, when and why, its deadlines stopped, no rating form), the operator's cancelled
instance (its reason, nothing drawn as current), the resident's cancelled case, refusals' times and
where a unit's notice links to."""

from __future__ import annotations

import html as entities
import re

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway.console import api, decisions, i18n, member, unit
from services.gateway.console.member import ConsoleMemberRoutes
from services.gateway.console.operator import cancellation_of as instance_cancellation
from services.gateway.console.operator import instance_view
from services.gateway.console.views import Visit

from .test_pages import (
    CANCELLATION_NOTE,
    CANCELLED_ASSIGNMENT,
    CANCELLED_DEADLINE,
    CANCELLED_INSTANCE,
    CANCELLED_PROPOSAL,
    PAGES,
    PUBLIC_CASE,
    B_ASSIGNMENT,
)

FORMS = ('id="sign"', 'id="save-draft"', 'id="submit-reply"', 'id="send-input"', 'id="cosign-reply"')
FORMS += ('id="object-form"', 'id="extension-form"', 'id="contact-form"', 'id="milestone-form"', 'id="followup-form"')


def _html(template: str, context: dict, roles=("unit",), lang="zh-CN") -> str:
    request = Request(EnvironBuilder(path="/console/x").get_environ())
    principal = {"user": "handler.zhao", "roles": list(roles), "unit": "transport"}
    return Visit(None, request, "token", principal, lang).render(template, **context).get_data(as_text=True)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- the unit's assignment -----------------------------------------------------------------------
def test_a_cancelled_assignment_offers_no_form_at_all():
    offered = unit.offers(CANCELLED_ASSIGNMENT)
    assert not any(offered[key] for key in ("object", "extension", "milestones", "followup", "contact", "work"))
    signed = dict(CANCELLED_ASSIGNMENT, status="signed", cancelled_at=None, objection=None, extension_requests=[])
    assert unit.offers(signed)["work"] and unit.offers(signed)["extension"]


def test_a_cancelled_assignment_says_why_when_and_by_whom_from_its_log():
    assert unit.cancellation(CANCELLED_ASSIGNMENT) == {
        "reason": "process_cancelled",
        "at": "2026-12-02T06:30:00+00:00",
        "by": "ops.sun",
        "note": CANCELLATION_NOTE,
        "reply_kept": False,
    }
    bare = dict(CANCELLED_ASSIGNMENT, events=[])  # no log entry: the time still shows
    assert unit.cancellation(bare)["at"] == "2026-12-02T06:30:00+00:00"
    assert unit.cancellation(dict(CANCELLED_ASSIGNMENT, status="signed", cancelled_at=None)) is None


def test_the_cancellation_and_what_it_closed_are_among_the_decisions_with_the_note_not_the_code():
    found = decisions.of(CANCELLED_ASSIGNMENT)
    assert [d["kind"] for d in found] == ["cancelled_process_cancelled", "extension_cancelled", "objection_cancelled"]
    assert {d["comment"] for d in found} == {CANCELLATION_NOTE} and found[0]["by"] == "ops.sun"
    reassigned = {
        "events": [{"at": "t", "actor": "staff.wang", "action": "cancelled", "data": {"reason": "reassigned"}}]
    }
    assert (
        decisions.of(reassigned)[0]["kind"] == "cancelled_reassigned" and decisions.of(reassigned)[0]["comment"] == ""
    )


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("role", ["single", "co"])
def test_a_units_cancelled_assignment_page_shows_the_cancellation_and_no_button(role, lang):
    a = dict(CANCELLED_ASSIGNMENT, role=role, signed_at=None if role == "co" else CANCELLED_ASSIGNMENT["signed_at"])
    context = dict(PAGES["assignment_cancelled.html"], a=a, offers=unit.offers(a), cancelled=unit.cancellation(a))
    html = _html("assignment.html", context, lang=lang)
    assert not [form for form in FORMS if form in html]
    assert 'id="cancelled"' in html and CANCELLATION_NOTE in html and "ops.sun" in html
    assert "2026-12-02 14:30" in html  # the time, in China's time, as people read it
    words = i18n.translator(lang)
    assert words("assignment.cancelled_reason.process_cancelled") in entities.unescape(html)
    assert words("deadline.cancelled") in html and "<s>2027-03-01</s>" in html
    for key in ("decision.extension_cancelled", "decision.objection_cancelled", "unit.extension_status.cancelled"):
        assert key not in html and words(key) in _text(html)
    assert words("unit.decisions_none") not in html


def test_an_accepted_reply_outlives_the_cancellation_but_nothing_more_is_owed_or_offered():
    kept = {"reason": "process_cancelled", "note": CANCELLATION_NOTE, "by": "ops.sun", "reply_kept": True}
    event = {"at": "2026-12-02T06:30:00+00:00", "actor": "ops.sun", "action": "cancelled", "data": kept}
    a = B_ASSIGNMENT | {"cancelled_at": "2026-12-02T06:30:00+00:00", "events": [*B_ASSIGNMENT["events"], event]}
    offered = unit.offers(a)
    assert offered["milestones"] == [] and not offered["followup"] and not offered["contact"] and not offered["work"]
    assert unit.cancellation(a)["reply_kept"] and decisions.of(a)[0]["kind"] == "cancelled_reply_kept"
    context = dict(PAGES["assignment_followup.html"], a=a, offers=offered, cancelled=unit.cancellation(a))
    context.update(decisions=decisions.of(a), typed={}, refused=None)
    html = _html("assignment.html", context)
    assert 'data-reason="reply_kept"' in html and 'id="replies"' in html and "已列入计划" in html
    assert not [form for form in FORMS if form in html]


# -- the member's proposal -----------------------------------------------------------------------
HISTORY = [
    {
        "kind": "proposal",
        "number": "2026-7",
        "at": "2026-11-20T01:00:00+00:00",
        "actor": "member.li",
        "action": "submitted",
    },
    {
        "kind": "proposal",
        "number": "2026-7",
        "at": "2026-12-02T06:30:02+00:00",
        "actor": "ops.sun",
        "action": "handling",
        "data": {"event": "process.cancelled", "occurred_at": "2026-12-02T06:30:00+00:00", "status": "cancelled"}
        | {"was": "assigned", "instance_id": "i-1", "reason": CANCELLATION_NOTE, "by": "ops.sun"},
    },
]


def test_who_cancelled_a_proposal_when_and_why_come_from_its_history_else_from_a_stopped_deadline():
    assert member.cancellation_of("2026-7", HISTORY, []) == {
        "at": "2026-12-02T06:30:00+00:00",
        "by": "ops.sun",
        "reason": CANCELLATION_NOTE,
        "was": "assigned",
    }
    assert member.cancellation_of("2026-8", HISTORY, []) is None  # another proposal's line
    from_deadline = member.cancellation_of("2026-7", [], [CANCELLED_DEADLINE])
    assert from_deadline == {
        "at": "2026-12-02T06:30:01+00:00",
        "by": "ops.sun",
        "reason": CANCELLATION_NOTE,
        "was": None,
    }


def test_a_cancelled_proposal_keeps_the_stages_it_reached():
    stages = member.STAGES
    assert member.reached_before(CANCELLED_PROPOSAL, {"was": "replied"}, [], None) == stages.index("replied")
    assert member.reached_before(CANCELLED_PROPOSAL, {"was": "returned"}, [CANCELLED_DEADLINE], None) == stages.index(
        "assigned"
    )
    filed = CANCELLED_PROPOSAL | {"filing": {"decision": "filed"}}
    assert member.reached_before(filed, None, [], None) == stages.index("filed")
    assert member.reached_before(CANCELLED_PROPOSAL, None, [], None) == stages.index("submitted")


def test_no_rating_once_the_handling_or_the_round_was_cancelled():
    answered = CANCELLED_PROPOSAL | {"status": "rating"}
    assert member.rating_open(answered, {"rounds": [{"outcome": None}]})
    assert not member.rating_open(answered, {"rounds": [{"outcome": "cancelled"}]})
    assert not member.rating_open(CANCELLED_PROPOSAL, None)


class _Member:
    """A member's visit answering the API routes from ``answers``; records what is asked and rendered."""

    roles = {"member"}
    principal = {"user": "member.li", "roles": ["member"], "unit": None}

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def api(self, route, **kwargs):
        self.calls.append(route)
        if route not in self.answers:
            return api.Answer(404, {"error": "not_found", "message": "not here"})
        return api.Answer(200, self.answers[route])

    def render(self, template, **context):
        return template, context


def test_the_proposal_page_reads_the_cancellation_from_the_proposals_history():
    visit = _Member(
        {
            "get_proposal": CANCELLED_PROPOSAL,
            "deadlines": {"deadlines": [CANCELLED_DEADLINE]},
            "thread": {"thread": "2026-7", "entries": [], "history": HISTORY},
        }
    )
    template, context = ConsoleMemberRoutes.console_proposal.__wrapped__(None, visit, number="2026-7")
    assert template == "proposal.html" and "thread" in visit.calls
    assert context["cancelled"]["reason"] == CANCELLATION_NOTE and context["cancelled"]["by"] == "ops.sun"
    assert context["reached"] == member.STAGES.index("assigned") and not context["rating_open"]


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_cancelled_proposal_page_shows_the_steps_done_who_when_why_and_no_rating_form(lang):
    html = _html("proposal.html", PAGES["proposal_cancelled.html"], roles=("member",), lang=lang)
    timeline = html[html.index('class="timeline"') : html.index("</ol>", html.index('class="timeline"'))]
    assert timeline.count('class="done"') == member.STAGES.index("assigned") + 1 and "todo" not in timeline
    assert 'id="cancelled-step"' in timeline
    words = i18n.translator(lang)
    assert CANCELLATION_NOTE in html and "ops.sun" in html and "2026-12-02 14:30" in html
    assert words("proposal.deadline_cancelled", at="2026-12-02 14:30") in html and "<s>2027-03-01</s>" in html
    assert 'id="rating-form"' not in html


def test_a_live_proposals_page_is_as_before():
    html = _html("proposal.html", PAGES["proposal.html"], roles=("member",))
    assert 'id="rating-form"' in html and 'id="cancellation"' not in html and 'aria-current="step"' in html


# -- the operator's instance -----------------------------------------------------------------------
def test_a_cancelled_instance_is_drawn_nowhere_current():
    where = {
        "instance": CANCELLED_INSTANCE | {"waiting_tasks": ["assign"]},  # a stale answer still naming one
        "completed": ["start"],
        "tokens": [{"kind": "job", "task": "review", "operation": "assignment.assign", "status": "pending"}],
    }
    view = instance_view(where, [], {}, i18n.translator("zh-CN"))
    assert {e["state"] for e in view["elements"]} == {"done"}
    assert "token" not in str(view["marks"]["markers"])


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_cancelled_instance_is_drawn_stopped_where_its_tokens_stood(lang):
    t = i18n.translator(lang)
    line = {"at": "2026-12-02T06:30:00+00:00", "actor": "ops.sun", "action": "cancelled", "task": None}
    line["data"] = {"reason": CANCELLATION_NOTE, "closed": {}, "stood_at": ["review", "wait_reply"]}
    stood_at = instance_cancellation([line])["stood_at"]
    assert stood_at == ["review", "wait_reply"]
    where = {"instance": CANCELLED_INSTANCE, "completed": ["start", "record_submission"], "tokens": []}
    view = instance_view(where, [], {"review": "Review"}, t, stood_at=stood_at)
    states = {e["id"]: e["state"] for e in view["elements"]}
    assert states == {"review": "stopped", "wait_reply": "stopped", "start": "done", "record_submission": "done"}
    assert [e["id"] for e in view["elements"]][:2] == ["review", "wait_reply"]  # listed first
    badges = [o for o in view["marks"]["overlays"] if o.get("class") == "stopped"]
    assert [(o["element"], o["text"]) for o in badges] == [
        ("review", t("ops.badge.stopped")),
        ("wait_reply", t("ops.badge.stopped")),
    ]
    assert "token" not in str(view["marks"]["markers"])
    # a live instance is never drawn stopped, whatever it is handed
    live = {"instance": CANCELLED_INSTANCE | {"status": "waiting"}, "completed": [], "tokens": []}
    assert "stopped" not in str(instance_view(live, [], {}, t, stood_at=["review"]))


def test_an_instances_cancellation_names_its_reason_and_the_status_reads_as_elsewhere():
    lines = PAGES["ops_instance_cancelled.html"]["history"]
    assert instance_cancellation(lines) == {
        "at": "2026-12-02T06:30:00+00:00",
        "by": "ops.sun",
        "reason": CANCELLATION_NOTE,
        "stood_at": [],  # recorded before the engine said where it stood
    }
    assert instance_cancellation(lines[:1]) is None
    html = _html("ops_instance.html", PAGES["ops_instance_cancelled.html"], roles=("operator",))
    assert html.count(CANCELLATION_NOTE) == 2  # beside the status and on the history line
    assert 'id="cancel"' not in html and "ops.wait" not in html and 'id="tokens-title"' not in html
    assert i18n.translator("zh-CN")("ops.status.cancelled") == i18n.translator("zh-CN")("status.cancelled") == "已撤销"


# -- the resident, refusals, notices ------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_resident_reads_that_the_case_was_cancelled_without_the_operators_words(lang):
    case = PUBLIC_CASE | {"status": "cancelled", "answer": None, "cancellation": {"reason": "王五 13800000000 重复"}}
    html = _html("public_case.html", {"raised": False, "case": case}, roles=(), lang=lang)
    assert i18n.translator(lang)("public.case.cancelled_note") in entities.unescape(html) and "13800000000" not in html
    assert 'id="case-cancelled"' not in _html("public_case.html", {"raised": False, "case": PUBLIC_CASE}, roles=())


def test_a_refusals_times_are_written_as_people_read_them():
    message = "the process of 2026-7 was cancelled by ops.sun on 2026-12-02T06:30:00.123456+00:00 (x); round 1"
    html = _html("refused.html", {"answer": api.Answer(409, {"message": message})}, roles=("member",))
    assert "2026-12-02 14:30" in html and "T06:30" not in html
    assert i18n.translator("zh-CN")("refused.status.409") in html
    # a time the service wrote in words, labelled UTC, is rewritten in China's time without the label
    worded = "the handling of proposal 2026-7 was cancelled on 2026-12-02 18:58 UTC by ops.sun (x)"
    html = _html("refused.html", {"answer": api.Answer(409, {"message": worded})}, roles=("member",))
    assert "on 2026-12-03 02:58 by ops.sun" in html and "UTC" not in html


class _Inbox(_Member):
    def __init__(self, answers, roles):
        super().__init__(answers)
        self.roles = set(roles)

    def may(self, route):
        return {"get_proposal": {"member", "staff"}, "list_assignments": {"unit", "staff"}}[route] & self.roles != set()


NOTES = [
    {"id": 2, "subject": "2026-7", "title": "提案 2026-7（交办号 9）", "text": "t", "created_at": "2026-12-02T06:30"},
    {"id": 1, "subject": "2026-8", "title": "t", "text": "t", "created_at": "2026-12-01T06:30"},
]


def test_a_units_notice_links_to_its_own_assignments_of_the_proposal_and_a_members_to_the_proposal():
    unit_visit = _Inbox({}, ["unit"])
    links = member.note_links(unit_visit, NOTES)
    # The unit's assignments page kept to that proposal: no call more to draw the inbox.
    assert links == {2: "/console/assignments?number=2026-7", 1: "/console/assignments?number=2026-8"}
    assert unit_visit.calls == []
    assert member.note_links(_Inbox({}, ["member"]), NOTES)[1] == "/console/proposals/2026-8"
    assert member.note_links(_Inbox({}, ["operator"]), NOTES) == {2: None, 1: None}
    html = _html("notifications.html", {"notes": NOTES, "older": None, "links": links})
    assert 'href="/console/assignments?number=2026-7"' in html and "/console/proposals/" not in html


# -- a submitter's cancelled opinion item ---------------------------------------------------------
CANCELLED_ITEM = {
    "number": "SQ-2026-0007",
    "title": "关于社区食堂的建议",
    "status": "cancelled",
    "urgent": False,
    "submitter": "member.li",
    "forwards": [
        {"unit": "transport", "status": "answered", "answer": "已办理", "answered_at": "2026-12-01T02:00:00+00:00"},
        {"unit": "education", "status": "cancelled", "answer": None, "answered_at": None},
    ],
    "history": [
        {"at": "2026-11-20T02:00:00+00:00", "actor": "member.li", "action": "submitted", "data": {}},
        {
            "at": "2026-12-02T06:30:00+00:00",
            "actor": "ops.sun",
            "action": "cancelled",
            "data": {"was": "forwarded", "by": "ops.sun", "reason": CANCELLATION_NOTE},
        },
    ],
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_cancelled_opinion_item_says_who_when_and_why_and_owes_no_answer(lang):
    from services.gateway.console.member_items import STAGES

    html = _html(
        "member_opinion.html",
        {
            "item": CANCELLED_ITEM,
            "stages": STAGES,
            "reached": STAGES.index("forwarded"),
            "deadlines": [],
            "labels": {},
            "mine": True,
        },
        roles=("member",),
        lang=lang,
    )
    text = _text(html)
    assert 'id="opinion-cancelled"' in html and CANCELLATION_NOTE in text and "ops.sun" in text
    assert "2026-12-02 14:30" in text and "2026-12-02 06:30" not in text  # China's time, as every page
    assert ("无需答复" if lang == "zh-CN" else "no answer is owed") in text  # education's forward
    assert text.count("尚未答复" if lang == "zh-CN" else "No answer yet") == 0
    assert "opinion_action." not in html and "<code>cancelled</code>" not in html  # the history line is labelled
    assert html.count('class="done"') == STAGES.index("forwarded") + 1  # the stages reached stay done


# -- the year's adopted opinion items: one cancelled after its adoption --------------------------
ADOPTED = {
    "year": 2026,
    "audience": "members",
    "prepared_by": "staff.wang",
    "adopted": 2,
    "instructed": 0,
    "cancelled": 1,
    "personal_data": "",
    "items": [
        {
            "number": "SQ-2026-0001",
            "title": "关于路灯的建议",
            "submitter": "李*",
            "status": "handled",
            "adopted_by": [{"channel": "city_government", "issue": "市政府-2026-001"}],
            "instructions": [],
        },
        {
            "number": "SQ-2026-0002",
            "title": "关于食堂的建议",
            "submitter": "王*",
            "status": "cancelled",
            "adopted_by": [{"channel": "city_government", "issue": "市政府-2026-002"}],
            "instructions": [],
        },
    ],
}


@pytest.mark.parametrize("template", ["console/staff_report_opinions.html", "console/public_opinions.html"])
def test_an_adopted_item_cancelled_after_is_marked_in_the_consoles_reports(template):
    html = _html(
        template.removeprefix("console/"), {"report": ADOPTED, "year": 2026, "kind": "opinions"}, roles=("staff",)
    )
    assert html.count('data-status="cancelled"') == 1
    marked = html.split('data-status="cancelled"')[0]
    assert "SQ-2026-0002" in marked.rsplit("SQ-2026-0001", 1)[-1]  # the mark follows the cancelled item


def test_the_printable_adopted_report_marks_a_cancelled_item_and_counts_them():
    from services.gateway.reports import render

    html = render(
        "adopted_opinions.html", f=ADOPTED, heading="社情民意信息采用情况通报", personal_data_note=""
    ).get_data(as_text=True)
    assert "其中 1 件采用后撤销办理" in html
    row = html.split("SQ-2026-0002")[1].split("</tr>")[0]
    assert "（已撤销 cancelled）" in row and "（已撤销" not in html.split("SQ-2026-0002")[0]


# -- a refusal because the process was cancelled ----------------------------------------------------
INTAKE_REFUSAL = {
    "message": "the handling of proposal 2026-7 was cancelled on 2026-12-02 06:30 UTC by ops.sun (重复立案); "
    "it takes no more ratings",
    "details": {
        "cancelled": {
            "reason": "process_cancelled",
            "by": "ops.sun",
            "at": "2026-12-02T06:30:00+00:00",
            "note": "重复立案",
        }
    },
}
EVALUATION_REFUSAL = {
    "message": "the process of 2026-7 was cancelled by ops.sun on 2026-12-02 06:30 UTC (重复立案); round 1 ...",
    "details": {
        "round": 1,
        "cancelled": {
            "reason": "process_cancelled",
            "by": "ops.sun",
            "at": "2026-12-02T06:30:00+00:00",
            "note": "重复立案",
        },
    },
}
# the evaluation service's shape before refusals shared one: the operator's words as ``reason``
OLD_EVALUATION_REFUSAL = {
    "message": "the process of 2026-7 was cancelled",
    "details": {"round": 1, "cancelled": {"by": "ops.sun", "at": "2026-12-02T06:30:00+00:00", "reason": "重复立案"}},
}


@pytest.mark.parametrize("body", [INTAKE_REFUSAL, EVALUATION_REFUSAL, OLD_EVALUATION_REFUSAL])
def test_a_refusal_for_a_cancelled_process_says_who_when_and_why_in_the_readers_language(body):
    html = entities.unescape(_html("refused.html", {"answer": api.Answer(409, body)}, roles=("member",)))
    zh = i18n.translator("zh-CN")
    assert 'id="refused-cancelled"' in html and zh("refused.cancelled.process") in html
    assert "2026-12-02 14:30" in html and "ops.sun" in html and "重复立案" in html
    # the details are said in words, not listed as raw fields
    assert "<code>cancelled</code>" not in html and "<code>round</code>" not in html and "'reason'" not in html


def test_a_refusal_for_a_reassigned_assignment_says_so_and_an_ordinary_one_says_nothing_of_cancelling():
    reassigned = {
        "message": "assignment 9 was cancelled when staff reassigned",
        "details": {"cancelled": {"reason": "reassigned"}},
    }
    html = entities.unescape(_html("refused.html", {"answer": api.Answer(409, reassigned)}, roles=("unit",)))
    assert i18n.translator("zh-CN")("refused.cancelled.reassigned") in html
    ordinary = {"message": "not now", "details": {"text": ["required"], "round": 2}}
    html = entities.unescape(_html("refused.html", {"answer": api.Answer(400, ordinary)}, roles=("unit",)))
    assert 'id="refused-cancelled"' not in html and "<code>text</code>: required" in html
    assert "<code>round</code>: 2" in html  # a round is said as a field where no cancellation says it
    # every shape a service's details take is shown, none breaks the page
    shapes = {"message": "no", "details": {"outcome": {"work": 3, "result": None}, "ids": [4, 5], "ok": False}}
    html = entities.unescape(_html("refused.html", {"answer": api.Answer(409, shapes)}, roles=("unit",)))
    assert "<code>outcome</code>: work: 3; result: " in html and "<code>ids</code>: 4; 5" in html
    assert "<code>ok</code>: False" in html


def _refusal_page(referrer: str | None, path: str = "/console/proposals/2026-7/rate"):
    headers = {"Referer": referrer} if referrer else {}
    request = Request(
        EnvironBuilder(path=path, method="POST", headers=headers, base_url="http://ztc.example").get_environ()
    )
    visit = Visit(None, request, "token", {"user": "member.li", "roles": ["member"], "unit": None}, "zh-CN")
    return visit.refusal(api.Answer(409, INTAKE_REFUSAL)).get_data(as_text=True)


def test_a_refusal_links_back_to_the_console_page_the_form_was_on():
    html = _refusal_page("http://ztc.example/console/proposals/2026-7?tab=reply")
    assert 'href="/console/proposals/2026-7?tab=reply" id="refused-back"' in html
    assert 'href="/console"' in html  # and home, as before


@pytest.mark.parametrize(
    "referrer",
    [
        None,
        "http://elsewhere.example/console/proposals/2026-7",
        "http://ztc.example/api/proposals",
        "http://ztc.example/console/proposals/2026-7/rate",
    ],
)
def test_no_link_back_to_another_site_a_page_outside_the_console_or_the_refused_request_itself(referrer):
    assert 'id="refused-back"' not in _refusal_page(referrer)


@pytest.mark.parametrize(
    "template, context",
    [
        (
            "notifications.html",
            {
                "notes": [
                    {"id": 1, "title": "t", "text": "x", "subject": "2026-7", "created_at": "2026-12-02T18:30:00+00:00"}
                ]
            },
        ),
        (
            "unit_decisions.html",
            {
                "decisions": [
                    {"kind": "objection", "at": "2026-12-02T18:30:00+00:00", "by": "staff.wang", "outcome": "kept"}
                ]
            },
        ),
    ],
)
def test_the_pages_that_printed_a_stored_time_as_utc_show_chinas_time(template, context):
    """A time stored at 18:30 UTC is 02:30 the next day in China: every page says the same moment."""
    base = PAGES.get(template, {})
    html = _html(template, {**base, **context}, roles=("unit", "member"))
    assert "2026-12-03 02:30" in html and "2026-12-02 18:30" not in html


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_cancelled_key_proposals_log_says_so_and_offers_no_form(lang, monkeypatch):
    monkeypatch.setattr(Visit, "may", lambda self, route: True)  # the leader may write the log

    def page_for(log):
        request = Request(EnvironBuilder(path="/console/leader/supervision/2026-7").get_environ())
        leader = {"user": "leader.chen", "roles": ["leader"], "unit": None}
        context = {**PAGES["leader_supervision.html"], "log": log, "refused": None}
        return entities.unescape(
            Visit(None, request, "token", leader, lang)
            .render("leader_supervision.html", **context)
            .get_data(as_text=True)
        )

    live_log = PAGES["leader_supervision.html"]["log"]
    assert 'id="log-form"' in page_for(live_log) and 'id="log-cancelled"' not in page_for(live_log)
    cancelled = {"by": "ops.sun", "at": "2026-12-02T06:30:00+00:00", "reason": CANCELLATION_NOTE}
    entry = {"id": 2, "kind": "cancelled", "text": CANCELLATION_NOTE, "leader": "ops.sun", "at": cancelled["at"]}
    html = page_for({**live_log, "entries": [*live_log["entries"], entry], "cancelled": cancelled})
    words = i18n.translator(lang)
    assert 'id="log-cancelled"' in html and words("leader.cancelled") in html and CANCELLATION_NOTE in html
    assert words("leader.kind.cancelled") in html and "2026-12-02 14:30" in html
    assert 'id="log-form"' not in html


# -- the committee's filing decision, back after a cancellation -------------------------------------
def test_why_a_proposal_is_at_the_filing_decision_again_comes_from_its_last_line():
    from services.gateway.console.staff import _came_back

    merged = {"action": "merged", "data": {"merged_into": "2026-12"}}
    unmerged = {
        "action": "handling",
        "data": {"event": "process.cancelled", "unmerged": True, "main": "2026-12", "reason": "重复"},
    }
    refused = {"action": "filing_refused", "data": {"code": "merge_target_invalid", "message": "cannot merge"}}
    assert _came_back([merged, unmerged]) == {"why": "unmerged", "main": "2026-12", "reason": "重复"}
    assert _came_back([refused]) == {"why": "filing_refused", "message": "cannot merge"}
    assert _came_back([refused, {"action": "filed", "data": {}}]) is None  # decided since
    assert _came_back([{"action": "pre_review_opened", "data": {}}]) is None


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_the_filing_form_says_why_it_is_back_and_offers_no_merge_into_a_cancelled_proposal(lang):
    task = {"task_id": "t-1", "task": "filing_decision", "business_key": "2026-13"}
    context = {
        "t-1": {
            "duplicates": [
                {
                    "number": "2026-12",
                    "title": "x",
                    "score": 0.9,
                    "proposal": {"status": "cancelled", "suggestions": "s"},
                    "mergeable": False,
                },
                {
                    "number": "2026-14",
                    "title": "y",
                    "score": 0.8,
                    "proposal": {"status": "filed", "suggestions": "s"},
                    "mergeable": True,
                },
            ],
            "own": {"title": "own", "suggestions": "s"},
            "came_back": {"why": "unmerged", "main": "2026-12", "reason": "重复立案"},
        }
    }
    html = entities.unescape(
        _html("staff_duplicates.html", {"task": task, "task_context": context, "n": 1}, roles=("committee",), lang=lang)
    )
    words = i18n.translator(lang)
    assert words("filing.came_back_unmerged", main="2026-12", reason="重复立案") in html
    assert 'value="2026-12"' not in html and 'value="2026-14"' in html  # merge only into one in handling
    assert words("duplicates.not_mergeable", status=words("status.cancelled")) in html
