"""Forecasts: stored Prophet forecasts of daily revenue, orders, new customers and event
attendance (revenue and orders also by platform and by category), their quality, insights and
deviations (layout: components/forecasts_view; fits run in the ``forecast_fit`` job)."""

import logging

import dash

from bi_app import forecasting
from bi_app.auth.pages import role_allows
from bi_app.data import forecasts
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import forecasts_view as view

log = logging.getLogger(__name__)


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Forecasts · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _(
        "Forecasts of daily revenue, orders, new customers and event attendance with their "
        "quality and insights"
    )


dash.register_page(
    __name__,
    roles=Page.FORECASTS,
    path="/forecasts",
    name=N_("Forecasts"),
    group="Business",
    order=45,
    title=title,
    description=description,
)


def layout(**query):
    viewer = current_viewer()
    can_refit = role_allows(viewer.role, forecasting.REFIT_ROLES)
    filters = _stored_filters()
    return view.layout(query, can_refit, forecasting.app_holiday_country(), filters)


def _stored_filters() -> list[dict[str, str]]:
    """The platforms and categories revenue or orders have a stored forecast for."""
    seen: dict[str, dict[str, str]] = {}
    try:
        for series in forecasting.FILTERED_SERIES:
            for found in forecasts.forecast_filters(series):
                seen.setdefault(found["key"], found)
    except Exception:  # the page still shows the totals without its filter lists
        log.exception("forecast filters unavailable")
    return list(seen.values())
