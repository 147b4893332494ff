"""The web console without a browser: accounts and sessions, the CSRF check, the catalogues, the
task forms' data, and every page rendered in both languages from answers shaped like the API's."""
from __future__ import annotations

import re

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.gateway import tokens
from services.gateway.console import accounts, api, i18n, session
from services.gateway.console.views import Visit
from services.gateway.console.work import task_data
from services.gateway.models import Base
from shared import config
from shared.db import dispose_all, get_engine, session_factory
from shared.errors import Forbidden, InvalidInput, Unauthenticated
from shared.rulebook import current_rulebook


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


def test_a_console_session_is_an_api_token_that_logout_revokes(db):
    accounts.set_password(db, "handler.zhao", "long enough", ["unit"], "transport")
    token = session.start(db, config.load({}), accounts.check(db, "handler.zhao", "long enough"))
    assert tokens.principal_for(db, f"Bearer {token}") == {"user": "handler.zhao", "roles": ["unit"], "unit": "transport"}
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
        "eligible": True, "content_ok": False, "format_ok": True, "pre_review_notes": ""}
    assert task_data("assign", MultiDict({"mode": "several", "units": "transport, education、health"}))["units"] == [
        "transport", "education", "health"]
    lead = task_data("assign", MultiDict({"mode": "lead_co", "units": "x", "lead": "transport", "co_units": "education"}))
    assert lead == {"mode": "lead_co", "units": [], "lead": "transport", "co_units": ["education"]}
    assert task_data("filing_decision", MultiDict({"decision": "not_filed", "reason_code": "academic_debate"}))[
        "reason_code"] == "academic_debate"


PROPOSAL = {"number": "2026-7", "title": "学校周边过街设施", "status": "assigned", "initiator": "member.li",
            "situation": "情况", "analysis": "分析", "suggestions": "建议", "cosign_due": "2026-11-30T08:00:00+00:00",
            "cosigners": [{"user": "member.zhou", "order": 1, "status": "invited", "confirmed_at": None}],
            "filing": None}
DEADLINE = {"rule": "reply_deadline", "unit": "transport", "due": "2027-03-01", "provisional": True,
            "start": {"event": "signed", "date": "2026-12-01"}, "duration": {"amount": 3, "unit": "months"},
            "rulebook": {"version": "2026.3"}, "explanation": "3 months from signing"}
PAGES = {
    "login.html": {"user": "", "error": "wrong", "login_csrf": "x", "next": "/console"},
    "home.html": {"unread": 2},
    "proposals.html": {"proposals": [PROPOSAL], "invited": [PROPOSAL]},
    "proposal_new.html": {"draft": {"kind": "plenary", "publish_consent": False, "cosigners": ["member.zhou"]},
                          "errors": {"title": ["required"]},
                          "members": [{"user": "member.zhou", "name": "周雅琴", "sector": "教育界"}]},
    "proposal.html": {"p": PROPOSAL, "stages": ("cosigning", "submitted", "assigned"), "reached": 2, "invited": True,
                      "proposer": True, "deadlines": [DEADLINE],
                      "reply": {"rounds": [{"replies": [{"unit": "transport", "category": "A", "text": "已办"}]}]},
                      "ratings": {"rounds": [{"ratings": [{"rater": "member.li", "handling": "satisfied",
                                                           "result": "unsatisfied"}]}]}},
    "notifications.html": {"notes": [{"id": 1, "title": "已交办", "text": "t", "subject": "2026-7",
                                      "created_at": "2026-11-29T10:00:00", "read_at": None}]},
    "tasks.html": {"tasks": [{"task": name, "task_id": f"t{i}", "business_key": "2026-7"} for i, name in enumerate(
        ("pre_review", "filing_decision", "assign", "review_reply", "grade_quality", "approve_extension"))],
        "forms": ("pre_review", "filing_decision", "assign", "review_reply", "grade_quality"),
        "reasons": current_rulebook("proposal").reasons(), "grades": current_rulebook("proposal").quality_grades(),
        "standards": current_rulebook("proposal").quality_standards(), "areas": current_rulebook("proposal").areas(),
        "suggestions": {"2026-7": [{"unit": "transport", "name": "交通运输局", "reasons": ["keyword 公交"]}]}},
    "assignment_co.html": {"a": {"id": 4, "number": "2026-7", "unit": "education", "role": "co", "status": "signed",
                                 "signed_at": "2026-11-29", "replies": []}, "deadlines": [], "categories": []},
    "assignments.html": {"rows": [{"id": 3, "number": "2026-7", "role": "lead", "status": "assigned"}]},
    "assignment.html": {"a": {"id": 3, "number": "2026-7", "unit": "transport", "role": "single", "status": "signed",
                              "signed_at": "2026-11-29", "replies": [{"status": "draft", "category": "A", "text": "稿"}]},
                        "deadlines": [DEADLINE], "categories": current_rulebook("proposal").reply_categories()},
    "published.html": {"rows": [{"number": "2026-7", "title": "t", "units": ["transport"], "reply_category": "A",
                                 "reply_summary": "s"}]},
    "refused.html": {"answer": api.Answer(403, {"message": "this needs one of the roles: staff",
                                                "details": {"roles": ["staff"], "request_id": "r"}})},
}


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
@pytest.mark.parametrize("template", sorted(PAGES))
def test_every_page_renders_in_both_languages_with_nothing_untranslated(template, lang):
    request = Request(EnvironBuilder(path="/console/x").get_environ())
    principal = {"user": "member.li", "roles": ["member", "staff", "unit", "committee"], "unit": "transport"}
    response = Visit(None, request, "token", principal, lang).render(template.replace("_co", ""), **PAGES[template])
    html = response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert f'<html lang="{lang}">' in html
    # What a reader sees holds no catalogue key (a text missing from both catalogues shows its key).
    text = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.S).replace("member.li", "").replace("member.zhou", "")
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
    done = runner.invoke(main, ["console-user", "set", "--user", "handler.zhao", "--role", "unit", "--unit", "transport",
                                "--password-stdin"], input="a long password\n")
    assert done.exit_code == 0, done.output
    refused = runner.invoke(main, ["console-user", "set", "--user", "member.li", "--role", "member",
                                   "--password-stdin"], input="short\n")
    assert refused.exit_code != 0 and "at least 8" in refused.output
    with session_factory(f"sqlite:///{tmp_path}/gateway.db")() as db:
        assert accounts.check(db, "handler.zhao", "a long password").unit == "transport"
        with pytest.raises(Unauthenticated):
            accounts.check(db, "member.li", "short")
    dispose_all()


@pytest.mark.parametrize("roles,buttons", [(["unit"], True), (["staff"], False), (["committee", "leader"], False)])
def test_only_a_unit_handler_sees_the_buttons_to_sign_and_reply(roles, buttons):
    request = Request(EnvironBuilder(path="/console/assignments/3").get_environ())
    unsigned = {"id": 3, "number": "2026-7", "unit": "transport", "role": "single", "status": "assigned",
                "signed_at": None, "replies": []}
    html = Visit(None, request, "token", {"user": "x", "roles": roles, "unit": "transport"}, "zh-CN").render(
        "assignment.html", a=unsigned, deadlines=[], categories=[]).get_data(as_text=True)
    assert ('id="sign"' in html) is buttons
    signed = dict(unsigned, signed_at="2026-11-29", status="signed")
    html = Visit(None, request, "token", {"user": "x", "roles": roles, "unit": "transport"}, "zh-CN").render(
        "assignment.html", a=signed, deadlines=[], categories=current_rulebook("proposal").reply_categories()
    ).get_data(as_text=True)
    assert ('id="save-draft"' in html) is buttons
