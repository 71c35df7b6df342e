"""Customers page: each card parses its inputs, calls one customers service and one builder.

Period cards follow the global filter; profile cards (segments now, tags, RFM, the list) show the
last recomputation and refresh when "Recompute tags" finishes (``REFRESH_STORE``).
"""

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from bi_app import auth, current_settings, customer_tags
from bi_app.data import customers
from bi_app.export import columns_from_spec
from bi_app.filters import resolve_filters
from bi_app.roles import Action, Page
from callbacks._registry import callback
from components import customer_figures as figs
from components import fallback
from components.data_grid import grid_rows
from components.filter_bar import filter_inputs
from components.ids import Customers, FilterBar, Grid

RECOMPUTE_FAILED = "Recomputing failed; the previous tags are still in place."


@callback(
    Output(Customers.KPI_ROW, "children"),
    *filter_inputs(),
    roles=Page.CUSTOMERS,
    fallback=fallback.message("Key figures"),
)
def show_kpis(start, end, platforms, categories):
    """Active customers, conversion, repeat-purchase rate and lifetime value, with their change."""
    f = resolve_filters(start, end, platforms, categories)
    kpis = customers.customer_kpis(f.start, f.end, f.platforms, f.categories)
    return figs.kpi_cards(kpis, current_settings().currency)


@callback(
    Output(Customers.COHORT_GRAPH, "figure"),
    *filter_inputs(),
    roles=Page.CUSTOMERS,
    fallback=fallback.figure("Cohort retention"),
)
def show_cohorts(start, end, platforms, categories):
    """Monthly cohorts of first orders and the share of each still buying in later months."""
    f = resolve_filters(start, end, platforms, categories)
    return figs.cohort_figure(customers.cohort_retention(f.start, f.end, f.platforms, f.categories))


@callback(
    Output(Customers.TREND_GRAPH, "figure"),
    Output(Customers.MOVEMENT_GRAPH, "figure"),
    Input(FilterBar.DATE_RANGE, "start_date"),
    Input(FilterBar.DATE_RANGE, "end_date"),
    Input(Customers.REFRESH_STORE, "data"),
    roles=Page.CUSTOMERS,
    fallback=fallback.each(
        fallback.figure("Segment movement"), fallback.figure("Segment movement")
    ),
)
def show_movement(start, end, _refreshed):
    """Segment sizes per month and where each segment's customers went over the period."""
    f = resolve_filters(start, end, None, None)
    trend, matrix = (
        customers.segment_trend(f.start, f.end),
        customers.segment_movement(f.start, f.end),
    )
    return figs.segment_trend_figure(trend), figs.movement_figure(matrix, f.start, f.end)


@callback(
    Output(Customers.SEGMENT_GRAPH, "figure"),
    Output(Customers.TAGS_GRAPH, "figure"),
    Output(Customers.RFM_GRAPH, "figure"),
    Output(Customers.STATUS, "children"),
    Input(Customers.REFRESH_STORE, "data"),
    Input(Customers.SEGMENT, "value"),
    roles=Page.CUSTOMERS,
    fallback=fallback.each(
        *[fallback.figure("Customer profiles")] * 3, fallback.message("Customer profiles")
    ),
)
def show_profiles(_refreshed, segment):
    """Segments now (the selected one highlighted), churn-risk tags, RFM cells and their date."""
    summary, tags, rfm = customers.segment_summary(), customers.tag_counts(), customers.rfm_grid()
    status = customers.stats_status()
    settings = current_settings()
    return (
        figs.segment_figure(summary, settings.currency, segment),
        figs.tags_figure(tags),
        figs.rfm_figure(rfm),
        figs.status_text(status, settings.timezone),
    )


@callback(
    Output(Grid.grid(Customers.GRID_NAME), "rowData"),
    Output(Customers.LIST_COUNT, "children"),
    Output(Customers.LIST_MESSAGE, "children"),
    Input(Customers.SEGMENT, "value"),
    Input(Customers.TAG, "value"),
    Input(Customers.SEARCH, "value"),
    Input(Customers.REFRESH_STORE, "data"),
    State(Grid.spec(Customers.GRID_NAME), "data"),
    roles=Page.CUSTOMERS,
    fallback=fallback.each(
        fallback.value([]), fallback.value(None), fallback.message("The customer list")
    ),
)
def show_list(segment, tag, search, _refreshed, spec):
    """The matching customers with the highest spend (at most 5,000) and how many match."""
    segment = segment if segment in customers.SEGMENTS else None
    tag = tag if tag in customers.TAGS else None
    found = customers.customer_list(segment, tag, str(search or "")[:100] or None)
    rows = grid_rows(found["rows"], columns_from_spec(spec))
    return rows, figs.list_count(len(rows), found["total"]), None


@callback(
    Output(Customers.SEGMENT, "value"),
    Input(Customers.SEGMENT_GRAPH, "clickData"),
    State(Customers.SEGMENT, "value"),
    roles=Page.CUSTOMERS,
    prevent_initial_call=True,
)
def select_segment(click, current):
    """A click on a segment bar lists that segment's customers; a second click clears it."""
    segment = figs.clicked_segment(click)
    if segment is None:
        raise PreventUpdate
    return None if segment == current else segment


@callback(
    Output(Customers.REFRESH_STORE, "data"),
    Output(Customers.RECOMPUTE_MESSAGE, "children"),
    Output(Customers.RECOMPUTE_MESSAGE, "color"),
    Output(Customers.RECOMPUTE_MESSAGE, "is_open"),
    Input(Customers.RECOMPUTE, "n_clicks"),
    roles=Action.RECOMPUTE_TAGS,
    prevent_initial_call=True,
    fallback=fallback.value((no_update, RECOMPUTE_FAILED, "danger", True)),
)
def recompute(clicks):
    """Recomputes profiles, segment snapshots and churn-risk tags as of today (audited)."""
    if not clicks:
        raise PreventUpdate
    result = customer_tags.recompute_now(actor=auth.request_user())
    message = (
        f"Recomputed {result['customers']:,} customers: {result['added']:,} tags added, "
        f"{result['removed']:,} removed, {result['tagged']:,} tagged ({result['seconds']:.1f} s)."
    )
    return clicks, message, "success", True
