"""Sales page: every card parses the filters (global + status), calls one query, one builder.

Clicks on the platform, status and category charts write the global platform/category filter or
the page's status store; chips show and clear them; the URL follows through clientside code.
"""

import logging

from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.data import catalog, sales, sales_growth
from bi_app.export import columns_from_spec
from bi_app.filters import parse_granularity, parse_statuses
from callbacks._registry import callback, clientside_callback
from components import sales_figures as figs
from components.cross_filter import clicked_code, filter_chips, toggle_selection
from components.data_grid import grid_rows
from components.figures import empty_figure, platform_status_figure
from components.filter_bar import filter_inputs, resolve_filters
from components.ids import Filters, Grid, Sales
from components.notice import error_message

log = logging.getLogger(__name__)
UNAVAILABLE = "{} is unavailable right now"


def page_inputs() -> list[Input]:
    """The global filter's four inputs, then the page's status filter."""
    return [*filter_inputs(), Input(Sales.STATUS_STORE, "data")]


def resolve(start, end, platforms, categories, statuses):
    """Validated global filters and statuses (what the browser sent is never trusted)."""
    return resolve_filters(start, end, platforms, categories), parse_statuses(statuses)[0]


@callback(Output(Sales.KPI_ROW, "children"), *page_inputs())
def show_kpis(start, end, platforms, categories, statuses):
    """Revenue, orders, average order value and lost orders against last period and last year."""
    f, status = resolve(start, end, platforms, categories, statuses)
    try:
        kpis = sales_growth.growth_kpis(f.start, f.end, f.platforms, f.categories, status)
    except Exception:
        log.exception("sales KPIs failed for %s, statuses %s", f, status)
        return error_message("Key figures")
    return figs.growth_kpi_cards(kpis, current_settings().currency)


@callback(
    Output(Sales.REVENUE_GRAPH, "figure"),
    Output(Sales.GROWTH_GRAPH, "figure"),
    Output(Sales.ORDERS_GRAPH, "figure"),
    *page_inputs(),
    Input(Sales.GRANULARITY, "value"),
)
def show_trends(start, end, platforms, categories, statuses, granularity):
    """Revenue with last year's, growth in percent, orders and average order value per period."""
    (f, status), grain = (
        resolve(start, end, platforms, categories, statuses),
        parse_granularity(granularity),
    )
    try:
        df = sales_growth.revenue_growth(f.start, f.end, f.platforms, f.categories, status, grain)
    except Exception:
        log.exception("revenue growth failed for %s, statuses %s (%s)", f, status, grain)
        return (empty_figure(UNAVAILABLE.format("Revenue")),) * 3
    return figs.trend_figures(df, grain, current_settings().currency)


@callback(Output(Sales.LOST_GRAPH, "figure"), *page_inputs(), Input(Sales.GRANULARITY, "value"))
def show_lost_orders(start, end, platforms, categories, statuses, granularity):
    """Cancelled and refunded orders per period and their share of all orders."""
    (f, status), grain = (
        resolve(start, end, platforms, categories, statuses),
        parse_granularity(granularity),
    )
    try:
        df = sales.lost_orders_trend(f.start, f.end, f.platforms, f.categories, status, grain)
    except Exception:
        log.exception("cancellations/refunds failed for %s, statuses %s", f, status)
        return empty_figure(UNAVAILABLE.format("Cancellations and refunds"))
    return figs.lost_figure(df, grain, current_settings().currency)


@callback(Output(Sales.PLATFORM_GRAPH, "figure"), *page_inputs())
def show_platforms(start, end, platforms, categories, statuses):
    """Orders per platform, stacked by status."""
    f, status = resolve(start, end, platforms, categories, statuses)
    try:
        df = sales.orders_by_platform_status(f.start, f.end, f.platforms, f.categories, status)
    except Exception:
        log.exception("orders by platform failed for %s", f)
        return empty_figure(UNAVAILABLE.format("Orders by platform"))
    return platform_status_figure(df, clickable=True)


@callback(Output(Sales.STATUS_GRAPH, "figure"), *page_inputs())
def show_statuses(start, end, platforms, categories, statuses):
    """Orders per status with their share."""
    f, status = resolve(start, end, platforms, categories, statuses)
    try:
        df = sales.orders_by_status(f.start, f.end, f.platforms, f.categories, status)
    except Exception:
        log.exception("orders by status failed for %s", f)
        return empty_figure(UNAVAILABLE.format("Orders by status"))
    return figs.status_figure(df, current_settings().currency)


@callback(Output(Sales.CATEGORY_GRAPH, "figure"), *page_inputs())
def show_categories(start, end, platforms, categories, statuses):
    """Revenue per product category."""
    f, status = resolve(start, end, platforms, categories, statuses)
    try:
        df = sales.category_sales(f.start, f.end, f.platforms, f.categories, status)
    except Exception:
        log.exception("category sales failed for %s", f)
        return empty_figure(UNAVAILABLE.format("Revenue by category"))
    return figs.category_figure(df, current_settings().currency)


@callback(
    Output(Sales.RANKING_GRAPH, "figure"),
    Output(Grid.grid(Sales.GRID_NAME), "rowData"),
    Output(Sales.PRODUCTS_MESSAGE, "children"),
    *page_inputs(),
    Input(Sales.RANK_METRIC, "value"),
    State(Grid.spec(Sales.GRID_NAME), "data"),
)
def show_products(start, end, platforms, categories, statuses, metric, spec):
    """Best sellers by revenue or units, and every product sold in the grid."""
    f, status = resolve(start, end, platforms, categories, statuses)
    metric = metric if metric in sales.RANK_METRICS else "revenue"
    try:
        df = sales.product_ranking(f.start, f.end, f.platforms, f.categories, status, metric)
        rows = grid_rows(df, columns_from_spec(spec))
    except Exception:
        log.exception("product ranking failed for %s", f)
        return (
            empty_figure(UNAVAILABLE.format("The ranking")),
            [],
            error_message("The product list"),
        )
    return figs.ranking_figure(df, metric, current_settings().currency), rows, None


@callback(
    Output(Filters.PLATFORM, "value"),
    Output(Filters.CATEGORY, "value"),
    Output(Sales.STATUS_STORE, "data"),
    Input(Sales.PLATFORM_GRAPH, "clickData"),
    Input(Sales.STATUS_GRAPH, "clickData"),
    Input(Sales.CATEGORY_GRAPH, "clickData"),
    Input(Sales.chip_clear(ALL), "n_clicks"),
    State(Filters.PLATFORM, "value"),
    State(Filters.CATEGORY, "value"),
    State(Sales.STATUS_STORE, "data"),
    prevent_initial_call=True,
)
def cross_filter(
    platform_click, status_click, category_click, _chips, platforms, categories, statuses
):
    """A click on a chart filters the page by what was clicked; a chip's ✕ removes its filter."""
    trigger = ctx.triggered_id
    selected = {"platform": platforms, "category": categories, "status": statuses}
    if isinstance(trigger, dict):
        if not (ctx.triggered and ctx.triggered[0]["value"]):
            raise PreventUpdate  # a chip was (re)drawn, not clicked
        selected[trigger["dimension"]] = []
    else:
        dimension = {
            Sales.PLATFORM_GRAPH: "platform",
            Sales.STATUS_GRAPH: "status",
            Sales.CATEGORY_GRAPH: "category",
        }[trigger]
        code = clicked_code(
            {"platform": platform_click, "status": status_click, "category": category_click}[
                dimension
            ]
        )
        if code is None:
            raise PreventUpdate
        selected[dimension] = toggle_selection(selected[dimension], code)
    return tuple(
        no_update if selected[k] is v else selected[k]
        for k, v in (("platform", platforms), ("category", categories), ("status", statuses))
    )


@callback(
    Output(Sales.CHIPS, "children"),
    Input(Filters.PLATFORM, "value"),
    Input(Filters.CATEGORY, "value"),
    Input(Sales.STATUS_STORE, "data"),
)
def show_chips(platforms, categories, statuses):
    """One removable chip per active platform, category or status filter."""
    f = resolve_filters(None, None, platforms, categories)
    try:
        names = {
            "platform": {p["code"]: p["name"] for p in catalog.platforms()},
            "category": {c["code"]: c["name"] for c in catalog.categories()},
        }
    except Exception:
        log.exception("catalogue names unavailable for the filter chips")
        names = {}
    selected = {
        "platform": f.platforms,
        "category": f.categories,
        "status": parse_statuses(statuses)[0],
    }
    return filter_chips(selected, names)


clientside_callback(
    "function (statuses) {"
    " return window.dash_clientside.bi.syncParam('status')((statuses || []).join(',')); }",
    Output(Sales.STATUS_URL_DUMMY, "children"),
    Input(Sales.STATUS_STORE, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("bi", "syncGranularity"),
    Output(Sales.GRANULARITY_URL_DUMMY, "children"),
    Input(Sales.GRANULARITY, "value"),
    prevent_initial_call=True,
)

clientside_callback(
    "function (metric) { return window.dash_clientside.bi.syncParam('rank')(metric); }",
    Output(Sales.RANK_URL_DUMMY, "children"),
    Input(Sales.RANK_METRIC, "value"),
    prevent_initial_call=True,
)
