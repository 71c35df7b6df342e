"""Builders of the Events pages: list columns, summary cards, figures, suggestions, what-if."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import html

from bi_app import i18n
from bi_app.i18n import N_, _
from components.data_grid import GridColumn
from components.figures import GRID_COLOR, PRIMARY, base_layout, empty_figure, figure
from components.format import NOT_AVAILABLE, format_count, format_money, plain_label, to_major
from components.ids import EventDetail

SECONDARY = "#adb5bd"
INDUSTRY_COLOR = "#fd7e14"
PROFILE_TITLES = {
    "age_band": N_("Age band"),
    "gender": N_("Gender"),
    "region": N_("Region"),
    "returning": N_("New vs returning"),
}


# what a person reads for an event's status and kind (the stored codes stay the values)
EVENT_STATUS_LABELS = {
    "planned": N_("Planned"),
    "running": N_("Running"),
    "completed": N_("Completed"),
    "cancelled": N_("Cancelled"),
}
EVENT_KIND_LABELS = {
    "conference": N_("Conference"),
    "trade_show": N_("Trade show"),
    "workshop": N_("Workshop"),
    "webinar": N_("Webinar"),
    "campaign": N_("Campaign"),
    "product_launch": N_("Product launch"),
}


def event_list_rows(events: pd.DataFrame) -> pd.DataFrame:
    """The event list as the grid shows it: statuses and kinds by name in the request's
    language (an unknown code as it is)."""
    shown = events.copy()
    for column, labels in (("status", EVENT_STATUS_LABELS), ("kind", EVENT_KIND_LABELS)):
        if column in shown:
            shown[column] = [_(labels[c]) if c in labels else c for c in shown[column]]
    return shown


def list_columns() -> list[GridColumn]:
    return [
        GridColumn("code", _("Code"), "text", width=130, pinned="left"),
        GridColumn("name", _("Event"), "text", width=260),
        GridColumn("status", _("Status"), "text", width=115),
        GridColumn("starts_at", _("Starts"), "date", width=125),
        GridColumn("cost_cents", _("Cost"), "money"),
        GridColumn("revenue_cents", _("Revenue"), "money"),
        GridColumn("roi", _("ROI"), "percent"),
        GridColumn("cost_per_attendee_cents", _("Cost per attendee"), "money"),
        GridColumn("attendance_rate", _("Attendance rate"), "percent"),
        GridColumn("registered", _("Registered"), "int"),
        GridColumn("attended", _("Attended"), "int"),
        GridColumn("kind", _("Kind"), "text", width=130),
        GridColumn("organizer", _("Organizer"), "text", width=180),
    ]


def format_pct(value: Decimal | float | None, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return _(NOT_AVAILABLE)
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
    basis = (
        _("attended")
        if summary.participants_basis == "attended"
        else _("registered (not held yet)")
    )
    goal = (
        _(
            "%(share)s of the goal of %(target)s",
            share=format_pct(summary.goal_pct),
            target=format(target, ","),
        )
        if target
        else _("No participant goal set")
    )
    if channels is None:
        views, views_lines = _(NOT_AVAILABLE), [_("Channel statistics unavailable")]
    elif channels.previous_views is None:
        views, views_lines = format_count(channels.views), [_("No earlier event of this organizer")]
    else:
        views = format_count(channels.views)
        views_lines = [
            _(
                "%(change)s vs previous event",
                change=format_pct(channels.views_change_pct, signed=True),
            ),
            (channels.previous_name or _("previous event"))
            + f": {format_count(channels.previous_views)}",
        ]
    f = summary.figures
    return [
        _card("participants", _("Participants"), format_count(summary.participants), [basis, goal]),
        _card("views", _("Views"), views, views_lines),
        _card(
            "roi",
            _("ROI"),
            format_pct(f.roi_pct),
            [
                _(
                    "Industry average %(roi)s",
                    roi=format(summary.industry_avg_roi_pct, ".1f") + "%",
                ),
                _("Net profit %(amount)s", amount=format_money(f.net_profit_cents, currency)),
            ],
        ),
        _card(
            "sales",
            _("Sales growth"),
            format_pct(summary.sales_growth_pct, signed=True),
            [
                _(
                    "%(amount)s during the event",
                    amount=format_money(summary.sales_cents, currency),
                ),
                _(
                    "%(amount)s in the same time before",
                    amount=format_money(summary.previous_sales_cents, currency),
                ),
            ],
        ),
    ]


def roi_details(summary: Any, currency: str) -> html.Ul:
    f = summary.figures
    items = [
        (_("Cost"), format_money(f.cost_cents, currency)),
        (_("Revenue"), format_money(f.revenue_cents, currency)),
        (_("Cost per attendee"), format_money(f.cost_per_attendee_cents, currency)),
        (_("Revenue per attendee"), format_money(f.revenue_per_attendee_cents, currency)),
        (
            _("Break-even attendees"),
            _(NOT_AVAILABLE)
            if f.break_even_attendees is None
            else format_count(f.break_even_attendees),
        ),
        (_("Attendance rate"), format_pct(summary.attendance_rate_pct)),
    ]
    return html.Ul(
        [
            html.Li([html.Span(k, className="text-body-secondary me-2"), html.Strong(v)])
            for k, v in items
        ],
        className="list-unstyled small mb-0 app-event-roi-details",
    )


def channel_figure(report: Any) -> dict:
    """Views per channel as bars, conversion rate (conversions per click) as markers."""
    results = list(report.results)
    if not any(r.stats.views or r.stats.clicks for r in results):
        return empty_figure(_("No channel statistics for this event"))
    names = [plain_label(r.channel) for r in results]
    rates = [
        None if r.stats.conversion_rate is None else r.stats.conversion_rate * 100 for r in results
    ]
    views = {
        "type": "bar",
        "x": names,
        "y": [r.stats.views for r in results],
        "name": _("Views"),
        "marker": {"color": [PRIMARY if r.status == "live" else SECONDARY for r in results]},
        "customdata": [[r.stats.clicks, r.stats.conversions] for r in results],
        "hovertemplate": _(
            "%(channel)s: %(views)s views, %(clicks)s clicks, %(conversions)s conversions",
            channel="%{x}",
            views="%{y:,}",
            clicks="%{customdata[0]:,}",
            conversions="%{customdata[1]:,}",
        )
        + "<extra></extra>",
    }
    conversion = {
        "type": "scatter",
        "x": names,
        "y": rates,
        "name": _("Conversion rate"),
        "mode": "markers",
        "yaxis": "y2",
        "marker": {"size": 11, "color": INDUSTRY_COLOR},
        "hovertemplate": _(
            "%(channel)s: %(rate)s of clicks converted", channel="%{x}", rate="%{y:.1f}%"
        )
        + "<extra></extra>",
    }
    return figure(
        [views, conversion],
        base_layout(
            yaxis={"title": {"text": _("Views")}, "gridcolor": GRID_COLOR, "rangemode": "tozero"},
            yaxis2={
                "title": {"text": _("Conversion rate")},
                "overlaying": "y",
                "side": "right",
                "ticksuffix": "%",
                "rangemode": "tozero",
                "showgrid": False,
                "tickmode": "auto",
                "nticks": 5,
            },
            margin={"l": 56, "r": 56, "t": 16, "b": 40},
        ),
    )


def channel_table(report: Any) -> dbc.Table:
    head = html.Thead(
        html.Tr(
            [
                html.Th(_(h))
                for h in (
                    N_("Channel"),
                    N_("Views"),
                    N_("Clicks"),
                    N_("Conversions"),
                    N_("Conversion rate"),
                    N_("Source"),
                )
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
                    html.Td(_(NOT_AVAILABLE) if rate is None else f"{rate * 100:.1f}%"),
                    html.Td(r.source if r.status == "live" else f"{r.source} ({r.status})"),
                ]
            )
        )
    return dbc.Table([head, html.Tbody(rows)], size="sm", striped=True, className="mb-0 small")


def checkins_figure(df: pd.DataFrame) -> dict:
    if df.empty:
        return empty_figure(_("No check-ins recorded"))
    # hour labels as categories: a date axis would put its ticks between the hourly bars
    labels = [f"{i18n.format_period(h, 'day_month')} {h:%H}:00" for h in pd.to_datetime(df["hour"])]
    bar = {
        "type": "bar",
        "x": labels,
        "y": df["checkins"].tolist(),
        "marker": {"color": PRIMARY},
        "hovertemplate": _("%(hour)s: %(count)s check-ins", hour="%{x}", count="%{y:,}")
        + "<extra></extra>",
    }
    return figure(
        [bar],
        base_layout(
            yaxis={"title": {"text": _("Check-ins")}, "gridcolor": GRID_COLOR},
            xaxis={"type": "category"},
            bargap=0.15,
        ),
    )


def _subplot_columns(count: int) -> list[list[float]]:
    """The x domains of ``count`` side-by-side subplots, computed as plotly's
    ``make_subplots(rows=1, cols=count)`` does (its default spacing, 0.2 / count), so the
    layout is the same to the last digit."""
    spacing = 0.2 / count
    widths = [(1.0 - spacing * (count - 1)) / count] * count
    starts = [sum(widths[:c]) + c * spacing for c in range(count)]
    return [[start, start + width] for start, width in zip(starts, widths)]


def profile_figure(df: pd.DataFrame) -> dict:
    """Four small bar charts side by side: age band, gender, region, new vs returning.

    The grid is the one ``plotly.subplots.make_subplots(rows=1, cols=n, subplot_titles=...)``
    draws: one x/y axis pair per chart, each title an annotation centred above its chart.
    """
    if df.empty:
        return empty_figure(_("No registered participants"))
    dims = [d for d in PROFILE_TITLES if d in set(df["dimension"])]
    layout = base_layout(margin={"l": 40, "r": 16, "t": 32, "b": 80})
    traces, titles = [], []
    for i, (dim, domain) in enumerate(zip(dims, _subplot_columns(len(dims))), start=1):
        suffix = "" if i == 1 else str(i)
        part = df[df["dimension"] == dim]
        traces.append(
            {
                "type": "bar",
                "x": [plain_label(v) for v in part["value"]],
                "y": part["participants"].tolist(),
                "marker": {"color": PRIMARY},
                "showlegend": False,
                "hovertemplate": "%{x}: %{y:,}<extra></extra>",
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
            }
        )
        layout[f"xaxis{suffix}"] = {
            **layout.get(f"xaxis{suffix}", {}),
            "anchor": f"y{suffix}",
            "domain": domain,
            "tickangle": -35,
        }
        layout[f"yaxis{suffix}"] = {
            **layout.get(f"yaxis{suffix}", {}),
            "anchor": f"x{suffix}",
            "domain": [0.0, 1.0],
            "gridcolor": GRID_COLOR,
        }
        titles.append(
            {
                "text": _(PROFILE_TITLES[dim]),
                "x": sum(domain) / 2.0,
                "y": 1.0,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 16},
            }
        )
    layout["annotations"] = titles
    return figure(traces, layout)


def comparison_figure(df: pd.DataFrame, event_id: int, industry_avg_pct: float) -> dict:
    """ROI of this event and the organizer's earlier ones, with the industry average as a line."""
    if df.empty:
        return empty_figure(_("Nothing to compare"))
    labels = [
        f"{plain_label(c)}<br>{i18n.format_period(s, 'month_short')}"
        for c, s in zip(df["code"], pd.to_datetime(df["starts_at"]))
    ]
    bar = {
        "type": "bar",
        "x": labels,
        "y": [None if pd.isna(v) else float(v) * 100 for v in df["roi"]],
        "marker": {"color": [PRIMARY if i == event_id else SECONDARY for i in df["event_id"]]},
        "name": _("ROI"),
        "customdata": [plain_label(n) for n in df["name"]],
        "hovertemplate": "%{customdata}: %{y:.1f}%<extra></extra>",
    }
    average = float(industry_avg_pct)
    # a horizontal line across the plot with its label above its left end: what go.Figure's
    # add_hline(annotation_position="top left") draws
    line = {
        "type": "line",
        "xref": "x domain",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": average,
        "y1": average,
        "line": {"color": INDUSTRY_COLOR, "dash": "dash"},
    }
    label = {
        "text": _("Industry average %(roi)s", roi=format(industry_avg_pct, ".1f") + "%"),
        "showarrow": False,
        "xref": "x domain",
        "x": 0,
        "xanchor": "left",
        "yref": "y",
        "y": average,
        "yanchor": "bottom",
    }
    return figure(
        [bar],
        base_layout(
            yaxis={"title": {"text": _("ROI")}, "ticksuffix": "%", "gridcolor": GRID_COLOR},
            showlegend=False,
            shapes=[line],
            annotations=[label],
        ),
    )


def costs_figure(df: pd.DataFrame, benchmarks: Mapping[str, float], currency: str) -> dict:
    """Share of the total cost per category against its benchmark share."""
    if df.empty:
        return empty_figure(_("No costs recorded"))
    cats = df["category"].tolist()
    shown = [plain_label(c) for c in cats]
    shares = {
        "type": "bar",
        "y": shown,
        "x": (df["share"] * 100).tolist(),
        "orientation": "h",
        "name": _("Share of cost"),
        "marker": {"color": PRIMARY},
        "customdata": [to_major(c, currency) for c in df["cost_cents"]],
        "hovertemplate": (
            f"%{{y}}: %{{x:.1f}}% (%{{customdata:,.{i18n.currency_decimals(currency)}f}})"
            "<extra></extra>"
        ),
    }
    marks = {
        "type": "scatter",
        "y": shown,
        "x": [benchmarks.get(c, 0) * 100 if c in benchmarks else None for c in cats],
        "mode": "markers",
        "name": _("Benchmark"),
        "marker": {
            "symbol": "line-ns-open",
            "size": 18,
            "color": INDUSTRY_COLOR,
            "line": {"width": 3},
        },
        "hovertemplate": _("%(category)s benchmark: %(share)s", category="%{y}", share="%{x:.0f}%")
        + "<extra></extra>",
    }
    return figure(
        [shares, marks],
        base_layout(
            xaxis={"ticksuffix": "%", "gridcolor": GRID_COLOR, "rangemode": "tozero"},
            yaxis={"autorange": "reversed"},
            margin={"l": 96, "r": 16, "t": 16, "b": 56},
        ),
    )


def suggestions_list(items: Sequence[Any], currency: str) -> Any:
    if not items:
        return html.P(
            _("No suggestions: attendance and costs are within their targets."),
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
                    _(
                        "Potential saving: %(amount)s",
                        amount=format_money(s.saving_cents, currency),
                    ),
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
                    html.Span(_("New ROI") + " ", className="text-body-secondary"),
                    html.Span(
                        format_pct(result.roi_pct), className="fs-4 fw-semibold app-whatif-roi"
                    ),
                ]
            ),
            html.Div(
                _("Now %(roi)s", roi=format_pct(current.roi_pct))
                if change is None
                else _(
                    "Now %(roi)s (%(change)s points)",
                    roi=format_pct(current.roi_pct),
                    change=format(float(change), "+.1f"),
                ),
                className="small",
            ),
            html.Div(
                _(
                    "Cost %(cost)s · revenue %(revenue)s · net profit %(profit)s",
                    cost=format_money(result.cost_cents, currency),
                    revenue=format_money(result.revenue_cents, currency),
                    profit=format_money(result.net_profit_cents, currency),
                ),
                className="small text-body-secondary",
            ),
            html.Div(
                _(
                    "Break-even attendees: %(count)s",
                    count=_(NOT_AVAILABLE)
                    if result.break_even_attendees is None
                    else format_count(result.break_even_attendees),
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
            html.H1(_("Event not found"), className="app-page-title"),
            dbc.Alert(
                _(
                    "There is no event with the id %(id)s. It may have been removed, or the "
                    "link may be mistyped.",
                    id=repr(shown_id),
                ),
                color="warning",
                id=EventDetail.NOT_FOUND,
            ),
            dbc.Button(_("Back to all events"), href="/events", color="primary", size="sm"),
        ],
        className="app-page app-event-not-found py-4",
    )
