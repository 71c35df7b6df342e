"""In the browser: /ops/logs after login, a level filter narrows the lines, the CSV download has
exactly the filtered lines, and a line stored later appears through the live tail."""

from __future__ import annotations

import csv
import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import insert

from bi_app.db.engine import make_engine
from bi_app.db.log_models import AppLog
from tests.conftest import ANALYST_PASSWORD, free_port, login
from tests.e2e.conftest import select_dropdown, wait_for_download

pytestmark = pytest.mark.e2e

LEVELS = ((20, "INFO"), (30, "WARNING"), (40, "ERROR"))
# This test's own logger namespace: the running app logs under bi_app.* itself (logins, jobs),
# and those lines land in the same table, so counting "bi_app" lines would count them too.
NS = "e2e_ops_logs"


def _store(url: str, rows: list[dict]) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(AppLog.__table__), rows)
    engine.dispose()


def _lines(now: dt.datetime) -> list[dict]:
    return [
        {
            "at": now - dt.timedelta(minutes=5 * i),
            "level": LEVELS[i % 3][0],
            "level_name": LEVELS[i % 3][1],
            "logger": (f"{NS}.jobs", f"{NS}.data.sales")[i % 2],
            "message": f"e2e line {i:02d}",
            "module": "jobs",
            "func": "run",
            "line": 10 + i,
        }
        for i in range(30)
    ]


def _decoys(now: dt.datetime) -> list[dict]:
    """Lines the logger filter must leave out: a sibling whose name merely starts the same way,
    and a parent of the namespace."""
    return [
        {
            "at": now - dt.timedelta(minutes=1),
            "level": 40,
            "level_name": "ERROR",
            "logger": logger,
            "message": f"e2e decoy line 1 from {logger}",
        }
        for logger in (f"{NS}x.jobs", "e2e")
    ]


def _start(dash_duo, app) -> None:
    # navigate=False: "/" answers with the login form, not a Dash page, until we log in
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url  # the public setter would wait for a Dash page


def _wait_for_text(dash_duo, selector: str, text: str, timeout: float = 15) -> None:
    dash_duo.wait_for_contains_text(selector, text, timeout=timeout)


def test_logs_page_filters_downloads_and_tails(app_factory, demo_sqlite_url, dash_duo):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    lines = _lines(now)
    _store(demo_sqlite_url, lines)
    _store(demo_sqlite_url, _decoys(now))
    app = app_factory(demo_sqlite_url, refresh_ms=1000)
    _start(dash_duo, app)
    login(dash_duo, "analyst", ANALYST_PASSWORD, next_path="/ops/logs")
    dash_duo.driver.get(f"{dash_duo.server_url}/ops/logs?logger={NS}")
    summary = "#ops-logs-summary-text"
    _wait_for_text(dash_duo, summary, "Showing all 30 lines")
    dash_duo.wait_for_element("#ops-logs-volume-graph .barlayer .point", timeout=10)

    # minimum level ERROR: only every third line is left
    select_dropdown(dash_duo, "#ops-logs-level-dropdown", "ERROR")
    errors = [r for r in lines if r["level"] >= 40]
    _wait_for_text(dash_duo, summary, f"Showing all {len(errors)} lines")
    dash_duo.wait_for_text_to_equal(
        ".ag-center-cols-container .ag-row[row-index='0'] [col-id='message']",
        "e2e line 02",
        timeout=10,
    )
    levels_shown = {
        el.text
        for el in dash_duo.driver.find_elements(
            By.CSS_SELECTOR, ".ag-center-cols-container [col-id='level_name']"
        )
    }
    assert levels_shown == {"ERROR"}

    # keyword (literal, case-insensitive) narrows further
    search = dash_duo.find_element("#ops-logs-search-input")
    search.send_keys("LINE 1", Keys.ENTER)
    expected = [r for r in errors if "line 1" in r["message"]]
    _wait_for_text(dash_duo, summary, f"Showing all {len(expected)} lines")

    dash_duo.find_element(".bi-grid-download .dropdown-toggle").click()
    menu = dash_duo.wait_for_element(".bi-grid-download .dropdown-menu.show")
    menu.find_element(By.XPATH, ".//*[normalize-space(text())='CSV']").click()
    with wait_for_download(dash_duo, "ops-logs*.csv").open(encoding="utf-8-sig", newline="") as fh:
        got = list(csv.DictReader(fh))
    assert [r["Message"] for r in got] == [r["message"] for r in expected]
    assert {r["Level"] for r in got} == {"ERROR"}

    # a line stored now shows up without reloading (live tail every second)
    _store(
        demo_sqlite_url,
        [
            {
                "at": now + dt.timedelta(seconds=1),
                "level": 50,
                "level_name": "CRITICAL",
                "logger": f"{NS}.jobs",
                "message": "e2e line 1 tail arrived",
            }
        ],
    )
    _wait_for_text(dash_duo, summary, f"Showing all {len(expected) + 1} lines")
    dash_duo.wait_for_text_to_equal(
        ".ag-center-cols-container .ag-row[row-index='0'] [col-id='message']",
        "e2e line 1 tail arrived",
        timeout=10,
    )

    dash_duo.driver.save_screenshot("/tmp/ops_logs.png")
    assert dash_duo.get_logs() == []


def test_bad_query_string_shows_a_notice_not_an_error(app_factory, demo_sqlite_url, dash_duo):
    _start(dash_duo, app_factory(demo_sqlite_url))
    login(dash_duo, "analyst", ANALYST_PASSWORD, next_path="/ops/logs")
    dash_duo.driver.get(
        f"{dash_duo.server_url}/ops/logs?level=LOUD&range=custom&start=2026-02-02&end=2026-01-01"
    )
    _wait_for_text(dash_duo, "#ops-logs-notice-alert", "Unknown level")
    _wait_for_text(dash_duo, "#ops-logs-notice-alert", "swapped")
    _wait_for_text(dash_duo, "#ops-logs-summary-text", "No lines match")
    assert dash_duo.get_logs() == []
