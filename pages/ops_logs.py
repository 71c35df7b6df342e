"""/ops/logs: the application's structured logs, filtered, charted and tailed live."""
import logging

import dash
from sqlalchemy.exc import SQLAlchemyError

from bi_app import current_settings
from bi_app.monitoring.logs_query import known_loggers, parse_log_query
from components.logs_view import logs_page

dash.register_page(__name__, path="/ops/logs", name="Logs", group="Operations", order=30,
                   roles=("admin", "analyst"))

log = logging.getLogger("pages.ops_logs")


def layout(**query):
    settings = current_settings()
    parsed = parse_log_query(query, tz=settings.timezone)
    try:
        loggers = known_loggers()
    except SQLAlchemyError:
        log.warning("logs page: logger names unavailable", exc_info=True)
        loggers = []
    return logs_page(parsed, loggers, query, tz=settings.timezone, refresh_ms=settings.refresh_ms)
