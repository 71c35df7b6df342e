"""Orders explorer: the filters become one query; the grid asks for blocks of it as it scrolls;
the download links follow the query and the grid's sort."""

from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app import order_export
from bi_app.data import orders
from bi_app.filters import raw_query
from bi_app.i18n import N_
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components import fallback
from components import orders_view as view
from components.data_grid import purge_rows_js
from components.filter_bar import filter_inputs
from components.ids import Grid, Orders


@callback(
    Output(Orders.QUERY_STORE, "data"),
    *filter_inputs(),
    Input(Orders.STATUS, "value"),
    Input(Orders.SEARCH, "value"),
    roles=Page.ORDERS,
    prevent_initial_call=True,
)
def orders_query(start, end, platforms, categories, statuses, search):
    """The explorer's filters as one value: validated dates, platforms, categories, statuses
    and search (what the browser sent is never trusted)."""
    args = {**raw_query(start, end, platforms, categories), "status": statuses, "q": search}
    query, _notices = order_export.query_from_args(args)
    return view.query_args(query)


# new filters: drop the grid's loaded blocks, so it asks for rows again from the first
clientside_callback(
    purge_rows_js(Orders.GRID_NAME),
    Output(Orders.PURGE_STORE, "data"),
    Input(Orders.QUERY_STORE, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("bi", "syncOrderParams"),
    Output(Orders.URL_DUMMY, "children"),
    Input(Orders.QUERY_STORE, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(Grid.grid(Orders.GRID_NAME), "getRowsResponse"),
    Output(Orders.COUNT, "children"),
    Output(Orders.TOTAL_STORE, "data"),
    Output(Orders.export_link(ALL), "href"),
    Output(Orders.MESSAGE, "children"),
    Input(Grid.grid(Orders.GRID_NAME), "getRowsRequest"),
    State(Orders.QUERY_STORE, "data"),
    State(Orders.TOTAL_STORE, "data"),
    roles=Page.ORDERS,
    fallback=lambda reason=None: (
        {"rowData": [], "rowCount": 0},
        None,
        None,
        [no_update] * len(ctx.outputs_list[3]),
        fallback.build(fallback.message(N_("The order list")), reason),
    ),
)
def serve_rows(request, args, known_total):
    """One block of orders as the grid scrolls, sorted as its header says, with the count (once
    per filter) and the download links pointed at the same query and order."""
    page = view.page_request(request)
    if page is None:
        raise PreventUpdate
    query, _notices = order_export.query_from_args(
        {**(args or {}), "sort": page["sort"], "dir": page["dir"]}
    )
    rows = orders.order_page(query, page["start"], page["end"])
    total = view.known_total(known_total, args, page)
    total = orders.order_count(query) if total is None else total
    links = [view.export_href(o["id"]["format"], query) for o in ctx.outputs_list[3]]
    response = {"rowData": view.page_rows(rows), "rowCount": total}
    remembered = {"query": args, "total": total}
    return response, view.count_text(total), remembered, links, None
