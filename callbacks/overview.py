"""Overview page: each card parses the filters, calls one sales service and one builder.

A failing service is logged and shown as a message in its own card (the registry's fallback);
the other cards go on.
"""

import dash_bootstrap_components as dbc
from dash import ClientsideFunction, Input, Output, State

from bi_app import current_settings
from bi_app.data import sales
from bi_app.export import columns_from_spec
from bi_app.filters import fit_granularity, parse_granularity, resolve_filters
from bi_app.i18n import N_
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components import fallback
from components.data_grid import grid_rows
from components.figures import (
    granularity_note,
    platform_status_figure,
    revenue_trend_figure,
    with_note,
)
from components.filter_bar import filter_inputs
from components.ids import Grid, Overview
from components.kpi_card import kpi_cards
from components.notice import error_message


@callback(
    Output(Overview.KPI_ROW, "children"),
    *filter_inputs(),
    roles=Page.OVERVIEW,
    cache_output=(sales.NAMESPACE,),
    fallback=lambda reason=None: dbc.Col(
        error_message(N_("Key figures"), reason), className="mb-3"
    ),
)
def show_kpis(start, end, platforms, categories):
    """Revenue, orders, average order value and active customers, with their change."""
    f = resolve_filters(start, end, platforms, categories)
    kpis = sales.overview_kpis(f.start, f.end, f.platforms, f.categories)
    return kpi_cards(kpis, current_settings().currency, Overview.kpi_card)


@callback(
    Output(Overview.REVENUE_GRAPH, "figure"),
    *filter_inputs(),
    Input(Overview.GRANULARITY, "value"),
    roles=Page.OVERVIEW,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.figure(N_("The revenue trend")),
)
def show_revenue_trend(start, end, platforms, categories, granularity):
    """Revenue per day, week, month or year over the selected range (coarser when the range
    would draw too many points)."""
    f = resolve_filters(start, end, platforms, categories)
    wanted = parse_granularity(granularity)
    grain, note = fit_granularity(f.start, f.end, wanted)
    note = granularity_note(f.start, f.end, wanted, grain, note)
    df = sales.revenue_trend(f.start, f.end, f.platforms, f.categories, granularity=grain)
    return with_note(revenue_trend_figure(df, grain, current_settings().currency), note)


@callback(
    Output(Overview.PLATFORM_STATUS_GRAPH, "figure"),
    *filter_inputs(),
    roles=Page.OVERVIEW,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.figure(N_("Orders by platform")),
)
def show_platform_status(start, end, platforms, categories):
    """Orders per sales platform, stacked by order status."""
    f = resolve_filters(start, end, platforms, categories)
    return platform_status_figure(
        sales.orders_by_platform_status(f.start, f.end, f.platforms, f.categories)
    )


@callback(
    Output(Grid.grid(Overview.TOP_PRODUCTS), "rowData"),
    Output(Overview.TOP_PRODUCTS_MESSAGE, "children"),
    *filter_inputs(),
    State(Grid.spec(Overview.TOP_PRODUCTS), "data"),
    roles=Page.OVERVIEW,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.each(fallback.value([]), fallback.message(N_("The product list"))),
)
def show_top_products(start, end, platforms, categories, spec):
    """The best-selling products by revenue in the selected range."""
    f = resolve_filters(start, end, platforms, categories)
    df = sales.top_products(f.start, f.end, f.platforms, f.categories, limit=100)
    return grid_rows(df, columns_from_spec(spec)), None


clientside_callback(
    ClientsideFunction("bi", "syncGranularity"),
    Output(Overview.GRANULARITY_URL_DUMMY, "children"),
    Input(Overview.GRANULARITY, "value"),
    prevent_initial_call=True,
)
