"""Sales: revenue with growth, orders, cancellations and rankings
(layout: components/sales_view)."""

import dash

from bi_app.filters import load_filter_context
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import sales_view as view

dash.register_page(
    __name__,
    path="/sales",
    name="Sales",
    group="Business",
    order=10,
    title="Sales · bi-app",
    description="Revenue growth, orders, refunds and best sellers",
    roles=Page.SALES,
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
