"""Health checks against real servers: PostgreSQL, Redis, and HTTP stand-ins on loopback
(healthy, failing, garbage, hanging, needing an auth header); faults keep the page working."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import func, select, update

from bi_app.db.engine import make_engine
from bi_app.db.monitoring_models import OVERALL_CHECK, HealthResult
from bi_app.monitoring import dashboard, health, status
from bi_app.monitoring.services import add_service, parse_services
from components.ops_health_view import layout as health_page
from tests.conftest import free_port, make_settings, migrate

pytestmark = pytest.mark.integration
HANG_S = 8.0
TOKEN = "Bearer stand-in-secret"
LOOPBACK = ("127.0.0.1/32",)  # BI_OUTBOUND_ALLOW for the stand-ins


class Slow:
    """What the stand-in saw of ``/slow``, which it holds for HANG_S unless released."""

    expected = False  # set by a test that also asks for /slow: other paths wait for it first
    arrived = threading.Event()
    release = threading.Event()
    holding = 0  # /slow requests received and not answered yet
    others_while_held: ClassVar[list[tuple[str, bool]]] = []  # (path, was /slow held) per request

    @classmethod
    def reset(cls) -> None:
        cls.expected, cls.arrived, cls.release, cls.holding, cls.others_while_held = (
            False,
            threading.Event(),
            threading.Event(),
            0,
            [],
        )


class StandIn(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            Slow.holding += 1
            Slow.arrived.set()
            Slow.release.wait(HANG_S)
            Slow.holding -= 1
        elif Slow.expected:
            # checks run side by side: /slow is asked for alongside, so it is (soon) being held
            Slow.arrived.wait(2)
            Slow.others_while_held.append((self.path, Slow.holding > 0))
        if self.path == "/auth" and self.headers.get("Authorization") != TOKEN:
            self.send_response(401)
        else:
            self.send_response({"/fail": 500}.get(self.path, 200))
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def stand_in() -> Iterator[str]:
    Slow.reset()
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    Slow.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def garbage_server() -> Iterator[str]:
    """Answers every connection with bytes that are not HTTP."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                conn.recv(1024)
                conn.sendall(b"\x00\x01garbage, not http\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
    stop.set()
    sock.close()


@pytest.fixture(autouse=True)
def _clean_memory():
    health.forget()
    yield
    health.forget()


def _closed_pg_url() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"


def test_postgres_check_reports_connections_and_stores_the_series(pg_url):
    migrate(pg_url)
    engine = make_engine(pg_url)
    settings = make_settings(pg_url)
    report = health.run_health_checks(settings, engine=engine)
    db_check = report.check("database")
    assert db_check.status == "healthy" and db_check.latency_ms > 0
    assert db_check.detail["connections"] >= 1 and db_check.detail["max_connections"] >= 10
    assert isinstance(db_check.detail["active_queries"], int)
    assert report.stored and report.store_error is None
    with engine.connect() as conn:
        stored = conn.execute(select(HealthResult.check_name, HealthResult.status)).all()
    assert dict(stored)[OVERALL_CHECK] == report.status
    assert {name for name, _ in stored} == {c.name for c in report.checks} | {OVERALL_CHECK}
    again = health.latest_stored_report(engine)
    assert again.status == report.status and {c.name for c in again.checks} == {
        c.name for c in report.checks
    }
    engine.dispose()


def test_services_run_in_parallel_and_a_hanging_one_times_out_alone(
    sqlite_url, stand_in, garbage_server, monkeypatch
):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    services = [
        {"name": "ok", "url": f"{stand_in}/ok"},
        {"name": "failing", "url": f"{stand_in}/fail"},
        {"name": "garbage", "url": garbage_server},
        {"name": "hanging", "url": f"{stand_in}/slow", "timeout": 1},
    ]
    monkeypatch.setenv("BI_SECRET_STAND_IN_AUTH", f"Authorization: {TOKEN}")
    from bi_app.db.engine import make_session_factory

    with make_session_factory(engine)() as session:
        add_service(session, "with-auth", f"{stand_in}/auth", auth_env="BI_SECRET_STAND_IN_AUTH")
        add_service(session, "without-auth", f"{stand_in}/auth")
        session.commit()

    Slow.expected = True
    settings = make_settings(
        sqlite_url,
        health_services=parse_services(json.dumps(services)),
        outbound_allow=LOOPBACK,  # the stand-ins are on loopback, which the policy refuses
    )
    report = health.run_health_checks(settings, engine=engine)

    checks = {c.name: c for c in report.checks}
    assert (
        checks["service:ok"].status == "healthy"
        and checks["service:ok"].detail["status_code"] == 200
    )
    assert checks["service:failing"].error == "HTTP 500, expected 200"
    assert checks["service:garbage"].status == "unhealthy" and checks["service:garbage"].error
    assert checks["service:hanging"].status == "unhealthy"
    assert checks["service:hanging"].error == "timed out after 1 s"
    assert checks["service:with-auth"].status == "healthy"
    assert checks["service:without-auth"].error == "HTTP 401, expected 200"
    # The hanging service held nobody else up: the others answered within its timeout, and the
    # whole run ended long before the stand-in would have answered.
    assert sorted(Slow.others_while_held) == [
        ("/auth", True),
        ("/auth", True),
        ("/fail", True),
        ("/ok", True),
    ]
    assert Slow.holding == 1  # the run ended while the stand-in still held the hanging request
    # External services degrade the app; they never take it out of the load balancer.
    assert checks["database"].status == "healthy" and report.status == "degraded"
    engine.dispose()


def test_redis_down_only_degrades_the_cache_check(sqlite_url, redis_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    up = health.run_health_checks(
        make_settings(sqlite_url, redis_url=redis_url), engine=engine, store=False
    )
    assert up.check("cache").status == "healthy" and up.check("cache").latency_ms is not None
    down = health.run_health_checks(
        make_settings(sqlite_url, redis_url=f"redis://127.0.0.1:{free_port()}/0"),
        engine=engine,
        store=False,
    )
    cache = down.check("cache")
    assert cache.status == "degraded" and "Redis unreachable" in cache.error
    assert down.check("database").status == "healthy" and down.status != "unhealthy"
    engine.dispose()


def test_database_down_page_renders_from_memory_and_says_so(sqlite_url, monkeypatch):
    from bi_app.extensions import db

    migrate(sqlite_url)
    settings = make_settings(sqlite_url)
    db.init(sqlite_url)
    good = health.run_health_checks(settings)
    assert good.stored
    db.init(_closed_pg_url())  # the database goes away

    snapshot = dashboard.health_snapshot(settings)
    assert snapshot.report is good and snapshot.database_error  # the in-memory report, and why
    text = json.dumps(health_page(snapshot, "UTC", 5000), cls=PlotlyJSONEncoder)
    assert "The database is unreachable" in text
    assert all(f'"{c.name}"' in text for c in good.checks)  # every tile still there

    bad = health.run_health_checks(settings)
    assert (
        bad.check("database").status == "unhealthy" and "unreachable" in bad.check("database").error
    )
    assert bad.status == "unhealthy" and not bad.stored and bad.store_error
    assert health.last_report() is bad  # kept in memory although it could not be stored


def test_cli_status_prints_checks_and_exits_non_zero_when_unhealthy(sqlite_url, capsys):
    from bi_app.extensions import db

    migrate(sqlite_url)
    db.init(sqlite_url)
    import io

    out = io.StringIO()
    code = status.cli_status(make_settings(sqlite_url), out)
    text = out.getvalue()
    assert code == 0 and "overall:" in text and "database" in text and "scheduler leader:" in text
    db.init(_closed_pg_url())
    out = io.StringIO()
    assert status.cli_status(make_settings(sqlite_url), out) == 1
    assert "FAIL" in out.getvalue() and "database unreachable" in out.getvalue()
    with make_engine(sqlite_url).connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(HealthResult)).scalar() == 0
        )  # status stores nothing


def test_a_report_older_than_two_intervals_is_never_served(sqlite_url):
    migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    settings = make_settings(sqlite_url)
    old = health.run_health_checks(settings, engine=engine)
    assert old.stored and old.status != "unhealthy"
    too_old = dt.timedelta(seconds=health.STALE_AFTER_S + 10)
    with engine.begin() as conn:  # the stored report is now two intervals and more old
        conn.execute(update(HealthResult).values(at=old.at - too_old))
    health.forget()
    assert health.latest_stored_report(engine).age_s() > health.STALE_AFTER_S

    # Even a caller that would accept a five-minute-old report gets the checks run now.
    served = health.current_report(settings, max_age_s=300, engine=engine)
    assert served.origin == "live" and served.age_s() < health.CHECK_INTERVAL_S

    old.at -= too_old  # the same for the report kept in memory
    health.forget()
    health.remember(old)
    served = health.current_report(settings, max_age_s=300, engine=engine)
    assert served is not old and served.origin == "live"
    assert health.fresh_report(300) is not old
    engine.dispose()


def test_api_health_is_503_within_one_interval_of_a_database_outage(app_factory, sqlite_url):
    from bi_app.extensions import db

    migrate(sqlite_url)
    app = app_factory(sqlite_url)
    client = app.server.test_client()
    with app.server.app_context():
        good = health.run_health_checks(app.server.config["BI_SETTINGS"], store=False)
    assert good.status != "unhealthy" and health.last_report() is good
    assert client.get("/api/health").status_code == 200

    # The last full report is a little more than one interval old when the database goes away
    # (a closed loopback port: every connection is refused).
    good.at -= dt.timedelta(seconds=health.CHECK_INTERVAL_S + 1)
    db.init(_closed_pg_url())
    began = time.monotonic()
    response = client.get("/api/health")
    waited = time.monotonic() - began
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["checks"]["database"] == {"status": "unhealthy"}
    # promptly: the live checks have a short deadline, the request does not hang on the database
    assert waited < health.CHEAP_TIMEOUT_S + 3
