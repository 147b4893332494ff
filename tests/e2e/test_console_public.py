"""The public's console pages in Debian's chromium, signed in as nobody: a resident raises an issue
at a contact point through the form and follows it by the reference it was given; what is not
published is not found; a form without its secret is refused; each page scanned by axe-core and
checked at 375 px, the case raised by keyboard alone."""

from __future__ import annotations

import re

import pytest
import requests

from tests.support import wait_for

from .conftest import once_on_sqlite
from .test_console_flow import chrome, console, text_of  # noqa: F401 - fixtures

_once = once_on_sqlite("the console is driven in a browser once, on SQLite")


@pytest.mark.browser
def test_a_resident_raises_an_issue_and_follows_it_by_its_reference(console, chrome):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver, camera = chrome
    driver.get(console + "/public")
    assert "/console/login" not in driver.current_url
    camera.check("public-home", doc="public-home")
    links = driver.find_element(By.ID, "public-links").text
    assert "公开的提案及答复" in links and "我要提诉求" in links

    driver.get(console + "/public/cases/new")
    venues = Select(driver.find_element(By.ID, "venue"))
    assert any(option.get_attribute("value") == "cp_jiefang" for option in venues.options)
    camera.check("raise-form", doc="public-case", doc_on_phone=True)
    # By keyboard alone: the venue chosen with the arrow keys, each field reached with Tab, the
    # form sent with Enter in the last one.
    venue = driver.find_element(By.ID, "venue")
    for _ in range(len(venues.options)):
        if Select(venue).first_selected_option.get_attribute("value") == "cp_jiefang":
            break
        venue.send_keys(Keys.DOWN)
    assert Select(venue).first_selected_option.get_attribute("value") == "cp_jiefang"
    for field, typed in (
        ("title", "小区门口路灯不亮"),
        ("description", "解放路小区门口两盏路灯已坏了一个月，晚上出行不便。"),
        ("resident_name", "赵大妈"),
        ("resident_phone", "13800001111"),
    ):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        assert driver.switch_to.active_element.get_attribute("id") == field
        driver.switch_to.active_element.send_keys(typed)
    form = driver.find_element(By.ID, "case-form")
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: text_of(driver, "case-reference"), timeout=30, message="the case's reference")
    reference = text_of(driver, "case-reference")
    assert len(reference) >= 20 and not driver.find_elements(By.ID, "case-form"), form
    camera.check("case-raised")
    page = driver.page_source
    assert "赵大妈" not in page and "13800001111" not in page  # the resident's name and phone never show

    # Followed by the reference, as the resident would later: from the form on the page.
    driver.delete_all_cookies()
    driver.get(console + "/public/cases")
    box = driver.find_element(By.ID, "reference")
    box.send_keys(reference + Keys.ENTER)
    wait_for(lambda: text_of(driver, "case-stage"), timeout=30, message="the case's stage")
    assert text_of(driver, "case-stage") in {"已登记", "已派单"}
    assert "小区门口路灯不亮" in text_of(driver, "case-status")
    camera.check("case-followed", doc="public-case-status")

    # A reference nobody was given: not found, said in words.
    driver.get(console + "/public/cases?reference=" + "x" * 24)
    assert "没有找到" in text_of(driver, "refusal")


def _form_secret(http, console):
    page = http.get(console + "/public/cases/new", timeout=10)
    return re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)


def test_a_bad_issue_is_shown_again_with_what_is_wrong_and_everything_typed(console):  # noqa: F811
    http = requests.Session()
    answer = http.post(
        console + "/public/cases",
        timeout=10,
        data={
            "csrf": _form_secret(http, console),
            "venue": "cp_jiefang",
            "title": "   ",
            "description": "保留的说明文字",
            "resident_name": "钱先生",
            "resident_phone": "not a phone",
        },
    )
    assert answer.status_code in (400, 422)
    assert 'id="title-error"' in answer.text and 'id="resident_phone-error"' in answer.text
    assert "保留的说明文字" in answer.text and "钱先生" in answer.text


def test_a_public_form_without_its_secret_is_refused_and_raises_nothing(console, system):  # noqa: F811
    issue = {"venue": "cp_jiefang", "title": "无凭证的诉求", "description": "说明", "resident_name": "孙"}
    refused = requests.post(console + "/public/cases", data=issue, timeout=10)
    assert refused.status_code == 403
    other = requests.Session()
    _form_secret(other, console)  # a secret of another visitor's cookie does not do
    forged = requests.post(
        console + "/public/cases",
        data={**issue, "csrf": "0" * 64},
        timeout=10,
        cookies={"ztc_console_public": "someone-elses"},
    )
    assert forged.status_code == 403
    from tests.e2e.conftest import call

    cases = call(system.base, system.tokens["staff"], "GET", "/api/consultations?per_page=200").json()["items"]
    assert not [c for c in cases if c.get("title") == "无凭证的诉求"]  # newest first: one made would be here


def test_what_is_not_published_is_not_found_on_the_public_pages(console, system):  # noqa: F811
    from tests.e2e.conftest import call

    number = call(
        system.base,
        system.tokens["member"],
        "POST",
        "/api/proposals",
        {
            "kind": "between_sessions",
            "title": "尚未公开的提案",
            "situation": "情况。",
            "analysis": "分析。",
            "suggestions": "建议。",
            "publish_consent": True,
        },
    ).json()["number"]
    answer = requests.get(f"{console}/public/proposals/{number}", timeout=10)
    assert answer.status_code == 404 and "尚未公开的提案" not in answer.text
    listed = requests.get(console + "/public/proposals", timeout=10)
    assert listed.status_code == 200 and number not in listed.text
    notice = requests.get(console + "/public/notice/2026", timeout=10)
    assert notice.status_code == 200 and 'id="public-notice"' in notice.text
    opinions = requests.get(console + "/public/opinions/2026", timeout=10)
    assert opinions.status_code == 200 and 'id="public-opinions"' in opinions.text
    # The venues a resident chooses from: where they are, never who serves there.
    venues = requests.get(system.base + "/api/public/venues", timeout=10).json()
    assert venues and all(set(v) == {"code", "name", "kind", "kind_zh", "town", "address"} for v in venues), venues[0]
