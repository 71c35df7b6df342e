"""/ops/performance: response times by endpoint and callback, throughput, errors, cache hits."""
import logging

import dash
from sqlalchemy.exc import SQLAlchemyError

from bi_app import current_settings
from bi_app.monitoring.dashboard import parse_range, performance_data
from components.ops import performance_page

dash.register_page(__name__, path="/ops/performance", name="Performance", group="Operations", order=20,
                   roles=("admin", "analyst"))

log = logging.getLogger("pages.ops_performance")


def layout(range=None, **query):
    settings = current_settings()
    range_key = parse_range(range)
    try:
        data, error = performance_data(range_key), None
    except SQLAlchemyError as exc:
        log.warning("performance page: metrics unavailable", exc_info=True)
        data, error = None, str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return performance_page(data, range_key, settings.timezone, error)
