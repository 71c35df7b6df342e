"""Customers: segments and how customers move between them, churn-risk tags, cohorts, RFM and
a customer list; the date range and platform/category filters drive the period figures."""

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.auth import current_role
from bi_app.roles import Action, Page
from components.chart_card import chart_card, graph
from components.customer_figures import segment_options, tag_options
from components.data_grid import GridColumn, data_grid
from components.filter_bar import filter_bar, load_filter_context, query_search
from components.ids import Customers
from components.kpi_card import kpi_placeholders

dash.register_page(__name__, path="/customers", name="Customers", group="Business", order=20,
                   title="Customers · bi-app", description="Segments, churn risk, cohorts and customers",
                   roles=Page.CUSTOMERS)

KPI_LABELS = ("Active customers", "Conversion rate", "Repeat-purchase rate", "Lifetime value per customer")



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


def _col(card, xl: int) -> dbc.Col:
    return dbc.Col(card, xs=12, xl=xl, className="mb-3")


def _recompute_button() -> html.Div:
    allowed = current_role() in Action.RECOMPUTE_TAGS
    button = dbc.Button("Recompute tags", id=Customers.RECOMPUTE, color="primary", size="sm", n_clicks=0,
                        disabled=not allowed)
    hint = None if allowed else html.Span("Analysts and admins can recompute.", className="small text-body-secondary ms-2")
    return html.Div([button, hint], className="d-flex align-items-center")


def layout(**query):
    ctx = load_filter_context(query)
    list_filters = dbc.Row([
        dbc.Col(dcc.Dropdown(id=Customers.SEGMENT, options=segment_options(), placeholder="All segments",
                             clearable=True), xs=12, md=3),
        dbc.Col(dcc.Dropdown(id=Customers.TAG, options=tag_options(), placeholder="Any tag", clearable=True),
                xs=12, md=3),
        dbc.Col(dbc.Input(id=Customers.SEARCH, type="search", placeholder="Search name or ID", debounce=True,
                          maxLength=100), xs=12, md=3),
        dbc.Col(html.Div(id=Customers.LIST_COUNT, className="small text-body-secondary", role="status"),
                xs=12, md=3, className="d-flex align-items-center"),
    ], className="g-2 mb-2")
    return html.Div([
        html.Div([
            html.Div([html.H1("Customers", className="app-page-title mb-0"),
                      html.Div(id=Customers.STATUS, className="text-body-secondary small")], className="me-auto"),
            _recompute_button(),
        ], className="d-flex flex-wrap align-items-end gap-3 mb-3"),
        dbc.Alert(id=Customers.RECOMPUTE_MESSAGE, is_open=False, dismissable=True, className="py-2 small"),
        dcc.Store(id=Customers.REFRESH_STORE, data=0),
        filter_bar(ctx.parsed, ctx.platforms, ctx.categories, first_day=ctx.first_day,
                   last_day=ctx.last_day, search=query_search(query, ctx.parsed)),
        dbc.Row(kpi_placeholders(KPI_LABELS), id=Customers.KPI_ROW),
        dbc.Row([
            _col(chart_card("Segments now (click a bar to list its customers)", graph(Customers.SEGMENT_GRAPH)), 4),
            _col(chart_card("Churn-risk tags", graph(Customers.TAGS_GRAPH)), 4),
            _col(chart_card("Recency × frequency (RFM scores)", graph(Customers.RFM_GRAPH)), 4),
        ]),
        dbc.Row([
            _col(chart_card("Segment sizes by month", graph(Customers.TREND_GRAPH)), 7),
            _col(chart_card("Movement between segments over the period", graph(Customers.MOVEMENT_GRAPH)), 5),
        ]),
        dbc.Row([_col(chart_card("Monthly cohort retention", graph(Customers.COHORT_GRAPH, height=420)), 12)]),
        list_filters,
        html.Div(id=Customers.LIST_MESSAGE),
        data_grid(Customers.GRID_NAME, list_columns(), [], title="Customers", height=520),
    ], className="app-page app-customers")
