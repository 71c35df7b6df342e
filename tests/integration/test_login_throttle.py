"""Sign-in throttling through the real app: per address across names, per name across addresses,
counted before the password check (also across workers on Redis), behind a proxy, and with Redis
down."""

from __future__ import annotations

import logging
import secrets
import threading
import time

import pytest

from bi_app.auth import ratelimit
from tests.conftest import free_port, migrate
from tests.integration.test_auth_http import PASSWORDS, _build, audit_rows, csrf_of, login


def _from(address: str, forwarded: str | None = None) -> dict:
    """Test-client arguments for a request from ``address`` (through a proxy adding XFF)."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": headers}


def _post_login(client, username, password, **request):
    token = csrf_of(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": "/", "csrf_token": token},
        **request,
    )


def _unique_address() -> str:
    """A loopback address of its own, so Redis keys never meet another run's."""
    return "127.{}.{}.{}".format(*secrets.token_bytes(3))


@pytest.fixture
def app(app_factory, sqlite_url):
    migrate(sqlite_url)
    return _build(app_factory, sqlite_url)


def test_spraying_many_names_from_one_address_is_slowed(app, caplog):
    limit = app.server.config["BI_SETTINGS"].login_address_limit  # 20 by default
    client = app.server.test_client()
    names = [f"sprayed-{i}-Secret!Pw" for i in range(50)]
    with caplog.at_level(logging.INFO):
        statuses = [_post_login(client, name, "guess-1234").status_code for name in names]
    assert statuses[:limit] == [200] * limit
    assert statuses[limit:] == [429] * (50 - limit)
    # another address is not slowed by this one
    other = app.server.test_client()
    assert _post_login(other, "viewer", PASSWORDS["viewer"], **_from("10.9.8.7")).status_code == 302
    # the typed names (they could be passwords) are nowhere in the logs or the audit trail
    assert not any("secret!pw" in r.getMessage().lower() for r in caplog.records)
    assert all(row.target is None for row in audit_rows("login.failure"))
    assert all(row.detail["name"].startswith("#") for row in audit_rows("login.failure"))


@pytest.mark.integration
def test_twenty_parallel_attempts_on_redis_cannot_pass_the_limit(
    app_factory, sqlite_url, redis_url
):
    """20 attempts at once on one name, shared through Redis: exactly ``limit`` reach the
    password check (counted before it), whatever the interleaving."""
    migrate(sqlite_url)
    app = _build(app_factory, sqlite_url, redis_url=redis_url, login_address_limit=1000)
    name = f"target-{secrets.token_hex(4)}"  # its own Redis keys
    limit = app.server.config["BI_SETTINGS"].login_rate_limit
    clients = [app.server.test_client() for _ in range(20)]
    tokens = [csrf_of(c) for c in clients]
    barrier, statuses = threading.Barrier(20), []

    def attempt(client, token):
        barrier.wait()
        response = client.post(
            "/login",
            data={"username": name, "password": "wrong-pass", "next": "/", "csrf_token": token},
            environ_base={"REMOTE_ADDR": _unique_address()},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(clients, tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200] * limit + [429] * (20 - limit)
    assert len(audit_rows("login.failure")) == limit  # only those reached the password check
    assert not app.server.extensions["bi_auth"].throttle.storage.using_fallback  # Redis counted


@pytest.mark.integration
def test_two_workers_share_one_count_through_redis(redis_url, redis_prefix):
    from limits.storage import storage_from_string

    from tests.conftest import make_settings

    settings = make_settings("sqlite://", redis_url=redis_url)

    def worker():
        storage = storage_from_string(
            redis_url, **ratelimit.limiter_storage_options(settings, redis_prefix)
        )
        return ratelimit.LoginThrottle(
            ratelimit.FailoverStorage(storage), name_limit=3, address_limit=100, window=60
        )

    first, second = worker(), worker()
    assert first.attempt("bob", "10.0.0.1").allowed
    assert second.attempt("bob", "10.0.0.2").allowed
    assert first.attempt("BOB", "10.0.0.3").allowed  # the third opens the gate
    assert not second.attempt("bob", "10.0.0.4").allowed
    import redis

    keys = list(redis.Redis.from_url(redis_url).scan_iter(f"{redis_prefix}*"))
    assert keys and all(b"bob" not in key.lower() for key in keys)  # names are hashed
    assert 0 < redis.Redis.from_url(redis_url).ttl(keys[0]) <= 60  # counts expire by themselves


def test_without_proxy_hops_forwarded_for_is_ignored(app):
    """BI_PROXY_HOPS=0: X-Forwarded-For is the client's to invent, so it is not the key."""
    limit = app.server.config["BI_SETTINGS"].login_address_limit
    client = app.server.test_client()
    statuses = [
        _post_login(
            client, f"name-{i}", "guess-1234", **_from("127.0.0.5", f"198.51.100.{i}")
        ).status_code
        for i in range(limit + 1)
    ]
    assert statuses == [200] * limit + [429]
    assert {row.ip for row in audit_rows("login.failure")} == {"127.0.0.5"}


def test_with_one_proxy_hop_clients_behind_the_proxy_are_counted_apart(app_factory, sqlite_url):
    migrate(sqlite_url)
    app = _build(app_factory, sqlite_url, proxy_hops=1)
    limit = app.server.config["BI_SETTINGS"].login_address_limit
    proxy = "127.0.0.9"
    attacker, owner = app.server.test_client(), app.server.test_client()
    statuses = [
        _post_login(attacker, f"n{i}", "guess-1234", **_from(proxy, "203.0.113.5")).status_code
        for i in range(limit + 1)
    ]
    assert statuses[-1] == 429
    # the address the proxy saw, not the proxy's, is counted and audited
    assert {row.ip for row in audit_rows("login.failure")} == {"203.0.113.5"}
    ok = _post_login(owner, "viewer", PASSWORDS["viewer"], **_from(proxy, "203.0.113.6"))
    assert ok.status_code == 302
    # a client cannot push a made-up address in front of the one the proxy appended
    spoof = _post_login(attacker, "n-x", "guess-1234", **_from(proxy, "203.0.113.77, 203.0.113.5"))
    assert spoof.status_code == 429


def test_a_flood_behind_an_undeclared_proxy_cannot_lock_the_owner_out(
    app_factory, sqlite_url, monkeypatch
):
    """Everyone shares the proxy's address (BI_PROXY_HOPS unset). An attacker floods the
    owner's name: the owner on a known browser is not slowed at all, and on a new browser waits
    no longer than the back-off cap once the flood stops (the cap is 2 s here, 60 s live)."""
    monkeypatch.setattr(ratelimit, "BACKOFF_CAP_S", 2, raising=False)
    migrate(sqlite_url)
    app = _build(app_factory, sqlite_url)
    proxy = _from("127.0.0.7", "203.0.113.50")
    known_browser = app.server.test_client()
    assert _post_login(known_browser, "viewer", PASSWORDS["viewer"], **proxy).status_code == 302
    with known_browser.session_transaction() as sess:
        token = sess["_csrf_token"]
    known_browser.post("/logout", data={"csrf_token": token}, **proxy)

    attacker = app.server.test_client()
    flood = [
        _post_login(attacker, "viewer", f"guess-{i:04d}", **proxy).status_code for i in range(40)
    ]
    assert flood.count(429) >= 30  # slowed down
    # during the flood: the owner's known browser signs in at once
    assert _post_login(known_browser, "viewer", PASSWORDS["viewer"], **proxy).status_code == 302
    # a new browser waits, but at most the cap
    new_browser = app.server.test_client()
    refused = _post_login(new_browser, "viewer", PASSWORDS["viewer"], **proxy)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 2
    time.sleep(2.1)
    assert _post_login(new_browser, "viewer", PASSWORDS["viewer"], **proxy).status_code == 302


@pytest.mark.integration
def test_redis_down_still_throttles_in_process(app_factory, sqlite_url, caplog):
    migrate(sqlite_url)
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = _build(app_factory, sqlite_url, redis_url=closed, login_rate_limit=3)
    client = app.server.test_client()
    for _ in range(3):
        assert login(client, "viewer", "wrong-password").status_code == 200
    assert login(client, "viewer").status_code == 429  # never fails open
    assert app.server.extensions["bi_auth"].throttle.storage.using_fallback
    assert "counting in-process" in caplog.text
