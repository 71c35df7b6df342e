"""Each page's layout builder (components/<page>_view.py) and the app shell: plain data in, a
component tree out that holds the ids the page's callbacks use and the initial values its
arguments say. Assertions walk the tree."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from bi_app.filters import FilterContext, ParsedFilters
from bi_app.filters import Filters as FilterValues
from bi_app.viewer import Viewer
from components import (
    admin_settings_view,
    customers_view,
    event_detail_view,
    events_view,
    overview_view,
    sales_view,
)
from components.event_figures import list_columns
from components.ids import (
    AdminSettings,
    App,
    Customers,
    EventDetail,
    Events,
    FilterBar,
    Grid,
    Nav,
    Overview,
    Sales,
)
from components.shell import app_shell
from tests.ui_tree import by_id as _by_id
from tests.ui_tree import texts as _texts
from tests.ui_tree import walk as _walk

PLATFORMS = [{"code": "web", "name": "Web"}, {"code": "app", "name": "App"}]
CATEGORIES = [{"code": "toys", "name": "Toys"}]


ANALYST = Viewer("analyst", "EUR", "UTC")
VIEWER = Viewer("viewer", "EUR", "UTC")


def _ctx(notices=()) -> FilterContext:
    filters = FilterValues(dt.date(2024, 3, 1), dt.date(2024, 3, 31), ("web",), None)
    return FilterContext(
        ParsedFilters(filters, list(notices)),
        PLATFORMS,
        CATEGORIES,
        dt.date(2023, 1, 1),
        dt.date(2024, 6, 30),
    )


QUERY = {"start": "2024-03-01", "end": "2024-03-31", "platform": "web"}


def _has_download_menu(ids: dict, name: str, item_id=Grid.download_item) -> bool:
    return str(item_id(name, "csv")) in ids


def _has_customer_download(ids: dict) -> bool:
    """The customer list's rows live on the server: its menu has its own ids (and callback),
    never the browser-rows download's."""
    assert not _has_download_menu(ids, Customers.GRID_NAME)
    return _has_download_menu(ids, Customers.GRID_NAME, Customers.download_item)


def _assert_filter_bar(ids: dict) -> None:
    dates = ids[FilterBar.DATE_RANGE]
    assert (dates.start_date, dates.end_date) == ("2024-03-01", "2024-03-31")
    assert (dates.min_date_allowed, dates.max_date_allowed) == ("2023-01-01", "2024-06-30")
    assert ids[FilterBar.PLATFORM].value == ["web"]
    assert ids[FilterBar.PLATFORM].options == [
        {"label": "Web", "value": "web"},
        {"label": "App", "value": "app"},
    ]
    assert ids[FilterBar.CATEGORY].value == []
    # the sidebar carries the validated filters to the other business pages
    assert ids[FilterBar.STATE_STORE].data == "?start=2024-03-01&end=2024-03-31&platform=web"


# --- Overview ------------------------------------------------------------------------------------


def test_overview_layout_has_its_ids_filters_and_the_parsed_granularity():
    page = overview_view.layout({**QUERY, "granularity": "month"}, _ctx(), ANALYST)
    ids = _by_id(page)
    for component_id in (
        Overview.KPI_ROW,
        Overview.REVENUE_GRAPH,
        Overview.PLATFORM_STATUS_GRAPH,
        Overview.TOP_PRODUCTS_MESSAGE,
        Overview.GRANULARITY_URL_DUMMY,
        str(Grid.grid(Overview.TOP_PRODUCTS)),
    ):
        assert component_id in ids, component_id
    assert ids[Overview.GRANULARITY].value == "month"
    _assert_filter_bar(ids)
    grid = ids[str(Grid.grid(Overview.TOP_PRODUCTS))]
    assert [c["field"] for c in grid.columnDefs] == [
        "sku",
        "product",
        "category",
        "units",
        "orders",
        "revenue_cents",
    ]
    # formatted in the browser with EUR's own minor unit (assets/locale.js biNumber)
    assert '"money", "EUR"' in grid.columnDefs[-1]["valueFormatter"]["function"]
    assert _has_download_menu(ids, Overview.TOP_PRODUCTS)
    assert "Revenue" in _texts(page) and "Active customers" in _texts(page)


def test_overview_layout_without_url_filters_carries_nothing_and_a_viewer_gets_no_download():
    page = overview_view.layout({}, _ctx(["Unknown platform 'x' ignored."]), VIEWER)
    ids = _by_id(page)
    assert ids[FilterBar.STATE_STORE].data == ""
    assert ids[FilterBar.NOTICE].is_open is True
    assert "Unknown platform 'x' ignored." in _texts(ids[FilterBar.NOTICE])
    assert not _has_download_menu(ids, Overview.TOP_PRODUCTS)


# --- Sales ---------------------------------------------------------------------------------------


def test_sales_layout_has_its_ids_and_the_initial_choices():
    page = sales_view.layout(
        {**QUERY, "granularity": "month", "rank": "units", "status": "paid,shipped"},
        _ctx(),
        ANALYST,
    )
    ids = _by_id(page)
    for component_id in (
        Sales.KPI_ROW,
        Sales.REVENUE_GRAPH,
        Sales.GROWTH_GRAPH,
        Sales.ORDERS_GRAPH,
        Sales.LOST_GRAPH,
        Sales.PLATFORM_GRAPH,
        Sales.STATUS_GRAPH,
        Sales.RANKING_GRAPH,
        Sales.CATEGORY_GRAPH,
        Sales.CHIPS,
        Sales.PRODUCTS_MESSAGE,
        Sales.GRANULARITY_URL_DUMMY,
        Sales.RANK_URL_DUMMY,
        Sales.STATUS_URL_DUMMY,
    ):
        assert component_id in ids, component_id
    assert ids[Sales.GRANULARITY].value == "month"
    assert [o["value"] for o in ids[Sales.GRANULARITY].options] == ["day", "week", "month", "year"]
    assert ids[Sales.RANK_METRIC].value == "units"
    assert ids[Sales.STATUS_STORE].data == ["paid", "shipped"]
    assert ids[Sales.NOTICE].is_open is False
    _assert_filter_bar(ids)
    assert [c["field"] for c in ids[str(Grid.grid(Sales.GRID_NAME))].columnDefs][-1] == "share"
    assert _has_download_menu(ids, Sales.GRID_NAME)


def test_sales_layout_every_status_is_an_empty_store_and_notices_show():
    page = sales_view.layout({"status": "lost"}, _ctx(), VIEWER)
    ids = _by_id(page)
    assert ids[Sales.STATUS_STORE].data == []
    assert ids[Sales.NOTICE].is_open is True
    assert any("lost" in t for t in _texts(ids[Sales.NOTICE]))  # the ignored status is named
    assert not _has_download_menu(ids, Sales.GRID_NAME)


# --- Customers -----------------------------------------------------------------------------------


def test_customers_layout_has_its_ids_and_an_enabled_recompute_button_for_analysts():
    page = customers_view.layout(QUERY, _ctx(), ANALYST)
    ids = _by_id(page)
    for component_id in (
        Customers.STATUS,
        Customers.RECOMPUTE_MESSAGE,
        Customers.REFRESH_STORE,
        Customers.KPI_ROW,
        Customers.SEGMENT_GRAPH,
        Customers.TAGS_GRAPH,
        Customers.RFM_GRAPH,
        Customers.TREND_GRAPH,
        Customers.MOVEMENT_GRAPH,
        Customers.COHORT_GRAPH,
        Customers.SEGMENT,
        Customers.TAG,
        Customers.SEARCH,
        Customers.LIST_COUNT,
        Customers.LIST_MESSAGE,
        Customers.LIST_SLOT,
        Customers.LIST_SHOWN_STORE,
        Customers.LIST_QUERY_STORE,
    ):
        assert component_id in ids, component_id
    assert ids[Customers.RECOMPUTE].disabled is False
    assert "Analysts and admins can recompute." not in _texts(page)
    assert ids[Customers.REFRESH_STORE].data == 0
    assert ids[Customers.SEGMENT].options and ids[Customers.TAG].options
    _assert_filter_bar(ids)
    assert Customers.LIST_DOWNLOAD in ids and Customers.LIST_DOWNLOAD_MESSAGE in ids
    # the grid is built once its place comes into view (a callback fills the slot)
    slot = ids[Customers.LIST_SLOT]
    assert getattr(slot, "data-lazy-store") == Customers.LIST_SHOWN_STORE
    assert ids[Customers.LIST_SHOWN_STORE].data is False
    assert str(Grid.grid(Customers.GRID_NAME)) not in ids
    assert "The list loads as it comes into view…" in _texts(slot)
    grid = _by_id(customers_view.list_grid("KRW", can_download=True))
    assert str(Grid.grid(Customers.GRID_NAME)) in grid
    assert _has_customer_download(grid)


def test_customers_layout_a_viewer_gets_a_disabled_button_with_a_hint_and_no_download():
    page = customers_view.layout(QUERY, _ctx(), VIEWER)
    ids = _by_id(page)
    assert ids[Customers.RECOMPUTE].disabled is True
    assert "Analysts and admins can recompute." in _texts(page)
    assert not _has_customer_download(_by_id(customers_view.list_grid("KRW", can_download=False)))


# --- Events --------------------------------------------------------------------------------------


def test_events_layout_has_the_grid_the_message_and_the_navigation():
    page = events_view.layout(Viewer("analyst", "KRW", "UTC"))
    ids = _by_id(page)
    assert Events.MESSAGE in ids
    assert ids[Events.NAV].refresh == "callback-nav"
    grid = ids[str(Grid.grid(Events.GRID_NAME))]
    assert [c["field"] for c in grid.columnDefs] == [c.field for c in list_columns()]
    # cost: formatted in the browser in KRW, which has no minor unit
    assert '"money", "KRW"' in grid.columnDefs[4]["valueFormatter"]["function"]
    assert _has_download_menu(ids, Events.GRID_NAME)
    assert not _has_download_menu(
        _by_id(events_view.layout(Viewer("viewer", "KRW", "UTC"))), Events.GRID_NAME
    )


# --- Event detail --------------------------------------------------------------------------------


def test_event_detail_layout_shows_the_summary_and_starts_the_what_if_from_the_event():
    summary = SimpleNamespace(
        name="Spring fair",
        code="EV-7",
        kind="trade_show",
        organizer="Acme",
        status="completed",
        starts_at=dt.datetime(2024, 4, 2, 9, 0),
        ends_at=dt.datetime(2024, 4, 3, 17, 30),
        venue=None,
        budget_cents=1_250_000,
    )
    base = SimpleNamespace(ticket_price_cents=2550, attendees=340)
    page = event_detail_view.layout(7, summary, base, Viewer("viewer", "EUR", "Asia/Seoul"))
    ids = _by_id(page)
    for component_id in (
        EventDetail.CHANNEL_NOTICE,
        EventDetail.SUMMARY_ROW,
        EventDetail.CHANNEL_GRAPH,
        EventDetail.CHANNEL_TABLE,
        EventDetail.CHECKINS_GRAPH,
        EventDetail.PROFILE_GRAPH,
        EventDetail.COMPARISON_GRAPH,
        EventDetail.COSTS_GRAPH,
        EventDetail.SUGGESTIONS,
        EventDetail.WHATIF_RESULT,
    ):
        assert component_id in ids, component_id
    assert ids[EventDetail.EVENT_STORE].data == 7
    assert "Spring fair" in _texts(page)
    header = next(t for t in _texts(page) if t.startswith("EV-7"))
    # stored UTC, shown in the business's time zone
    assert (
        "trade show · Acme · completed · Apr 2, 2024 18:00 – Apr 4, 2024 02:30 (Asia/Seoul)"
        in header
    )
    assert "no venue" in header and "12,500" in header
    assert ids[EventDetail.WHATIF_COST].value == 0
    assert ids[EventDetail.WHATIF_ATTENDANCE].value == 340
    assert ids[EventDetail.WHATIF_PRICE].value == 25.5
    assert "EUR" in _texts(page)


def test_event_detail_layout_without_a_what_if_base_starts_at_zero():
    summary = SimpleNamespace(
        name="X",
        code="EV-8",
        kind="webinar",
        organizer="Acme",
        status="planned",
        starts_at=dt.datetime(2024, 5, 1),
        ends_at=dt.datetime(2024, 5, 1, 1),
        venue="Hall 2",
        budget_cents=0,
    )
    ids = _by_id(event_detail_view.layout(8, summary, None, ANALYST))
    assert (ids[EventDetail.WHATIF_ATTENDANCE].value, ids[EventDetail.WHATIF_PRICE].value) == (0, 0)


# --- Admin settings ------------------------------------------------------------------------------


def _setting(key, text, *, default=True, updated_by=None, updated_at=None):
    return {
        "key": key,
        "label": key.replace("_", " ").capitalize(),
        "help": f"Help for {key}",
        "text": text,
        "default_text": "10",
        "is_default": default,
        "updated_by": updated_by,
        "updated_at": updated_at,
    }


def test_admin_settings_layout_has_one_input_per_setting_with_its_value_and_last_change():
    items = [
        _setting("vip_spend", "1000"),
        _setting(
            "churn_days",
            "45",
            default=False,
            updated_by="ana",
            updated_at=dt.datetime(2024, 6, 1, 8, 30),
        ),
    ]
    page = admin_settings_view.layout(items, Viewer("admin", "KRW", "Asia/Seoul"))
    ids = _by_id(page)
    for component_id in (AdminSettings.MESSAGE, AdminSettings.TABLE, AdminSettings.SAVE):
        assert component_id in ids, component_id
    assert ids[str(AdminSettings.input("vip_spend"))].value == "1000"
    assert ids[str(AdminSettings.input("churn_days"))].value == "45"
    assert str(AdminSettings.feedback("churn_days")) in ids
    assert ids[AdminSettings.MESSAGE].is_open is False
    texts = _texts(page)
    assert "default" in texts and "ana, 2024-06-01 17:30" in texts  # in Asia/Seoul


def test_admin_settings_unavailable_says_so():
    page = admin_settings_view.unavailable()
    assert "Settings" in _texts(page)
    assert any("Settings is unavailable right now" in t for t in _texts(page))


# --- App shell -----------------------------------------------------------------------------------


def _page(path, name, group, order):
    return {"path": path, "relative_path": path, "name": name, "group": group, "order": order}


def test_app_shell_lists_only_the_visible_pages_and_the_user():
    visible = [
        _page("/", "Overview", "Business", 0),
        _page("/ops/health", "Health", "Operations", 10),
        _page("/404", "Page not found", None, None),
    ]
    shell = app_shell(
        [*visible, _page("/admin/x", "X", "Admin", 99)], visible, "ana", "analyst", "tok"
    )
    ids = _by_id(shell)
    links = [
        n
        for n in _walk(shell)
        if isinstance(getattr(n, "id", None), dict) and n.id.get("type") == "app-nav-link"
    ]
    assert [(link.children, link.href) for link in links] == [
        ("Overview", "/"),
        ("Health", "/ops/health"),
    ]
    assert str(Nav.link("/", "business")) in ids
    assert "ana" in _texts(ids[App.USER_BADGE]) and "analyst" in _texts(ids[App.USER_BADGE])
    # the logout form and the language switch
    assert [n.value for n in _walk(shell) if getattr(n, "name", None) == "csrf_token"] == [
        "tok",
        "tok",
    ]
    for component_id in (
        App.URL,
        App.THEME_STORE,
        App.THEME_DUMMY,
        App.NAV_SEARCH_DUMMY,
        App.SIDEBAR,
        App.THEME_SWITCH,
    ):
        assert component_id in ids, component_id


def test_app_shell_without_a_user_offers_the_login():
    shell = app_shell([], [], None, None, None)
    assert "Log in" in _texts(_by_id(shell)[App.USER_BADGE])


# --- what the layouts read from the request ------------------------------------------------------


def test_shell_context_hands_the_shell_the_users_own_pages(monkeypatch):
    from bi_app import auth
    from bi_app.auth import shell_context

    monkeypatch.setattr(auth, "current_role", lambda: "analyst")
    monkeypatch.setattr(auth, "current_username", lambda: "ana")
    monkeypatch.setattr(auth, "csrf_token", lambda: "tok")
    registry = {
        "pages.a": {"path": "/", "roles": ("admin", "analyst", "viewer")},
        "pages.b": {"path": "/admin/x", "roles": ("admin",)},
    }
    assert shell_context(registry) == {
        "visible": [registry["pages.a"]],
        "username": "ana",
        "role": "analyst",
        "csrf": "tok",
    }
    monkeypatch.setattr(auth, "current_username", lambda: None)
    assert shell_context(registry)["csrf"] is None  # no logout form, so no token


def test_the_viewer_carries_what_a_role_may_do():
    from bi_app.roles import Action

    assert (
        Viewer("analyst", "EUR", "UTC").can_download and Viewer("admin", "EUR", "UTC").can_download
    )
    assert (
        not Viewer("viewer", "EUR", "UTC").can_download
        and not Viewer(None, "EUR", "UTC").can_download
    )
    assert Viewer("analyst", "EUR", "UTC").may(Action.RECOMPUTE_TAGS)
    assert not Viewer("analyst", "EUR", "UTC").may(Action.RUN_JOB_NOW)


def test_not_found_layout_links_back_to_the_overview():
    from components import not_found_view

    page = not_found_view.layout()
    assert "Page not found" in _texts(page)
    assert [n.href for n in _walk(page) if getattr(n, "href", None)] == ["/"]
