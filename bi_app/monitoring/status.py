"""``bi-app status``: overall health, every check, the scheduler leader and late jobs."""

from __future__ import annotations

import sys
from typing import TextIO

import flask

from bi_app.config import Settings
from bi_app.monitoring import health, rules

_MARK = {rules.HEALTHY: "ok  ", rules.DEGRADED: "WARN", rules.UNHEALTHY: "FAIL"}


def format_report(report: health.HealthReport) -> list[str]:
    lines = [
        (
            f"overall: {report.status.upper()}  (checked {report.at:%Y-%m-%d %H:%M:%S} UTC "
            f"in {report.duration_ms:.0f} ms)"
        )
    ]
    for check in report.checks:
        latency = f"{check.latency_ms:8.1f} ms" if check.latency_ms is not None else "        - "
        note = f"  {check.error}" if check.error else ""
        lines.append(f"  [{_MARK[check.status]}] {check.name:<28} {latency}{note}")
    scheduler = report.check("scheduler")
    if scheduler is not None and scheduler.detail:
        leader = scheduler.detail.get("leader") or "none"
        late = scheduler.detail.get("late_jobs") or []
        names = (
            [item.get("name", "?") if isinstance(item, dict) else str(item) for item in late]
            if isinstance(late, list)
            else []
        )
        late_text = ", ".join(names) if names else str(late or "none")
        lines.append(f"scheduler leader: {leader}; late jobs: {late_text}")
    return lines


def cli_status(settings: Settings | None = None, out: TextIO | None = None) -> int:
    """Run every check live (nothing stored) and print them; exit 1 when unhealthy, else 0."""
    from bi_app.extensions import db

    out = out or sys.stdout
    settings = settings or Settings.from_env()
    if db.engine is None:
        db.init(settings.database_url)
    if flask.has_app_context():
        report = health.run_health_checks(settings, store=False, keep=False)
    else:  # the scheduler status reads the job list from an app context, even outside the server
        with flask.Flask("bi-app-status").app_context():
            report = health.run_health_checks(settings, store=False, keep=False)
    for line in format_report(report):
        print(line, file=out)
    return 1 if report.status == rules.UNHEALTHY else 0
