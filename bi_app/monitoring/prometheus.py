"""``/metrics`` in the Prometheus text exposition format (via ``prometheus_client``).

Metric names (all per process: under gunicorn each worker reports its own counters; the
``instance``/``pid`` target labels set by the scraper tell them apart):

- ``bi_http_requests_total{route,method,status}`` — counter, HTTP requests by route template.
- ``bi_http_request_duration_seconds{route,method}`` — histogram of request time.
- ``bi_dash_callbacks_total{output,status}`` — counter, Dash callbacks by output id.
- ``bi_dash_callback_duration_seconds{output}`` — histogram of callback time.
- ``bi_cache_hits_total`` / ``bi_cache_misses_total`` — data-layer cache counters.
- ``bi_health_status{check}`` — gauge, 0 healthy, 1 degraded, 2 unhealthy (last report).
- ``bi_health_check_latency_seconds{check}`` — gauge, latency of each check in the last report.
- ``bi_health_overall_status`` — gauge, 0/1/2 as above.
- ``bi_health_report_age_seconds`` — gauge, age of the last report in this process.
- ``bi_metrics_pending_minutes`` — gauge, minutes aggregated but not yet flushed to the database.
- ``process_*`` — the standard process collector (CPU seconds, resident memory, open fds).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from bi_app.monitoring import health, metrics, rules

STATUS_VALUE = {rules.HEALTHY: 0, rules.DEGRADED: 1, rules.UNHEALTHY: 2}


def _buckets(totals: metrics.Totals) -> list[tuple[str, float]]:
    out, running = [], 0
    for bound, n in zip(metrics.PROM_BUCKETS_S, totals.prom_buckets):
        running += n
        out.append((floatToGoString(bound), running))
    out.append(("+Inf", totals.count))
    return out


class AppCollector(Collector):
    def __init__(self, aggregator: metrics.MinuteAggregator | None = None) -> None:
        self.aggregator = aggregator or metrics.AGGREGATOR

    def collect(self) -> Iterator[Metric]:
        yield from self._traffic()
        yield from self._cache()
        yield from self._health()
        pending = GaugeMetricFamily(
            "bi_metrics_pending_minutes", "Aggregated minutes not yet flushed to the database"
        )
        pending.add_metric([], self.aggregator.pending_minutes())
        yield pending

    def _traffic(self) -> Iterator[Metric]:
        http_count = CounterMetricFamily(
            "bi_http_requests",
            "HTTP requests by route template",
            labels=["route", "method", "status"],
        )
        http_time = HistogramMetricFamily(
            "bi_http_request_duration_seconds", "HTTP request time", labels=["route", "method"]
        )
        cb_count = CounterMetricFamily(
            "bi_dash_callbacks", "Dash callbacks by output id", labels=["output", "status"]
        )
        cb_time = HistogramMetricFamily(
            "bi_dash_callback_duration_seconds", "Dash callback time", labels=["output"]
        )
        for (kind, name, method), totals in sorted(self.aggregator.totals().items()):
            if kind == "http":
                for status, n in sorted(totals.by_status.items()):
                    http_count.add_metric([name, method, str(status)], n)
                http_time.add_metric([name, method], _buckets(totals), totals.sum_s)
            else:
                for status, n in sorted(totals.by_status.items()):
                    cb_count.add_metric([name, str(status)], n)
                cb_time.add_metric([name], _buckets(totals), totals.sum_s)
        yield from (http_count, http_time, cb_count, cb_time)

    def _cache(self) -> Iterator[Metric]:
        stats = health.cache_hit_rate()
        if "hits" in stats:
            yield CounterMetricFamily("bi_cache_hits", "Data-layer cache hits", value=stats["hits"])
            yield CounterMetricFamily(
                "bi_cache_misses", "Data-layer cache misses", value=stats["misses"]
            )

    def _health(self) -> Iterator[Metric]:
        report = health.last_report()
        if report is None:
            return
        status = GaugeMetricFamily(
            "bi_health_status", "0 healthy, 1 degraded, 2 unhealthy", labels=["check"]
        )
        latency = GaugeMetricFamily(
            "bi_health_check_latency_seconds", "Latency of each health check", labels=["check"]
        )
        for check in report.checks:
            status.add_metric([check.name], STATUS_VALUE[check.status])
            if check.latency_ms is not None:
                latency.add_metric([check.name], check.latency_ms / 1000.0)
        yield status
        yield latency
        yield GaugeMetricFamily(
            "bi_health_overall_status",
            "0 healthy, 1 degraded, 2 unhealthy",
            value=STATUS_VALUE[report.status],
        )
        yield GaugeMetricFamily(
            "bi_health_report_age_seconds",
            "Age of the last health report",
            value=max(0.0, report.age_s()),
        )


def build_registry(aggregator: metrics.MinuteAggregator | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AppCollector(aggregator))
    ProcessCollector(registry=registry)
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    # generate_latest writes the classic 0.0.4 text format; say so, whatever the library default.
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4
