"""In the browser: /sales loads with its KPIs, charts and product grid; a click on a platform bar
filters the grid to that platform, shows a chip and writes the URL; the chip's ✕ undoes it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from sqlalchemy import text

from bi_app.db.engine import make_engine
from tests.conftest import free_port, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

GRID_FIRST_SKU = ".ag-center-cols-container .ag-row[row-index='0'] [col-id='sku']"
PINNED_FIRST_SKU = ".ag-pinned-left-cols-container .ag-row[row-index='0'] [col-id='sku']"
CHIPS = "#sales-chips-bar"


def _best_seller(url: str, platform: str | None) -> str:
    """The top product by revenue over the page's default range (90 days to the last day with
    orders), computed from raw orders and items rather than the roll-ups the page reads."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            last = conn.execute(text("SELECT MAX(ordered_at) FROM orders")).scalar()
            last = dt.datetime.fromisoformat(str(last)).date()
            start = dt.datetime.combine(last - dt.timedelta(days=89), dt.time.min)
            stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min)
            return conn.execute(
                text(
                    "SELECT p.sku FROM order_items i JOIN orders o ON o.id = i.order_id "
                    "JOIN products p ON p.id = i.product_id JOIN sales_platforms s ON s.id = "
                    "o.platform_id "
                    "WHERE o.ordered_at >= :start AND o.ordered_at < :stop "
                    "AND o.status IN ('paid', 'shipped', 'delivered') AND (:platform IS NULL OR "
                    "s.code = :platform) "
                    "GROUP BY p.sku ORDER BY SUM(i.amount_cents) DESC, SUM(i.quantity) DESC, p.sku "
                    "LIMIT 1"
                ),
                {"start": start, "stop": stop, "platform": platform},
            ).scalar_one()
    finally:
        engine.dispose()


def _idle(dash_duo) -> None:
    """Wait until no Dash component is being updated (a chart redrawn under the mouse drops the
    click)."""
    wait_until(
        dash_duo,
        "the page to settle",
        lambda: dash_duo.driver.execute_script(
            "return document.querySelectorAll('[data-dash-is-loading]').length === 0;"
        ),
    )


def _click(dash_duo, locate: Callable[[], WebElement]) -> None:
    """Click where an element is drawn, as a person would: scrolled into view, hovered, pressed.

    A plain element click does not reach plotly marks (the drag layer on top hit-tests them);
    plotly reports a click on the point it hovered last, hence the pause; and charts still
    settling (resized, redrawn) move or replace their marks, hence waiting until the mark
    stands still. The pointer then goes to where the mark is drawn rather than to the element
    found: a redraw replaces the mark's node with an identical one in the same place, and an
    element reference taken before it would be stale.
    """
    rect = (
        "arguments[0].scrollIntoView({block: 'center'});"
        "var r = arguments[0].getBoundingClientRect(); return [r.x, r.y, r.width, r.height];"
    )
    last: list = []

    def steady() -> bool:
        nonlocal last
        now = dash_duo.driver.execute_script(rect, locate())
        same, last = now == last, now
        return same

    wait_until(dash_duo, "the element to stand still", steady, timeout=10)
    x, y, width, height = last
    actions = ActionBuilder(dash_duo.driver)
    actions.pointer_action.move_to_location(int(x + width / 2), int(y + height / 2))
    actions.pointer_action.pause(0.4)
    actions.pointer_action.click()
    actions.perform()


def _first_sku(dash_duo) -> str:
    """The first product row's SKU; read as textContent, since the grid may be below the fold
    (selenium's text is empty for what is not drawn in the viewport)."""
    return dash_duo.driver.execute_script(
        "var c = document.querySelector(arguments[0]) || document.querySelector(arguments[1]);"
        "return c ? c.textContent.trim() : '';",
        PINNED_FIRST_SKU,
        GRID_FIRST_SKU,
    )


def test_sales_cross_filter_by_platform(demo_sqlite_url, app_factory, dash_duo):
    app = app_factory(demo_sqlite_url)
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url  # the public setter would wait for a Dash page
    login(dash_duo, next_path="/sales")
    dash_duo.driver.get(f"{dash_duo.server_url}/sales")

    dash_duo.wait_for_contains_text("#sales-kpi-row", "vs last year", timeout=20)
    dash_duo.wait_for_element("#sales-platform-graph .bars path", timeout=15)
    overall_best = _best_seller(demo_sqlite_url, None)
    wait_until(
        dash_duo, f"grid to start with {overall_best}", lambda: _first_sku(dash_duo) == overall_best
    )
    dash_duo.wait_for_contains_text(CHIPS, "Click a platform", timeout=10)
    dash_duo.driver.save_screenshot("/tmp/sales-page.png")

    # the x labels are platform names in the chart's order; pick the smallest platform, so the
    # filter visibly changes the ranking
    # read in one script call: the chart may redraw (and replace its labels) between calls
    def platform_labels() -> list[str]:
        return dash_duo.driver.execute_script(
            "return Array.from(document.querySelectorAll('#sales-platform-graph .xtick text'),"
            " el => el.textContent);"
        )

    wait_until(dash_duo, "the four platform labels", lambda: len(platform_labels()) == 4)
    labels = platform_labels()
    assert len(labels) == 4, labels
    engine = make_engine(demo_sqlite_url)
    with engine.connect() as conn:
        codes = dict(conn.execute(text("SELECT name, code FROM sales_platforms")).all())
    engine.dispose()
    name = labels[-1]
    code = codes[name]
    expected = _best_seller(demo_sqlite_url, code)

    # one stacked bar is a point in each status trace; the last platform's delivered segment
    _idle(dash_duo)
    _click(
        dash_duo,
        lambda: dash_duo.driver.find_elements(By.CSS_SELECTOR, "#sales-platform-graph .trace.bars")[
            3
        ].find_elements(By.CSS_SELECTOR, ".point path")[-1],
    )

    dash_duo.wait_for_contains_text(CHIPS, f"Platform: {name}", timeout=10)
    wait_until(
        dash_duo,
        "the platform in the URL",
        lambda: f"platform={code}" in dash_duo.driver.current_url,
    )
    wait_until(
        dash_duo,
        f"grid to start with {expected} on {name}",
        lambda: _first_sku(dash_duo) == expected,
    )
    wait_until(
        dash_duo,
        f"the platform dropdown to show {name}",
        lambda: dash_duo.find_element("#filter-platform-dropdown").text.strip().startswith(name),
    )
    dash_duo.driver.save_screenshot("/tmp/sales-page-filtered.png")

    # a status click (lifecycle order: delivered is the fourth bar) adds status= and its own chip
    _idle(dash_duo)
    _click(
        dash_duo,
        lambda: dash_duo.driver.find_elements(By.CSS_SELECTOR, "#sales-status-graph .point path")[
            3
        ],
    )
    dash_duo.wait_for_contains_text(CHIPS, "Status: Delivered", timeout=10)
    wait_until(
        dash_duo, "the status in the URL", lambda: "status=delivered" in dash_duo.driver.current_url
    )
    _click(
        dash_duo,
        lambda: dash_duo.find_element("#sales-chips-bar button[aria-label^='Clear status']"),
    )
    wait_until(
        dash_duo,
        "the status to leave the URL",
        lambda: "status=" not in dash_duo.driver.current_url,
    )

    # the platform chip's ✕ clears the platform filter: chip, URL and grid are back
    _click(
        dash_duo,
        lambda: dash_duo.find_element("#sales-chips-bar button[aria-label^='Clear platform']"),
    )
    dash_duo.wait_for_contains_text(CHIPS, "Click a platform", timeout=10)
    wait_until(
        dash_duo,
        "the platform to leave the URL",
        lambda: "platform=" not in dash_duo.driver.current_url,
    )
    wait_until(
        dash_duo,
        f"grid to start with {overall_best} again",
        lambda: _first_sku(dash_duo) == overall_best,
    )

    assert dash_duo.get_logs() == []
