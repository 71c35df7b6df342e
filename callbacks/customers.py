"""Customers page: each card parses its inputs, calls one customers service and one builder.

Period cards follow the global filter; profile cards (segments now, tags, RFM, the list) show the
last recomputation and refresh when "Recompute tags" finishes (``REFRESH_STORE``).
"""

import datetime as dt
import logging

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from bi_app import auth, current_settings, customer_tags
from bi_app.data import customers
from bi_app.export import columns_from_spec
from bi_app.extensions import db
from callbacks._registry import callback
from components import customer_figures as figs
from components.data_grid import grid_rows
from components.figures import empty_figure
from components.filter_bar import filter_inputs, resolve_filters
from components.ids import Customers, Filters, Grid
from components.notice import error_message

log = logging.getLogger(__name__)
UNAVAILABLE = "{} is unavailable right now"


@callback(Output(Customers.KPI_ROW, "children"), *filter_inputs())
def show_kpis(start, end, platforms, categories):
    """Active customers, conversion, repeat-purchase rate and lifetime value, with their change."""
    f = resolve_filters(start, end, platforms, categories)
    try:
        kpis = customers.customer_kpis(f.start, f.end, f.platforms, f.categories)
    except Exception:
        log.exception("customer KPIs failed for %s", f)
        return error_message("Key figures")
    return figs.kpi_cards(kpis, current_settings().currency)


@callback(Output(Customers.COHORT_GRAPH, "figure"), *filter_inputs())
def show_cohorts(start, end, platforms, categories):
    """Monthly cohorts of first orders and the share of each still buying in later months."""
    f = resolve_filters(start, end, platforms, categories)
    try:
        table = customers.cohort_retention(f.start, f.end, f.platforms, f.categories)
    except Exception:
        log.exception("cohort retention failed for %s", f)
        return empty_figure(UNAVAILABLE.format("Cohort retention"))
    return figs.cohort_figure(table)


@callback(Output(Customers.TREND_GRAPH, "figure"), Output(Customers.MOVEMENT_GRAPH, "figure"),
          Input(Filters.DATE_RANGE, "start_date"), Input(Filters.DATE_RANGE, "end_date"),
          Input(Customers.REFRESH_STORE, "data"))
def show_movement(start, end, _refreshed):
    """Segment sizes per month and where each segment's customers went over the period."""
    f = resolve_filters(start, end, None, None)
    try:
        trend, matrix = customers.segment_trend(f.start, f.end), customers.segment_movement(f.start, f.end)
    except Exception:
        log.exception("segment movement failed for %s", f)
        return (empty_figure(UNAVAILABLE.format("Segment movement")),) * 2
    return figs.segment_trend_figure(trend), figs.movement_figure(matrix, f.start, f.end)


@callback(Output(Customers.SEGMENT_GRAPH, "figure"), Output(Customers.TAGS_GRAPH, "figure"),
          Output(Customers.RFM_GRAPH, "figure"), Output(Customers.STATUS, "children"),
          Input(Customers.REFRESH_STORE, "data"), Input(Customers.SEGMENT, "value"))
def show_profiles(_refreshed, segment):
    """Segments now (the selected one highlighted), churn-risk tags, RFM cells and their date."""
    try:
        summary, tags, rfm = customers.segment_summary(), customers.tag_counts(), customers.rfm_grid()
        status = customers.stats_status()
    except Exception:
        log.exception("customer profiles failed")
        return (*(empty_figure(UNAVAILABLE.format("Customer profiles")),) * 3, error_message("Customer profiles"))
    settings = current_settings()
    return (figs.segment_figure(summary, settings.currency, segment), figs.tags_figure(tags),
            figs.rfm_figure(rfm), figs.status_text(status, settings.timezone))


@callback(Output(Grid.grid(Customers.GRID_NAME), "rowData"), Output(Customers.LIST_COUNT, "children"),
          Output(Customers.LIST_MESSAGE, "children"), Input(Customers.SEGMENT, "value"),
          Input(Customers.TAG, "value"), Input(Customers.SEARCH, "value"), Input(Customers.REFRESH_STORE, "data"),
          State(Grid.spec(Customers.GRID_NAME), "data"))
def show_list(segment, tag, search, _refreshed, spec):
    """The matching customers with the highest spend (at most 5,000) and how many match."""
    segment = segment if segment in customers.SEGMENTS else None
    tag = tag if tag in customers.TAGS else None
    try:
        found = customers.customer_list(segment, tag, str(search or "")[:100] or None)
        rows = grid_rows(found["rows"], columns_from_spec(spec))
    except Exception:
        log.exception("customer list failed (%s, %s, %r)", segment, tag, search)
        return [], None, error_message("The customer list")
    return rows, figs.list_count(len(rows), found["total"]), None


@callback(Output(Customers.SEGMENT, "value"), Input(Customers.SEGMENT_GRAPH, "clickData"),
          State(Customers.SEGMENT, "value"), prevent_initial_call=True)
def select_segment(click, current):
    """A click on a segment bar lists that segment's customers; a second click clears it."""
    segment = figs.clicked_segment(click)
    if segment is None:
        raise PreventUpdate
    return None if segment == current else segment


@callback(Output(Customers.REFRESH_STORE, "data"), Output(Customers.RECOMPUTE_MESSAGE, "children"),
          Output(Customers.RECOMPUTE_MESSAGE, "color"), Output(Customers.RECOMPUTE_MESSAGE, "is_open"),
          Input(Customers.RECOMPUTE, "n_clicks"), roles=("admin", "analyst"), prevent_initial_call=True)
def recompute(clicks):
    """Recomputes profiles, segment snapshots and churn-risk tags as of today (audited)."""
    if not clicks:
        raise PreventUpdate
    try:
        result = customer_tags.recompute(db.require_engine(), dt.datetime.now(dt.UTC).date(),
                                         actor=auth.request_user())
    except Exception:
        log.exception("recomputing customer tags failed")
        return no_update, "Recomputing failed; the previous tags are still in place.", "danger", True
    message = (f"Recomputed {result['customers']:,} customers: {result['added']:,} tags added, "
               f"{result['removed']:,} removed, {result['tagged']:,} tagged ({result['seconds']:.1f} s).")
    return clicks, message, "success", True
