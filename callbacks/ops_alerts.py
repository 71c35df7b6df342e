"""Callbacks of /ops/alerts: the live list, an alert's detail, the actions and the history."""

from __future__ import annotations

import logging
from typing import Any

from dash import ALL, ClientsideFunction, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.alerts.rules import spec_from_row, threshold_of
from bi_app.data import alerts as alert_data
from bi_app.i18n import N_, _
from bi_app.monitoring.logs_query import utcnow
from bi_app.roles import Action, Page
from bi_app.viewer import current_viewer
from callbacks._registry import callback, clientside_callback
from callbacks.shell import badge_values
from components import fallback
from components import ops_alerts_view as view
from components.ids import App, OpsAlerts

log = logging.getLogger(__name__)
FILTERS = (OpsAlerts.SEVERITY, OpsAlerts.STATE, OpsAlerts.RANGE)
DONE = {
    "acknowledge": N_("Acknowledged."),
    "resolve": N_("Resolved."),
    "ignore": N_("Ignored."),
    "comment": N_("Comment added."),
}


def _query(severities: Any, states: Any, range_key: Any) -> view.AlertQuery:
    raw = {"severity": severities or None, "state": states or None, "range": range_key}
    return view.parse_alert_query(raw, utcnow())


clientside_callback(
    ClientsideFunction("bi", "pauseWhenHidden"),
    Output(OpsAlerts.INTERVAL, "disabled"),
    Input(OpsAlerts.INTERVAL, "id"),
    State(OpsAlerts.VISIBILITY_DUMMY, "id"),
)

# The filters and the selected alert in the URL (shareable, no re-render). Inline: Dash serves it
# with a hash the CSP allows (bi_app.security_headers).
clientside_callback(
    """
    function (severities, states, range, alert) {
        var params = new URLSearchParams(window.location.search);
        var set = function (key, value) {
            if (value === null || value === undefined || value === "" ||
                    (Array.isArray(value) && !value.length)) {
                params.delete(key);
            } else {
                params.set(key, Array.isArray(value) ? value.join(",") : String(value));
            }
        };
        set("severity", severities);
        set("state", states);
        set("range", range);
        set("alert", alert);
        var text = params.toString().replace(/%2C/gi, ",");
        var url = window.location.pathname + (text ? "?" + text : "") + window.location.hash;
        window.history.replaceState(window.history.state, "", url);
        return window.dash_clientside.no_update;
    }
    """,
    Output(OpsAlerts.URL_DUMMY, "children"),
    Input(OpsAlerts.SEVERITY, "value"),
    Input(OpsAlerts.STATE, "value"),
    Input(OpsAlerts.RANGE, "value"),
    Input(OpsAlerts.SELECTED_STORE, "data"),
    prevent_initial_call=True,
)


@callback(
    Output(OpsAlerts.GRID, "rowData"),
    Output(OpsAlerts.SUMMARY, "children"),
    Output(OpsAlerts.RULE_ERRORS, "children"),
    Output(OpsAlerts.RULE_ERRORS, "is_open"),
    Output(OpsAlerts.LIST_MESSAGE, "children"),
    Output(OpsAlerts.NOTICE, "children"),
    Output(OpsAlerts.NOTICE, "is_open"),
    *(Input(i, "value") for i in FILTERS),
    Input(OpsAlerts.INTERVAL, "n_intervals"),
    Input(OpsAlerts.ACTION_STORE, "data"),
    roles=Page.OPS_ALERTS,
    fallback=fallback.each(
        fallback.value(no_update),
        fallback.value(""),
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.message(N_("Alerts")),
        fallback.value(no_update),
        fallback.value(no_update),
    ),
)
def show_alerts(severities, states, range_key, _tick, _acted):
    """The alerts matching the filters (refreshed live), and the rules in an error state."""
    query = _query(severities, states, range_key)
    tz = current_settings().timezone
    notice = (
        (view.notice_children(query.notices), bool(query.notices))
        if ctx.triggered_id in FILTERS
        else (no_update, no_update)
    )
    alerts = alert_data.list_alerts(
        query.severities or None, query.alert_states, query.start, query.end
    )
    errors = alert_data.rules_in_error()
    rows = view.alert_rows(alerts, utcnow(), tz)
    return (
        rows,
        view.summary_text(rows, alert_data.DEFAULT_LIMIT),
        view.rule_errors_children(errors),
        bool(errors),
        None,
        *notice,
    )


@callback(
    Output(OpsAlerts.SELECTED_STORE, "data"),
    Input(OpsAlerts.GRID, "cellClicked"),
    roles=Page.OPS_ALERTS,
    prevent_initial_call=True,
)
def select_alert(cell):
    """Clicking a row opens that alert's detail."""
    row_id = (cell or {}).get("rowId")
    if row_id is None or not str(row_id).isdigit():
        raise PreventUpdate
    return int(row_id)


def _is_daily(kind: str, metric: str) -> bool:
    """Business metrics are per day (a 30-day chart); the rest per minute or hour (6 hours)."""
    return kind == "business" or metric.endswith("_day")


def _metric_title(kind: str, metric: str) -> str:
    from bi_app.alerts.sources import HEALTH_LABEL, METRICS

    if kind == "health":
        return _(HEALTH_LABEL)
    info = METRICS.get(metric)
    return _(info.label) if info is not None else metric


def metric_chart(detail: dict, now) -> tuple[Any, str | None]:
    """The figure of the alert's metric, or the readable reason it cannot be drawn."""
    rule = detail.get("rule")
    if not rule:
        return None, None
    from bi_app.alerts.sources import SourceError

    start, end = view.series_window(detail, _is_daily(rule["kind"], rule["metric"]), now)
    try:
        samples = alert_data.metric_series(rule["kind"], rule["metric"], rule["params"], start, end)
    except SourceError as exc:
        return None, str(exc)
    try:
        threshold = threshold_of(spec_from_row(rule))
    except Exception:  # a rule saved by an older version: draw without the line
        log.warning("no threshold for rule %s", rule.get("id"), exc_info=True)
        threshold = None
    figure = view.metric_figure(
        samples,
        threshold=threshold,
        fired_at=detail.get("fired_at"),
        resolved_at=detail.get("resolved_at"),
        labels=detail.get("labels") or {},
        tz=current_settings().timezone,
        y_title=_metric_title(rule["kind"], rule["metric"]),
    )
    return figure, None


@callback(
    Output(OpsAlerts.DETAIL, "children"),
    Output(OpsAlerts.ACTIONS, "hidden"),
    Output(OpsAlerts.action(ALL), "disabled"),
    Input(OpsAlerts.SELECTED_STORE, "data"),
    Input(OpsAlerts.ACTION_STORE, "data"),
    roles=Page.OPS_ALERTS,
    fallback=fallback.each(
        fallback.message(N_("The alert's detail")), fallback.value(True), fallback.value(no_update)
    ),
)
def show_detail(alert_id, _acted):
    """The selected alert: what it is, its metric around the firing time, its history; the
    action buttons that fit its state (a viewer's page has none)."""
    viewer, now = current_viewer(), utcnow()
    buttons = [item["id"]["action"] for item in ctx.outputs_list[2]]
    detail = alert_data.alert_detail(int(alert_id)) if alert_id is not None else None
    if alert_id is not None and detail is None:
        missing = view.action_message(_("There is no alert %(id)s.", id=alert_id), False)
        return [missing], True, [True] * len(buttons)
    figure, error = metric_chart(detail, now) if detail else (None, None)
    children = view.detail_children(
        detail, figure=figure, chart_error=error, viewer=viewer, now=now
    )
    allowed = view.allowed_actions(detail)
    return children, detail is None, [name not in allowed for name in buttons]


@callback(
    Output(OpsAlerts.ACTION_MESSAGE, "children"),
    Output(OpsAlerts.ACTION_STORE, "data"),
    Output(OpsAlerts.COMMENT, "value"),
    Output(App.ALERT_BADGE, "hidden", allow_duplicate=True),
    Output(App.ALERT_BADGE_COUNT, "children", allow_duplicate=True),
    Input(OpsAlerts.action(ALL), "n_clicks"),
    State(OpsAlerts.SELECTED_STORE, "data"),
    State(OpsAlerts.COMMENT, "value"),
    State(OpsAlerts.ACTION_STORE, "data"),
    roles=Action.ACT_ON_ALERTS,
    prevent_initial_call=True,
    fallback=fallback.each(
        fallback.message(N_("Alert actions")),
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.value(no_update),
        fallback.value(no_update),
    ),
)
def act(clicks, alert_id, comment, acted):
    """Acknowledge, resolve, ignore or comment on the selected alert (audited by the service);
    the list, the detail and the badge refresh after it."""
    from bi_app.alerts import lifecycle
    from bi_app.auth.context import request_user

    action = (ctx.triggered_id or {}).get("action")
    if action not in DONE or alert_id is None or not any(clicks or ()):
        raise PreventUpdate
    try:
        getattr(lifecycle, action)(int(alert_id), request_user(), comment or None)
    except lifecycle.AlertActionError as exc:
        return view.action_message(str(exc), False), (acted or 0) + 1, no_update, *badge_values()
    alert_data.forget_badge_count()
    return view.action_message(_(DONE[action]), True), (acted or 0) + 1, "", *badge_values()


@callback(
    Output(OpsAlerts.HISTORY_GRAPH, "figure"),
    Output(OpsAlerts.MTTA, "children"),
    Output(OpsAlerts.MTTR, "children"),
    Output(OpsAlerts.FIRED, "children"),
    Output(OpsAlerts.RESOLVED_TABLE, "children"),
    Output(OpsAlerts.HISTORY_MESSAGE, "children"),
    Input(OpsAlerts.RANGE, "value"),
    Input(OpsAlerts.ACTION_STORE, "data"),
    roles=Page.OPS_ALERTS,
    fallback=fallback.each(
        fallback.figure(N_("The alert history")),
        fallback.value("–"),
        fallback.value("–"),
        fallback.value("–"),
        fallback.value(None),
        fallback.message(N_("The alert history")),
    ),
)
def show_history(range_key, _acted):
    """Alerts per rule per day over the range, mean times to acknowledge and to resolve, and the
    recently resolved alerts."""
    query = _query(None, None, range_key)
    hist = alert_data.history(query.start, query.end)
    tz = current_settings().timezone
    return (*view.history_values(hist, tz, query.start, query.end), None)
