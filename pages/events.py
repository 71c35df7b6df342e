"""Events and campaigns: every event with cost, revenue, ROI and attendance (layout:
components/events_view)."""

import dash

from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import events_view as view

dash.register_page(
    __name__,
    roles=Page.EVENTS,
    path="/events",
    name="Events",
    group="Business",
    order=30,
    title="Events · bi-app",
    description="Events and campaigns: cost, revenue, ROI, attendance",
)


def layout(**_query):
    return view.layout(current_viewer())
