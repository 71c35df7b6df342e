"""What an unknown URL shows (Dash picks this module up by its name)."""

import dash

from bi_app.i18n import N_, _
from bi_app.roles import Page
from components import not_found_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Page not found · bi-app")


dash.register_page(
    __name__,
    path="/404",
    name=N_("Page not found"),
    title=title,
    roles=Page.NOT_FOUND,
)


def layout(**_query):
    return view.layout()
