"""Customers: segments, churn risk, cohorts, RFM and the list (layout:
components/customers_view)."""

import dash

from bi_app.filters import load_filter_context
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import customers_view as view

dash.register_page(
    __name__,
    path="/customers",
    name="Customers",
    group="Business",
    order=20,
    title="Customers · bi-app",
    description="Segments, churn risk, cohorts and customers",
    roles=Page.CUSTOMERS,
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
