"""/ops/logs: the application's structured logs, filtered, charted and tailed live."""

import dash

from bi_app import current_settings
from bi_app.errors import ServiceUnavailable
from bi_app.i18n import N_
from bi_app.monitoring.logs_query import known_loggers, parse_log_query
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import ops_logs_view as view

dash.register_page(
    __name__, path="/ops/logs", name=N_("Logs"), group="Operations", order=30, roles=Page.OPS_LOGS
)


def layout(**query):
    settings = current_settings()
    parsed = parse_log_query(query, tz=settings.timezone)
    try:
        loggers = known_loggers()
    except ServiceUnavailable:
        loggers = []  # the filter still works with typed names; the log says why
    return view.layout(
        parsed, loggers, query, viewer=current_viewer(), refresh_ms=settings.refresh_ms
    )
