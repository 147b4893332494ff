"""The console's staff pages in Debian's chromium, every service running: staff decide a unit's
objection (moving the proposal to a unit a routing suggestion fills in) and its extension request
through the task forms; the overdue board per unit and the bulletin render the figures the API
gives, the bulletin ready to print; a member sees none of these pages' links and is refused them.
The proposals are driven to each step through the API, as the API scenarios drive them."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone

import pytest

from shared import clock
from shared.calendar import WorkingCalendar, local_date
from tests.support import wait_for

from .conftest import once_on_sqlite
from .test_console_flow import _session, chrome, console, log_in, open_until, press, text_of  # noqa: F401 - fixtures
from .test_extensions import reply_deadline
from .test_proposal_lifecycle import DRAFT, Api, assigned_to_transport, file_it, submit

_once = once_on_sqlite("the console is driven in a browser once, on SQLite")

PAGES = ("/overdue", "/reports", "/reports/notice/{year}", "/reports/bulletin/{year}", "/reports/opinions/{year}")


def today() -> date:
    """Today where the committee is (the services count days on it)."""
    return local_date(clock.now())


def signed_and_clocked(api, number) -> tuple[dict, date]:
    """Transport's assignment of ``number``, signed for, and its reply deadline counted from the signing."""
    mine = api.assignment("unit", number)
    api("unit", "POST", f"/api/assignments/{mine['id']}/sign", expect=200)
    due = wait_for(lambda: reply_deadline(api, number), timeout=60, message="the reply clock from the signing")
    return mine, date.fromisoformat(due["due"])


def choose(form, name, value):
    from selenium.webdriver.common.by import By

    form.find_element(By.CSS_SELECTOR, f'input[name="{name}"][value="{value}"]').click()


@pytest.mark.browser
def test_staff_move_a_unit_objection_and_approve_its_extension_as_asked_through_the_console(console, chrome, running):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    api = Api(*running)
    number = submit(api)
    file_it(api, number)
    api.complete("staff", "assign", number, {"mode": "single", "units": ["education"]})
    wrong = api.assignment("co_unit", number)
    api("co_unit", "POST", f"/api/assignments/{wrong['id']}/object", {"reason": "属交通部门职责"}, expect=200)

    # The objection with its reason; a click on the routing suggestion fills in the unit.
    log_in(driver, console, "staff.wang")
    form = open_until(driver, console + "/tasks", f'form[data-task="reassign"][data-key="{number}"]')
    assert "education" in form.text and "属交通部门职责" in form.text
    choose(form, "choice", "move")
    form.find_element(By.CSS_SELECTOR, 'button[data-unit="transport"]').click()
    assert form.find_element(By.NAME, "units").get_attribute("value") == "transport"
    camera.check("reassign")
    press(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert driver.current_url.endswith("/console/tasks"), text_of(driver, "refusal")
    decision = wait_for(
        lambda: api("co_unit", "GET", f"/api/assignments/{wrong['id']}", expect=200).json()["objection"]["decision"],
        timeout=60,
        message="the decision on the objection",
    )
    assert (decision["outcome"], decision["by"], decision["assigned_to"]) == ("reassigned", "staff.wang", ["transport"])

    # Transport signs and asks two more months; staff see what it asked and approve it as asked.
    mine, due = signed_and_clocked(api, number)
    asked = {"months": 2, "reason": "等待预算批复"}
    api("unit", "POST", f"/api/assignments/{mine['id']}/extension", asked, expect=200)
    form = open_until(driver, console + "/tasks", f'form[data-task="approve_extension"][data-key="{number}"]')
    assert "transport" in form.text and "2 个月" in form.text and "等待预算批复" in form.text
    camera.check("extension")
    # Without a choice the browser keeps the form (the choice is required): nothing is sent.
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert driver.current_url.endswith("/console/tasks") and form.is_displayed()
    choose(form, "decision", "approve")
    form.find_element(By.NAME, "extension_comment").send_keys("预算周期所需")
    press(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert driver.current_url.endswith("/console/tasks"), text_of(driver, "refusal")
    until = WorkingCalendar.add_months(due, 2).isoformat()
    [request] = wait_for(
        lambda: [
            e
            for e in api("unit", "GET", f"/api/assignments/{mine['id']}", expect=200).json()["extension_requests"]
            if e["decision"]
        ],
        timeout=60,
        message="the decision on the extension request",
    )
    assert (request["decision"]["outcome"], request["decision"]["until"]) == ("approved", until)


@pytest.mark.browser
def test_the_committee_sees_a_near_duplicate_beside_the_proposal_it_files_and_merges_it_into_that_one(
    console, chrome, running
):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    api = Api(*running)
    tag = uuid.uuid4().hex[:8]
    draft = DRAFT | {
        "title": f"关于{tag}片区农贸市场提升改造的建议",
        "suggestions": f"一、对{tag}片区农贸市场进行提升改造；二、增设停车位；三、规范摊位管理。",
    }
    first = api("member", "POST", "/api/proposals", draft, expect=201).json()["number"]
    file_it(api, first)
    second = api("member", "POST", "/api/proposals", draft | {"title": draft["title"] + "（续）"}, expect=201).json()
    second = second["number"]
    api.complete("staff", "pre_review", second, {"eligible": True, "content_ok": True, "format_ok": True})

    log_in(driver, console, "committee.liu")
    card = f'//section[.//form[@data-task="filing_decision"][@data-key="{second}"]]'
    open_until(driver, console + "/tasks", f'form[data-task="filing_decision"][data-key="{second}"]')
    pair = driver.find_element(By.XPATH, f'{card}//div[contains(@class, "side-by-side")][.//a[text()="{first}"]]')
    assert draft["title"] + "（续）" in pair.text and draft["suggestions"] in pair.text
    camera.check("filing-duplicates")
    press(driver, pair.find_element(By.CSS_SELECTOR, f'button[name="merge_with"][value="{first}"]'))
    assert driver.current_url.endswith("/console/tasks"), text_of(driver, "refusal")
    filing = wait_for(
        lambda: api("staff", "GET", f"/api/proposals/{second}", expect=200).json()["filing"],
        timeout=60,
        message="the filing decision",
    )
    assert (filing["decision"], filing["merged_into"], filing["decided_by"]) == ("merged", first, "committee.liu")


def backdate_reply_deadline(system, number, days) -> date:
    """The live reply deadline of ``number`` made due ``days`` ago, counted from a signing its
    months earlier, as if that time had passed (the shared system's clock is not moved: other
    modules run on it)."""
    from sqlalchemy import select

    from services.supervision.models import Deadline
    from shared.db import session_factory, transaction

    due = today() - timedelta(days=days)
    with transaction(session_factory(system.settings.database_url("supervision"))) as s:
        row = s.scalars(
            select(Deadline).where(
                Deadline.number == number, Deadline.rule == "reply_deadline", Deadline.closed_at.is_(None)
            )
        ).one()
        assert row.amount_unit == "months", row.amount_unit
        row.start_date = WorkingCalendar.add_months(due, -row.amount)
        row.started_at = datetime.combine(row.start_date, time(1), timezone.utc)
        row.due = row.original_due = due
    return due


def scored_as_co_unit(system, number, unit, total) -> None:
    """``unit`` scored ``total`` as a co-unit of ``number`` (协办), as evaluation records it once the
    proposal is rated: the units' assessment then counts it among the unit's proposals assisted."""
    from services.evaluation.models import HandlingScore
    from shared.db import session_factory, transaction

    with transaction(session_factory(system.settings.database_url("evaluation"))) as s:
        s.add(
            HandlingScore(
                number=number,
                unit=unit,
                role="co",
                year=int(number.split("-")[0]),
                items=[{"code": "input", "max": 40, "score": total}],
                total=total,
                facts={"input": "on_time"},
                rulebook_version="test",
                rulebook_hash="sha256:test",
                scored_at=clock.now(),
            )
        )


def co_unit_cells(driver) -> dict[str, dict[str, str]]:
    """``{unit: {figure: text}}`` of the bulletin's assessment table's cells named by ``data-figure``:
    each unit's co-unit figures and its overdue work not done."""
    from selenium.webdriver.common.by import By

    return {
        row.get_attribute("data-unit"): {
            cell.get_attribute("data-figure"): cell.text
            for cell in row.find_elements(By.CSS_SELECTOR, "td[data-figure]")
        }
        for row in driver.find_elements(By.CSS_SELECTOR, "#report-assessment tr[data-unit]")
    }


@pytest.mark.browser
def test_the_overdue_board_and_the_bulletin_show_the_apis_figures_and_the_bulletin_prints_without_navigation(
    console, chrome, running, system
):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    api = Api(*running)
    number = submit(api)
    assigned_to_transport(api, number)
    signed_and_clocked(api, number)
    due = backdate_reply_deadline(system, number, 3)

    # The board: grouped by unit, the row's deadline explained by its provenance.
    log_in(driver, console, "staff.wang")
    row = open_until(driver, console + "/overdue", f'#unit-transport tr[data-number="{number}"]')
    assert due.isoformat() in row.text and "3 个月" in row.text and "签收" in row.text
    assert row.find_element(By.CSS_SELECTOR, ".days").text.startswith(str((today() - due).days))
    board = {u["unit"]: u["count"] for u in api("staff", "GET", "/api/overdue", expect=200).json()["units"]}
    driver.get(console + "/overdue")
    for unit, count in board.items():
        shown = driver.find_elements(By.CSS_SELECTOR, f"#unit-{unit} tr.overdue-row")
        assert len(shown) == count, f"{unit}: {len(shown)} rows shown, the API lists {count}"
    camera.check("overdue-board", doc="overdue-board")

    # The bulletin: the figures the API gives for the year (the shared system's other tests add
    # proposals too: the page and the API agree once both are read with nothing in between), and
    # the units' assessment with each unit's co-unit figures (协办件数, 协办平均得分).
    year = int(number.split("-")[0])
    scored_as_co_unit(system, number, "education", 30)

    def agreed():
        driver.get(f"{console}/reports/bulletin/{year}")
        shown = {
            cell.get_attribute("data-figure"): int(cell.text)
            for cell in driver.find_elements(By.CSS_SELECTOR, "#report-figures td[data-figure]")
        }
        figures = api("staff", "GET", f"/api/reports/proposals/{year}/bulletin?format=json", expect=200).json()
        wanted = {key: figures[key] for key in shown}
        co_units = {
            u["unit"]: {
                "proposals_assisted": str(u["proposals_assisted"]),
                "average_co_unit_score": "—" if u["average_co_unit_score"] is None else str(u["average_co_unit_score"]),
                "overdue_not_done": str(u["overdue_not_done"]),
            }
            for u in figures["assessment"]["units"]
        }
        if shown == wanted and len(shown) == 7 and co_unit_cells(driver) == co_units:
            return shown, co_units
        return None

    figures, co_units = wait_for(agreed, timeout=30, message="the bulletin's figures as the API gives them")
    assert figures["received"] >= 1 and number in text_of(driver, "report-proposals")
    assert (
        int(co_units["education"]["proposals_assisted"]) >= 1 and co_units["education"]["average_co_unit_score"] != "—"
    )
    # transport's reply, backdated past its due date and not given, counts against it
    assert int(co_units["transport"]["overdue_not_done"]) >= 1
    assert "协办件数" in text_of(driver, "report-assessment") and "协办平均得分" in text_of(driver, "report-assessment")
    camera.check("report-bulletin", doc="report-bulletin")

    # Printed: no navigation, each section from a new page.
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not driver.find_element(By.CSS_SELECTOR, "header.top").is_displayed()
        breaks = driver.execute_script(
            "return [...document.querySelectorAll('#report .sheet')].map(s => getComputedStyle(s).breakBefore)"
        )
        assert len(breaks) >= 3 and breaks[0] != "page" and set(breaks[1:]) == {"page"}, breaks
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


@pytest.mark.browser
def test_a_member_sees_no_overdue_or_report_link_and_is_refused_those_pages(console, chrome):
    from selenium.webdriver.common.by import By

    driver, camera = chrome
    log_in(driver, console, "committee.liu")
    assert driver.find_elements(By.ID, "nav-overdue") and driver.find_elements(By.ID, "nav-reports")
    # The committee's way to the reports, each page scanned and read at 375 px like the others.
    driver.find_element(By.ID, "nav-reports").click()
    wait_for(lambda: driver.find_elements(By.ID, "reports"), timeout=10, message="the reports page")
    camera.check("reports")
    for kind, heading in (("notice", "年度提案办理情况通报"), ("opinions", "年度社情民意信息采用情况")):
        driver.find_element(By.CSS_SELECTOR, f'#reports a[href$="/{kind}/{today().year}"]').click()
        wait_for(lambda heading=heading: heading in text_of(driver, "report"), timeout=10, message=kind)
        camera.check(f"report-{kind}")
        driver.back()
    log_in(driver, console, "member.li")
    assert not driver.find_elements(By.ID, "nav-overdue") and not driver.find_elements(By.ID, "nav-reports")
    assert "/console/overdue" not in driver.page_source and "/console/reports" not in driver.page_source
    driver.get(console + "/overdue")
    assert "staff" in text_of(driver, "refusal")
    camera.check("member-refused-overdue")
    http, _ = _session(console, "member.li")
    year = today().year
    for path in PAGES:
        refused = http.get(console + path.format(year=year), allow_redirects=False, timeout=10)
        assert refused.status_code == 403 and "this needs one of the roles" in refused.text, path
