"""The console's browser tests' tools: Debian's chromium driven through its chromedriver (never a
downloaded browser), axe-core's scan of each page, screenshots at desktop and phone widths.

Screenshots go to ``test-artifacts/console/`` (git-ignored; CI keeps the folder) and, with
``ZTC_SCREENSHOTS=docs/screenshots``, the few the README shows are written there too."""

from __future__ import annotations

import os
import re
from pathlib import Path

from shared.config import ROOT

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "console"
PHONE, DESKTOP = (375, 812), (1280, 900)
BLOCKING = ("serious", "critical")


def missing() -> str | None:
    """Why the browser tests cannot run here, or None (``make browser`` installs what is missing)."""
    for path in (CHROMIUM, CHROMEDRIVER, AXE):
        if not Path(path).exists():
            return f"{path} is missing: run `make browser`"
    return None


def chromium():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
        "--lang=zh-CN",
    ):
        options.add_argument(arg)
    # The page's console messages (a Content-Security-Policy violation among them) for driver.get_log.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    return driver


class SharedChromium:
    """One chromium for a test process's browser tests, started when first asked for: starting
    chromium and its driver for each test was a good part of the console tests' CPU. Each test gets it
    as a new visitor would: no cookies or site data of an earlier test, desktop width, a blank page,
    the console log read empty. A browser that died (or a test that left it unusable) is replaced."""

    def __init__(self) -> None:
        self.driver = None

    def fresh(self):
        if self.driver is not None:
            try:
                self.driver.get("about:blank")
                self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
                self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
                self.driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
                self.driver.set_window_size(*DESKTOP)
                self.driver.get_log("browser")  # what earlier tests' pages said is not this test's
                return self.driver
            except Exception:  # noqa: BLE001 - a browser in any broken state is replaced
                self.close()
        self.driver = chromium()
        return self.driver

    def close(self) -> None:
        if self.driver is not None:
            try:
                self.driver.quit()
            finally:
                self.driver = None


def axe_violations(driver) -> list[dict]:
    """axe-core's serious and critical violations on the page shown (WCAG 2.1 A and AA rules)."""
    # The script (about half a megabyte) once per page: a second scan of the same page (at phone
    # width) finds it loaded.
    if not driver.execute_script("return typeof window.axe !== 'undefined'"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
        ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))), e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));"
    )
    return [v for v in result if v["impact"] in BLOCKING]


class Camera:
    """Checks and photographs each page a test visits: axe at desktop width, then at 375 px axe
    again and no sideways scrolling, a screenshot at each width."""

    def __init__(self, driver, test_name: str):
        self.driver, self.count = driver, 0
        self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
        self.folder.mkdir(parents=True, exist_ok=True)
        docs = os.environ.get("ZTC_SCREENSHOTS")
        self.docs = Path(docs) if docs else None

    def check(self, name: str, doc: str | None = None, doc_on_phone: bool = False) -> None:
        """Scan and photograph the page; ``doc``: also write it as ``<doc>.png`` into
        ``ZTC_SCREENSHOTS`` (at phone width with ``doc_on_phone``)."""
        self.count += 1
        stem = f"{self.count:02d}-{name}"
        violations = axe_violations(self.driver)
        assert not violations, f"{name}: accessibility violations {violations}"
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.driver.save_screenshot(str(self.folder / f"{stem}-desktop.png"))
        self.driver.set_window_size(*PHONE)
        try:
            overflow = self.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            narrow = axe_violations(self.driver)
            assert not narrow, f"{name} at 375 px: accessibility violations {narrow}"
            self.driver.execute_script("window.scrollTo(0, 0)")
            self.driver.save_screenshot(str(self.folder / f"{stem}-phone.png"))
            if doc and self.docs and doc_on_phone:
                self.docs.mkdir(parents=True, exist_ok=True)
                self.driver.save_screenshot(str(self.docs / f"{doc}.png"))
            assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow} px at 375 px"
        finally:
            self.driver.set_window_size(*DESKTOP)
        if doc and self.docs and not doc_on_phone:
            self.docs.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(self.docs / f"{doc}.png"))
