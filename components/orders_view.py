"""The Orders explorer: every order of the filtered period, read from the server a block at a
time (AG Grid's infinite row model), sorted on the server; downloads stream the same query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from bi_app.data.orders import MAX_SEARCH_CHARS, SORTS, OrderQuery, search_text
from bi_app.db.models import ORDER_STATUSES
from bi_app.export import EXPORT_FORMATS
from bi_app.filters import FilterContext, parse_statuses
from bi_app.i18n import _, ngettext
from bi_app.viewer import Viewer
from components.data_grid import FORMAT_LABELS, GridColumn, grid_rows, server_grid
from components.figures import status_label
from components.filter_bar import filter_bar_for
from components.ids import Orders

BLOCK_ROWS = 100
MAX_BLOCKS = 10  # one request reads at most this many blocks


def columns(timezone: str = "UTC") -> list[GridColumn]:
    """The grid's columns; order times are shown in ``timezone`` (the business's)."""
    return [
        GridColumn("order_number", _("Order"), "text", width=170, pinned="left"),
        GridColumn(
            "ordered_at", _("Ordered at (%(timezone)s)", timezone=timezone), "text", width=165
        ),
        GridColumn("customer_id", _("Customer ID"), "text", width=125),
        GridColumn("customer", _("Customer"), "text", width=170),
        GridColumn("platform", _("Platform"), "text", width=130),
        GridColumn("status", _("Status"), "text", width=110),
        GridColumn("units", _("Units"), "int", width=90),
        GridColumn("amount_cents", _("Amount"), "money", width=130),
        GridColumn("items", _("Items"), "text", width=360),
    ]


def grid(currency: str, timezone: str = "UTC") -> dag.AgGrid:
    """The grid: blocks of :data:`BLOCK_ROWS` rows asked for as the user scrolls; a header
    click sorts on the server (time, number or amount)."""
    return server_grid(
        Orders.GRID_NAME,
        columns(timezone),
        currency,
        sortable=SORTS,
        default_sort=("ordered_at", "desc"),
        row_id="order_id",
        block_rows=BLOCK_ROWS,
        height=600,
    )


def query_args(q: OrderQuery) -> dict[str, Any]:
    """A query as URL values (what the export link and the page's store carry)."""
    args: dict[str, Any] = {"start": q.start.isoformat(), "end": q.end.isoformat()}
    if q.platforms:
        args["platform"] = ",".join(q.platforms)
    if q.categories:
        args["category"] = ",".join(q.categories)
    if q.statuses:
        args["status"] = ",".join(q.statuses)
    if q.search:
        args["q"] = q.search
    return args


def export_href(fmt: str, q: OrderQuery) -> str:
    args = {**query_args(q), "sort": q.sort, "dir": "desc" if q.descending else "asc"}
    return dash.get_relative_path("/orders/export") + "?" + urlencode({"format": fmt, **args})


def page_request(request: object) -> dict[str, Any] | None:
    """Rows and order of the grid's ``getRowsRequest`` (None without a valid row range); a
    column the server cannot sort on falls back to the order time, newest first."""
    if not isinstance(request, Mapping):
        return None
    start, end = request.get("startRow"), request.get("endRow")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
        return None
    sort, direction = "ordered_at", "desc"
    model = request.get("sortModel") or []
    if model and isinstance(model[0], Mapping) and model[0].get("colId") in SORTS:
        sort, direction = model[0]["colId"], "asc" if model[0].get("sort") == "asc" else "desc"
    return {
        "start": start,
        "end": min(end, start + BLOCK_ROWS * MAX_BLOCKS),
        "sort": sort,
        "dir": direction,
    }


def page_rows(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """A block's rows for the grid: times to the second, statuses by name, money in units."""
    shown = rows.assign(
        ordered_at=rows["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
        status=[status_label(s) for s in rows["status"]],
    )
    return grid_rows(shown, columns())


def known_total(remembered: object, args: object, page: Mapping[str, Any]) -> int | None:
    """The count remembered for this same filter (a later block of it), or None to count: the
    first block always counts, and so does any block after the filters changed (the grid asks
    again from where it is scrolled to, not from the top)."""
    if page["start"] == 0 or not isinstance(remembered, Mapping):
        return None
    total = remembered.get("total")
    return total if remembered.get("query") == args and isinstance(total, int) else None


def count_text(total: int) -> str:
    return ngettext(
        "%(count)s matching order", "%(count)s matching orders", total, count=format(total, ",")
    )


def _download_menu() -> dbc.DropdownMenu:
    items = [
        dbc.DropdownMenuItem(
            FORMAT_LABELS[fmt], id=Orders.export_link(fmt), href="#", external_link=True
        )
        for fmt in EXPORT_FORMATS
    ]
    return dbc.DropdownMenu(
        items,
        id=Orders.DOWNLOAD_MENU,
        label=_("Download"),
        size="sm",
        color="secondary",
        align_end=True,
        className="bi-grid-download",
    )


def layout(query: Mapping[str, object], ctx: FilterContext, viewer: Viewer) -> html.Div:
    """The whole Orders page; the grid asks its callbacks for rows."""
    statuses, status_notices = parse_statuses(query.get("status"))
    search = str(query.get("q") or "")[:MAX_SEARCH_CHARS]
    f = ctx.parsed.filters
    initial = OrderQuery(f.start, f.end, f.platforms, f.categories, statuses, search_text(search))
    controls = dbc.Row(
        [
            dbc.Col(
                dcc.Dropdown(
                    id=Orders.STATUS,
                    options=[{"label": status_label(s), "value": s} for s in ORDER_STATUSES],
                    value=list(statuses or []),
                    multi=True,
                    placeholder=_("All statuses"),
                ),
                xs=12,
                md=4,
            ),
            dbc.Col(
                dbc.Input(
                    id=Orders.SEARCH,
                    type="search",
                    value=search,
                    placeholder=_("Order number, customer ID or name"),
                    debounce=True,
                    maxLength=MAX_SEARCH_CHARS,
                ),
                xs=12,
                md=4,
            ),
            dbc.Col(
                html.Span(id=Orders.COUNT, className="text-body-secondary small", role="status"),
                className="d-flex align-items-center",
            ),
        ],
        className="g-2 mb-2 align-items-center",
    )
    header = [html.H6(_("Orders"), className="mb-0 me-auto")]
    if viewer.can_download:
        header.append(_download_menu())
    card = dbc.Card(
        [
            dbc.CardHeader(html.Div(header, className="d-flex align-items-center gap-2")),
            dbc.CardBody(
                [html.Div(id=Orders.MESSAGE, role="status"), grid(viewer.currency, viewer.timezone)]
            ),
        ],
        className="bi-data-grid mb-3",
    )
    return html.Div(
        [
            html.H1(_("Orders"), className="app-page-title mb-0"),
            html.Div(
                _(
                    "Every order of the period with its customer, platform, status, items and "
                    "amount. Sort by time, number or amount; downloads hold exactly what is "
                    "listed, with the period and filters written into the file."
                ),
                className="text-body-secondary small mb-3",
            ),
            filter_bar_for(ctx, query),
            *([dbc.Alert(status_notices, color="warning")] if status_notices else []),
            controls,
            card,
            dcc.Store(id=Orders.QUERY_STORE, data=query_args(initial)),
            dcc.Store(id=Orders.TOTAL_STORE, data=None),
            dcc.Store(id=Orders.PURGE_STORE, data=None),
            html.Div(id=Orders.URL_DUMMY, hidden=True),
        ],
        className="app-page app-orders",
    )
