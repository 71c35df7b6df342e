"""Take the README screenshots from the running app: ``python scripts/screenshots.py URL USER
PASSWORD [--korean]``.

Logs in through the real form with headless Debian Chromium and saves one PNG per page under
docs/ (light theme, plus the Overview in dark). ``--korean`` switches the user to Korean with the
sidebar's language buttons and saves only the Korean pages (:data:`KOREAN_PAGES`, ``*-ko.png``),
then switches the user back to English.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

PAGES = [
    ("/", "overview"),
    ("/sales", "sales"),
    ("/orders", "orders"),
    ("/customers", "customers"),
    ("/events", "events"),
    ("/events/6", "event-detail"),
    ("/treasury", "treasury"),
    ("/forecasts", "forecasts"),
    ("/reports", "reports"),
    ("/ops/health", "ops-health"),
    ("/ops/alerts", "ops-alerts"),
    ("/ops/alerts/rules", "ops-alert-rules"),
    ("/ops/alerts/channels", "ops-alert-channels"),
    ("/ops/performance", "ops-performance"),
    ("/ops/logs", "ops-logs"),
    ("/admin/jobs", "admin-jobs"),
    ("/admin/import", "admin-import"),
    ("/admin/reference", "admin-reference"),
    ("/admin/settings", "admin-settings"),
    ("/admin/integrations", "admin-integrations"),
    ("/admin/models", "admin-models"),
]
# parts of a page below the fold: (path, id of the element scrolled to the top, file name)
SECTIONS = [
    ("/treasury", "treasury-capacity-card", "treasury-capacity"),
    ("/events/28", "event-detail-forecast-result", "event-forecast"),
    ("/reports", "report-schedules-card", "report-schedules"),
]
KOREAN_PAGES = [("/", "overview-ko"), ("/sales", "sales-ko")]
DOCS = Path(__file__).resolve().parent.parent / "docs"


def driver() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1440,1100",
        "--hide-scrollbars",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chrome-shots-')}",
    ):
        options.add_argument(arg)
    return webdriver.Chrome(options=options)


def _language(browser: webdriver.Chrome, wait: WebDriverWait, code: str) -> None:
    button = wait.until(EC.presence_of_element_located((By.ID, f"app-language-{code}")))
    browser.execute_script("arguments[0].click()", button)
    wait.until(lambda b: b.execute_script("return document.documentElement.lang") == code)


def main(base: str, username: str, password: str, *flags: str) -> None:
    DOCS.mkdir(exist_ok=True)
    browser = driver()
    wait = WebDriverWait(browser, 30)
    korean = "--korean" in flags
    try:
        browser.get(f"{base}/login")
        wait.until(EC.presence_of_element_located((By.ID, "login-username"))).send_keys(username)
        browser.find_element(By.ID, "login-password").send_keys(password)
        browser.find_element(By.ID, "login-submit").click()
        wait.until(EC.presence_of_element_located((By.ID, "app-sidebar")))
        if korean:
            _language(browser, wait, "ko")
        for path, name in KOREAN_PAGES if korean else PAGES:
            browser.get(base + path)
            wait.until(EC.presence_of_element_located((By.ID, "app-sidebar")))
            time.sleep(4)  # let callbacks and charts settle
            browser.save_screenshot(str(DOCS / f"{name}.png"))
            print("saved", DOCS / f"{name}.png")
        if korean:
            _language(browser, wait, "en")
            return
        for path, element, name in SECTIONS:
            browser.get(base + path)
            found = wait.until(EC.presence_of_element_located((By.ID, element)))
            time.sleep(4)
            browser.execute_script(
                "arguments[0].scrollIntoView(true); window.scrollBy(0, -60);", found
            )
            time.sleep(1)
            browser.save_screenshot(str(DOCS / f"{name}.png"))
            print("saved", DOCS / f"{name}.png")
        browser.get(base + "/")
        wait.until(EC.element_to_be_clickable((By.ID, "app-theme-switch"))).click()
        time.sleep(4)
        browser.save_screenshot(str(DOCS / "overview-dark.png"))
        browser.find_element(By.ID, "app-theme-switch").click()  # leave the light theme behind
    finally:
        browser.quit()


if __name__ == "__main__":
    main(*sys.argv[1:])
