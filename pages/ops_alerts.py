"""/ops/alerts: open alerts, an alert's detail and actions, and the alert history."""

import dash

from bi_app import current_settings
from bi_app.data import alerts as alert_data
from bi_app.errors import ServiceUnavailable
from bi_app.i18n import N_, _
from bi_app.monitoring.logs_query import utcnow
from bi_app.roles import Action, Page
from bi_app.viewer import current_viewer
from components import ops_alerts_view as view

dash.register_page(
    __name__,
    path="/ops/alerts",
    name=N_("Alerts"),
    group="Operations",
    order=15,
    roles=Page.OPS_ALERTS,
)


def layout(**query):
    settings = current_settings()
    viewer = current_viewer()
    parsed = view.parse_alert_query(query, utcnow())
    unavailable = None
    try:
        rule_errors = alert_data.rules_in_error()
    except ServiceUnavailable:
        rule_errors = []
        unavailable = _("Alerts are unavailable right now; the page retries on its own.")
    return view.layout(
        parsed,
        viewer=viewer,
        refresh_ms=settings.refresh_ms,
        can_act=viewer.may(Action.ACT_ON_ALERTS),
        rule_errors=rule_errors,
        unavailable=unavailable,
    )
