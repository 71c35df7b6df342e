"""What the Health and Performance pages show, read from memory and the monitoring tables.

Everything here fails soft: with the database down the health snapshot still carries the last
in-memory report and resource samples plus ``database_error`` for the page to say so.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from bi_app.config import Settings
from bi_app.db.monitoring_models import (
    OVERALL_CHECK,
    CacheMetricMinute,
    HealthResult,
    RequestMetricHour,
    RequestMetricMinute,
)
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _
from bi_app.monitoring import health, metrics, resources, rules
from bi_app.monitoring.breakers import breaker_states
from bi_app.monitoring.histogram import Histogram

log = logging.getLogger(__name__)

RANGES: dict[str, tuple[dt.timedelta, dt.timedelta]] = {
    # range key -> (window, point size on the time axis)
    "1h": (dt.timedelta(hours=1), dt.timedelta(minutes=1)),
    "24h": (dt.timedelta(hours=24), dt.timedelta(hours=1)),
    "7d": (dt.timedelta(days=7), dt.timedelta(hours=1)),
}
DEFAULT_RANGE = "1h"
TOP_NAMES = 12


@dataclass
class HealthSnapshot:
    report: health.HealthReport
    history: dict[str, list[tuple[dt.datetime, float | None]]] = field(default_factory=dict)
    resources: list[dict[str, Any]] = field(default_factory=list)
    breakers: list[dict[str, Any]] = field(default_factory=list)
    database_error: str | None = None


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]


def check_history(
    engine: Engine, since: dt.datetime
) -> dict[str, list[tuple[dt.datetime, float | None]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(HealthResult.check_name, HealthResult.at, HealthResult.latency_ms)
            .where(HealthResult.at >= since, HealthResult.check_name != OVERALL_CHECK)
            .order_by(HealthResult.at)
        ).all()
    out: dict[str, list[tuple[dt.datetime, float | None]]] = defaultdict(list)
    for name, at, latency in rows:
        out[name].append((at, latency))
    return dict(out)


def health_snapshot(
    settings: Settings | None = None,
    engine: Engine | None = None,
    window: dt.timedelta = dt.timedelta(hours=1),
    max_age_s: float = 45.0,
) -> HealthSnapshot:
    """The current report with an hour of latency history and resource samples."""
    from bi_app.extensions import db

    engine = engine or db.engine
    report = shown_report(health.current_report(settings, max_age_s=max_age_s, engine=engine))
    snapshot = HealthSnapshot(report, breakers=breaker_states())
    since = health.utcnow() - window
    try:
        if engine is None:
            raise RuntimeError("database not initialised")
        snapshot.history = check_history(engine, since)
        snapshot.resources = resources.stored_samples(engine, since)
    except Exception as exc:  # noqa: BLE001 - the page shows the in-memory state instead
        log.warning("health page: monitoring tables unavailable: %s", _reason(exc))
        snapshot.database_error = _reason(exc)
        snapshot.resources = [s for s in resources.recent_samples() if s["at"] >= since]
    db_check = report.check("database")
    if snapshot.database_error is None and db_check is not None and db_check.status == "unhealthy":
        snapshot.database_error = db_check.error or _(rules.DATABASE_UNREACHABLE)
    return snapshot


def shown_report(report: health.HealthReport) -> health.HealthReport:
    """``report`` with its checks' reasons in the current locale (a copy: the report in memory
    is shared by every request); the report itself when nothing changes (English)."""
    checks = [
        dataclasses.replace(check, error=rules.localized_reason(check.error))
        for check in report.checks
    ]
    if all(new.error == old.error for new, old in zip(checks, report.checks, strict=True)):
        return report
    return dataclasses.replace(report, checks=checks)


# --- performance ---------------------------------------------------------------------------


@dataclass
class PerformanceData:
    range_key: str
    start: dt.datetime
    end: dt.datetime
    endpoints: list[dict[str, Any]]  # name, method, count, errors, p50_ms, p95_ms
    callbacks: list[dict[str, Any]]
    times: list[dt.datetime]
    throughput_per_min: list[float]
    error_rate: list[float | None]
    p50_ms: list[float | None]
    p95_ms: list[float | None]
    cache_times: list[dt.datetime]
    cache_hit_rate: list[float | None]


def parse_range(value: object) -> str:
    return value if isinstance(value, str) and value in RANGES else DEFAULT_RANGE


def _floor(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    seconds = int(step.total_seconds())
    epoch = int(moment.replace(tzinfo=dt.UTC).timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC).replace(tzinfo=None)


def _metric_rows(engine: Engine, start: dt.datetime, end: dt.datetime) -> list[Any]:
    """Hour rows where hours are rolled up, minute rows after that: never both for one moment."""
    with engine.connect() as conn:
        boundary = metrics.rolled_until(conn) or start
        boundary = max(boundary, start)
        cols = (
            "bucket",
            "kind",
            "name",
            "method",
            "count",
            "errors",
            "sum_ms",
            "max_ms",
            "buckets",
        )
        hour_rows = (
            conn.execute(
                select(*(getattr(RequestMetricHour, c) for c in cols)).where(
                    RequestMetricHour.bucket >= _floor(start, dt.timedelta(hours=1)),
                    RequestMetricHour.bucket < boundary,
                )
            ).all()
            if boundary > start
            else []
        )
        minute_rows = conn.execute(
            select(*(getattr(RequestMetricMinute, c) for c in cols)).where(
                RequestMetricMinute.bucket >= boundary, RequestMetricMinute.bucket < end
            )
        ).all()
    return list(hour_rows) + list(minute_rows)


def _summaries(merged: dict[tuple, tuple[Histogram, int]], kind: str) -> list[dict[str, Any]]:
    items = [
        {
            "name": name,
            "method": method,
            "count": h.count,
            "errors": errors,
            "p50_ms": h.percentile(50),
            "p95_ms": h.percentile(95),
        }
        for (k, name, method), (h, errors) in merged.items()
        if k == kind
    ]
    items.sort(key=lambda d: d["p95_ms"] * d["count"], reverse=True)  # where the time goes
    return items[:TOP_NAMES]


@unavailable_on_database_error(N_("Performance data"))
def performance_data(
    range_key: str, engine: Engine | None = None, now: dt.datetime | None = None
) -> PerformanceData:
    """Response times by endpoint and callback, throughput, error rate and cache hit rate."""
    from bi_app.extensions import db

    engine = engine or db.require_engine()
    range_key = parse_range(range_key)
    window, step = RANGES[range_key]
    end = now or health.utcnow()
    start = end - window
    rows = _metric_rows(engine, start, end)
    by_name = metrics.merge_rows(rows, ("kind", "name", "method"))
    http_rows = [r for r in rows if r.kind == "http"]
    per_point: dict[dt.datetime, tuple[Histogram, int]] = {
        key[0]: value
        for key, value in metrics.merge_rows(
            [_Rebucketed(r, _floor(r.bucket, step)) for r in http_rows], ("bucket",)
        ).items()
    }
    times = [_floor(start, step) + i * step for i in range(int(window / step) + 1)]
    minutes = step.total_seconds() / 60.0
    throughput, errors, p50, p95 = [], [], [], []
    for t in times:
        h, errs = per_point.get(t, (None, 0))
        count = h.count if h else 0
        throughput.append(count / minutes)
        errors.append(errs / count if count else None)
        p50.append(h.percentile(50) if count else None)
        p95.append(h.percentile(95) if count else None)
    cache_times, hit_rate = _cache_series(engine, start, end, step)
    return PerformanceData(
        range_key,
        start,
        end,
        _summaries(by_name, "http"),
        _summaries(by_name, "callback"),
        times,
        throughput,
        errors,
        p50,
        p95,
        cache_times,
        hit_rate,
    )


class _Rebucketed:
    """A metric row seen with its bucket moved to the chart's point size."""

    def __init__(self, row: Any, bucket: dt.datetime) -> None:
        self._row, self.bucket = row, bucket

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _cache_series(
    engine: Engine, start: dt.datetime, end: dt.datetime, step: dt.timedelta
) -> tuple[list[dt.datetime], list[float | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                CacheMetricMinute.bucket,
                func.sum(CacheMetricMinute.hits),
                func.sum(CacheMetricMinute.misses),
            )
            .where(CacheMetricMinute.bucket >= start, CacheMetricMinute.bucket < end)
            .group_by(CacheMetricMinute.bucket)
        ).all()
    per_point: dict[dt.datetime, list[int]] = defaultdict(lambda: [0, 0])
    for bucket, hits, misses in rows:
        point = per_point[_floor(bucket, step)]
        point[0] += int(hits or 0)
        point[1] += int(misses or 0)
    times = sorted(per_point)
    return times, [
        per_point[t][0] / sum(per_point[t]) if sum(per_point[t]) else None for t in times
    ]
