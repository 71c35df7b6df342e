"""Tiles, tables and figures for the Operations Health and Performance pages.

The health page is live: :func:`health_refresh` turns a new snapshot into small updates (tile
texts, and ``dash.Patch`` objects that replace only a figure's data arrays) so a refresh never
resends layouts or redraws the page.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from bi_app.monitoring.dashboard import HealthSnapshot, PerformanceData
from bi_app.monitoring.health import CheckResult, HealthReport
from components.chart_card import chart_card, graph
from components.figures import PRIMARY, base_layout, empty_figure
from components.ids import OpsHealth as ids

STATUS_COLOR = {"healthy": "success", "degraded": "warning", "unhealthy": "danger"}
STATUS_LABEL = {"healthy": "Healthy", "degraded": "Degraded", "unhealthy": "Unhealthy"}
SECONDARY = "#fd7e14"
SPARK_CONFIG = {"displayModeBar": False, "staticPlot": True, "responsive": True}
RESOURCE_GRAPHS = (
    # graph id, title, (sample field, trace name)..., y-axis title
    (ids.CPU_GRAPH, "CPU", (("cpu_percent", "CPU"),), "%"),
    (ids.MEMORY_GRAPH, "Memory", (("memory_percent", "Memory"),), "%"),
    (ids.DISK_GRAPH, "Disk", (("disk_percent", "Disk used"),), "%"),
    (ids.NETWORK_GRAPH, "Network", (("net_recv_bps", "Received"), ("net_sent_bps", "Sent")), "bytes/s"),
)


def check_label(name: str) -> str:
    if name.startswith("service:"):
        return f"Service · {name.split(':', 1)[1]}"
    return name.capitalize()


def local(moments: Sequence[dt.datetime], tz: str) -> list[dt.datetime]:
    """Stored naive-UTC times, shown in the configured time zone."""
    zone = ZoneInfo(tz)
    return [m.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None) for m in moments]


def status_badge(status: str, large: bool = False) -> dbc.Badge:
    return dbc.Badge(STATUS_LABEL.get(status, status), color=STATUS_COLOR.get(status, "secondary"),
                     className="fs-6" if large else "", pill=True)


def format_latency(check: CheckResult) -> str:
    if check.latency_ms is None:
        return "no round trip" if check.status == "healthy" else "—"
    if check.latency_ms >= 10:
        return f"{check.latency_ms:.0f} ms"
    return f"{check.latency_ms:.1f} ms" if check.latency_ms >= 1 else f"{check.latency_ms:.2f} ms"


def detail_text(check: CheckResult) -> str:
    d = check.detail
    if check.name == "database" and "connections" in d:
        return f"{d['connections']}/{d['max_connections']} connections, {d['active_queries']} active queries"
    if check.name == "cache":
        rate = d.get("hit_rate")
        return f"{d.get('backend', '')} · hit rate {rate:.0%}" if rate is not None else d.get("backend", "")
    if check.name == "disk" and "free_percent" in d:
        return f"{d['free_percent']:.1f} % free on {d['path']}"
    if check.name == "scheduler":
        late = d.get("late_jobs") or []
        return f"leader {d.get('leader') or 'none'} · {len(late) if isinstance(late, list) else late} late"
    if "url" in d:
        return f"{d['url']} → {d.get('status_code') or 'no answer'}"
    return ""


def short_error(error: str | None, limit: int = 140) -> str:
    """Tiles stay the same height; the full text is in the tooltip and in /api/health."""
    if not error:
        return ""
    return error if len(error) <= limit else error[: limit - 1] + "…"


def spark_figure(points: Sequence[tuple[dt.datetime, float | None]], tz: str) -> dict[str, Any]:
    xs = local([p[0] for p in points], tz)
    return {"data": [{"type": "scatter", "mode": "lines", "x": xs, "y": [p[1] for p in points],
                      "line": {"width": 1.5, "color": PRIMARY}, "fill": "tozeroy",
                      "fillcolor": "rgba(13,110,253,0.12)", "hoverinfo": "skip"}],
            "layout": {"margin": {"l": 0, "r": 0, "t": 2, "b": 2}, "height": 48, "showlegend": False,
                       "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                       "xaxis": {"visible": False}, "yaxis": {"visible": False, "rangemode": "tozero"}}}


def health_tile(check: CheckResult, history: Sequence[tuple[dt.datetime, float | None]], tz: str) -> dbc.Col:
    body = [
        html.Div([html.Span(check_label(check.name), className="fw-semibold me-auto text-truncate"),
                  html.Span(status_badge(check.status), id=ids.tile_status(check.name))],
                 className="d-flex align-items-center gap-2"),
        html.Div(format_latency(check), id=ids.tile_latency(check.name), className="fs-4 fw-semibold mt-1"),
        html.Div(detail_text(check), className="small text-body-secondary text-truncate"),
        dcc.Graph(id=ids.tile_spark(check.name), figure=spark_figure(history, tz), config=SPARK_CONFIG,
                  style={"height": "48px"}),
        html.Div(short_error(check.error), id=ids.tile_error(check.name), title=check.error or "",
                 className="small text-danger text-break"),
    ]
    card = dbc.Card(dbc.CardBody(body), className="app-ops-tile h-100 shadow-sm")
    return dbc.Col(card, xs=12, sm=6, lg=4, xl=3, className="mb-3")


def health_tiles(report: HealthReport, history: dict, tz: str) -> list[dbc.Col]:
    return [health_tile(c, history.get(c.name, []), tz) for c in report.checks]


def checked_text(report: HealthReport, tz: str) -> str:
    at = local([report.at], tz)[0]
    origin = {"memory": "from memory", "database": "from the last stored report", "live": "live"}
    return f"checked {at:%H:%M:%S} ({tz}) · {origin.get(report.origin, report.origin)}"


def banner(snapshot: HealthSnapshot, tz: str) -> Any:
    if snapshot.database_error is None:
        return None
    at = local([snapshot.report.at], tz)[0]
    return dbc.Alert([html.Strong("The database is unreachable. "),
                      (f"Showing the last health report from {at:%H:%M:%S}; history charts may be "
                       f"incomplete. ({snapshot.database_error})")], color="danger", className="mb-3")


def resource_figure(samples: Sequence[dict], fields: Sequence[tuple[str, str]], unit: str, tz: str) -> go.Figure:
    if not samples:
        return empty_figure("No samples yet")
    xs = local([s["at"] for s in samples], tz)
    colors = (PRIMARY, SECONDARY)
    fig = go.Figure([go.Scatter(x=xs, y=[s[f] for s in samples], name=label, mode="lines",
                                line=dict(width=2, color=colors[i % 2]))
                     for i, (f, label) in enumerate(fields)])
    fig.update_layout(**base_layout(margin=dict(l=48, r=8, t=8, b=32), xaxis=dict(tickformat="%H:%M"),
                                    yaxis=dict(title=unit, rangemode="tozero",
                                               range=[0, 100] if unit == "%" else None)))
    return fig


def breakers_table(states: Sequence[dict], tz: str) -> Any:
    if not states:
        return html.P("No external channel sources configured.", className="text-body-secondary mb-0")
    colors = {"closed": "success", "half_open": "warning", "open": "danger"}
    rows = [html.Tr([html.Td(s["name"]),
                     html.Td(dbc.Badge(s["state"].replace("_", " "), color=colors.get(s["state"], "secondary"))),
                     html.Td(str(s.get("failures", 0))),
                     html.Td(f"{local([s['opened_at']], tz)[0]:%Y-%m-%d %H:%M:%S}"
                             if isinstance(s.get("opened_at"), dt.datetime) else "—"),
                     html.Td(s.get("last_error") or "", className="small text-break")]) for s in states]
    head = html.Thead(html.Tr([html.Th(h) for h in ("Source", "State", "Failures", "Opened", "Last error")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="mb-0")


def health_page(snapshot: HealthSnapshot, tz: str, refresh_ms: int) -> html.Div:
    report = snapshot.report
    resources = [chart_card(title, graph(gid, resource_figure(snapshot.resources, fields, unit, tz), height=220))
                 for gid, title, fields, unit in RESOURCE_GRAPHS]
    return html.Div([
        html.Div([html.H1("Health", className="app-page-title me-3 mb-0"),
                  html.Span(status_badge(report.status, large=True), id=ids.OVERALL),
                  html.Span(checked_text(report, tz), id=ids.CHECKED_AT, className="small text-body-secondary ms-3")],
                 className="d-flex align-items-center flex-wrap mb-3"),
        html.Div(banner(snapshot, tz), id=ids.BANNER),
        dbc.Row(health_tiles(report, snapshot.history, tz), id=ids.TILES),
        html.H2("Resources", className="h5 mt-2 mb-3"),
        dbc.Row([dbc.Col(card, xs=12, md=6, xl=3, className="mb-3") for card in resources]),
        html.H2("External channel sources", className="h5 mt-2 mb-3"),
        dbc.Card(dbc.CardBody(breakers_table(snapshot.breakers, tz), id=ids.BREAKERS), className="mb-3 shadow-sm"),
        html.Div(dcc.Interval(id=ids.INTERVAL, interval=refresh_ms, n_intervals=0), id=ids.VISIBILITY_DUMMY),
    ])


def _data_patch(samples: Sequence[dict], fields: Sequence[tuple[str, str]], tz: str) -> Any:
    if not samples:
        return dash.no_update
    patch = dash.Patch()
    xs = local([s["at"] for s in samples], tz)
    for i, (f, _label) in enumerate(fields):
        patch["data"][i]["x"] = xs
        patch["data"][i]["y"] = [s[f] for s in samples]
    return patch


def _spark_patch(points: Sequence[tuple[dt.datetime, float | None]], tz: str) -> Any:
    patch = dash.Patch()
    patch["data"][0]["x"] = local([p[0] for p in points], tz)
    patch["data"][0]["y"] = [p[1] for p in points]
    return patch


def health_refresh(snapshot: HealthSnapshot, tile_names: Sequence[str], tz: str,
                   resources_were_empty: bool) -> tuple:
    """Outputs of one live refresh, in the callback's order.

    Tiles are updated in place; only when the set of checks changed is the tile row rebuilt
    (then the per-tile outputs are left alone, they belong to the old tiles).
    """
    report = snapshot.report
    names = [c.name for c in report.checks]
    head = (status_badge(report.status, large=True), checked_text(report, tz), banner(snapshot, tz))
    if sorted(names) != sorted(tile_names):
        keep = [dash.no_update] * len(tile_names)
        tiles = (health_tiles(report, snapshot.history, tz), keep, keep, keep, keep)
    else:
        checks = [report.check(n) for n in tile_names]
        tiles = (dash.no_update, [status_badge(c.status) for c in checks],
                 [format_latency(c) for c in checks], [short_error(c.error) for c in checks],
                 [_spark_patch(snapshot.history[c.name], tz) if c.name in snapshot.history else dash.no_update
                  for c in checks])
    if resources_were_empty and snapshot.resources:  # the "no samples" placeholder has no traces
        graphs = tuple(resource_figure(snapshot.resources, fields, unit, tz) for _g, _t, fields, unit in RESOURCE_GRAPHS)
    else:
        graphs = tuple(_data_patch(snapshot.resources, fields, tz) for _g, _t, fields, _u in RESOURCE_GRAPHS)
    return (*head, *tiles, *graphs, breakers_table(snapshot.breakers, tz))


# --- performance ---------------------------------------------------------------------------

RANGE_OPTIONS = [{"label": "1 hour", "value": "1h"}, {"label": "24 hours", "value": "24h"},
                 {"label": "7 days", "value": "7d"}]


def latency_bars(items: Sequence[dict], what: str) -> go.Figure:
    if not items:
        return empty_figure(f"No {what} recorded in this range")
    names = [f"{d['method']} {d['name']}" if d["method"] not in ("POST",) or what == "requests" else d["name"]
             for d in reversed(items)]
    names = [n if len(n) <= 60 else n[:57] + "…" for n in names]
    fig = go.Figure([
        go.Bar(y=names, x=[d["p50_ms"] for d in reversed(items)], name="p50", orientation="h", marker_color=PRIMARY),
        go.Bar(y=names, x=[d["p95_ms"] for d in reversed(items)], name="p95", orientation="h",
               marker_color=SECONDARY, customdata=[[d["count"], d["errors"]] for d in reversed(items)],
               hovertemplate="%{y}<br>p95 %{x:.1f} ms<br>%{customdata[0]} calls, %{customdata[1]} errors"
                             "<extra></extra>"),
    ])
    fig.update_layout(**base_layout(barmode="group", margin=dict(l=8, r=16, t=8, b=40),
                                    xaxis=dict(title="ms", rangemode="tozero"), yaxis=dict(automargin=True)))
    return fig


def time_figure(times: Sequence[dt.datetime], series: Sequence[tuple[str, Sequence[float | None]]],
                y_title: str, tz: str, empty: str, percent: bool = False) -> go.Figure:
    if not times or all(v is None or v == 0 for _n, values in series for v in values):
        return empty_figure(empty)
    xs = local(times, tz)
    colors = (PRIMARY, SECONDARY)
    # Markers keep isolated points (one busy hour in a quiet week) visible between gaps.
    fig = go.Figure([go.Scatter(x=xs, y=list(values), name=name, mode="lines+markers", connectgaps=False,
                                marker=dict(size=4), line=dict(width=2, color=colors[i % 2]))
                     for i, (name, values) in enumerate(series)])
    fig.update_layout(**base_layout(margin=dict(l=56, r=8, t=8, b=32),
                                    yaxis=dict(title=y_title, rangemode="tozero",
                                               tickformat=".0%" if percent else None)))
    return fig


def performance_figures(data: PerformanceData, tz: str) -> tuple[go.Figure, ...]:
    return (
        latency_bars(data.endpoints, "requests"),
        latency_bars(data.callbacks, "callbacks"),
        time_figure(data.times, [("requests/min", data.throughput_per_min)], "requests / min", tz,
                    "No requests in this range"),
        time_figure(data.times, [("error rate", data.error_rate)], "5xx share", tz,
                    "No errors in this range", percent=True),
        time_figure(data.times, [("p50", data.p50_ms), ("p95", data.p95_ms)], "ms", tz,
                    "No requests in this range"),
        time_figure(data.cache_times, [("hit rate", data.cache_hit_rate)], "hit rate", tz,
                    "No cache traffic yet", percent=True),
    )


def performance_page(data: PerformanceData | None, range_key: str, tz: str, error: str | None) -> html.Div:
    from components.ids import OpsPerformance as p

    figures = performance_figures(data, tz) if data is not None else (empty_figure("Unavailable"),) * 6
    graph_ids = (p.ENDPOINTS_GRAPH, p.CALLBACKS_GRAPH, p.THROUGHPUT_GRAPH, p.ERRORS_GRAPH, p.LATENCY_GRAPH,
                 p.CACHE_GRAPH)
    titles = ("Response time by endpoint (p50 / p95)", "Response time by callback (p50 / p95)", "Throughput",
              "Error rate", "Response time over time", "Cache hit rate")
    cards = [chart_card(t, graph(g, f, height=360 if i < 2 else 260))
             for i, (t, g, f) in enumerate(zip(titles, graph_ids, figures))]
    return html.Div([
        html.Div([html.H1("Performance", className="app-page-title me-auto mb-0"),
                  dbc.RadioItems(id=p.RANGE, options=RANGE_OPTIONS, value=range_key, inline=True,
                                 className="btn-group", inputClassName="btn-check",
                                 labelClassName="btn btn-outline-primary btn-sm",
                                 labelCheckedClassName="active")],
                 className="d-flex align-items-center flex-wrap gap-2 mb-3"),
        html.Div(performance_message(error), id=p.MESSAGE),
        dbc.Row([dbc.Col(cards[0], lg=6, className="mb-3"), dbc.Col(cards[1], lg=6, className="mb-3")]),
        dbc.Row([dbc.Col(c, md=6, xl=3, className="mb-3") for c in cards[2:]]),
        dcc.Interval(id=p.INTERVAL, interval=60_000, n_intervals=0),
    ])


def performance_message(error: str | None) -> Any:
    if not error:
        return None
    return dbc.Alert(error, color="warning", className="mb-3")


VISIBILITY_JS = """
function (intervalId) {
    /* Pause a live page's Interval while the browser tab is hidden (no requests, no redraws). */
    var registry = window.biLiveIntervals = window.biLiveIntervals || {};
    registry[intervalId] = "%(wrapper)s";
    if (!window.biVisibilityHooked) {
        window.biVisibilityHooked = true;
        document.addEventListener("visibilitychange", function () {
            Object.keys(window.biLiveIntervals).forEach(function (id) {
                if (document.getElementById(window.biLiveIntervals[id])) {
                    window.dash_clientside.set_props(id, {disabled: document.hidden});
                }
            });
        });
    }
    return document.hidden;
}
"""


def visibility_js(wrapper_id: str) -> str:
    return VISIBILITY_JS % {"wrapper": wrapper_id}
