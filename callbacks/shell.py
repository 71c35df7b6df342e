"""Shell behaviour: theme switch, active link, filters carried by the sidebar (clientside), and
the header's badge of open critical alerts (a cheap server count, refreshed live)."""

from dash import ALL, ClientsideFunction, Input, Output, State

from bi_app.data import alerts as alert_data
from bi_app.errors import ServiceUnavailable
from bi_app.roles import Page
from callbacks._registry import callback, clientside_callback
from components import fallback
from components.ids import App, FilterBar, Nav
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
