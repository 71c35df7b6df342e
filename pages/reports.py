"""Reports: pick a period and sections, generate a PDF or workbook in the background with
progress, preview its first page, download it; the history of generated reports; the report
schedules (layouts: components/reports_view, components/report_schedules_view; files served by
bi_app.reports.routes)."""

import dash

from bi_app.i18n import N_, _, current_locale
from bi_app.reports.periods import local_today
from bi_app.roles import ADMINS, Page
from bi_app.viewer import current_viewer
from components import report_schedules_view as schedules_view
from components import reports_view as view


def title(**_path: object) -> str:
    """The browser tab's title, in the request's language."""
    return _("Reports · bi-app")


def description(**_path: object) -> str:
    """The page's meta description, in the request's language."""
    return _("Generate PDF and Excel reports of a period and download earlier ones")


dash.register_page(
    __name__,
    roles=Page.REPORTS,
    path="/reports",
    name=N_("Reports"),
    group="Business",
    order=50,
    title=title,
    description=description,
)


def layout(**query):
    can_edit = current_viewer().may(ADMINS)
    return view.layout(
        current_locale(), local_today(), schedules=schedules_view.schedules_card(can_edit)
    )
