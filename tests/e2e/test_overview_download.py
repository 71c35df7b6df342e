"""On the real Overview: the top-products download equals the database's own answer.

The expected rows are computed here straight from the raw order tables (not through the roll-ups
or the data layer the page uses), so the test checks the whole chain: SQL roll-ups, cache,
callback, grid, download callback and file writer.
"""

import csv
import json

from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, text

from tests.conftest import ANALYST_PASSWORD, login
from tests.e2e.conftest import wait_for_download

INDEPENDENT_TOP_PRODUCTS = text("""
    SELECT p.sku, p.name AS product, c.name AS category,
           SUM(i.quantity) AS units, COUNT(DISTINCT o.id) AS orders, SUM(i.amount_cents) AS
           revenue_cents
    FROM order_items i
    JOIN orders o ON o.id = i.order_id
    JOIN products p ON p.id = i.product_id
    JOIN categories c ON c.id = p.category_id
    JOIN sales_platforms s ON s.id = o.platform_id
    WHERE o.status IN ('paid', 'shipped', 'delivered')
      AND date(o.ordered_at) BETWEEN :start AND :end
      AND s.code = :platform
    GROUP BY p.sku, p.name, c.name
""")


def _download(dash_duo, label: str) -> None:
    dash_duo.find_element(".bi-grid-download .dropdown-toggle").click()
    menu = dash_duo.wait_for_element(".bi-grid-download .dropdown-menu.show")
    menu.find_element(By.XPATH, f".//*[normalize-space(text())='{label}']").click()


def test_top_products_downloads_equal_the_database(demo_app, demo_sqlite_url, start_app, dash_duo):
    engine = create_engine(demo_sqlite_url)
    with engine.connect() as conn:
        last_day = conn.execute(text("SELECT max(date(ordered_at)) FROM orders")).scalar_one()
        start = conn.execute(text("SELECT date(:d, '-59 days')"), {"d": last_day}).scalar_one()
        expected = {
            r.sku: r
            for r in conn.execute(
                INDEPENDENT_TOP_PRODUCTS, {"start": start, "end": last_day, "platform": "web"}
            )
        }
    engine.dispose()
    assert len(expected) > 5

    start_app(demo_app)
    query = f"/?start={start}&end={last_day}&platform=web"
    login(dash_duo, "analyst", ANALYST_PASSWORD, next_path=query)
    dash_duo.wait_for_element(".ag-row", timeout=20)

    _download(dash_duo, "CSV")
    with wait_for_download(dash_duo, "overview-top-products-*.csv").open(
        encoding="utf-8-sig", newline=""
    ) as fh:
        rows = list(csv.DictReader(fh))
    _download(dash_duo, "JSON")
    records = json.loads(wait_for_download(dash_duo, "overview-top-products-*.json").read_text())

    want_top = sorted(expected.values(), key=lambda r: (-r.revenue_cents, r.sku))[:100]
    assert [r["SKU"] for r in rows] == [r.sku for r in want_top]
    for row in rows:
        truth = expected[row["SKU"]]
        assert row["Product"] == truth.product and row["Category"] == truth.category
        assert int(row["Units"]) == truth.units
        assert int(row["Orders"]) == truth.orders
        assert round(float(row["Revenue"]) * 100) == truth.revenue_cents
    assert [r["sku"] for r in records] == [r.sku for r in want_top]
    assert "web" in dash_duo.driver.current_url
    assert dash_duo.get_logs() == []
