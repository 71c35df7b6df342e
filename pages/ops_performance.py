"""/ops/performance: response times by endpoint and callback, throughput, errors, cache hits."""

import dash

from bi_app import current_settings
from bi_app.errors import ServiceUnavailable
from bi_app.i18n import N_
from bi_app.monitoring.dashboard import parse_range, performance_data
from bi_app.roles import Page
from components import ops_performance_view as view

dash.register_page(
    __name__,
    path="/ops/performance",
    name=N_("Performance"),
    group="Operations",
    order=20,
    roles=Page.OPS_PERFORMANCE,
)


def layout(**query):
    settings = current_settings()
    range_key = parse_range(query.get("range"))
    try:
        data, error = performance_data(range_key), None
    except ServiceUnavailable as exc:
        data, error = None, str(exc)
    return view.layout(data, range_key, settings.timezone, error)
