"""Admin → Jobs in a real browser: the leader is shown, the slots a missing leader left
unrun are shown as gaps, "Run now" records a new run."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import replace

import pytest

from bi_app import jobs
from bi_app.db.job_models import JobRun
from components.ids import AdminJobs
from tests.conftest import free_port, login

pytestmark = pytest.mark.e2e


@pytest.fixture
def scheduled_app(app_factory, demo_sqlite_url):
    app = app_factory(demo_sqlite_url)
    # refresh_rollups (every 15 min) last ran three slots ago: the two since were missed
    now = dt.datetime.now(dt.UTC)
    last = now - dt.timedelta(seconds=now.timestamp() % 900 + 1800)
    from bi_app.extensions import db

    with db.session() as session:
        session.add(
            JobRun(
                job_name="refresh_rollups",
                run_trigger="scheduled",
                host="old-host",
                pid=1,
                scheduled_for=last.replace(tzinfo=None),
                started_at=last.replace(tzinfo=None),
                finished_at=last.replace(tzinfo=None),
                status="succeeded",
            )
        )
        session.commit()
    settings = replace(app.server.config["BI_SETTINGS"], scheduler=True)
    jobs.init_app(app, settings, jobs.JOBS, tick_seconds=0.5)
    yield app
    jobs.shutdown()


def test_admin_sees_the_leader_and_runs_a_job_now(scheduled_app, dash_duo):
    # "/" now redirects to the (non-Dash) login form, so the fixture's wait for the Dash page
    # cannot succeed; set the base URL without that wait (dash.testing has no public way).
    dash_duo.start_server(scheduled_app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url
    login(dash_duo, next_path="/admin/jobs")
    dash_duo.wait_for_contains_text(".admin-jobs-leader", f"(pid {os.getpid()})", timeout=15)
    dash_duo.wait_for_contains_text('tr[data-job="health_checks"]', "every 30 s", timeout=10)
    row = 'tr[data-job="refresh_rollups"]'
    dash_duo.wait_for_contains_text(f"{row} .admin-jobs-gaps", "missed", timeout=10)
    states = [
        mark.get_attribute("data-state")
        for mark in dash_duo.find_elements(f"{row} .admin-jobs-slot")
    ]
    assert states[0] == "ok" and states[1:3] == ["missed", "missed"], states

    dash_duo.find_element('tr[data-job="refresh_rollups"] button').click()
    dash_duo.wait_for_contains_text(f"#{AdminJobs.MESSAGE}", "Started refresh_rollups", timeout=10)
    dash_duo.wait_for_contains_text(".admin-jobs-runs", "manual by admin", timeout=10)
    dash_duo.wait_for_contains_text('tr[data-job="refresh_rollups"]', "succeeded", timeout=20)
    assert dash_duo.get_logs() == []
