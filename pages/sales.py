"""Sales: revenue with growth, orders, cancellations and rankings
(layout: components/sales_view)."""

import dash

from bi_app.filters import load_filter_context
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import sales_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Sales · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Revenue growth, orders, refunds and best sellers")


dash.register_page(
    __name__,
    path="/sales",
    name=N_("Sales"),
    group="Business",
    order=10,
    title=title,
    description=description,
    roles=Page.SALES,
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
