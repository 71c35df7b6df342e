"""Stored forecasts for the Forecasts page: the latest run of a series (the totals, or one
platform's or category's) and its days, the filters stored runs exist for, the recent deviation
findings, and the progress of a refit. Nothing here fits a model (:mod:`bi_app.forecasting` does,
in a job)."""

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
        "filter_key": row.filter_key or "",
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


@cached(NAMESPACE, keep_case=("filter_key",))
def latest_forecast(series: str, filter_key: str | None = None) -> dict[str, Any] | None:
    """The latest run of ``series`` (``filter_key``: one platform's or category's, None the
    totals): ``{"run": the latest ok run or None, "latest": the latest run of any status or None,
    "points": DataFrame day, yhat, yhat_lower, yhat_upper, actual}``; None when the series was
    never fitted."""
    runs = ForecastRun.__table__
    points = ForecastPoint.__table__
    columns = [c for c in runs.c if c.name != "model_json"]
    same = (runs.c.series == series, runs.c.filter_key == (filter_key or ""))
    with engine().connect() as conn:
        latest = conn.execute(
            select(*columns).where(*same).order_by(runs.c.id.desc()).limit(1)
        ).first()
        if latest is None:
            return None
        ok = conn.execute(
            select(*columns).where(*same, runs.c.status == "ok").order_by(runs.c.id.desc()).limit(1)
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


@cached(NAMESPACE, keep_case=("filter_key",))
def forecast_filters(series: str) -> list[dict[str, str]]:
    """The platforms and categories ``series`` has a stored ok run for: ``{"key", "kind",
    "code", "label"}`` (the label as stored with the latest run), platforms first, by label."""
    runs = ForecastRun.__table__
    latest = (
        select(func.max(runs.c.id))
        .where(runs.c.series == series, runs.c.status == "ok", runs.c.filter_key != "")
        .group_by(runs.c.filter_key)
    )
    with engine().connect() as conn:
        rows = conn.execute(select(runs.c.filter_key, runs.c.params).where(runs.c.id.in_(latest)))
        found = []
        for key, params in rows:
            kind, _sep, code = str(key).partition(":")
            label = str((params or {}).get("filter_label") or code)
            found.append({"key": key, "kind": kind, "code": code, "label": label})
    return sorted(found, key=lambda f: (f["kind"] != "platform", f["label"].lower(), f["key"]))


@cached(NAMESPACE)
def recent_deviations(since: dt.date, until: dt.date | None = None) -> list[dict[str, Any]]:
    """The deviation findings of the totals' series on the days ``since..until``
    (:func:`bi_app.forecasting.deviations`), newest first, as plain rows: ``series``, ``day``,
    ``actual``, ``expected``, ``lower``, ``upper``, ``outside``, ``off_pct``."""
    from bi_app.forecasting import deviations

    found = deviations(engine(), as_date(since), as_date(until) if until else None)
    return [
        {
            "series": d.series,
            "filter_key": d.filter_key,
            "day": d.day,
            "actual": d.actual,
            "expected": d.expected,
            "lower": d.lower,
            "upper": d.upper,
            "outside": d.outside,
            "off_pct": d.off_pct,
        }
        for d in found
    ]


def refit_progress(job_run_id: int, series_count: int) -> dict[str, Any]:
    """``{"state": running|succeeded|failed, "done", "total", "error"}`` of a ``forecast_fit``
    job run: ``done`` counts the series (totals) stored since it started; the platform and
    category fits follow them. Not cached (it is polled)."""
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
            select(func.count())
            .select_from(runs)
            .where(runs.c.fitted_at >= since, runs.c.filter_key == "")
        ).scalar_one()
    state = {"running": "running", "succeeded": "succeeded"}.get(job.status, "failed")
    error = (job.error or "failed").splitlines()[0] if state == "failed" else None
    return {
        "state": state,
        "done": min(int(done), series_count),
        "total": series_count,
        "error": error,
    }
