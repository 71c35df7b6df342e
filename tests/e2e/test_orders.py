"""In the browser: the Orders explorer at /orders — filter, sort, page far down and download,
each checked against SQL written here, independently of the app's queries."""

from __future__ import annotations

import csv
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, text

from tests.conftest import ANALYST_PASSWORD, VIEWER_PASSWORD, login
from tests.e2e.conftest import select_dropdown, wait_for_download, wait_until

pytestmark = pytest.mark.e2e
GRID_API = (
    "var api = window.dash_ag_grid.getApi("
    "JSON.stringify({name: 'orders-list', type: 'grid-table'}));"
)
ORDERS_SQL = """
    SELECT o.order_number, o.total_cents, o.status FROM orders o
    WHERE date(o.ordered_at) BETWEEN :start AND :end {where}
    ORDER BY {order}
"""


def _numbers(dash_duo, first: int, last: int) -> list[str | None]:
    return dash_duo.driver.execute_script(
        GRID_API
        + "var out = [];"
        + f"for (var i = {first}; i < {last}; i++) {{"
        + "  var node = api.getDisplayedRowAtIndex(i);"
        + "  out.push(node && node.data ? node.data.order_number : null); }"
        + "return out;"
    )


def _count(dash_duo) -> str:
    return dash_duo.find_element("#orders-count-text").text


def test_orders_explorer_filters_sorts_pages_and_downloads_what_it_shows(
    demo_app, demo_sqlite_url, start_app, dash_duo
):
    engine = create_engine(demo_sqlite_url)

    def sql(where: str = "", order: str = "o.ordered_at DESC, o.id DESC") -> list:
        with engine.connect() as conn:
            return conn.execute(
                text(ORDERS_SQL.format(where=where, order=order)), {"start": start, "end": end}
            ).all()

    with engine.connect() as conn:
        end = conn.execute(text("SELECT max(date(ordered_at)) FROM orders")).scalar_one()
        start = conn.execute(text("SELECT date(:d, '-89 days')"), {"d": end}).scalar_one()
    newest = sql()
    assert len(newest) > 400

    start_app(demo_app)
    login(dash_duo, "analyst", ANALYST_PASSWORD, next_path=f"/orders?start={start}&end={end}")
    wait_until(
        dash_duo, "the count", lambda: _count(dash_duo) == f"{len(newest):,} matching orders"
    )
    wait_until(
        dash_duo,
        "the newest orders",
        lambda: _numbers(dash_duo, 0, 3) == [r[0] for r in newest[:3]],
    )
    dash_duo.driver.save_screenshot("/tmp/orders-page.png")

    # sort on the server: a first click on "Amount" sorts it ascending
    by_amount = sql(order="o.total_cents ASC, o.id ASC")
    dash_duo.driver.execute_script(GRID_API + "api.ensureColumnVisible('amount_cents');")
    header = wait_until(
        dash_duo,
        "the Amount header",
        lambda: dash_duo.find_element(
            ".ag-header-cell[col-id='amount_cents'] .ag-header-cell-label"
        ),
    )
    header.click()
    wait_until(
        dash_duo,
        "the cheapest orders first",
        lambda: _numbers(dash_duo, 0, 3) == [r[0] for r in by_amount[:3]],
    )
    # rows far down come from the server as the grid scrolls
    far = min(350, len(by_amount) - 5)
    dash_duo.driver.execute_script(GRID_API + f"api.ensureIndexVisible({far}, 'middle');")
    wait_until(
        dash_duo,
        f"row {far}",
        lambda: _numbers(dash_duo, far, far + 3) == [r[0] for r in by_amount[far : far + 3]],
    )

    # a status filter narrows the list and lands in the URL
    select_dropdown(dash_duo, "#orders-status-dropdown", "Refunded")
    refunded = sql(where="AND o.status = 'refunded'", order="o.total_cents ASC, o.id ASC")
    assert 0 < len(refunded) < len(newest)
    wait_until(
        dash_duo,
        "the refunded count",
        lambda: _count(dash_duo) == f"{len(refunded):,} matching orders",
    )
    wait_until(
        dash_duo,
        "refunded orders only",
        lambda: _numbers(dash_duo, 0, 2) == [r[0] for r in refunded[:2]],
    )
    assert parse_qs(urlsplit(dash_duo.driver.current_url).query)["status"] == ["refunded"]

    # the download holds exactly the listed rows, in the listed order, and says what they are
    dash_duo.driver.execute_script("window.scrollTo(0, 0);")
    time.sleep(0.5)
    dash_duo.find_element("#orders-download-menu .dropdown-toggle").click()
    menu = dash_duo.wait_for_element("#orders-download-menu .dropdown-menu.show")
    menu.find_element(By.XPATH, ".//*[normalize-space(text())='CSV']").click()
    with wait_for_download(dash_duo, "orders-*.csv").open(encoding="utf-8-sig", newline="") as f:
        lines = f.read().splitlines()
    about = [line for line in lines if line.startswith("#")]
    assert f"# Period: {start} to {end} (days of the order time, UTC)" in about
    assert "# Statuses: refunded" in about and f"# Rows: {len(refunded):,}" in about
    rows = list(csv.DictReader(lines[len(about) :]))
    assert [(r["Order"], round(float(r["Amount"]) * 100)) for r in rows] == [
        (r[0], r[1]) for r in refunded
    ]
    engine.dispose()
    assert dash_duo.get_logs() == []


def test_viewers_browse_orders_without_downloads(demo_app, start_app, dash_duo):
    start_app(demo_app)
    login(dash_duo, "viewer", VIEWER_PASSWORD, next_path="/orders?q=%25%25%25&start=2024-13-01")
    wait_until(dash_duo, "the count", lambda: "matching order" in _count(dash_duo))
    assert _count(dash_duo) == "0 matching orders"  # '%%%' is literal text, matching nothing
    assert "Invalid start date" in dash_duo.find_element("#filter-notice-alert").text
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#orders-download-menu") == []
    assert dash_duo.get_logs() == []
