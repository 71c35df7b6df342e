"""Shell behaviour: theme switch, active link, filters carried by the sidebar (clientside), the
header's "Export this page as PDF" link that follows the URL (clientside), and the header's badge
of open critical alerts (a cheap server count, refreshed live)."""

from dash import ALL, ClientsideFunction, Input, Output, State

from bi_app.data import alerts as alert_data
from bi_app.errors import ServiceUnavailable
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components import fallback
from components.ids import App, FilterBar, Nav, Treasury
from components.shell import alert_badge_values

clientside_callback(
    ClientsideFunction("bi", "theme"),
    Output(App.THEME_STORE, "data"),
    Output(App.THEME_SWITCH, "value"),
    Input(App.THEME_SWITCH, "value"),
    Input(App.THEME_STORE, "data"),
)

clientside_callback(
    ClientsideFunction("bi", "navActive"),
    Output(Nav.link(ALL, ALL), "active"),
    Input(App.URL, "pathname"),
    State(Nav.link(ALL, ALL), "id"),
)

clientside_callback(
    ClientsideFunction("bi", "navHrefs"),
    Output(Nav.link(ALL, "business"), "href"),
    Input(FilterBar.STATE_STORE, "data"),
    State(Nav.link(ALL, "business"), "id"),
)

# The export link follows the URL: on navigation (App.URL), when the global filter bar rewrites
# the query string (history.replaceState, which dcc.Location does not see: its store carries the
# new filters) and when the treasury window changes. Each reads the page's own query string so
# its other parameters stay; the store lists the pages the user may export (server-side roles).
_EXPORT_JS = """
function (%(args)s) {
    var targets = %(targets)s || {};
    var path = window.location.pathname;
    var here = path && path.length > 1 ? path.replace(/\\/+$/, "") : (path || "/");
    var href = targets[here];
    if (!href) { return %(none)s; }
    var params = new URLSearchParams(window.location.search);
    %(update)s
    var text = params.toString().replace(/%%2C/gi, ",");
    return %(result)s;
}
"""
_FILTER_KEYS = '["start", "end", "platform", "category", "preset"]'

clientside_callback(
    _EXPORT_JS
    % {
        "args": "pathname, search, targets",
        "targets": "targets",
        "none": '["", true]',
        "update": "",
        "result": '[href + (text ? "?" + text : ""), false]',
    },
    Output(App.EXPORT_PDF_LINK, "href"),
    Output(App.EXPORT_PDF_LINK, "hidden"),
    Input(App.URL, "pathname"),
    Input(App.URL, "search"),
    State(App.EXPORT_PDF_STORE, "data"),
)

clientside_callback(
    _EXPORT_JS
    % {
        "args": "carried, targets",
        "targets": "targets",
        "none": "window.dash_clientside.no_update",
        "update": _FILTER_KEYS
        + ".forEach(function (k) { params.delete(k); });"
        + ' new URLSearchParams(carried || "").forEach(function (v, k) { params.set(k, v); });',
        "result": 'href + (text ? "?" + text : "")',
    },
    Output(App.EXPORT_PDF_LINK, "href", allow_duplicate=True),
    Input(FilterBar.STATE_STORE, "data"),
    State(App.EXPORT_PDF_STORE, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    _EXPORT_JS
    % {
        "args": "start, end, targets",
        "targets": "targets",
        "none": "window.dash_clientside.no_update",
        "update": 'if (start) { params.set("start", String(start).slice(0, 10)); }'
        + ' if (end) { params.set("end", String(end).slice(0, 10)); }',
        "result": 'href + (text ? "?" + text : "")',
    },
    Output(App.EXPORT_PDF_LINK, "href", allow_duplicate=True),
    Input(Treasury.DATE_RANGE, "start_date"),
    Input(Treasury.DATE_RANGE, "end_date"),
    State(App.EXPORT_PDF_STORE, "data"),
    prevent_initial_call=True,
)

clientside_callback(
    ClientsideFunction("bi", "pauseWhenHidden"),
    Output(App.ALERT_INTERVAL, "disabled"),
    Input(App.ALERT_INTERVAL, "id"),
    State(App.ALERT_BADGE, "id"),
)


def badge_values() -> tuple[bool, str]:
    """(hidden, text) of the header's alert badge; hidden when the alerts cannot be read."""
    try:
        return alert_badge_values(alert_data.open_critical_count())
    except ServiceUnavailable:  # logged by the service; the next tick tries again
        return True, ""


@callback(
    Output(App.ALERT_BADGE, "hidden"),
    Output(App.ALERT_BADGE_COUNT, "children"),
    Input(App.ALERT_INTERVAL, "n_intervals"),
    roles=Page.SHELL,
    fallback=fallback.each(fallback.value(True), fallback.value("")),
)
def refresh_badge(_n):
    """The header's count of open critical and emergency alerts, on every page (one indexed
    COUNT, kept a few seconds: bi_app.data.alerts.open_critical_count)."""
    return badge_values()
