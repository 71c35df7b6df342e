"""Admin → Jobs in a real browser: the leader is shown, "Run now" records a new run."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from bi_app import jobs
from components.ids import AdminJobs
from tests.conftest import free_port, login

pytestmark = pytest.mark.e2e


@pytest.fixture
def scheduled_app(app_factory, demo_sqlite_url):
    app = app_factory(demo_sqlite_url)
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

    dash_duo.find_element('tr[data-job="refresh_rollups"] button').click()
    dash_duo.wait_for_contains_text(f"#{AdminJobs.MESSAGE}", "Started refresh_rollups", timeout=10)
    dash_duo.wait_for_contains_text(".admin-jobs-runs", "manual by admin", timeout=10)
    dash_duo.wait_for_contains_text('tr[data-job="refresh_rollups"]', "succeeded", timeout=20)
    assert dash_duo.get_logs() == []
