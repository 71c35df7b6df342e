"""Builders of the Events pages: list columns, summary cards, figures, suggestions, what-if."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
import plotly.graph_objects as go
from dash import html
from plotly.subplots import make_subplots

from components.data_grid import GridColumn
from components.figures import GRID_COLOR, PRIMARY, base_layout, empty_figure
from components.format import NOT_AVAILABLE, format_count, format_money, plain_label, to_major
from components.ids import EventDetail

SECONDARY = "#adb5bd"
INDUSTRY_COLOR = "#fd7e14"
PROFILE_TITLES = {
    "age_band": "Age band",
    "gender": "Gender",
    "region": "Region",
    "returning": "New vs returning",
}


def list_columns() -> list[GridColumn]:
    return [
        GridColumn("code", "Code", "text", width=130, pinned="left"),
        GridColumn("name", "Event", "text", width=260),
        GridColumn("status", "Status", "text", width=115),
        GridColumn("starts_at", "Starts", "date", width=125),
        GridColumn("cost_cents", "Cost", "money"),
        GridColumn("revenue_cents", "Revenue", "money"),
        GridColumn("roi", "ROI", "percent"),
        GridColumn("cost_per_attendee_cents", "Cost per attendee", "money"),
        GridColumn("attendance_rate", "Attendance rate", "percent"),
        GridColumn("registered", "Registered", "int"),
        GridColumn("attended", "Attended", "int"),
        GridColumn("kind", "Kind", "text", width=130),
        GridColumn("organizer", "Organizer", "text", width=180),
    ]


def format_pct(value: Decimal | float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return NOT_AVAILABLE
    return f"{float(value):+.1f}%" if signed else f"{float(value):.1f}%"


def _card(index: str, label: str, value: str, lines: Sequence[Any]) -> dbc.Col:
    body = dbc.CardBody(
        [
            html.Div(label, className="app-kpi-label text-body-secondary small text-uppercase"),
            html.Div(value, className="app-kpi-value fs-3 fw-semibold"),
            *[html.Div(line, className="small text-body-secondary") for line in lines],
        ]
    )
    return dbc.Col(
        dbc.Card(
            body,
            id=EventDetail.summary_card(index),
            className=f"app-kpi-card app-event-card-{index} h-100 shadow-sm",
        ),
        xs=12,
        sm=6,
        xl=3,
        className="mb-3",
    )


def summary_cards(summary: Any, channels: Any, currency: str) -> list[dbc.Col]:
    """Participants vs goal, views vs the previous event, ROI vs industry, sales growth."""
    target = summary.target_participants
    basis = "attended" if summary.participants_basis == "attended" else "registered (not held yet)"
    goal = (
        f"{format_pct(summary.goal_pct)} of the goal of {target:,}"
        if target
        else "No participant goal set"
    )
    if channels is None:
        views, views_lines = NOT_AVAILABLE, ["Channel statistics unavailable"]
    elif channels.previous_views is None:
        views, views_lines = format_count(channels.views), ["No earlier event of this organizer"]
    else:
        views = format_count(channels.views)
        views_lines = [
            f"{format_pct(channels.views_change_pct, signed=True)} vs previous event",
            (
                f"{channels.previous_name or 'previous event'}: "
                f"{format_count(channels.previous_views)}"
            ),
        ]
    f = summary.figures
    return [
        _card("participants", "Participants", format_count(summary.participants), [basis, goal]),
        _card("views", "Views", views, views_lines),
        _card(
            "roi",
            "ROI",
            format_pct(f.roi_pct),
            [
                f"Industry average {summary.industry_avg_roi_pct:.1f}%",
                f"Net profit {format_money(f.net_profit_cents, currency)}",
            ],
        ),
        _card(
            "sales",
            "Sales growth",
            format_pct(summary.sales_growth_pct, signed=True),
            [
                f"{format_money(summary.sales_cents, currency)} during the event",
                f"{format_money(summary.previous_sales_cents, currency)} in the same time before",
            ],
        ),
    ]


def roi_details(summary: Any, currency: str) -> html.Ul:
    f = summary.figures
    items = [
        ("Cost", format_money(f.cost_cents, currency)),
        ("Revenue", format_money(f.revenue_cents, currency)),
        ("Cost per attendee", format_money(f.cost_per_attendee_cents, currency)),
        ("Revenue per attendee", format_money(f.revenue_per_attendee_cents, currency)),
        (
            "Break-even attendees",
            NOT_AVAILABLE
            if f.break_even_attendees is None
            else format_count(f.break_even_attendees),
        ),
        ("Attendance rate", format_pct(summary.attendance_rate_pct)),
    ]
    return html.Ul(
        [
            html.Li([html.Span(k, className="text-body-secondary me-2"), html.Strong(v)])
            for k, v in items
        ],
        className="list-unstyled small mb-0 app-event-roi-details",
    )


def channel_figure(report: Any) -> go.Figure:
    """Views per channel as bars, conversion rate (conversions per click) as markers."""
    results = list(report.results)
    if not any(r.stats.views or r.stats.clicks for r in results):
        return empty_figure("No channel statistics for this event")
    names = [plain_label(r.channel) for r in results]
    colors = [PRIMARY if r.status == "live" else SECONDARY for r in results]
    rates = [
        None if r.stats.conversion_rate is None else r.stats.conversion_rate * 100 for r in results
    ]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=[r.stats.views for r in results],
                name="Views",
                marker_color=colors,
                customdata=[[r.stats.clicks, r.stats.conversions] for r in results],
                hovertemplate="%{x}: %{y:,} views, %{customdata[0]:,} clicks, "
                "%{customdata[1]:,} conversions<extra></extra>",
            ),
            go.Scatter(
                x=names,
                y=rates,
                name="Conversion rate",
                mode="markers",
                yaxis="y2",
                marker={"size": 11, "color": INDUSTRY_COLOR},
                hovertemplate="%{x}: %{y:.1f}% of clicks converted<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        base_layout(
            yaxis={"title": "Views", "gridcolor": GRID_COLOR, "rangemode": "tozero"},
            yaxis2={
                "title": "Conversion rate",
                "overlaying": "y",
                "side": "right",
                "ticksuffix": "%",
                "rangemode": "tozero",
                "showgrid": False,
                "tickmode": "auto",
                "nticks": 5,
            },
            margin={"l": 56, "r": 56, "t": 16, "b": 40},
        )
    )
    return fig


def channel_table(report: Any) -> dbc.Table:
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in ("Channel", "Views", "Clicks", "Conversions", "Conversion rate", "Source")
            ]
        )
    )
    rows = []
    for r in report.results:
        rate = r.stats.conversion_rate
        rows.append(
            html.Tr(
                [
                    html.Td(r.channel),
                    html.Td(format_count(r.stats.views)),
                    html.Td(format_count(r.stats.clicks)),
                    html.Td(format_count(r.stats.conversions)),
                    html.Td(NOT_AVAILABLE if rate is None else f"{rate * 100:.1f}%"),
                    html.Td(r.source if r.status == "live" else f"{r.source} ({r.status})"),
                ]
            )
        )
    return dbc.Table([head, html.Tbody(rows)], size="sm", striped=True, className="mb-0 small")


def checkins_figure(df: pd.DataFrame) -> go.Figure:
    if df.empty:
        return empty_figure("No check-ins recorded")
    # hour labels as categories: a date axis would put its ticks between the hourly bars
    labels = [f"{h:%d %b %H:00}" for h in pd.to_datetime(df["hour"])]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=df["checkins"].tolist(),
            marker_color=PRIMARY,
            hovertemplate="%{x}: %{y:,} check-ins<extra></extra>",
        )
    )
    fig.update_layout(
        base_layout(
            yaxis={"title": "Check-ins", "gridcolor": GRID_COLOR},
            xaxis={"type": "category"},
            bargap=0.15,
        )
    )
    return fig


def profile_figure(df: pd.DataFrame) -> go.Figure:
    """Four small bar charts: age band, gender, region, new vs returning."""
    if df.empty:
        return empty_figure("No registered participants")
    dims = [d for d in PROFILE_TITLES if d in set(df["dimension"])]
    fig = make_subplots(rows=1, cols=len(dims), subplot_titles=[PROFILE_TITLES[d] for d in dims])
    for i, dim in enumerate(dims, start=1):
        part = df[df["dimension"] == dim]
        fig.add_trace(
            go.Bar(
                x=[plain_label(v) for v in part["value"]],
                y=part["participants"].tolist(),
                marker_color=PRIMARY,
                showlegend=False,
                hovertemplate="%{x}: %{y:,}<extra></extra>",
            ),
            row=1,
            col=i,
        )
    fig.update_layout(base_layout(margin={"l": 40, "r": 16, "t": 32, "b": 80}))
    fig.update_yaxes(gridcolor=GRID_COLOR)
    fig.update_xaxes(tickangle=-35)
    return fig


def comparison_figure(df: pd.DataFrame, event_id: int, industry_avg_pct: float) -> go.Figure:
    """ROI of this event and the organizer's earlier ones, with the industry average as a line."""
    if df.empty:
        return empty_figure("Nothing to compare")
    rois = [None if pd.isna(v) else float(v) * 100 for v in df["roi"]]
    labels = [
        f"{plain_label(c)}<br>{s:%b %Y}"
        for c, s in zip(df["code"], pd.to_datetime(df["starts_at"]))
    ]
    colors = [PRIMARY if i == event_id else SECONDARY for i in df["event_id"]]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=rois,
            marker_color=colors,
            name="ROI",
            customdata=[plain_label(n) for n in df["name"]],
            hovertemplate="%{customdata}: %{y:.1f}%<extra></extra>",
        )
    )
    fig.add_hline(
        y=industry_avg_pct,
        line={"color": INDUSTRY_COLOR, "dash": "dash"},
        annotation_text=f"Industry average {industry_avg_pct:.1f}%",
        annotation_position="top left",
    )
    fig.update_layout(
        base_layout(
            yaxis={"title": "ROI", "ticksuffix": "%", "gridcolor": GRID_COLOR}, showlegend=False
        )
    )
    return fig


def costs_figure(df: pd.DataFrame, benchmarks: Mapping[str, float], currency: str) -> go.Figure:
    """Share of the total cost per category against its benchmark share."""
    if df.empty:
        return empty_figure("No costs recorded")
    cats = df["category"].tolist()
    shown = [plain_label(c) for c in cats]
    fig = go.Figure(
        [
            go.Bar(
                y=shown,
                x=(df["share"] * 100).tolist(),
                orientation="h",
                name="Share of cost",
                marker_color=PRIMARY,
                customdata=[to_major(c, currency) for c in df["cost_cents"]],
                hovertemplate="%{y}: %{x:.1f}% (%{customdata:,.2f})<extra></extra>",
            ),
            go.Scatter(
                y=shown,
                x=[benchmarks.get(c, 0) * 100 if c in benchmarks else None for c in cats],
                mode="markers",
                name="Benchmark",
                marker={
                    "symbol": "line-ns-open",
                    "size": 18,
                    "color": INDUSTRY_COLOR,
                    "line": {"width": 3},
                },
                hovertemplate="%{y} benchmark: %{x:.0f}%<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        base_layout(
            xaxis={"ticksuffix": "%", "gridcolor": GRID_COLOR, "rangemode": "tozero"},
            yaxis={"autorange": "reversed"},
            margin={"l": 96, "r": 16, "t": 16, "b": 56},
        )
    )
    return fig


def suggestions_list(items: Sequence[Any], currency: str) -> Any:
    if not items:
        return html.P(
            "No suggestions: attendance and costs are within their targets.",
            className="text-body-secondary small mb-0",
        )
    out = []
    for s in items:
        body: list[Any] = [
            html.Div(s.title, className="fw-semibold"),
            html.Div(s.detail, className="small"),
        ]
        if s.saving_cents is not None:
            body.append(
                html.Div(
                    f"Potential saving: {format_money(s.saving_cents, currency)}",
                    className="small text-success",
                )
            )
        if s.actions:
            body.append(html.Ul([html.Li(a) for a in s.actions], className="small mb-0 mt-1"))
        out.append(dbc.ListGroupItem(body, className=f"app-suggestion app-suggestion-{s.kind}"))
    return dbc.ListGroup(out, flush=True)


def what_if_result(result: Any, current: Any, currency: str) -> html.Div:
    change = None
    if result.roi_pct is not None and current.roi_pct is not None:
        change = result.roi_pct - current.roi_pct
    return html.Div(
        [
            html.Div(
                [
                    html.Span("New ROI ", className="text-body-secondary"),
                    html.Span(
                        format_pct(result.roi_pct), className="fs-4 fw-semibold app-whatif-roi"
                    ),
                ]
            ),
            html.Div(
                f"Now {format_pct(current.roi_pct)}"
                + (f" ({float(change):+.1f} points)" if change is not None else ""),
                className="small",
            ),
            html.Div(
                f"Cost {format_money(result.cost_cents, currency)} · revenue "
                f"{format_money(result.revenue_cents, currency)} · net profit "
                f"{format_money(result.net_profit_cents, currency)}",
                className="small text-body-secondary",
            ),
            html.Div(
                "Break-even attendees: "
                + (
                    NOT_AVAILABLE
                    if result.break_even_attendees is None
                    else format_count(result.break_even_attendees)
                ),
                className="small text-body-secondary",
            ),
        ]
    )


def what_if_error(message: str) -> dbc.Alert:
    return dbc.Alert(message, color="warning", className="py-1 px-2 small mb-0")


def channel_notices(messages: Sequence[str]) -> list:
    return [
        dbc.Alert(m, color="warning", className="py-1 px-2 small mb-2 app-channel-notice")
        for m in messages
    ]


def not_found(shown_id: str) -> html.Div:
    return html.Div(
        [
            html.H1("Event not found", className="app-page-title"),
            dbc.Alert(
                f"There is no event with the id {shown_id!r}. It may have been removed, or the "
                "link "
                "may be mistyped.",
                color="warning",
                id=EventDetail.NOT_FOUND,
            ),
            dbc.Button("Back to all events", href="/events", color="primary", size="sm"),
        ],
        className="app-page app-event-not-found py-4",
    )
