"""The unit handler's and the leader's console pages in Debian's chromium, every service running:
a unit handler objects with a reason and reads that staff kept the assignment; asks for an
extension (a wrong form first, shown again as typed) and sees the committee's decision; reports a
category B milestone done and sends the follow-up reply; records a face-to-face meeting with the
proposer (a day still to come first, shown again as typed); a leader adds to a key proposal's supervision log by keyboard alone and
records an instruction on an adopted opinion item; a member sees none of these links and is refused
on each page and action. What other people do first (filing, assigning, choosing key proposals,
adopting) is driven through the API, as the API scenarios do; each page is scanned by axe-core and
checked at 375 px."""

from __future__ import annotations


import pytest


from tests.support import wait_for

from .conftest import once_on_sqlite
from .test_console_operator import tab_to
from .test_console_flow import _csrf, _session, chrome, console, log_in, open_until, press, shown, text_of  # noqa: F401
from .test_extensions import approved_as_asked, signed_and_clocked
from .test_followups_and_appeals import b_reply_accepted
from .test_key_proposals import filed
from .test_opinions import ITEM, PASSED, item, step, until_status
from .test_proposal_lifecycle import Api, assigned_to_transport, file_it, submit

_once = once_on_sqlite("the console is driven in a browser once, on SQLite")


def seen(driver, element_id: str, text: str = "") -> str:
    """The text of ``element_id`` once the page a form led to has loaded and it holds ``text``."""

    def shows():
        ready = driver.execute_script("return document.readyState") == "complete"
        found = text_of(driver, element_id)
        return ready and found and text in found and found

    try:
        return wait_for(shows, timeout=30, message=f"{text!r} in #{element_id}")
    except AssertionError as exc:  # say where the browser is instead
        raise AssertionError(f"{exc}; the page shown: {driver.current_url} {text_of(driver, 'main')[:400]!r}") from None


@pytest.fixture(scope="module")
def api(system):
    return Api(system.base, system.tokens)


@pytest.mark.browser
def test_a_unit_handler_asks_for_an_extension_and_sees_the_committees_decision(console, chrome, api):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    number = submit(api)
    mine, due = signed_and_clocked(api, number)
    page = f"{console}/assignments/{mine['id']}"
    log_in(driver, console, "handler.zhao")
    driver.get(page)

    # Until a date, but no date given: the form comes back with what is wrong and the reason as typed.
    shown(driver, "#ext-by-until").click()
    driver.find_element(By.ID, "ext-reason").send_keys("等待年度预算批复")
    press(driver, driver.find_element(By.ID, "ask-extension"))
    assert seen(driver, "extension-errors") and text_of(driver, "ext-until-error")
    assert driver.find_element(By.ID, "ext-reason").get_attribute("value") == "等待年度预算批复"
    assert driver.find_element(By.ID, "ext-by-until").is_selected()
    assert api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["extension_requests"] == []

    # Two months, as the API accepts: staff approve it, and the unit reads the decision.
    driver.find_element(By.ID, "ext-by-months").click()
    driver.find_element(By.ID, "ext-months").send_keys("2")
    camera.check("extension-form")
    press(driver, driver.find_element(By.ID, "ask-extension"))
    seen(driver, "extension-requests", "待审批")
    assert not driver.find_elements(By.ID, "extension-form")  # one request at a time
    until = approved_as_asked(api, number, due, months=2)
    open_until(driver, page, '#decisions [data-decision="extension_approved"]')
    assert "延期申请已批准" in text_of(driver, "decisions") and until in text_of(driver, "decisions")
    assert "已批准" in text_of(driver, "extension-requests")
    camera.check("extension-decided", doc="unit-decisions")


@pytest.mark.browser
def test_a_unit_handler_objects_with_its_reason_and_reads_that_staff_kept_the_assignment(console, chrome, api):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    page = f"{console}/assignments/{mine['id']}"
    log_in(driver, console, "handler.zhao")
    driver.get(page)
    shown(driver, "#object-reason").send_keys("属教育部门职责，建议改由教育局办理。")
    press(driver, driver.find_element(By.ID, "send-objection"))
    seen(driver, "objection", "属教育部门职责")
    assert not driver.find_elements(By.ID, "object-form")  # objected once
    api.complete("staff", "reassign", number, {"mode": "single", "units": ["transport"]})
    open_until(driver, page, '#decisions [data-decision="objection_kept"]')
    assert "异议未采纳，仍由本单位办理" in text_of(driver, "decisions")
    camera.check("objection-kept")


@pytest.mark.browser
def test_a_unit_handler_reports_a_b_milestone_done_and_the_follow_up_after_the_reply_was_accepted(console, chrome, api):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    b_reply_accepted(api, number, mine["id"])

    log_in(driver, console, "handler.zhao")
    page = f"{console}/assignments/{mine['id']}"
    open_until(driver, page, "#milestone-form")  # once the unit heard the reply was accepted
    decided = text_of(driver, "decisions")
    assert "答复已审核通过" in decided and "请在问题解决后报送后续答复" in decided
    assert not driver.find_elements(By.ID, "draft-form")  # replied: nothing left to draft
    driver.find_element(By.ID, "milestone-note").send_keys("设计招标已完成，中标单位已进场。")
    camera.check("milestone-form")
    press(driver, driver.find_element(By.ID, "report-milestone"))
    seen(driver, "replies", "✓ 设计招标已完成")
    options = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#milestone-number option")]
    assert len(options) == 1 and "完成改造" in options[0]  # only the milestone still open
    [first, _] = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["replies"][-1]["milestones"]
    assert first["done_at"] and first["done_by"] == "handler.zhao"
    camera.check("milestone-done")

    # The matter solved: the follow-up reply, shown as sent, and no second one offered.
    shown(driver, "#followup-text").send_keys("改造已于年底完成。")
    press(driver, driver.find_element(By.ID, "send-followup"))
    assert "改造已于年底完成" in seen(driver, "followup-section", "后续答复已发送")
    assert not driver.find_elements(By.ID, "followup-form")


@pytest.mark.browser
def test_a_unit_handler_records_a_face_to_face_meeting_with_the_proposer(console, chrome, api):
    from datetime import datetime

    from selenium.webdriver.common.by import By

    from shared.calendar import CHINA_TZ

    driver, camera = chrome
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    page = f"{console}/assignments/{mine['id']}"
    log_in(driver, console, "handler.zhao")
    driver.get(page)
    met_on = datetime.fromisoformat(mine["assigned_at"]).astimezone(CHINA_TZ).date().isoformat()
    set_date = "arguments[0].value = arguments[1]"  # a date typed into a date field depends on the locale

    # A day still to come: the form comes back with what is wrong and the rest as typed.
    driver.execute_script(set_date, shown(driver, "#contact-held-on"), "2099-01-01")
    driver.find_element(By.ID, "contact-participants").send_keys("交通局王处长与提案人")
    press(driver, driver.find_element(By.ID, "record-contact"))
    assert seen(driver, "contact-errors") and text_of(driver, "contact-held_on-error")
    assert driver.find_element(By.ID, "contact-participants").get_attribute("value") == "交通局王处长与提案人"
    assert api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["contacts"] == []

    # The day of the assignment, face to face (the rulebook's first kind): listed, counted.
    driver.execute_script(set_date, driver.find_element(By.ID, "contact-held-on"), met_on)
    driver.find_element(By.ID, "contact-note").send_keys("现场查看公交站亭。")
    camera.check("contact-form")
    press(driver, driver.find_element(By.ID, "record-contact"))
    assert "计入见面沟通" in seen(driver, "contacts", "交通局王处长与提案人")
    [contact] = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["contacts"]
    assert (contact["kind"], contact["held_on"], contact["recorded_by"]) == ("face_to_face", met_on, "handler.zhao")


def _key_proposal_of(api) -> tuple[int, str]:
    """A filed proposal the chair's meeting chose as a key proposal, supervised by leader.chen."""
    number = submit(api)
    file_it(api, number)
    filed(api, number)
    year = int(number.split("-")[0])
    items = [{"number": number, "reason": "涉及学生安全，群众关注度高", "leader": "leader.chen"}]
    listed = api("staff", "POST", f"/api/key-proposals/{year}/list", {"items": items}, expect=201).json()
    api("committee", "POST", f"/api/key-proposals/lists/{listed['id']}/decision", {}, expect=200)
    return year, number


def _adopted_opinion(api) -> str:
    """A member's item edited, signed off to the city government and adopted there."""
    number = api("member", "POST", "/api/opinions", {**ITEM, "title": "关于背街小巷照明的建议"}, expect=201).json()[
        "number"
    ]
    step(api, "staff", number, "editing", {**PASSED, "decision": "report"})
    until_status(api, number, "reviewed")
    step(api, "leader", number, "sign-off", {"approved": True, "channels": ["city_government"]})
    until_status(api, number, "sent")
    api(
        "staff",
        "POST",
        f"/api/opinions/{number}/adoptions",
        {"channel": "city_government", "adopted": True},
        expect=200,
    )
    return number


@pytest.mark.browser
def test_a_leader_adds_to_a_key_proposals_log_and_instructs_an_adopted_opinion_item(console, chrome, api):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver, camera = chrome
    year, number = _key_proposal_of(api)
    opinion = _adopted_opinion(api)

    log_in(driver, console, "leader.chen")
    driver.get(console)
    nav = driver.find_element(By.CSS_SELECTOR, "header nav").text
    assert "重点提案" in nav and "待批示信息" in nav and "承办收件箱" not in nav
    open_until(driver, f"{console}/leader/key-proposals?year={year}", f"#log-{number}")
    camera.check("key-proposals")
    # By keyboard alone: Tab to the proposal's log, Enter; the kind (a visit, the first), the text, save.
    tab_to(driver, f"#log-{number}").send_keys(Keys.ENTER)
    seen(driver, "log-form", "添加督办记录")
    assert Select(driver.find_element(By.ID, "log-kind")).first_selected_option.get_attribute("value") == "visit"
    tab_to(driver, "#log-text").send_keys("实地察看学校门前路口，要求月底前完成信号灯安装。")
    tab_to(driver, "#save-entry").send_keys(Keys.ENTER)
    assert "实地察看" in seen(driver, "log-entries", "实地察看学校门前路口")  # the kind, and what was seen
    camera.check("supervision-log")
    log = api("member", "GET", f"/api/proposals/{number}/supervision-log", expect=200).json()
    assert [(e["kind"], e["leader"]) for e in log["entries"]] == [("visit", "leader.chen")]

    form_css = f'form[data-number="{opinion}"][data-channel="city_government"]'
    form = open_until(driver, f"{console}/leader/opinions", form_css)
    Select(form.find_element(By.NAME, "level")).select_by_value("city")
    form.find_element(By.NAME, "leader").send_keys("陈市长")
    form.find_element(By.NAME, "text").send_keys("请市住建局牵头研究落实。")
    camera.check("opinions-awaiting", doc="leader-instruction")
    press(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    seen(driver, "main")
    assert driver.current_url.endswith("/console/leader/opinions"), text_of(driver, "refusal")
    assert not driver.find_elements(By.CSS_SELECTOR, form_css)  # instructed: no longer awaiting
    [instruction] = item(api, opinion)["instructions"]
    assert (instruction["channel"], instruction["level"], instruction["leader"]) == (
        "city_government",
        "city",
        "陈市长",
    )
    assert instruction["recorded_by"] == "leader.chen"


@pytest.mark.browser
def test_a_member_sees_no_unit_or_leader_link_and_is_refused_on_each_page_and_action(console, chrome, api):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    number = submit(api)
    mine = assigned_to_transport(api, number, sign=True)
    log_in(driver, console, "member.li")
    driver.get(console)
    for href in ("/console/assignments", "/console/leader/key-proposals", "/console/leader/opinions"):
        assert not driver.find_elements(By.CSS_SELECTOR, f'header nav a[href="{href}"]'), href
    driver.get(f"{console}/leader/key-proposals")
    assert "this needs one of the roles" in text_of(driver, "refusal")
    camera.check("member-refused")

    http, _ = _session(console, "member.li")
    csrf = _csrf(http, console)
    for path in ("/leader/key-proposals", "/leader/opinions", f"/assignments/{mine['id']}"):
        assert http.get(console + path, timeout=10).status_code == 403, path
    actions = {
        f"/assignments/{mine['id']}/extension": {"by": "months", "months": "2", "reason": "x"},
        f"/assignments/{mine['id']}/object": {"reason": "x"},
        f"/assignments/{mine['id']}/milestone": {"milestone": "1", "note": "x"},
        f"/assignments/{mine['id']}/followup": {"text": "x"},
        f"/leader/supervision/{number}": {"kind": "note", "text": "x"},
        "/leader/opinions/2026-S-1/instructions": {"channel": "city_government", "level": "city", "leader": "x"},
    }
    for path, form in actions.items():
        refused = http.post(console + path, data={**form, "csrf": csrf}, timeout=10)
        assert refused.status_code == 403 and "this needs one of the roles" in refused.text, path
    shown_to_unit = api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()
    assert shown_to_unit["extension_requests"] == [] and shown_to_unit["objection"] is None
