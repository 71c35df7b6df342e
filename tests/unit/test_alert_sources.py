"""The pure parts of bi_app.alerts.sources: the metric catalogue, bands, histogram merging,
binning, validation and the reader's memo (no database)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import statistics
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bi_app.alerts import sources
from bi_app.alerts.sources import METRICS, Band, Reader, SourceError, read_series
from bi_app.db.alert_models import RULE_KINDS
from bi_app.monitoring.histogram import Histogram, merged

T = dt.datetime
ROOT = Path(__file__).resolve().parents[2]


def _default_pack() -> tuple[dict, ...]:
    path = ROOT / "migrations" / "versions" / "0023_alert_center.py"
    spec = importlib.util.spec_from_file_location("alert_center_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DEFAULT_PACK


def test_catalogue() -> None:
    assert set(METRICS) == {
        "http_error_rate",
        "http_p95_ms",
        "callback_p95_ms",
        "callback_error_rate",
        "cache_hit_rate",
        "cpu_percent",
        "memory_percent",
        "disk_free_percent",
        "jobs_late",
        "revenue_day",
        "orders_day",
        "event_attendance_rate",
        "churn_risk_customers",
        "treasury_cold_share",
        "treasury_hot_coverage",
        "transaction_risk",
        "capacity_level_pct",
        "model_training_problems",
        "churn_likely_customers",
        "forecast_band_misses",
    }
    for name, info in METRICS.items():
        assert info.name == name and info.label
        assert info.unit in ("percent", "ms", "count", "money")
        assert set(info.kinds) <= set(RULE_KINDS) - {"health"}
    assert {m.name for m in sources.metrics_for_kind("deviation")} == {
        "revenue_day",
        "orders_day",
        "http_error_rate",
    }
    assert METRICS["disk_free_percent"].labels == ("host",)
    assert METRICS["event_attendance_rate"].labels == ("event", "event_name")
    assert {"database", "cache", "scheduler", "disk"} <= set(sources.HEALTH_CHECKS)


def test_every_default_rule_reads_a_known_metric() -> None:
    for rule in _default_pack():
        sources._validate(rule["kind"], rule["metric"])  # raises SourceError otherwise


def test_validation() -> None:
    with pytest.raises(SourceError, match="Unknown rule kind"):
        sources._validate("nonsense", "http_error_rate")
    with pytest.raises(SourceError):
        sources._validate("deviation", "http_p95_ms")
    with pytest.raises(SourceError):
        sources._validate("health", "service:")
    with pytest.raises(SourceError):
        sources._validate("health", "http_error_rate")
    sources._validate("health", "service:crm")
    sources._validate("health", "overall")
    with pytest.raises(SourceError):
        sources._window({"window_minutes": 0})
    with pytest.raises(SourceError):
        sources._window({"window_minutes": float("nan")})
    assert sources._window({}) == dt.timedelta(minutes=5)
    assert sources._window({"window_minutes": "15"}) == dt.timedelta(minutes=15)
    with pytest.raises(SourceError):
        sources._bad_statuses({"status": "healthy"})
    assert sources._bad_statuses({"status": "degraded"}) == ("unhealthy", "degraded")


def test_source_error_message() -> None:
    exc = SourceError(sources.UNKNOWN_METRIC, kind="threshold", metric="x")
    assert str(exc) == "A threshold rule cannot read the metric x."
    assert exc.localized() == str(exc)  # outside an app: English
    assert str(SourceError(sources.BAD_RANGE)) == "The end of the range must be after its start."


def test_band() -> None:
    assert sources._band([1.0, 2.0], 3.0) is None
    history = [10.0, 12.0, 14.0]
    mean, std = statistics.fmean(history), statistics.stdev(history)
    assert sources._band(history, 2.0) == Band(mean - 2 * std, mean + 2 * std, mean)
    # flat history: the deviation is floored at 5 % of the mean
    assert sources._band([200.0] * 4, 3.0) == Band(170.0, 230.0, 200.0)
    assert sources._band([0.0] * 4, 3.0) == Band(0.0, 0.0, 0.0)


def test_time_helpers() -> None:
    step = dt.timedelta(minutes=5)
    assert sources._floor(T(2026, 1, 1, 12, 7, 30), step) == T(2026, 1, 1, 12, 5)
    assert sources._ceil(T(2026, 1, 1, 12, 7, 30), step) == T(2026, 1, 1, 12, 10)
    assert sources._ceil(T(2026, 1, 1, 12, 10), step) == T(2026, 1, 1, 12, 10)
    aware = dt.datetime(2026, 1, 1, 21, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    assert sources._naive(aware) == T(2026, 1, 1, 12)
    # minute rows take over at the first whole hour when the hour before is rolled up
    assert sources._split(T(2026, 1, 1, 10, 20), T(2026, 1, 1, 11)) == T(2026, 1, 1, 11)
    assert sources._split(T(2026, 1, 1, 10, 20), T(2026, 1, 1, 10)) == T(2026, 1, 1, 10)
    assert sources._split(None, None) == dt.datetime.max


def test_merged_counts_give_the_histogram_percentile() -> None:
    parts = [Histogram(), Histogram()]
    for v in (1.0, 2.0, 3.5, 80.0):
        parts[0].add(v)
    for v in (0.5, 700.0, 12.0):
        parts[1].add(v)
    rows = [Histogram.from_row(h.to_json(), h.count, h.sum_ms, h.max_ms) for h in parts]
    agg = sources._Agg()
    for h in parts:
        agg.add(sources._Agg(h.count, 0, h.max_ms, {int(k): n for k, n in h.to_json().items()}))
    assert agg.p95() == pytest.approx(merged(rows).percentile(95))
    assert sources._Agg().p95() is None


def test_binned_series() -> None:
    step = dt.timedelta(minutes=5)
    split = T(2026, 1, 1, 11)
    hourly = {T(2026, 1, 1, 10): sources._Agg(10, 1)}
    fine = {
        T(2026, 1, 1, 11): sources._Agg(4, 2),
        T(2026, 1, 1, 11, 5): sources._Agg(4, 0),
    }

    def rate(agg):
        return None if agg is None else 100.0 * agg.errors / agg.count

    one = sources._binned_series(
        hourly, fine, split, T(2026, 1, 1, 10), T(2026, 1, 1, 11, 20), step, step, rate
    )
    assert [(s.at, s.value) for s in one] == [
        (T(2026, 1, 1, 10), None),
        (T(2026, 1, 1, 11), 10.0),
        (T(2026, 1, 1, 11, 5), 50.0),
        (T(2026, 1, 1, 11, 10), 0.0),
        (T(2026, 1, 1, 11, 15), None),
    ]
    two = sources._binned_series(
        {}, fine, split, T(2026, 1, 1, 11, 1), T(2026, 1, 1, 11, 20), step, 2 * step, rate
    )
    assert [(s.at, s.value) for s in two] == [
        (T(2026, 1, 1, 11, 5), 50.0),
        (T(2026, 1, 1, 11, 10), 25.0),
        (T(2026, 1, 1, 11, 15), 0.0),
    ]


class _DeadEngine:
    def __init__(self) -> None:
        self.connects = 0

    def connect(self):
        self.connects += 1
        raise OperationalError("connect", {}, Exception("connection refused\nmore detail"))


def test_reader_fails_fast_once_the_database_is_down() -> None:
    engine = _DeadEngine()
    reader = Reader(engine, T(2026, 1, 1, 12))  # type: ignore[arg-type]
    with pytest.raises(SourceError, match="could not be read: connection refused$"):
        reader.current("threshold", "http_error_rate", {})
    with pytest.raises(SourceError):
        reader.current("health", "database", {"runs": 2})
    with pytest.raises(SourceError):  # the same read again: memoized
        reader.current("threshold", "http_error_rate", {})
    assert engine.connects == 1
    with pytest.raises(SourceError, match="cannot read"):  # checked before any connection
        reader.current("threshold", "nope", {})
    assert engine.connects == 1


def test_series_range_is_checked_before_connecting() -> None:
    engine = _DeadEngine()
    with pytest.raises(SourceError, match="range"):
        read_series("threshold", "http_error_rate", {}, engine, T(2026, 1, 2), T(2026, 1, 1))  # type: ignore[arg-type]
    assert engine.connects == 0
