"""In the browser: "which platform grew fastest last quarter" in one click — the Sales page's
growth table per platform and per category, checked against the service's own numbers."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By

from bi_app.data import sales_growth
from bi_app.date_presets import preset_range
from bi_app.filters import local_today
from tests.conftest import free_port, login
from tests.e2e.conftest import select_dropdown, wait_until

pytestmark = pytest.mark.e2e
ROWS = (
    "return Array.from(document.querySelectorAll("
    "  '.ag-pinned-left-cols-container .ag-row')).filter(r => r.querySelector(\"[col-id='name']\"))"
    "  .sort((a, b) => +a.getAttribute('row-index') - +b.getAttribute('row-index'))"
    "  .map(r => r.querySelector(\"[col-id='name']\").innerText);"
)
FIRST_CHANGE = (
    "var c = document.querySelector(\".ag-center-cols-container .ag-row[row-index='0'] "
    "[col-id='revenue_pop']\"); return c ? c.innerText : null;"
)


def _expected(app, dimension: str) -> tuple[list[str], str]:
    with app.server.app_context():
        first, last = preset_range("last-quarter", local_today())
        df = sales_growth.growth_by(dimension, first, last)
    change = df["revenue_pop"].iloc[0]
    return list(df["name"]), f"{change:+.1%}"


def test_growth_per_platform_and_category_for_last_quarter(demo_sqlite_url, app_factory, dash_duo):
    app = app_factory(demo_sqlite_url)
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url  # the public setter would wait for a Dash page
    login(dash_duo, next_path="/sales")
    dash_duo.driver.get(f"{dash_duo.server_url}/sales")
    dash_duo.wait_for_contains_text("#sales-kpi-row", "vs last year", timeout=20)

    select_dropdown(dash_duo, "#filter-preset-dropdown", "Last quarter")
    names, change = _expected(app, "platform")
    assert len(names) >= 2
    wait_until(
        dash_duo,
        f"the platforms fastest-growing first ({names})",
        lambda: dash_duo.driver.execute_script(ROWS) == names,
    )
    shown = dash_duo.driver.execute_script(FIRST_CHANGE).replace("\u2212", "-")
    assert shown == change

    radio = dash_duo.driver.find_element(
        By.XPATH, "//*[@id='sales-growth-by-radio']//label[contains(., 'Per category')]"
    )
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", radio)
    dash_duo.driver.execute_script("arguments[0].click();", radio)
    names, change = _expected(app, "category")
    wait_until(
        dash_duo,
        f"the categories fastest-growing first ({names})",
        lambda: dash_duo.driver.execute_script(ROWS) == names,
    )
    assert dash_duo.driver.execute_script(FIRST_CHANGE).replace("\u2212", "-") == change
    query = parse_qs(urlsplit(dash_duo.driver.current_url).query)
    assert query["growth_by"] == ["category"] and query["preset"] == ["last-quarter"]
    header = dash_duo.find_element(".ag-pinned-left-header [col-id='name']").text
    assert header.startswith("Category")
    dash_duo.driver.execute_script(
        "document.querySelector(\"[col-id='revenue_pop']\").scrollIntoView({block: 'start'});"
    )
    time.sleep(1)  # the scroll is animated (Bootstrap's smooth scrolling)
    dash_duo.driver.save_screenshot("/tmp/sales-growth.png")
    assert dash_duo.get_logs() == []
