"""/admin/integrations: monitored external HTTP services and the channel sources (admins only)."""

import dash
from dash import html

from bi_app.errors import ServiceUnavailable
from bi_app.i18n import N_, _
from bi_app.integrations import channels as channel_admin
from bi_app.integrations import services as service_admin
from bi_app.roles import Page
from components import admin_integrations_view as view
from components.notice import error_message


def _title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("%(page)s · bi-app", page=_("Integrations"))


dash.register_page(
    __name__,
    path="/admin/integrations",
    name=N_("Integrations"),
    group="Admin",
    order=97,
    title=_title,
    roles=Page.ADMIN_INTEGRATIONS,
)


def layout(**query):
    try:
        return view.layout(
            service_admin.list_services(),
            channel_admin.list_channel_sources(),
            channel_admin.channel_names(),
            channel_admin.event_choices(),
        )
    except ServiceUnavailable:  # the service logged the cause
        return html.Div(
            [
                html.H1(_("Integrations"), className="app-page-title mb-3"),
                error_message(_("Integrations")),
            ]
        )
