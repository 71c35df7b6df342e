"""The "are you sure?" step before a row's action (delete a report, roll back a model), for any
list whose rows carry the action's button and whose page holds a confirmation dialog
(:func:`components.notice.confirm_delete_modal` or its like): one callback opens the dialog for
the clicked row with its question and keeps what the confirm callback will act on; Cancel or
the confirm button closes it. The page keeps its own confirm callback (the service call and its
message).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dash import ALL, Input, Output, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks._registry import callback
from components import fallback

# the clicked button's id -> (the dialog's question, what to act on), or None when the row is
# gone (deleted meanwhile: the next refresh drops it)
Lookup = Callable[[Mapping[str, Any]], "tuple[Any, Any] | None"]


def confirm_step(
    *,
    button: Any,
    modal: str,
    text: str,
    pending: str,
    cancel: str,
    ok: str,
    lookup: Lookup,
    roles: tuple[str, ...],
) -> Callable[..., Any]:
    """Register the dialog's callback: ``button`` is the rows' button id with wildcards
    (``ids.delete_button(ALL)``), the others the dialog's ids. Returns it (for tests)."""

    @callback(
        Output(modal, "is_open"),
        Output(text, "children"),
        Output(pending, "data"),
        Input(button, "n_clicks"),
        Input(cancel, "n_clicks"),
        Input(ok, "n_clicks"),
        roles=roles,
        prevent_initial_call=True,
        fallback=fallback.each(fallback.value(False), fallback.value(None), fallback.value(None)),
    )
    def ask(_clicks, _cancel, _ok):
        """Asks before acting on the clicked row; Cancel or the confirm button closes it."""
        trigger = ctx.triggered_id
        if not isinstance(trigger, Mapping):
            return False, no_update, no_update
        if not ctx.triggered or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # buttons re-drawn by a refresh, not clicked
        found = lookup(trigger)
        if found is None:
            raise PreventUpdate
        question, target = found
        return True, question, target

    return ask


def confirm_delete(ids: Any, lookup: Lookup, *, roles: tuple[str, ...]) -> Callable[..., Any]:
    """:func:`confirm_step` for a page whose ids class has ``delete_button(ALL)``,
    ``DELETE_MODAL``, ``DELETE_TEXT``, ``PENDING_STORE``, ``DELETE_CANCEL``, ``DELETE_CONFIRM``."""
    return confirm_step(
        button=ids.delete_button(ALL),
        modal=ids.DELETE_MODAL,
        text=ids.DELETE_TEXT,
        pending=ids.PENDING_STORE,
        cancel=ids.DELETE_CANCEL,
        ok=ids.DELETE_CONFIRM,
        lookup=lookup,
        roles=roles,
    )
