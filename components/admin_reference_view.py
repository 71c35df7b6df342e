"""The Admin → Reference data page: sales platforms and product categories, each with its list,
an add form and a rename form (pure builders; callbacks/admin_reference.py wires them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from bi_app.i18n import N_, _
from components.ids import AdminReference
from components.notice import error_message

# texts marked only: shown with _()
TITLE = N_("Reference data")
CODE_HINT = N_(
    "Lower-case letters, digits, _ and -; fixed once created (links and filters use it)."
)
# placeholders of the add form per kind: (code, name); the code is typed as is
EXAMPLES = {"platforms": ("kiosk", N_("Kiosk")), "categories": ("toys", N_("Toys & Games"))}
# each kind's own sentences (a generic "Add a %(kind)s" would not read right in every language)
KIND_TEXTS = {
    "platforms": {
        "add": N_("Add a platform"),
        "rename": N_("Rename a platform"),
        "choose": N_("choose a platform"),
    },
    "categories": {
        "add": N_("Add a category"),
        "rename": N_("Rename a category"),
        "choose": N_("choose a category"),
    },
}


def _kind_text(kind: str, singular: str, what: str) -> str:
    """``what`` ("add", "rename", "choose") of ``kind``; a kind without its own sentences gets
    the generic one."""
    own = KIND_TEXTS.get(kind, {}).get(what)
    if own:
        return _(own)
    if what == "add":
        return _("Add a %(kind)s", kind=singular)
    if what == "rename":
        return _("Rename a %(kind)s", kind=singular)
    return _("choose a %(kind)s", kind=singular)


def rows_table(rows: Sequence[Mapping[str, str]]) -> Any:
    """Code and name of every row, or a note that there are none."""
    if not rows:
        return html.Div(_("None yet."), className="small text-muted")
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th(_("Code")), html.Th(_("Name"))])),
            html.Tbody(
                [
                    html.Tr(
                        [html.Td(html.Code(r["code"])), html.Td(r["name"])],
                        **{"data-code": r["code"]},
                    )
                    for r in rows
                ]
            ),
        ],
        size="sm",
        hover=True,
        className="small mb-0 admin-reference-table",
    )


def code_options(rows: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The rename form's choices: "Name (code)" for each code."""
    return [{"label": f"{r['name']} ({r['code']})", "value": r["code"]} for r in rows]


def outcome(message: str, ok: bool) -> tuple[str, str, bool]:
    """(children, color, is_open) of a kind's message after an add or a rename."""
    return message, "success" if ok else "danger", True


def _add_form(kind: str, singular: str) -> html.Div:
    code, name = EXAMPLES.get(kind, ("code", N_("Name")))
    return html.Div(
        [
            html.H3(_kind_text(kind, singular, "add"), className="h6 mt-3"),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Input(
                            id=AdminReference.add_code(kind),
                            placeholder=_("code, e.g. %(example)s", example=code),
                            maxLength=64,
                            type="text",
                            size="sm",
                        ),
                        md=4,
                    ),
                    dbc.Col(
                        dbc.Input(
                            id=AdminReference.add_name(kind),
                            placeholder=_("name, e.g. %(example)s", example=_(name)),
                            maxLength=200,
                            type="text",
                            size="sm",
                        ),
                        md=5,
                    ),
                    dbc.Col(
                        dbc.Button(
                            _("Add"),
                            id=AdminReference.add_button(kind),
                            size="sm",
                            color="primary",
                            n_clicks=0,
                        ),
                        md=3,
                    ),
                ],
                className="g-2",
            ),
            html.Div(_(CODE_HINT), className="small text-muted mt-1"),
        ]
    )


def _rename_form(kind: str, singular: str, rows: Sequence[Mapping[str, str]]) -> html.Div:
    return html.Div(
        [
            html.H3(_kind_text(kind, singular, "rename"), className="h6 mt-3"),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Select(
                            id=AdminReference.rename_code(kind),
                            options=code_options(rows),
                            placeholder=_kind_text(kind, singular, "choose"),
                            size="sm",
                        ),
                        md=5,
                    ),
                    dbc.Col(
                        dbc.Input(
                            id=AdminReference.rename_name(kind),
                            placeholder=_("new name"),
                            maxLength=200,
                            type="text",
                            size="sm",
                        ),
                        md=4,
                    ),
                    dbc.Col(
                        dbc.Button(
                            _("Rename"),
                            id=AdminReference.rename_button(kind),
                            size="sm",
                            color="secondary",
                            n_clicks=0,
                        ),
                        md=3,
                    ),
                ],
                className="g-2",
            ),
        ]
    )


def section(kind: str, label: str, singular: str, rows: Sequence[Mapping[str, str]]) -> dbc.Card:
    """One kind's card: message, list, add form, rename form."""
    return dbc.Card(
        [
            dbc.CardHeader(_(label) if label else label),  # bi_app.reference's English label
            dbc.CardBody(
                [
                    dbc.Alert(
                        id=AdminReference.message(kind),
                        is_open=False,
                        dismissable=True,
                        className="py-2 small",
                    ),
                    html.Div(
                        rows_table(rows),
                        id=AdminReference.table(kind),
                        className="admin-reference-list",
                        style={"maxHeight": "22rem", "overflowY": "auto"},
                    ),
                    _add_form(kind, singular),
                    _rename_form(kind, singular, rows),
                ]
            ),
        ],
        className=f"mb-3 admin-reference-{kind}",
    )


def layout(sections: Sequence[tuple[str, str, str, Sequence[Mapping[str, str]]]]) -> html.Div:
    """The whole page; ``sections`` are (kind, label, singular, rows)."""
    return html.Div(
        [
            html.H1(_(TITLE), className="app-page-title mb-1"),
            html.P(
                _(
                    "Sales platforms and product categories name the filters, charts and imports. "
                    "Add the ones your business uses and give them the names people should see. "
                    "Codes stay as they are; names can change at any time."
                ),
                className="text-body-secondary small",
            ),
            dbc.Row([dbc.Col(section(*s), lg=6) for s in sections]),
        ],
        id=AdminReference.PAGE,
        className="admin-reference",
    )


def unavailable() -> html.Div:
    """The page when the reference data cannot be read (the service logged why)."""
    return html.Div([html.H1(_(TITLE), className="app-page-title mb-3"), error_message(_(TITLE))])
