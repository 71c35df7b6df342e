"""In the browser: /ops/health shows a tile per check and refreshes live; /ops/performance
draws what the roll-up tables hold and its range selector switches between them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert

from bi_app import monitoring
from bi_app.db.engine import make_engine
from bi_app.db.monitoring_models import RequestMetricHour, RequestMetricMinute
from bi_app.monitoring import health, resources
from bi_app.monitoring.histogram import Histogram
from tests.conftest import ADMIN_PASSWORD, free_port, login

pytestmark = pytest.mark.e2e


def _row(bucket: dt.datetime, name: str, values: list[float], kind: str = "http") -> dict:
    h = Histogram()
    for v in values:
        h.add(v)
    return {
        "bucket": bucket,
        "source": "e2e:1",
        "kind": kind,
        "name": name,
        "method": "GET" if kind == "http" else "POST",
        "count": h.count,
        "errors": 1,
        "sum_ms": h.sum_ms,
        "max_ms": h.max_ms,
        "p50_ms": h.percentile(50),
        "p95_ms": h.percentile(95),
        "buckets": h.to_json(),
    }


def _seed_metrics(url: str) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)
    old_hour = (now - dt.timedelta(days=3)).replace(minute=0)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(RequestMetricHour), [_row(old_hour, "/seeded/last-week", [40.0, 80.0, 120.0])]
        )
        conn.execute(
            insert(RequestMetricMinute),
            [
                _row(now - dt.timedelta(minutes=m), "/seeded/recent", [5.0 + m, 9.0, 30.0])
                for m in range(2, 12)
            ]
            + [
                _row(
                    now - dt.timedelta(minutes=3),
                    "overview-revenue-graph.figure",
                    [12.0, 48.0],
                    "callback",
                )
            ],
        )
    engine.dispose()


def test_health_and_performance_pages(app_factory, demo_sqlite_url, dash_duo):
    _seed_metrics(demo_sqlite_url)
    health.forget()
    app = app_factory(demo_sqlite_url, refresh_ms=1000)
    monitoring.init_app(app, app.server.config["BI_SETTINGS"])
    engine = make_engine(demo_sqlite_url)
    with app.server.app_context():  # as the job runs it
        first = health.run_health_checks(app.server.config["BI_SETTINGS"], engine=engine)
    for _ in range(3):
        resources.sample_resources(engine)
    # "/" redirects to the login form (not a Dash page), so don't wait for Dash there.
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url
    login(dash_duo, "admin", ADMIN_PASSWORD, next_path="/ops/health")

    dash_duo.wait_for_element("#ops-health-tiles-row .app-ops-tile", timeout=15)
    tiles = dash_duo.find_elements("#ops-health-tiles-row .app-ops-tile")
    assert len(tiles) == len(first.checks)
    page_text = dash_duo.find_element("#ops-health-tiles-row").text
    assert "Database" in page_text and "Disk" in page_text and "Scheduler" in page_text
    overall = dash_duo.find_element("#ops-health-overall-badge").text
    assert (
        overall
        == {"healthy": "Healthy", "degraded": "Degraded", "unhealthy": "Unhealthy"}[first.status]
    )
    dash_duo.wait_for_contains_text(
        "#ops-health-breakers-table", "No external channel sources configured"
    )
    assert dash_duo.find_elements("#ops-health-cpu-graph .scatterlayer .trace")
    assert "Working outside" not in page_text  # checks ran with the app's context

    # A new report appears on the page through the live refresh, without reloading it.
    before = dash_duo.find_element("#ops-health-checked-text").text
    with app.server.app_context():
        second = health.run_health_checks(app.server.config["BI_SETTINGS"], engine=engine)
    expected = f"checked {second.at:%H:%M:%S}"
    assert expected not in before
    dash_duo.wait_for_contains_text("#ops-health-checked-text", expected, timeout=10)
    dash_duo.driver.save_screenshot("/tmp/ops_health.png")

    dash_duo.driver.get(f"{dash_duo.server_url}/ops/performance")
    dash_duo.wait_for_contains_text(
        "#ops-performance-endpoints-graph", "/seeded/recent", timeout=15
    )
    assert "/seeded/last-week" not in dash_duo.find_element("#ops-performance-endpoints-graph").text
    assert (
        "overview-revenue-graph.figure"
        in dash_duo.find_element("#ops-performance-callbacks-graph").text
    )
    dash_duo.driver.save_screenshot("/tmp/ops_performance.png")
    week = [
        label
        for label in dash_duo.find_elements("#ops-performance-range-radio label")
        if label.text == "7 days"
    ]
    week[0].click()
    dash_duo.wait_for_contains_text(
        "#ops-performance-endpoints-graph", "/seeded/last-week", timeout=15
    )
    dash_duo.driver.save_screenshot("/tmp/ops_performance_7d.png")
    engine.dispose()
    assert dash_duo.get_logs() == []
