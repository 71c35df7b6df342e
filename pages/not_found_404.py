"""What an unknown URL shows (Dash picks this module up by its name)."""

import dash

from bi_app.roles import Page
from components import not_found_view as view

dash.register_page(
    __name__,
    path="/404",
    name="Page not found",
    title="Page not found · bi-app",
    roles=Page.NOT_FOUND,
)


def layout(**_query):
    return view.layout()
