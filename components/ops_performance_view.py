"""The Operations → Performance page: response times, throughput, errors and cache hit rate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from bi_app.i18n import N_, _
from bi_app.monitoring.dashboard import PerformanceData
from components.chart_card import chart_card, graph
from components.figures import PRIMARY, SECONDARY, base_layout, empty_figure
from components.format import plain_label, to_local
from components.ids import OpsPerformance as ids

RANGE_OPTIONS = [  # labels marked only: range_options() translates them
    {"label": N_("1 hour"), "value": "1h"},
    {"label": N_("24 hours"), "value": "24h"},
    {"label": N_("7 days"), "value": "7d"},
]


def range_options() -> list[dict[str, str]]:
    """The range choices, labelled in the request's language."""
    return [{"label": _(o["label"]), "value": o["value"]} for o in RANGE_OPTIONS]


def latency_bars(items: Sequence[dict], what: str) -> go.Figure:
    if not items:
        return empty_figure(
            _("No requests recorded in this range")
            if what == "requests"
            else _("No callbacks recorded in this range")
        )
    names = [
        f"{d['method']} {d['name']}"
        if d["method"] not in ("POST",) or what == "requests"
        else d["name"]
        for d in reversed(items)
    ]
    # cut first, then escape: an entity cut in half would show as text
    names = [plain_label(n if len(n) <= 60 else n[:57] + "…") for n in names]
    fig = go.Figure(
        [
            go.Bar(
                y=names,
                x=[d["p50_ms"] for d in reversed(items)],
                name="p50",
                orientation="h",
                marker_color=PRIMARY,
            ),
            go.Bar(
                y=names,
                x=[d["p95_ms"] for d in reversed(items)],
                name="p95",
                orientation="h",
                marker_color=SECONDARY,
                customdata=[[d["count"], d["errors"]] for d in reversed(items)],
                hovertemplate="%{y}<br>p95 %{x:.1f} ms<br>"
                + _(
                    "%(calls)s calls, %(errors)s errors",
                    calls="%{customdata[0]}",
                    errors="%{customdata[1]}",
                )
                + "<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        **base_layout(
            barmode="group",
            margin={"l": 8, "r": 16, "t": 8, "b": 40},
            xaxis={"title": "ms", "rangemode": "tozero"},
            yaxis={"automargin": True},
        )
    )
    return fig


def time_figure(
    times: Sequence[dt.datetime],
    series: Sequence[tuple[str, Sequence[float | None]]],
    y_title: str,
    tz: str,
    empty: str,
    percent: bool = False,
) -> go.Figure:
    if not times or all(v is None or v == 0 for _n, values in series for v in values):
        return empty_figure(empty)
    xs = [to_local(t, tz) for t in times]
    colors = (PRIMARY, SECONDARY)
    # Markers keep isolated points (one busy hour in a quiet week) visible between gaps.
    fig = go.Figure(
        [
            go.Scatter(
                x=xs,
                y=list(values),
                name=name,
                mode="lines+markers",
                connectgaps=False,
                marker={"size": 4},
                line={"width": 2, "color": colors[i % 2]},
            )
            for i, (name, values) in enumerate(series)
        ]
    )
    fig.update_layout(
        **base_layout(
            margin={"l": 56, "r": 8, "t": 8, "b": 32},
            yaxis={
                "title": y_title,
                "rangemode": "tozero",
                "tickformat": ".0%" if percent else None,
            },
        )
    )
    return fig


def performance_figures(data: PerformanceData, tz: str) -> tuple[go.Figure, ...]:
    return (
        latency_bars(data.endpoints, "requests"),
        latency_bars(data.callbacks, "callbacks"),
        time_figure(
            data.times,
            [(_("requests/min"), data.throughput_per_min)],
            _("requests / min"),
            tz,
            _("No requests in this range"),
        ),
        time_figure(
            data.times,
            [(_("error rate"), data.error_rate)],
            _("5xx share"),
            tz,
            _("No errors in this range"),
            percent=True,
        ),
        time_figure(
            data.times,
            [("p50", data.p50_ms), ("p95", data.p95_ms)],
            "ms",
            tz,
            _("No requests in this range"),
        ),
        time_figure(
            data.cache_times,
            [(_("hit rate"), data.cache_hit_rate)],
            _("hit rate"),
            tz,
            _("No cache traffic yet"),
            percent=True,
        ),
    )


def layout(data: PerformanceData | None, range_key: str, tz: str, error: str | None) -> html.Div:
    """The whole /ops/performance page for one range (``error`` when its data is unavailable)."""
    figures = (
        performance_figures(data, tz) if data is not None else (empty_figure(_("Unavailable")),) * 6
    )
    graph_ids = (
        ids.ENDPOINTS_GRAPH,
        ids.CALLBACKS_GRAPH,
        ids.THROUGHPUT_GRAPH,
        ids.ERRORS_GRAPH,
        ids.LATENCY_GRAPH,
        ids.CACHE_GRAPH,
    )
    titles = (
        _("Response time by endpoint (p50 / p95)"),
        _("Response time by callback (p50 / p95)"),
        _("Throughput"),
        _("Error rate"),
        _("Response time over time"),
        _("Cache hit rate"),
    )
    cards = [
        chart_card(t, graph(g, f, height=360 if i < 2 else 260))
        for i, (t, g, f) in enumerate(zip(titles, graph_ids, figures))
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.H1(_("Performance"), className="app-page-title me-auto mb-0"),
                    dbc.RadioItems(
                        id=ids.RANGE,
                        options=range_options(),
                        value=range_key,
                        inline=True,
                        className="btn-group",
                        inputClassName="btn-check",
                        labelClassName="btn btn-outline-primary btn-sm",
                        labelCheckedClassName="active",
                    ),
                ],
                className="d-flex align-items-center flex-wrap gap-2 mb-3",
            ),
            html.Div(performance_message(error), id=ids.MESSAGE),
            dbc.Row(
                [
                    dbc.Col(cards[0], lg=6, className="mb-3"),
                    dbc.Col(cards[1], lg=6, className="mb-3"),
                ]
            ),
            dbc.Row([dbc.Col(c, md=6, xl=3, className="mb-3") for c in cards[2:]]),
            dcc.Interval(id=ids.INTERVAL, interval=60_000, n_intervals=0),
        ]
    )


def performance_message(error: str | None) -> Any:
    if not error:
        return None
    return dbc.Alert(error, color="warning", className="mb-3")
