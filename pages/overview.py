"""Overview: KPIs, the revenue trend, orders by platform and status, top products."""

import dash

from bi_app.filters import load_filter_context
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import overview_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Overview · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Revenue, orders and top products")


dash.register_page(
    __name__,
    roles=Page.OVERVIEW,
    path="/",
    name=N_("Overview"),
    group="Business",
    order=0,
    title=title,
    description=description,
)


def layout(**query):
    return view.layout(query, load_filter_context(query), current_viewer())
