"""The filter bar and its URL: what a query builds, what the browser writes back, and that a
URL written by the bar rebuilds the same state. Also the sidebar's grouping."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
from urllib.parse import urlsplit

import dash
import pytest

from bi_app import date_presets, filters
from bi_app.config import PROJECT_ROOT
from bi_app.data import catalog
from bi_app.filters import (
    MAX_CHART_POINTS,
    Filters,
    chart_points,
    fit_granularity,
    load_filter_context,
    parse_filters,
    resolve_filters,
)
from components.filter_bar import filter_bar, filter_bar_for, query_search
from components.ids import FilterBar
from components.shell import nav_sections
from tests.conftest import unavailable

PLATFORMS = [
    {"code": "app", "name": "Mobile app"},
    {"code": "market", "name": "Marketplace"},
    {"code": "web", "name": "Web shop"},
]
CATEGORIES = [{"code": "books", "name": "Books"}, {"code": "toys", "name": "Toys"}]
LAST_DAY = dt.date(2024, 6, 30)
TODAY = dt.date(2024, 7, 3)  # the calendar's today, a few days after the last day with data
APP_JS = PROJECT_ROOT / "assets" / "app.js"


@pytest.fixture
def fake_catalog(monkeypatch):
    monkeypatch.setattr(catalog, "platforms", lambda: PLATFORMS)
    monkeypatch.setattr(catalog, "categories", lambda: CATEGORIES)
    monkeypatch.setattr(catalog, "data_bounds", lambda: (dt.date(2023, 1, 1), LAST_DAY))
    monkeypatch.setattr(filters, "local_today", lambda: TODAY)


def _dash_query(search: str) -> dict:
    """The kwargs Dash's router hands to ``layout(**query)`` for a search string."""
    return dash._pages._parse_query_string(search)


def _bar_state(bar) -> dict:
    picker, platform, category = (
        bar[FilterBar.DATE_RANGE],
        bar[FilterBar.PLATFORM],
        bar[FilterBar.CATEGORY],
    )
    return {
        "start": picker.start_date,
        "end": picker.end_date,
        "platform": platform.value,
        "category": category.value,
    }


def test_bar_shows_the_parsed_state_and_options(fake_catalog):
    ctx = load_filter_context(_dash_query("?start=2024-03-01&end=2024-03-31&platform=web,app"))
    bar = filter_bar(
        ctx.parsed, ctx.platforms, ctx.categories, first_day=ctx.first_day, last_day=ctx.last_day
    )
    assert _bar_state(bar) == {
        "start": "2024-03-01",
        "end": "2024-03-31",
        "platform": ["app", "web"],
        "category": [],
    }
    assert bar[FilterBar.PLATFORM].options == [
        {"label": p["name"], "value": p["code"]} for p in PLATFORMS
    ]
    assert bar[FilterBar.DATE_RANGE].max_date_allowed == "2024-06-30"
    assert bar[FilterBar.DATE_RANGE].min_date_allowed == "2023-01-01"
    assert bar[FilterBar.NOTICE].is_open is False


def test_default_range_ends_on_the_last_day_with_data(fake_catalog):
    ctx = load_filter_context({})
    assert ctx.parsed.filters == Filters(LAST_DAY - dt.timedelta(days=89), LAST_DAY)
    assert ctx.parsed.notices == []
    assert query_search({}, ctx.parsed) == ""  # a plain link keeps meaning "the latest days"


def test_hostile_query_gives_notices_and_the_default_view(fake_catalog):
    query = _dash_query("?start=2024-13-45&end=%27;DROP%20TABLE%20orders;--&platform=%3Cscript%3E")
    ctx = load_filter_context(query)
    assert ctx.parsed.filters == Filters(LAST_DAY - dt.timedelta(days=89), LAST_DAY)
    text = " ".join(ctx.parsed.notices)
    assert (
        "Invalid start date" in text and "Invalid end date" in text and "Unknown platform" in text
    )
    bar = filter_bar(ctx.parsed, ctx.platforms, ctx.categories)
    notice = bar[FilterBar.NOTICE]
    assert notice.is_open is True and notice.dismissable is True
    lines = [line.children for line in notice.children]
    assert any("<script>" in line for line in lines)  # shown as text, never as markup
    assert _bar_state(bar)["platform"] == []


def test_callback_values_outside_the_options_never_reach_a_query(fake_catalog):
    filters = resolve_filters("2024-05-01", "2024-05-07", ["web", "evil'--", "WEB"], ["toys", 42])
    assert filters == Filters(dt.date(2024, 5, 1), dt.date(2024, 5, 7), ("web",), ("toys",))
    # every platform selected is the same as no platform filter
    assert (
        resolve_filters("2024-05-01", "2024-05-07", ["app", "market", "web"], None).platforms
        is None
    )


def test_broken_catalogue_still_renders_a_bar(monkeypatch):
    def boom():
        raise RuntimeError("database is down")

    monkeypatch.setattr(catalog, "platforms", boom)
    monkeypatch.setattr("bi_app.filters.local_today", lambda: dt.date(2024, 2, 29))
    ctx = load_filter_context({"platform": "web"})
    assert ctx.platforms == [] and ctx.parsed.filters.platforms is None
    assert ctx.parsed.filters.end == dt.date(2024, 2, 29)
    assert "Filter options are unavailable" in ctx.parsed.notices[0]


def _run_clientside(location: str, function: str, *args) -> tuple[str, str]:
    """Run one of assets/app.js's functions in node with a stub browser at ``location``;
    returns (the URL it wrote, what it returned)."""
    url = urlsplit(location)
    script = f"""
    var state = {{url: null}};
    global.window = {{
      location: {{pathname: {json.dumps(url.path)}, search: {
        json.dumps("?" + url.query if url.query else "")
    },
                 hash: ""}},
      history: {{state: null, replaceState: function (s, t, u) {{
        var q = u.indexOf("?");
        state.url = u;
        window.location.search = q < 0 ? "" : u.slice(q);
      }}}},
      localStorage: {{getItem: function () {{ return null; }}}},
    }};
    global.document = {{
      documentElement: {{setAttribute: function () {{}}}},
      addEventListener: function () {{}},
    }};
    global.URLSearchParams = URLSearchParams;
    require({json.dumps(str(APP_JS))});
    var out = window.dash_clientside.bi.{function}.apply(null, {json.dumps(list(args))});
    console.log(JSON.stringify([state.url, out]));
    """
    done = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, timeout=30, check=True
    )
    return tuple(json.loads(done.stdout))


def _run_sync_filters(location: str, start, end, platforms, categories) -> tuple[str, str]:
    return _run_clientside(location, "syncFilters", start, end, platforms, categories)


def test_url_written_by_the_bar_rebuilds_the_same_state(fake_catalog):
    if shutil.which("node") is None:
        unavailable("node (it runs the clientside code)")
    new_url, search = _run_sync_filters(
        "/?granularity=week&start=2024-01-01",
        "2024-04-01T00:00:00",
        "2024-04-30",
        ["web", "app"],
        ["toys"],
    )
    assert (
        new_url
        == "/?granularity=week&start=2024-04-01&end=2024-04-30&platform=web,app&category=toys"
    )
    assert search == "?start=2024-04-01&end=2024-04-30&platform=web,app&category=toys"

    ctx = load_filter_context(_dash_query("?" + urlsplit(new_url).query))
    expected = Filters(dt.date(2024, 4, 1), dt.date(2024, 4, 30), ("app", "web"), ("toys",))
    assert ctx.parsed.filters == expected and ctx.parsed.notices == []
    bar = filter_bar(ctx.parsed, ctx.platforms, ctx.categories)
    assert _bar_state(bar) == {
        "start": "2024-04-01",
        "end": "2024-04-30",
        "platform": ["app", "web"],
        "category": ["toys"],
    }
    # the server's canonical form says the same thing as what the browser wrote
    assert (
        parse_filters(
            _dash_query(expected.to_search()),
            today=LAST_DAY,
            known_platforms=["app", "market", "web"],
            known_categories=["books", "toys"],
        ).filters
        == expected
    )

    cleared, search = _run_sync_filters(new_url, "2024-04-01", "2024-04-30", [], None)
    assert cleared == "/?granularity=week&start=2024-04-01&end=2024-04-30"
    assert search == "?start=2024-04-01&end=2024-04-30"


def test_nav_sections_group_order_and_visibility():
    pages = [
        {"path": "/admin/users", "name": "Users", "group": "Admin", "order": 1},
        {"path": "/ops", "name": "Health", "group": "Operations", "order": 0},
        {"path": "/sales", "name": "Sales", "group": "Business", "order": 1},
        {"path": "/", "name": "Overview", "group": "Business", "order": 0},
        {"path": "/events", "name": "Events", "group": "Business", "order": None},
        {"path": "/404", "name": "Page not found"},
    ]
    allowed = {"/", "/sales", "/events", "/ops", "/404"}
    sections = nav_sections(pages, allowed)
    assert [(group, [p["name"] for p in members]) for group, members in sections] == [
        ("Business", ["Overview", "Sales", "Events"]),
        ("Operations", ["Health"]),
    ]


def test_presets_follow_the_url_and_the_browser_keeps_them(fake_catalog):
    if shutil.which("node") is None:
        unavailable("node (it runs the clientside code)")
    # choosing a preset writes it into the URL and into the search the sidebar carries
    url, search = _run_clientside(
        "/sales?granularity=week&start=2024-01-01&end=2024-01-31&platform=web",
        "syncPreset",
        "last-month",
    )
    assert (
        url
        == "/sales?granularity=week&start=2024-01-01&end=2024-01-31&platform=web&preset=last-month"
    )
    assert search == "?preset=last-month&start=2024-01-01&end=2024-01-31&platform=web"
    # the dates the preset set come next: the URL keeps the preset beside them
    url, search = _run_clientside(url, "syncFilters", "2024-06-01", "2024-06-30", ["web"], None)
    assert search == "?preset=last-month&start=2024-06-01&end=2024-06-30&platform=web"
    # clearing it (dates edited by hand) removes it
    url, search = _run_clientside(url, "syncPreset", None)
    assert "preset" not in url and search == "?start=2024-06-01&end=2024-06-30&platform=web"

    # a page opened from that link resolves the preset against today, whatever dates it holds
    ctx = load_filter_context(_dash_query("?preset=last-month&start=2023-01-01&end=2023-01-31"))
    assert ctx.parsed.filters == Filters(
        dt.date(2024, 6, 1), dt.date(2024, 6, 30), preset="last-month"
    )
    assert ctx.parsed.notices == []
    bar = filter_bar_for(ctx, {"preset": "last-month"})
    assert bar[FilterBar.PRESET].value == "last-month"
    assert bar[FilterBar.DATE_RANGE].start_date == "2024-06-01"
    assert bar[FilterBar.STATE_STORE].data == "?preset=last-month&start=2024-06-01&end=2024-06-30"
    # "this year" reaches past today: the picker allows it
    assert bar[FilterBar.DATE_RANGE].max_date_allowed == "2024-12-31"

    ctx = load_filter_context(_dash_query("?preset=next-decade&start=2024-02-01&end=2024-02-29"))
    assert ctx.parsed.filters == Filters(dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert ctx.parsed.notices == ["Unknown date preset 'next-decade' ignored."]


@pytest.mark.parametrize(
    ("code", "first", "last"),
    [  # seen from Wednesday 2024-05-15
        ("today", "2024-05-15", "2024-05-15"),
        ("yesterday", "2024-05-14", "2024-05-14"),
        ("last-7-days", "2024-05-09", "2024-05-15"),
        ("last-30-days", "2024-04-16", "2024-05-15"),
        ("last-90-days", "2024-02-16", "2024-05-15"),
        ("this-week", "2024-05-13", "2024-05-19"),
        ("last-week", "2024-05-06", "2024-05-12"),
        ("this-month", "2024-05-01", "2024-05-31"),
        ("last-month", "2024-04-01", "2024-04-30"),
        ("this-quarter", "2024-04-01", "2024-06-30"),
        ("last-quarter", "2024-01-01", "2024-03-31"),
        ("this-year", "2024-01-01", "2024-12-31"),
        ("last-year", "2023-01-01", "2023-12-31"),
        ("month-to-date", "2024-05-01", "2024-05-15"),
        ("quarter-to-date", "2024-04-01", "2024-05-15"),
        ("year-to-date", "2024-01-01", "2024-05-15"),
    ],
)
def test_preset_ranges(code, first, last):
    assert date_presets.preset_range(code, dt.date(2024, 5, 15)) == (
        dt.date.fromisoformat(first),
        dt.date.fromisoformat(last),
    )


def test_presets_across_year_boundaries():
    new_year = dt.date(2025, 1, 1)  # a Wednesday
    assert date_presets.preset_range("last-week", new_year) == (
        dt.date(2024, 12, 23),
        dt.date(2024, 12, 29),
    )
    assert date_presets.preset_range("last-quarter", new_year) == (
        dt.date(2024, 10, 1),
        dt.date(2024, 12, 31),
    )
    assert date_presets.preset_range("last-month", new_year)[0] == dt.date(2024, 12, 1)
    assert set(date_presets.PRESETS) == {o["value"] for o in date_presets.options()}


def test_any_real_date_and_no_cap_in_years(fake_catalog):
    ctx = load_filter_context(_dash_query("?start=1950-01-01&end=1999-12-31"))
    assert ctx.parsed.filters == Filters(dt.date(1950, 1, 1), dt.date(1999, 12, 31))
    assert ctx.parsed.notices == []
    ctx = load_filter_context(_dash_query("?start=1899-12-31&end=1999-12-31"))
    assert ctx.parsed.filters == Filters(LAST_DAY - dt.timedelta(days=89), LAST_DAY)
    assert "before 1900" in ctx.parsed.notices[0]


@pytest.mark.parametrize(
    ("start", "end", "wanted", "grain", "points"),
    [
        ("2024-01-01", "2024-12-31", "day", "day", None),  # 366 days: fine
        ("2015-01-01", "2024-12-31", "day", "week", 3653),  # ten years of days: weeks
        ("2015-01-01", "2024-12-31", "month", "month", None),  # ten years of months: fine
        ("2015-01-01", "2024-12-31", "year", "year", None),
        ("1900-01-01", "2024-12-31", "week", "year", 6523),  # 1,500 months are too many too
        ("1950-01-01", "2024-12-31", "month", "month", None),  # 900 months
    ],
)
def test_ranges_are_bounded_by_points_not_years(start, end, wanted, grain, points):
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    chosen, note = fit_granularity(first, last, wanted)
    assert chosen == grain
    assert chart_points(first, last, chosen) <= MAX_CHART_POINTS
    if points is None:
        assert note is None
    else:
        assert note == f"Shown per {grain}: per {wanted} the range would draw {points:,} points."


def test_chart_points_count_partial_periods():
    d = dt.date.fromisoformat
    assert chart_points(d("2024-01-31"), d("2024-02-01"), "month") == 2
    assert chart_points(d("2024-01-07"), d("2024-01-08"), "week") == 2  # Sunday, then Monday
    assert chart_points(d("2024-01-08"), d("2024-01-14"), "week") == 1
    assert chart_points(d("2023-12-31"), d("2024-01-01"), "year") == 2
