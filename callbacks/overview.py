"""Overview page: each card parses the filters, calls one sales service and one builder.

A failing service is logged and shown as a message in its own card; the other cards go on.
"""

import logging

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State

from bi_app import current_settings
from bi_app.data import sales
from bi_app.export import columns_from_spec
from bi_app.filters import parse_granularity
from callbacks._registry import callback, clientside_callback
from components.data_grid import grid_rows
from components.figures import empty_figure, platform_status_figure, revenue_trend_figure
from components.filter_bar import filter_inputs, resolve_filters
from components.ids import Grid, Overview, OverviewPanel
from components.kpi_card import kpi_cards
from components.notice import error_message

log = logging.getLogger(__name__)
UNAVAILABLE = "{} is unavailable right now"


@callback(Output(Overview.KPI_ROW, "children"), *filter_inputs())
def show_kpis(start, end, platforms, categories):
    """Revenue, orders, average order value and active customers, with their change."""
    f = resolve_filters(start, end, platforms, categories)
    try:
        kpis = sales.overview_kpis(f.start, f.end, f.platforms, f.categories)
    except Exception:
        log.exception("overview KPIs failed for %s", f)
        return dbc.Col(error_message("Key figures"), className="mb-3")
    return kpi_cards(kpis, current_settings().currency, Overview.kpi_card)


@callback(
    Output(Overview.REVENUE_GRAPH, "figure"), *filter_inputs(), Input(Overview.GRANULARITY, "value")
)
def show_revenue_trend(start, end, platforms, categories, granularity):
    """Revenue per day, week or month over the selected range."""
    f, grain = resolve_filters(start, end, platforms, categories), parse_granularity(granularity)
    try:
        df = sales.revenue_trend(f.start, f.end, f.platforms, f.categories, granularity=grain)
    except Exception:
        log.exception("revenue trend failed for %s (%s)", f, grain)
        return empty_figure(UNAVAILABLE.format("The revenue trend"))
    return revenue_trend_figure(df, grain, current_settings().currency)


@callback(Output(Overview.PLATFORM_STATUS_GRAPH, "figure"), *filter_inputs())
def show_platform_status(start, end, platforms, categories):
    """Orders per sales platform, stacked by order status."""
    f = resolve_filters(start, end, platforms, categories)
    try:
        df = sales.orders_by_platform_status(f.start, f.end, f.platforms, f.categories)
    except Exception:
        log.exception("orders by platform/status failed for %s", f)
        return empty_figure(UNAVAILABLE.format("Orders by platform"))
    return platform_status_figure(df)


@callback(
    Output(Grid.grid(Overview.TOP_PRODUCTS), "rowData"),
    Output(OverviewPanel.TOP_PRODUCTS_MESSAGE, "children"),
    *filter_inputs(),
    State(Grid.spec(Overview.TOP_PRODUCTS), "data"),
)
def show_top_products(start, end, platforms, categories, spec):
    """The best-selling products by revenue in the selected range."""
    f = resolve_filters(start, end, platforms, categories)
    try:
        df = sales.top_products(f.start, f.end, f.platforms, f.categories, limit=100)
        rows = grid_rows(df, columns_from_spec(spec))
    except Exception:
        log.exception("top products failed for %s", f)
        return [], error_message("The product list")
    return rows, None


clientside_callback(
    ClientsideFunction("bi", "syncGranularity"),
    Output(OverviewPanel.GRANULARITY_URL_DUMMY, "children"),
    Input(Overview.GRANULARITY, "value"),
    prevent_initial_call=True,
)
