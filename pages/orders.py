"""Orders: every order, paged, sorted and filtered on the server (layout:
components/orders_view)."""

import dash

from bi_app.filters import load_filter_context
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import orders_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Orders · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Every order: filter, sort and export")


dash.register_page(
    __name__,
    path="/orders",
    name=N_("Orders"),
    group="Business",
    order=15,
    title=title,
    description=description,
    roles=Page.ORDERS,
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
