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

from bi_app.config import PROJECT_ROOT
from bi_app.data import catalog
from bi_app.filters import Filters, load_filter_context, parse_filters, resolve_filters
from components.filter_bar import filter_bar, query_search
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
APP_JS = PROJECT_ROOT / "assets" / "app.js"


@pytest.fixture
def fake_catalog(monkeypatch):
    monkeypatch.setattr(catalog, "platforms", lambda: PLATFORMS)
    monkeypatch.setattr(catalog, "categories", lambda: CATEGORIES)
    monkeypatch.setattr(catalog, "data_bounds", lambda: (dt.date(2023, 1, 1), LAST_DAY))


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


def _run_sync_filters(location: str, start, end, platforms, categories) -> tuple[str, str]:
    """Run assets/app.js's ``syncFilters`` in node with a stub browser;
    returns (new URL, search)."""
    url = urlsplit(location)
    script = f"""
    var state = {{url: null}};
    global.window = {{
      location: {{pathname: {json.dumps(url.path)}, search: {
        json.dumps("?" + url.query if url.query else "")
    },
                 hash: ""}},
      history: {{state: null, replaceState: function (s, t, u) {{ state.url = u; }}}},
      localStorage: {{getItem: function () {{ return null; }}}},
    }};
    global.document = {{documentElement: {{setAttribute: function () {{}}}}}};
    global.URLSearchParams = URLSearchParams;
    require({json.dumps(str(APP_JS))});
    var out = window.dash_clientside.bi.syncFilters({json.dumps(start)}, {json.dumps(end)},
                                                      {json.dumps(platforms)},
                                                      {json.dumps(categories)});
    console.log(JSON.stringify([state.url, out]));
    """
    done = subprocess.run(
        ["node", "-e", script], capture_output=True, text=True, timeout=30, check=True
    )
    return tuple(json.loads(done.stdout))


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
