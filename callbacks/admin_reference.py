"""Admin → Reference data: add or rename a platform or category (admins only, audited)."""

from __future__ import annotations

from dash import MATCH, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app import reference
from bi_app.errors import ServiceError
from bi_app.roles import Page
from callbacks._registry import callback
from components import admin_reference_view as view
from components.ids import AdminReference

_ADD = AdminReference.add_button("")["type"]


@callback(
    Output(AdminReference.message(MATCH), "children"),
    Output(AdminReference.message(MATCH), "color"),
    Output(AdminReference.message(MATCH), "is_open"),
    Output(AdminReference.table(MATCH), "children"),
    Output(AdminReference.rename_code(MATCH), "options"),
    Output(AdminReference.add_code(MATCH), "value"),
    Output(AdminReference.add_name(MATCH), "value"),
    Input(AdminReference.add_button(MATCH), "n_clicks"),
    Input(AdminReference.rename_button(MATCH), "n_clicks"),
    State(AdminReference.add_code(MATCH), "value"),
    State(AdminReference.add_name(MATCH), "value"),
    State(AdminReference.rename_code(MATCH), "value"),
    State(AdminReference.rename_name(MATCH), "value"),
    roles=Page.ADMIN_REFERENCE,
    prevent_initial_call=True,
)
def save(_add, _rename, code, name, renamed, new_name):
    """Adds or renames a platform or category and shows the list after it; a refusal says why
    and keeps what was typed."""
    if not isinstance(ctx.triggered_id, dict) or not ctx.triggered[0].get("value"):
        raise PreventUpdate
    kind, adding = ctx.triggered_id.get("kind"), ctx.triggered_id.get("type") == _ADD
    try:
        change = (
            reference.add(kind, code, name) if adding else reference.rename(kind, renamed, new_name)
        )
    except ServiceError as exc:
        return (*view.outcome(str(exc), ok=False), no_update, no_update, no_update, no_update)
    cleared = "" if adding else no_update
    return (
        *view.outcome(change.message, ok=True),
        view.rows_table(change.rows),
        view.code_options(change.rows),
        cleared,
        cleared,
    )


@callback(
    Output(AdminReference.rename_name(MATCH), "value"),
    Input(AdminReference.rename_code(MATCH), "value"),
    roles=Page.ADMIN_REFERENCE,
    prevent_initial_call=True,
)
def fill_name(code):
    """Puts the chosen code's current name into the rename field, ready to edit."""
    if not code:
        raise PreventUpdate
    try:
        name = reference.name_of(ctx.triggered_id["kind"], code)
    except ServiceError:
        raise PreventUpdate from None
    return name if name is not None else no_update
