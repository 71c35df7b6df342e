"""The "are you sure?" step of a delete, for any list whose rows have a delete button and whose
page holds :func:`components.notice.confirm_delete_modal`: one callback opens the dialog for the
clicked row (its question, and what the confirm callback will delete), and closes it on Cancel
or Delete. The page keeps its own confirm callback (the service call and its message).

``ids`` is the page's ids class: ``delete_button(ALL)``, ``DELETE_MODAL``, ``DELETE_TEXT``,
``DELETE_CANCEL``, ``DELETE_CONFIRM`` and ``PENDING_STORE``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from dash import ALL, Input, Output, ctx, no_update
from dash.exceptions import PreventUpdate

from callbacks._registry import callback
from components import fallback

# the clicked button's id -> (the dialog's question, what to delete), or None when the row is gone
Lookup = Callable[[Mapping[str, Any]], "tuple[Any, Any] | None"]


def confirm_delete(ids: Any, lookup: Lookup, *, roles: tuple[str, ...]) -> Callable[..., Any]:
    """Register the dialog's callback for ``ids``; returns it (for tests)."""

    @callback(
        Output(ids.DELETE_MODAL, "is_open"),
        Output(ids.DELETE_TEXT, "children"),
        Output(ids.PENDING_STORE, "data"),
        Input(ids.delete_button(ALL), "n_clicks"),
        Input(ids.DELETE_CANCEL, "n_clicks"),
        Input(ids.DELETE_CONFIRM, "n_clicks"),
        roles=roles,
        prevent_initial_call=True,
        fallback=fallback.each(fallback.value(False), fallback.value(None), fallback.value(None)),
    )
    def ask_delete(_clicks, _cancel, _confirm):
        """Asks before deleting the clicked row; Cancel or Delete closes the dialog."""
        trigger = ctx.triggered_id
        if not isinstance(trigger, Mapping):
            return False, no_update, no_update
        if not ctx.triggered or not ctx.triggered[0]["value"]:
            raise PreventUpdate  # buttons re-drawn by a refresh, not clicked
        found = lookup(trigger)
        if found is None:
            raise PreventUpdate  # deleted meanwhile; the next refresh drops its row
        question, pending = found
        return True, question, pending

    return ask_delete
