"""Callbacks of /ops/alerts/rules: pick a rule, show the fields of its type, backtest the rule as
typed, save (or show why not), delete after confirmation. Admins only, checked on the server."""

from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from bi_app.alerts import rule_admin, sources
from bi_app.alerts.rules import RuleInvalid
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from callbacks._registry import callback
from components import fallback
from components import ops_alert_rules_view as view
from components.ids import OpsAlertRules as Ids


def _form(values: list, ids: list[dict]) -> dict:
    return {i["field"]: v for i, v in zip(ids, values)}


@callback(
    Output(Ids.GRID, "rowData"),
    Input(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_RULES,
    fallback=fallback.value(no_update),
    prevent_initial_call=True,
)
def refresh_rules(_version):
    """Shows the rules as stored now."""
    return view.rule_rows(rule_admin.list_rules())


@callback(
    *(Output(Ids.section(key), "style") for key in view.SECTIONS),
    Output(Ids.field("metric"), "options"),
    Output(Ids.METRIC_LABEL, "children"),
    Output(Ids.field("metric"), "value", allow_duplicate=True),
    Input(Ids.field("kind"), "value"),
    State(Ids.field("metric"), "value"),
    roles=Page.OPS_ALERT_RULES,
    prevent_initial_call=True,
)
def show_kind(kind, metric):
    """Shows the fields and the metrics of the chosen rule type."""
    styles, options, label = view.kind_view(kind, sources.METRICS, sources.HEALTH_CHECKS)
    keep = metric if any(o["value"] == metric for o in options) else None
    return (*styles, options, label, keep)


@callback(
    Output(Ids.field(ALL), "value"),
    Output(Ids.feedback(ALL), "children", allow_duplicate=True),
    Output(Ids.FORM_TITLE, "children"),
    Output(Ids.EDIT_STORE, "data"),
    Output(Ids.FORM_MESSAGE, "is_open", allow_duplicate=True),
    Input(Ids.GRID, "cellClicked"),
    Input(Ids.NEW, "n_clicks"),
    State(Ids.field(ALL), "id"),
    roles=Page.OPS_ALERT_RULES,
    prevent_initial_call=True,
)
def open_rule(cell, _new, ids):
    """Loads the clicked rule into the editor, or empties it for a new rule."""
    # a click, not the selection: the selection is re-announced when the grid's rows reload
    rule = None
    if ctx.triggered_id == Ids.GRID:
        try:
            rule = rule_admin.get_rule(int((cell or {})["rowId"]))
        except (KeyError, TypeError, ValueError, rule_admin.RuleNotFound):
            raise PreventUpdate from None
    values = view.form_values(rule)
    return (
        [values[i["field"]] for i in ids],
        [""] * len(ids),
        view.form_title(rule),
        rule["id"] if rule else None,
        False,
    )


@callback(
    Output(Ids.BACKTEST_GRAPH, "figure"),
    Output(Ids.BACKTEST_TEXT, "children"),
    Input(Ids.BACKTEST, "n_clicks"),
    State(Ids.field(ALL), "value"),
    State(Ids.field(ALL), "id"),
    roles=Page.OPS_ALERT_RULES,
    fallback=fallback.each(fallback.figure(N_("The backtest")), fallback.value("")),
    prevent_initial_call=True,
)
def run_backtest(clicks, values, ids):
    """Draws the metric over 30 days with the moments the rule as typed would have fired."""
    if not clicks:
        raise PreventUpdate
    result = rule_admin.backtest_rule(view.raw_rule(_form(values, ids), backtest=True))
    return view.backtest_figure(result, current_viewer().timezone), view.backtest_summary(result)


@callback(
    Output(Ids.FORM_MESSAGE, "children"),
    Output(Ids.FORM_MESSAGE, "color"),
    Output(Ids.FORM_MESSAGE, "is_open"),
    Output(Ids.feedback(ALL), "children"),
    Output(Ids.VERSION_STORE, "data"),
    Output(Ids.EDIT_STORE, "data", allow_duplicate=True),
    Output(Ids.FORM_TITLE, "children", allow_duplicate=True),
    Input(Ids.SAVE, "n_clicks"),
    State(Ids.field(ALL), "value"),
    State(Ids.field(ALL), "id"),
    State(Ids.EDIT_STORE, "data"),
    State(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_RULES,
    prevent_initial_call=True,
)
def save_rule(clicks, values, ids, edit_id, version):
    """Saves the rule as typed, or marks the field that is wrong (nothing typed is lost)."""
    if not clicks:
        raise PreventUpdate
    fields = [i["field"] for i in ids]
    try:
        saved = rule_admin.save_rule(
            view.raw_rule(_form(values, ids)), None, int(edit_id) if edit_id else None
        )
    except RuleInvalid as exc:
        text = _("Not saved: %(reason)s", reason=str(exc))
        feedback = view.field_feedback(exc.field, str(exc), fields)[1]
        return text, "danger", True, feedback, no_update, no_update, no_update
    except rule_admin.RuleNotFound:
        text = _("Not saved: that rule was deleted meanwhile. Save again to create it anew.")
        return text, "warning", True, [""] * len(fields), (version or 0) + 1, None, no_update
    return (
        _("Saved rule %(name)s.", name=saved["name"]),
        "success",
        True,
        [""] * len(fields),
        (version or 0) + 1,
        saved["id"],
        view.form_title(saved),
    )


@callback(
    Output(Ids.DELETE_MODAL, "is_open"),
    Output(Ids.DELETE_TEXT, "children"),
    Output(Ids.FORM_MESSAGE, "children", allow_duplicate=True),
    Output(Ids.FORM_MESSAGE, "color", allow_duplicate=True),
    Output(Ids.FORM_MESSAGE, "is_open", allow_duplicate=True),
    Input(Ids.DELETE, "n_clicks"),
    State(Ids.EDIT_STORE, "data"),
    roles=Page.OPS_ALERT_RULES,
    prevent_initial_call=True,
)
def ask_delete(clicks, edit_id):
    """Asks before a rule is deleted (only a saved rule can be)."""
    if not clicks:
        raise PreventUpdate
    if not edit_id:
        return False, no_update, _("Select a saved rule first."), "warning", True
    try:
        rule = rule_admin.get_rule(int(edit_id))
    except rule_admin.RuleNotFound:
        return False, no_update, _("That rule was already deleted."), "warning", True
    return True, view.delete_question(rule["name"]), no_update, no_update, no_update


@callback(
    Output(Ids.DELETE_MODAL, "is_open", allow_duplicate=True),
    Output(Ids.FORM_MESSAGE, "children", allow_duplicate=True),
    Output(Ids.FORM_MESSAGE, "color", allow_duplicate=True),
    Output(Ids.FORM_MESSAGE, "is_open", allow_duplicate=True),
    Output(Ids.VERSION_STORE, "data", allow_duplicate=True),
    Output(Ids.EDIT_STORE, "data", allow_duplicate=True),
    Output(Ids.FORM_TITLE, "children", allow_duplicate=True),
    Input(Ids.DELETE_CONFIRM, "n_clicks"),
    Input(Ids.DELETE_CANCEL, "n_clicks"),
    State(Ids.EDIT_STORE, "data"),
    State(Ids.VERSION_STORE, "data"),
    roles=Page.OPS_ALERT_RULES,
    prevent_initial_call=True,
)
def confirm_delete(confirm, _cancel, edit_id, version):
    """Deletes the rule once confirmed; Cancel just closes the dialog."""
    if ctx.triggered_id != Ids.DELETE_CONFIRM or not confirm or not edit_id:
        return False, no_update, no_update, no_update, no_update, no_update, no_update
    try:
        rule_admin.delete_rule(int(edit_id), None)
        text, color = _("Rule deleted."), "success"
    except rule_admin.RuleNotFound:
        text, color = _("That rule was already deleted."), "warning"
    return False, text, color, True, (version or 0) + 1, None, view.form_title(None)
