"""The Overview page: KPIs, the revenue trend, orders by platform and status, top products."""

from __future__ import annotations

from collections.abc import Mapping

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.filters import GRANULARITIES, FilterContext, parse_granularity
from bi_app.i18n import N_, _
from bi_app.viewer import Viewer
from components.chart_card import chart_card, graph
from components.data_grid import GridColumn, data_grid
from components.filter_bar import filter_bar_for
from components.ids import Overview
from components.kpi_card import kpi_placeholders

KPI_LABELS = (N_("Revenue"), N_("Orders"), N_("Average order value"), N_("Active customers"))
GRANULARITY_LABELS = {
    "day": N_("Day"),
    "week": N_("Week"),
    "month": N_("Month"),
    "year": N_("Year"),
}


def top_products_columns() -> list:
    return [
        GridColumn("sku", _("SKU"), "text"),
        GridColumn("product", _("Product"), "text"),
        GridColumn("category", _("Category"), "text"),
        GridColumn("units", _("Units"), "int"),
        GridColumn("orders", _("Orders"), "int"),
        GridColumn("revenue_cents", _("Revenue"), "money"),
    ]


def granularity_label(granularity: str) -> str:
    label = GRANULARITY_LABELS.get(granularity)
    return _(label) if label else granularity.capitalize()


def layout(query: Mapping[str, object], ctx: FilterContext, viewer: Viewer) -> html.Div:
    """The whole Overview page; its cards and grid are filled by the page's callbacks."""
    granularity = dcc.RadioItems(
        id=Overview.GRANULARITY,
        value=parse_granularity(query.get("granularity")),
        options=[{"label": granularity_label(g), "value": g} for g in GRANULARITIES],
        inline=True,
        className="small",
    )
    return html.Div(
        [
            html.H1(_("Overview"), className="app-page-title mb-3"),
            filter_bar_for(ctx, query),
            dbc.Row(kpi_placeholders(KPI_LABELS), id=Overview.KPI_ROW),
            dbc.Row(
                [
                    dbc.Col(
                        chart_card(
                            _("Revenue trend"), graph(Overview.REVENUE_GRAPH), controls=granularity
                        ),
                        xs=12,
                        xl=7,
                        className="mb-3",
                    ),
                    dbc.Col(
                        chart_card(
                            _("Orders by platform and status"),
                            graph(Overview.PLATFORM_STATUS_GRAPH),
                        ),
                        xs=12,
                        xl=5,
                        className="mb-3",
                    ),
                ]
            ),
            html.Div(id=Overview.TOP_PRODUCTS_MESSAGE),
            data_grid(
                Overview.TOP_PRODUCTS,
                top_products_columns(),
                [],
                title=_("Top products"),
                height=520,
                currency=viewer.currency,
                can_download=viewer.can_download,
            ),
            html.Div(id=Overview.GRANULARITY_URL_DUMMY, hidden=True),
        ],
        className="app-page app-overview",
    )
