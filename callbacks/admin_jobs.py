"""Callbacks of /admin/jobs: refresh the scheduler view, run a job now (admins only)."""

from __future__ import annotations

import logging

from dash import ALL, Input, Output, ctx
from dash.exceptions import PreventUpdate

from bi_app import auth, current_settings, jobs
from bi_app.i18n import N_
from bi_app.roles import Action, Page
from callbacks._registry import callback
from components import fallback
from components.admin_jobs_view import jobs_table, leader_card, runs_table
from components.ids import AdminJobs

log = logging.getLogger(__name__)


@callback(
    Output(AdminJobs.LEADER, "children"),
    Output(AdminJobs.JOBS_TABLE, "children"),
    Output(AdminJobs.RUNS_TABLE, "children"),
    Input(AdminJobs.INTERVAL, "n_intervals"),
    Input(AdminJobs.RUN_STORE, "data"),
    roles=Page.ADMIN_JOBS,
    fallback=fallback.each(
        fallback.message(N_("Scheduler status")), fallback.value(None), fallback.value(None)
    ),
)
def refresh(_ticks, _run):
    """Shows the current leader, every job's last and next run, and the newest runs."""
    tz = current_settings().timezone
    overview = jobs.jobs_overview()
    return (
        leader_card(overview["status"], tz),
        jobs_table(overview["jobs"], tz, can_run=auth.current_role() in Action.RUN_JOB_NOW),
        runs_table(overview["runs"], tz),
    )


@callback(
    Output(AdminJobs.MESSAGE, "children"),
    Output(AdminJobs.MESSAGE, "color"),
    Output(AdminJobs.MESSAGE, "is_open"),
    Output(AdminJobs.RUN_STORE, "data"),
    Input(AdminJobs.run_button(ALL), "n_clicks"),
    roles=Action.RUN_JOB_NOW,
    prevent_initial_call=True,
)
def run_now(clicks):
    """Starts the clicked job (through its cross-process lock) and says whether it started."""
    if not isinstance(ctx.triggered_id, dict) or not any(clicks or []):
        raise PreventUpdate
    result = jobs.run_job_now(str(ctx.triggered_id.get("job")), actor=None)
    return result["message"], "success" if result["ok"] else "warning", True, result["run_id"]
