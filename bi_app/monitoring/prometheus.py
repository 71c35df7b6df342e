"""``/metrics`` in the Prometheus text exposition format (via ``prometheus_client``).

Counters and histograms are ``prometheus_client`` metrics. Under gunicorn with
``bi_app.gunicorn_conf``, ``PROMETHEUS_MULTIPROC_DIR`` is set before anything imports
``prometheus_client``: every worker then writes its values to memory-mapped files in that
directory and a scrape on *any* worker sums the files of all of them (``MultiProcessCollector``).
So two scrapes that land on different workers read the same totals, and a counter never goes
backwards (the files of a worker that exited stay and keep counting towards the sum). Without
that variable (``bi-app run``, tests) the values live in this process as usual. Each host is its
own scrape target; Prometheus adds hosts up with ``sum()``.

Metric names:

- ``bi_http_requests_total{route,method,status}`` — counter, HTTP requests by route template.
- ``bi_http_request_duration_seconds{route,method}`` — histogram of request time.
- ``bi_dash_callbacks_total{output,status}`` — counter, Dash callbacks by output id (only ids
  of the app's own callbacks; anything else is ``<unmatched>``).
- ``bi_dash_callback_duration_seconds{output}`` — histogram of callback time.
- ``bi_cache_hits_total`` / ``bi_cache_misses_total`` — data-layer cache counters.
- ``bi_metrics_pending_buckets`` — gauge, per-minute buckets aggregated in memory but not yet
  flushed to the database (summed over live workers).
- ``bi_health_status{check}`` — gauge, 0 healthy, 1 degraded, 2 unhealthy (newest report).
- ``bi_health_check_latency_seconds{check}`` — gauge, latency of each check in that report.
- ``bi_health_overall_status`` — gauge, 0/1/2 as above.
- ``bi_health_report_age_seconds`` — gauge, age of that report.
- ``process_*`` — the standard process collector, only in single-process mode (under several
  workers it would describe whichever worker answered, so its counters would jump).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from bi_app.monitoring import health, rules

log = logging.getLogger(__name__)

STATUS_VALUE = {rules.HEALTHY: 0, rules.DEGRADED: 1, rules.UNHEALTHY: 2}
# Standard Prometheus latency buckets (seconds).
BUCKETS_S: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FRESH_REPORT_S = 60.0  # an in-memory health report older than this yields to a stored one
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> str | None:
    """The directory of multi-process mode, or None in single-process mode."""
    return os.environ.get(MULTIPROC_ENV) or None


class RequestMetrics:
    """The request, callback and cache metrics of this process (one set per app process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.http_requests = Counter(
            "bi_http_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=reg,
        )
        self.http_duration = Histogram(
            "bi_http_request_duration_seconds",
            "HTTP request time by route template and method",
            ["route", "method"],
            buckets=BUCKETS_S,
            registry=reg,
        )
        self.callbacks = Counter(
            "bi_dash_callbacks",
            "Dash callbacks by output id and status",
            ["output", "status"],
            registry=reg,
        )
        self.callback_duration = Histogram(
            "bi_dash_callback_duration_seconds",
            "Dash callback time by output id",
            ["output"],
            buckets=BUCKETS_S,
            registry=reg,
        )
        self.cache_hits = Counter("bi_cache_hits", "Data-layer cache hits", registry=reg)
        self.cache_misses = Counter("bi_cache_misses", "Data-layer cache misses", registry=reg)
        self.pending = Gauge(
            "bi_metrics_pending_buckets",
            "Per-minute metric buckets aggregated in memory, not yet flushed to the database",
            registry=reg,
            multiprocess_mode="livesum",
        )
        self._lock = threading.Lock()
        self._cache_seen = {"hits": 0, "misses": 0}

    def observe(self, kind: str, name: str, method: str, status: int, seconds: float) -> None:
        """One finished request (``kind`` "http") or callback (``kind`` "callback")."""
        if kind == "http":
            self.http_requests.labels(name, method, str(status)).inc()
            self.http_duration.labels(name, method).observe(seconds)
        else:
            self.callbacks.labels(name, str(status)).inc()
            self.callback_duration.labels(name).observe(seconds)

    def sync_cache(self) -> None:
        """Add the data layer's new cache hits and misses (its counters are plain integers of
        this process) to the exported counters."""
        stats = health.cache_hit_rate()
        if "hits" not in stats:
            return
        with self._lock:
            for key, counter in (("hits", self.cache_hits), ("misses", self.cache_misses)):
                now = int(stats[key])
                if now > self._cache_seen[key]:
                    counter.inc(now - self._cache_seen[key])
                # after a reset of the data layer's counters, count on from the new value
                self._cache_seen[key] = now


REQUESTS = RequestMetrics()


def _report() -> health.HealthReport | None:
    """The newest health report: this process's own, else the newest one any process stored
    (only the scheduler leader runs the checks, and every worker must answer the same)."""
    mine = health.last_report()
    if mine is not None and mine.age_s() <= FRESH_REPORT_S:
        return mine
    from bi_app.extensions import db

    stored = None
    if db.engine is not None:
        try:
            stored = health.latest_stored_report(db.engine)
        except Exception:  # a scrape still answers with what it has
            log.debug("no stored health report for /metrics", exc_info=True)
    candidates = [r for r in (mine, stored) if r is not None]
    return max(candidates, key=lambda r: r.at) if candidates else None


class HealthCollector(Collector):
    """Gauges of the newest health report, read at scrape time."""

    def collect(self) -> Iterator[Metric]:
        report = _report()
        if report is None:
            return
        status = GaugeMetricFamily(
            "bi_health_status",
            "Health check status: 0 healthy, 1 degraded, 2 unhealthy",
            labels=["check"],
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
            "Overall health: 0 healthy, 1 degraded, 2 unhealthy",
            value=STATUS_VALUE[report.status],
        )
        yield GaugeMetricFamily(
            "bi_health_report_age_seconds",
            "Age of the newest health report",
            value=max(0.0, report.age_s()),
        )


def build_registry(requests: RequestMetrics | None = None) -> CollectorRegistry:
    """What a scrape reads: every worker's files in multi-process mode, else ``requests``."""
    requests = requests or REQUESTS
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path is not None:
        MultiProcessCollector(registry, path=path)
    else:
        registry.register(requests.registry)
        ProcessCollector(registry=registry)
    registry.register(HealthCollector())
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    # generate_latest writes the classic 0.0.4 text format; say so, whatever the library default.
    return generate_latest(registry), CONTENT_TYPE_PLAIN_0_0_4
