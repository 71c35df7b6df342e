"""/admin/models: every model's stored versions with their metrics, "Retrain now", roll back."""

import dash

from bi_app import current_settings
from bi_app.i18n import N_
from bi_app.roles import Page
from components import admin_models_view as view

dash.register_page(
    __name__,
    path="/admin/models",
    name=N_("Models"),
    group="Admin",
    order=98,
    roles=Page.ADMIN_MODELS,
)


def layout(**query):
    return view.layout(current_settings().refresh_ms)
