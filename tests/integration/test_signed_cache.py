"""A value planted in the shared cache without the app's key never runs: it is refused, logged and
recomputed from the database (real Redis, and a real cache directory)."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import pytest
import redis

from bi_app.data import sales, signed_cache
from tests.integration.test_cache import counts, make_server
from tests.integration.test_data_layer import END, START

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def fresh_refusals(monkeypatch):
    """The refusal log is rate-limited per process: each test starts with a fresh limiter."""
    monkeypatch.setattr(signed_cache, "refusals", signed_cache.Refusals())


class Payload:
    """A pickle that runs code when loaded: it would create ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _keys(client: redis.Redis, prefix: str, part: str) -> list[bytes]:
    return [k for k in client.scan_iter(f"{prefix}*") if part in k.decode()]


def test_a_planted_pickle_in_redis_never_runs_and_the_page_shows_the_right_numbers(
    dataset_url, redis_url, redis_prefix, tmp_path, caplog
):
    marker = tmp_path / "pwned"
    server = make_server(dataset_url, key_prefix=redis_prefix, redis_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    with server.app_context():
        expected = sales.sales_totals(START, END, ["web"])
        assert expected["revenue_cents"] == 8700  # the hand-computed figure of the data set
        (key,) = _keys(client, redis_prefix, "sales_totals")
        stored = client.get(key)
        assert stored.startswith(b"!") and len(stored) > 1 + signed_cache.MAC_BYTES

        # someone with access to Redis replaces the entry with a payload, as cachelib would store it
        client.set(key, b"!" + pickle.dumps(Payload(marker)))
        with caplog.at_level(logging.ERROR, logger="bi_app.data.signed_cache"):
            assert sales.sales_totals(START, END, ["web"]) == expected
        assert not marker.exists()
        assert "cache value refused" in caplog.text
        # recomputed and written back signed: the next read is a hit on a valid value
        assert client.get(key) != b"!" + pickle.dumps(Payload(marker))
        assert sales.sales_totals(START, END, ["web"]) == expected

        # a forged "signature" (right length, wrong key) is refused the same way
        forged = b"!" + b"\0" * signed_cache.MAC_BYTES + pickle.dumps(Payload(marker))
        client.set(key, forged)
        assert sales.sales_totals(START, END, ["web"]) == expected
        assert not marker.exists()


def test_a_planted_generation_token_cannot_run_code_either(
    dataset_url, redis_url, redis_prefix, tmp_path
):
    marker = tmp_path / "pwned"
    server = make_server(dataset_url, key_prefix=redis_prefix, redis_url=redis_url)
    client = redis.Redis.from_url(redis_url)
    with server.app_context():
        expected = sales.sales_totals(START, END)
        for key in _keys(client, redis_prefix, "gen:"):
            client.set(key, b"!" + pickle.dumps(Payload(marker)))
        assert sales.sales_totals(START, END) == expected  # straight from the database
    assert not marker.exists()


def test_another_secret_key_cannot_feed_this_app(dataset_url, redis_url, redis_prefix, tmp_path):
    """Two apps on one Redis with different secrets: neither unpickles what the other wrote."""
    mine = make_server(
        dataset_url, key_prefix=redis_prefix, redis_url=redis_url, secret_key="a" * 32
    )
    theirs = make_server(
        dataset_url, key_prefix=redis_prefix, redis_url=redis_url, secret_key="b" * 32
    )
    with theirs.app_context():
        sales.sales_totals(START, END, ["web"])
    before = signed_cache.refusals.count
    with mine.app_context():
        assert sales.sales_totals(START, END, ["web"])["revenue_cents"] == 8700
    assert signed_cache.refusals.count > before


def test_after_a_new_secret_key_the_cache_works_again(dataset_url, redis_url, redis_prefix):
    """A deploy with a new ``BI_SECRET_KEY`` finds generation tokens signed with the old one:
    they are replaced (not kept by set-if-absent), so the cache hits again instead of being
    bypassed for good."""
    old = make_server(
        dataset_url, key_prefix=redis_prefix, redis_url=redis_url, secret_key="a" * 32
    )
    with old.app_context():
        sales.sales_totals(START, END, ["web"])
    new = make_server(
        dataset_url, key_prefix=redis_prefix, redis_url=redis_url, secret_key="b" * 32
    )
    before = counts()
    with new.app_context():
        for _call in range(3):
            assert sales.sales_totals(START, END, ["web"])["revenue_cents"] == 8700
    after = counts()
    assert {k: after[k] - before[k] for k in after} == {
        "hits": 2,
        "misses": 1,
        "errors": 0,
        "bypassed": 0,
        "uncached": 0,
    }


def test_the_cache_directory_refuses_unsigned_files(dataset_url, tmp_path):
    marker = tmp_path / "pwned"
    cache_dir = tmp_path / "cache"
    server = make_server(dataset_url, cache_dir=str(cache_dir))
    with server.app_context():
        expected = sales.sales_totals(START, END, ["web"])
        files = [p for p in cache_dir.iterdir() if p.is_file()]
        assert files
        for path in files:  # keep cachelib's expiry header, replace the value with a payload
            head = path.read_bytes()[:4]
            path.write_bytes(head + pickle.dumps(Payload(marker)))
        assert sales.sales_totals(START, END, ["web"]) == expected
    assert not marker.exists()


def test_the_apps_own_values_are_never_refused(dataset_url, redis_url, redis_prefix, tmp_path):
    """Two workers sharing Redis, then two sharing a cache directory: nothing of their own is
    ever taken for a foreign value (cachelib's own bookkeeping included)."""
    for overrides in ({"redis_url": redis_url}, {"cache_dir": str(tmp_path / "cache")}):
        for _worker in range(2):
            server = make_server(dataset_url, key_prefix=redis_prefix, **overrides)
            with server.app_context():
                assert sales.sales_totals(START, END, ["web"])["revenue_cents"] == 8700
                assert sales.top_products(START, END, limit=2)["sku"].tolist() == ["B2", "B1"]
    assert signed_cache.refusals.count == 0


def test_a_cache_directory_others_may_write_to_is_refused(dataset_url, tmp_path):
    from bi_app.config import ConfigError

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(ConfigError, match="BI_CACHE_DIR: .* writable by other users"):
        make_server(dataset_url, cache_dir=str(shared))
    fresh = tmp_path / "fresh"
    make_server(dataset_url, cache_dir=str(fresh))
    assert fresh.stat().st_mode & 0o777 == 0o700
