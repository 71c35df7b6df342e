"""The Customers page: segments and their movement, churn tags, cohorts, RFM, the customer list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from bi_app.data.customers import SORT_KEYS, TAG_FILTERS
from bi_app.export import ExportColumn
from bi_app.filters import FilterContext
from bi_app.i18n import N_, _
from bi_app.roles import Action
from bi_app.viewer import Viewer
from components.chart_card import chart_card, column, graph
from components.customer_figures import (
    CHURN_MODEL_TITLE,
    segment_label,
    segment_options,
    tag_labels,
    tag_options,
)
from components.data_grid import GridColumn, download_menu, grid_rows, server_grid
from components.filter_bar import filter_bar_for
from components.ids import Customers
from components.kpi_card import kpi_placeholders

KPI_LABELS = (
    N_("Active customers"),
    N_("Conversion rate"),
    N_("Repeat-purchase rate"),
    N_("Lifetime value per customer"),
)


LIST_BLOCK_ROWS = 100


def list_columns() -> list[GridColumn]:
    return [
        GridColumn("external_id", _("ID"), "text", width=100, pinned="left"),
        GridColumn("customer", _("Customer"), "text"),
        GridColumn("segment", _("Segment"), "text", width=110),
        GridColumn("tags", _("Churn risk"), "text", width=170),
        GridColumn("tag_since", _("Since"), "date", width=115),
        GridColumn("visits", _("Visits"), "int", width=100),
        GridColumn("orders", _("Orders"), "int", width=100),
        GridColumn("spend_cents", _("Total spend"), "money"),
        GridColumn("last_visit", _("Last visit"), "date", width=130),
        GridColumn("next_visit", _("Next expected visit"), "date", width=170),
        GridColumn("churn_probability", _("Churn probability"), "percent", width=160),
    ]


def list_grid(currency: str, can_download: bool = False) -> dbc.Card:
    """The customer list, paged on the server: AG Grid's infinite row model asks for blocks of
    :data:`LIST_BLOCK_ROWS` rows as the user scrolls (``getRowsRequest``), sorted by one of the
    indexed columns; filters are the segment, tag and search controls above it."""
    grid = server_grid(
        Customers.GRID_NAME,
        list_columns(),
        currency,
        sortable=SORT_KEYS,
        default_sort=("spend_cents", "desc"),
        row_id="customer_id",
        block_rows=LIST_BLOCK_ROWS,
        height=520,
    )
    return _list_card(
        grid, download_menu(Customers.GRID_NAME, Customers.download_item) if can_download else None
    )


def _list_card(body: Any, menu: Any = None) -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(
                html.Div(
                    [html.H6(_("Customers"), className="mb-0"), menu],
                    className="d-flex justify-content-between align-items-center",
                )
            ),
            dbc.CardBody(body),
        ],
        className="bi-data-grid mb-3",
    )


def list_section() -> html.Div:
    """Where the list goes. It lies below six charts: its grid (the costliest part of the page to
    build in the browser) is only asked for once it comes within 200 px of view
    (``assets/app.js`` sets ``LIST_SHOWN_STORE``; a callback fills ``LIST_SLOT`` with
    :func:`list_grid`). Until then a placeholder of the same height holds its place."""
    placeholder = _list_card(
        html.Div(
            _("The list loads as it comes into view…"),
            className="d-flex align-items-center justify-content-center text-body-secondary small",
            style={"height": "520px"},
        )
    )
    return html.Div(
        [
            html.Div(
                placeholder,
                id=Customers.LIST_SLOT,
                **{"data-lazy-store": Customers.LIST_SHOWN_STORE},
            ),
            dcc.Store(id=Customers.LIST_SHOWN_STORE, data=False),
            dcc.Store(id=Customers.LIST_QUERY_STORE, data={}),
            dcc.Store(id=Customers.LIST_TOTAL_STORE, data=None),
            dcc.Store(id=Customers.LIST_PURGE_STORE, data=None),
            dcc.Store(id=Customers.LIST_KEYS_STORE, data=None),
            dcc.Download(id=Customers.LIST_DOWNLOAD),
            html.Div(id=Customers.LIST_DOWNLOAD_MESSAGE),
        ]
    )


def _recompute_button(viewer: Viewer) -> html.Div:
    allowed = viewer.may(Action.RECOMPUTE_TAGS)
    button = dbc.Button(
        _("Recompute tags"),
        id=Customers.RECOMPUTE,
        color="primary",
        size="sm",
        n_clicks=0,
        disabled=not allowed,
    )
    hint = (
        None
        if allowed
        else html.Span(
            _("Analysts and admins can recompute."), className="small text-body-secondary ms-2"
        )
    )
    return html.Div([button, hint], className="d-flex align-items-center")


def layout(query: Mapping[str, object], ctx: FilterContext, viewer: Viewer) -> html.Div:
    """The whole Customers page; cards and the list are filled by its callbacks."""
    tag = str(query.get("tag") or "").strip().lower()
    list_filters = dbc.Row(
        [
            dbc.Col(
                dcc.Dropdown(
                    id=Customers.SEGMENT,
                    options=segment_options(),
                    placeholder=_("All segments"),
                    clearable=True,
                ),
                xs=12,
                md=3,
            ),
            dbc.Col(
                dcc.Dropdown(
                    id=Customers.TAG,
                    options=tag_options(),
                    value=tag if tag in TAG_FILTERS else None,
                    placeholder=_("Any tag"),
                    clearable=True,
                ),
                xs=12,
                md=3,
            ),
            dbc.Col(
                dbc.Input(
                    id=Customers.SEARCH,
                    type="search",
                    placeholder=_("Search name or ID"),
                    debounce=True,
                    maxLength=100,
                ),
                xs=12,
                md=3,
            ),
            dbc.Col(
                html.Div(
                    id=Customers.LIST_COUNT, className="small text-body-secondary", role="status"
                ),
                xs=12,
                md=3,
                className="d-flex align-items-center",
            ),
        ],
        className="g-2 mb-2",
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.H1(_("Customers"), className="app-page-title mb-0"),
                            html.Div(id=Customers.STATUS, className="text-body-secondary small"),
                        ],
                        className="me-auto",
                    ),
                    _recompute_button(viewer),
                ],
                className="d-flex flex-wrap align-items-end gap-3 mb-3",
            ),
            dbc.Alert(
                id=Customers.RECOMPUTE_MESSAGE,
                is_open=False,
                dismissable=True,
                className="py-2 small",
            ),
            dcc.Store(id=Customers.REFRESH_STORE, data=0),
            dcc.Store(id=Customers.RECOMPUTE_RUN_STORE, data=None),
            dcc.Interval(id=Customers.RECOMPUTE_POLL, interval=1000, disabled=True),
            filter_bar_for(ctx, query),
            dbc.Row(kpi_placeholders(KPI_LABELS), id=Customers.KPI_ROW),
            dbc.Row(
                [column(chart_card(_(CHURN_MODEL_TITLE), html.Div(id=Customers.CHURN_MODEL)), 12)],
                className="mb-3",
            ),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Segments now (click a bar to list its customers)"),
                            graph(Customers.SEGMENT_GRAPH),
                        ),
                        4,
                    ),
                    column(chart_card(_("Churn-risk tags"), graph(Customers.TAGS_GRAPH)), 4),
                    column(
                        chart_card(
                            _("Recency × frequency (RFM scores)"), graph(Customers.RFM_GRAPH)
                        ),
                        4,
                    ),
                ]
            ),
            dbc.Row(
                [
                    column(
                        chart_card(_("Segment sizes by month"), graph(Customers.TREND_GRAPH)), 7
                    ),
                    column(
                        chart_card(
                            _("Movement between segments over the period"),
                            graph(Customers.MOVEMENT_GRAPH),
                        ),
                        5,
                    ),
                ]
            ),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Monthly cohort retention"),
                            graph(Customers.COHORT_GRAPH, height=420),
                        ),
                        12,
                    )
                ]
            ),
            list_filters,
            html.Div(id=Customers.LIST_MESSAGE),
            list_section(),
            html.Div(id=Customers.TAG_URL_DUMMY, hidden=True),
        ],
        className="app-page app-customers",
    )


def list_rows(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The list's rows as the grid and its downloads show them: segments and tags by name, money
    in units, dates as ISO dates."""
    shown = rows.assign(tags=[tag_labels(t) for t in rows["tags"]])
    if "segment" in shown:
        shown["segment"] = [segment_label(s) if isinstance(s, str) else s for s in shown["segment"]]
    return grid_rows(shown, list_row_columns())


def list_row_columns() -> list[ExportColumn]:
    """How the list's cells are turned into grid values (money to units, dates to ISO)."""
    return [ExportColumn(c.field, c.header, c.kind) for c in list_columns()]


def list_page_request(request: object, query: object) -> dict | None:
    """Keyword arguments of :func:`bi_app.data.customers.customer_page` for the grid's
    ``getRowsRequest`` and the list filters; None for a request without a row range. An
    unknown sort column falls back to spend, highest first."""
    if not isinstance(request, Mapping):
        return None
    start, end = request.get("startRow"), request.get("endRow")
    if not isinstance(start, int) or not isinstance(end, int) or not 0 <= start < end:
        return None
    end = min(end, start + LIST_BLOCK_ROWS * 10)
    sort, descending = "spend_cents", True
    model = request.get("sortModel") or []
    if model and isinstance(model[0], Mapping) and model[0].get("colId") in SORT_KEYS:
        sort, descending = model[0]["colId"], model[0].get("sort") != "asc"
    query = query if isinstance(query, Mapping) else {}
    return {
        "start": start,
        "end": end,
        "segment": query.get("segment"),
        "tag": query.get("tag"),
        "search": query.get("search"),
        "sort": sort,
        "descending": descending,
    }


MAX_REMEMBERED_KEYS = 200


def _block_name(page: Mapping) -> str:
    return f"{page['sort']}:{int(bool(page['descending']))}:{page['start']}:{page['end']}"


def keyset_after(page: Mapping, query: object, keys: object) -> list[int] | None:
    """The key the block before ``page`` ended with, when the browser got it for the same
    list (filters and sort): the page then starts there instead of skipping rows."""
    if not isinstance(keys, Mapping) or keys.get("query") != query:
        return None
    size = page["end"] - page["start"]
    found = (keys.get("ends") or {}).get(
        f"{page['sort']}:{int(bool(page['descending']))}:{page['start'] - size}:{page['start']}"
    )
    ok = isinstance(found, list) and len(found) == 2 and all(isinstance(v, int) for v in found)
    return found if ok else None


def remember_key(page: Mapping, query: object, keys: object, key: list[int] | None) -> dict:
    """The keys store with the key this block ended with (reset for other filters)."""
    ends = {}
    if isinstance(keys, Mapping) and keys.get("query") == query:
        ends = dict(keys.get("ends") or {})
    if key is not None and len(ends) < MAX_REMEMBERED_KEYS:
        ends[_block_name(page)] = key
    return {"query": query, "ends": ends}
