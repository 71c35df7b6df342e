"""What alert rules read: the values a rule tests, from data the app already records.

Nothing here knows Dash or Flask (the business time zone is :func:`bi_app.db.periods.
business_timezone`'s, which also works outside an app). Every read takes an ``engine`` and a
``now`` (naive UTC); a database error or an unknown metric raises :class:`SourceError`.

Definitions (``w`` = ``params.window_minutes``, default 5; windows end at ``now`` floored to the
minute, so they hold complete minutes only):

* ``http_error_rate`` / ``callback_error_rate`` — 100 × errors / requests over the last ``w``
  minutes, every worker's rows summed (None without a request).
* ``http_p95_ms`` / ``callback_p95_ms`` — the 95th percentile of the merged latency histograms
  of the window (exactly :class:`bi_app.monitoring.histogram.Histogram`'s answer over all rows).
* ``cache_hit_rate`` — 100 × hits / (hits + misses) over the window.
* ``cpu_percent`` / ``memory_percent`` / ``disk_free_percent`` (100 − disk use) — the latest
  resource sample of each host in the window; one sample per host, labels ``{"host": source}``.
* ``jobs_late`` — how many jobs are late now, by the rules of the Admin → Jobs page
  (:func:`bi_app.jobs.status.scheduler_status`): overdue on the leader's schedule by more than
  their misfire grace, or started late (> ``LATE_MS``), skipped or missed in the last hour (or
  the last ``window_minutes``).
* health rules: the metric is a check name; the value is how many of its most recent runs in a
  row were ``unhealthy`` (with ``params.status == "degraded"``: degraded or unhealthy).
* ``revenue_day`` (currency units) / ``orders_day`` — orders with a revenue status on the local
  business day ``params.day`` (``"yesterday"``, default, or ``"today"`` so far), from
  ``daily_orders``; 0 on a day without such orders, None before the first roll-up day.
* ``event_attendance_rate`` — per running event, 100 × attended / registrations (labels
  ``event``, ``event_name``); events without registrations give no sample.
* ``treasury_cold_share`` / ``treasury_hot_coverage`` — the Treasury page's figures: the cold
  tier's share of the total balance, and the hot balance as a percentage of the average daily
  withdrawals of 30 days (accounts in the currency most of them use).
* ``transaction_risk`` — one sample per transaction the scoring job rated (level 1 low …
  4 critical) within ``window_minutes`` (a day by default), labelled with its reference.
* ``capacity_level_pct`` — per consumable resource (transaction energy, API quota), its latest
  level as a percentage of its capacity (:func:`bi_app.capacity.current_levels`); the series is
  its samples (:func:`bi_app.capacity.level_series`).
* ``churn_likely_customers`` — customers whose churn probability (the churn classifier's latest
  scoring, :mod:`bi_app.models.churn`) is at least :data:`CHURN_LIKELY` (80 %); no sample
  before a first scoring. Scores are not kept per day: the series is the latest scoring's
  count, at the moment it was scored.
* ``forecast_band_misses`` — per forecast series (whole business), how many of the last
  :data:`BAND_MISS_DAYS` (7) complete local days fell far outside the 80 % band of the forecast
  stored before the day: beyond an edge by more than half the band's width
  (:data:`BAND_MISS_TOLERANCE`; 20 % of days fall just outside an honest 80 % band). The
  series gives one sample per local day end.
* ``model_training_problems`` — per model of the registry, how many of its trainings failed or
  were rejected (worse than the active version) within ``window_minutes`` (a day by default);
  0 for a model whose trainings went well, so its alert clears.
* ``churn_risk_customers`` — customers carrying a churn-risk tag now (``params.tag`` narrows it
  to one tag).
* deviation rules: ``revenue_day`` / ``orders_day`` compare the day with the same weekday of the
  previous ``params.weeks`` (8) weeks; ``http_error_rate`` compares the last complete hour with
  the same hour of the previous ``params.days`` (7) days. The band is mean ± k·s (``params.k``,
  3) where s is the sample standard deviation floored at 5 % of the mean (:data:`STD_FLOOR`), so
  a flat history does not give a zero-width band. With fewer than :data:`MIN_HISTORY` history
  points the sample has no band (``expected`` None: the rule cannot judge). Days before the
  first roll-up day and hours without traffic are not history.

:func:`read_series` gives the samples a rule would have seen over ``[start, end)`` (a backtest,
an alert's chart): minute metrics one sample per 5 minutes up to :data:`FINE_RANGE`, per hour
beyond; where only hourly roll-ups remain (older than about a day) one sample per hour whatever
the range, each over its hour; percentile series (``*_p95_ms``) read minute histograms for the
last :data:`HISTOGRAM_FINE_SPAN` (6 h) of the range only and hourly roll-ups before (expanding
every minute row's histogram is what a long percentile series costs). A 5-minute sample
aggregates the last ``w`` minutes rounded to whole 5-minute steps; resource samples take each
host's latest sample of the step. Daily business metrics give one sample per local day (``at`` =
the day's local midnight in UTC, with its band for deviation rules); health rules one sample per
run; event attendance one sample per event and event day, at the day's end, counting
registrations made and check-ins done by then; churn-risk customers one sample per local day
end, from the tag history.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    Engine,
    Integer,
    and_,
    case,
    cast,
    extract,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError

from bi_app.db import periods
from bi_app.db.analytics_models import CustomerTag, CustomerTagHistory
from bi_app.db.job_models import JobRun, SchedulerNode
from bi_app.db.models import (
    REVENUE_STATUSES,
    Account,
    DailyOrders,
    Event,
    EventRegistration,
    Transaction,
)
from bi_app.db.monitoring_models import (
    OVERALL_CHECK,
    CacheMetricMinute,
    HealthResult,
    RequestMetricHour,
    RequestMetricMinute,
    ResourceSample,
)
from bi_app.i18n import N_, _
from bi_app.monitoring.histogram import Histogram, _bucket_bounds

__all__ = [
    "HEALTH_CHECKS",
    "METRICS",
    "Band",
    "MetricInfo",
    "Reader",
    "Sample",
    "SourceError",
    "health_check_names",
    "metrics_for_kind",
    "read_current",
    "read_series",
]

HOUR = dt.timedelta(hours=1)
MINUTE = dt.timedelta(minutes=1)
FINE_STEP = dt.timedelta(minutes=5)
FINE_RANGE = dt.timedelta(days=8)  # up to this range minute metrics step by 5 minutes
HISTOGRAM_FINE_SPAN = dt.timedelta(hours=6)  # percentile series: minute detail this far back
DEFAULT_WINDOW_MINUTES = 5
MAX_WINDOW_MINUTES = 24 * 60
HEALTH_LOOKBACK_RUNS = 100  # the consecutive count stops there
MIN_HISTORY = 3
STD_FLOOR = 0.05  # the band's standard deviation is at least this share of the mean
LATE_MS = 2000  # as bi_app.jobs.status.LATE_MS (that module needs Flask to import)
LATE_LOOKBACK = dt.timedelta(hours=1)
MAX_SERIES_DAYS = 400


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    mean: float


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float | None  # None: no data in the window (not an error)
    at: dt.datetime  # naive UTC: the moment the value describes
    expected: Band | None = None


class SourceError(Exception):
    """The rule's data could not be read (database down, unknown metric). ``str(exc)`` is
    English and safe to show; :meth:`localized` gives it in the current locale."""

    def __init__(self, template: str, **values: Any) -> None:
        self.template, self.values = template, values
        super().__init__(template % values if values else template)

    def localized(self) -> str:
        return _(self.template, **self.values)


UNKNOWN_KIND = N_("Unknown rule kind %(kind)s.")
UNKNOWN_METRIC = N_("A %(kind)s rule cannot read the metric %(metric)s.")
BAD_PARAM = N_("The parameter %(name)s has an invalid value: %(value)s")
DATABASE_ERROR = N_("The database could not be read: %(reason)s")
BAD_RANGE = N_("The end of the range must be after its start.")


@dataclass(frozen=True)
class MetricInfo:
    name: str
    label: str  # N_-marked English
    unit: str  # "percent", "ms", "count" or "money"
    kinds: tuple[str, ...]
    labels: tuple[str, ...] = field(default=())


METRICS: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("http_error_rate", N_("HTTP error rate"), "percent", ("threshold", "deviation")),
        MetricInfo("http_p95_ms", N_("HTTP p95 latency"), "ms", ("threshold",)),
        MetricInfo("callback_error_rate", N_("Callback error rate"), "percent", ("threshold",)),
        MetricInfo("callback_p95_ms", N_("Callback p95 latency"), "ms", ("threshold",)),
        MetricInfo("cache_hit_rate", N_("Cache hit rate"), "percent", ("threshold",)),
        MetricInfo("cpu_percent", N_("CPU use"), "percent", ("threshold",), ("host",)),
        MetricInfo("memory_percent", N_("Memory use"), "percent", ("threshold",), ("host",)),
        MetricInfo(
            "disk_free_percent", N_("Free disk space"), "percent", ("threshold",), ("host",)
        ),
        MetricInfo("jobs_late", N_("Late jobs"), "count", ("threshold",)),
        MetricInfo("revenue_day", N_("Revenue of the day"), "money", ("business", "deviation")),
        MetricInfo("orders_day", N_("Orders of the day"), "count", ("business", "deviation")),
        MetricInfo(
            "event_attendance_rate",
            N_("Event attendance rate"),
            "percent",
            ("business",),
            ("event", "event_name"),
        ),
        MetricInfo("churn_risk_customers", N_("Customers at churn risk"), "count", ("business",)),
        MetricInfo(
            "churn_likely_customers",
            N_("Customers likely to churn (probability 0.8 or more)"),
            "count",
            ("business",),
        ),
        MetricInfo(
            "treasury_cold_share", N_("Treasury: cold storage share"), "percent", ("business",)
        ),
        MetricInfo(
            "transaction_risk",
            N_("Transaction risk level (1 low – 4 critical)"),
            "count",
            ("business",),
            ("transaction", "level", "account"),
        ),
        MetricInfo(
            "capacity_level_pct",
            N_("Capacity: resource level"),
            "percent",
            ("business",),
            ("resource",),
        ),
        MetricInfo(
            "forecast_band_misses",
            N_("Days far outside the forecast band (last 7 days)"),
            "count",
            ("business",),
            ("series",),
        ),
        MetricInfo(
            "model_training_problems",
            N_("Model trainings failed or rejected"),
            "count",
            ("threshold",),
            ("model",),
        ),
        MetricInfo(
            "treasury_hot_coverage",
            N_("Treasury: hot balance per average daily withdrawals"),
            "percent",
            ("business",),
        ),
    )
}

# The checks the health job always stores, plus its overall status; monitored services are
# stored as "service:<name>" (bi_app.monitoring.services.ServiceSpec.check_name).
HEALTH_CHECKS: dict[str, str] = {
    "database": N_("Database"),
    "cache": N_("Cache"),
    "scheduler": N_("Scheduler"),
    "disk": N_("Disk"),
    OVERALL_CHECK: N_("Overall health"),
}
SERVICE_PREFIX = "service:"
HEALTH_LABEL = N_("Consecutive failed runs")


def metrics_for_kind(kind: str) -> list[MetricInfo]:
    """The metrics a rule of ``kind`` may use (health rules use check names instead)."""
    return [m for m in METRICS.values() if kind in m.kinds]


def health_check_names(engine: Engine) -> list[str]:
    """The check names a health rule may use: the fixed ones, every check stored so far and
    every enabled monitored service."""
    from bi_app.db.monitoring_models import MonitoredService

    names = set(HEALTH_CHECKS)

    def read(conn: Any) -> None:
        since = conn.execute(select(func.max(HealthResult.at))).scalar()
        if since is not None:
            names.update(
                conn.execute(
                    select(HealthResult.check_name)
                    .where(HealthResult.at >= since - dt.timedelta(days=1))
                    .distinct()
                ).scalars()
            )
        names.update(
            SERVICE_PREFIX + n
            for n in conn.execute(
                select(MonitoredService.name).where(MonitoredService.enabled.is_(True))
            ).scalars()
        )

    _with_connection(engine, read)
    return sorted(names)


# --- helpers ----------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    """The first line of the driver's message, short (no statement, no parameters)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


def _with_connection(engine: Engine, func_: Callable[[Any], Any]) -> Any:
    try:
        with engine.connect() as conn:
            return func_(conn)
    except SQLAlchemyError as exc:
        raise SourceError(DATABASE_ERROR, reason=_reason(exc)) from exc


def _naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def _floor(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    seconds = int(step.total_seconds())
    epoch = math.floor(moment.replace(tzinfo=dt.UTC).timestamp())
    return dt.datetime.fromtimestamp(epoch - epoch % seconds, dt.UTC).replace(tzinfo=None)


def _ceil(moment: dt.datetime, step: dt.timedelta) -> dt.datetime:
    floored = _floor(moment, step)
    return floored if floored == moment else floored + step


def _from_epoch(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(seconds), dt.UTC).replace(tzinfo=None)


def _number(params: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    raw = params.get(name, default)
    if raw is None:
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SourceError(BAD_PARAM, name=name, value=str(raw)[:40]) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise SourceError(BAD_PARAM, name=name, value=str(raw)[:40])
    return value


def _window(params: Mapping[str, Any]) -> dt.timedelta:
    minutes = _number(params, "window_minutes", DEFAULT_WINDOW_MINUTES, 1, MAX_WINDOW_MINUTES)
    return dt.timedelta(minutes=int(minutes))


def _epoch(column: Any, dialect: str) -> Any:
    """Seconds since 1970 of a stored naive-UTC timestamp, as an integer SQL expression."""
    if dialect == "sqlite":
        return cast(func.strftime("%s", column), Integer)
    return cast(func.floor(extract("epoch", column)), BigInteger)


def _bin(column: Any, step: dt.timedelta, dialect: str) -> Any:
    """The start (epoch seconds) of the ``step``-wide bin holding ``column``."""
    epoch = _epoch(column, dialect)
    return epoch - epoch % int(step.total_seconds())


def _percent(part: float, whole: float) -> float | None:
    return 100.0 * part / whole if whole else None


def _band(history: list[float], k: float) -> Band | None:
    if len(history) < MIN_HISTORY:
        return None
    mean = statistics.fmean(history)
    std = max(statistics.stdev(history), STD_FLOOR * abs(mean))
    return Band(mean - k * std, mean + k * std, mean)


# --- request and cache metrics ------------------------------------------------------------------


@dataclass
class _Agg:
    count: int = 0
    errors: int = 0
    max_ms: float = 0.0
    counts: dict[int, int] = field(default_factory=dict)

    def add(self, other: _Agg) -> None:
        self.count += other.count
        self.errors += other.errors
        self.max_ms = max(self.max_ms, other.max_ms)
        for index, n in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + n

    def p95(self) -> float | None:
        if not self.count or not self.counts:
            return None
        low = _bucket_bounds(min(self.counts))[0]
        return Histogram(dict(self.counts), self.count, 0.0, low, self.max_ms).percentile(95)


_REQUEST_METRICS = {
    "http_error_rate": ("http", False),
    "http_p95_ms": ("http", True),
    "callback_error_rate": ("callback", False),
    "callback_p95_ms": ("callback", True),
}


def _request_bins(
    conn: Any,
    table: Any,
    kind: str,
    start: dt.datetime,
    end: dt.datetime,
    step: dt.timedelta | None,
    histograms: bool,
) -> dict[dt.datetime | None, _Agg]:
    """Rows of ``table`` (minute or hour metrics) with ``start <= bucket < end`` summed over
    sources and names per ``step`` bin (None: one bin, key None), with merged histogram counts
    when ``histograms``."""
    dialect = conn.dialect.name
    where = (table.c.kind == kind, table.c.bucket >= start, table.c.bucket < end)
    key = _bin(table.c.bucket, step, dialect).label("bin") if step else None
    totals = select(
        *([key] if key is not None else []),
        func.sum(table.c.count),
        func.sum(table.c.errors),
        func.max(table.c.max_ms),
    ).where(*where)
    if key is not None:
        totals = totals.group_by(key)
    out: dict[dt.datetime | None, _Agg] = {}
    for row in conn.execute(totals):
        *head, count, errors, max_ms = row
        if count is None:
            continue
        out[_from_epoch(head[0]) if head else None] = _Agg(
            int(count), int(errors or 0), float(max_ms or 0.0)
        )
    if histograms and out:
        each = (
            func.json_each_text(table.c.buckets)
            if dialect == "postgresql"
            else func.json_each(table.c.buckets)
        ).table_valued("key", "value")
        counts = (
            select(
                *([key] if key is not None else []),
                each.c.key,
                func.sum(cast(each.c.value, BigInteger)),
            )
            .select_from(table.join(each, true()))
            .where(*where)
        )
        counts = counts.group_by(*([key] if key is not None else []), each.c.key)
        for row in conn.execute(counts):
            *head, index, n = row
            agg = out.get(_from_epoch(head[0]) if head else None)
            if agg is not None and n:
                agg.counts[int(index)] = agg.counts.get(int(index), 0) + int(n)
    return out


def _request_value(metric: str, agg: _Agg | None) -> float | None:
    if agg is None or not agg.count:
        return None
    if _REQUEST_METRICS[metric][1]:
        return agg.p95()
    return _percent(agg.errors, agg.count)


def _cache_bins(
    conn: Any, start: dt.datetime, end: dt.datetime, step: dt.timedelta | None, rollup: bool
) -> dict[dt.datetime | None, _Agg]:
    """Cache hits (as ``count - errors``) and lookups (``count``) per bin; ``rollup`` picks the
    hourly compacted rows (source ``rollup``) or the per-minute ones."""
    t = CacheMetricMinute.__table__
    where = (
        t.c.bucket >= start,
        t.c.bucket < end,
        (t.c.source == "rollup") if rollup else (t.c.source != "rollup"),
    )
    key = _bin(t.c.bucket, step, conn.dialect.name).label("bin") if step else None
    query = select(
        *([key] if key is not None else []), func.sum(t.c.hits), func.sum(t.c.misses)
    ).where(*where)
    if key is not None:
        query = query.group_by(key)
    out: dict[dt.datetime | None, _Agg] = {}
    for row in conn.execute(query):
        *head, hits, misses = row
        if hits is None and misses is None:
            continue
        hits, misses = int(hits or 0), int(misses or 0)
        out[_from_epoch(head[0]) if head else None] = _Agg(hits + misses, misses)
    return out


def _cache_value(agg: _Agg | None) -> float | None:
    if agg is None or not agg.count:
        return None
    return _percent(agg.count - agg.errors, agg.count)


def _split(first_minute: dt.datetime | None, rolled_until: dt.datetime | None) -> dt.datetime:
    """Where minute rows take over from hourly ones: the first whole hour of minute rows when
    the hour before it is rolled up, else the hour the minute rows begin in."""
    if first_minute is None:
        return dt.datetime.max
    upper = _ceil(first_minute, HOUR)
    if rolled_until is not None and upper <= rolled_until:
        return upper
    return _floor(first_minute, HOUR)


def _binned_series(
    hourly: dict[Any, _Agg],
    fine: dict[Any, _Agg],
    split: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    step: dt.timedelta,
    window: dt.timedelta,
    value: Callable[[_Agg | None], float | None],
) -> list[Sample]:
    samples: list[Sample] = []
    hour = _floor(start - HOUR, HOUR)
    while hour < min(split, end):
        at = hour + HOUR
        if start <= at < end and at <= split:
            samples.append(Sample({}, value(hourly.get(hour)), at))
        hour = at
    bins = max(1, round(window / step))
    if split >= end:
        return samples
    at = _ceil(max(start, split), step)
    if at == split:  # the hourly part ends with the sample at the split
        at += step
    while at < end:
        agg = _Agg()
        seen = False
        for i in range(1, bins + 1):
            part = fine.get(at - i * step)
            if part is not None:
                agg.add(part)
                seen = True
        samples.append(Sample({}, value(agg if seen else None), at))
        at += step
    return samples


# --- resources ----------------------------------------------------------------------------------

_RESOURCE_COLUMNS = {
    "cpu_percent": ResourceSample.cpu_percent,
    "memory_percent": ResourceSample.memory_percent,
    "disk_free_percent": ResourceSample.disk_percent,
}


def _resource_value(metric: str, raw: float | None) -> float | None:
    if raw is None:
        return None
    return 100.0 - float(raw) if metric == "disk_free_percent" else float(raw)


def _resources_current(
    conn: Any, metric: str, start: dt.datetime, end: dt.datetime
) -> list[Sample]:
    t = ResourceSample.__table__
    latest = (
        select(t.c.source, func.max(t.c.at).label("at"))
        .where(t.c.at >= start, t.c.at <= end)
        .group_by(t.c.source)
        .subquery()
    )
    column = t.c[_RESOURCE_COLUMNS[metric].key]
    rows = conn.execute(
        select(t.c.source, t.c.at, column)
        .join(latest, and_(t.c.source == latest.c.source, t.c.at == latest.c.at))
        .order_by(t.c.source)
    ).all()
    seen: dict[str, Sample] = {}
    for source, at, raw in rows:
        seen[source] = Sample({"host": source}, _resource_value(metric, raw), at)
    return list(seen.values())


def _resources_series(
    conn: Any, metric: str, start: dt.datetime, end: dt.datetime, step: dt.timedelta
) -> list[Sample]:
    """Each host's latest sample per step, at the step's end."""
    t = ResourceSample.__table__
    key = _bin(t.c.at, step, conn.dialect.name)
    latest = (
        select(t.c.source, func.max(t.c.at).label("at"))
        .where(t.c.at >= start - step, t.c.at < end)
        .group_by(t.c.source, key)
        .subquery()
    )
    column = t.c[_RESOURCE_COLUMNS[metric].key]
    rows = conn.execute(
        select(t.c.source, t.c.at, column)
        .join(latest, and_(t.c.source == latest.c.source, t.c.at == latest.c.at))
        .order_by(t.c.at)
    ).all()
    out: dict[tuple[str, dt.datetime], Sample] = {}
    for source, at, raw in rows:
        moment = _floor(at, step) + step
        if start <= moment < end:
            out[(source, moment)] = Sample({"host": source}, _resource_value(metric, raw), moment)
    return sorted(out.values(), key=lambda s: (s.at, s.labels["host"]))


# --- jobs ---------------------------------------------------------------------------------------


def _grace_seconds() -> dict[str, int]:
    from bi_app.jobs.definitions import JOBS

    return {spec.name: spec.misfire_grace_time for spec in JOBS}


def _late_lookback(params: Mapping[str, Any]) -> dt.timedelta:
    """How far back late, skipped and missed runs count: ``window_minutes``, else an hour (as
    the Admin → Jobs page)."""
    if params.get("window_minutes") in (None, ""):
        return LATE_LOOKBACK
    return _window(params)


def _late_jobs(conn: Any, now: dt.datetime, lookback: dt.timedelta = LATE_LOOKBACK) -> set[str]:
    """The job names :func:`bi_app.jobs.status.scheduler_status` lists as late, from the tables
    (that function needs a Flask app): overdue on the live leader's schedule by more than the
    job's misfire grace, or started late, skipped or missed in the last hour."""
    from bi_app.jobs.definitions import CRON_GRACE_SECONDS
    from bi_app.jobs.leader import stale_after

    late: set[str] = set()
    nodes = conn.execute(
        select(
            SchedulerNode.heartbeat_at, SchedulerNode.tick_seconds, SchedulerNode.next_runs
        ).where(SchedulerNode.is_leader.is_(True))
    ).all()
    # a heartbeat written after ``now`` was taken is live too
    live = [n for n in nodes if now - n.heartbeat_at <= stale_after(n.tick_seconds)]
    if live:
        leader = max(live, key=lambda n: n.heartbeat_at)
        grace = _grace_seconds()
        for name, raw in (leader.next_runs or {}).items():
            try:
                when = _naive(dt.datetime.fromisoformat(str(raw))) if raw else None
            except ValueError:
                when = None
            if when is not None and (now - when).total_seconds() > grace.get(
                name, CRON_GRACE_SECONDS
            ):
                late.add(name)
    late.update(_late_runs(conn, now - lookback, now))
    return late


def _late_runs(conn: Any, start: dt.datetime, end: dt.datetime) -> set[str]:
    return set(
        conn.execute(
            select(JobRun.job_name)
            .where(
                JobRun.started_at >= start,
                JobRun.started_at <= end,
                JobRun.status.in_(("skipped", "missed")) | (JobRun.late_ms > LATE_MS),
            )
            .distinct()
        ).scalars()
    )


def _late_series(
    conn: Any,
    start: dt.datetime,
    end: dt.datetime,
    step: dt.timedelta,
    lookback: dt.timedelta = LATE_LOOKBACK,
) -> list:
    """History can only see the runs recorded late, skipped or missed (a schedule that was
    overdue at some past moment is not stored): per step, the jobs with such a run in the hour
    before."""
    rows = conn.execute(
        select(JobRun.job_name, JobRun.started_at)
        .where(
            JobRun.started_at >= start - lookback,
            JobRun.started_at < end,
            JobRun.status.in_(("skipped", "missed")) | (JobRun.late_ms > LATE_MS),
        )
        .order_by(JobRun.started_at)
        .limit(20_000)
    ).all()
    times = [when for _name, when in rows]
    samples = []
    at = _ceil(start, step)
    while at < end:
        lo, hi = bisect.bisect_left(times, at - lookback), bisect.bisect_right(times, at)
        names = {name for name, _when in rows[lo:hi]}
        samples.append(Sample({}, float(len(names)), at))
        at += step
    return samples


# --- health -------------------------------------------------------------------------------------


def _bad_statuses(params: Mapping[str, Any]) -> tuple[str, ...]:
    status = params.get("status") or "unhealthy"
    if status not in ("unhealthy", "degraded"):
        raise SourceError(BAD_PARAM, name="status", value=str(status)[:40])
    return ("unhealthy",) if status == "unhealthy" else ("unhealthy", "degraded")


def _check_known(metric: str) -> None:
    if not metric or len(metric) > 128:
        raise SourceError(UNKNOWN_METRIC, kind="health", metric=str(metric)[:64])
    if metric not in HEALTH_CHECKS and not (
        metric.startswith(SERVICE_PREFIX) and len(metric) > len(SERVICE_PREFIX)
    ):
        raise SourceError(UNKNOWN_METRIC, kind="health", metric=metric)


def _health_current(conn: Any, metric: str, params: Mapping[str, Any], now: dt.datetime) -> list:
    bad = _bad_statuses(params)
    rows = conn.execute(
        select(HealthResult.status, HealthResult.at)
        .where(HealthResult.check_name == metric, HealthResult.at <= now)
        .order_by(HealthResult.at.desc(), HealthResult.id.desc())
        .limit(HEALTH_LOOKBACK_RUNS)
    ).all()
    if not rows:
        return [Sample({"check": metric}, None, now)]
    run = 0
    for status, _at in rows:
        if status not in bad:
            break
        run += 1
    return [Sample({"check": metric}, float(run), rows[0].at)]


def _health_series(
    conn: Any, metric: str, params: Mapping[str, Any], start: dt.datetime, end: dt.datetime
) -> list:
    bad = _bad_statuses(params)
    before = conn.execute(
        select(HealthResult.status)
        .where(HealthResult.check_name == metric, HealthResult.at < start)
        .order_by(HealthResult.at.desc(), HealthResult.id.desc())
        .limit(HEALTH_LOOKBACK_RUNS)
    ).scalars()
    run = 0
    for status in before:
        if status not in bad:
            break
        run += 1
    rows = conn.execute(
        select(HealthResult.status, HealthResult.at)
        .where(HealthResult.check_name == metric, HealthResult.at >= start, HealthResult.at < end)
        .order_by(HealthResult.at, HealthResult.id)
    )
    samples = []
    for status, at in rows:
        run = run + 1 if status in bad else 0
        samples.append(Sample({"check": metric}, float(run), at))
    return samples


# --- business -----------------------------------------------------------------------------------


def _business_day(params: Mapping[str, Any], now: dt.datetime, tz: str) -> dt.date:
    which = params.get("day") or "yesterday"
    today = periods.local_date(now, tz)
    if which == "today":
        return today
    if which == "yesterday":
        return today - dt.timedelta(days=1)
    raise SourceError(BAD_PARAM, name="day", value=str(which)[:40])


def _day_totals(conn: Any, metric: str, days: Iterable[dt.date] | None = None, span=None) -> dict:
    """Revenue (currency units) or orders per local day with revenue-status orders: for the
    given ``days`` or the inclusive ``span`` (first, last)."""
    t = DailyOrders.__table__
    measure = t.c.revenue_cents if metric == "revenue_day" else t.c.orders
    query = select(t.c.day, func.sum(measure)).where(t.c.status.in_(REVENUE_STATUSES))
    if days is not None:
        query = query.where(t.c.day.in_(sorted(set(days))))
    if span is not None:
        query = query.where(t.c.day >= span[0], t.c.day <= span[1])
    out = {}
    for day, total in conn.execute(query.group_by(t.c.day)):
        if isinstance(day, str):
            day = dt.date.fromisoformat(day)
        total = int(total or 0)
        out[day] = total / 100.0 if metric == "revenue_day" else float(total)
    return out


def _first_rollup_day(conn: Any) -> dt.date | None:
    day = conn.execute(select(func.min(DailyOrders.day))).scalar()
    return dt.date.fromisoformat(day) if isinstance(day, str) else day


def _weeks(params: Mapping[str, Any]) -> int:
    return int(_number(params, "weeks", 8, 1, 104))


def _k(params: Mapping[str, Any]) -> float:
    return _number(params, "k", 3.0, 0.0, 100.0)


def _day_sample(
    day: dt.date,
    totals: Mapping[dt.date, float],
    first: dt.date | None,
    tz: str,
    weeks: int | None,
    k: float,
) -> Sample:
    # a day without revenue orders sold nothing; a day before the first roll-up day is no data
    value = None if first is None or day < first else totals.get(day, 0.0)
    band = None
    if weeks is not None:
        history = [
            totals.get(d, 0.0)
            for d in (day - dt.timedelta(weeks=i) for i in range(1, weeks + 1))
            if first is not None and d >= first
        ]
        band = _band(history, k)
    return Sample({}, value, periods.local_midnight_utc(day, tz), band)


def _days_current(conn: Any, kind: str, metric: str, params: Mapping, now: dt.datetime) -> list:
    tz = periods.business_timezone()
    day = _business_day(params, now, tz)
    if kind == "deviation":
        weeks, k = _weeks(params), _k(params)
        wanted = [day - dt.timedelta(weeks=i) for i in range(weeks + 1)]
        return [
            _day_sample(
                day, _day_totals(conn, metric, wanted), _first_rollup_day(conn), tz, weeks, k
            )
        ]
    first = _first_rollup_day(conn)
    return [_day_sample(day, _day_totals(conn, metric, [day]), first, tz, None, 0.0)]


def _days_series(
    conn: Any, kind: str, metric: str, params: Mapping, start: dt.datetime, end: dt.datetime
) -> list:
    tz = periods.business_timezone()
    first_day = periods.local_date(start, tz)
    last_day = periods.local_date(end, tz)
    days = [
        first_day + dt.timedelta(days=i)
        for i in range(min((last_day - first_day).days + 1, MAX_SERIES_DAYS))
    ]
    days = [d for d in days if start <= periods.local_midnight_utc(d, tz) < end]
    if not days:
        return []
    if kind == "deviation":
        weeks, k = _weeks(params), _k(params)
        span = (days[0] - dt.timedelta(weeks=weeks), days[-1])
        totals, first = _day_totals(conn, metric, span=span), _first_rollup_day(conn)
        return [_day_sample(d, totals, first, tz, weeks, k) for d in days]
    totals, first = _day_totals(conn, metric, span=(days[0], days[-1])), _first_rollup_day(conn)
    return [_day_sample(d, totals, first, tz, None, 0.0) for d in days]


def _attendance_current(conn: Any, now: dt.datetime) -> list:
    e, r = Event.__table__, EventRegistration.__table__
    attended = func.sum(case((r.c.attended.is_(True), 1), else_=0))
    rows = conn.execute(
        select(e.c.code, e.c.name, func.count(r.c.id), attended)
        .join(r, r.c.event_id == e.c.id)
        .where(e.c.status == "running")
        .group_by(e.c.id, e.c.code, e.c.name)
        .order_by(e.c.code)
    ).all()
    return [
        Sample({"event": code, "event_name": name}, _percent(int(came or 0), int(total)), now)
        for code, name, total, came in rows
        if total
    ]


def _attendance_series(conn: Any, start: dt.datetime, end: dt.datetime) -> list:
    """Per running or completed event and event day (local) ending in the range: registrations
    made and attended registrations checked in by the day's end (an attendance without a
    check-in time counts from the event's start)."""
    tz = periods.business_timezone()
    e, r = Event.__table__, EventRegistration.__table__
    events = conn.execute(
        select(e.c.id, e.c.code, e.c.name, e.c.starts_at, e.c.ends_at)
        .where(
            e.c.status.in_(("running", "completed")),
            e.c.starts_at < end,
            e.c.ends_at >= start - dt.timedelta(days=1),
        )
        .order_by(e.c.starts_at)
        .limit(500)
    ).all()
    samples = []
    for event_id, code, name, starts_at, ends_at in events:
        first = periods.local_date(max(starts_at, start - dt.timedelta(days=1)), tz)
        last = periods.local_date(min(ends_at, end), tz)
        moments = []
        day = first
        while day <= last and len(moments) < MAX_SERIES_DAYS:
            close = periods.local_midnight_utc(day + dt.timedelta(days=1), tz)
            if start <= close < end:
                moments.append(close)
            day += dt.timedelta(days=1)
        if not moments:
            continue
        checked = func.coalesce(r.c.checked_in_at, starts_at)
        columns = []
        for i, close in enumerate(moments):
            columns.append(func.sum(case((r.c.registered_at < close, 1), else_=0)).label(f"r{i}"))
            columns.append(
                func.sum(case((and_(r.c.attended.is_(True), checked < close), 1), else_=0)).label(
                    f"a{i}"
                )
            )
        row = conn.execute(select(*columns).where(r.c.event_id == event_id)).one()
        for i, close in enumerate(moments):
            total, came = int(row[2 * i] or 0), int(row[2 * i + 1] or 0)
            if total:
                samples.append(
                    Sample({"event": code, "event_name": name}, _percent(came, total), close)
                )
    samples.sort(key=lambda s: (s.at, s.labels["event"]))
    return samples


def _tag_filter(column: Any, params: Mapping[str, Any]) -> list:
    tag = params.get("tag")
    if not tag:
        return []
    from bi_app.analytics.churn import TAG_LABELS

    if tag not in TAG_LABELS:
        raise SourceError(BAD_PARAM, name="tag", value=str(tag)[:40])
    return [column == tag]


def _churn_current(conn: Any, params: Mapping, now: dt.datetime) -> list:
    t = CustomerTag.__table__
    count = conn.execute(
        select(func.count(func.distinct(t.c.customer_id))).where(*_tag_filter(t.c.tag, params))
    ).scalar()
    return [Sample({}, float(count or 0), now)]


def _churn_series(conn: Any, params: Mapping, start: dt.datetime, end: dt.datetime) -> list:
    tz = periods.business_timezone()
    h = CustomerTagHistory.__table__
    day = periods.local_date(start, tz)
    moments = []
    while len(moments) < MAX_SERIES_DAYS:
        close = periods.local_midnight_utc(day + dt.timedelta(days=1), tz)
        if close >= end:
            break
        if close >= start:
            moments.append(close)
        day += dt.timedelta(days=1)
    if not moments:
        return []
    base = _tag_filter(h.c.tag, params)
    columns = [
        func.count(
            func.distinct(
                case(
                    (
                        and_(
                            h.c.added_at < close,
                            or_(h.c.removed_at.is_(None), h.c.removed_at >= close),
                        ),
                        h.c.customer_id,
                    )
                )
            )
        )
        for close in moments
    ]
    samples = []
    for chunk in range(0, len(columns), 100):
        row = conn.execute(
            select(*columns[chunk : chunk + 100]).where(
                *base,
                h.c.added_at < moments[min(chunk + 99, len(moments) - 1)],
                or_(h.c.removed_at.is_(None), h.c.removed_at >= moments[chunk]),
            )
        ).one()
        samples += [Sample({}, float(n or 0), moments[chunk + i]) for i, n in enumerate(row)]
    return samples


# --- request metrics: reads over windows, hours and ranges --------------------------------------


def _minute_start(conn: Any, rollup_cache: bool = False) -> dt.datetime | None:
    if rollup_cache:
        t = CacheMetricMinute.__table__
        return conn.execute(select(func.min(t.c.bucket)).where(t.c.source != "rollup")).scalar()
    return conn.execute(select(func.min(RequestMetricMinute.bucket))).scalar()


def _request_split(conn: Any, histograms_until: dt.datetime | None = None) -> dt.datetime:
    """Where minute rows take over from the hourly roll-ups. With ``histograms_until``
    (percentile series), hourly roll-ups are used up to the hour of ``histograms_until`` when
    they reach it: merging minute histograms is the costly part of a series (every row's JSON
    expanded), so only the last :data:`HISTOGRAM_FINE_SPAN` is read minute by minute."""
    last = conn.execute(select(func.max(RequestMetricHour.bucket))).scalar()
    rolled = None if last is None else last + HOUR
    split = _split(_minute_start(conn), rolled)
    if histograms_until is not None and rolled is not None:
        split = max(split, min(rolled, _floor(histograms_until, HOUR)))
    return split


def _cache_split(conn: Any) -> dt.datetime:
    t = CacheMetricMinute.__table__
    last = conn.execute(select(func.max(t.c.bucket)).where(t.c.source == "rollup")).scalar()
    return _split(_minute_start(conn, rollup_cache=True), None if last is None else last + HOUR)


def _hourly_requests(
    conn: Any, kind: str, start: dt.datetime, end: dt.datetime
) -> dict[dt.datetime, _Agg]:
    """Requests per hour over ``[start, end)`` (hour-aligned): hourly roll-ups before the minute
    rows begin, minute rows binned by hour after."""
    split = _request_split(conn)
    out: dict[Any, _Agg] = {}
    if start < split:
        out.update(
            _request_bins(
                conn, RequestMetricHour.__table__, kind, start, min(split, end), HOUR, False
            )
        )
    if split < end:
        out.update(
            _request_bins(
                conn, RequestMetricMinute.__table__, kind, max(split, start), end, HOUR, False
            )
        )
    return out


def _days(params: Mapping[str, Any]) -> int:
    return int(_number(params, "days", 7, 1, 60))


def _hour_sample(hours: Mapping[dt.datetime, _Agg], hour: dt.datetime, days: int, k: float):
    """The error rate of ``[hour, hour + 1 h)`` with the band of the same hour on the previous
    ``days`` days (hours without a request are not history)."""
    history = []
    for i in range(1, days + 1):
        rate = _request_value("http_error_rate", hours.get(hour - dt.timedelta(days=i)))
        if rate is not None:
            history.append(rate)
    value = _request_value("http_error_rate", hours.get(hour))
    return Sample({}, value, hour + HOUR, _band(history, k))


def _request_current(reader: Reader, conn: Any, metric: str, params: Mapping) -> list[Sample]:
    kind, histograms = _REQUEST_METRICS[metric]
    end = _floor(reader.now, MINUTE)
    start = end - _window(params)
    key = ("requests", kind, start, end)
    agg = reader.shared.get((*key, True)) or reader.shared.get((*key, histograms))
    if agg is None:
        bins = _request_bins(
            conn, RequestMetricMinute.__table__, kind, start, end, None, histograms
        )
        agg = reader.shared[(*key, histograms)] = bins.get(None, _Agg())
    return [Sample({}, _request_value(metric, agg), end)]


def _request_series(
    conn: Any, metric: str, params: Mapping, start: dt.datetime, end: dt.datetime
) -> list[Sample]:
    kind, histograms = _REQUEST_METRICS[metric]
    window = _window(params)
    step = FINE_STEP if end - start <= FINE_RANGE else HOUR
    split = _request_split(conn, end - HISTOGRAM_FINE_SPAN if histograms else None)
    hourly = fine = {}
    first_hour = _floor(start - HOUR, HOUR)
    if first_hour < min(split, end):
        hourly = _request_bins(
            conn, RequestMetricHour.__table__, kind, first_hour, min(split, end), HOUR, histograms
        )
    if split < end:
        fine_start = max(split, _floor(start, step) - window - step)
        fine = _request_bins(
            conn, RequestMetricMinute.__table__, kind, fine_start, end, step, histograms
        )
    return _binned_series(
        hourly, fine, split, start, end, step, window, lambda a: _request_value(metric, a)
    )


def _cache_current(reader: Reader, conn: Any, params: Mapping) -> list[Sample]:
    end = _floor(reader.now, MINUTE)
    start = end - _window(params)
    agg = _Agg()
    for rollup in (False, True):  # an hour compacted already (only for very long windows)
        found = _cache_bins(conn, start, end, None, rollup).get(None)
        if found is not None:
            agg.add(found)
    return [Sample({}, _cache_value(agg), end)]


def _cache_series(conn: Any, params: Mapping, start: dt.datetime, end: dt.datetime) -> list:
    window = _window(params)
    step = FINE_STEP if end - start <= FINE_RANGE else HOUR
    split = _cache_split(conn)
    hourly = fine = {}
    first_hour = _floor(start - HOUR, HOUR)
    if first_hour < min(split, end):
        hourly = _cache_bins(conn, first_hour, min(split, end), HOUR, True)
    if split < end:
        fine = _cache_bins(conn, max(split, _floor(start, step) - window - step), end, step, False)
    return _binned_series(hourly, fine, split, start, end, step, window, _cache_value)


def _deviation_hour_current(conn: Any, params: Mapping, now: dt.datetime) -> list[Sample]:
    days, k = _days(params), _k(params)
    hour = _floor(now, HOUR) - HOUR
    hours = _hourly_requests(conn, "http", hour - dt.timedelta(days=days), hour + HOUR)
    return [_hour_sample(hours, hour, days, k)]


def _deviation_hour_series(
    conn: Any, params: Mapping, start: dt.datetime, end: dt.datetime
) -> list[Sample]:
    days, k = _days(params), _k(params)
    first = _ceil(start, HOUR) - HOUR  # the sample at hour + 1 h must be in [start, end)
    hours = _hourly_requests(conn, "http", first - dt.timedelta(days=days), _ceil(end, HOUR))
    samples = []
    hour = first
    while hour + HOUR < end:
        samples.append(_hour_sample(hours, hour, days, k))
        hour += HOUR
    return samples


# --- entry points -------------------------------------------------------------------------------


def _validate(kind: str, metric: str) -> None:
    from bi_app.db.alert_models import RULE_KINDS

    if kind not in RULE_KINDS:
        raise SourceError(UNKNOWN_KIND, kind=str(kind)[:40])
    if kind == "health":
        _check_known(metric)
        return
    info = METRICS.get(metric)
    if info is None or kind not in info.kinds:
        raise SourceError(UNKNOWN_METRIC, kind=kind, metric=str(metric)[:64])


# the parameters that change what is read (the operator and threshold do not)
READ_PARAMS = ("window_minutes", "status", "day", "weeks", "days", "k", "tag")


def _freeze(params: Mapping[str, Any]) -> str:
    return json.dumps({k: params.get(k) for k in READ_PARAMS}, sort_keys=True, default=str)


def _current(reader: Reader, conn: Any, kind: str, metric: str, params: Mapping) -> list:
    now = reader.now
    if kind == "health":
        return _health_current(conn, metric, params, now)
    if kind == "deviation":
        if metric == "http_error_rate":
            return _deviation_hour_current(conn, params, now)
        return _days_current(conn, kind, metric, params, now)
    if metric in _REQUEST_METRICS:
        return _request_current(reader, conn, metric, params)
    if metric == "cache_hit_rate":
        return _cache_current(reader, conn, params)
    if metric in _RESOURCE_COLUMNS:
        end = reader.now
        return _resources_current(conn, metric, end - _window(params), end)
    if metric == "jobs_late":
        return [Sample({}, float(len(_late_jobs(conn, now, _late_lookback(params)))), now)]
    if metric in ("revenue_day", "orders_day"):
        return _days_current(conn, kind, metric, params, now)
    if metric == "event_attendance_rate":
        return _attendance_current(conn, now)
    if metric == "churn_risk_customers":
        return _churn_current(conn, params, now)
    if metric in TREASURY_METRICS:
        return _treasury_current(conn, metric, now)
    if metric == "transaction_risk":
        return _transaction_risk_current(conn, params, now)
    if metric == "model_training_problems":
        return _training_problems_current(conn, params, now)
    if metric == "churn_likely_customers":
        return _churn_likely(conn, now, now)
    if metric == "forecast_band_misses":
        return _band_misses(conn, now, now)
    if metric == "capacity_level_pct":
        from bi_app import capacity

        levels = capacity.current_levels(conn, now)
        return [Sample({"resource": name}, pct, at) for name, pct, at in levels]
    raise SourceError(UNKNOWN_METRIC, kind=kind, metric=metric)  # pragma: no cover - validated


def _series(conn: Any, kind: str, metric: str, params: Mapping, start, end) -> list[Sample]:
    if kind == "health":
        return _health_series(conn, metric, params, start, end)
    if kind == "deviation":
        if metric == "http_error_rate":
            return _deviation_hour_series(conn, params, start, end)
        return _days_series(conn, kind, metric, params, start, end)
    step = FINE_STEP if end - start <= FINE_RANGE else HOUR
    if metric in _REQUEST_METRICS:
        return _request_series(conn, metric, params, start, end)
    if metric == "cache_hit_rate":
        return _cache_series(conn, params, start, end)
    if metric in _RESOURCE_COLUMNS:
        return _resources_series(conn, metric, start, end, step)
    if metric == "jobs_late":
        return _late_series(conn, start, end, step, _late_lookback(params))
    if metric in ("revenue_day", "orders_day"):
        return _days_series(conn, kind, metric, params, start, end)
    if metric == "event_attendance_rate":
        return _attendance_series(conn, start, end)
    if metric == "churn_risk_customers":
        return _churn_series(conn, params, start, end)
    if metric in TREASURY_METRICS:
        return _treasury_series(conn, metric, start, end)
    if metric == "transaction_risk":
        return _transaction_risk_series(conn, start, end)
    if metric == "model_training_problems":
        return _training_problems_series(conn, params, start, end, step)
    if metric == "churn_likely_customers":
        return _churn_likely(conn, start, end, series=True)
    if metric == "forecast_band_misses":
        return _band_misses(conn, start, end)
    if metric == "capacity_level_pct":
        from bi_app import capacity

        series = capacity.level_series(conn, start, end)
        return [Sample({"resource": name}, pct, at) for name, at, pct in series]
    raise SourceError(UNKNOWN_METRIC, kind=kind, metric=metric)  # pragma: no cover - validated


# --- treasury -----------------------------------------------------------------------------------

TREASURY_METRICS = ("treasury_cold_share", "treasury_hot_coverage")
WITHDRAWAL_DAYS = 30  # as the Treasury page's average daily withdrawals


def _book_currency(conn: Any) -> str | None:
    """The currency most accounts use (the Treasury page sums one currency)."""
    row = conn.execute(
        select(Account.currency, func.count())
        .group_by(Account.currency)
        .order_by(func.count().desc(), Account.currency)
        .limit(1)
    ).first()
    return str(row[0]) if row is not None else None


def _treasury_value(metric: str, balances: Mapping[str, int], withdrawn_30d: int) -> float | None:
    """Cold share (percent of the total balance), or the hot balance as a percentage of the
    average daily withdrawals of 30 days (the page recommends a top-up below 50 %)."""
    if metric == "treasury_cold_share":
        total = sum(balances.values())
        return 100.0 * balances.get("cold", 0) / total if total > 0 else None
    average = withdrawn_30d / WITHDRAWAL_DAYS
    return 100.0 * balances.get("hot", 0) / average if average > 0 else None


def _treasury_current(conn: Any, metric: str, now: dt.datetime) -> list:
    currency = _book_currency(conn)
    if currency is None:
        return []
    amount = Transaction.amount_cents
    of_book = Account.currency == currency
    balances = {
        str(tier): int(total or 0)
        for tier, total in conn.execute(
            select(Account.tier, func.sum(amount))
            .join(Account, Account.id == Transaction.account_id)
            .where(of_book, Transaction.occurred_at < now)
            .group_by(Account.tier)
        )
    }
    withdrawn = conn.execute(
        select(func.coalesce(func.sum(-amount), 0))
        .join(Account, Account.id == Transaction.account_id)
        .where(
            of_book,
            Transaction.kind == "withdrawal",
            amount < 0,
            Transaction.occurred_at >= now - dt.timedelta(days=WITHDRAWAL_DAYS),
            Transaction.occurred_at < now,
        )
    ).scalar()
    value = _treasury_value(metric, balances, int(withdrawn or 0))
    return [Sample({}, value, now)]


def _treasury_series(conn: Any, metric: str, start: dt.datetime, end: dt.datetime) -> list:
    """One sample per local day end: balances carried forward from the ledger before ``start``
    plus the hourly sums after it (hours are assigned to local days, exact for whole-hour
    offsets), and the withdrawals of the 30 days before each day end."""
    currency = _book_currency(conn)
    if currency is None:
        return []
    dialect = conn.dialect.name
    amount = Transaction.amount_cents
    of_book = Account.currency == currency
    opening = {
        str(tier): int(total or 0)
        for tier, total in conn.execute(
            select(Account.tier, func.sum(amount))
            .join(Account, Account.id == Transaction.account_id)
            .where(of_book, Transaction.occurred_at < start)
            .group_by(Account.tier)
        )
    }
    hour = _bin(Transaction.occurred_at, HOUR, dialect).label("hour")
    changes = conn.execute(
        select(hour, Account.tier, func.sum(amount))
        .join(Account, Account.id == Transaction.account_id)
        .where(of_book, Transaction.occurred_at >= start, Transaction.occurred_at < end)
        .group_by(hour, Account.tier)
        .order_by(hour)
    ).all()
    withdrawals = conn.execute(
        select(hour, func.sum(-amount))
        .join(Account, Account.id == Transaction.account_id)
        .where(
            of_book,
            Transaction.kind == "withdrawal",
            amount < 0,
            Transaction.occurred_at >= start - dt.timedelta(days=WITHDRAWAL_DAYS),
            Transaction.occurred_at < end,
        )
        .group_by(hour)
        .order_by(hour)
    ).all()
    tz = periods.business_timezone()
    moments, day = [], periods.local_date(start, tz)
    while len(moments) < MAX_SERIES_DAYS:
        close = periods.local_midnight_utc(day + dt.timedelta(days=1), tz)
        if close > end:
            break
        if close > start:
            moments.append(close)
        day += dt.timedelta(days=1)
    balances = dict(opening)
    out_times = [_from_epoch(h) for h, _n in withdrawals]
    out_amounts = [int(n or 0) for _h, n in withdrawals]
    samples, i = [], 0
    for moment in moments:
        while i < len(changes) and _from_epoch(changes[i][0]) < moment:
            tier = str(changes[i][1])
            balances[tier] = balances.get(tier, 0) + int(changes[i][2] or 0)
            i += 1
        lo = bisect.bisect_left(out_times, moment - dt.timedelta(days=WITHDRAWAL_DAYS))
        hi = bisect.bisect_left(out_times, moment)
        value = _treasury_value(metric, balances, sum(out_amounts[lo:hi]))
        samples.append(Sample({}, value, moment))
    return samples


# --- transaction findings --------------------------------------------------------------------

RISK_RANKS = {"low": 1, "medium": 2, "high": 3, "critical": 4}
DEFAULT_RISK_WINDOW_MINUTES = 1440


def _findings(conn: Any, start: dt.datetime, end: dt.datetime) -> list[Any]:
    from bi_app.db.model_models import TransactionFinding

    return conn.execute(
        select(
            Transaction.reference,
            Account.code,
            TransactionFinding.level,
            TransactionFinding.scored_at,
        )
        .join(Transaction, Transaction.id == TransactionFinding.transaction_id)
        .join(Account, Account.id == Transaction.account_id)
        .where(
            TransactionFinding.level.is_not(None),
            TransactionFinding.scored_at >= start,
            TransactionFinding.scored_at < end,
        )
        .order_by(TransactionFinding.scored_at)
        .limit(5000)
    ).all()


def _risk_sample(row: Any, at: dt.datetime) -> Sample:
    labels = {"transaction": str(row.reference), "level": str(row.level), "account": str(row.code)}
    return Sample(labels, float(RISK_RANKS.get(str(row.level), 0)), at)


def _transaction_risk_current(conn: Any, params: Mapping, now: dt.datetime) -> list:
    """One sample per transaction the scoring job flagged within the window (default a day),
    valued by its level (1 low … 4 critical): each is its own alert, labelled with the
    transaction's reference, level and account."""
    if params.get("window_minutes") in (None, ""):
        window = dt.timedelta(minutes=DEFAULT_RISK_WINDOW_MINUTES)
    else:
        window = _window(params)
    return [_risk_sample(row, now) for row in _findings(conn, now - window, now)]


def _transaction_risk_series(conn: Any, start: dt.datetime, end: dt.datetime) -> list:
    """For the backtest: each finding once, at the moment it was scored."""
    return [_risk_sample(row, row.scored_at) for row in _findings(conn, start, end)]


# --- forecasts ----------------------------------------------------------------------------------

BAND_MISS_DAYS = 7
BAND_MISS_TOLERANCE = 0.5


def _band_misses(conn: Any, start: dt.datetime, end: dt.datetime) -> list:
    """Per series, the far misses of the :data:`BAND_MISS_DAYS` complete local days before each
    local midnight in ``(start, end)``; with ``start == end`` (the current value) before the
    last midnight at or before it."""
    from bi_app import forecasting

    tz = periods.business_timezone()
    first_day, last_day = periods.local_date(start, tz), periods.local_date(end, tz)
    misses = forecasting.deviations(
        conn,
        first_day - dt.timedelta(days=BAND_MISS_DAYS),
        last_day - dt.timedelta(days=1),
        series=forecasting.SERIES,
        tolerance=BAND_MISS_TOLERANCE,
    )
    days: dict[str, list[dt.date]] = {name: [] for name in forecasting.SERIES}
    for miss in misses:
        days.setdefault(miss.series, []).append(miss.day)
    samples = []
    day = last_day if start == end else first_day + dt.timedelta(days=1)
    while day <= last_day:
        at = periods.local_midnight_utc(day, tz)
        if start != end and at >= end:
            break
        for name, found in days.items():
            count = sum(1 for d in found if day - dt.timedelta(days=BAND_MISS_DAYS) <= d < day)
            samples.append(Sample({"series": name}, float(count), at))
        day += dt.timedelta(days=1)
    return samples


# --- the churn classifier ----------------------------------------------------------------------

CHURN_LIKELY = 0.8


def _churn_likely(conn: Any, start: dt.datetime, end: dt.datetime, series: bool = False) -> list:
    """The latest scoring's count of likely churners: at ``end`` (now), or for a series at the
    moment it was scored when that lies in ``[start, end)``."""
    from bi_app.db.churn_models import ChurnScore
    from bi_app.models.churn import count_at_risk

    scored_at = conn.scalar(select(func.max(ChurnScore.scored_at)))
    if scored_at is None or (series and not start <= scored_at < end):
        return []
    return [Sample({}, float(count_at_risk(conn, CHURN_LIKELY)), scored_at if series else end)]


# --- the model registry -------------------------------------------------------------------------

DEFAULT_TRAINING_WINDOW_MINUTES = 1440


def _training_window(params: Mapping[str, Any]) -> dt.timedelta:
    if params.get("window_minutes") in (None, ""):
        return dt.timedelta(minutes=DEFAULT_TRAINING_WINDOW_MINUTES)
    return _window(params)


def _training_problem_times(
    conn: Any, start: dt.datetime, end: dt.datetime
) -> tuple[list[str], dict[str, list[dt.datetime]]]:
    """Every model name of the registry, and the times of each one's failed or rejected
    trainings within ``[start, end)``, sorted."""
    from bi_app.db.model_models import ModelVersion

    names = list(conn.execute(select(ModelVersion.name).distinct()).scalars())
    times: dict[str, list[dt.datetime]] = {name: [] for name in names}
    for name, at in conn.execute(
        select(ModelVersion.name, ModelVersion.trained_at)
        .where(
            ModelVersion.status.in_(("failed", "rejected")),
            ModelVersion.trained_at >= start,
            ModelVersion.trained_at < end,
        )
        .order_by(ModelVersion.trained_at)
    ):
        times.setdefault(name, []).append(at)
    return sorted(times), times


def _training_problems_current(conn: Any, params: Mapping, now: dt.datetime) -> list:
    names, times = _training_problem_times(conn, now - _training_window(params), now)
    return [Sample({"model": name}, float(len(times[name])), now) for name in names]


def _training_problems_series(
    conn: Any, params: Mapping, start: dt.datetime, end: dt.datetime, step: dt.timedelta
) -> list:
    """One sample per model and step: the problems within the window ending there."""
    window = _training_window(params)
    names, times = _training_problem_times(conn, start - window, end)
    samples = []
    at = _ceil(start, step)
    while at < end:
        for name in names:
            found = times[name]
            count = bisect.bisect_left(found, at) - bisect.bisect_left(found, at - window)
            samples.append(Sample({"model": name}, float(count), at))
        at += step
    return samples


class Reader:
    """One evaluation pass at ``now``: identical reads (kind, metric and the parameters of
    :data:`READ_PARAMS`; a threshold does not change the read) are answered once, and so are
    the request windows several metrics share. When the database cannot be reached at all,
    every later read of the pass fails at once with the same error instead of waiting for
    its own connection timeout."""

    def __init__(self, engine: Engine, now: dt.datetime) -> None:
        self.engine = engine
        self.now = _naive(now)
        self.shared: dict[tuple, Any] = {}
        self._memo: dict[tuple[str, str, str], list[Sample] | SourceError] = {}
        self._down: SourceError | None = None

    def current(
        self, kind: str, metric: str, params: Mapping[str, Any] | None = None
    ) -> list[Sample]:
        params = dict(params or {})
        key = (kind, metric, _freeze(params))
        found = self._memo.get(key)
        if found is None:
            try:
                found = self._read(kind, metric, params)
            except SourceError as exc:
                found = exc
            self._memo[key] = found
        if isinstance(found, SourceError):
            raise SourceError(found.template, **found.values) from found
        return list(found)

    def _read(self, kind: str, metric: str, params: Mapping[str, Any]) -> list[Sample]:
        _validate(kind, metric)
        if self._down is not None:
            raise self._down
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            self._down = SourceError(DATABASE_ERROR, reason=_reason(exc))
            raise self._down from exc
        try:
            with conn:
                return _current(self, conn, kind, metric, params)
        except (OperationalError, InterfaceError) as exc:
            if getattr(exc, "connection_invalidated", False):
                self._down = SourceError(DATABASE_ERROR, reason=_reason(exc))
            raise SourceError(DATABASE_ERROR, reason=_reason(exc)) from exc
        except SQLAlchemyError as exc:
            raise SourceError(DATABASE_ERROR, reason=_reason(exc)) from exc


def read_current(
    kind: str, metric: str, params: Mapping[str, Any] | None, engine: Engine, now: dt.datetime
) -> list[Sample]:
    """The samples a rule tests at ``now`` (see the module's docstring for each metric)."""
    return Reader(engine, now).current(kind, metric, params)


def read_series(
    kind: str,
    metric: str,
    params: Mapping[str, Any] | None,
    engine: Engine,
    start: dt.datetime,
    end: dt.datetime,
) -> list[Sample]:
    """The samples a rule would have seen over ``[start, end)``, oldest first."""
    _validate(kind, metric)
    start, end = _naive(start), _naive(end)
    if end <= start:
        raise SourceError(BAD_RANGE)
    params = dict(params or {})
    return _with_connection(engine, lambda conn: _series(conn, kind, metric, params, start, end))
