"""Channel sources against REAL HTTP servers on loopback: healthy, slow, failing, garbage.

Every server is a ``ThreadingHTTPServer`` on a free port in a thread; each counts the requests
it received, so the tests can tell a call that was made from one the breaker refused.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bi_app.channels.base import ChannelSourceError, ChannelStats, EventRef
from bi_app.channels.breaker import CircuitBreaker
from bi_app.channels.http_source import HttpJsonSource, parse_stats
from bi_app.channels.service import LIVE, MISSING, STALE, ChannelService
from bi_app.channels.store import MemoryLastGoodStore

pytestmark = pytest.mark.integration

EVENT = EventRef(1, "E1")
TOKEN = "Bearer s3cret-token"


@pytest.fixture(autouse=True)
def allow_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-ins are on loopback, which the outbound policy refuses unless an operator allows
    it: sources built outside an app read BI_OUTBOUND_ALLOW from the environment."""
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")


class Server:
    """A loopback HTTP server whose behaviour a test can switch at any time."""

    def __init__(self, behaviour: str, channel: str, delay: float = 0.0) -> None:
        self.behaviour, self.channel, self.delay = behaviour, channel, delay
        self.requests: list[dict] = []
        self.holding = 0  # requests received and not answered yet (held for ``delay``)
        self.release = threading.Event()  # ends every hold at once (on close)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization")}
                )
                if outer.delay:
                    outer.holding += 1
                    outer.release.wait(outer.delay)
                    outer.holding -= 1
                mode = outer.behaviour
                if mode == "fail":
                    return self._send(500, b'{"error": "internal"}')
                if mode == "garbage":
                    return self._send(200, b"<html>not json{")
                if mode == "invalid":
                    return self._send(
                        200,
                        json.dumps(
                            {"channel": outer.channel, "views": "12", "clicks": 1, "conversions": 0}
                        ).encode(),
                    )
                if mode == "auth" and self.headers.get("Authorization") != TOKEN:
                    return self._send(401, b'{"error": "unauthorized"}')
                body = {
                    "channel": outer.channel,
                    "event": "E1",
                    "views": 1000,
                    "clicks": 50,
                    "conversions": 5,
                }
                return self._send(200, json.dumps(body).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout): nothing to do
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stats/{{event_code}}?channel={{channel}}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def servers() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(behaviour: str, channel: str, delay: float = 0.0) -> Server:
        server = Server(behaviour, channel, delay)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def breakers(**kw) -> Callable[[str], CircuitBreaker]:
    made: dict[str, CircuitBreaker] = {}
    params = {"failure_ratio": 0.5, "window": 10, "min_calls": 3, "cooldown": 60.0}
    params.update(kw)

    def get(channel: str) -> CircuitBreaker:
        return made.setdefault(channel, CircuitBreaker(f"test:{channel}", **params))

    get.made = made  # type: ignore[attr-defined]
    return get


NOW = dt.datetime(2024, 5, 1, 10, 42)


def test_parse_stats_is_strict():
    ok = parse_stats(
        b'{"channel": "email", "views": 3, "clicks": 2, "conversions": 1, "extra": [1]}',
        "email",
        "E1",
    )
    assert ok == ChannelStats("email", 3, 2, 1)
    bad = [
        b"not json",
        b"[1, 2]",
        b'"email"',
        b'{"channel": "email", "views": NaN, "clicks": 1, "conversions": 0}',
        b'{"channel": "email", "views": 1.5, "clicks": 1, "conversions": 0}',
        b'{"channel": "email", "views": true, "clicks": 1, "conversions": 0}',
        b'{"channel": "email", "views": -1, "clicks": 1, "conversions": 0}',
        b'{"channel": "email", "clicks": 1, "conversions": 0}',
        b'{"channel": "social", "views": 1, "clicks": 1, "conversions": 0}',
        b'{"channel": "email", "event": "E2", "views": 1, "clicks": 1, "conversions": 0}',
        b'{"channel": "email", "views": 1, "views": 2, "clicks": 1, "conversions": 0}',
        b"\xff\xfe",
    ]
    for body in bad:
        with pytest.raises(ChannelSourceError):
            parse_stats(body, "email", "E1")


def test_http_source_sends_auth_and_fills_the_url(servers):
    server = servers("auth", "email")
    source = HttpJsonSource(
        "email", server.url, auth_header_name="Authorization", auth_header_value=TOKEN, timeout=2
    )
    assert source.fetch(EVENT) == ChannelStats("email", 1000, 50, 5)
    assert server.requests[-1] == {"path": "/stats/E1?channel=email", "auth": TOKEN}
    assert "s3cret" not in repr(source)
    with pytest.raises(ChannelSourceError, match="HTTP 401"):
        HttpJsonSource("email", server.url, timeout=2).fetch(EVENT)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "127.0.0.1:80"])
def test_http_source_refuses_other_schemes(url):
    with pytest.raises(ValueError):
        HttpJsonSource("email", url)


def test_parallel_fetch_with_slow_failing_garbage_and_healthy(servers):
    healthy = servers("ok", "email")
    slow = servers("ok", "social", delay=5.0)
    failing = servers("fail", "search")
    garbage = servers("garbage", "display")
    invalid = servers("invalid", "partner")
    sources = [
        HttpJsonSource("email", healthy.url, timeout=5),
        HttpJsonSource("social", slow.url, timeout=0.5),
        HttpJsonSource("search", failing.url, timeout=5),
        HttpJsonSource("display", garbage.url, timeout=5),
        HttpJsonSource("partner", invalid.url, timeout=5),
    ]
    store = MemoryLastGoodStore()
    store.put(1, ChannelStats("search", 70, 7, 1), dt.datetime(2024, 5, 1, 9, 15))
    service = ChannelService(sources, store, breakers=breakers(), now=lambda: NOW)

    report = service.fetch(EVENT)

    # the slow server holds its request for 5 s: the report came back while it was still held
    # (its 0.5 s timeout applied), having asked it exactly once
    assert (len(slow.requests), slow.holding) == (1, 1)
    by = {r.channel: r for r in report.results}
    assert [r.channel for r in report.results] == [
        "email",
        "social",
        "search",
        "display",
        "partner",
    ]
    assert (by["email"].status, by["email"].stats) == (LIVE, ChannelStats("email", 1000, 50, 5))
    assert by["social"].status == MISSING and "timed out" in by["social"].error
    assert by["search"].status == STALE and by["search"].stats == ChannelStats("search", 70, 7, 1)
    assert "HTTP 500" in by["search"].error
    assert by["display"].status == MISSING and "invalid JSON" in by["display"].error
    assert by["partner"].status == MISSING and "views" in by["partner"].error
    assert report.degraded
    assert report.totals() == ChannelStats("all", 1070, 57, 6)
    assert report.notices("UTC") == [
        "Channel social unavailable — no earlier data, showing 0",
        "Channel search unavailable — data from 2024-05-01 09:15",
        "Channel display unavailable — no earlier data, showing 0",
        "Channel partner unavailable — no earlier data, showing 0",
    ]
    # the good answer became the last good value
    assert store.get(1, "email") == (ChannelStats("email", 1000, 50, 5), NOW)


def test_breaker_opens_and_last_good_is_served_with_its_time(servers):
    server = servers("ok", "email")
    store = MemoryLastGoodStore()
    get_breaker = breakers(min_calls=3)
    clock = {"now": dt.datetime.now(dt.UTC).replace(tzinfo=None, second=0, microsecond=0)}
    service = ChannelService(
        [HttpJsonSource("email", server.url, timeout=2)],
        store,
        breakers=get_breaker,
        now=lambda: clock["now"],
    )
    good_at = clock["now"]
    assert service.fetch(EVENT).results[0].status == LIVE

    server.behaviour = "fail"
    for _ in range(3):  # 3 failures of 4 calls ≥ 50 % with 3+ calls: opens on the third
        result = service.fetch(EVENT).results[0]
        assert result.status == STALE and result.stats == ChannelStats("email", 1000, 50, 5)
    assert get_breaker("email").state == "open"
    calls = len(server.requests)
    result = service.fetch(EVENT).results[0]
    assert len(server.requests) == calls  # refused by the breaker, the server was not called
    assert (result.status, result.error) == (STALE, "circuit open")
    assert result.notice("UTC") == f"Channel email unavailable — data from {good_at:%H:%M}"
    assert result.notice("Asia/Kolkata").endswith(
        (good_at.replace(tzinfo=dt.UTC) + dt.timedelta(hours=5, minutes=30)).strftime("%H:%M")
    )


def test_half_open_trial_closes_the_breaker_when_the_server_recovers(servers):
    server = servers("fail", "email")
    clock = {"t": 0.0}
    made: dict[str, CircuitBreaker] = {}

    def get_breaker(channel: str) -> CircuitBreaker:
        return made.setdefault(
            channel,
            CircuitBreaker(channel, window=4, min_calls=2, cooldown=30, clock=lambda: clock["t"]),
        )

    service = ChannelService(
        [HttpJsonSource("email", server.url, timeout=2)],
        MemoryLastGoodStore(),
        breakers=get_breaker,
    )
    for _ in range(2):
        assert service.fetch(EVENT).results[0].status == MISSING
    assert made["email"].state == "open"
    server.behaviour = "ok"
    clock["t"] = 31.0
    assert service.fetch(EVENT).results[0].status == LIVE  # the half-open trial
    assert made["email"].state == "closed"


def test_process_breakers_are_registered_for_the_health_page():
    from bi_app.channels.service import breaker_for
    from bi_app.monitoring.breakers import breaker_states

    breaker = breaker_for("test-registry")
    assert breaker_for("test-registry") is breaker
    names = {s["name"]: s for s in breaker_states()}
    assert names["channel:test-registry"]["state"] == "closed"


@pytest.fixture(params=["sqlite", "postgresql"])
def event_db(request, tmp_path):
    from bi_app.extensions import db
    from tests.conftest import migrate
    from tests.integration.test_events_data import load_events

    url = (
        f"sqlite:///{tmp_path / 'ch.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    db.init(url)
    load_events(db.require_engine())
    yield db.require_engine()
    db.engine.dispose()


def test_db_store_round_trip(event_db):
    from bi_app.channels.store import DbLastGoodStore

    store = DbLastGoodStore(lambda: event_db)
    assert store.get(1, "email") is None
    store.put(1, ChannelStats("email", 5, 4, 3), dt.datetime(2024, 1, 1, 8, 0))
    store.put(1, ChannelStats("email", 9, 8, 7), dt.datetime(2024, 1, 2, 8, 0))  # replaces
    fresh = DbLastGoodStore(lambda: event_db)  # another worker reads the same row
    assert fresh.get(1, "email") == (ChannelStats("email", 9, 8, 7), dt.datetime(2024, 1, 2, 8, 0))


def test_channel_report_configured_and_demo_sources_cached(event_db, servers, tmp_path):
    import flask

    from bi_app.channels.config import SourceConfig, save_config
    from bi_app.channels.report import channel_report
    from bi_app.data import cache as data_cache
    from tests.conftest import make_settings

    server = servers("ok", "email")
    save_config(event_db, SourceConfig("email", server.url, "Authorization", TOKEN, True, 2.0))
    save_config(
        event_db, SourceConfig("search", server.url, None, None, False, 2.0)
    )  # disabled: demo
    app = flask.Flask("channels-test")
    data_cache.init_app(app, make_settings(str(event_db.url)), key_prefix=f"t{id(app)}:")
    with app.app_context():
        report = channel_report(EVENT)
        by = {r.channel: r for r in report.results}
        assert (by["email"].source, by["email"].status, by["email"].stats) == (
            "http",
            LIVE,
            ChannelStats("email", 1000, 50, 5),
        )
        # the others come from event_channel_stats: social (200, 4, 0), the rest zero
        assert (by["social"].source, by["social"].stats) == (
            "demo",
            ChannelStats("social", 200, 4, 0),
        )
        assert (
            by["search"].stats == ChannelStats("search", 0, 0, 0) and by["search"].source == "demo"
        )
        calls = len(server.requests)
        assert channel_report(EVENT) == report  # from the cache
        assert len(server.requests) == calls
        # a configuration change is a new key: fetched again
        save_config(event_db, SourceConfig("email", server.url, "Authorization", TOKEN, True, 3.0))
        channel_report(EVENT)
        assert len(server.requests) == calls + 1


@pytest.fixture
def channel_app(event_db, redis_url, redis_prefix):
    """A bare Flask app whose data cache is the real Redis, under a private prefix."""
    import flask

    from bi_app.data import cache as data_cache
    from tests.conftest import make_settings

    app = flask.Flask("channels-page-test")
    data_cache.init_app(
        app,
        make_settings(str(event_db.url.render_as_string(hide_password=False)), redis_url=redis_url),
        key_prefix=redis_prefix,
    )
    with app.app_context():
        yield app


def _count_statements(engine) -> list[str]:
    from sqlalchemy import event

    sent: list[str] = []
    event.listen(
        engine, "before_cursor_execute", lambda conn, cur, statement, *_: sent.append(statement)
    )
    return sent


def test_event_channels_hit_is_one_cache_round_trip(event_db, channel_app, monkeypatch):
    from bi_app.channels.report import event_channels
    from bi_app.extensions import cache

    first = event_channels(2)
    # event 2 has no channel rows; its predecessor, event 1: email 150 + social 200 views
    assert (first.views, first.previous_views, first.previous_name) == (0, 350, "Spring Conference")
    assert first.views_change_pct == Decimal(-100)
    assert {r.source for r in first.report.results} == {"demo"}
    # the very first call found no generation tokens yet (a fresh cache): it stored nothing
    assert event_channels(2) == first
    backend = channel_app.extensions["cache"][cache]
    calls: list[str] = []
    for name in ("get", "get_many", "set", "add", "has"):
        method = getattr(backend, name)
        monkeypatch.setattr(
            backend, name, lambda *a, _m=method, _n=name, **k: calls.append(_n) or _m(*a, **k)
        )
    sent = _count_statements(event_db)
    assert event_channels(2) == first
    assert calls == ["get_many"] and sent == []
    assert event_channels(77) is None and event_channels(77) is None  # no such event: cached too


def test_event_channels_follow_saved_sources_and_data_changes(event_db, channel_app, servers):
    from sqlalchemy import update

    from bi_app.channels.config import SourceConfig, delete_config, save_config
    from bi_app.channels.report import channel_report, event_channels
    from bi_app.data import cache as data_cache
    from bi_app.data.events import NAMESPACE
    from bi_app.db.models import Event

    assert event_channels(2).previous_views == 350
    server = servers("ok", "email")
    save_config(event_db, SourceConfig("email", server.url, None, None, True, 2.0))
    live = event_channels(2)  # at once, not after a TTL: the save replaced the token
    # the stand-in answers for E1 only: event 1's email is live, event 2's answer is refused
    previous = {r.channel: r for r in channel_report(EVENT).results}
    assert (previous["email"].source, previous["email"].status, previous["email"].stats.views) == (
        "http",
        LIVE,
        1000,
    )
    assert {r.channel: r for r in live.report.results}["email"].status == STALE  # demo value kept
    assert (live.views, live.previous_views) == (0, 1000 + 200)
    assert sorted(r["path"] for r in server.requests) == [
        "/stats/E1?channel=email",
        "/stats/E2?channel=email",
    ]
    assert event_channels(2) == live and len(server.requests) == 2
    assert delete_config(event_db, "email") and not delete_config(event_db, "email")
    assert event_channels(2).previous_views == 350
    with event_db.begin() as conn:
        conn.execute(update(Event).where(Event.id == 1).values(name="Spring Summit"))
    assert event_channels(2).previous_name == "Spring Conference"  # cached until data changes
    data_cache.invalidate(NAMESPACE)
    assert event_channels(2).previous_name == "Spring Summit"


def test_event_channels_expire_with_their_reports(event_db, channel_app, servers, monkeypatch):
    import time as real_time
    from types import SimpleNamespace

    from bi_app.channels import report as report_module
    from bi_app.channels.config import SourceConfig, save_config

    built: list[int] = []
    build = report_module._build
    monkeypatch.setattr(report_module, "_build", lambda *a: built.append(a[0]) or build(*a))
    offset = [0.0]
    monkeypatch.setattr(
        report_module, "time", SimpleNamespace(time=lambda: real_time.time() + offset[0])
    )

    report_module.event_channels(2)  # creates the generation tokens of a fresh cache
    built.clear()
    healthy = report_module.event_channels(2)
    assert not healthy.report.degraded and built == [2]
    offset[0] = report_module.DEGRADED_TTL_S + 1
    report_module.event_channels(2)
    assert built == [2]  # a live report lives 300 s
    offset[0] = report_module.REPORT_TTL_S + 1
    report_module.event_channels(2)
    assert built == [2, 2]

    offset[0] = 0.0
    save_config(
        event_db, SourceConfig("partner", servers("fail", "partner").url, None, None, True, 2.0)
    )
    degraded = report_module.event_channels(2)
    assert degraded.report.degraded and built == [2, 2, 2]
    assert report_module.event_channels(2) == degraded and built == [2, 2, 2]
    offset[0] = report_module.DEGRADED_TTL_S + 1
    report_module.event_channels(2)
    assert built == [2, 2, 2, 2]  # an unavailable channel is asked again after 30 s


def test_configs_are_read_once_per_token(event_db, channel_app):
    from bi_app.channels import config

    token = config.config_token()
    first = config.current_configs(event_db, token)
    sent = _count_statements(event_db)
    assert config.current_configs(event_db, token) is first and sent == []
    config.save_config(
        event_db, config.SourceConfig("display", "http://127.0.0.1:9/x", None, None, False, 1.0)
    )
    assert config.config_token() != token
    after = config.current_configs(event_db, config.config_token())
    assert [c.channel for c in after.configs] == ["display"] and after.digest != first.digest
    assert len(sent) >= 1  # reloaded from the table


def test_demo_channels_of_a_report_share_one_query(event_db, channel_app):
    from bi_app.channels.report import channel_report

    sent = _count_statements(event_db)
    report = channel_report(EVENT)
    reads = [s for s in sent if "event_channel_stats" in s]
    assert len(reads) == 1
    assert [(r.channel, r.source, r.status) for r in report.results] == [
        (c, "demo", LIVE) for c in ("email", "social", "search", "display", "partner")
    ]
    assert {r.channel: r.stats for r in report.results}["email"] == ChannelStats(
        "email", 150, 15, 3
    )
