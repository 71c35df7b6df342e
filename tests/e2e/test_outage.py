"""In the browser, during a database outage on a private PostgreSQL: every page still opens,
every callback answers (cached figures or a readable "unavailable" message), no 500 reaches the
browser's console; after the restart the pages show their data again."""

from __future__ import annotations

import time

import dash
import pytest

from bi_app.auth.pages import can_view
from tests.conftest import ADMIN_PASSWORD, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e
SETTLE_S = 1.5  # after the last callback finished: a chained callback may still start


def admin_paths() -> list[str]:
    paths = []
    for page in dash.page_registry.values():
        if can_view(page, "admin") and not page.get("path_template") and page["path"] != "/404":
            paths.append(page["path"])
    return paths


def settle(dash_duo) -> None:
    """Wait until no callback is pending, twice over a short pause."""
    idle = "return document.querySelector('[data-dash-is-loading=\"true\"]') === null"
    for _ in range(2):
        wait_until(
            dash_duo, "the callbacks to finish", lambda: dash_duo.driver.execute_script(idle)
        )
        time.sleep(SETTLE_S)


def visit(dash_duo, path: str) -> str:
    dash_duo.driver.get(f"{dash_duo.server_url}{path}")
    dash_duo.wait_for_element("#app-sidebar", timeout=15)
    settle(dash_duo)
    return dash_duo.find_element("#_pages_content").text


def server_errors(dash_duo) -> list[str]:
    return [
        entry["message"]
        for entry in dash_duo.get_logs() or []
        if "status of 5" in entry["message"] or "Callback error" in entry["message"]
    ]


def test_every_page_stays_readable_in_the_browser_while_the_database_is_down(
    start_app, outage_app, private_pg
):
    dash_duo = start_app(outage_app)
    login(dash_duo, "admin", ADMIN_PASSWORD)
    paths = admin_paths()
    assert len(paths) >= 11
    for path in paths:  # warm what the cache keeps
        visit(dash_duo, path)
    assert server_errors(dash_duo) == []

    private_pg.stop()
    texts = {path: visit(dash_duo, path) for path in paths}
    assert server_errors(dash_duo) == [], "a page answered 500 during the outage"
    assert all(texts.values()), [path for path, text in texts.items() if not text]
    said = [path for path, text in texts.items() if "unavailable" in text.lower()]
    assert said, "no page told the reader that data is unavailable"
    dash_duo.driver.get(f"{dash_duo.server_url}/ops/health")
    settle(dash_duo)
    assert "The database is unreachable" in dash_duo.find_element("#_pages_content").text
    dash_duo.driver.save_screenshot(str(dash_duo.download_path) + "/outage-health.png")

    private_pg.start()
    visit(dash_duo, "/")
    assert server_errors(dash_duo) == []
