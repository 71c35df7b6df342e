"""Builders for the /ops/logs page: filter controls, the level-volume chart, grid rows, status."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from bi_app.i18n import _
from bi_app.monitoring.logs_query import LEVELS, RANGE_LABELS, LevelVolume, LogPage, ParsedLogQuery
from bi_app.viewer import Viewer
from components.chart_card import chart_card, graph
from components.data_grid import GridColumn, data_grid
from components.figures import base_layout, empty_figure
from components.format import to_local
from components.ids import OpsLogs
from components.notice import notice, notice_children

LEVEL_COLORS = {
    "DEBUG": "#adb5bd",
    "INFO": "#0d6efd",
    "WARNING": "#ffc107",
    "ERROR": "#dc3545",
    "CRITICAL": "#6f1d1b",
}
DISPLAY_FORMAT = "%Y-%m-%d %H:%M:%S"
INPUT_FORMAT = "%Y-%m-%d %H:%M"
MESSAGE_DISPLAY_CHARS = 2000


def log_columns(tz: str) -> list[GridColumn]:
    return [
        GridColumn("at", _("Time (%(timezone)s)", timezone=tz), "text", width=170, pinned="left"),
        GridColumn("level_name", _("Level"), "text", width=100),
        GridColumn("logger", _("Logger"), "text", width=170),
        GridColumn("message", _("Message"), "text", width=520),
        GridColumn("module", _("Module"), "text", width=130),
        GridColumn("func", _("Function"), "text", width=140),
        GridColumn("line", _("Line"), "int", width=90),
        GridColumn("request_id", _("Request"), "text", width=130),
        GridColumn("username", _("User"), "text", width=110),
        GridColumn("exc_text", _("Exception"), "text", width=240),
    ]


def local_time(value: dt.datetime, tz: str, fmt: str = DISPLAY_FORMAT) -> str:
    """A naive-UTC timestamp as text in the display time zone."""
    return to_local(value, tz).strftime(fmt)


def log_grid_rows(rows: Sequence[Mapping[str, Any]], tz: str) -> list[dict[str, Any]]:
    """Grid rows: local time text, the message cut for display, extras as a JSON string."""
    out = []
    for row in rows:
        item = dict(row)
        item["at"] = local_time(row["at"], tz)
        message = str(row.get("message") or "")
        item["message"] = (
            message
            if len(message) <= MESSAGE_DISPLAY_CHARS
            else message[:MESSAGE_DISPLAY_CHARS] + " …"
        )
        if row.get("extra") is not None:
            item["extra"] = json.dumps(row["extra"], ensure_ascii=False, default=str)
        out.append(item)
    return out


def volume_figure(volume: LevelVolume, tz: str) -> go.Figure:
    """Stacked bars: lines per level per bucket, in the display time zone."""
    if not volume.points:
        return empty_figure(_("No log lines in this range"))
    by_level: dict[str, tuple[list[dt.datetime], list[int]]] = {}
    for bucket, level, count in volume.points:
        xs, ys = by_level.setdefault(level, ([], []))
        xs.append(to_local(bucket, tz))
        ys.append(count)
    order = sorted(by_level, key=lambda name: LEVELS.get(name, 99))
    fig = go.Figure(
        [
            # Each bar spans its bucket (x is the bucket start, width in ms): with a single bucket
            # Plotly would otherwise zoom the axis to fractions of a millisecond.
            go.Bar(
                x=by_level[name][0],
                y=by_level[name][1],
                name=name,
                width=volume.bucket_seconds * 1000 * 0.9,
                offset=0,
                marker_color=LEVEL_COLORS.get(name, "#6c757d"),
                hovertemplate=f"{name}: "
                + _("%(count)s lines", count="%{y}")
                + "<br>%{x}<extra></extra>",
            )
            for name in order
        ]
    )
    minutes = volume.bucket_seconds // 60
    per_step = (
        _("lines per %(minutes)s min", minutes=minutes)
        if minutes < 60
        else _("lines per %(hours)s h", hours=minutes // 60)
    )
    fig.update_layout(
        **base_layout(
            barmode="stack",
            bargap=0.1,
            yaxis={"title": {"text": per_step}, "rangemode": "tozero"},
        )
    )
    return fig


def summary_text(shown: int, total: int) -> str:
    if total == 0:
        return _("No lines match these filters.")
    if shown < total:
        return _(
            "Showing newest %(shown)s of %(total)s lines.",
            shown=format(shown, ","),
            total=format(total, ","),
        )
    return _("Showing all %(total)s lines.", total=format(total, ","))


def page_summary(page: LogPage) -> str:
    return summary_text(len(page.rows), page.total)


def capture_status(stats: Mapping[str, Any]) -> list:
    """One line about the capture itself, so an operator sees lost lines."""
    if not stats.get("installed"):
        return [
            html.Span(_("Log capture is not running in this process."), className="text-warning")
        ]
    dropped = int(stats.get("dropped_queue_full", 0)) + int(stats.get("dropped_db", 0))
    text = _(
        "This process: %(stored)s lines stored, %(dropped)s dropped, %(waiting)s waiting.",
        stored=format(int(stats.get("written", 0)), ","),
        dropped=format(dropped, ","),
        waiting=format(int(stats.get("buffered", 0)), ","),
    )
    parts: list = [html.Span(text)]
    if stats.get("last_error") and int(stats.get("buffered", 0)):
        error = _("Storage error: %(error)s", error=stats["last_error"])
        parts.append(html.Span(f" {error}", className="text-danger"))
    return parts


def filter_controls(
    parsed: ParsedLogQuery, loggers: Sequence[str], raw: Mapping[str, object], tz: str
) -> dbc.Row:
    q = parsed.query
    custom = parsed.range_key == "custom"
    start = local_time(q.start, tz, INPUT_FORMAT) if custom else ""
    end = local_time(q.end, tz, INPUT_FORMAT) if custom else ""
    options = sorted(set(loggers) | set(q.loggers or ()))
    return dbc.Row(
        [
            dbc.Col(
                [
                    dbc.Label(_("Minimum level"), html_for=OpsLogs.LEVEL, className="small mb-1"),
                    dcc.Dropdown(
                        id=OpsLogs.LEVEL,
                        options=list(LEVELS),
                        value=parsed.level_name,
                        clearable=False,
                    ),
                ],
                md=2,
            ),
            dbc.Col(
                [
                    dbc.Label(_("Logger"), html_for=OpsLogs.LOGGER, className="small mb-1"),
                    dcc.Dropdown(
                        id=OpsLogs.LOGGER,
                        options=options,
                        value=list(q.loggers or ()),
                        multi=True,
                        placeholder=_("All loggers"),
                    ),
                ],
                md=3,
            ),
            dbc.Col(
                [
                    dbc.Label(_("Time range"), html_for=OpsLogs.RANGE, className="small mb-1"),
                    dcc.Dropdown(
                        id=OpsLogs.RANGE,
                        value=parsed.range_key,
                        clearable=False,
                        # RANGE_LABELS (logs_query) are English msgids: shown translated
                        options=[{"label": _(v), "value": k} for k, v in RANGE_LABELS.items()],
                    ),
                ],
                md=2,
            ),
            dbc.Col(
                [
                    dbc.Label(
                        _("From / to (%(timezone)s, custom range)", timezone=tz),
                        className="small mb-1",
                    ),
                    dbc.InputGroup(
                        [
                            dbc.Input(
                                id=OpsLogs.START,
                                value=start,
                                placeholder="YYYY-MM-DD HH:MM",
                                debounce=True,
                                maxLength=40,
                            ),
                            dbc.Input(
                                id=OpsLogs.END,
                                value=end,
                                placeholder="YYYY-MM-DD HH:MM",
                                debounce=True,
                                maxLength=40,
                            ),
                        ],
                        size="sm",
                    ),
                ],
                md=3,
            ),
            dbc.Col(
                [
                    dbc.Label(_("Search"), html_for=OpsLogs.SEARCH, className="small mb-1"),
                    dbc.Input(
                        id=OpsLogs.SEARCH,
                        value=str(raw.get("q") or "")[:400],
                        type="search",
                        placeholder=_("text in message"),
                        debounce=True,
                        maxLength=400,
                    ),
                ],
                md=2,
            ),
        ],
        className="g-2 align-items-end",
    )


def layout(
    parsed: ParsedLogQuery,
    loggers: Sequence[str],
    raw: Mapping[str, object],
    *,
    viewer: Viewer,
    refresh_ms: int,
) -> html.Div:
    """The whole page; the grid and chart are filled by the page's callbacks."""
    return html.Div(
        [
            html.Div(
                [
                    html.H1(_("Logs"), className="h4 mb-0 me-auto"),
                    dbc.Switch(id=OpsLogs.LIVE, label=_("Live tail"), value=True, className="mb-0"),
                ],
                className="d-flex align-items-center gap-3 mb-3",
            ),
            filter_controls(parsed, loggers, raw, viewer.timezone),
            notice(parsed.notices, OpsLogs.NOTICE),
            dcc.Interval(id=OpsLogs.INTERVAL, interval=refresh_ms, disabled=False),
            dcc.Store(id=OpsLogs.TICK_STORE),
            dcc.Store(id=OpsLogs.TAIL_STORE),
            html.Div(
                chart_card(
                    _("Log volume by level"),
                    graph(OpsLogs.VOLUME_GRAPH, height=220),
                    message_id=OpsLogs.VOLUME_MESSAGE,
                ),
                className="mt-3 mb-3",
            ),
            html.Div(
                [
                    html.Span(id=OpsLogs.SUMMARY, className="fw-semibold me-3", role="status"),
                    html.Span(id=OpsLogs.CAPTURE_STATUS, className="text-muted"),
                ],
                className="small mb-2",
            ),
            data_grid(
                OpsLogs.GRID_NAME,
                log_columns(viewer.timezone),
                [],
                title=_("Log lines"),
                page_size=50,
                height=620,
                currency=viewer.currency,
                can_download=viewer.can_download,
            ),
        ]
    )


def notices(messages: Sequence[str]) -> tuple[list, bool]:
    """Children and open state for the page's notice."""
    return notice_children(messages), bool(messages)
