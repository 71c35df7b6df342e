"""/admin/integrations: monitored external HTTP services and the channel sources (admins only)."""
import logging

import dash
from dash import html

from bi_app.roles import Page
from components.notice import error_message

dash.register_page(__name__, path="/admin/integrations", name="Integrations", group="Admin", order=97,
                   title="Integrations · bi-app", roles=Page.ADMIN_INTEGRATIONS)

log = logging.getLogger(__name__)


def layout(**query):
    from bi_app import current_settings
    from bi_app.extensions import db
    from bi_app.integrations import channels as channel_admin
    from bi_app.integrations import services as service_admin
    from components.integrations_view import integrations_page

    try:
        engine = db.require_engine()
        return integrations_page(service_admin.list_services(engine, current_settings()),
                                 channel_admin.list_channel_sources(engine), channel_admin.channel_names(engine),
                                 channel_admin.event_choices(engine))
    except Exception:
        log.exception("integrations page unavailable")
        return html.Div([html.H1("Integrations", className="app-page-title mb-3"), error_message("Integrations")])
