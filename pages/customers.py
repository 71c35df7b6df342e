"""Customers: segments, churn risk, cohorts, RFM and the list (layout:
components/customers_view)."""

import dash

from bi_app.filters import load_filter_context
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import customers_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Customers · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Segments, churn risk, cohorts and customers")


dash.register_page(
    __name__,
    path="/customers",
    name=N_("Customers"),
    group="Business",
    order=20,
    title=title,
    description=description,
    roles=Page.CUSTOMERS,
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
