"""A member's opinion items (我的社情民意信息) and performance file (我的履职档案) in Debian's
chromium, every service running: a member submits an item in the console (a wrong form first,
shown again as typed), finds it in their list and on its page with its status and history, and
sees the points its submission earned in their performance file with the event behind them,
choosing a period by keyboard alone; an informant gets the opinion pages and no performance file.
Each page is scanned by axe-core and checked at 375 px."""

from __future__ import annotations

import re

import pytest

from tests.support import wait_for

from .conftest import once_on_sqlite
from .test_console_flow import _csrf, _session, chrome, complete_task, console, log_in, open_until, press, text_of  # noqa: F401
from .test_micro_consultation import ISSUE, until_status
from .test_proposal_lifecycle import Api

_once = once_on_sqlite("the console is driven in a browser once, on SQLite")

ITEM = {
    "op-title": "关于在地铁站增设母婴室的建议",
    "op-analysis": "现有站点缺少哺乳和换尿布的空间，家长只能在卫生间处理。",
    "op-suggestion": "新建站点按标准配置母婴室，既有站点分批改造。",
}
SITUATION = "全市地铁站中设有母婴室的不足一成，高峰时段母婴出行不便。"


def _submitted(driver) -> str:
    """The item's number, once its page (titled by its number) has replaced the form."""
    return wait_for(
        lambda: driver.find_elements("id", "opinion-title") and driver.title.split(" · ")[0],
        timeout=15,
        message="the item's page",
    )


@pytest.mark.browser
def test_a_member_submits_an_opinion_item_follows_it_and_sees_its_points_with_the_event_behind_them(console, chrome):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, camera = chrome
    log_in(driver, console, "member.li")
    driver.find_element(By.ID, "nav-opinions").click()
    wait_for(lambda: driver.current_url.endswith("/console/opinions"), timeout=10, message="my opinion items")
    driver.get(console + "/opinions/new")

    # Without its situation the item is refused: the form comes back with what is wrong, as typed.
    for field, text in ITEM.items():
        driver.find_element(By.ID, field).send_keys(text)
    driver.find_element(By.ID, "op-urgent").click()
    press(driver, driver.find_element(By.ID, "submit-opinion"))
    assert text_of(driver, "form-errors") and text_of(driver, "op-situation-error")
    for field, text in ITEM.items():
        assert driver.find_element(By.ID, field).get_attribute("value") == text
    assert driver.find_element(By.ID, "op-urgent").is_selected()
    camera.check("opinion-refused")

    driver.find_element(By.ID, "op-situation").send_keys(SITUATION)
    camera.check("opinion-form", doc="opinion-form", doc_on_phone=True)
    press(driver, driver.find_element(By.ID, "submit-opinion"))
    number = _submitted(driver)
    assert text_of(driver, "status") == "未审核" and "急事急报" in text_of(driver, "main")
    assert "报送" in text_of(driver, "history")
    camera.check("opinion-item", doc="opinion-item")

    # In their list, linked to its page.
    row = open_until(driver, console + "/opinions", f'tr[data-number="{number}"]')
    assert ITEM["op-title"] in row.text and "未审核" in row.text
    camera.check("opinions")
    press(driver, row.find_element(By.TAG_NAME, "a"))
    assert driver.title.startswith(number)

    # The submission earned points (opinion.submitted): the file shows the entry with its event,
    # linked to the item; the period is chosen by keyboard alone.
    entry = open_until(driver, console + "/performance", f'tr.entry[data-subject="{number}"]')
    assert "opinion.submitted" in entry.text and "报送社情民意信息" in entry.text
    assert text_of(driver, "total")
    camera.check("performance", doc="performance-file")
    quarter = entry.find_element(By.XPATH, "./ancestor::table").get_attribute("data-period")
    period = driver.find_element(By.ID, "period")
    for _ in range(200):  # past the navigation, to the period field
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element == period:
            break
    driver.switch_to.active_element.send_keys(quarter + Keys.ENTER)
    wait_for(lambda: f"period={quarter}" in driver.current_url, timeout=10, message="the quarter's file")
    assert driver.find_elements(By.CSS_SELECTOR, f'table[data-period="{quarter}"] tr.entry[data-subject="{number}"]')
    camera.check("performance-quarter")

    # An informant has the same opinion pages and no performance file (the API reads members' files).
    log_in(driver, console, "informant.he")
    assert driver.find_elements(By.ID, "nav-opinions") and not driver.find_elements(By.ID, "nav-performance")
    driver.get(f"{console}/opinions/{number}")
    assert "another submitter's" in text_of(driver, "refusal")  # not published: refused as the API refuses
    driver.get(console + "/performance")
    assert "this needs one of the roles" in text_of(driver, "main")


def test_an_informant_saves_an_item_finds_it_among_their_drafts_and_submits_it_later(console):
    http, _ = _session(console, "informant.he")
    form = {
        "title": "关于夜间施工扰民的情况",
        "situation": "工地夜间施工。",
        "analysis": "监管不足。",
        "suggestion": "加强巡查。",
    }
    saved = http.post(
        console + "/opinions",
        data={**form, "action": "save", "csrf": _csrf(http, console + "/opinions/new")},
        allow_redirects=False,
        timeout=10,
    )
    assert saved.status_code == 303, saved.text
    page = saved.headers["Location"]
    number = page.rsplit("/", 1)[1]
    assert 'id="status">已保存' in http.get(console + page.removeprefix("/console"), timeout=10).text
    drafts = re.search(
        r'<ul class="list" id="drafts">(.*?)</ul>', http.get(console + "/opinions", timeout=10).text, re.S
    )
    assert drafts and number in drafts.group(1)
    submitted = http.post(
        f"{console}/opinions/{number}/submit",
        data={"csrf": _csrf(http, f"{console}/opinions/{number}")},
        allow_redirects=False,
        timeout=10,
    )
    assert submitted.status_code == 303, submitted.text
    shown = http.get(f"{console}/opinions/{number}", timeout=10).text
    assert 'id="status">未审核' in shown and 'id="submit-saved"' not in shown
    again = http.post(
        f"{console}/opinions/{number}/submit",
        data={"csrf": _csrf(http, f"{console}/opinions/{number}")},
        allow_redirects=False,
        timeout=10,
    )
    assert again.status_code == 409 and 'id="refusal"' in again.text  # submitted once only


@pytest.mark.browser
def test_staff_dispatch_a_case_and_the_member_declines_then_takes_it_in_the_console(console, chrome, running):
    """The micro-consultation's tasks have forms in the console: staff dispatch a resident's case to
    a member, the member declines it without a reason (refused, saying which field) and then takes
    it; the case's status follows."""
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    api = Api(*running)
    number = api("staff", "POST", "/api/consultations", {**ISSUE, "title": "楼道堆物堵塞消防通道"}, expect=201).json()[
        "number"
    ]
    log_in(driver, console, "staff.wang")
    open_until(driver, console + "/tasks", f'form[data-key="{number}"] input[value="consultation.dispatch"]')
    camera.check("case-dispatch-form")
    complete_task(
        driver,
        console,
        "dispatch",
        number,
        fields={"member": "member.li", "dispatch_note": "请尽快联系居民"},
        ticks=[("dispatch_action", "dispatch")],
    )

    log_in(driver, console, "member.li")
    form = open_until(driver, console + "/tasks", f'form[data-task="take"][data-key="{number}"]')
    form.find_element(By.CSS_SELECTOR, 'input[name="accepted"][value="no"]').click()
    press(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "decline_reason" in text_of(driver, "main")  # declined without saying why: refused by name
    complete_task(driver, console, "take", number, ticks=[("accepted", "yes")])
    assert until_status(api, number, "taken")["status"] == "taken"
