"""/ops/health: live status of every health check, host resources and circuit breakers."""

import dash

from bi_app import current_settings
from bi_app.i18n import N_
from bi_app.monitoring.dashboard import health_snapshot
from bi_app.roles import Page
from components import ops_health_view as view

dash.register_page(
    __name__,
    path="/ops/health",
    name=N_("Health"),
    group="Operations",
    order=10,
    roles=Page.OPS_HEALTH,
)


def layout(**query):
    settings = current_settings()
    return view.layout(health_snapshot(settings), settings.timezone, settings.refresh_ms)
