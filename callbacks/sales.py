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
from bi_app.filters import fit_granularity, parse_granularity, parse_statuses, resolve_filters
from bi_app.i18n import N_
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components import fallback
from components import sales_figures as figs
from components.cross_filter import clicked_code, filter_chips, toggle_selection
from components.data_grid import column_defs, column_spec, grid_rows
from components.figures import granularity_note, platform_status_figure, with_note
from components.filter_bar import filter_inputs
from components.ids import FilterBar, Grid, Sales
from components.sales_view import growth_columns, growth_dimension

log = logging.getLogger(__name__)


def page_inputs() -> list[Input]:
    """The global filter's four inputs, then the page's status filter."""
    return [*filter_inputs(), Input(Sales.STATUS_STORE, "data")]


def resolve(start, end, platforms, categories, statuses):
    """Validated global filters and statuses (what the browser sent is never trusted)."""
    return resolve_filters(start, end, platforms, categories), parse_statuses(statuses)[0]


@callback(
    Output(Sales.KPI_ROW, "children"),
    *page_inputs(),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.message(N_("Key figures")),
)
def show_kpis(start, end, platforms, categories, statuses):
    """Revenue, orders, average order value and lost orders against last period and last year."""
    f, status = resolve(start, end, platforms, categories, statuses)
    kpis = sales_growth.growth_kpis(f.start, f.end, f.platforms, f.categories, status)
    return figs.growth_kpi_cards(kpis, current_settings().currency)


@callback(
    Output(Sales.REVENUE_GRAPH, "figure"),
    Output(Sales.GROWTH_GRAPH, "figure"),
    Output(Sales.ORDERS_GRAPH, "figure"),
    *page_inputs(),
    Input(Sales.GRANULARITY, "value"),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.each(*[fallback.figure(N_("Revenue"))] * 3),
)
def show_trends(start, end, platforms, categories, statuses, granularity):
    """Revenue with last year's, growth in percent, orders and average order value per period."""
    f, status = resolve(start, end, platforms, categories, statuses)
    wanted = parse_granularity(granularity)
    grain, note = fit_granularity(f.start, f.end, wanted)
    note = granularity_note(f.start, f.end, wanted, grain, note)
    df = sales_growth.revenue_growth(f.start, f.end, f.platforms, f.categories, status, grain)
    revenue, growth, orders = figs.trend_figures(df, grain, current_settings().currency)
    return with_note(revenue, note), growth, orders


@callback(
    Output(Sales.LOST_GRAPH, "figure"),
    *page_inputs(),
    Input(Sales.GRANULARITY, "value"),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.figure(N_("Cancellations and refunds")),
)
def show_lost_orders(start, end, platforms, categories, statuses, granularity):
    """Cancelled and refunded orders per period and their share of all orders."""
    f, status = resolve(start, end, platforms, categories, statuses)
    wanted = parse_granularity(granularity)
    grain, note = fit_granularity(f.start, f.end, wanted)
    note = granularity_note(f.start, f.end, wanted, grain, note)
    df = sales.lost_orders_trend(f.start, f.end, f.platforms, f.categories, status, grain)
    return with_note(figs.lost_figure(df, grain, current_settings().currency), note)


@callback(
    Output(Sales.PLATFORM_GRAPH, "figure"),
    *page_inputs(),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.figure(N_("Orders by platform")),
)
def show_platforms(start, end, platforms, categories, statuses):
    """Orders per platform, stacked by status."""
    f, status = resolve(start, end, platforms, categories, statuses)
    df = sales.orders_by_platform_status(f.start, f.end, f.platforms, f.categories, status)
    return platform_status_figure(df, clickable=True)


@callback(
    Output(Sales.STATUS_GRAPH, "figure"),
    *page_inputs(),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.figure(N_("Orders by status")),
)
def show_statuses(start, end, platforms, categories, statuses):
    """Orders per status with their share."""
    f, status = resolve(start, end, platforms, categories, statuses)
    df = sales.orders_by_status(f.start, f.end, f.platforms, f.categories, status)
    return figs.status_figure(df, current_settings().currency)


@callback(
    Output(Sales.CATEGORY_GRAPH, "figure"),
    *page_inputs(),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.figure(N_("Revenue by category")),
)
def show_categories(start, end, platforms, categories, statuses):
    """Revenue per product category."""
    f, status = resolve(start, end, platforms, categories, statuses)
    df = sales.category_sales(f.start, f.end, f.platforms, f.categories, status)
    return figs.category_figure(df, current_settings().currency)


@callback(
    Output(Sales.RANKING_GRAPH, "figure"),
    Output(Grid.grid(Sales.GRID_NAME), "rowData"),
    Output(Sales.PRODUCTS_MESSAGE, "children"),
    *page_inputs(),
    Input(Sales.RANK_METRIC, "value"),
    State(Grid.spec(Sales.GRID_NAME), "data"),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.each(
        fallback.figure(N_("The ranking")),
        fallback.value([]),
        fallback.message(N_("The product list")),
    ),
)
def show_products(start, end, platforms, categories, statuses, metric, spec):
    """Best sellers by revenue or units, and every product sold in the grid."""
    f, status = resolve(start, end, platforms, categories, statuses)
    metric = metric if metric in sales.RANK_METRICS else "revenue"
    df = sales.product_ranking(f.start, f.end, f.platforms, f.categories, status, metric)
    rows = grid_rows(df, columns_from_spec(spec))
    return figs.ranking_figure(df, metric, current_settings().currency), rows, None


@callback(
    Output(Grid.grid(Sales.GROWTH_GRID_NAME), "rowData"),
    Output(Grid.grid(Sales.GROWTH_GRID_NAME), "columnDefs"),
    Output(Grid.spec(Sales.GROWTH_GRID_NAME), "data"),
    Output(Sales.GROWTH_MESSAGE, "children"),
    *page_inputs(),
    Input(Sales.GROWTH_BY, "value"),
    roles=Page.SALES,
    cache_output=(sales.NAMESPACE,),
    fallback=fallback.each(
        fallback.value([]),
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.message(N_("The growth table")),
    ),
)
def show_growth_by(start, end, platforms, categories, statuses, dimension):
    """Each platform's or category's revenue and orders against the previous period and last
    year, fastest-growing first."""
    f, status = resolve(start, end, platforms, categories, statuses)
    dimension = growth_dimension(dimension)
    df = sales_growth.growth_by(dimension, f.start, f.end, f.platforms, f.categories, status)
    columns = growth_columns(dimension)
    currency = current_settings().currency
    return grid_rows(df, columns), column_defs(columns, currency), column_spec(columns), None


@callback(
    Output(FilterBar.PLATFORM, "value"),
    Output(FilterBar.CATEGORY, "value"),
    Output(Sales.STATUS_STORE, "data"),
    Input(Sales.PLATFORM_GRAPH, "clickData"),
    Input(Sales.STATUS_GRAPH, "clickData"),
    Input(Sales.CATEGORY_GRAPH, "clickData"),
    Input(Sales.chip_clear(ALL), "n_clicks"),
    State(FilterBar.PLATFORM, "value"),
    State(FilterBar.CATEGORY, "value"),
    State(Sales.STATUS_STORE, "data"),
    roles=Page.SALES,
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
    Input(FilterBar.PLATFORM, "value"),
    Input(FilterBar.CATEGORY, "value"),
    Input(Sales.STATUS_STORE, "data"),
    roles=Page.SALES,
)
def show_chips(platforms, categories, statuses):
    """One removable chip per active platform, category or status filter."""
    f = resolve_filters(None, None, platforms, categories)
    try:
        names = catalog.display_names()
    except Exception:  # chips still show, with codes instead of names
        log.exception("catalogue names unavailable for the filter chips")
        names = {}
    selected = {
        "platform": f.platforms,
        "category": f.categories,
        "status": parse_statuses(statuses)[0],
    }
    return filter_chips(selected, names)


clientside_callback(
    ClientsideFunction("bi", "syncStatuses"),
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
    ClientsideFunction("bi", "syncGrowthBy"),
    Output(Sales.GROWTH_BY_URL_DUMMY, "children"),
    Input(Sales.GROWTH_BY, "value"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("bi", "syncRank"),
    Output(Sales.RANK_URL_DUMMY, "children"),
    Input(Sales.RANK_METRIC, "value"),
    prevent_initial_call=True,
)
