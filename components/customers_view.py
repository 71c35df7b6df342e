"""The Customers page: segments and their movement, churn tags, cohorts, RFM, the customer list."""

from __future__ import annotations

from collections.abc import Mapping

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.filters import FilterContext
from bi_app.roles import Action
from bi_app.viewer import Viewer
from components.chart_card import chart_card, column, graph
from components.customer_figures import segment_options, tag_options
from components.data_grid import GridColumn, data_grid
from components.filter_bar import filter_bar_for
from components.ids import Customers
from components.kpi_card import kpi_placeholders

KPI_LABELS = (
    "Active customers",
    "Conversion rate",
    "Repeat-purchase rate",
    "Lifetime value per customer",
)


def list_columns() -> list[GridColumn]:
    return [
        GridColumn("external_id", "ID", "text", width=100, pinned="left"),
        GridColumn("customer", "Customer", "text"),
        GridColumn("segment", "Segment", "text", width=110),
        GridColumn("tags", "Tags", "text"),
        GridColumn("visits", "Visits", "int", width=100),
        GridColumn("orders", "Orders", "int", width=100),
        GridColumn("spend_cents", "Total spend", "money"),
        GridColumn("last_visit", "Last visit", "date", width=130),
        GridColumn("next_visit", "Next expected visit", "date", width=170),
    ]


def _recompute_button(viewer: Viewer) -> html.Div:
    allowed = viewer.may(Action.RECOMPUTE_TAGS)
    button = dbc.Button(
        "Recompute tags",
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
            "Analysts and admins can recompute.", className="small text-body-secondary ms-2"
        )
    )
    return html.Div([button, hint], className="d-flex align-items-center")


def layout(query: Mapping[str, object], ctx: FilterContext, viewer: Viewer) -> html.Div:
    """The whole Customers page; cards and the list are filled by its callbacks."""
    list_filters = dbc.Row(
        [
            dbc.Col(
                dcc.Dropdown(
                    id=Customers.SEGMENT,
                    options=segment_options(),
                    placeholder="All segments",
                    clearable=True,
                ),
                xs=12,
                md=3,
            ),
            dbc.Col(
                dcc.Dropdown(
                    id=Customers.TAG, options=tag_options(), placeholder="Any tag", clearable=True
                ),
                xs=12,
                md=3,
            ),
            dbc.Col(
                dbc.Input(
                    id=Customers.SEARCH,
                    type="search",
                    placeholder="Search name or ID",
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
                            html.H1("Customers", className="app-page-title mb-0"),
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
            filter_bar_for(ctx, query),
            dbc.Row(kpi_placeholders(KPI_LABELS), id=Customers.KPI_ROW),
            dbc.Row(
                [
                    column(
                        chart_card(
                            "Segments now (click a bar to list its customers)",
                            graph(Customers.SEGMENT_GRAPH),
                        ),
                        4,
                    ),
                    column(chart_card("Churn-risk tags", graph(Customers.TAGS_GRAPH)), 4),
                    column(
                        chart_card("Recency × frequency (RFM scores)", graph(Customers.RFM_GRAPH)),
                        4,
                    ),
                ]
            ),
            dbc.Row(
                [
                    column(chart_card("Segment sizes by month", graph(Customers.TREND_GRAPH)), 7),
                    column(
                        chart_card(
                            "Movement between segments over the period",
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
                            "Monthly cohort retention", graph(Customers.COHORT_GRAPH, height=420)
                        ),
                        12,
                    )
                ]
            ),
            list_filters,
            html.Div(id=Customers.LIST_MESSAGE),
            data_grid(
                Customers.GRID_NAME,
                list_columns(),
                [],
                title="Customers",
                height=520,
                currency=viewer.currency,
                can_download=viewer.can_download,
            ),
        ],
        className="app-page app-customers",
    )
