"""One event: summary, channels, participation, comparison, costs, suggestions, what-if.

Not in the sidebar (no group); reached from the Events list. An unknown or malformed id shows a
plain "event not found" message. The layout is components/event_detail_view.py.
"""

import dash

from bi_app.data import events
from bi_app.i18n import N_, _
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from components import event_detail_view as view
from components.event_figures import not_found


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Event · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("An event's ROI, channels, participants and costs")


dash.register_page(
    __name__,
    roles=Page.EVENT_DETAIL,
    path_template="/events/<event_id>",
    name=N_("Event"),
    title=title,
    description=description,
)


MAX_ID = 2**31 - 1


def parse_event_id(raw: object) -> int | None:
    text = str(raw or "").strip()
    if not text.isdigit() or len(text) > 10 or not 0 < int(text) <= MAX_ID:
        return None
    return int(text)


def layout(event_id=None, **_query):
    parsed = parse_event_id(event_id)
    summary = events.event_summary(parsed) if parsed is not None else None
    if summary is None:
        return not_found(str(event_id)[:40])
    return view.layout(parsed, summary, events.what_if_base(parsed), current_viewer())
