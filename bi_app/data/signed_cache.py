"""Cache values that cannot run code: every pickled value in a shared store carries an HMAC.

Redis and the cache directory are shared by every worker (and whoever else can reach them). A
pickle is code, so the cache signs what it writes with a key derived from ``BI_SECRET_KEY`` and
verifies the signature before it unpickles anything. A value without a valid signature (planted,
truncated, written by another app or an older version) is refused: logged (at most once a
minute), treated as a miss, recomputed from the database and overwritten. cachelib calls these
serializers; integers stay plain ASCII in Redis so its INCR-based counters keep working.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import threading
import time
from typing import IO, Any

from cachelib.serializers import FileSystemSerializer, RedisSerializer

log = logging.getLogger(__name__)

MAC_BYTES = hashlib.sha256().digest_size
_CONTEXT = b"bi-app cache values v1"
_LOG_INTERVAL_S = 60.0


def signing_key(secret_key: str) -> bytes:
    """A key for cache values only, derived from the app's secret (never the secret itself)."""
    return hmac.new(secret_key.encode(), _CONTEXT, hashlib.sha256).digest()


class Refusals:
    """Counts refused values and logs the first of every minute (a flood must not flood the log)."""

    def __init__(self) -> None:
        self.count = 0
        self._last_log = float("-inf")
        self._lock = threading.Lock()

    def refuse(self, backend: str, reason: str) -> None:
        with self._lock:
            self.count += 1
            now = time.monotonic()
            if now - self._last_log < _LOG_INTERVAL_S:
                return
            self._last_log = now
        log.error(
            "cache value refused (%s, %s): not signed with this app's key; recomputed from the "
            "database. Something other than bi-app wrote to the cache.",
            backend,
            reason,
        )


refusals = Refusals()


def _sign(key: bytes, body: bytes) -> bytes:
    return hmac.new(key, body, hashlib.sha256).digest() + body


def _verified(key: bytes, signed: bytes) -> bytes | None:
    mac, body = signed[:MAC_BYTES], signed[MAC_BYTES:]
    if len(mac) < MAC_BYTES or not hmac.compare_digest(
        mac, hmac.new(key, body, hashlib.sha256).digest()
    ):
        return None
    return body


class SignedRedisSerializer(RedisSerializer):
    """RedisSerializer whose pickles are ``b"!" + HMAC + pickle`` and verified before loading."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def dumps(self, value: Any, protocol: int = pickle.HIGHEST_PROTOCOL) -> bytes:
        if type(value) is int:  # plain ASCII, as cachelib stores it, for INCR/DECR
            return str(value).encode("ascii")
        return b"!" + _sign(self._key, pickle.dumps(value, protocol))

    def loads(self, value: bytes | None) -> Any:
        if value is None:
            return None
        if value.startswith(b"!"):
            body = _verified(self._key, value[1:])
            if body is None:
                refusals.refuse("redis", "bad signature")
                return None
            return pickle.loads(body)
        try:
            return int(value)
        except ValueError:
            refusals.refuse("redis", "unsigned value")
            return None


class SignedFileSystemSerializer(FileSystemSerializer):
    """FileSystemSerializer writing ``HMAC + pickle`` and verifying it before loading."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def dump(self, value: Any, f: IO[bytes], protocol: int = pickle.HIGHEST_PROTOCOL) -> None:
        f.write(_sign(self._key, pickle.dumps(value, protocol)))

    def load(self, f: IO[bytes]) -> Any:
        body = _verified(self._key, f.read())
        if body is None:
            refusals.refuse("cache directory", "bad signature")
            return None
        return pickle.loads(body)
