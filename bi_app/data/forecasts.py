"""Stored forecasts for the Forecasts page: the latest run of a series and its days, and the
progress of a refit. Nothing here fits a model (:mod:`bi_app.forecasting` does, in a job)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from bi_app.data._common import as_date, engine
from bi_app.data.cache import cached
from bi_app.db.forecast_models import ForecastPoint, ForecastRun

NAMESPACE = "forecasts"


def _run_dict(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "series": row.series,
        "status": row.status,
        "fitted_at": row.fitted_at,
        "history_start": as_date(row.history_start) if row.history_start else None,
        "history_end": as_date(row.history_end) if row.history_end else None,
        "horizon_days": int(row.horizon_days),
        "fit_seconds": row.fit_seconds,
        "params": dict(row.params or {}),
        "quality": dict(row.quality or {}),
        "error": row.error,
    }


@cached(NAMESPACE)
def latest_forecast(series: str) -> dict[str, Any] | None:
    """The latest run of ``series``: ``{"run": the latest ok run or None, "latest": the latest
    run of any status or None, "points": DataFrame day, yhat, yhat_lower, yhat_upper, actual}``;
    None when the series was never fitted."""
    runs = ForecastRun.__table__
    points = ForecastPoint.__table__
    columns = [c for c in runs.c if c.name != "model_json"]
    with engine().connect() as conn:
        latest = conn.execute(
            select(*columns).where(runs.c.series == series).order_by(runs.c.id.desc()).limit(1)
        ).first()
        if latest is None:
            return None
        ok = conn.execute(
            select(*columns)
            .where(runs.c.series == series, runs.c.status == "ok")
            .order_by(runs.c.id.desc())
            .limit(1)
        ).first()
        rows = []
        if ok is not None:
            rows = conn.execute(
                select(
                    points.c.day,
                    points.c.yhat,
                    points.c.yhat_lower,
                    points.c.yhat_upper,
                    points.c.actual,
                )
                .where(points.c.run_id == ok.id)
                .order_by(points.c.day)
            ).all()
    frame = pd.DataFrame(
        [(as_date(r[0]), *r[1:]) for r in rows],
        columns=["day", "yhat", "yhat_lower", "yhat_upper", "actual"],
    )
    return {
        "run": _run_dict(ok) if ok is not None else None,
        "latest": _run_dict(latest),
        "points": frame,
    }


def refit_progress(job_run_id: int, series_count: int) -> dict[str, Any]:
    """``{"state": running|succeeded|failed, "done", "total", "error"}`` of a ``forecast_fit``
    job run: ``done`` counts the series stored since it started. Not cached (it is polled)."""
    from bi_app.db.job_models import JobRun

    runs = ForecastRun.__table__
    with engine().connect() as conn:
        job = conn.execute(
            select(JobRun.status, JobRun.started_at, JobRun.error).where(JobRun.id == job_run_id)
        ).first()
        if job is None:
            raise LookupError(f"no job run {job_run_id}")
        since = job.started_at
        if not isinstance(since, dt.datetime):
            since = dt.datetime.fromisoformat(str(since))
        done = conn.execute(
            select(func.count()).select_from(runs).where(runs.c.fitted_at >= since)
        ).scalar_one()
    state = {"running": "running", "succeeded": "succeeded"}.get(job.status, "failed")
    error = (job.error or "failed").splitlines()[0] if state == "failed" else None
    return {
        "state": state,
        "done": min(int(done), series_count),
        "total": series_count,
        "error": error,
    }
