"""The Sales page: revenue with growth, orders, cancellations, rankings; charts cross-filter."""

from __future__ import annotations

from collections.abc import Mapping

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.data.sales import RANK_METRICS
from bi_app.data.sales_growth import BREAKDOWNS
from bi_app.filters import FilterContext, parse_granularity, parse_statuses
from bi_app.i18n import N_, _
from bi_app.viewer import Viewer
from components.chart_card import chart_card, column, graph
from components.data_grid import GridColumn, data_grid
from components.filter_bar import filter_bar_for
from components.ids import Sales
from components.kpi_card import kpi_placeholders
from components.notice import notice

KPI_LABELS = (
    N_("Revenue"),
    N_("Orders"),
    N_("Average order value"),
    N_("Cancelled or refunded"),
)


def product_columns() -> list[GridColumn]:
    return [
        GridColumn("sku", _("SKU"), "text", width=110, pinned="left"),
        GridColumn("product", _("Product"), "text"),
        GridColumn("category", _("Category"), "text"),
        GridColumn("units", _("Units"), "int"),
        GridColumn("orders", _("Orders"), "int"),
        GridColumn("revenue_cents", _("Revenue"), "money"),
        GridColumn("share", _("Share of revenue"), "percent"),
    ]


def growth_columns(dimension: str) -> list[GridColumn]:
    label = _("Category") if dimension == "category" else _("Platform")
    return [
        GridColumn("name", label, "text", width=170, pinned="left"),
        GridColumn("revenue_cents", _("Revenue"), "money"),
        GridColumn("revenue_pop", _("vs previous"), "change"),
        GridColumn("revenue_yoy", _("vs last year"), "change"),
        GridColumn("share", _("Share"), "percent"),
        GridColumn("prev_revenue_cents", _("Previous period"), "money", width=150),
        GridColumn("yoy_revenue_cents", _("Last year"), "money"),
        GridColumn("orders", _("Orders"), "int"),
        GridColumn("orders_pop", _("Orders vs prev."), "change", width=140),
    ]


def growth_dimension(raw: object) -> str:
    value = str(raw or "").strip().lower()
    return value if value in BREAKDOWNS else "platform"


def _radio(component_id: str, value: str, options: dict[str, str]) -> dcc.RadioItems:
    return dcc.RadioItems(
        id=component_id,
        value=value,
        options=[{"label": label, "value": key} for key, label in options.items()],
        inline=True,
        className="small",
        inputClassName="form-check-input me-1",
        labelClassName="me-3",
    )


def layout(query: Mapping[str, object], ctx: FilterContext, viewer: Viewer) -> html.Div:
    """The whole Sales page; its cards, charts and grid are filled by the page's callbacks."""
    statuses, status_notices = parse_statuses(query.get("status"))
    metric = str(query.get("rank") or "revenue").lower()
    metric = metric if metric in RANK_METRICS else "revenue"
    granularity = _radio(
        Sales.GRANULARITY,
        parse_granularity(query.get("granularity") or "week"),
        {"day": _("Day"), "week": _("Week"), "month": _("Month"), "year": _("Year")},
    )
    ranking = _radio(
        Sales.RANK_METRIC, metric, {"revenue": _("By revenue"), "units": _("By units")}
    )
    dimension = growth_dimension(query.get("growth_by"))
    growth_by = _radio(
        Sales.GROWTH_BY,
        dimension,
        {"platform": _("Per platform"), "category": _("Per category")},
    )
    return html.Div(
        [
            html.Div(
                [
                    html.Div(
                        [
                            html.H1(_("Sales"), className="app-page-title mb-0"),
                            html.Div(
                                _(
                                    "Revenue counts paid, shipped and delivered orders; a status "
                                    "filter shows the value of the chosen statuses instead."
                                ),
                                className="text-body-secondary small",
                            ),
                        ],
                        className="me-auto",
                    ),
                    html.Div(
                        [
                            html.Span(_("Group by"), className="small text-body-secondary me-2"),
                            granularity,
                        ],
                        className="d-flex align-items-center",
                    ),
                ],
                className="d-flex flex-wrap align-items-end gap-3 mb-3",
            ),
            filter_bar_for(ctx, query),
            notice(status_notices, Sales.NOTICE),
            html.Div(
                id=Sales.CHIPS,
                className="d-flex flex-wrap align-items-center mb-3",
                role="status",
                **{"aria-label": _("Cross-filters")},
            ),
            dcc.Store(id=Sales.STATUS_STORE, data=list(statuses or [])),
            dbc.Row(kpi_placeholders(KPI_LABELS), id=Sales.KPI_ROW),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Revenue and the same period last year"),
                            graph(Sales.REVENUE_GRAPH),
                        ),
                        8,
                    ),
                    column(chart_card(_("Revenue growth"), graph(Sales.GROWTH_GRAPH)), 4),
                ]
            ),
            dbc.Row(
                [
                    column(
                        chart_card(_("Orders and average order value"), graph(Sales.ORDERS_GRAPH)),
                        6,
                    ),
                    column(chart_card(_("Cancellations and refunds"), graph(Sales.LOST_GRAPH)), 6),
                ]
            ),
            html.Div(id=Sales.GROWTH_MESSAGE),
            data_grid(
                Sales.GROWTH_GRID_NAME,
                growth_columns(dimension),
                [],
                title=_("Growth against the previous period and last year"),
                page_size=10,
                height=470,
                currency=viewer.currency,
                can_download=viewer.can_download,
                controls=growth_by,
            ),
            dbc.Row(
                [
                    column(
                        chart_card(_("Orders by platform and status"), graph(Sales.PLATFORM_GRAPH)),
                        7,
                    ),
                    column(chart_card(_("Orders by status"), graph(Sales.STATUS_GRAPH)), 5),
                ]
            ),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Best sellers"),
                            graph(Sales.RANKING_GRAPH, height=360),
                            controls=ranking,
                        ),
                        7,
                    ),
                    column(
                        chart_card(
                            _("Revenue by category"), graph(Sales.CATEGORY_GRAPH, height=360)
                        ),
                        5,
                    ),
                ]
            ),
            html.Div(id=Sales.PRODUCTS_MESSAGE),
            data_grid(
                Sales.GRID_NAME,
                product_columns(),
                [],
                title=_("Products"),
                height=520,
                currency=viewer.currency,
                can_download=viewer.can_download,
            ),
            html.Div(id=Sales.GRANULARITY_URL_DUMMY, hidden=True),
            html.Div(id=Sales.RANK_URL_DUMMY, hidden=True),
            html.Div(id=Sales.STATUS_URL_DUMMY, hidden=True),
            html.Div(id=Sales.GROWTH_BY_URL_DUMMY, hidden=True),
        ],
        className="app-page app-sales",
    )
