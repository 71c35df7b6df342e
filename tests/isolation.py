"""Fixtures that give each test a private copy of process-global state.

The channel service keeps one circuit breaker per channel for the life of the process and shows
each on the Health page (``bi_app.monitoring.breakers``). A test that fetches channel statistics
would otherwise leave its breakers behind for every later test in the same pytest process.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def isolated_breaker_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start with no channel breakers; whatever the test registers is gone afterwards."""
    from bi_app.channels import service
    from bi_app.monitoring import breakers

    monkeypatch.setattr(breakers, "_breakers", {})
    monkeypatch.setattr(service, "_breakers", {})


@pytest.fixture(autouse=True)
def isolated_import_executor(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give the test its own background-import thread pool, shut down afterwards.

    dash_duo's threaded server, when it stops, raises SystemExit in every thread started while
    it ran. The import pool's worker is started lazily by the first web import, so a browser
    test would kill the process-wide worker; the pool still thinks it has its thread, and every
    later import in the process would stay queued forever.
    """
    from concurrent.futures import ThreadPoolExecutor

    from bi_app.importing import service

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bi-import-test")
    monkeypatch.setattr(service, "_executor", executor)
    yield
    executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture(autouse=True)
def isolated_request_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh per-minute request/callback aggregator and Prometheus counters for the test's app.

    The middleware binds ``metrics.AGGREGATOR`` and ``prometheus.REQUESTS`` when an app is
    created; without this, the Performance page of a later test ranks callbacks timed by every
    earlier test in the process, and /metrics counts their requests.
    """
    from bi_app.monitoring import metrics, prometheus

    monkeypatch.setattr(metrics, "AGGREGATOR", metrics.MinuteAggregator())
    monkeypatch.setattr(prometheus, "REQUESTS", prometheus.RequestMetrics())
    monkeypatch.setattr(metrics, "_cache_last", {})
