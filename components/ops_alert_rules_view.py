"""Builders of /ops/alerts/rules: the rules grid, the editor form (fields per rule type), the
backtest chart and its summary. Data in, components and figures out; no service calls here.

Names, labels and messages come from admins: everything is shown as plain text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.alerts.rules import (
    KIND_LABELS,
    OPERATORS,
    SEVERITY_LABELS,
    format_labels,
)
from bi_app.db.alert_models import RULE_KINDS, SEVERITIES
from bi_app.i18n import N_, _, ngettext
from components.chart_card import graph
from components.data_grid import GridColumn, column_defs, grid_locale
from components.figures import base_layout, empty_figure, figure, iso_times
from components.format import plain_label, to_local
from components.ids import OpsAlertRules as Ids
from components.notice import confirm_delete_modal

# the form's fields, in the order the callbacks read them
FIELDS = (
    "name",
    "description",
    "kind",
    "metric",
    "operator",
    "threshold",
    "window_minutes",
    "day",
    "runs",
    "status",
    "k",
    "weeks",
    "direction",
    "severity",
    "labels",
    "for_minutes",
    "cooldown_minutes",
    "targets",
    "escalation_minutes",
    "escalation_targets",
    "response_job",
    "recommended_action",
    "enabled",
)
# the params each rule type reads from the form
KIND_PARAMS = {
    "threshold": ("operator", "threshold", "window_minutes"),
    "business": ("operator", "threshold", "day"),
    "health": ("runs", "status"),
    "deviation": ("k", "weeks", "direction", "day"),
}
# groups of fields shown only for some rule types
SECTIONS = {
    "compare": ("threshold", "business"),
    "window": ("threshold",),
    "day": ("business", "deviation"),
    "health": ("health",),
    "deviation": ("deviation",),
}
# a validation error's field (the service's name) -> the form field that shows it
ERROR_FIELDS = {
    "for_seconds": "for_minutes",
    "cooldown_seconds": "cooldown_minutes",
    "params": "kind",
}
DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "kind": "threshold",
    "metric": None,
    "operator": ">",
    "threshold": None,
    "window_minutes": 5,
    "day": "yesterday",
    "runs": 2,
    "status": "unhealthy",
    "k": 3,
    "weeks": 8,
    "direction": "both",
    "severity": "warning",
    "labels": "",
    "for_minutes": 0,
    "cooldown_minutes": 15,
    "targets": [],
    "escalation_minutes": None,
    "escalation_targets": [],
    "response_job": None,
    "recommended_action": "",
    "enabled": True,
}
DIRECTION_LABELS = {
    "below": N_("below the band"),
    "above": N_("above the band"),
    "both": N_("either side"),
}
DAY_LABELS = {"yesterday": N_("yesterday (complete day)"), "today": N_("today so far")}
HEALTH_STATUS_LABELS = {"unhealthy": N_("unhealthy"), "degraded": N_("degraded or worse")}
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}
FIRED_COLOR = "#dc3545"
MAX_LEGEND_SERIES = 6
LINE_COLOR = "#0d6efd"
BAND_COLOR = "rgba(13, 110, 253, 0.15)"


# --- grid --------------------------------------------------------------------------------------


def rule_columns() -> list[GridColumn]:
    return [
        GridColumn("name", N_("Name"), "text", width=230, pinned="left"),
        GridColumn("kind", N_("Type"), "text"),
        GridColumn("metric", N_("Metric or check"), "text", width=170),
        GridColumn("severity", N_("Severity"), "text", width=110),
        GridColumn("enabled", N_("Enabled"), "text", width=100),
        GridColumn("status", N_("Status"), "text"),
        GridColumn("open_alerts", N_("Open alerts"), "int", width=140),
    ]


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return _(label) if label else str(kind)


def severity_label(severity: str) -> str:
    label = SEVERITY_LABELS.get(severity)
    return _(label) if label else str(severity)


def rule_rows(rules: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Grid rows: labels in the request's language, the last evaluation error beside "error"."""
    rows = []
    for rule in rules:
        error = rule.get("status") == "error"
        status = _("ok") if not error else _("error")
        if error and rule.get("last_error"):
            status = f"{status}: {rule['last_error']}"
        rows.append(
            {
                "id": rule["id"],
                "name": rule.get("display_name") or rule.get("name") or "",
                "kind": kind_label(str(rule.get("kind"))),
                "metric": rule.get("metric") or "",
                "severity": severity_label(str(rule.get("severity"))),
                "enabled": _("yes") if rule.get("enabled") else _("no"),
                "status": status,
                "open_alerts": int(rule.get("open_alerts") or 0),
            }
        )
    return rows


def rules_grid(rows: list[dict[str, Any]]) -> dag.AgGrid:
    return dag.AgGrid(
        id=Ids.GRID,
        columnDefs=column_defs(rule_columns(), "EUR"),
        rowData=rows,
        getRowId="params.data.id",
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={
            "rowSelection": {
                "mode": "singleRow",
                "checkboxes": False,
                "enableClickSelection": True,
            },
            "animateRows": False,
            "enableCellTextSelection": True,
            "ensureDomOrder": True,
            "domLayout": "autoHeight",
            **grid_locale(),
        },
        className="ops-alert-rules-grid",
        style={"width": "100%"},
    )


# --- form --------------------------------------------------------------------------------------


UNIT_LABELS = {"percent": "%", "ms": "ms", "count": N_("count"), "money": N_("amount")}


def unit_label(unit: str | None) -> str:
    label = UNIT_LABELS.get(unit or "")
    if label is None:
        return str(unit or "")
    return label if label in ("%", "ms") else _(label)


def metric_options(
    kind: str, metrics: Mapping[str, Any], checks: Mapping[str, str] | Iterable[str]
) -> list[dict[str, str]]:
    """The metrics (or, for service health, the checks) a rule of ``kind`` can watch; labels
    are N_-marked msgids, shown translated."""
    if kind == "health":
        named = checks.items() if isinstance(checks, Mapping) else ((c, c) for c in checks)
        return [{"label": _(label) if label else name, "value": name} for name, label in named]
    options = []
    for name, info in metrics.items():
        if kind not in getattr(info, "kinds", ()):
            continue
        label = _(info.label) if getattr(info, "label", None) else name
        unit = unit_label(getattr(info, "unit", ""))
        options.append({"label": f"{label} ({unit})" if unit else label, "value": name})
    return options


def kind_view(
    kind: str | None, metrics: Mapping[str, Any], checks: Mapping[str, str] | Iterable[str]
) -> tuple[list[dict], list[dict[str, str]], str]:
    """For a chosen rule type: the style of each section (in :data:`SECTIONS` order), the
    metric dropdown's options and its label."""
    kind = kind if kind in RULE_KINDS else "threshold"
    styles = [SHOWN if kind in kinds else HIDDEN for kinds in SECTIONS.values()]
    label = _("Health check") if kind == "health" else _("Metric")
    return styles, metric_options(kind, metrics, checks), label


def _minutes(seconds: object) -> float | int | None:
    if seconds in (None, ""):
        return None
    value = float(seconds) / 60  # type: ignore[arg-type]
    return int(value) if value == int(value) else round(value, 2)


def form_values(rule: Mapping[str, Any] | None) -> dict[str, Any]:
    """The form's values for a stored rule (None: a new rule's defaults)."""
    values = dict(DEFAULTS)
    if rule is None:
        return values
    params = dict(rule.get("params") or {})
    for key in ("operator", "threshold", "window_minutes", "day", "runs", "status", "k", "weeks"):
        if params.get(key) is not None:
            values[key] = params[key]
    if params.get("direction"):
        values["direction"] = params["direction"]
    values.update(
        name=rule.get("name") or "",
        description=rule.get("description") or "",
        kind=rule.get("kind") or "threshold",
        metric=rule.get("metric"),
        severity=rule.get("severity") or "warning",
        labels=format_labels(rule.get("labels") or {}),
        for_minutes=_minutes(rule.get("for_seconds")) or 0,
        cooldown_minutes=_minutes(rule.get("cooldown_seconds")) or 0,
        targets=list(rule.get("targets") or []),
        escalation_minutes=rule.get("escalation_minutes"),
        escalation_targets=list(rule.get("escalation_targets") or []),
        response_job=rule.get("response_job"),
        recommended_action=rule.get("recommended_action") or "",
        enabled=bool(rule.get("enabled", True)),
    )
    return values


def _seconds(minutes: object) -> object:
    """Minutes typed in the form as seconds for the service (other input passes through, so
    the service names what is wrong)."""
    if minutes in (None, ""):
        return None
    try:
        return round(float(minutes) * 60)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return minutes


def _blank_none(value: object) -> object:
    return None if value in (None, "") else value


def raw_rule(form: Mapping[str, Any], *, backtest: bool = False) -> dict[str, Any]:
    """The service's raw rule from the form's values (only the chosen type's params). A
    backtest needs no name yet: an unnamed rule is tried as "backtest"."""
    kind = form.get("kind")
    params = {key: _blank_none(form.get(key)) for key in KIND_PARAMS.get(str(kind), ())}
    name = str(form.get("name") or "").strip()
    return {
        "name": name or ("backtest" if backtest else ""),
        "description": form.get("description") or "",
        "kind": kind,
        "metric": form.get("metric") or "",
        "params": params,
        "severity": form.get("severity"),
        "labels": form.get("labels") or "",
        "for_seconds": _seconds(form.get("for_minutes")),
        "cooldown_seconds": _seconds(form.get("cooldown_minutes")),
        "targets": list(form.get("targets") or []),
        "escalation_minutes": _blank_none(form.get("escalation_minutes")),
        "escalation_targets": list(form.get("escalation_targets") or []),
        "response_job": _blank_none(form.get("response_job")),
        "recommended_action": form.get("recommended_action") or "",
        "enabled": bool(form.get("enabled")),
    }


def field_feedback(
    error_field: str | None, message: str, fields: Sequence[str]
) -> tuple[list[bool], list[str]]:
    """Per form field (in order): whether it is invalid, and its message."""
    bad = ERROR_FIELDS.get(error_field or "", error_field)
    if bad not in fields and error_field is not None:
        bad = "name"  # a field the form does not show: say it at the top of the form
    return [f == bad for f in fields], [message if f == bad else "" for f in fields]


def _feedback(name: str) -> html.Div:
    return html.Div(id=Ids.feedback(name), className="invalid-feedback d-block")


def _labelled(name: str, label: Any, control: Any, md: int = 3, help_text: str = "") -> dbc.Col:
    children = [
        dbc.Label(label, className="small mb-1"),
        control,
        _feedback(name),
    ]
    if help_text:
        children.append(dbc.FormText(help_text, className="small"))
    return dbc.Col(children, md=md, className="mb-2")


def _input(name: str, values: Mapping[str, Any], **kwargs: Any) -> dbc.Input:
    return dbc.Input(id=Ids.field(name), value=values.get(name), invalid=False, size="sm", **kwargs)


def _dropdown(name: str, values: Mapping[str, Any], options: list, **kwargs: Any) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=Ids.field(name), options=options, value=values.get(name), className="small", **kwargs
    )


def _options(labels: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"label": _(label), "value": key} for key, label in labels.items()]


def _section(key: str, kind: str, children: list) -> html.Div:
    return html.Div(
        dbc.Row(children),
        id=Ids.section(key),
        style=SHOWN if kind in SECTIONS[key] else HIDDEN,
    )


def rule_form(
    values: Mapping[str, Any],
    *,
    metrics: Mapping[str, Any],
    checks: Iterable[Any],
    channels: Sequence[str],
    jobs: Sequence[str],
    title: str,
) -> dbc.Card:
    """The editor, filled with ``values`` (see :func:`form_values`)."""
    kind = values.get("kind") or "threshold"
    _styles, metric_opts, metric_label = kind_view(kind, metrics, checks)
    channel_opts = sorted(set(channels) | set(values.get("targets") or ()))
    escalation_opts = sorted(set(channels) | set(values.get("escalation_targets") or ()))
    job_opts = sorted(
        set(jobs) | ({values["response_job"]} if values.get("response_job") else set())
    )
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2(title, id=Ids.FORM_TITLE, className="h6"),
                dbc.Alert(id=Ids.FORM_MESSAGE, is_open=False, className="py-2 small"),
                dbc.Row(
                    [
                        _labelled(
                            "name", _("Name"), _input("name", values, type="text", maxLength=100), 4
                        ),
                        _labelled(
                            "kind",
                            _("Type"),
                            _dropdown("kind", values, _options(KIND_LABELS), clearable=False),
                            4,
                        ),
                        _labelled(
                            "metric",
                            html.Span(metric_label, id=Ids.METRIC_LABEL),
                            _dropdown("metric", values, metric_opts, clearable=False),
                            4,
                        ),
                    ]
                ),
                _section(
                    "compare",
                    kind,
                    [
                        _labelled(
                            "operator",
                            _("Comparison"),
                            _dropdown(
                                "operator",
                                values,
                                [{"label": op, "value": op} for op in OPERATORS],
                                clearable=False,
                            ),
                            2,
                        ),
                        _labelled(
                            "threshold",
                            _("Value"),
                            _input("threshold", values, type="number", step="any"),
                            3,
                        ),
                    ],
                ),
                _section(
                    "window",
                    kind,
                    [
                        _labelled(
                            "window_minutes",
                            _("Window (minutes)"),
                            _input("window_minutes", values, type="number", min=1, step=1),
                            3,
                            _("the value is read over this many recent minutes"),
                        )
                    ],
                ),
                _section(
                    "day",
                    kind,
                    [
                        _labelled(
                            "day",
                            _("Day"),
                            _dropdown("day", values, _options(DAY_LABELS), clearable=False),
                            3,
                        )
                    ],
                ),
                _section(
                    "health",
                    kind,
                    [
                        _labelled(
                            "runs",
                            _("Consecutive runs"),
                            _input("runs", values, type="number", min=1, max=100, step=1),
                            3,
                        ),
                        _labelled(
                            "status",
                            _("Counts as failing"),
                            _dropdown(
                                "status", values, _options(HEALTH_STATUS_LABELS), clearable=False
                            ),
                            3,
                        ),
                    ],
                ),
                _section(
                    "deviation",
                    kind,
                    [
                        _labelled(
                            "k",
                            _("Standard deviations (k)"),
                            _input("k", values, type="number", min=0.5, max=10, step=0.5),
                            3,
                        ),
                        _labelled(
                            "weeks",
                            _("Weeks of history"),
                            _input("weeks", values, type="number", min=3, max=52, step=1),
                            3,
                            _("the same weekday in each of these weeks makes the baseline"),
                        ),
                        _labelled(
                            "direction",
                            _("Fire when the value is"),
                            _dropdown(
                                "direction", values, _options(DIRECTION_LABELS), clearable=False
                            ),
                            3,
                        ),
                    ],
                ),
                dbc.Row(
                    [
                        _labelled(
                            "severity",
                            _("Severity"),
                            _dropdown(
                                "severity",
                                values,
                                [{"label": severity_label(s), "value": s} for s in SEVERITIES],
                                clearable=False,
                            ),
                            3,
                        ),
                        _labelled(
                            "for_minutes",
                            _("For (minutes)"),
                            _input("for_minutes", values, type="number", min=0, step="any"),
                            3,
                            _("the condition must hold this long before the alert fires"),
                        ),
                        _labelled(
                            "cooldown_minutes",
                            _("Cooldown (minutes)"),
                            _input("cooldown_minutes", values, type="number", min=0, step="any"),
                            3,
                            _("no new alert this soon after the last one resolved"),
                        ),
                        _labelled(
                            "enabled",
                            _("Enabled"),
                            dbc.Switch(
                                id=Ids.field("enabled"),
                                value=bool(values.get("enabled")),
                                label=_("evaluate this rule"),
                            ),
                            3,
                        ),
                    ]
                ),
                dbc.Row(
                    [
                        _labelled(
                            "labels",
                            _("Labels"),
                            _input(
                                "labels",
                                values,
                                type="text",
                                maxLength=2000,
                                placeholder=_("e.g. %(example)s", example="team=ops, area=web"),
                            ),
                            6,
                        ),
                        _labelled(
                            "targets",
                            _("Notify"),
                            _dropdown(
                                "targets",
                                values,
                                channel_opts,
                                multi=True,
                                placeholder=_("every channel routed for the severity"),
                            ),
                            6,
                        ),
                    ]
                ),
                dbc.Row(
                    [
                        _labelled(
                            "escalation_minutes",
                            _("Escalate after (minutes)"),
                            _input("escalation_minutes", values, type="number", min=1, step=1),
                            3,
                            _("empty: no escalation"),
                        ),
                        _labelled(
                            "escalation_targets",
                            _("Escalate to"),
                            _dropdown("escalation_targets", values, escalation_opts, multi=True),
                            4,
                        ),
                        _labelled(
                            "response_job",
                            _("Automatic response (job)"),
                            _dropdown(
                                "response_job",
                                values,
                                job_opts,
                                clearable=True,
                                placeholder=_("none"),
                            ),
                            5,
                            _("runs once when the alert fires; its result is recorded"),
                        ),
                    ]
                ),
                dbc.Row(
                    [
                        _labelled(
                            "description",
                            _("Description"),
                            dbc.Textarea(
                                id=Ids.field("description"),
                                value=values.get("description"),
                                maxLength=2000,
                                rows=2,
                                invalid=False,
                                className="form-control-sm",
                            ),
                            6,
                        ),
                        _labelled(
                            "recommended_action",
                            _("Recommended action"),
                            dbc.Textarea(
                                id=Ids.field("recommended_action"),
                                value=values.get("recommended_action"),
                                maxLength=2000,
                                rows=2,
                                invalid=False,
                                className="form-control-sm",
                            ),
                            6,
                        ),
                    ]
                ),
                html.Div(
                    [
                        dbc.Button(
                            _("Backtest"), id=Ids.BACKTEST, color="secondary", size="sm", n_clicks=0
                        ),
                        dbc.Button(_("Save"), id=Ids.SAVE, color="primary", size="sm", n_clicks=0),
                        dbc.Button(
                            _("Delete"),
                            id=Ids.DELETE,
                            color="danger",
                            outline=True,
                            size="sm",
                            n_clicks=0,
                        ),
                    ],
                    className="d-flex gap-2 mt-2",
                ),
            ]
        ),
        className="mb-3",
    )


# --- backtest ----------------------------------------------------------------------------------


def _point(item: Any) -> tuple[dt.datetime, Any, Any, Any, str]:
    if isinstance(item, Mapping):
        return (
            item["at"],
            item.get("value"),
            item.get("low"),
            item.get("high"),
            str(item.get("series") or ""),
        )
    at, value, low, high = (tuple(item) + (None, None, None))[:4]
    return at, value, low, high, ""


def backtest_figure(result: Mapping[str, Any], tz: str) -> dict:
    """The metric over the backtest's days (a line per labelled series), the threshold line or
    the expected band, and a marker at each moment the rule would have fired."""
    if result.get("error"):
        return empty_figure(str(result["error"]))
    points = [_point(p) for p in result.get("series") or ()]
    if all(p[1] is None for p in points):
        return empty_figure(_("No data for this metric in the last 30 days."))
    points.sort(key=lambda p: p[0])
    times = iso_times([to_local(p[0], tz) for p in points])
    unit = plain_label(unit_label(result.get("unit")))
    traces: list[dict] = []
    banded = [p for p in points if p[2] is not None and p[3] is not None]
    if banded:
        band_times = iso_times([to_local(p[0], tz) for p in banded])
        traces.append(
            {
                "type": "scatter",
                "x": band_times,
                "y": [p[2] for p in banded],
                "mode": "lines",
                "line": {"width": 0},
                "hoverinfo": "skip",
                "showlegend": False,
            }
        )
        traces.append(
            {
                "type": "scatter",
                "x": band_times,
                "y": [p[3] for p in banded],
                "mode": "lines",
                "line": {"width": 0},
                "fill": "tonexty",
                "fillcolor": BAND_COLOR,
                "name": _("Expected band"),
                "hoverinfo": "skip",
            }
        )
    series: dict[str, list[tuple]] = {}
    for point in points:
        series.setdefault(point[4], []).append(point)
    many = len(series) > MAX_LEGEND_SERIES  # one line per event or host: no legend for each
    for number, (key, members) in enumerate(sorted(series.items())):
        traces.append(
            {
                "showlegend": not many or number == 0,
                "type": "scatter",
                "x": iso_times([to_local(p[0], tz) for p in members]),
                "y": [p[1] for p in members],
                "mode": "lines",
                "line": {"color": LINE_COLOR, "width": 1.5} if number == 0 else {"width": 1.5},
                "name": _("Value") if many or not key else plain_label(key),
                "hovertemplate": "%{x}<br>%{y} " + unit + "<extra></extra>",
            }
        )
    threshold = result.get("threshold")
    if threshold is not None:
        traces.append(
            {
                "type": "scatter",
                "x": [times[0], times[-1]],
                "y": [threshold, threshold],
                "mode": "lines",
                "line": {"color": "#6c757d", "dash": "dash", "width": 1},
                "name": _("Threshold"),
                "hoverinfo": "skip",
            }
        )
    by_time: dict[dt.datetime, Any] = {}
    for point in points:
        by_time.setdefault(point[0], point[1])
    fired = sorted(result.get("fired_30d") or ())
    if fired:
        traces.append(
            {
                "type": "scatter",
                "x": iso_times([to_local(at, tz) for at in fired]),
                "y": [by_time.get(at, threshold) for at in fired],
                "mode": "markers",
                "marker": {"color": FIRED_COLOR, "size": 10, "symbol": "x"},
                "name": _("Would have fired"),
                "hovertemplate": "%{x}<extra></extra>",
            }
        )
    layout = base_layout(
        yaxis={
            "title": {"text": unit},
            "automargin": True,
            "gridcolor": "rgba(128, 128, 128, 0.22)",
            "zeroline": False,
        },
        margin={"l": 56, "r": 16, "t": 16, "b": 56},
        showlegend=True,
    )
    return figure(traces, layout)


def backtest_summary(result: Mapping[str, Any]) -> str:
    """ "This rule would have fired N times in the last 7 days and M times in the last 30 days."""
    if result.get("error"):
        return _("Backtest not possible: %(error)s", error=result["error"])
    week = len(result.get("fired_7d") or ())
    month = len(result.get("fired_30d") or ())
    return _(
        "This rule would have fired %(week)s and %(month)s.",
        week=ngettext("%(num)s time in the last 7 days", "%(num)s times in the last 7 days", week),
        month=ngettext(
            "%(num)s time in the last 30 days", "%(num)s times in the last 30 days", month
        ),
    )


def backtest_card() -> dbc.Card:
    return dbc.Card(
        [
            dbc.CardHeader(html.H2(_("Backtest"), className="h6 mb-0")),
            dbc.CardBody(
                [
                    html.P(
                        _(
                            "Runs the rule as typed over the last 30 days of its metric, "
                            "without saving it."
                        ),
                        id=Ids.BACKTEST_TEXT,
                        className="small mb-2",
                        role="status",
                    ),
                    dcc.Loading(graph(Ids.BACKTEST_GRAPH, empty_figure(""), height=300)),
                ]
            ),
        ],
        className="mb-3",
    )


def delete_modal() -> dbc.Modal:
    return confirm_delete_modal(_("Delete rule?"), Ids)


def delete_question(name: str) -> str:
    return _(
        "Delete the rule %(name)s? Its past alerts stay in the history.",
        name=name,
    )


def form_title(rule: Mapping[str, Any] | None) -> str:
    if rule is None:
        return _("New rule")
    return _("Edit rule %(name)s", name=rule.get("name") or "")


def layout(
    *,
    nav: Any,
    rules: Sequence[Mapping[str, Any]],
    selected: Mapping[str, Any] | None,
    metrics: Mapping[str, Any],
    checks: Iterable[Any],
    channels: Sequence[str],
    jobs: Sequence[str],
    notices: Sequence[str] = (),
    schedule: str = "",
) -> html.Div:
    """The whole page; ``selected`` (from ``?rule=<id>``) opens in the editor; ``schedule`` says
    how often the rules are evaluated ("every minute")."""
    return html.Div(
        [
            nav,
            html.Div(
                [
                    html.H1(_("Alert rules"), className="app-page-title h4 mb-0 me-auto"),
                    dbc.Button(_("New rule"), id=Ids.NEW, color="primary", outline=True, size="sm"),
                ],
                className="d-flex align-items-center gap-2 mb-2",
            ),
            html.P(
                _(
                    "Rules are checked %(schedule)s. Select a rule in the list to edit it; "
                    "run a backtest before saving to see how often it would have fired.",
                    schedule=schedule,
                ),
                className="text-body-secondary small",
            ),
            dbc.Alert(
                [html.Div(n) for n in notices],
                id=Ids.MESSAGE,
                is_open=bool(notices),
                color="warning",
                dismissable=True,
                className="py-2 small",
            ),
            html.Div(rules_grid(rule_rows(rules)), className="mb-3"),
            rule_form(
                form_values(selected),
                metrics=metrics,
                checks=checks,
                channels=channels,
                jobs=jobs,
                title=form_title(selected),
            ),
            backtest_card(),
            delete_modal(),
            dcc.Store(id=Ids.EDIT_STORE, data=selected.get("id") if selected else None),
            dcc.Store(id=Ids.VERSION_STORE, data=0),
        ],
        id=Ids.PAGE,
        className="app-page ops-alert-rules",
    )
