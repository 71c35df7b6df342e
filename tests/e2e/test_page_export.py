"""In the browser: the header's "Export this page as PDF" link follows the page's URL filters,
downloads a PDF with the session's cookies, and is not offered on pages without an export."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from bi_app.db.engine import make_engine
from bi_app.db.models import DailyOrders, SalesPlatform
from bi_app.reports.page_export import register_page_export
from tests.conftest import free_port, login
from tests.e2e.conftest import select_dropdown, wait_until

pytestmark = pytest.mark.e2e
LINK = "#app-export-pdf-link"


def _platform_and_range(url: str) -> tuple[str, dt.date, dt.date]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            code = conn.scalar(select(SalesPlatform.code).order_by(SalesPlatform.code))
            last = dt.date.fromisoformat(str(conn.scalar(select(func.max(DailyOrders.day)))))
    finally:
        engine.dispose()
    return code, last - dt.timedelta(days=13), last - dt.timedelta(days=7)


def _href(dash_duo) -> str:
    link = dash_duo.find_element(LINK)
    return "" if link.get_attribute("hidden") else (link.get_attribute("href") or "")


@pytest.fixture
def duo(dash_duo):
    """dash_duo, with the PDF chart renderer stopped before the test server's teardown stops
    every thread the test started (a renderer stopped that way leaves its coroutines behind)."""
    from bi_app.reports import charts

    yield dash_duo
    charts.stop()


def test_export_link_carries_the_filters_and_downloads_the_pdf(demo_app, demo_sqlite_url, duo):
    dash_duo = duo
    code, start, end = _platform_and_range(demo_sqlite_url)
    register_page_export(demo_app.server, demo_app.config.routes_pathname_prefix)
    dash_duo.start_server(demo_app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url
    login(dash_duo, next_path=f"/sales?start={start}&end={end}&platform={code}")
    dash_duo.wait_for_element(".app-kpi-value", timeout=20)

    href = wait_until(
        dash_duo, "the export link", lambda: "platform=" in _href(dash_duo) and _href(dash_duo)
    )
    assert dash_duo.find_element(LINK).text == "Export this page as PDF"
    parts = urlsplit(href)
    assert parts.path == "/export/page/sales.pdf"
    query = parse_qs(parts.query)
    assert query["platform"] == [code]
    assert query["start"] == [start.isoformat()] and query["end"] == [end.isoformat()]

    cookies = {c["name"]: c["value"] for c in dash_duo.driver.get_cookies()}
    response = requests.get(href, cookies=cookies, timeout=120)
    assert response.status_code == 200, response.text[:300]
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert f'filename="sales-{start}-{end}.pdf"' in response.headers["Content-Disposition"]
    # without the session: the login form, never the file
    anonymous = requests.get(href, timeout=30, allow_redirects=False)
    assert anonymous.status_code in (302, 401)

    # the filter bar rewrites the URL without a navigation: the link follows it
    select_dropdown(dash_duo, "#filter-preset-dropdown", "Last 30 days")
    href = wait_until(
        dash_duo,
        "the link to carry the preset",
        lambda: "preset=last-30-days" in _href(dash_duo) and _href(dash_duo),
    )
    query = parse_qs(urlsplit(href).query)
    assert query["platform"] == [code] and query["start"] != [start.isoformat()]

    # a page without an export hides the link
    dash_duo.driver.get(dash_duo.server_url + "/ops/health")
    dash_duo.wait_for_element("#_pages_content", timeout=20)
    wait_until(dash_duo, "the link to hide", lambda: _href(dash_duo) == "")
    assert dash_duo.get_logs() == []
