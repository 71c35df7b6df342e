"""CLI helpers, wired as ``bi-app jobs list|run NAME``."""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from bi_app.config import Settings
from bi_app.jobs.status import job_specs, list_jobs, run_job_now, scheduler_status


def _cli_app() -> Any:
    from dataclasses import replace

    from bi_app import create_app
    from bi_app.config import load_dotenv_once

    load_dotenv_once()
    return create_app(replace(Settings.from_env(), scheduler=False))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def cli_list() -> int:
    """Print every job with its schedule, last result and next run; and who leads."""
    app = _cli_app()
    with app.server.app_context():
        jobs, status = list_jobs(), scheduler_status()
    lead = status["leader"]
    print(
        f"leader: {lead['host']}:{lead['pid']} (heartbeat {_fmt(lead['heartbeat_at'])} UTC)"
        if lead
        else "leader: none (no scheduler process is running)"
    )
    print(
        f"{'JOB':<18} {'SCHEDULE':<22} {'LAST':<10} {'FINISHED (UTC)':<20} {'MS':>7}  "
        f"{'NEXT (UTC)':<20} ERROR"
    )
    for job in jobs:
        error = (job["last_error"] or "").splitlines()[0][:60] if job["last_error"] else ""
        print(
            f"{job['name']:<18} {job['trigger']:<22} {_fmt(job['last_status']):<10} "
            f"{_fmt(job['last_finished_at']):<20} {_fmt(job['last_duration_ms']):>7}  "
            f"{_fmt(job['next_run']):<20} {error}"
        )
    return 0


def cli_run(name: str) -> int:
    """Run one job in this process and wait; exit status 0 only when it succeeded."""
    app = _cli_app()
    with app.server.app_context():
        if name not in job_specs():
            print(
                f"bi-app: unknown job {name!r} (known: {', '.join(job_specs())})", file=sys.stderr
            )
            return 2
        result = run_job_now(name, "cli", wait=True)
    print(
        f"{name}: {result['status']} in {_fmt(result.get('duration_ms'))} ms (run "
        f"{result['run_id']})"
    )
    if result["error"]:
        print(result["error"], file=sys.stderr)
    return 0 if result["status"] == "succeeded" else 1
