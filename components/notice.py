"""Messages shown to people: dismissable notices and readable in-card errors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from bi_app.i18n import _


def notice_children(messages: Iterable[str]) -> list:
    """One line per message; plain text, so hostile input is shown, never interpreted."""
    return [html.Div(str(m), className="app-notice-line") for m in messages]


def notice(
    messages: Iterable[str], component_id: str | dict, *, color: str = "warning"
) -> dbc.Alert:
    """A dismissable alert, open only when there is something to say."""
    items = list(messages)
    return dbc.Alert(
        notice_children(items),
        id=component_id,
        color=color,
        dismissable=True,
        is_open=bool(items),
        className="app-notice py-2 small mt-3 mb-0",
    )


def error_message(what: str, reason: str | None = None) -> dbc.Alert:
    """The in-card message when a service failed (``reason``: a more precise readable cause,
    e.g. the work took too long); details go to the log, not to the page. ``what`` may be a
    message only marked with ``N_()``: it is translated here."""
    return dbc.Alert(
        reason
        or _(
            "%(what)s is unavailable right now. The rest of the page still works; "
            "try again in a moment.",
            what=_(what),
        ),
        color="danger",
        className="app-card-error small mb-0",
    )


def page_unavailable(page: Mapping[str, Any], data_outage: bool) -> html.Div:
    """What a page shows when its layout cannot be built (``data_outage``: the database is
    down): its title and a readable notice; the error itself goes to the log."""
    text = (
        _(
            "The data is temporarily unavailable. The page will work again as soon as the "
            "database answers; try again in a moment."
        )
        if data_outage
        else _("This page could not be built. The error was logged; try again in a moment.")
    )
    name = page.get("name")
    return html.Div(
        [
            html.H2(_(str(name)) if name else "bi-app", className="h4 mb-3"),
            dbc.Alert(text, color="warning", className="page-unavailable"),
        ],
        className="app-page",
    )


def confirm_delete_modal(title: str, ids: Any) -> dbc.Modal:
    """The "Delete …?" dialog: ``title`` in the header, the question in ``ids.DELETE_TEXT``
    (filled by a callback), Cancel and Delete; ``ids`` is the page's id class
    (``DELETE_MODAL``, ``DELETE_TEXT``, ``DELETE_CANCEL``, ``DELETE_CONFIRM``)."""
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(title)),
            dbc.ModalBody(id=ids.DELETE_TEXT),
            dbc.ModalFooter(
                [
                    dbc.Button(_("Cancel"), id=ids.DELETE_CANCEL, color="secondary", n_clicks=0),
                    dbc.Button(_("Delete"), id=ids.DELETE_CONFIRM, color="danger", n_clicks=0),
                ]
            ),
        ],
        id=ids.DELETE_MODAL,
        is_open=False,
    )
