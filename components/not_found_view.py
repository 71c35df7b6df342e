"""What an unknown URL shows: a plain message and a way back."""

from __future__ import annotations

from dash import dcc, html

from bi_app.i18n import _


def layout() -> html.Div:
    return html.Div(
        [
            html.H1(_("Page not found"), className="app-page-title"),
            html.P(
                _(
                    "There is no page at this address. It may have moved, or the link may be "
                    "mistyped."
                ),
                className="text-body-secondary",
            ),
            dcc.Link(_("Go to the Overview"), href="/", className="btn btn-primary btn-sm"),
        ],
        className="app-page app-not-found py-4",
    )
