"""The Admin → Settings page: every business threshold with its value, default and last change."""

from __future__ import annotations

from collections.abc import Sequence

import dash_bootstrap_components as dbc
from dash import html

from bi_app.i18n import _
from bi_app.viewer import Viewer
from components.format import to_local
from components.ids import AdminSettings
from components.notice import error_message


def _text(value: str | None) -> str | None:
    """A setting's label or help (English messages of bi_app) in the request's language."""
    return _(value) if value else value


def _row(item: dict, tz: str) -> html.Tr:
    if item["is_default"]:
        changed = _("default")
    else:
        by = item["updated_by"] or _("unknown")
        changed = f"{by}, {to_local(item['updated_at'], tz):%Y-%m-%d %H:%M}"
    return html.Tr(
        [
            html.Td(
                [
                    html.Div(_text(item["label"]), className="fw-semibold"),
                    html.Div(_text(item["help"]), className="small text-body-secondary"),
                    html.Code(item["key"], className="small"),
                ]
            ),
            html.Td(
                [
                    dbc.Input(
                        id=AdminSettings.input(item["key"]),
                        value=item["text"],
                        type="text",
                        maxLength=300,
                        invalid=False,
                    ),
                    dbc.FormFeedback(id=AdminSettings.feedback(item["key"]), type="invalid"),
                ],
                style={"minWidth": "18rem"},
            ),
            html.Td(item["default_text"], className="small"),
            html.Td(changed, className="small text-body-secondary"),
        ]
    )


def unavailable() -> html.Div:
    """The page when the settings cannot be read (the service logged why)."""
    return html.Div(
        [html.H1(_("Settings"), className="app-page-title mb-3"), error_message(_("Settings"))]
    )


def layout(items: Sequence[dict], viewer: Viewer) -> html.Div:
    """The whole page for the rows of :func:`bi_app.data.settings.describe`."""
    return html.Div(
        [
            html.H1(_("Settings"), className="app-page-title mb-1"),
            html.P(
                _(
                    "Business thresholds used by the Customers and Events pages. Money is in "
                    "currency units; cost shares as category=share pairs adding up to 1. Saving "
                    "applies them at once; churn tags change with the next recomputation."
                ),
                className="text-body-secondary small",
            ),
            dbc.Alert(
                id=AdminSettings.MESSAGE, is_open=False, dismissable=True, className="py-2 small"
            ),
            dbc.Table(
                [
                    html.Thead(
                        html.Tr(
                            [
                                html.Th(_("Setting")),
                                html.Th(_("Value")),
                                html.Th(_("Default")),
                                html.Th(_("Last change")),
                            ]
                        )
                    ),
                    html.Tbody([_row(item, viewer.timezone) for item in items]),
                ],
                id=AdminSettings.TABLE,
                hover=True,
                responsive=True,
                className="align-middle",
            ),
            dbc.Button(_("Save"), id=AdminSettings.SAVE, color="primary", n_clicks=0),
        ],
        className="app-page app-admin-settings",
    )
