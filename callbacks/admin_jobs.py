"""Callbacks of /admin/jobs: refresh the scheduler view, run a job now (admins only)."""
from __future__ import annotations

import logging

from dash import ALL, Input, Output, ctx
from dash.exceptions import PreventUpdate
from sqlalchemy.exc import SQLAlchemyError

from bi_app import auth, current_settings, jobs
from callbacks._registry import callback
from components.ids import AdminJobs
from components.jobs_table import jobs_table, leader_card, runs_table
from components.notice import error_message

log = logging.getLogger(__name__)


@callback(
    Output(AdminJobs.LEADER, "children"), Output(AdminJobs.JOBS_TABLE, "children"),
    Output(AdminJobs.RUNS_TABLE, "children"),
    Input(AdminJobs.INTERVAL, "n_intervals"), Input(AdminJobs.RUN_STORE, "data"),
    roles=("admin", "analyst"),
)
def refresh(_ticks, _run):
    """Shows the current leader, every job's last and next run, and the newest runs."""
    tz = current_settings().timezone
    try:
        view = jobs.jobs_overview()
    except SQLAlchemyError:
        log.exception("jobs page: reading the scheduler tables failed")
        return error_message("Scheduler status"), None, None
    return (leader_card(view["status"], tz), jobs_table(view["jobs"], tz, can_run=auth.current_role() == "admin"),
            runs_table(view["runs"], tz))


@callback(
    Output(AdminJobs.MESSAGE, "children"), Output(AdminJobs.MESSAGE, "color"),
    Output(AdminJobs.MESSAGE, "is_open"), Output(AdminJobs.RUN_STORE, "data"),
    Input(AdminJobs.run_button(ALL), "n_clicks"),
    roles=("admin",), prevent_initial_call=True,
)
def run_now(clicks):
    """Starts the clicked job (through its cross-process lock) and says whether it started."""
    if not isinstance(ctx.triggered_id, dict) or not any(clicks or []):
        raise PreventUpdate
    result = jobs.run_job_now(str(ctx.triggered_id.get("job")), actor=None)
    return result["message"], "success" if result["ok"] else "warning", True, result["run_id"]
