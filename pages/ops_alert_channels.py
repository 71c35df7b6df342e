"""/ops/alerts/channels: notification channels, a test message, the delivery log (admins only;
reached through the alert center's tabs, not the sidebar)."""

import dash

from bi_app.alerts import channel_admin
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import alerts_nav
from components import ops_alert_channels_view as view


def _title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("%(page)s · bi-app", page=_("Notification channels"))


dash.register_page(
    __name__,
    path="/ops/alerts/channels",
    name=N_("Notification channels"),
    order=43,
    title=_title,
    roles=Page.OPS_ALERT_CHANNELS,
)


def layout(**_query):
    viewer = current_viewer()
    return view.layout(
        nav=alerts_nav.tabs("channels", viewer.role),
        channels=channel_admin.list_channels(),
        log=channel_admin.delivery_log(limit=100),
        tz=viewer.timezone,
    )
