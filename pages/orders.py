"""Orders: every order, paged, sorted and filtered on the server (layout:
components/orders_view)."""

import dash

from bi_app.filters import load_filter_context
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import orders_view as view

dash.register_page(
    __name__,
    path="/orders",
    name="Orders",
    group="Business",
    order=15,
    title="Orders · bi-app",
    description="Every order: filter, sort and export",
    roles=Page.ORDERS,
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
