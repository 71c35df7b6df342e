"""/ops/alerts/silences: time-boxed silences by label matchers (admins only; reached through the
alert center's tabs, not the sidebar)."""

import dash

from bi_app.alerts import silences
from bi_app.db.models import utcnow
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import alerts_nav
from components import ops_alert_silences_view as view


def _title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("%(page)s · bi-app", page=_("Silences"))


dash.register_page(
    __name__,
    path="/ops/alerts/silences",
    name=N_("Silences"),
    order=42,
    title=_title,
    roles=Page.OPS_ALERT_SILENCES,
)


def layout(**_query):
    viewer = current_viewer()
    now = utcnow()
    return view.layout(
        nav=alerts_nav.tabs("silences", viewer.role),
        silences=silences.list_silences(now=now),
        tz=viewer.timezone,
        now=now,
    )
