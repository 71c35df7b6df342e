"""Builders for /ops/alerts: the URL's filters, the open-alerts grid, an alert's detail with its
metric's chart, the action panel and the history (alerts per rule per day, MTTA and MTTR).

Everything here is pure: the page and its callbacks read the data and hand it in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from bi_app.alerts.rules import SEVERITY_LABELS, STATE_LABELS, format_labels
from bi_app.db.alert_models import OPEN_STATES, SEVERITIES
from bi_app.i18n import N_, _, format_number, format_relative
from bi_app.viewer import Viewer
from components.alerts_nav import tabs
from components.chart_card import chart_card, graph
from components.data_grid import GridColumn, column_defs, grid_locale
from components.figures import base_layout, empty_figure
from components.format import to_local
from components.ids import OpsAlerts
from components.notice import notice, notice_children

SEVERITY_COLORS = {
    "info": "#0d6efd",
    "warning": "#ffc107",
    "critical": "#dc3545",
    "emergency": "#6f1d1b",
}
SEVERITY_BADGE = {"info": "info", "warning": "warning", "critical": "danger", "emergency": "dark"}
STATE_FILTERS: dict[str, str] = {
    "open": N_("open (pending, firing, acknowledged)"),
    "pending": STATE_LABELS["pending"],
    "firing": STATE_LABELS["firing"],
    "acknowledged": STATE_LABELS["acknowledged"],
    "resolved": STATE_LABELS["resolved"],
    "ignored": STATE_LABELS["ignored"],
}
DEFAULT_STATES = ("open",)
RANGES: dict[str, dt.timedelta] = {
    "1h": dt.timedelta(hours=1),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
    "90d": dt.timedelta(days=90),
}
RANGE_LABELS = {
    "1h": N_("Last hour"),
    "24h": N_("Last 24 hours"),
    "7d": N_("Last 7 days"),
    "30d": N_("Last 30 days"),
    "90d": N_("Last 90 days"),
}
DEFAULT_RANGE = "7d"
EVENT_LABELS = {
    "pending": N_("pending"),
    "fired": N_("fired"),
    "firing": N_("fired"),
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
    "ignored": N_("ignored"),
    "comment": N_("comment"),
    "escalated": N_("escalated"),
    "silenced": N_("silenced"),
    "unsilenced": N_("silence ended"),
    "notified": N_("notified"),
    "response": N_("response job"),
}
SILENCED = N_("silenced")
RUN_STATUS_LABELS = {
    "running": N_("running"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "timed_out": N_("timed out"),
    "skipped": N_("skipped"),
}
# (action, label, colour, outlined): lifecycle's function of the same name does it
ACTION_BUTTONS = (
    ("acknowledge", N_("Acknowledge"), "primary", False),
    ("resolve", N_("Resolve"), "success", False),
    ("ignore", N_("Ignore"), "secondary", True),
    ("comment", N_("Add comment"), "secondary", True),
)
DAILY_WINDOW = dt.timedelta(days=30)
DAY_MS = 86_400_000
MINUTE_WINDOW = dt.timedelta(hours=6)
TIME_FORMAT = "%Y-%m-%d %H:%M"


# --- the URL ----------------------------------------------------------------------------------


@dataclass
class AlertQuery:
    """The page's filters, validated; ``start``/``end`` are naive UTC."""

    severities: tuple[str, ...]  # empty: every severity
    states: tuple[str, ...]  # keys of STATE_FILTERS
    range_key: str
    start: dt.datetime
    end: dt.datetime
    alert_id: int | None = None
    notices: list[str] = field(default_factory=list)

    @property
    def alert_states(self) -> tuple[str, ...] | None:
        """The alert states the filter keeps (None: all)."""
        wanted: list[str] = []
        for key in self.states:
            for state in OPEN_STATES if key == "open" else (key,):
                if state not in wanted:
                    wanted.append(state)
        return tuple(wanted) or None


def _split(raw: object) -> list[str]:
    if raw is None:
        return []
    items = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return [str(item).strip().lower() for item in items if str(item).strip()]


def parse_alert_query(raw: Mapping[str, object], now: dt.datetime) -> AlertQuery:
    """Validate the URL's (or the controls') ``severity`` and ``state`` (comma lists), ``range``
    and ``alert``; a bad value gets a notice and its default."""
    notices: list[str] = []
    severities: list[str] = []
    for name in _split(raw.get("severity")):
        if name in SEVERITIES:
            if name not in severities:
                severities.append(name)
        else:
            notices.append(_("Ignored unknown severity %(value)s.", value=repr(name[:30])))
    states: list[str] = []
    for name in _split(raw.get("state")):
        if name in STATE_FILTERS:
            if name not in states:
                states.append(name)
        else:
            notices.append(_("Ignored unknown state %(value)s.", value=repr(name[:30])))
    if raw.get("state") is None or not _split(raw.get("state")):
        states = list(DEFAULT_STATES)
    elif not states:
        states = list(DEFAULT_STATES)
        notices.append(_("Showing open alerts."))
    range_key = str(raw.get("range") or DEFAULT_RANGE).strip().lower()
    if range_key not in RANGES:
        notices.append(
            _(
                "Unknown time range %(range)s; showing the last 7 days.",
                range=repr(str(raw.get("range"))[:30]),
            )
        )
        range_key = DEFAULT_RANGE
    alert_id = None
    if raw.get("alert") not in (None, ""):
        text = str(raw.get("alert")).strip()
        if text.isdigit() and len(text) <= 18:
            alert_id = int(text)
        else:
            notices.append(_("Invalid alert number %(value)s.", value=repr(text[:30])))
    return AlertQuery(
        severities=tuple(severities),
        states=tuple(states),
        range_key=range_key,
        start=now - RANGES[range_key],
        end=now,
        alert_id=alert_id,
        notices=notices,
    )


def badge_href() -> str:
    """Where the header's badge leads: the open critical and emergency alerts."""
    return "/ops/alerts?severity=critical,emergency&state=open"


# --- formatting -------------------------------------------------------------------------------


def format_duration(seconds: float | None) -> str:
    """``95`` -> "1 min 35 s", ``7500`` -> "2 h 5 min", ``200000`` -> "2 d 7 h" (in the request's
    language); None -> "–"."""
    if seconds is None:
        return "–"
    total = max(0, round(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(days)s d %(hours)s h", days=format_number(days), hours=hours)
    if hours:
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=minutes)
    if minutes:
        return _("%(minutes)s min %(seconds)s s", minutes=minutes, seconds=secs)
    return _("%(seconds)s s", seconds=secs)


def severity_label(severity: str) -> str:
    return _(SEVERITY_LABELS.get(severity, severity))


def state_label(state: str, silenced: bool = False) -> str:
    text = _(STATE_LABELS.get(state, state))
    return _("%(state)s, silenced", state=text) if silenced else text


def local_text(moment: dt.datetime | None, tz: str) -> str:
    return to_local(moment, tz).strftime(TIME_FORMAT) if moment else ""


def format_value(value: float | None) -> str:
    if value is None:
        return "–"
    return format_number(value, digits=0 if float(value).is_integer() else 2)


def alert_columns(tz: str) -> list[GridColumn]:
    return [
        GridColumn("severity_label", _("Severity"), "text", width=110, pinned="left"),
        GridColumn("name", _("Alert"), "text", width=230),
        GridColumn("state_label", _("State"), "text", width=140),
        GridColumn("age", _("Age"), "text", width=130),
        GridColumn("labels", _("Labels"), "text", width=180),
        GridColumn("rule", _("Rule"), "text", width=180),
        GridColumn("value_text", _("Value"), "text", width=90),
        GridColumn("started", _("Started (%(timezone)s)", timezone=tz), "text", width=150),
    ]


def alert_rows(alerts: Sequence[Mapping[str, Any]], now: dt.datetime, tz: str) -> list[dict]:
    """Grid rows: translated severity and state ("silenced" when a silence holds it), labels as
    k=v, the age relative to ``now`` (naive UTC), the start in the display time zone."""
    rows = []
    for alert in alerts:
        fired = alert.get("fired_at") or alert["started_at"]
        rows.append(
            {
                "id": alert["id"],
                "severity": alert["severity"],
                "severity_label": severity_label(alert["severity"]),
                "state": alert["state"],
                "state_label": state_label(alert["state"], bool(alert.get("silenced"))),
                "silenced": bool(alert.get("silenced")),
                "name": alert["name"],
                "rule": alert.get("rule_name") or "",
                "labels": format_labels(_own_labels(alert.get("labels") or {})),
                "value_text": format_value(alert.get("value")),
                "age": format_relative(fired - now),
                "started": local_text(alert["started_at"], tz),
            }
        )
    return rows


def summary_text(rows: Sequence[Mapping[str, Any]], limit: int) -> str:
    if not rows:
        return _("No alerts match these filters.")
    if len(rows) >= limit:
        return _("Showing the first %(count)s alerts.", count=format_number(len(rows)))
    return _("Alerts shown: %(count)s", count=format_number(len(rows)))


def rule_errors_children(rules: Sequence[Mapping[str, Any]]) -> list:
    """The warning at the top: rules whose data could not be read, with their last error."""
    if not rules:
        return []
    return [
        html.Div(_("These rules cannot read their data:"), className="fw-semibold"),
        html.Ul(
            [
                html.Li(
                    [
                        html.Span(rule["name"], className="fw-semibold"),
                        html.Span(": "),
                        html.Span(rule.get("last_error") or _("unknown error")),
                    ]
                )
                for rule in rules
            ],
            className="mb-0",
        ),
    ]


# --- figures ----------------------------------------------------------------------------------


def series_window(detail: Mapping[str, Any], daily: bool, now: dt.datetime):
    """The chart's time range: 6 h (30 days for a daily metric) before the alert fired, to its
    resolution or now."""
    fired = detail.get("fired_at") or detail["started_at"]
    end = detail.get("resolved_at") or now
    before = DAILY_WINDOW if daily else MINUTE_WINDOW
    after = dt.timedelta(days=1) if daily else dt.timedelta(minutes=30)
    return fired - before, min(now, max(end, fired) + after)


# the grid already shows these in their own columns (name, severity)
_SHOWN_ELSEWHERE = frozenset({"alertname", "severity"})


def _own_labels(labels: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in labels.items() if k not in _SHOWN_ELSEWHERE}


def _matching(samples: Sequence[Any], labels: Mapping[str, Any]) -> list[Any]:
    """The samples of the alert's own series (their labels are a part of the alert's)."""
    own = [
        s
        for s in samples
        if all(str(labels.get(k)) == str(v) for k, v in (getattr(s, "labels", None) or {}).items())
    ]
    return own or list(samples)


def metric_figure(
    samples: Sequence[Any],
    *,
    threshold: float | None,
    fired_at: dt.datetime | None,
    resolved_at: dt.datetime | None,
    labels: Mapping[str, Any],
    tz: str,
    y_title: str = "",
) -> dict | go.Figure:
    """The metric around the firing time: its values, the rule's threshold line or the expected
    band, and markers where the alert fired (and resolved). Samples have ``at`` (naive UTC),
    ``value`` and ``expected`` (``low``, ``high``, ``mean``) as in :mod:`bi_app.alerts.sources`."""
    points = sorted(
        (s for s in _matching(samples, labels) if s.value is not None), key=lambda s: s.at
    )
    if not points:
        return empty_figure(_("No data for this metric in this time range"))
    xs = [to_local(s.at, tz) for s in points]
    traces: list[go.BaseTraceType] = []
    banded = [s for s in points if getattr(s, "expected", None) is not None]
    if banded:
        bx = [to_local(s.at, tz) for s in banded]
        traces.append(
            go.Scatter(
                x=bx + bx[::-1],
                y=[s.expected.high for s in banded] + [s.expected.low for s in banded][::-1],
                fill="toself",
                fillcolor="rgba(13,110,253,0.12)",
                line={"width": 0},
                name=_("Expected range"),
                hoverinfo="skip",
            )
        )
        traces.append(
            go.Scatter(
                x=bx,
                y=[s.expected.mean for s in banded],
                mode="lines",
                line={"color": "#6c757d", "dash": "dot", "width": 1},
                name=_("Expected"),
            )
        )
    traces.append(
        go.Scatter(
            x=xs,
            y=[s.value for s in points],
            mode="lines+markers" if len(points) < 60 else "lines",
            line={"color": "#0d6efd", "width": 2},
            marker={"size": 4},
            name=_("Value"),
        )
    )
    fig = go.Figure(traces)
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"color": "#dc3545", "dash": "dash", "width": 1},
            annotation_text=_("Threshold %(value)s", value=format_value(threshold)),
            annotation_position="top left",
        )
    for moment, text, color in (
        (fired_at, _("fired"), "#dc3545"),
        (resolved_at, _("resolved"), "#198754"),
    ):
        if moment is not None:
            x = to_local(moment, tz).isoformat()
            fig.add_vline(x=x, line={"color": color, "width": 1})
            fig.add_annotation(
                x=x, y=1, yref="paper", text=text, showarrow=False, font={"color": color}
            )
    fig.update_layout(
        **base_layout(
            yaxis={"title": {"text": y_title}, "rangemode": "normal", "automargin": True},
            margin={"l": 56, "r": 16, "t": 24, "b": 40},
        )
    )
    return fig


def history_figure(
    per_rule_day: Sequence[tuple[dt.date, str, int]],
    first: dt.date | None = None,
    last: dt.date | None = None,
) -> dict | go.Figure:
    """Stacked bars: alerts fired per rule per (business-local) day; the axis spans the days
    ``first``..``last`` (so one day of alerts is one bar, not the whole width)."""
    if not per_rule_day:
        return empty_figure(_("No alerts fired in this range"))
    by_rule: dict[str, tuple[list[str], list[int]]] = {}
    for day, rule, count in per_rule_day:
        xs, ys = by_rule.setdefault(rule, ([], []))
        xs.append(day.isoformat())
        ys.append(count)
    fig = go.Figure(
        [
            go.Bar(
                x=xs,
                y=ys,
                name=rule,
                width=DAY_MS * 0.8,  # one day per bar, even when one day is all there is
                hovertemplate=rule + ": %{y}<br>%{x}<extra></extra>",
            )
            for rule, (xs, ys) in sorted(by_rule.items())
        ]
    )
    xaxis: dict[str, Any] = {"type": "date", "automargin": True}
    days = [day for day, _rule, _n in per_rule_day]
    first, last = min([first or days[0], *days]), max([last or days[-1], *days])
    half = dt.timedelta(hours=12)
    per_day: dict[dt.date, int] = {}
    for day, _rule, count in per_rule_day:
        per_day[day] = per_day.get(day, 0) + count
    whole = {"dtick": 1} if max(per_day.values()) <= 10 else {}  # counts: no 0.2 ticks
    xaxis["range"] = [
        (dt.datetime.combine(first, dt.time()) - half).isoformat(),
        (dt.datetime.combine(last, dt.time()) + half).isoformat(),
    ]
    fig.update_layout(
        **base_layout(
            barmode="stack",
            bargap=0.2,
            xaxis=xaxis,
            showlegend=True,  # names the rule even when only one fired
            yaxis={"title": {"text": _("alerts per day")}, "rangemode": "tozero", **whole},
        )
    )
    return fig


# --- the detail -------------------------------------------------------------------------------


def _field(label: str, value: Any) -> html.Div:
    return html.Div(
        [
            html.Dt(label, className="col-sm-4 small text-muted"),
            html.Dd(value, className="col-sm-8 text-break"),
        ],
        className="row mb-1",
    )


def severity_badge(severity: str) -> dbc.Badge:
    return dbc.Badge(
        severity_label(severity),
        color=SEVERITY_BADGE.get(severity, "secondary"),
        className=f"alert-severity-badge alert-severity-{severity}",
    )


def event_text(event: Mapping[str, Any]) -> str:
    """What happened, in words; an automatic response says which job and how its run went."""
    label = _(EVENT_LABELS.get(event["kind"], event["kind"]))
    detail = event.get("detail")
    if event["kind"] != "response" or not isinstance(detail, Mapping):
        return label
    status = detail.get("status") or ""
    text = _(
        "response job %(job)s: %(status)s",
        job=detail.get("job") or "?",
        status=_(RUN_STATUS_LABELS.get(status, status)) if status else "–",
    )
    error = str(detail.get("error") or "").strip().splitlines()
    return f"{text} ({error[0][:200]})" if error else text


def events_table(events: Sequence[Mapping[str, Any]], tz: str) -> html.Div | dbc.Table:
    if not events:
        return html.Div(_("No history yet."), className="small text-muted")
    head = html.Thead(
        html.Tr([html.Th(_("Time")), html.Th(_("What")), html.Th(_("Who")), html.Th(_("Comment"))])
    )
    body = html.Tbody(
        [
            html.Tr(
                [
                    html.Td(local_text(event["at"], tz), className="text-nowrap"),
                    html.Td(event_text(event)),
                    html.Td(event.get("actor") or ""),
                    html.Td(event.get("comment") or "", className="alert-event-comment"),
                ]
            )
            for event in reversed(list(events))
        ]
    )
    return dbc.Table(
        [head, body], size="sm", striped=True, className="small mb-0", id=OpsAlerts.EVENTS
    )


def detail_children(
    detail: Mapping[str, Any] | None,
    *,
    figure: Any,
    chart_error: str | None,
    viewer: Viewer,
    now: dt.datetime,
) -> list:
    """The selected alert: summary, severity, state, labels, annotations, rule, recommended
    action, the metric's chart (or why it cannot be drawn) and its history."""
    if detail is None:
        return [html.Div(_("Select an alert to see its details."), className="text-muted small")]
    tz = viewer.timezone
    annotations = dict(detail.get("annotations") or {})
    rule = detail.get("rule") or {}
    summary = annotations.pop("summary", None) or detail["name"]
    action = rule.get("recommended_action") or annotations.pop("recommended_action", None)
    annotations.pop("recommended_action", None)
    fired = detail.get("fired_at") or detail["started_at"]
    rule_part: Any = _("none (an external or system alert)")
    if rule:
        rule_part = (
            dcc.Link(rule["name"], href=f"/ops/alerts/rules?rule={rule['id']}")
            if viewer.may(("admin",))
            else rule["name"]
        )
    fields = [
        _field(_("Severity"), severity_badge(detail["severity"])),
        _field(
            _("State"),
            html.Span(
                state_label(detail["state"], bool(detail.get("silenced"))),
                id=OpsAlerts.DETAIL_STATE,
            ),
        ),
        _field(_("Labels"), format_labels(detail.get("labels") or {}) or "–"),
        _field(_("Value"), format_value(detail.get("value"))),
        _field(
            _("Started"),
            _(
                "%(time)s (%(age)s)",
                time=local_text(detail["started_at"], tz),
                age=format_relative(fired - now),
            ),
        ),
        _field(_("Rule"), rule_part),
    ]
    if detail.get("acknowledged_at"):
        fields.append(
            _field(
                _("Acknowledged"),
                _(
                    "%(time)s by %(who)s",
                    time=local_text(detail["acknowledged_at"], tz),
                    who=detail.get("acknowledged_by") or "–",
                ),
            )
        )
    if detail.get("resolved_at"):
        fields.append(
            _field(
                _("Closed"),
                _(
                    "%(time)s by %(who)s",
                    time=local_text(detail["resolved_at"], tz),
                    who=detail.get("resolved_by") or "–",
                ),
            )
        )
    fields.extend(
        _field(str(key), str(value))
        for key, value in sorted(annotations.items())
        if key not in ("expected",) and value not in (None, "")
    )
    parts: list = [
        html.H3(summary, className="h5 mb-3", id=OpsAlerts.DETAIL_TITLE),
        html.Dl(fields, className="mb-3"),
    ]
    if action:
        parts.append(
            dbc.Alert(
                [html.Div(_("Recommended action"), className="fw-semibold"), html.Div(action)],
                color="info",
                className="py-2 small",
            )
        )
    side: list = []
    if chart_error:
        side.append(dbc.Alert(chart_error, color="warning", className="py-2 small"))
    elif figure is not None:
        side.append(graph(OpsAlerts.METRIC_GRAPH, figure, height=280))
    side.append(html.H4(_("History"), className="h6 mt-3"))
    side.append(events_table(detail.get("events") or [], tz))
    return [
        dbc.Row(
            [dbc.Col(parts, xs=12, lg=5), dbc.Col(side, xs=12, lg=7)],
            className="g-4",
        )
    ]


def actions_panel(can_act: bool) -> html.Div:
    """Comment box and the action buttons; only built for people who may act (the callback
    checks the role again)."""
    if not can_act:
        return html.Div(id=OpsAlerts.ACTIONS, hidden=True)
    return html.Div(
        [
            dbc.Label(_("Comment (optional)"), html_for=OpsAlerts.COMMENT, className="small mb-1"),
            dbc.Textarea(id=OpsAlerts.COMMENT, rows=2, maxLength=2000, className="mb-2"),
            html.Div(
                [
                    dbc.Button(
                        _(label),
                        id=OpsAlerts.action(name),
                        color=color,
                        outline=outline,
                        disabled=True,
                    )
                    for name, label, color, outline in ACTION_BUTTONS
                ],
                className="d-flex flex-wrap gap-2",
            ),
            html.Div(id=OpsAlerts.ACTION_MESSAGE, className="mt-2", role="status"),
        ],
        id=OpsAlerts.ACTIONS,
        hidden=True,
        className="border-top pt-3 mt-3",
    )


def allowed_actions(detail: Mapping[str, Any] | None) -> set[str]:
    """What can be done to an alert in its state (the service checks again): acknowledge a
    firing one, resolve or ignore an open one, comment on any."""
    if detail is None:
        return set()
    state = detail["state"]
    allowed = {"comment"}
    if state == "firing":
        allowed.add("acknowledge")
    if state in OPEN_STATES:
        allowed |= {"resolve", "ignore"}
    return allowed


def action_message(text: str, ok: bool) -> dbc.Alert:
    return dbc.Alert(text, color="success" if ok else "danger", className="py-2 small mb-0")


# --- the history --------------------------------------------------------------------------------


def stat(label: str, value_id: str) -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(label, className="small text-muted"),
                    html.Div("–", id=value_id, className="fs-4 fw-semibold"),
                ]
            ),
            className="shadow-sm h-100",
        ),
        xs=12,
        md=4,
        className="mb-3",
    )


def resolved_table(alerts: Sequence[Mapping[str, Any]], tz: str) -> Any:
    if not alerts:
        return html.Div(_("No alerts were resolved in this range."), className="small text-muted")
    head = html.Thead(
        html.Tr(
            [
                html.Th(_("Severity")),
                html.Th(_("Alert")),
                html.Th(_("Fired")),
                html.Th(_("Resolved")),
                html.Th(_("Took")),
                html.Th(_("By")),
            ]
        )
    )
    rows = []
    for alert in alerts:
        fired = alert.get("fired_at") or alert["started_at"]
        took = (alert["resolved_at"] - fired).total_seconds() if alert.get("resolved_at") else None
        rows.append(
            html.Tr(
                [
                    html.Td(severity_badge(alert["severity"])),
                    html.Td(dcc.Link(alert["name"], href=f"/ops/alerts?alert={alert['id']}")),
                    html.Td(local_text(fired, tz)),
                    html.Td(local_text(alert.get("resolved_at"), tz)),
                    html.Td(format_duration(took)),
                    html.Td(alert.get("resolved_by") or ""),
                ]
            )
        )
    return dbc.Table([head, html.Tbody(rows)], size="sm", striped=True, className="small mb-0")


def history_values(hist: Mapping[str, Any], tz: str, start: dt.datetime, end: dt.datetime) -> tuple:
    """(figure, MTTA text, MTTR text, fired text, recently resolved table) for the range
    ``start``..``end`` (naive UTC)."""
    return (
        history_figure(hist["per_rule_day"], to_local(start, tz).date(), to_local(end, tz).date()),
        format_duration(hist["mtta_seconds"]),
        format_duration(hist["mttr_seconds"]),
        format_number(hist["fired"]),
        resolved_table(hist["recent_resolved"], tz),
    )


# --- the page ---------------------------------------------------------------------------------


def alerts_grid(tz: str) -> dag.AgGrid:
    defs = column_defs(alert_columns(tz), "")
    defs[0]["cellClass"] = {"function": "'alert-sev alert-sev-' + params.data.severity"}
    return dag.AgGrid(
        id=OpsAlerts.GRID,
        columnDefs=defs,
        rowData=[],
        getRowId="params.data.id",
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={
            "pagination": True,
            "paginationPageSize": 20,
            "animateRows": False,
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            **grid_locale(),
        },
        style={"height": "360px"},
    )


def filter_controls(query: AlertQuery) -> dbc.Row:
    def col(label: str, control: Any, control_id: str, md: int) -> dbc.Col:
        return dbc.Col(
            [dbc.Label(label, html_for=control_id, className="small mb-1"), control], md=md
        )

    return dbc.Row(
        [
            col(
                _("Severity"),
                dcc.Dropdown(
                    id=OpsAlerts.SEVERITY,
                    options=[{"label": severity_label(s), "value": s} for s in SEVERITIES],
                    value=list(query.severities),
                    multi=True,
                    placeholder=_("All severities"),
                ),
                OpsAlerts.SEVERITY,
                4,
            ),
            col(
                _("State"),
                dcc.Dropdown(
                    id=OpsAlerts.STATE,
                    options=[{"label": _(v), "value": k} for k, v in STATE_FILTERS.items()],
                    value=list(query.states),
                    multi=True,
                    placeholder=_("Open alerts"),
                ),
                OpsAlerts.STATE,
                5,
            ),
            col(
                _("Time range"),
                dcc.Dropdown(
                    id=OpsAlerts.RANGE,
                    options=[{"label": _(v), "value": k} for k, v in RANGE_LABELS.items()],
                    value=query.range_key,
                    clearable=False,
                ),
                OpsAlerts.RANGE,
                3,
            ),
        ],
        className="g-2 align-items-end mb-3",
    )


def layout(
    query: AlertQuery,
    *,
    viewer: Viewer,
    refresh_ms: int,
    can_act: bool,
    rule_errors: Sequence[Mapping[str, Any]],
    unavailable: str | None = None,
) -> html.Div:
    """The whole page; the grid, the detail and the history are filled by the callbacks."""
    tz = viewer.timezone
    return html.Div(
        [
            tabs("alerts", viewer.role),
            html.H1(_("Alerts"), className="h4 mb-3"),
            dbc.Alert(
                rule_errors_children(rule_errors),
                id=OpsAlerts.RULE_ERRORS,
                color="warning",
                is_open=bool(rule_errors),
                className="py-2 small",
            ),
            html.Div(
                notice_children([unavailable]) if unavailable else [],
                id=OpsAlerts.LIST_MESSAGE,
                className="text-danger small",
            ),
            filter_controls(query),
            notice(query.notices, OpsAlerts.NOTICE),
            dcc.Interval(id=OpsAlerts.INTERVAL, interval=refresh_ms),
            html.Div(id=OpsAlerts.VISIBILITY_DUMMY, hidden=True),
            html.Div(id=OpsAlerts.URL_DUMMY, hidden=True),
            dcc.Store(id=OpsAlerts.SELECTED_STORE, data=query.alert_id),
            dcc.Store(id=OpsAlerts.ACTION_STORE, data=0),
            dbc.Card(
                [
                    dbc.CardHeader(
                        html.Div(
                            [
                                html.H2(_("Alerts"), className="h6 mb-0 me-auto"),
                                html.Span(
                                    id=OpsAlerts.SUMMARY,
                                    className="small text-muted",
                                    role="status",
                                ),
                            ],
                            className="d-flex align-items-center gap-2",
                        )
                    ),
                    dbc.CardBody(alerts_grid(tz)),
                ],
                className="shadow-sm mb-3",
            ),
            dbc.Card(
                [
                    dbc.CardHeader(html.H2(_("Alert detail"), className="h6 mb-0")),
                    dbc.CardBody(
                        [
                            dcc.Loading(
                                html.Div(
                                    detail_children(
                                        None,
                                        figure=None,
                                        chart_error=None,
                                        viewer=viewer,
                                        now=query.end,
                                    ),
                                    id=OpsAlerts.DETAIL,
                                ),
                                type="dot",
                                delay_show=300,
                            ),
                            actions_panel(can_act),
                        ]
                    ),
                ],
                className="shadow-sm mb-3",
            ),
            html.H2(_("History"), className="h5 mt-2 mb-3"),
            dbc.Row(
                [
                    stat(_("Alerts fired"), OpsAlerts.FIRED),
                    stat(_("Mean time to acknowledge"), OpsAlerts.MTTA),
                    stat(_("Mean time to resolve"), OpsAlerts.MTTR),
                ]
            ),
            html.Div(
                chart_card(
                    _("Alerts per rule per day"),
                    graph(OpsAlerts.HISTORY_GRAPH, height=260),
                    message_id=OpsAlerts.HISTORY_MESSAGE,
                ),
                className="mb-3",
            ),
            dbc.Card(
                [
                    dbc.CardHeader(html.H2(_("Recently resolved"), className="h6 mb-0")),
                    dbc.CardBody(html.Div(id=OpsAlerts.RESOLVED_TABLE)),
                ],
                className="shadow-sm mb-3",
            ),
        ],
        id=OpsAlerts.PAGE,
    )
