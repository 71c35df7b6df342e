"""Customers page: each card parses its inputs, calls one customers service and one builder.

Period cards follow the global filter; profile cards (segments now, tags, RFM, the list) show the
last recomputation and refresh when "Recompute tags" finishes (``REFRESH_STORE``).
"""

from dash import ALL, ClientsideFunction, Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from bi_app import auth, current_settings, customer_tags
from bi_app.data import customers
from bi_app.filters import resolve_filters
from bi_app.i18n import N_, _
from bi_app.roles import Action, Page
from bi_app.viewer import current_viewer
from callbacks._registry import callback, clientside_callback
from callbacks.grid_downloads import clicked_item, send_export
from components import customer_figures as figs
from components import customers_view as view
from components import fallback
from components.data_grid import purge_rows_js
from components.filter_bar import filter_inputs
from components.ids import Customers, FilterBar, Grid

RECOMPUTE_FAILED = N_("Recomputing failed; the previous tags are still in place.")


@callback(
    Output(Customers.KPI_ROW, "children"),
    *filter_inputs(),
    roles=Page.CUSTOMERS,
    cache_output=(customers.NAMESPACE,),
    fallback=fallback.message(N_("Key figures")),
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
    cache_output=(customers.NAMESPACE,),
    fallback=fallback.figure(N_("Cohort retention")),
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
    cache_output=(customers.NAMESPACE,),
    fallback=fallback.each(
        fallback.figure(N_("Segment movement")), fallback.figure(N_("Segment movement"))
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
    cache_output=(customers.NAMESPACE,),
    fallback=fallback.each(
        *[fallback.figure(N_("Customer profiles"))] * 3,
        fallback.message(N_("Customer profiles")),
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
    Output(Customers.CHURN_MODEL, "children"),
    Input(Customers.REFRESH_STORE, "data"),
    roles=Page.CUSTOMERS,
    cache_output=(customers.NAMESPACE,),
    fallback=fallback.message(N_("Churn model")),
)
def show_churn_model(_refreshed):
    """The churn model's hold-out quality (AUC, top-decile precision) and version in use."""
    return figs.churn_model_body(customers.churn_model_summary(), current_settings().timezone)


@callback(
    Output(Customers.LIST_QUERY_STORE, "data"),
    Input(Customers.SEGMENT, "value"),
    Input(Customers.TAG, "value"),
    Input(Customers.SEARCH, "value"),
    Input(Customers.REFRESH_STORE, "data"),
    roles=Page.CUSTOMERS,
)
def list_query(segment, tag, search, refreshed):
    """The list's filters as one value (unknown segments and tags dropped, search capped)."""
    return {
        "segment": segment if segment in customers.SEGMENTS else None,
        "tag": tag if tag in customers.TAG_FILTERS else None,
        "search": customers.search_text(search),
        "refreshed": refreshed,
    }


@callback(
    Output(Customers.LIST_SLOT, "children"),
    Input(Customers.LIST_SHOWN_STORE, "data"),
    roles=Page.CUSTOMERS,
    prevent_initial_call=True,
    fallback=fallback.message(N_("The customer list")),
)
def show_list(shown):
    """The list's grid, once its place has come into view (see ``view.list_section``)."""
    if not shown:
        raise PreventUpdate
    viewer = current_viewer()
    return view.list_grid(viewer.currency, viewer.can_download)


clientside_callback(
    ClientsideFunction("bi", "syncTag"),
    Output(Customers.TAG_URL_DUMMY, "children"),
    Input(Customers.TAG, "value"),
    prevent_initial_call=True,
)


# new filters: drop the grid's loaded blocks, so it asks for rows again from the first (a grid
# not built yet asks with the filters in force when it is)
clientside_callback(
    purge_rows_js(Customers.GRID_NAME),
    Output(Customers.LIST_PURGE_STORE, "data"),
    Input(Customers.LIST_QUERY_STORE, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(Grid.grid(Customers.GRID_NAME), "getRowsResponse"),
    Output(Customers.LIST_COUNT, "children"),
    Output(Customers.LIST_TOTAL_STORE, "data"),
    Output(Customers.LIST_KEYS_STORE, "data"),
    Output(Customers.LIST_MESSAGE, "children"),
    Input(Grid.grid(Customers.GRID_NAME), "getRowsRequest"),
    State(Customers.LIST_QUERY_STORE, "data"),
    State(Customers.LIST_TOTAL_STORE, "data"),
    State(Customers.LIST_KEYS_STORE, "data"),
    roles=Page.CUSTOMERS,
    fallback=fallback.each(
        fallback.value({"rowData": [], "rowCount": 0}),
        fallback.value(None),
        fallback.value(None),
        fallback.value(None),
        fallback.message(N_("The customer list")),
    ),
)
def serve_rows(request, query, known_total, keys):
    """One block of the customer list as the grid scrolls, sorted as its header says."""
    page = view.list_page_request(request, query)
    if page is None:
        raise PreventUpdate
    rows = customers.customer_page(**page, after=view.keyset_after(page, query, keys))
    first = page["start"] == 0
    total = (
        customers.customer_count(page["segment"], page["tag"], page["search"])
        if first or not isinstance(known_total, int)
        else known_total
    )
    data = view.list_rows(rows)
    ended = view.remember_key(page, query, keys, customers.page_key(rows, page["sort"]))
    return {"rowData": data, "rowCount": total}, figs.list_count(total), total, ended, None


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
    Output(Customers.RECOMPUTE_RUN_STORE, "data"),
    Output(Customers.RECOMPUTE_POLL, "disabled"),
    Output(Customers.RECOMPUTE_MESSAGE, "children"),
    Output(Customers.RECOMPUTE_MESSAGE, "color"),
    Output(Customers.RECOMPUTE_MESSAGE, "is_open"),
    Input(Customers.RECOMPUTE, "n_clicks"),
    roles=Action.RECOMPUTE_TAGS,
    prevent_initial_call=True,
    fallback=lambda reason=None: (no_update, True, _(RECOMPUTE_FAILED), "danger", True),
)
def recompute(clicks):
    """Starts recomputing profiles, segments and churn-risk tags in the background (audited)."""
    if not clicks:
        raise PreventUpdate
    started = customer_tags.start_recompute(actor=auth.request_user())
    if not started["ok"]:
        return no_update, True, _(started["message"]), "warning", True
    return started["job_run_id"], False, _(started["message"]), "info", True


@callback(
    Output(Customers.REFRESH_STORE, "data"),
    Output(Customers.RECOMPUTE_POLL, "disabled", allow_duplicate=True),
    Output(Customers.RECOMPUTE_MESSAGE, "children", allow_duplicate=True),
    Output(Customers.RECOMPUTE_MESSAGE, "color", allow_duplicate=True),
    Input(Customers.RECOMPUTE_POLL, "n_intervals"),
    State(Customers.RECOMPUTE_RUN_STORE, "data"),
    State(Customers.REFRESH_STORE, "data"),
    roles=Action.RECOMPUTE_TAGS,
    prevent_initial_call=True,
    fallback=lambda reason=None: (no_update, True, _(RECOMPUTE_FAILED), "danger"),
)
def follow_recompute(_ticks, job_run_id, refreshed):
    """The running recomputation's progress, then its result (and every card refreshed)."""
    if not isinstance(job_run_id, int):
        raise PreventUpdate
    status = customer_tags.recompute_status(job_run_id)
    if status["state"] == "running":
        return no_update, False, figs.recompute_progress(status), "info"
    if status["state"] == "succeeded":
        return (refreshed or 0) + 1, True, figs.recompute_result(status["summary"]), "success"
    return no_update, True, _(RECOMPUTE_FAILED), "danger"


@callback(
    Output(Customers.LIST_DOWNLOAD, "data"),
    Output(Customers.LIST_DOWNLOAD_MESSAGE, "children"),
    Input(Customers.download_item(Customers.GRID_NAME, ALL), "n_clicks"),
    State(Customers.LIST_QUERY_STORE, "data"),
    State(Grid.grid(Customers.GRID_NAME), "getRowsRequest"),
    roles=Action.DOWNLOAD,
    prevent_initial_call=True,
    fallback=fallback.each(fallback.value(no_update), fallback.message(N_("The download"))),
)
def download_list(clicks, query, request):
    """The customers matching the list's filters, in its order, as CSV, Excel or JSON: read on
    the server (the browser holds only the blocks it has shown)."""
    item = clicked_item()
    page = view.list_page_request({**(request or {}), "startRow": 0, "endRow": 1}, query)
    rows = customers.customers_for_export(
        page["segment"], page["tag"], page["search"], page["sort"], page["descending"]
    )
    total = customers.customer_count(page["segment"], page["tag"], page["search"])
    more = (
        _(
            "The first %(rows)s of %(total)s customers: narrow the filter for the rest.",
            rows=format(len(rows), ","),
            total=format(total, ","),
        )
        if total > len(rows)
        else None
    )
    return send_export(
        view.list_rows(rows),
        view.list_row_columns(),
        item.get("format"),
        Customers.GRID_NAME,
        max_rows=customers.EXPORT_ROWS,
        note=more,
    )
