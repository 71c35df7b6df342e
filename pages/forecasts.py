"""Forecasts: stored Prophet forecasts of daily revenue, orders and new customers, their quality and
insights (layout: components/forecasts_view; fits run in the ``forecast_fit`` job)."""

import dash

from bi_app import forecasting
from bi_app.auth.pages import role_allows
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import forecasts_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Forecasts · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Forecasts of daily revenue, orders and new customers with their quality and insights")


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
    return view.layout(query, can_refit, forecasting.app_holiday_country())
