"""What an unknown URL shows (Dash picks this module up by its name)."""

import dash
from dash import dcc, html

from bi_app.roles import Page

dash.register_page(
    __name__,
    path="/404",
    name="Page not found",
    title="Page not found · bi-app",
    roles=Page.NOT_FOUND,
)


def layout(**_query):
    return html.Div(
        [
            html.H1("Page not found", className="app-page-title"),
            html.P(
                "There is no page at this address. It may have moved, or the link may be mistyped.",
                className="text-body-secondary",
            ),
            dcc.Link("Go to the Overview", href="/", className="btn btn-primary btn-sm"),
        ],
        className="app-page app-not-found py-4",
    )
