"""The web console in Debian's chromium, every service running: a proposal's main flow from the
member's submission to its publication, each person at their own pages, each page scanned by
axe-core and checked at a 375-px phone width; the co-signer does their part by keyboard alone."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.support import wait_for

from . import browser
from .conftest import once_on_sqlite

# The whole lifecycle through the browser, every page scanned and shot at two widths: under a
# full `make test` on 2 cores it took 4-5 minutes once (the browser's first start after it was
# installed), so it gets more than the suite's 300 s; its waits for each page stay short.
pytestmark = pytest.mark.timeout(600)

PASSWORD = "console-test-pw"


# The console holds no data and no rule of its own: it calls the API's route functions, the
# same whatever the database (the end-to-end scenarios over the API run on PostgreSQL too).
_once = once_on_sqlite("the console is driven in a browser once, on SQLite")


@pytest.fixture(scope="module")
def console(system):
    """The running system's console URL, with the demo users' console accounts."""
    from services.launcher import DEMO_USERS, seed_console_accounts

    seed_console_accounts(system.settings, DEMO_USERS, PASSWORD)
    return system.base + "/console"


@pytest.fixture
def chrome(request, shared_chromium):
    """The process's chromium, fresh for this test (no cookies or site data of another), and its camera."""
    driver = shared_chromium.fresh()
    return driver, browser.Camera(driver, request.node.name)


def text_of(driver, element_id) -> str:
    """The text of the element with ``element_id`` on the page now shown ('' while a page loads)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return driver.find_element(By.ID, element_id).text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def shown(driver, css: str, timeout: float = 15):
    """The element matching ``css`` once it can be clicked (a page may still be loading)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(EC.element_to_be_clickable((By.CSS_SELECTOR, css)))


def press(driver, element, timeout: float = 15):
    """Click a button that posts a form, and wait until the page it leads to has replaced this one
    (the next step must not race the post)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    def gone(driver):
        try:
            return EC.staleness_of(element)(driver)
        except WebDriverException as exc:  # asked mid-navigation, chromedriver may say it so
            if "does not belong to the document" in str(exc):
                return True
            raise

    element.click()
    WebDriverWait(driver, timeout).until(gone)


def log_in(driver, console, user):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.delete_all_cookies()
    driver.get(console + "/login")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    wait_for(lambda: driver.current_url.rstrip("/").endswith("/console"), timeout=10, message=f"{user} logged in")


def open_until(driver, url, css, timeout=60):
    """Open ``url`` again until an element matching ``css`` shows (the services work asynchronously)."""
    from selenium.webdriver.common.by import By

    def shown():
        driver.get(url)
        return driver.find_elements(By.CSS_SELECTOR, css)

    return wait_for(shown, timeout=timeout, message=f"{css} on {url}")[0]


def link_until(driver, url, css, text, timeout=60):
    """Open ``url`` again until a link matching ``css`` reads ``text`` (the system is shared:
    other tests' work is listed too)."""
    from selenium.webdriver.common.by import By

    def shown():
        driver.get(url)
        return [a for a in driver.find_elements(By.CSS_SELECTOR, css) if a.text == text]

    return wait_for(shown, timeout=timeout, message=f"{css} reading {text} on {url}")[0]


def complete_task(driver, console, task, number, fields=None, ticks=()):
    """Fill a task's form in the task list and complete it; ``ticks``: ``(name, value)`` checkboxes to tick."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    form = open_until(driver, console + "/tasks", f'form[data-task="{task}"][data-key="{number}"]')
    for name, value in ticks:
        form.find_element(By.CSS_SELECTOR, f'input[name="{name}"][value="{value}"]').click()
    for name, value in (fields or {}).items():
        element = form.find_element(By.NAME, name)
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)
    press(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert driver.current_url.endswith("/console/tasks"), f"{task} refused: {text_of(driver, 'refusal')}"


@pytest.mark.browser
def test_member_submits_cosigner_confirms_staff_file_and_assign_unit_replies_member_rates_and_it_is_published(
    console, chrome
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, camera = chrome
    driver.get(console)
    assert (
        "/console/login" in driver.current_url
        and driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    )
    camera.check("login", doc="login")

    # The member submits, picking the co-signer from the members directory.
    log_in(driver, console, "member.li")
    camera.check("member-home")
    driver.get(console + "/proposals/new")
    title = "在老旧小区加装电梯的补贴办法"
    driver.find_element(By.ID, "title").send_keys(title)
    driver.find_element(By.ID, "situation").send_keys("全市仍有大量无电梯的老旧住宅，老年住户上下楼困难。")
    driver.find_element(By.ID, "analysis").send_keys("现有补贴标准低、审批环节多，居民协商成本高。")
    driver.find_element(By.ID, "suggestions").send_keys("一、提高补贴标准；二、简化审批；三、设立协商调解机制。")
    driver.find_element(By.ID, "member-filter").send_keys("周雅琴")
    driver.find_element(By.CSS_SELECTOR, 'input[name="cosigners"][value="member.zhou"]').click()
    camera.check("submit-form", doc="submit-phone", doc_on_phone=True)
    driver.find_element(By.ID, "proposal-form").submit()
    heading = wait_for(lambda: re.match(r"(\d{4}-\d+)", driver.title), timeout=15, message="the proposal page")
    number = heading.group(1)
    camera.check("submitted")

    # The co-signer, by keyboard alone: log in, open the invitation, confirm.
    driver.delete_all_cookies()
    driver.get(console + "/login")
    driver.switch_to.active_element.send_keys("member.zhou" + Keys.TAB + PASSWORD + Keys.ENTER)
    wait_for(lambda: driver.current_url.rstrip("/").endswith("/console"), timeout=10, message="keyboard login")
    driver.get(console + "/proposals")
    link = wait_for(
        lambda: [a for a in driver.find_elements(By.CSS_SELECTOR, "section a") if number in a.text],
        timeout=10,
        message="the invitation",
    )[0]
    camera.check("invitation")
    for _ in range(200):  # past every other link on a page of a shared system
        driver.switch_to.active_element.send_keys(Keys.TAB)
        if driver.switch_to.active_element == link:
            break
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    wait_for(lambda: driver.find_elements(By.ID, "cosign"), timeout=10, message="the cosign button")
    camera.check("cosign")
    for target, key in (("publish-name", Keys.SPACE), ("cosign", Keys.ENTER)):  # named where published
        for _ in range(200):
            driver.switch_to.active_element.send_keys(Keys.TAB)
            if driver.switch_to.active_element.get_attribute("id") == target:
                break
        driver.switch_to.active_element.send_keys(key)
    wait_for(
        lambda: not driver.find_elements(By.ID, "cosign") and text_of(driver, "status"),
        timeout=10,
        message="co-signing confirmed",
    )

    # Staff pre-review, the committee files, staff assign to a unit.
    log_in(driver, console, "staff.wang")
    complete_task(driver, console, "pre_review", number)
    log_in(driver, console, "committee.liu")
    open_until(driver, console + "/tasks", f'form[data-task="filing_decision"][data-key="{number}"]')
    camera.check("filing", doc="filing")
    complete_task(driver, console, "filing_decision", number, {"decision": "filed"})
    log_in(driver, console, "staff.wang")
    complete_task(driver, console, "assign", number, {"mode": "single", "units": "transport"})

    # The unit signs, drafts and submits its reply.
    log_in(driver, console, "handler.zhao")
    row = link_until(driver, console + "/assignments", 'a[href^="/console/assignments/"]', number)
    camera.check("unit-inbox")
    press(driver, row)
    press(driver, shown(driver, "#sign"))
    shown(driver, 'input[name="category"][value="A"]').click()
    driver.find_element(By.ID, "reply-text").send_keys("已制定新的加装电梯补贴办法，补贴标准提高一倍。")
    camera.check("reply-draft", doc="unit-reply")
    # A milestone with a day already past: the form comes back with what is wrong, the reply as typed.
    shown(driver, 'input[name="category"][value="B"]').click()
    driver.find_element(By.ID, "reply-milestones").send_keys("2020-01-01 完成设计")
    press(driver, driver.find_element(By.ID, "save-draft"))
    shown(driver, "#reply-draft-errors")
    assert "补贴标准提高一倍" in driver.find_element(By.ID, "reply-text").get_attribute("value")
    assert driver.find_element(By.CSS_SELECTOR, 'input[name="category"][value="B"]').is_selected()
    driver.find_element(By.ID, "reply-milestones").clear()
    shown(driver, 'input[name="category"][value="A"]').click()
    press(driver, driver.find_element(By.ID, "save-draft"))
    press(driver, shown(driver, "#submit-reply"))
    wait_for(lambda: "已提交" in text_of(driver, "replies"), timeout=10, message="the reply submitted")

    # Staff accept the reply; the proposers read it and rate it; the committee grades it.
    log_in(driver, console, "staff.wang")
    complete_task(driver, console, "review_reply", number, {"action": "accept"})
    for who in ("member.li", "member.zhou"):
        log_in(driver, console, who)
        open_until(driver, f"{console}/proposals/{number}", "#rating-form")
        if who == "member.li":
            camera.check("reply-and-rating", doc="rating")
        for score in ("handling", "result"):
            driver.find_element(By.CSS_SELECTOR, f'input[name="{score}"][value="satisfied"]').click()
        press(driver, driver.find_element(By.ID, "rate"))
        wait_for(lambda who=who: who in text_of(driver, "ratings"), timeout=15, message=f"{who}'s rating")
    log_in(driver, console, "committee.liu")
    # on the quality checklist's three standards: the grade is computed from the ticked items
    complete_task(
        driver,
        console,
        "grade_quality",
        number,
        ticks=[("quality_checklist", code) for code in ("public_concern", "feasible_suggestions", "adopted")],
    )

    # Published: the member sees it so, and it is listed among published proposals.
    log_in(driver, console, "member.li")
    wait_for(
        lambda: (driver.get(f"{console}/proposals/{number}") or True) and text_of(driver, "status") == "已公开",
        timeout=60,
        message="publication",
    )
    camera.check("published-proposal", doc="timeline")
    driver.get(console + "/published")
    assert number in driver.find_element(By.ID, "published").text
    camera.check("published")
    driver.get(console + "/notifications")
    camera.check("notifications")

    # The public, signed in as nobody, reads it with its reply among the published proposals.
    driver.delete_all_cookies()
    open_until(driver, f"{console}/public/proposals/{number}", "#public-title")
    assert driver.find_element(By.ID, "public-title").text == f"{number} {title}"
    assert "A" in driver.find_element(By.ID, "public-reply").text
    assert "周雅琴" in driver.find_element(By.ID, "public-proposers").text  # the co-signer consented
    camera.check("public-proposal", doc="public-proposal")


def _session(console, user, password=PASSWORD):
    """A logged-in HTTP session (as a browser's form would) and its CSRF token."""
    http = requests.Session()
    page = http.get(console + "/login", timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = http.post(
        console + "/login",
        data={"user": user, "password": password, "csrf": token, "next": "/console"},
        allow_redirects=False,
        timeout=10,
    )
    return http, answer


def _csrf(http, url):
    return re.search(r'name="csrf" value="([^"]+)"', http.get(url, timeout=10).text).group(1)


def test_login_sets_an_httponly_samesite_cookie_and_a_wrong_password_is_refused(console):
    _, wrong = _session(console, "member.li", "not-the-password")
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.text
    http, answer = _session(console, "member.li")
    assert answer.status_code == 303
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    home = http.get(console, timeout=10)
    assert home.status_code == 200 and "member.li" in home.text
    csrf = _csrf(http, console)
    logout = http.post(console + "/logout", data={"csrf": csrf}, allow_redirects=False, timeout=10)
    assert logout.status_code == 303
    again = http.get(console, allow_redirects=False, timeout=10)
    assert again.status_code == 303 and "/console/login" in again.headers["Location"]
    # A form posted after the session ended: the login form again, ready to use, and nothing done.
    late = http.post(console + "/proposals", data={"csrf": csrf, "title": "迟到的提交"}, timeout=10)
    assert late.status_code == 401 and 'name="csrf"' in late.text and 'id="password"' in late.text
    # A login posted without the login page's own cookie (from another site, say) is refused.
    forged = requests.post(
        console + "/login",
        data={"user": "member.li", "password": PASSWORD, "csrf": "x"},
        allow_redirects=False,
        timeout=10,
    )
    assert forged.status_code == 403 and "ztc_console=" not in forged.headers.get("Set-Cookie", "")


@pytest.mark.browser
def test_repeated_failed_logins_are_slowed_down_for_that_account_and_not_for_another(console, chrome, system):
    """Through the real login form: the account's failures from this address reach the limit
    (settings), then even its right password is refused with 429, Retry-After and a clear message,
    while another account logs in from the same address."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from services.launcher import seed_console_accounts

    driver, camera = chrome
    seed_console_accounts(system.settings, {"x": {"user": "login.limit", "roles": ["member"], "unit": None}}, PASSWORD)
    limit = system.settings.console_login_failures_per_account

    def try_login(password):
        driver.get(console + "/login")
        driver.find_element(By.ID, "user").send_keys("login.limit")
        field = driver.find_element(By.ID, "password")
        field.send_keys(password + Keys.ENTER)
        wait_for(lambda: text_of(driver, "login-error"), timeout=10, message="the login page's answer")
        return text_of(driver, "login-error")

    # The failures are counted in fixed windows (ZTC_CONSOLE_LOGIN_WINDOW_SECONDS, aligned to the
    # service's clock): one that ended between the failures and the checks below let the right
    # password in (a 303) in one run. Near its end, the next window is waited for.
    from shared.clock import OffsetClock

    window = system.settings.console_login_window_seconds
    now = (
        OffsetClock(system.settings.clock_offset_file).now().timestamp()
        if system.settings.clock_offset_file
        else time.time()
    )
    if window - now % window < 90:
        time.sleep(window - now % window + 1)
    for n in range(limit):
        assert "用户名或密码不正确" in try_login(f"wrong-password-{n}")
    slowed = try_login(PASSWORD)  # the right password too, until the window ends
    assert "登录失败次数过多" in slowed and f"最多 {limit} 次" in slowed and "/console/login" in driver.current_url
    camera.check("login-slowed")
    _, refused = _session(console, "login.limit")
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= (
        system.settings.console_login_window_seconds
    )
    assert "ztc_console=" not in refused.headers.get("Set-Cookie", "")
    _, other = _session(console, "member.li")  # someone else, from the same address
    assert other.status_code == 303


def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(console):
    http, _ = _session(console, "member.li")
    before = http.get(console + "/proposals", timeout=10).text.count("/console/proposals/2")
    draft = {
        "kind": "between_sessions",
        "title": "无令牌的提交",
        "situation": "情况",
        "analysis": "分析",
        "suggestions": "建议",
        "publish_consent": "yes",
    }
    refused = http.post(console + "/proposals", data=draft, timeout=10)
    assert refused.status_code == 403
    forged = http.post(console + "/proposals", data={**draft, "csrf": "0" * 64}, timeout=10)
    assert forged.status_code == 403
    assert http.get(console + "/proposals", timeout=10).text.count("/console/proposals/2") == before


def test_a_member_sees_no_staff_task_and_is_refused_completing_one(console, system):
    from tests.e2e.conftest import call

    staff_http, _ = _session(console, "staff.wang")
    member_http, _ = _session(console, "member.li")
    number = call(
        system.base,
        system.tokens["member"],
        "POST",
        "/api/proposals",
        {
            "kind": "between_sessions",
            "title": "社区食堂建设",
            "situation": "老年人用餐难。",
            "analysis": "缺少场地。",
            "suggestions": "利用闲置用房建设社区食堂。",
            "publish_consent": True,
        },
    ).json()["number"]
    page = wait_for(
        lambda: (lambda text: f'data-key="{number}"' in text and text)(
            staff_http.get(console + "/tasks", timeout=10).text
        ),
        timeout=60,
        message="the pre-review task",
    )
    task_id = re.search(rf'action="/console/tasks/([^"]+)" data-task="pre_review" data-key="{number}"', page).group(1)
    assert f'data-key="{number}"' not in member_http.get(console + "/tasks", timeout=10).text
    refused = member_http.post(
        f"{console}/tasks/{task_id}",
        timeout=10,
        data={
            "csrf": _csrf(member_http, console + "/tasks"),
            "task": "pre_review",
            "eligible": "yes",
            "content_ok": "yes",
            "format_ok": "yes",
        },
    )
    assert refused.status_code == 403, refused.text
    assert f'data-key="{number}"' in staff_http.get(console + "/tasks", timeout=10).text


def test_a_bad_submission_is_shown_again_with_what_is_wrong_and_everything_typed(console):
    http, _ = _session(console, "member.li")
    answer = http.post(
        console + "/proposals",
        timeout=10,
        data={
            "csrf": _csrf(http, console + "/proposals/new"),
            "kind": "between_sessions",
            "title": "只有标题的提案",
            "situation": "",
            "analysis": "保留的分析文字",
            "suggestions": "",
            "publish_consent": "yes",
        },
    )
    assert answer.status_code == 400
    assert 'id="situation-error"' in answer.text and 'id="suggestions-error"' in answer.text
    assert "只有标题的提案" in answer.text and "保留的分析文字" in answer.text


def test_the_console_speaks_english_when_asked(console):
    http, _ = _session(console, "member.li")
    assert "我的提案" in http.get(console, timeout=10).text
    http.get(console + "/language/en?next=/console", timeout=10)
    page = http.get(console, timeout=10).text
    assert 'lang="en"' in page and "My proposals" in page
