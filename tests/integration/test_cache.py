"""The data cache: hits, shared keys, invalidation, Redis, and Redis failing mid-flight."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator

import flask
import pytest
import redis

from bi_app.data import cache as data_cache
from bi_app.data import catalog, sales
from bi_app.extensions import cache as flask_cache
from bi_app.extensions import db
from tests.conftest import free_port, make_settings, migrate, unavailable
from tests.integration.test_data_layer import END, START

pytestmark = pytest.mark.integration
RETRY_AFTER = 0.2


@pytest.fixture(autouse=True)
def fresh_counters():
    data_cache.reset_stats()
    yield


def make_server(database_url: str, key_prefix: str | None = None, **overrides) -> flask.Flask:
    server = flask.Flask(f"cache-test-{time.monotonic_ns()}")
    data_cache.init_app(
        server,
        make_settings(database_url, **overrides),
        key_prefix=key_prefix,
        retry_after=RETRY_AFTER,
    )
    return server


def counts(namespace: str = "sales") -> dict:
    return data_cache.cache_stats()["namespaces"].get(namespace, {})


def test_second_call_hits_and_equivalent_arguments_share_an_entry(dataset_url):
    with make_server(dataset_url).app_context():
        first = sales.sales_totals(START, END, ["web"])
        assert counts() == {"hits": 0, "misses": 1, "errors": 0, "bypassed": 0, "uncached": 0}
        assert sales.sales_totals(START, END, ("web",)) == first
        assert (
            sales.sales_totals(
                START.isoformat(), END.isoformat(), platforms=[" WEB", "web"], categories=[]
            )
            == first
        )
        assert counts()["hits"] == 2 and counts()["misses"] == 1
        assert first["revenue_cents"] == 8700

        trend = sales.revenue_trend(START, END, granularity="week")
        again = sales.revenue_trend(START, END, granularity=" Week")
        assert again.equals(trend) and again is not trend
        assert counts()["hits"] == 3

        stats = data_cache.cache_stats()
        assert stats["backend"] == "SimpleCache" and stats["hit_ratio"] == pytest.approx(0.6)


def test_invalidate_forces_a_miss_per_namespace_and_globally(dataset_url):
    with make_server(dataset_url).app_context():
        sales.sales_totals(START, END)
        catalog.platforms()
        assert data_cache.invalidate("catalog") is True
        sales.sales_totals(START, END)
        catalog.platforms()
        assert counts("sales")["hits"] == 1 and counts("catalog")["misses"] == 2

        assert data_cache.invalidate() is True
        sales.sales_totals(START, END)
        catalog.platforms()
        assert counts("sales")["misses"] == 2 and counts("catalog")["misses"] == 3
        assert data_cache.cache_stats()["invalidations"] == 2


def test_invalidation_sees_new_data(dataset_url):
    from sqlalchemy import update

    from bi_app.db.models import Order
    from bi_app.db.rollups import refresh_rollups

    with make_server(dataset_url).app_context():
        assert sales.sales_totals(START, END)["orders"] == 4
        with db.require_engine().begin() as conn:
            conn.execute(update(Order).where(Order.id == 5).values(status="paid"))  # was pending
        refresh_rollups(db.require_engine(), START, END)
        assert sales.sales_totals(START, END)["orders"] == 4  # cached until invalidated
        data_cache.invalidate("sales")
        assert sales.sales_totals(START, END)["orders"] == 5


def test_none_results_are_cached_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    migrate(url)
    db.init(url)
    with make_server(url).app_context():
        assert catalog.data_bounds() is None
        assert catalog.data_bounds() is None
    assert counts("catalog")["hits"] == 1
    db.engine.dispose()


def test_outside_an_app_context_calls_the_database(dataset_url):
    make_server(dataset_url)
    assert sales.sales_totals(START, END)["revenue_cents"] == 10700
    assert sales.sales_totals(START, END)["revenue_cents"] == 10700
    assert counts() == {"hits": 0, "misses": 0, "errors": 0, "bypassed": 0, "uncached": 2}
    assert data_cache.invalidate() is False


def test_ttl_zero_disables_caching(dataset_url):
    with make_server(dataset_url, cache_ttl=0).app_context():
        sales.sales_totals(START, END)
        sales.sales_totals(START, END)
    assert counts()["uncached"] == 2 and counts()["hits"] == 0


def test_filesystem_cache_is_shared_between_apps(dataset_url, tmp_path):
    cache_dir = str(tmp_path / "cache")
    with make_server(dataset_url, cache_dir=cache_dir).app_context():
        sales.top_products(START, END, limit=2)
    with make_server(dataset_url, cache_dir=cache_dir).app_context():
        assert sales.top_products(START, END, limit=2)["sku"].tolist() == ["B2", "B1"]
        assert data_cache.cache_stats()["backend"] == "FileSystemCache"
    assert counts() == {"hits": 1, "misses": 1, "errors": 0, "bypassed": 0, "uncached": 0}


def test_failed_invalidation_is_logged_loudly_and_replayed(dataset_url, caplog, monkeypatch):
    server = make_server(dataset_url)
    with server.app_context():
        backend = server.extensions["cache"][flask_cache]
        sales.sales_totals(START, END)

        def broken_set(*args, **kwargs):
            raise ConnectionError("backend down")

        monkeypatch.setattr(backend, "set", broken_set)
        with caplog.at_level(logging.WARNING, logger="bi_app.data.cache"):
            assert data_cache.invalidate("sales") is False
        assert any(
            r.levelno == logging.ERROR and "INVALIDATION FAILED" in r.message
            for r in caplog.records
        )
        assert data_cache.cache_stats()["invalidation_errors"] == 1

        # the replay fails as well while the backend is down: served from the database
        assert sales.sales_totals(START, END)["orders"] == 4
        assert counts()["errors"] == 2
        monkeypatch.undo()
        time.sleep(RETRY_AFTER * 1.5)
        sales.sales_totals(START, END)  # replays the invalidation first: the old entry is gone
        assert counts()["misses"] == 2 and counts()["hits"] == 0
        sales.sales_totals(START, END)
        assert counts()["hits"] == 1


# --- Redis -----------------------------------------------------------------------------------


def test_redis_cache_shared_by_workers(dataset_url, redis_url, redis_prefix):
    worker_a = make_server(dataset_url, key_prefix=redis_prefix, redis_url=redis_url)
    worker_b = make_server(dataset_url, key_prefix=redis_prefix, redis_url=redis_url)
    with worker_a.app_context():
        expected = sales.overview_kpis(START, END)
        assert data_cache.cache_stats()["backend"] == "RedisCache"
    with worker_b.app_context():
        assert sales.overview_kpis(START, END) == expected
        assert counts()["hits"] == 1
        data_cache.invalidate("sales")
    with worker_a.app_context():
        assert sales.overview_kpis(START, END) == expected
    # A: kpis + its two sales_totals miss; B: kpis hits; after invalidation A misses all three again
    assert counts() == {"hits": 1, "misses": 6, "errors": 0, "bypassed": 0, "uncached": 0}
    client = redis.Redis.from_url(redis_url)
    keys = [k.decode() for k in client.scan_iter(f"{redis_prefix}*")]
    assert f"{redis_prefix}gen:sales" in keys
    assert any(k.startswith(f"{redis_prefix}sales:sales.overview_kpis:") for k in keys)


def _commands(client: redis.Redis) -> dict[str, int]:
    return {k: v["calls"] for k, v in client.info("commandstats").items()}


def test_a_hit_is_one_round_trip_and_a_stale_stamp_a_miss(dataset_url, redis_url, redis_prefix):
    """The generation tokens and the entry are read together; an entry stamped with an older
    generation is recomputed and overwritten, not served."""
    server = make_server(dataset_url, key_prefix=redis_prefix, redis_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    with server.app_context():
        expected = sales.sales_totals(START, END, ["web"])
        before = _commands(client)
        assert sales.sales_totals(START, END, ["web"]) == expected
        after = _commands(client)
        sent = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
        assert sent == {"cmdstat_mget": 1, "cmdstat_info": 1}  # (INFO: the first reading)
        (key,) = [k for k in client.scan_iter(f"{redis_prefix}*") if b"sales_totals" in k]
        data_cache.invalidate("sales")
        assert sales.sales_totals(START, END, ["web"]) == expected
        assert [k for k in client.scan_iter(f"{redis_prefix}*") if b"sales_totals" in k] == [key]
    assert counts()["misses"] == 2 and counts()["hits"] == 1


class RedisProcess:
    """A private redis-server on a free loopback port that the test can kill and restart."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, sig)


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    if shutil.which("redis-server") is None:
        unavailable("the redis-server binary (this test starts, kills and stops its own Redis)")
    server = RedisProcess()
    server.start()
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.signal(signal.SIGCONT)
    server.kill()


class RedisTraffic:
    """Counts what redis-py puts on the wire: connection attempts and commands sent."""

    def __init__(self) -> None:
        self.connects = 0
        self.commands = 0

    def reset(self) -> None:
        self.connects = self.commands = 0


@pytest.fixture
def redis_traffic(monkeypatch: pytest.MonkeyPatch) -> RedisTraffic:
    traffic = RedisTraffic()
    connect = redis.connection.Connection._connect
    send = redis.connection.Connection.send_packed_command

    def counted_connect(self, *args, **kwargs):
        traffic.connects += 1
        return connect(self, *args, **kwargs)

    def counted_send(self, *args, **kwargs):
        traffic.commands += 1
        return send(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "_connect", counted_connect)
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counted_send)
    return traffic


def test_redis_stopped_mid_test_keeps_working(dataset_url, own_redis, redis_traffic):
    server = make_server(dataset_url, key_prefix="midtest:", redis_url=own_redis.url)
    with server.app_context():
        expected = sales.sales_totals(START, END)
        assert sales.sales_totals(START, END) == expected
        assert counts()["hits"] == 1

        own_redis.kill()
        redis_traffic.reset()
        assert sales.sales_totals(START, END) == expected
        assert counts()["errors"] == 1
        # one refused connection, then the database: redis-py's default retries with backoff
        # would try again (and again) before giving up
        assert (redis_traffic.connects, redis_traffic.commands) == (1, 0)
        assert sales.sales_totals(START, END) == expected  # breaker open: straight to the DB
        assert counts()["bypassed"] == 1
        assert data_cache.cache_stats()["last_error"].startswith(
            ("ConnectionError", "ConnectionRefused")
        )

        own_redis.start()  # same port, empty
        time.sleep(RETRY_AFTER * 1.5)
        assert sales.sales_totals(START, END) == expected
        assert sales.sales_totals(START, END) == expected
        assert counts()["misses"] == 2 and counts()["hits"] == 2

        # a hung server (SIGSTOP): the 0.25 s socket timeout, not a minute
        own_redis.signal(signal.SIGSTOP)
        try:
            time.sleep(RETRY_AFTER * 1.5)
            redis_traffic.reset()
            result = sales.sales_totals(START, END)
            assert result == expected and counts()["errors"] == 2
            # the one command sent ran into the short socket timeout and was not retried
            assert data_cache.cache_stats()["last_error"].startswith("TimeoutError")
            assert redis_traffic.commands == 1 and redis_traffic.connects <= 1
        finally:
            own_redis.signal(signal.SIGCONT)
        time.sleep(RETRY_AFTER * 1.5)
        assert sales.sales_totals(START, END) == expected
        assert counts()["hits"] == 3


def test_invalidate_from_outside_the_app(dataset_url, tmp_path):
    settings = make_settings(dataset_url, cache_dir=str(tmp_path / "shared"))
    web = make_server(dataset_url, cache_dir=settings.cache_dir)
    with web.app_context():
        sales.sales_totals(START, END)
    assert data_cache.invalidate_for_settings(settings, "sales") is True
    with web.app_context():
        sales.sales_totals(START, END)
    assert counts()["misses"] == 2 and counts()["hits"] == 0
    assert data_cache.invalidate_for_settings(make_settings(dataset_url), "sales") is False
