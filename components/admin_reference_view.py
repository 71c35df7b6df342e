"""The Admin → Reference data page: sales platforms and product categories, each with its list,
an add form and a rename form (pure builders; callbacks/admin_reference.py wires them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from components.ids import AdminReference
from components.notice import error_message

TITLE = "Reference data"
CODE_HINT = "Lower-case letters, digits, _ and -; fixed once created (links and filters use it)."
# placeholders of the add form per kind: (code, name)
EXAMPLES = {"platforms": ("kiosk", "Kiosk"), "categories": ("toys", "Toys & Games")}


def rows_table(rows: Sequence[Mapping[str, str]]) -> Any:
    """Code and name of every row, or a note that there are none."""
    if not rows:
        return html.Div("None yet.", className="small text-muted")
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th("Code"), html.Th("Name")])),
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
    code, name = EXAMPLES.get(kind, ("code", "Name"))
    return html.Div(
        [
            html.H3(f"Add a {singular}", className="h6 mt-3"),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Input(
                            id=AdminReference.add_code(kind),
                            placeholder=f"code, e.g. {code}",
                            maxLength=64,
                            type="text",
                            size="sm",
                        ),
                        md=4,
                    ),
                    dbc.Col(
                        dbc.Input(
                            id=AdminReference.add_name(kind),
                            placeholder=f"name, e.g. {name}",
                            maxLength=200,
                            type="text",
                            size="sm",
                        ),
                        md=5,
                    ),
                    dbc.Col(
                        dbc.Button(
                            "Add",
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
            html.Div(CODE_HINT, className="small text-muted mt-1"),
        ]
    )


def _rename_form(kind: str, singular: str, rows: Sequence[Mapping[str, str]]) -> html.Div:
    return html.Div(
        [
            html.H3(f"Rename a {singular}", className="h6 mt-3"),
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Select(
                            id=AdminReference.rename_code(kind),
                            options=code_options(rows),
                            placeholder=f"choose a {singular}",
                            size="sm",
                        ),
                        md=5,
                    ),
                    dbc.Col(
                        dbc.Input(
                            id=AdminReference.rename_name(kind),
                            placeholder="new name",
                            maxLength=200,
                            type="text",
                            size="sm",
                        ),
                        md=4,
                    ),
                    dbc.Col(
                        dbc.Button(
                            "Rename",
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
            dbc.CardHeader(label),
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
            html.H1(TITLE, className="app-page-title mb-1"),
            html.P(
                "Sales platforms and product categories name the filters, charts and imports. "
                "Add the ones your business uses and give them the names people should see. "
                "Codes stay as they are; names can change at any time.",
                className="text-body-secondary small",
            ),
            dbc.Row([dbc.Col(section(*s), lg=6) for s in sections]),
        ],
        id=AdminReference.PAGE,
        className="admin-reference",
    )


def unavailable() -> html.Div:
    """The page when the reference data cannot be read (the service logged why)."""
    return html.Div(
        [html.H1(TITLE, className="app-page-title mb-3"), error_message("Reference data")]
    )
