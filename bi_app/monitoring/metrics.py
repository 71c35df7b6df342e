"""Per-minute request and callback metrics: an in-memory aggregator, its flush and roll-ups.

Every process (gunicorn worker) aggregates its own traffic per minute into bounded histograms
(:mod:`bi_app.monitoring.histogram`) and flushes completed minutes as rows tagged with its
``source``; readers merge rows from all sources. ``rollup_minute`` runs every minute as the
``metrics_rollup`` job on the leader; other workers flush their own minutes from the request
path (see :mod:`bi_app.monitoring.middleware`), so no worker's traffic is lost.
``purge_old`` (hourly) rolls completed hours up into ``request_metrics_hour`` and purges by age.
The cumulative counters of ``/metrics`` are :mod:`bi_app.monitoring.prometheus`'s, not these.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from bi_app.db.monitoring_models import CacheMetricMinute, RequestMetricHour, RequestMetricMinute
from bi_app.monitoring.histogram import Histogram

log = logging.getLogger(__name__)

MAX_SERIES_PER_MINUTE = 500  # beyond this, new names fold into OTHER so memory stays bounded
OTHER = "<other>"
KEEP_UNFLUSHED_S = 3600  # if the database stays down, older minutes are dropped, not hoarded
MINUTE_RETENTION = dt.timedelta(days=1)
HOUR_RETENTION = dt.timedelta(days=30)
CACHE_MINUTE_RETENTION = dt.timedelta(days=1)
CACHE_RETENTION = dt.timedelta(days=30)
# Hours are rolled up only when every worker has had time to flush their last minutes.
ROLLUP_GRACE = dt.timedelta(minutes=10)

Key = tuple[str, str, str]  # (kind, name, method)


def source() -> str:
    """host:pid of this process (computed on each call: gunicorn forks after import)."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Series:
    hist: Histogram = field(default_factory=Histogram)
    errors: int = 0


class MinuteAggregator:
    """Thread-safe per-minute aggregation with bounded memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[int, dict[Key, Series]] = {}

    def record(
        self,
        kind: str,
        name: str,
        method: str,
        status: int,
        duration_ms: float,
        now: float | None = None,
    ) -> None:
        minute = int((time.time() if now is None else now) // 60) * 60
        error = status >= 500
        with self._lock:
            series_map = self._minutes.get(minute)
            if series_map is None:
                series_map = self._minutes[minute] = {}
            key = (kind, name, method)
            series = series_map.get(key)
            if series is None:
                if len(series_map) >= MAX_SERIES_PER_MINUTE:
                    key = (kind, OTHER, method)
                    series = series_map.get(key)
                if series is None:
                    series = series_map[key] = Series()
            series.hist.add(duration_ms)
            if error:
                series.errors += 1

    def pop_completed(self, now: float | None = None) -> dict[int, dict[Key, Series]]:
        """Remove and return every minute that has ended."""
        current = int((time.time() if now is None else now) // 60) * 60
        with self._lock:
            done = {m: s for m, s in self._minutes.items() if m < current}
            for minute in done:
                del self._minutes[minute]
        return done

    def has_completed(self, now: float | None = None) -> bool:
        current = int((time.time() if now is None else now) // 60) * 60
        with self._lock:
            return any(m < current for m in self._minutes)

    def restore(self, minutes: dict[int, dict[Key, Series]], now: float | None = None) -> None:
        """Put back minutes whose flush failed, dropping those too old to keep."""
        oldest = (time.time() if now is None else now) - KEEP_UNFLUSHED_S
        with self._lock:
            for minute, series_map in minutes.items():
                if minute < oldest:
                    continue
                target = self._minutes.setdefault(minute, {})
                for key, series in series_map.items():
                    mine = target.setdefault(key, Series())
                    mine.hist.merge(series.hist)
                    mine.errors += series.errors

    def pending_minutes(self) -> int:
        with self._lock:
            return len(self._minutes)


AGGREGATOR = MinuteAggregator()
_flush_lock = threading.Lock()
_cache_last: dict[str, int] = {}


def _to_dt(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None)


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def metric_rows(minutes: dict[int, dict[Key, Series]], src: str) -> list[dict[str, Any]]:
    rows = []
    for minute, series_map in sorted(minutes.items()):
        for (kind, name, method), series in series_map.items():
            h = series.hist
            rows.append(
                {
                    "bucket": _to_dt(minute),
                    "source": src,
                    "kind": kind,
                    "name": name[:300],
                    "method": method[:8],
                    "count": h.count,
                    "errors": series.errors,
                    "sum_ms": h.sum_ms,
                    "max_ms": h.max_ms,
                    "p50_ms": h.percentile(50),
                    "p95_ms": h.percentile(95),
                    "buckets": h.to_json(),
                }
            )
    return rows


def _cache_delta() -> tuple[int, int] | None:
    """Hits and misses since the last call, from the data layer's cumulative counters."""
    try:
        from bi_app.data.cache import cache_stats  # written by the data layer; optional
    except ImportError:
        return None
    try:
        stats = cache_stats()
        hits, misses = int(stats["hits"]), int(stats["misses"])
    except Exception:
        log.debug("cache_stats() unavailable", exc_info=True)
        return None
    prev_hits, prev_misses = _cache_last.get("hits"), _cache_last.get("misses")
    _cache_last.update(hits=hits, misses=misses)
    if prev_hits is None or prev_misses is None or hits < prev_hits or misses < prev_misses:
        return None  # first reading (or counters reset): no interval to report yet
    return hits - prev_hits, misses - prev_misses


def rollup_minute(
    engine: Engine | None = None,
    now: float | None = None,
    aggregator: MinuteAggregator | None = None,
) -> int:
    """Flush this process's completed minutes (and its cache hit/miss
    delta); returns rows written."""
    aggregator = aggregator or AGGREGATOR
    if not _flush_lock.acquire(blocking=False):
        return 0  # another thread of this process is flushing right now
    try:
        minutes = aggregator.pop_completed(now)
        src = source()
        rows = metric_rows(minutes, src)
        cache = _cache_delta()
        if not rows and cache is None:
            return 0
        current = int((time.time() if now is None else now) // 60) * 60
        try:
            with _engine(engine).begin() as conn:
                if rows:
                    conn.execute(insert(RequestMetricMinute), rows)
                if cache is not None and (cache[0] or cache[1]):
                    conn.execute(
                        insert(CacheMetricMinute).values(
                            bucket=_to_dt(current - 60), source=src, hits=cache[0], misses=cache[1]
                        )
                    )
        except Exception:
            aggregator.restore(minutes, now)
            log.warning(
                "metrics flush failed; %d minute(s) kept in memory", len(minutes), exc_info=True
            )
            return 0
        return len(rows)
    finally:
        _flush_lock.release()


# --- hourly roll-up and purge ----------------------------------------------------------------


def _floor_hour(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def rolled_until(conn) -> dt.datetime | None:
    """End of the last hour already rolled up (minute rows before it are in the hour table)."""
    last = conn.execute(select(func.max(RequestMetricHour.bucket))).scalar()
    return None if last is None else last + dt.timedelta(hours=1)


def merge_rows(
    rows: Iterable[Any], key_fields: tuple[str, ...]
) -> dict[tuple, tuple[Histogram, int]]:
    """Merge stored metric rows by ``key_fields`` into (histogram, errors)."""
    out: dict[tuple, tuple[Histogram, int]] = {}
    for row in rows:
        key = tuple(getattr(row, f) for f in key_fields)
        hist = Histogram.from_row(row.buckets, row.count, row.sum_ms, row.max_ms)
        if key in out:
            out[key][0].merge(hist)
            out[key] = (out[key][0], out[key][1] + row.errors)
        else:
            out[key] = (hist, row.errors)
    return out


def _rollup_hours(conn, now: dt.datetime) -> int:
    limit = _floor_hour(now - ROLLUP_GRACE)
    done = rolled_until(conn)
    query = select(func.min(RequestMetricMinute.bucket))
    first = conn.execute(
        query if done is None else query.where(RequestMetricMinute.bucket >= done)
    ).scalar()
    if first is None:
        return 0
    start = _floor_hour(first)  # skips idle hours instead of visiting each one
    written = 0
    hour = start
    while hour < limit:
        end = hour + dt.timedelta(hours=1)
        rows = conn.execute(
            select(*RequestMetricMinute.__table__.c).where(
                RequestMetricMinute.bucket >= hour, RequestMetricMinute.bucket < end
            )
        ).all()
        merged = merge_rows(rows, ("source", "kind", "name", "method"))
        out = [
            {
                "bucket": hour,
                "source": src,
                "kind": kind,
                "name": name,
                "method": method,
                "count": h.count,
                "errors": errors,
                "sum_ms": h.sum_ms,
                "max_ms": h.max_ms,
                "p50_ms": h.percentile(50),
                "p95_ms": h.percentile(95),
                "buckets": h.to_json(),
            }
            for (src, kind, name, method), (h, errors) in merged.items()
        ]
        if out:
            conn.execute(insert(RequestMetricHour), out)
            written += len(out)
        hour = end
    return written


def _compact_cache(conn, before: dt.datetime) -> None:
    """Fold per-minute cache rows older than ``before`` into one row per hour."""
    rows = conn.execute(
        select(CacheMetricMinute.bucket, CacheMetricMinute.hits, CacheMetricMinute.misses).where(
            CacheMetricMinute.bucket < before, CacheMetricMinute.source != "rollup"
        )
    ).all()
    if not rows:
        return
    per_hour: dict[dt.datetime, list[int]] = defaultdict(lambda: [0, 0])
    for bucket, hits, misses in rows:
        per_hour[_floor_hour(bucket)][0] += hits
        per_hour[_floor_hour(bucket)][1] += misses
    conn.execute(
        delete(CacheMetricMinute).where(
            CacheMetricMinute.bucket < before, CacheMetricMinute.source != "rollup"
        )
    )
    conn.execute(
        insert(CacheMetricMinute),
        [
            {"bucket": h, "source": "rollup", "hits": v[0], "misses": v[1]}
            for h, v in per_hour.items()
        ],
    )


def purge_old(engine: Engine | None = None, now: dt.datetime | None = None) -> dict[str, int]:
    """Roll completed hours up, then delete minute rows older than a day and everything past
    its retention (health and resource series: 7 days; hourly metrics: 30 days)."""
    from bi_app.db.monitoring_models import HealthResult, ResourceSample

    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with _engine(engine).begin() as conn:
        hours = _rollup_hours(conn, now)
        safe = min(now - MINUTE_RETENTION, rolled_until(conn) or now - MINUTE_RETENTION)
        minutes = conn.execute(
            delete(RequestMetricMinute).where(RequestMetricMinute.bucket < safe)
        ).rowcount
        old_hours = conn.execute(
            delete(RequestMetricHour).where(RequestMetricHour.bucket < now - HOUR_RETENTION)
        ).rowcount
        _compact_cache(conn, _floor_hour(now - CACHE_MINUTE_RETENTION))
        conn.execute(
            delete(CacheMetricMinute).where(CacheMetricMinute.bucket < now - CACHE_RETENTION)
        )
        health = conn.execute(
            delete(HealthResult).where(HealthResult.at < now - dt.timedelta(days=7))
        ).rowcount
        resources = conn.execute(
            delete(ResourceSample).where(ResourceSample.at < now - dt.timedelta(days=7))
        ).rowcount
    return {
        "hour_rows_written": hours,
        "minute_rows_deleted": minutes,
        "hour_rows_deleted": old_hours,
        "health_rows_deleted": health,
        "resource_rows_deleted": resources,
    }
