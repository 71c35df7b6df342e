"""/admin/settings: the business thresholds (segments, churn rules, event benchmarks), editable
by admins with a validation message per field."""
import dash
import dash_bootstrap_components as dbc
from dash import html

from bi_app.data import settings
from bi_app.errors import ServiceUnavailable
from bi_app.roles import Page
from components.ids import AdminSettings
from components.notice import error_message

dash.register_page(__name__, path="/admin/settings", name="Settings", group="Admin", order=95,
                   title="Settings · bi-app", roles=Page.ADMIN_SETTINGS)


def _row(item: dict) -> html.Tr:
    changed = "default" if item["is_default"] else \
        f"{item['updated_by'] or 'unknown'}, {item['updated_at']:%Y-%m-%d %H:%M} UTC"
    return html.Tr([
        html.Td([html.Div(item["label"], className="fw-semibold"),
                 html.Div(item["help"], className="small text-body-secondary"),
                 html.Code(item["key"], className="small")]),
        html.Td([dbc.Input(id=AdminSettings.input(item["key"]), value=item["text"], type="text",
                           maxLength=300, invalid=False),
                 dbc.FormFeedback(id=AdminSettings.feedback(item["key"]), type="invalid")], style={"minWidth": "18rem"}),
        html.Td(item["default_text"], className="small"),
        html.Td(changed, className="small text-body-secondary"),
    ])


def layout(**query):
    try:
        items = settings.describe()
    except ServiceUnavailable:
        return html.Div([html.H1("Settings", className="app-page-title mb-3"), error_message("Settings")])
    return html.Div([
        html.H1("Settings", className="app-page-title mb-1"),
        html.P("Business thresholds used by the Customers and Events pages. Money is in currency units; "
               "cost shares as category=share pairs adding up to 1. Saving applies them at once; "
               "churn tags change with the next recomputation.", className="text-body-secondary small"),
        dbc.Alert(id=AdminSettings.MESSAGE, is_open=False, dismissable=True, className="py-2 small"),
        dbc.Table([html.Thead(html.Tr([html.Th("Setting"), html.Th("Value"), html.Th("Default"),
                                       html.Th("Last change")])),
                   html.Tbody([_row(item) for item in items])],
                  id=AdminSettings.TABLE, hover=True, responsive=True, className="align-middle"),
        dbc.Button("Save", id=AdminSettings.SAVE, color="primary", n_clicks=0),
    ], className="app-page app-admin-settings")
