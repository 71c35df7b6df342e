"""The Operations → Health page: tiles, resource charts and breaker table, and its live refresh.

The page is live: :func:`health_refresh` turns a new snapshot into small updates (tile texts, and
``dash.Patch`` objects that replace only a figure's data arrays) so a refresh never resends
layouts or redraws the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import dash
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from bi_app.i18n import N_, _
from bi_app.monitoring.dashboard import HealthSnapshot
from bi_app.monitoring.health import CheckResult, HealthReport
from components.chart_card import chart_card, graph
from components.figures import PRIMARY, SECONDARY, base_layout, empty_figure
from components.format import to_local
from components.health_status import health_badge
from components.ids import OpsHealth as ids

SPARK_CONFIG = {"displayModeBar": False, "staticPlot": True, "responsive": True}
RESOURCE_GRAPHS = (
    # graph id, title, (sample field, trace name)..., y-axis title (marked only: shown with _())
    (ids.CPU_GRAPH, N_("CPU"), (("cpu_percent", N_("CPU")),), "%"),
    (ids.MEMORY_GRAPH, N_("Memory"), (("memory_percent", N_("Memory")),), "%"),
    (ids.DISK_GRAPH, N_("Disk"), (("disk_percent", N_("Disk used")),), "%"),
    (
        ids.NETWORK_GRAPH,
        N_("Network"),
        (("net_recv_bps", N_("Received")), ("net_sent_bps", N_("Sent"))),
        N_("bytes/s"),
    ),
)
# the built-in checks by their stored name; a monitored service is "service:<name>"
CHECK_LABELS = {
    "database": N_("Database"),
    "cache": N_("Cache"),
    "disk": N_("Disk"),
    "scheduler": N_("Scheduler"),
}
REPORT_ORIGINS = {
    "memory": N_("from memory"),
    "database": N_("from the last stored report"),
    "live": N_("live"),
}
BREAKER_STATES = {"closed": N_("closed"), "half_open": N_("half open"), "open": N_("open")}


def check_label(name: str) -> str:
    if name.startswith("service:"):
        return _("Service · %(name)s", name=name.split(":", 1)[1])
    label = CHECK_LABELS.get(name)
    return _(label) if label else name.capitalize()


def local(moments: Sequence[dt.datetime], tz: str) -> list[dt.datetime]:
    """Stored naive-UTC times, shown in the configured time zone."""
    return [to_local(m, tz) for m in moments]


def format_latency(check: CheckResult) -> str:
    if check.latency_ms is None:
        return _("no round trip") if check.status == "healthy" else "—"
    if check.latency_ms >= 10:
        return f"{check.latency_ms:.0f} ms"
    return f"{check.latency_ms:.1f} ms" if check.latency_ms >= 1 else f"{check.latency_ms:.2f} ms"


def detail_text(check: CheckResult) -> str:
    d = check.detail
    if check.name == "database" and "connections" in d:
        return _(
            "%(connections)s/%(max_connections)s connections, %(active)s active queries",
            connections=d["connections"],
            max_connections=d["max_connections"],
            active=d["active_queries"],
        )
    if check.name == "cache":
        rate = d.get("hit_rate")
        return (
            _(
                "%(backend)s · hit rate %(rate)s",
                backend=d.get("backend", ""),
                rate=format(rate, ".0%"),
            )
            if rate is not None
            else d.get("backend", "")
        )
    if check.name == "disk" and "free_percent" in d:
        return _(
            "%(free)s %% free on %(path)s", free=format(d["free_percent"], ".1f"), path=d["path"]
        )
    if check.name == "scheduler":
        late = d.get("late_jobs") or []
        late_count = len(late) if isinstance(late, list) else late
        return _(
            "leader %(leader)s · %(late)s late",
            leader=d.get("leader") or _("none"),
            late=late_count,
        )
    if "url" in d:
        answer = d.get("status_code") or _("no answer")
        return f"{d['url']} → {answer}"
    return ""


def short_error(error: str | None, limit: int = 140) -> str:
    """Tiles stay the same height; the full text is in the tooltip and in /api/health."""
    if not error:
        return ""
    return error if len(error) <= limit else error[: limit - 1] + "…"


def spark_figure(points: Sequence[tuple[dt.datetime, float | None]], tz: str) -> dict[str, Any]:
    xs = local([p[0] for p in points], tz)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "x": xs,
                "y": [p[1] for p in points],
                "line": {"width": 1.5, "color": PRIMARY},
                "fill": "tozeroy",
                "fillcolor": "rgba(13,110,253,0.12)",
                "hoverinfo": "skip",
            }
        ],
        "layout": {
            "margin": {"l": 0, "r": 0, "t": 2, "b": 2},
            "height": 48,
            "showlegend": False,
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "xaxis": {"visible": False},
            "yaxis": {"visible": False, "rangemode": "tozero"},
        },
    }


def health_tile(
    check: CheckResult, history: Sequence[tuple[dt.datetime, float | None]], tz: str
) -> dbc.Col:
    body = [
        html.Div(
            [
                html.Span(check_label(check.name), className="fw-semibold me-auto text-truncate"),
                html.Span(health_badge(check.status), id=ids.tile_status(check.name)),
            ],
            className="d-flex align-items-center gap-2",
        ),
        html.Div(
            format_latency(check),
            id=ids.tile_latency(check.name),
            className="fs-4 fw-semibold mt-1",
        ),
        html.Div(detail_text(check), className="small text-body-secondary text-truncate"),
        dcc.Graph(
            id=ids.tile_spark(check.name),
            figure=spark_figure(history, tz),
            config=SPARK_CONFIG,
            style={"height": "48px"},
        ),
        html.Div(
            short_error(check.error),
            id=ids.tile_error(check.name),
            title=check.error or "",
            className="small text-danger text-break",
        ),
    ]
    card = dbc.Card(dbc.CardBody(body), className="app-ops-tile h-100 shadow-sm")
    return dbc.Col(card, xs=12, sm=6, lg=4, xl=3, className="mb-3")


def health_tiles(report: HealthReport, history: dict, tz: str) -> list[dbc.Col]:
    return [health_tile(c, history.get(c.name, []), tz) for c in report.checks]


def checked_text(report: HealthReport, tz: str) -> str:
    at = local([report.at], tz)[0]
    origin = REPORT_ORIGINS.get(report.origin)
    return _(
        "checked %(time)s (%(timezone)s) · %(origin)s",
        time=format(at, "%H:%M:%S"),
        timezone=tz,
        origin=_(origin) if origin else report.origin,
    )


def banner(snapshot: HealthSnapshot, tz: str) -> Any:
    if snapshot.database_error is None:
        return None
    at = local([snapshot.report.at], tz)[0]
    return dbc.Alert(
        [
            html.Strong(_("The database is unreachable.") + " "),
            _(
                "Showing the last health report from %(time)s; history charts may be "
                "incomplete. (%(error)s)",
                time=format(at, "%H:%M:%S"),
                error=snapshot.database_error,
            ),
        ],
        color="danger",
        className="mb-3",
    )


def resource_figure(
    samples: Sequence[dict], fields: Sequence[tuple[str, str]], unit: str, tz: str
) -> go.Figure:
    if not samples:
        return empty_figure(_("No samples yet"))
    xs = local([s["at"] for s in samples], tz)
    colors = (PRIMARY, SECONDARY)
    fig = go.Figure(
        [
            go.Scatter(
                x=xs,
                y=[s[f] for s in samples],
                name=_(label),
                mode="lines",
                line={"width": 2, "color": colors[i % 2]},
            )
            for i, (f, label) in enumerate(fields)
        ]
    )
    fig.update_layout(
        **base_layout(
            margin={"l": 48, "r": 8, "t": 8, "b": 32},
            xaxis={"tickformat": "%H:%M"},
            yaxis={
                "title": _(unit) if unit != "%" else unit,
                "rangemode": "tozero",
                "range": [0, 100] if unit == "%" else None,
            },
        )
    )
    return fig


def breaker_state_label(state: str) -> str:
    """A circuit breaker's stored state as people read it ("half_open" -> "half open")."""
    label = BREAKER_STATES.get(state)
    return _(label) if label else state.replace("_", " ")


def breakers_table(states: Sequence[dict], tz: str) -> Any:
    if not states:
        return html.P(
            _("No external channel sources configured."), className="text-body-secondary mb-0"
        )
    colors = {"closed": "success", "half_open": "warning", "open": "danger"}
    rows = [
        html.Tr(
            [
                html.Td(s["name"]),
                html.Td(
                    dbc.Badge(
                        breaker_state_label(s["state"]), color=colors.get(s["state"], "secondary")
                    )
                ),
                html.Td(str(s.get("failures", 0))),
                html.Td(
                    f"{local([s['opened_at']], tz)[0]:%Y-%m-%d %H:%M:%S}"
                    if isinstance(s.get("opened_at"), dt.datetime)
                    else "—"
                ),
                html.Td(s.get("last_error") or "", className="small text-break"),
            ]
        )
        for s in states
    ]
    head = html.Thead(
        html.Tr(
            [
                html.Th(h)
                for h in (_("Source"), _("State"), _("Failures"), _("Opened"), _("Last error"))
            ]
        )
    )
    return dbc.Table([head, html.Tbody(rows)], size="sm", hover=True, className="mb-0")


def layout(snapshot: HealthSnapshot, tz: str, refresh_ms: int) -> html.Div:
    """The whole /ops/health page for one snapshot."""
    report = snapshot.report
    resources = [
        chart_card(
            _(title), graph(gid, resource_figure(snapshot.resources, fields, unit, tz), height=220)
        )
        for gid, title, fields, unit in RESOURCE_GRAPHS
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.H1(_("Health"), className="app-page-title me-3 mb-0"),
                    html.Span(health_badge(report.status, large=True), id=ids.OVERALL),
                    html.Span(
                        checked_text(report, tz),
                        id=ids.CHECKED_AT,
                        className="small text-body-secondary ms-3",
                    ),
                ],
                className="d-flex align-items-center flex-wrap mb-3",
            ),
            html.Div(banner(snapshot, tz), id=ids.BANNER),
            dbc.Row(health_tiles(report, snapshot.history, tz), id=ids.TILES),
            html.H2(_("Resources"), className="h5 mt-2 mb-3"),
            dbc.Row([dbc.Col(card, xs=12, md=6, xl=3, className="mb-3") for card in resources]),
            html.H2(_("External channel sources"), className="h5 mt-2 mb-3"),
            dbc.Card(
                dbc.CardBody(breakers_table(snapshot.breakers, tz), id=ids.BREAKERS),
                className="mb-3 shadow-sm",
            ),
            html.Div(
                dcc.Interval(id=ids.INTERVAL, interval=refresh_ms, n_intervals=0),
                id=ids.VISIBILITY_DUMMY,
            ),
        ]
    )


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


def health_refresh(
    snapshot: HealthSnapshot, tile_names: Sequence[str], tz: str, resources_were_empty: bool
) -> tuple:
    """Outputs of one live refresh, in the callback's order.

    Tiles are updated in place; only when the set of checks changed is the tile row rebuilt
    (then the per-tile outputs are left alone, they belong to the old tiles).
    """
    report = snapshot.report
    names = [c.name for c in report.checks]
    head = (health_badge(report.status, large=True), checked_text(report, tz), banner(snapshot, tz))
    if sorted(names) != sorted(tile_names):
        keep = [dash.no_update] * len(tile_names)
        tiles = (health_tiles(report, snapshot.history, tz), keep, keep, keep, keep)
    else:
        checks = [report.check(n) for n in tile_names]
        tiles = (
            dash.no_update,
            [health_badge(c.status) for c in checks],
            [format_latency(c) for c in checks],
            [short_error(c.error) for c in checks],
            [
                _spark_patch(snapshot.history[c.name], tz)
                if c.name in snapshot.history
                else dash.no_update
                for c in checks
            ],
        )
    if resources_were_empty and snapshot.resources:  # the "no samples" placeholder has no traces
        graphs = tuple(
            resource_figure(snapshot.resources, fields, unit, tz)
            for _g, _t, fields, unit in RESOURCE_GRAPHS
        )
    else:
        graphs = tuple(
            _data_patch(snapshot.resources, fields, tz) for _g, _t, fields, _u in RESOURCE_GRAPHS
        )
    return (*head, *tiles, *graphs, breakers_table(snapshot.breakers, tz))
