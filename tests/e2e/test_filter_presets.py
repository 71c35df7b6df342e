"""In the browser: date presets in the filter bar and the URL, and ranges far longer than the
old five-year cap drawn at a grain that fits."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from bi_app import filters
from bi_app.date_presets import preset_range
from tests.conftest import login
from tests.e2e.conftest import select_dropdown, wait_until
from tests.e2e.test_overview import (
    START_INPUT,
    _catalog,
    _figure,
    _picker,
    _revenue_days,
    _set_date,
    _start,
    _wait_for_overview,
)

pytestmark = pytest.mark.e2e
PRESET = "#filter-preset-dropdown"


def _query(dash_duo) -> dict[str, list[str]]:
    return parse_qs(urlsplit(dash_duo.driver.current_url).query)


def _sales_link(dash_duo) -> str:
    return dash_duo.driver.execute_script(
        "var a = Array.from(document.querySelectorAll('a'))"
        "  .find(a => new URL(a.href).pathname === '/sales');"
        "return a ? a.getAttribute('href') : null;"
    )


def test_presets_set_the_dates_follow_the_url_and_give_way_to_typed_dates(demo_app, dash_duo):
    with demo_app.server.app_context():
        today = filters.local_today()
    _start(dash_duo, demo_app)
    login(dash_duo)
    dash_duo.driver.get(f"{dash_duo.server_url}/")
    _wait_for_overview(dash_duo)

    select_dropdown(dash_duo, PRESET, "Last 30 days")
    first, last = (d.isoformat() for d in preset_range("last-30-days", today))
    wait_until(
        dash_duo, "the picker to show the preset", lambda: _picker(dash_duo) == (first, last)
    )
    wait_until(
        dash_duo, "the chart to follow", lambda: _revenue_days(dash_duo) == (first, last, 30)
    )
    wait_until(dash_duo, "the URL", lambda: _query(dash_duo).get("preset") == ["last-30-days"])
    assert _query(dash_duo)["start"] == [first] and _query(dash_duo)["end"] == [last]
    wait_until(dash_duo, "the sidebar link", lambda: "preset=last-30-days" in _sales_link(dash_duo))
    dash_duo.driver.save_screenshot("/tmp/filter-presets.png")

    # dates typed by hand: the preset gives way, in the dropdown and in the URL
    typed = today - dt.timedelta(days=10)
    _set_date(dash_duo, START_INPUT, typed)
    wait_until(dash_duo, "the preset to clear", lambda: "preset" not in _query(dash_duo))
    wait_until(
        dash_duo,
        "the dropdown to say custom",
        lambda: "Custom range" in dash_duo.find_element(PRESET).text,
    )
    assert _picker(dash_duo) == (typed.isoformat(), last)
    wait_until(dash_duo, "the sidebar link", lambda: "preset" not in _sales_link(dash_duo))

    # a shared link: the preset wins over the dates it was copied with
    dash_duo.driver.get(f"{dash_duo.server_url}/?preset=last-month&start=2001-01-01&end=2001-01-31")
    _wait_for_overview(dash_duo)
    first, last = (d.isoformat() for d in preset_range("last-month", today))
    assert _picker(dash_duo) == (first, last)
    assert "Last month" in dash_duo.find_element(PRESET).text
    assert dash_duo.get_logs() == []


def test_decades_of_days_are_drawn_at_a_grain_that_fits(demo_app, dash_duo):
    _first, last, _platform = _catalog(demo_app)
    _start(dash_duo, demo_app)
    login(dash_duo)
    dash_duo.driver.get(f"{dash_duo.server_url}/?start=1990-01-01&end={last}&granularity=day")
    wait_until(dash_duo, "the revenue trend", lambda: _revenue_days(dash_duo))
    assert _picker(dash_duo) == ("1990-01-01", last.isoformat())  # no cap in years any more
    months = (last.year - 1990) * 12 + last.month
    days = (last - dt.date(1990, 1, 1)).days + 1
    assert _revenue_days(dash_duo) == ("1990-01-01", last.replace(day=1).isoformat(), months)
    notes = _figure(dash_duo, "overview-revenue-graph")["notes"]
    dash_duo.driver.save_screenshot("/tmp/long-range.png")
    assert notes == [f"Shown per month: per day the range would draw {days:,} points."]
    assert "limited to" not in dash_duo.find_element("body").text
    assert dash_duo.get_logs() == []
