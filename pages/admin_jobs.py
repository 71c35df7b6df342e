"""/admin/jobs: the scheduler's leader and heartbeat, every job's last and next run, "Run now"."""

import dash

from bi_app import current_settings
from bi_app.i18n import N_
from bi_app.roles import Page
from components import admin_jobs_view as view

dash.register_page(
    __name__, path="/admin/jobs", name=N_("Jobs"), group="Admin", order=90, roles=Page.ADMIN_JOBS
)


def layout(**query):
    return view.layout(current_settings().refresh_ms)
