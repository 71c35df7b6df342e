"""In the browser: the Overview after login, its filters in the URL, a hostile URL, and a
failing service that only breaks its own card."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from selenium.webdriver.common.keys import Keys

from bi_app.data import catalog, sales
from tests.conftest import free_port, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

START_INPUT = "#filter-date-range"
END_INPUT = "#filter-date-range-end-date"


def _start(dash_duo, app) -> None:
    # navigate=False: "/" answers with the login form, not a Dash page, until we log in
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url  # the public setter would wait for a Dash page


def _catalog(app) -> tuple[dt.date, dt.date, dict]:
    with app.server.app_context():
        first, last = catalog.data_bounds()
        return first, last, catalog.platforms()[0]


def _figure(dash_duo, graph_id: str) -> dict | None:
    return dash_duo.driver.execute_script(
        "var g = document.querySelector('#' + arguments[0] + ' .js-plotly-plot');"
        "if (!g || !g.data) { return null; }"
        "return {x: g.data.map(t => (t.x || []).map(String)), y: g.data.map(t => t.y || []),"
        "        notes: ((g.layout || {}).annotations || []).map(a => a.text)};",
        graph_id,
    )


def _revenue_days(dash_duo) -> tuple[str, str, int] | None:
    fig = _figure(dash_duo, "overview-revenue-graph")
    if not fig or not fig["x"] or not fig["x"][0]:
        return None
    days = [x[:10] for x in fig["x"][0]]
    return days[0], days[-1], len(days)


def _wait_for_overview(dash_duo) -> None:
    wait_until(
        dash_duo, "four KPI values", lambda: len(dash_duo.find_elements(".app-kpi-value")) == 4
    )
    wait_until(dash_duo, "the revenue trend", lambda: _revenue_days(dash_duo))
    wait_until(
        dash_duo,
        "top-product rows",
        lambda: dash_duo.find_elements(".bi-data-grid .ag-center-cols-container .ag-row"),
    )


def _set_date(dash_duo, selector: str, day: dt.date) -> None:
    field = dash_duo.find_element(selector)
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(day.isoformat(), Keys.ENTER)
    dash_duo.find_element("h1").click()  # close the calendar


def _picker(dash_duo) -> tuple[str, str]:
    return (
        dash_duo.find_element(START_INPUT).get_attribute("value"),
        dash_duo.find_element(END_INPUT).get_attribute("value"),
    )


def test_overview_renders_and_its_url_restores_the_view(demo_app, dash_duo):
    _first, last, platform = _catalog(demo_app)
    _start(dash_duo, demo_app)
    login(dash_duo)
    dash_duo.driver.get(f"{dash_duo.server_url}/?platform={platform['code']}")
    _wait_for_overview(dash_duo)

    default_start = last - dt.timedelta(days=89)
    assert _revenue_days(dash_duo) == (default_start.isoformat(), last.isoformat(), 90)
    assert _picker(dash_duo) == (default_start.isoformat(), last.isoformat())
    assert platform["name"] in dash_duo.find_element("#filter-platform-dropdown").text
    values = [e.text for e in dash_duo.find_elements(".app-kpi-value")]
    assert values[0].startswith("€") and values[2].startswith("€")
    assert all(v.replace(",", "").isdigit() for v in (values[1], values[3]))
    platform_fig = _figure(dash_duo, "overview-platform-status-graph")
    assert {tuple(x) for x in platform_fig["x"]} == {(platform["name"],)}  # the filter reached SQL
    assert len(platform_fig["x"]) == 6  # every status has its trace

    new_start, new_end = last - dt.timedelta(days=40), last - dt.timedelta(days=20)
    _set_date(dash_duo, START_INPUT, new_start)
    _set_date(dash_duo, END_INPUT, new_end)
    changed = (new_start.isoformat(), new_end.isoformat(), 21)
    wait_until(
        dash_duo, "the chart to follow the dates", lambda: _revenue_days(dash_duo) == changed
    )
    url = dash_duo.driver.current_url
    query = parse_qs(urlsplit(url).query)
    assert query == {
        "start": [new_start.isoformat()],
        "end": [new_end.isoformat()],
        "platform": [platform["code"]],
    }
    chart = _figure(dash_duo, "overview-revenue-graph")

    dash_duo.driver.get("about:blank")
    dash_duo.driver.get(url)
    _wait_for_overview(dash_duo)
    wait_until(dash_duo, "the restored chart", lambda: _revenue_days(dash_duo) == changed)
    assert _picker(dash_duo) == (new_start.isoformat(), new_end.isoformat())
    assert platform["name"] in dash_duo.find_element("#filter-platform-dropdown").text
    assert _figure(dash_duo, "overview-revenue-graph")["y"] == chart["y"]
    assert dash_duo.driver.current_url == url
    assert dash_duo.get_logs() == []


def test_hostile_url_shows_a_notice_and_the_default_view(demo_app, dash_duo):
    _first, last, _platform = _catalog(demo_app)
    _start(dash_duo, demo_app)
    login(dash_duo)
    dash_duo.driver.get(
        f"{dash_duo.server_url}/?start=2024-13-45&end=';DROP TABLE orders;--&platform=<script>"
    )
    dash_duo.wait_for_contains_text("#filter-notice-alert", "Invalid start date", timeout=15)
    notice = dash_duo.find_element("#filter-notice-alert").text
    assert "Invalid end date" in notice and "Unknown platform '<script>' ignored" in notice
    _wait_for_overview(dash_duo)
    default_start = last - dt.timedelta(days=89)
    assert _picker(dash_duo) == (default_start.isoformat(), last.isoformat())
    assert _revenue_days(dash_duo) == (default_start.isoformat(), last.isoformat(), 90)
    assert "Traceback" not in dash_duo.find_element("body").text
    assert dash_duo.get_logs() == []


def test_a_failing_service_only_breaks_its_own_card(demo_app, dash_duo, monkeypatch):
    def unavailable(*_args, **_kwargs):
        raise ConnectionError("database went away")

    monkeypatch.setattr(sales, "revenue_trend", unavailable)
    _start(dash_duo, demo_app)
    login(dash_duo)
    wait_until(
        dash_duo,
        "the revenue card's message",
        lambda: (
            (_figure(dash_duo, "overview-revenue-graph") or {}).get("notes")
            == ["The revenue trend is unavailable right now"]
        ),
    )
    wait_until(
        dash_duo, "four KPI values", lambda: len(dash_duo.find_elements(".app-kpi-value")) == 4
    )
    wait_until(
        dash_duo, "top-product rows", lambda: dash_duo.find_elements(".bi-data-grid .ag-row")
    )
    assert _figure(dash_duo, "overview-platform-status-graph")["x"][0]
    assert "database went away" not in dash_duo.find_element("body").text
    assert dash_duo.get_logs() == []


def test_typed_start_date_without_enter_is_the_date_the_figures_use(demo_app, dash_duo):
    _first, last, _platform = _catalog(demo_app)
    _start(dash_duo, demo_app)
    login(dash_duo)
    dash_duo.driver.get(f"{dash_duo.server_url}/")
    _wait_for_overview(dash_duo)
    typed = last - dt.timedelta(days=30)
    start = dash_duo.find_element(START_INPUT)
    start.click()
    start.send_keys(Keys.CONTROL, "a")
    start.send_keys(typed.isoformat())  # no Enter: the next click goes to the end date
    dash_duo.find_element(END_INPUT).click()
    dash_duo.find_element("h1").click()
    expected = (typed.isoformat(), last.isoformat(), 31)
    wait_until(
        dash_duo, "the chart to use the typed date", lambda: _revenue_days(dash_duo) == expected
    )
    assert _picker(dash_duo) == (typed.isoformat(), last.isoformat())
    assert parse_qs(urlsplit(dash_duo.driver.current_url).query)["start"] == [typed.isoformat()]
    assert dash_duo.get_logs() == []
