"""The middleware records requests and callbacks; minutes flush and roll up in the database;
/api/health and /metrics answer through the Flask test client."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import dash
import flask
import pytest
from dash import Input, Output, html
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from bi_app import monitoring
from bi_app.db.engine import make_engine
from bi_app.db.log_models import AppLog
from bi_app.db.monitoring_models import CacheMetricMinute, RequestMetricHour, RequestMetricMinute
from bi_app.monitoring import dashboard, health, logs, metrics, middleware, prometheus
from tests.conftest import ADMIN_PASSWORD, TEST_SECRET, free_port, make_settings, migrate

pytestmark = pytest.mark.integration
METRICS_TOKEN = "metrics-token-0123456789"


@pytest.fixture(autouse=True)
def _clean_memory():
    health.forget()
    yield
    health.forget()


def _bare_app(settings) -> dash.Dash:
    """A one-callback Dash app without the product's pages or auth: the middleware alone."""
    app = dash.Dash(__name__, server=flask.Flask("metrics-test"), serve_locally=True)
    app.server.config["SECRET_KEY"] = TEST_SECRET
    app.layout = html.Div([html.Button(id="metrics-test-button"), html.Div(id="metrics-test-out")])

    @app.callback(Output("metrics-test-out", "children"), Input("metrics-test-button", "n_clicks"))
    def echo(n):
        if n == 13:
            raise ValueError("unlucky")
        return f"clicked {n}"

    monitoring.init_app(app, settings)
    return app


def _callback_body(n: int) -> dict:
    return {
        "output": "metrics-test-out.children",
        "outputs": {"id": "metrics-test-out", "property": "children"},
        "inputs": [{"id": "metrics-test-button", "property": "n_clicks", "value": n}],
        "changedPropIds": ["metrics-test-button.n_clicks"],
        "state": [],
    }


def _totals(kind: str, name: str, method: str) -> dict[int, int]:
    """Exported counts by status of one route (``kind`` "http") or callback output."""
    metric, label = (
        ("bi_http_requests_total", "route")
        if kind == "http"
        else ("bi_dash_callbacks_total", "output")
    )
    out: dict[int, int] = {}
    for family in prometheus.REQUESTS.registry.collect():
        for s in family.samples:
            labels = s.labels
            if (
                s.name == metric
                and labels[label] == name
                and labels.get("method", method) == method
            ):
                out[int(labels["status"])] = int(s.value)
    return out


def _outputs() -> set[str]:
    """Every callback name recorded, in /metrics and in the per-minute aggregator."""
    exported = {
        s.labels["output"]
        for f in prometheus.REQUESTS.registry.collect()
        for s in f.samples
        if "output" in s.labels
    }
    minutes = metrics.AGGREGATOR.pop_completed(time.time() + 120)
    stored = {name for series in minutes.values() for (kind, name, _m) in series if kind != "http"}
    return exported | stored


def test_middleware_records_requests_and_callbacks_by_template_and_output(sqlite_url):
    app = _bare_app(make_settings(sqlite_url))
    client = app.server.test_client()
    before_cb = _totals("callback", "metrics-test-out.children", "POST")
    before_layout = _totals("http", "/_dash-layout", "GET")
    before_missing = _totals("http", "<unmatched>", "POST")

    assert client.get("/_dash-layout").status_code == 200
    assert client.post("/_dash-update-component", json=_callback_body(1)).status_code == 200
    assert client.post("/_dash-update-component", json=_callback_body(13)).status_code == 500
    assert client.post("/no/such/page").status_code == 405  # no route matched: no template

    after_cb = _totals("callback", "metrics-test-out.children", "POST")
    assert after_cb.get(200, 0) - before_cb.get(200, 0) == 1
    assert after_cb.get(500, 0) - before_cb.get(500, 0) == 1
    assert _totals("http", "/_dash-layout", "GET").get(200, 0) - before_layout.get(200, 0) == 1
    assert _totals("http", "<unmatched>", "POST").get(405, 0) - before_missing.get(405, 0) == 1


def test_minutes_flush_then_roll_up_per_hour_and_purge(sqlite_url, monkeypatch):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    agg = metrics.MinuteAggregator()
    now = time.time()
    two_minutes_ago = now - 120
    for i in range(100):
        agg.record(
            "http", "/api/x", "GET", 500 if i % 25 == 0 else 200, float(i + 1), now=two_minutes_ago
        )
    agg.record("http", "/api/x", "GET", 200, 1.0, now=now)  # the current minute stays in memory
    stats = iter([{"hits": 10, "misses": 5}, {"hits": 40, "misses": 15}])
    import bi_app.data.cache as data_cache

    monkeypatch.setattr(data_cache, "cache_stats", lambda: next(stats))
    monkeypatch.setattr(metrics, "_cache_last", {})
    assert metrics._cache_delta() is None
    assert metrics.rollup_minute(engine, now=now, aggregator=agg) == 1
    with engine.connect() as conn:
        row = conn.execute(select(RequestMetricMinute.__table__)).one()
        cache_rows = conn.execute(select(CacheMetricMinute.hits, CacheMetricMinute.misses)).all()
    assert (row.count, row.errors, row.max_ms) == (100, 4, 100.0)
    assert 45 <= row.p50_ms <= 56 and 90 <= row.p95_ms <= 100  # exact: 50.5 and 95.05, ±1 bucket
    assert cache_rows == [(30, 10)]
    assert agg.pending_minutes() == 1

    data = dashboard.performance_data("1h", engine)
    assert data.endpoints[0]["count"] == 100 and data.endpoints[0]["errors"] == 4
    assert sum(data.throughput_per_min) == 100
    assert data.cache_hit_rate == [0.75]

    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=2)
    result = metrics.purge_old(engine, now=later)
    assert result["hour_rows_written"] == 1 and result["minute_rows_deleted"] == 1
    with engine.connect() as conn:
        hour = conn.execute(select(RequestMetricHour.__table__)).one()
        assert conn.execute(select(RequestMetricMinute.id)).all() == []
    assert (hour.count, hour.errors, hour.p95_ms) == (100, 4, row.p95_ms)
    week = dashboard.performance_data("7d", engine, now=later)
    assert week.endpoints[0]["count"] == 100  # now read from the hour table
    assert metrics.purge_old(engine, now=later)["hour_rows_written"] == 0  # idempotent
    engine.dispose()


def test_flush_failure_keeps_the_minutes_for_the_next_try(sqlite_url):
    agg = metrics.MinuteAggregator()
    now = time.time()
    agg.record("http", "/a", "GET", 200, 3.0, now=now - 120)
    broken = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    assert metrics.rollup_minute(broken, now=now, aggregator=agg) == 0
    assert agg.pending_minutes() == 1
    migrate(sqlite_url)
    assert metrics.rollup_minute(make_engine(sqlite_url), now=now, aggregator=agg) == 1


def _login(client, password: str = ADMIN_PASSWORD, username: str = "admin") -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "next": "/", "csrf_token": token},
    )
    assert response.status_code == 302


def test_api_health_is_public_and_503_when_unhealthy(app_factory, demo_sqlite_url):
    app = app_factory(demo_sqlite_url)
    settings = app.server.config["BI_SETTINGS"]
    monitoring.init_app(app, settings)
    client = app.server.test_client()
    response = client.get("/api/health")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] in ("healthy", "degraded")
    assert body["checks"]["database"]["status"] == "healthy"
    assert set(body["checks"]) >= {"database", "cache", "scheduler", "disk"}
    assert response.headers["Cache-Control"] == "no-store"

    from bi_app.extensions import db

    db.init(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test")
    time.sleep(monitoring.views.CHEAP_MEMO_S + 0.1)
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"]["status"] == "unhealthy"


def test_metrics_needs_login_or_the_bearer_token(app_factory, demo_sqlite_url, sqlite_url):
    bare = _bare_app(make_settings(sqlite_url, metrics_token=METRICS_TOKEN)).server.test_client()
    assert bare.get("/metrics").status_code == 401
    assert (
        bare.get("/metrics", headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code
        == 401
    )
    bare.post("/_dash-update-component", json=_callback_body(2))
    response = bare.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200 and "version=0.0.4" in response.headers["Content-Type"]
    families = {f.name: f for f in text_string_to_metric_families(response.get_data(as_text=True))}
    outputs = {s.labels["output"] for s in families["bi_dash_callbacks"].samples}
    assert "metrics-test-out.children" in outputs

    app = app_factory(demo_sqlite_url)
    monitoring.init_app(app, app.server.config["BI_SETTINGS"])
    client = app.server.test_client()
    assert client.get("/metrics").status_code != 200
    _login(client)
    response = client.get("/metrics")
    assert response.status_code == 200 and b"bi_http_requests_total" in response.data


def test_public_health_says_only_statuses_and_details_need_an_operator(
    app_factory, demo_sqlite_url
):
    from bi_app import auth
    from bi_app.extensions import db

    app = app_factory(demo_sqlite_url, metrics_token=METRICS_TOKEN)
    with db.session() as session:
        auth.create_user(session, "vera", "viewer-password-123", "viewer", actor="tests")
        session.commit()

    public = app.server.test_client().get("/api/health").get_json()
    assert set(public) == {"status", "checks"}
    assert all(set(check) == {"status"} for check in public["checks"].values())
    assert public["checks"]["database"] == {"status": "healthy"}

    viewer = app.server.test_client()
    _login(viewer, "viewer-password-123", username="vera")
    assert set(viewer.get("/api/health").get_json()) == {"status", "checks"}
    assert viewer.get("/metrics").status_code == 401  # a viewer is not an operator

    operator = app.server.test_client()
    _login(operator)
    detailed = operator.get("/api/health").get_json()
    assert {"at", "duration_ms", "origin"} <= set(detailed)
    assert "latency_ms" in detailed["checks"]["database"]
    assert operator.get("/metrics").status_code == 200

    with_token = app.server.test_client().get(
        "/api/health", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert "latency_ms" in with_token.get_json()["checks"]["database"]


EVIL = '<a href="https://evil.tld">Session expired</a>'


def _error_rows(url: str) -> list[str]:
    logs.flush()
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(AppLog.message).where(AppLog.level >= 40)).scalars().all()
    engine.dispose()
    return list(rows)


def test_an_unauthenticated_callback_body_is_never_parsed(app_factory, demo_sqlite_url):
    """M1: the guard answers 401 without reading the body, and so does the middleware: a deep
    or huge body is no 500 and no stored traceback, and its ``output`` is no series."""
    app = app_factory(demo_sqlite_url)
    client = app.server.test_client()
    errors_before = _error_rows(demo_sqlite_url)

    def post(body: str):
        return client.post("/_dash-update-component", data=body, content_type="application/json")

    named = post(json.dumps({"output": EVIL, "inputs": [], "state": []}))
    assert named.status_code == 401
    deep = post('{"output": "x.children", "inputs": ' + "[" * 5_000 + "]" * 5_000 + "}")
    assert deep.status_code == 401  # a RecursionError in the middleware was a 500
    # The guard refuses a body this size either way: no session (401) or too large (413).
    huge = post('{"output": "' + "y" * 100 + '", "inputs": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert huge.status_code in (401, 413)
    number = post('{"output": "z.children", "inputs": [' + "9" * 50_000 + "]}")
    assert number.status_code == 401

    assert _outputs() == {middleware.UNMATCHED}
    assert _totals("callback", middleware.UNMATCHED, "POST").get(401, 0) >= 3
    assert _error_rows(demo_sqlite_url) == errors_before


def test_a_signed_in_callback_is_named_only_if_the_app_has_it(app_factory, demo_sqlite_url):
    app = app_factory(demo_sqlite_url)
    client = app.server.test_client()
    _login(client)
    real = next(iter(app.callback_map))
    for output in (real, EVIL, "no-such-graph.figure"):
        client.post(
            "/_dash-update-component",
            json={"output": output, "outputs": [], "inputs": [], "state": []},
        )
    names = _outputs()
    assert real in names and middleware.UNMATCHED in names
    assert EVIL not in names and "no-such-graph.figure" not in names


@pytest.mark.parametrize(
    "body",
    [
        "[" * 5_000 + "]" * 5_000,  # RecursionError: not caught by get_json(silent=True)
        '{"output": ' + "9" * 5_000 + "}",  # ValueError: too many digits for an int
        '{"output": "x.children"',  # not JSON at all
    ],
)
def test_the_callback_name_of_a_body_that_does_not_parse_is_unmatched(body):
    server = flask.Flask("callback-name")
    with server.test_request_context(
        "/_dash-update-component", method="POST", data=body, content_type="application/json"
    ):
        assert middleware.callback_name(200, {"x.children"}) == middleware.UNMATCHED
    with server.test_request_context(
        "/_dash-update-component", method="POST", json={"output": "x.children"}
    ):
        assert middleware.callback_name(200, {"x.children"}) == "x.children"
        assert middleware.callback_name(401, {"x.children"}) == middleware.UNMATCHED
