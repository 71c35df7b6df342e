"""Events and campaigns: every event with cost, revenue, ROI and attendance (layout:
components/events_view)."""

import dash

from bi_app.i18n import N_, _
from bi_app.models import attendance
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import events_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Events · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Events and campaigns: cost, revenue, ROI, attendance")


dash.register_page(
    __name__,
    roles=Page.EVENTS,
    path="/events",
    name=N_("Events"),
    group="Business",
    order=30,
    title=title,
    description=description,
)


def layout(**_query):
    return view.layout(current_viewer(), attendance.form_choices())
