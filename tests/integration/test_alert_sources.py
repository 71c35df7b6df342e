"""What alert rules read (bi_app.alerts.sources) on SQLite and PostgreSQL: rows written straight
into the monitoring, health, job, roll-up, event and tag tables, and the expected values computed
here independently (sums, the histogram module's own percentile, statistics.stdev)."""

from __future__ import annotations

import datetime as dt
import itertools
import statistics
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, insert

from bi_app.alerts import sources
from bi_app.alerts.sources import Band, Reader, Sample, SourceError, read_current, read_series
from bi_app.db.analytics_models import CustomerTag, CustomerTagHistory
from bi_app.db.engine import make_engine
from bi_app.db.job_models import JobRun, SchedulerNode
from bi_app.db.models import DailyOrders, Event, EventRegistration
from bi_app.db.monitoring_models import (
    CacheMetricMinute,
    HealthResult,
    RequestMetricHour,
    RequestMetricMinute,
    ResourceSample,
)
from bi_app.db.periods import use_timezone
from bi_app.monitoring.histogram import Histogram, merged
from tests.conftest import migrate

pytestmark = pytest.mark.integration
T = dt.datetime
NOW = T(2026, 3, 10, 12, 7, 30)  # a Tuesday; windows end at 12:07
SEOUL = "Asia/Seoul"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate(url)
    eng = make_engine(url)
    try:
        yield eng
    finally:
        eng.dispose()


def _hist(*values: float) -> Histogram:
    h = Histogram()
    for v in values:
        h.add(v)
    return h


def _metric_row(bucket, source, kind, name, hist: Histogram, errors: int) -> dict:
    return {
        "bucket": bucket,
        "source": source,
        "kind": kind,
        "name": name,
        "method": "GET",
        "count": hist.count,
        "errors": errors,
        "sum_ms": hist.sum_ms,
        "max_ms": hist.max_ms,
        "p50_ms": hist.percentile(50),
        "p95_ms": hist.percentile(95),
        "buckets": hist.to_json(),
    }


def _insert(engine: Engine, model, rows: list[dict]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(model), rows)


def _one(samples: list[Sample]) -> Sample:
    assert len(samples) == 1, samples
    return samples[0]


# --- requests --------------------------------------------------------------------------------


def test_request_metrics_merge_sources_and_histograms(engine: Engine) -> None:
    a1 = _hist(12, 15, 30, 800)
    a2 = _hist(5, 7, 1500)
    b1 = _hist(40, 45, 50, 55, 2500, 90)
    cb = _hist(200, 300)
    old = _hist(99999)  # 12:01, outside the 5-minute window (12:02-12:06)
    live = _hist(99999)  # 12:07, the minute still being recorded
    rows = [
        _metric_row(T(2026, 3, 10, 12, 2), "web-1:10", "http", "/a", a1, 1),
        _metric_row(T(2026, 3, 10, 12, 6), "web-1:10", "http", "/b", a2, 0),
        _metric_row(T(2026, 3, 10, 12, 4), "web-2:20", "http", "/a", b1, 2),
        _metric_row(T(2026, 3, 10, 12, 4), "web-2:20", "callback", "cb", cb, 1),
        _metric_row(T(2026, 3, 10, 12, 1), "web-1:10", "http", "/a", old, 1),
        _metric_row(T(2026, 3, 10, 12, 7), "web-2:20", "http", "/a", live, 1),
    ]
    _insert(engine, RequestMetricMinute, rows)
    params = {"operator": ">", "threshold": 5.0, "window_minutes": 5}

    rate = _one(read_current("threshold", "http_error_rate", params, engine, NOW))
    assert rate.value == pytest.approx(100.0 * 3 / 13)
    assert rate.labels == {} and rate.at == T(2026, 3, 10, 12, 7)

    window = [Histogram.from_row(r["buckets"], r["count"], r["sum_ms"], r["max_ms"]) for r in rows]
    expected_p95 = merged(window[:3]).percentile(95)
    p95 = _one(read_current("threshold", "http_p95_ms", params, engine, NOW))
    assert p95.value == pytest.approx(expected_p95)
    assert 1500 <= p95.value <= 2500

    cb_rate = _one(read_current("threshold", "callback_error_rate", {}, engine, NOW))
    assert cb_rate.value == pytest.approx(50.0)
    cb_p95 = _one(read_current("threshold", "callback_p95_ms", {}, engine, NOW))
    assert cb_p95.value == pytest.approx(merged(window[3:4]).percentile(95))

    wide = _one(read_current("threshold", "http_error_rate", {"window_minutes": 6}, engine, NOW))
    assert wide.value == pytest.approx(100.0 * 4 / 14)  # 12:01 included now

    quiet = read_current(
        "threshold", "http_error_rate", params, engine, NOW + dt.timedelta(hours=1)
    )
    assert _one(quiet).value is None


def test_request_series_steps_by_five_minutes_and_by_hour_where_rolled_up(engine: Engine) -> None:
    # hourly roll-ups for 09:00 and 10:00; minute rows from 11:00 on
    hour_9 = _hist(10, 20, 30, 40)
    hour_10 = _hist(10)
    _insert(
        engine,
        RequestMetricHour,
        [
            _metric_row(T(2026, 3, 10, 9), "web-1:10", "http", "/a", hour_9, 1),
            _metric_row(T(2026, 3, 10, 10), "web-1:10", "http", "/a", hour_10, 0),
        ],
    )
    minute_rows = [
        _metric_row(T(2026, 3, 10, 11, m), src, "http", "/a", _hist(10, 20), errors)
        for m, src, errors in [(0, "a:1", 0), (3, "a:1", 1), (3, "b:2", 2), (7, "b:2", 0)]
    ]
    _insert(engine, RequestMetricMinute, minute_rows)

    series = read_series(
        "threshold", "http_error_rate", {"window_minutes": 5}, engine, T(2026, 3, 10, 9), NOW
    )
    by_at = {s.at: s.value for s in series}
    assert by_at[T(2026, 3, 10, 10)] == pytest.approx(25.0)  # the 09:00 hour
    assert by_at[T(2026, 3, 10, 11)] == pytest.approx(0.0)  # the 10:00 hour
    assert by_at[T(2026, 3, 10, 11, 5)] == pytest.approx(100.0 * 3 / 6)  # 11:00-11:04
    assert by_at[T(2026, 3, 10, 11, 10)] == pytest.approx(0.0)  # 11:05-11:09
    assert by_at[T(2026, 3, 10, 11, 15)] is None
    assert [s.at for s in series] == sorted(s.at for s in series)
    assert all(T(2026, 3, 10, 9) <= s.at < NOW for s in series)
    fine = [s.at for s in series if s.at > T(2026, 3, 10, 11)]
    assert all(b - a == dt.timedelta(minutes=5) for a, b in itertools.pairwise(fine))

    # a 10-minute window at 5-minute steps: each sample covers two steps
    wide = read_series(
        "threshold", "http_p95_ms", {"window_minutes": 10}, engine, T(2026, 3, 10, 11), NOW
    )
    at_1110 = next(s for s in wide if s.at == T(2026, 3, 10, 11, 10))
    assert at_1110.value == pytest.approx(merged(_hist(10, 20) for _ in range(4)).percentile(95))

    # beyond 8 days one sample per hour
    long = read_series("threshold", "http_error_rate", {}, engine, NOW - dt.timedelta(days=10), NOW)
    assert {s.at.minute for s in long} == {0}
    assert {s.at: s.value for s in long}[T(2026, 3, 10, 12)] == pytest.approx(100.0 * 3 / 8)


# --- cache, resources, jobs --------------------------------------------------------------------


def test_cache_hit_rate_and_resources(engine: Engine) -> None:
    _insert(
        engine,
        CacheMetricMinute,
        [
            {"bucket": T(2026, 3, 10, 12, 3), "source": "a:1", "hits": 30, "misses": 10},
            {"bucket": T(2026, 3, 10, 12, 5), "source": "b:2", "hits": 5, "misses": 5},
            {"bucket": T(2026, 3, 10, 11, 0), "source": "a:1", "hits": 0, "misses": 50},
        ],
    )
    hit = _one(read_current("threshold", "cache_hit_rate", {}, engine, NOW))
    assert hit.value == pytest.approx(100.0 * 35 / 50)
    series = read_series("threshold", "cache_hit_rate", {}, engine, T(2026, 3, 10, 11), NOW)
    by_at = {s.at: s.value for s in series}
    assert by_at[T(2026, 3, 10, 11, 5)] == pytest.approx(0.0)
    assert by_at[T(2026, 3, 10, 12, 5)] == pytest.approx(75.0)
    assert by_at[T(2026, 3, 10, 12, 10 - 5)] == pytest.approx(75.0)

    def sample(at, source, cpu, disk):
        return {
            "at": at,
            "source": source,
            "cpu_percent": cpu,
            "memory_percent": 50.0,
            "memory_used_bytes": 1,
            "disk_percent": disk,
            "disk_used_bytes": 1,
            "net_sent_bps": 0.0,
            "net_recv_bps": 0.0,
        }

    _insert(
        engine,
        ResourceSample,
        [
            sample(T(2026, 3, 10, 12, 4), "host-a:1", 10.0, 80.0),
            sample(T(2026, 3, 10, 12, 6, 45), "host-a:1", 20.0, 93.5),
            sample(T(2026, 3, 10, 12, 5), "host-b:2", 70.0, 40.0),
            sample(T(2026, 3, 10, 11, 0), "host-c:3", 99.0, 99.0),  # silent since: no sample
        ],
    )
    disk = read_current("threshold", "disk_free_percent", {}, engine, NOW)
    assert {s.labels["host"]: s.value for s in disk} == {
        "host-a:1": pytest.approx(6.5),
        "host-b:2": pytest.approx(60.0),
    }
    cpu = read_current("threshold", "cpu_percent", {}, engine, NOW)
    assert {s.labels["host"]: s.value for s in cpu} == {"host-a:1": 20.0, "host-b:2": 70.0}
    assert {s.labels["host"]: s.at for s in cpu}["host-a:1"] == T(2026, 3, 10, 12, 6, 45)
    mem = read_current("threshold", "memory_percent", {}, engine, NOW)
    assert {s.value for s in mem} == {50.0}

    history = read_series("threshold", "cpu_percent", {}, engine, T(2026, 3, 10, 10), NOW)
    assert [(s.at, s.labels["host"], s.value) for s in history] == [
        (T(2026, 3, 10, 11, 5), "host-c:3", 99.0),
        (T(2026, 3, 10, 12, 5), "host-a:1", 10.0),
    ]  # 12:05-12:10 does not end before NOW


def test_jobs_late_counts_overdue_and_late_runs(engine: Engine) -> None:
    _insert(
        engine,
        SchedulerNode,
        [
            {
                "id": "host:1",
                "host": "host",
                "pid": 1,
                "is_leader": True,
                "heartbeat_at": NOW + dt.timedelta(seconds=1),  # written just after NOW was taken
                "tick_seconds": 5.0,
                # health_check runs every minute: 10 minutes overdue; refresh_rollups is not due
                "next_runs": {
                    "health_check": (NOW - dt.timedelta(minutes=10)).isoformat(),
                    "metrics_rollup": (NOW + dt.timedelta(seconds=30)).isoformat(),
                },
            }
        ],
    )

    def run(name, status, started, late_ms=None):
        return {
            "job_name": name,
            "run_trigger": "scheduled",
            "host": "host",
            "pid": 1,
            "started_at": started,
            "status": status,
            "late_ms": late_ms,
        }

    _insert(
        engine,
        JobRun,
        [
            run("purge_old", "missed", NOW - dt.timedelta(minutes=20)),
            run("resource_sample", "succeeded", NOW - dt.timedelta(minutes=5), late_ms=9000),
            run("metrics_rollup", "succeeded", NOW - dt.timedelta(minutes=5), late_ms=100),
            run("backup", "skipped", NOW - dt.timedelta(hours=3)),  # too old to count
        ],
    )
    late = _one(read_current("threshold", "jobs_late", {}, engine, NOW))
    assert late.value == 3.0  # health_check, purge_old, resource_sample
    later = _one(read_current("threshold", "jobs_late", {}, engine, NOW + dt.timedelta(hours=2)))
    assert later.value == 0.0  # the leader's heartbeat is stale: no schedule to be late on
    series = read_series("threshold", "jobs_late", {}, engine, NOW - dt.timedelta(hours=4), NOW)
    assert max(s.value for s in series) == 2.0
    assert series[0].value == 0.0


# --- health ------------------------------------------------------------------------------------


def test_health_counts_consecutive_failed_runs(engine: Engine) -> None:
    statuses = ["healthy", "unhealthy", "healthy", "degraded", "unhealthy", "unhealthy"]
    start = T(2026, 3, 10, 12)
    _insert(
        engine,
        HealthResult,
        [
            {"check_name": "database", "status": s, "at": start + dt.timedelta(seconds=10 * i)}
            for i, s in enumerate(statuses)
        ]
        + [{"check_name": "service:crm", "status": "degraded", "at": start}],
    )
    current = _one(read_current("health", "database", {"runs": 2}, engine, NOW))
    assert current.value == 2.0 and current.labels == {"check": "database"}
    assert current.at == start + dt.timedelta(seconds=50)
    worse = _one(read_current("health", "database", {"status": "degraded"}, engine, NOW))
    assert worse.value == 3.0
    early = _one(read_current("health", "database", {}, engine, start + dt.timedelta(seconds=15)))
    assert early.value == 1.0
    assert _one(read_current("health", "service:crm", {}, engine, NOW)).value == 0.0
    assert _one(read_current("health", "cache", {}, engine, NOW)).value is None

    series = read_series("health", "database", {}, engine, start + dt.timedelta(seconds=15), NOW)
    assert [s.value for s in series] == [0.0, 0.0, 1.0, 2.0]  # one failed run before start
    assert sources.health_check_names(engine)[:3] == ["cache", "database", "disk"]
    assert "service:crm" in sources.health_check_names(engine)


# --- business ----------------------------------------------------------------------------------


def _day_rows(totals: dict[dt.date, tuple[int, int]]) -> list[dict]:
    rows = []
    for day, (orders, cents) in totals.items():
        for platform, status, share in ((1, "paid", 0.5), (2, "delivered", 0.5)):
            rows.append(
                {
                    "day": day,
                    "platform_id": platform,
                    "status": status,
                    "week": day,
                    "month": day.replace(day=1),
                    "orders": int(orders * share),
                    "revenue_cents": int(cents * share),
                    "units": 1,
                }
            )
        rows.append(  # not revenue
            {
                "day": day,
                "platform_id": 1,
                "status": "cancelled",
                "week": day,
                "month": day.replace(day=1),
                "orders": 1000,
                "revenue_cents": 10**9,
                "units": 1,
            }
        )
    return rows


def test_revenue_and_orders_of_a_seoul_business_day(engine: Engine) -> None:
    D = dt.date
    _insert(engine, DailyOrders, _day_rows({D(2026, 3, 10): (10, 20000), D(2026, 3, 11): (4, 800)}))
    # 16:30 UTC on 03-10 is 01:30 on 03-11 in Seoul: "today" is 03-11, "yesterday" 03-10
    now = T(2026, 3, 10, 16, 30)
    with use_timezone(SEOUL):
        yesterday = _one(read_current("business", "revenue_day", {}, engine, now))
        assert yesterday.value == pytest.approx(200.0)
        assert yesterday.at == T(2026, 3, 9, 15)  # 03-10 00:00 in Seoul
        today = _one(read_current("business", "orders_day", {"day": "today"}, engine, now))
        assert today.value == 4.0 and today.at == T(2026, 3, 10, 15)
        series = read_series("business", "revenue_day", {}, engine, T(2026, 3, 9), T(2026, 3, 11))
        assert [(s.at, s.value) for s in series] == [
            (T(2026, 3, 9, 15), 200.0),
            (T(2026, 3, 10, 15), 8.0),
        ]
    with use_timezone("UTC"):  # in UTC it is still 03-10: yesterday is 03-09, before the data
        assert _one(read_current("business", "revenue_day", {}, engine, now)).value is None
        later = _one(read_current("business", "orders_day", {}, engine, T(2026, 3, 13, 1)))
        assert later.value == 0.0  # 03-12: no order that day
        with pytest.raises(SourceError):
            read_current("business", "revenue_day", {"day": "tomorrow"}, engine, now)


def test_deviation_band_from_the_same_weekday(engine: Engine) -> None:
    D = dt.date
    day = D(2026, 3, 9)  # a Monday: "yesterday" at NOW
    history = [100.0, 120.0, 90.0, 110.0, 105.0, 95.0, 130.0, 80.0]  # weeks 1..8 back
    totals = {
        day - dt.timedelta(weeks=i + 1): (int(v), int(v * 100)) for i, v in enumerate(history)
    }
    totals[day] = (20, 2000)
    totals[day - dt.timedelta(days=1)] = (999, 99900)  # another weekday: not history
    totals[day - dt.timedelta(weeks=9)] = (999, 99900)  # beyond 8 weeks
    _insert(engine, DailyOrders, _day_rows(totals))
    params = {"k": 3.0, "weeks": 8, "direction": "below"}
    with use_timezone("UTC"):
        sample = _one(read_current("deviation", "revenue_day", params, engine, NOW))
        mean, std = statistics.fmean(history), statistics.stdev(history)
        assert sample.value == 20.0 and sample.at == T(2026, 3, 9)
        assert sample.expected == Band(
            pytest.approx(mean - 3 * std), pytest.approx(mean + 3 * std), pytest.approx(mean)
        )
        narrow = _one(read_current("deviation", "orders_day", {"k": 1, "weeks": 3}, engine, NOW))
        first3 = history[:3]
        m3, s3 = statistics.fmean(first3), statistics.stdev(first3)
        assert narrow.expected.low == pytest.approx(m3 - s3)
        assert narrow.expected.high == pytest.approx(m3 + s3)

        # the series: a band for each day (days before the first roll-up day are not history)
        series = read_series(
            "deviation", "revenue_day", params, engine, T(2026, 3, 8), T(2026, 3, 10)
        )
        assert [s.at for s in series] == [T(2026, 3, 8), T(2026, 3, 9)]
        assert series[1].expected.mean == pytest.approx(mean)
        # the Sunday before had orders of other statuses only on earlier Sundays: zeros, and a
        # flat zero history gives a zero-width band
        assert series[0].value == 999.0 and series[0].expected == Band(0.0, 0.0, 0.0)


def test_deviation_flat_and_short_history(engine: Engine) -> None:
    D = dt.date
    day = D(2026, 3, 9)
    totals = {day - dt.timedelta(weeks=i): (50, 5000) for i in range(1, 5)}
    totals[day] = (55, 5500)
    _insert(engine, DailyOrders, _day_rows(totals))
    with use_timezone("UTC"):
        flat = _one(read_current("deviation", "orders_day", {"k": 2}, engine, NOW))
        # std 0 floored at 5 % of the mean: 50 ± 2 × 2.5
        assert flat.expected == Band(45.0, 55.0, 50.0)
        short = _one(
            read_current("deviation", "orders_day", {"k": 2}, engine, NOW - dt.timedelta(weeks=2))
        )
        assert short.value == 50.0 and short.expected is None  # one point of history on record


def test_hourly_error_rate_deviation(engine: Engine) -> None:
    hour = T(2026, 3, 10, 11)  # the last complete hour at NOW
    rates = []
    rows = []
    for i in range(1, 8):
        errors = i  # of 100 requests
        rates.append(float(errors))
        h = _hist(*([10.0] * 100))
        rows.append(_metric_row(hour - dt.timedelta(days=i), "a:1", "http", "/", h, errors))
    _insert(engine, RequestMetricHour, rows)
    _insert(
        engine,
        RequestMetricMinute,
        [_metric_row(hour + dt.timedelta(minutes=30), "a:1", "http", "/", _hist(1, 2, 3, 4), 2)],
    )
    sample = _one(read_current("deviation", "http_error_rate", {"k": 2}, engine, NOW))
    mean, std = statistics.fmean(rates), statistics.stdev(rates)
    assert sample.value == pytest.approx(50.0) and sample.at == T(2026, 3, 10, 12)
    assert sample.expected.mean == pytest.approx(mean)
    assert sample.expected.high == pytest.approx(mean + 2 * std)
    series = read_series("deviation", "http_error_rate", {"k": 2}, engine, T(2026, 3, 10, 10), NOW)
    assert [s.at for s in series] == [T(2026, 3, 10, 10), T(2026, 3, 10, 11), T(2026, 3, 10, 12)]
    assert series[0].value is None and series[0].expected is None


def test_event_attendance_and_churn_risk(engine: Engine) -> None:
    def event_row(id_, code, status, starts, ends):
        return {
            "id": id_,
            "code": code,
            "name": f"Event {code}",
            "kind": "event",
            "organizer": "x",
            "status": status,
            "starts_at": starts,
            "ends_at": ends,
        }

    _insert(
        engine,
        Event,
        [
            event_row(1, "ev-a", "running", T(2026, 3, 9, 9), T(2026, 3, 11, 18)),
            event_row(2, "ev-b", "running", T(2026, 3, 10, 9), T(2026, 3, 10, 18)),
            event_row(3, "ev-c", "completed", T(2026, 3, 1, 9), T(2026, 3, 1, 18)),
        ],
    )

    def reg(event_id, attended, checked_in_at=None):
        return {
            "event_id": event_id,
            "registered_at": T(2026, 3, 1),
            "attended": attended,
            "checked_in_at": checked_in_at,
        }

    _insert(
        engine,
        EventRegistration,
        [reg(1, True, T(2026, 3, 9, 10)), reg(1, True, T(2026, 3, 10, 10))]
        + [reg(1, False) for _ in range(2)]
        + [reg(3, True, T(2026, 3, 1, 10)), reg(3, False)],
    )
    with use_timezone("UTC"):
        samples = read_current("business", "event_attendance_rate", {}, engine, NOW)
        assert [(s.labels, s.value) for s in samples] == [
            ({"event": "ev-a", "event_name": "Event ev-a"}, 50.0)
        ]  # ev-b has no registration
        series = read_series(
            "business", "event_attendance_rate", {}, engine, T(2026, 3, 1), T(2026, 3, 12)
        )
        assert [(s.labels["event"], s.at, s.value) for s in series] == [
            ("ev-c", T(2026, 3, 2), 50.0),
            ("ev-a", T(2026, 3, 10), 25.0),
            ("ev-a", T(2026, 3, 11), 50.0),
        ]

    _insert(
        engine,
        CustomerTag,
        [
            {"customer_id": 1, "tag": "reactivation_needed", "as_of": dt.date(2026, 3, 1)},
            {"customer_id": 2, "tag": "loyal_delayed", "as_of": dt.date(2026, 3, 1)},
            {"customer_id": 3, "tag": "loyal_delayed", "as_of": dt.date(2026, 3, 1)},
        ],
    )
    _insert(
        engine,
        CustomerTagHistory,
        [
            {
                "customer_id": 1,
                "tag": "reactivation_needed",
                "added_at": T(2026, 3, 1, 3),
                "added_as_of": dt.date(2026, 3, 1),
                "removed_at": None,
                "removed_as_of": None,
            },
            {
                "customer_id": 2,
                "tag": "loyal_delayed",
                "added_at": T(2026, 3, 2, 3),
                "added_as_of": dt.date(2026, 3, 2),
                "removed_at": T(2026, 3, 3, 3),
                "removed_as_of": dt.date(2026, 3, 3),
            },
        ],
    )
    churn = _one(read_current("business", "churn_risk_customers", {}, engine, NOW))
    assert churn.value == 3.0
    one_tag = {"tag": "loyal_delayed"}
    assert _one(read_current("business", "churn_risk_customers", one_tag, engine, NOW)).value == 2
    with use_timezone("UTC"):
        days = read_series(
            "business", "churn_risk_customers", {}, engine, T(2026, 3, 1), T(2026, 3, 5)
        )
    assert [(s.at, s.value) for s in days] == [
        (T(2026, 3, 2), 1.0),
        (T(2026, 3, 3), 2.0),
        (T(2026, 3, 4), 1.0),
    ]


# --- the reader and errors ---------------------------------------------------------------------


def test_reader_answers_identical_reads_once(engine: Engine) -> None:
    _insert(
        engine,
        RequestMetricMinute,
        [_metric_row(T(2026, 3, 10, 12, 3), "a:1", "http", "/", _hist(5, 6, 7), 1)],
    )
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        reader = Reader(engine, NOW)
        first = reader.current("threshold", "http_error_rate", {"window_minutes": 5, "x": 1})
        n = len(statements)
        again = reader.current("threshold", "http_error_rate", {"x": 1, "window_minutes": 5})
        assert again == first and len(statements) == n
        # p95 of the same window reads the histograms; the error rate reuses that read
        reader.current("threshold", "http_p95_ms", {"window_minutes": 5})
        n = len(statements)
        reader.current("threshold", "http_error_rate", {"window_minutes": 5})
        assert len(statements) == n
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert first[0].value == pytest.approx(100 / 3)


def test_unknown_metrics_and_a_dead_database(engine: Engine) -> None:
    with pytest.raises(SourceError, match="cannot read the metric"):
        read_current("threshold", "no_such_metric", {}, engine, NOW)
    with pytest.raises(SourceError):
        read_current("business", "http_error_rate", {}, engine, NOW)  # not a business metric
    with pytest.raises(SourceError):
        read_current("health", "no-such-check", {}, engine, NOW)
    with pytest.raises(SourceError):
        read_current("threshold", "http_error_rate", {"window_minutes": "abc"}, engine, NOW)
    with pytest.raises(SourceError):
        read_series("threshold", "http_error_rate", {}, engine, NOW, NOW)


def test_dead_database_raises_a_short_source_error() -> None:
    dead = make_engine(
        "postgresql+psycopg://postgres:s3cret-pw@127.0.0.1:1/x", connect_args={"connect_timeout": 2}
    )
    try:
        reader = Reader(dead, NOW)
        with pytest.raises(SourceError) as info:
            reader.current("threshold", "http_error_rate", {})
        message = str(info.value)
        assert message.startswith("The database could not be read:")
        assert "s3cret-pw" not in message and len(message) < 300 and "\n" not in message
        with pytest.raises(SourceError):  # the rest of the pass fails at once
            reader.current("health", "database", {})
        with pytest.raises(SourceError):
            read_series("business", "revenue_day", {}, dead, NOW - dt.timedelta(days=3), NOW)
    finally:
        dead.dispose()
