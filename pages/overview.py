"""Overview: KPIs, the revenue trend, orders by platform and status, top products."""

import dash

from bi_app.filters import load_filter_context
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import overview_view as view

dash.register_page(
    __name__,
    roles=Page.OVERVIEW,
    path="/",
    name="Overview",
    group="Business",
    order=0,
    title="Overview · bi-app",
    description="Revenue, orders and top products",
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
