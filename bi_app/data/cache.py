"""The cache in front of every public data function: normalized keys, counters, fail-open.

``init_app`` binds :data:`bi_app.extensions.cache` to Redis (shared by all workers and hosts)
when ``BI_REDIS_URL`` is set, else to a per-process ``SimpleCache`` (or a ``FileSystemCache``
under ``BI_CACHE_DIR``). ``BI_CACHE_TTL=0`` turns caching off.

Keys are ``<prefix><namespace>:<module.function>:<digest of normalized args>``. Each entry is
stamped with the generation it was computed under: tokens stored in the cache itself, one per
namespace plus a global one, read together with the entry. :func:`invalidate` replaces a token,
which makes every entry of that namespace stale at once (O(1), seen by all workers; a stale entry
is overwritten by its next computation or expires with its TTL).

The cache never breaks a page: any backend error is counted, logged (rate-limited) and the
function runs against the database. After an error the backend is skipped for ``retry_after``
seconds, so a hung Redis costs one short timeout per interval instead of one per call, and it is
used again as soon as it answers — no restart needed.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import logging
import os
import stat
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, TypeVar

import flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from bi_app.config import ConfigError, Settings
from bi_app.data.keys import argument_key, canonical_arguments, check_cacheable, function_key
from bi_app.data.signed_cache import (
    SignedFileSystemSerializer,
    SignedRedisSerializer,
    signing_key,
)
from bi_app.extensions import cache

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_KEY_PREFIX = "bi:"
REDIS_TIMEOUT_S = 0.25
DEFAULT_RETRY_AFTER_S = 1.0
ERROR_LOG_INTERVAL_S = 60.0
LOCAL_THRESHOLD = 2000  # entries kept by the in-process and file-system caches
STATE_KEY = "bi_data_cache"
_GLOBAL_GENERATION = "gen:*"

_NAMESPACES: set[str] = set()
_COUNTERS = ("hits", "misses", "errors", "bypassed", "uncached")


# --- counters ---------------------------------------------------------------------------------


class _Stats:
    """Process-local counters; thread-safe because gunicorn threads share them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_namespace: dict[str, Counter[str]] = {}
            self.invalidations = 0
            self.invalidation_errors = 0
            self.last_error: str | None = None
            self.last_error_at: dt.datetime | None = None
            self.since = dt.datetime.now(dt.UTC)

    def count(self, namespace: str, what: str) -> None:
        with self._lock:
            self.by_namespace.setdefault(namespace, Counter())[what] += 1

    def error(self, namespace: str | None, exc: BaseException) -> None:
        with self._lock:
            if namespace is not None:
                self.by_namespace.setdefault(namespace, Counter())["errors"] += 1
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            self.last_error_at = dt.datetime.now(dt.UTC)

    def invalidated(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.invalidations += 1
            else:
                self.invalidation_errors += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            namespaces = {
                ns: {c: counts.get(c, 0) for c in _COUNTERS}
                for ns, counts in sorted(self.by_namespace.items())
            }
            totals = {c: sum(n[c] for n in namespaces.values()) for c in _COUNTERS}
            lookups = totals["hits"] + totals["misses"]
            return {
                **totals,
                "hit_ratio": round(totals["hits"] / lookups, 4) if lookups else None,
                "invalidations": self.invalidations,
                "invalidation_errors": self.invalidation_errors,
                "last_error": self.last_error,
                "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
                "since": self.since.isoformat(),
                "namespaces": namespaces,
            }


_stats = _Stats()


class _RateLimitedLog:
    """Log the first backend error at once, then at most one line per interval with a count."""

    def __init__(self, interval: float = ERROR_LOG_INTERVAL_S) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._suppressed = 0

    def warning(self, message: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                self._suppressed += 1
                return
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
        more = f" ({suppressed} similar errors since the last report)" if suppressed else ""
        log.warning(
            "%s: %s: %s; serving from the database%s", message, type(exc).__name__, exc, more
        )


_error_log = _RateLimitedLog()


# --- per-app state --------------------------------------------------------------------------


@dataclass
class CacheState:
    """What ``init_app`` decided for one Flask app, plus its circuit breaker."""

    backend: str
    enabled: bool
    key_prefix: str
    retry_after: float = DEFAULT_RETRY_AFTER_S
    skip_until: float = 0.0
    pending_invalidations: set[str] = field(default_factory=set)

    def available(self) -> bool:
        return time.monotonic() >= self.skip_until

    def failed(self, namespace: str | None, what: str, exc: BaseException) -> None:
        self.skip_until = time.monotonic() + self.retry_after
        _stats.error(namespace, exc)
        _error_log.warning(f"cache {what} failed on {self.backend}", exc)


def cache_config(settings: Settings, key_prefix: str = DEFAULT_KEY_PREFIX) -> dict[str, Any]:
    """The flask-caching configuration for ``settings``."""
    config: dict[str, Any] = {
        "CACHE_DEFAULT_TIMEOUT": settings.cache_ttl,
        "CACHE_KEY_PREFIX": key_prefix,
    }
    if settings.cache_ttl == 0:
        config.update(CACHE_TYPE="NullCache", CACHE_NO_NULL_WARNING=True)  # deliberate: TTL 0 = off
    elif settings.redis_url:
        config.update(
            CACHE_TYPE="RedisCache",
            CACHE_REDIS_URL=settings.redis_url,
            # Short timeouts and no retries: with redis-py's defaults a hung server (SIGSTOP)
            # blocked each call for ~59 s here; the breaker below keeps even 0.25 s from
            # repeating per call.
            CACHE_OPTIONS={
                "socket_timeout": REDIS_TIMEOUT_S,
                "socket_connect_timeout": REDIS_TIMEOUT_S,
                "retry": Retry(NoBackoff(), 0),
                "retry_on_timeout": False,
            },
        )
    elif settings.cache_dir:
        config.update(
            CACHE_TYPE="FileSystemCache",
            CACHE_DIR=settings.cache_dir,
            CACHE_THRESHOLD=LOCAL_THRESHOLD,
        )
    else:
        config.update(CACHE_TYPE="SimpleCache", CACHE_THRESHOLD=LOCAL_THRESHOLD)
    return config


def init_app(
    server: flask.Flask,
    settings: Settings,
    *,
    key_prefix: str | None = None,
    retry_after: float = DEFAULT_RETRY_AFTER_S,
) -> None:
    """Bind :data:`bi_app.extensions.cache` for ``server`` (prefix: argument, then the server's
    ``CACHE_KEY_PREFIX``, then ``"bi:"``)."""
    prefix = key_prefix or server.config.get("CACHE_KEY_PREFIX") or DEFAULT_KEY_PREFIX
    config = cache_config(settings, prefix)
    if config["CACHE_TYPE"] == "FileSystemCache":
        require_private_directory(config["CACHE_DIR"])
    cache.init_app(server, config=config)
    _sign_shared_values(server, config["CACHE_TYPE"], settings.secret_key)
    server.extensions[STATE_KEY] = CacheState(
        backend=config["CACHE_TYPE"],
        enabled=config["CACHE_TYPE"] != "NullCache",
        key_prefix=prefix,
        retry_after=retry_after,
    )
    log.info(
        "data cache: %s (ttl %s s, prefix %r)", config["CACHE_TYPE"], settings.cache_ttl, prefix
    )


def require_private_directory(path: str) -> None:
    """The cache directory is created private (0700); an existing one that other users may
    write to is refused: whoever can write there could plant values for every worker."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    mode = os.stat(path).st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"BI_CACHE_DIR: {path} is writable by other users (mode {stat.filemode(mode)}); "
            f"make it private: chmod 700 {path}"
        )


def _sign_shared_values(server: flask.Flask, cache_type: str, secret_key: str) -> None:
    """Shared stores (Redis, a cache directory) sign what they pickle and verify before loading;
    the in-process SimpleCache never leaves the worker, so it keeps cachelib's serializer."""
    backend = server.extensions["cache"][cache]
    key = signing_key(secret_key)
    if cache_type == "RedisCache":
        backend.serializer = SignedRedisSerializer(key)
    elif cache_type == "FileSystemCache":
        backend.serializer = SignedFileSystemSerializer(key)
        # cachelib wrote its file-count bookkeeping with its own serializer while it was built:
        # write it again, signed, or its next read would be refused as a foreign value.
        backend._update_count(value=sum(1 for _ in backend._list_dir()))


def _current() -> tuple[CacheState, Any] | None:
    """The state and backend of the app in context, or None (no app context, cache not bound)."""
    if not flask.has_app_context():
        return None
    app = flask.current_app
    state = app.extensions.get(STATE_KEY)
    backend = app.extensions.get("cache", {}).get(cache)
    if state is None or backend is None:
        return None
    return state, backend


# --- generations ------------------------------------------------------------------------------


def _namespace_generation_key(namespace: str) -> str:
    return f"gen:{namespace}"


def generation_keys(*namespaces: str) -> tuple[str, ...]:
    """The cache keys of the global and of each of ``namespaces``' generation tokens.

    For code that caches outside :func:`cached` but must follow the same invalidation: store the
    tokens read from these keys with an entry; once any token changes, the entry is stale."""
    return (_GLOBAL_GENERATION, *(_namespace_generation_key(ns) for ns in namespaces))


def _new_token() -> str:
    return uuid.uuid4().hex[:12]


def _generation(backend: Any, *namespaces: str) -> str:
    """The current global + namespace tokens (one read for all of them); a missing token (first
    use, eviction) is created with set-if-absent so concurrent workers agree on it. A token
    that is there but unreadable (signed with an earlier secret key, or planted) is replaced:
    set-if-absent would keep it forever and leave the cache bypassed; a new token only
    orphans that namespace's entries, as an invalidation does."""
    keys = generation_keys(*namespaces)
    values = backend.get_many(*keys)
    if None in values:
        missing = [key for key, value in zip(keys, values) if value is None]
        for key in missing:
            backend.add(key, _new_token(), timeout=0)
        values = backend.get_many(*keys)
        for key, value in zip(keys, values):
            if value is None:
                backend.set(key, _new_token(), timeout=0)
        values = backend.get_many(*keys)
        if None in values:
            raise RuntimeError("cache lost its generation tokens right after writing them")
    return ".".join(values)


def _replay_pending(state: CacheState, backend: Any) -> None:
    """Apply invalidations that failed while the backend was down, now that it answers."""
    for key in sorted(state.pending_invalidations):
        backend.set(key, _new_token(), timeout=0)
        state.pending_invalidations.discard(key)
        log.warning("cache invalidation of %r applied after the backend came back", key)


# --- the decorator ----------------------------------------------------------------------------


def cached(namespace: str, *, keep_case: Collection[str] = ()) -> Callable[[F], F]:
    """Cache a data function on its normalized arguments under ``namespace``.

    The function receives the normalized arguments (codes lower-cased, collections as sorted
    tuples, empty collections as ``None``); names in ``keep_case`` keep their letter case.
    Outside an app context (jobs, CLI, tests) it calls straight through to the database.
    """

    def decorator(func: F) -> F:
        signature = inspect.signature(func)
        check_cacheable(signature, func.__qualname__)
        fkey = function_key(namespace, func)
        _NAMESPACES.add(namespace)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            canonical = canonical_arguments(signature, args, kwargs, keep_case)
            return through_cache(
                namespace,
                (namespace,),
                f"{fkey}:{argument_key(canonical)}",
                lambda: func(**canonical),
            )

        wrapper.namespace = namespace  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


@dataclass(frozen=True)
class Lookup:
    """What :func:`stamped_get` found: the stored value on a hit; on a miss, the generation a
    fresh value is to be stamped with (None: do not store it, the cache is off or failing)."""

    hit: bool
    stored: Any = None
    generation: str | None = None


def stamped_get(stats_namespace: str, namespaces: tuple[str, ...], key: str) -> Lookup:
    """The entry under ``key`` if it was stamped with the current generation of the global and
    ``namespaces``' tokens (invalidating any of them makes it stale). The tokens and the entry
    come in one read: one round trip to Redis per hit. Counted under ``stats_namespace``; a
    backend failure is a miss that is not to be stored."""
    current = _current()
    if current is None or not current[0].enabled:
        _stats.count(stats_namespace, "uncached")
        return Lookup(False)
    state, backend = current
    if not state.available():
        _stats.count(stats_namespace, "bypassed")
        return Lookup(False)
    try:
        if state.pending_invalidations:
            _replay_pending(state, backend)
        *tokens, entry = backend.get_many(*generation_keys(*namespaces), key)
        if None in tokens:
            generation, entry = _generation(backend, *namespaces), None
        else:
            generation = ".".join(tokens)
    except Exception as exc:  # noqa: BLE001 - any backend failure falls back to the DB
        state.failed(stats_namespace, "read", exc)
        return Lookup(False)
    if isinstance(entry, tuple) and len(entry) == 2 and entry[0] == generation:
        _stats.count(stats_namespace, "hits")
        return Lookup(True, entry[1])
    _stats.count(stats_namespace, "misses")
    return Lookup(False, generation=generation)


def stamped_set(stats_namespace: str, key: str, generation: str, stored: Any) -> None:
    """Store ``stored`` under ``key``, stamped with the ``generation`` :func:`stamped_get` gave
    (so a value computed before an invalidation is never taken for a current one)."""
    current = _current()
    if current is None:
        return
    state, backend = current
    try:
        backend.set(key, (generation, stored))
    except Exception as exc:  # noqa: BLE001
        state.failed(stats_namespace, "write", exc)


def through_cache(
    stats_namespace: str,
    namespaces: tuple[str, ...],
    key: str,
    compute: Callable[[], Any],
    *,
    encode: Callable[[Any], Any] | None = None,
    decode: Callable[[Any], Any] | None = None,
) -> Any:
    """``compute()`` through the bound cache under ``key``, stamped with the generation of
    ``namespaces`` (:func:`stamped_get`).

    ``encode`` turns a fresh value into what is stored and ``decode`` a stored one into what is
    returned (both on a miss too, so a miss and a hit return the same thing). Without an app
    context or with the cache off, ``compute()`` runs straight through; a backend failure is
    counted under ``stats_namespace`` and falls back to ``compute()``. An exception of
    ``compute()`` propagates and stores nothing."""
    encode = encode or _identity
    decode = decode or _identity
    lookup = stamped_get(stats_namespace, namespaces, key)
    if lookup.hit:
        return decode(lookup.stored)
    stored = encode(compute())
    if lookup.generation is not None:
        stamped_set(stats_namespace, key, lookup.generation, stored)
    return decode(stored)


def _identity(value: Any) -> Any:
    return value


def invalidate(namespace: str | None = None) -> bool:
    """Make every cached entry of ``namespace`` (all namespaces when None) stale, for all workers.

    Returns False when nothing could be invalidated: no cache bound in this context, or the
    backend failed — then the failure is logged as an error and retried with the next call that
    reaches the backend; until then entries may be stale for at most the TTL.
    """
    key = _GLOBAL_GENERATION if namespace is None else _namespace_generation_key(namespace)
    current = _current()
    if current is None:
        log.info("cache invalidation of %r skipped: no app context with a data cache", key)
        return False
    state, backend = current
    if not state.enabled:
        return True
    try:
        backend.set(key, _new_token(), timeout=0)
    except Exception as exc:  # noqa: BLE001
        state.pending_invalidations.add(key)
        _stats.invalidated(False)
        _stats.error(namespace, exc)
        log.error(
            "CACHE INVALIDATION FAILED for %r on %s: %s: %s — entries may be stale until the "
            "backend is back or for up to the TTL",
            key,
            state.backend,
            type(exc).__name__,
            exc,
        )
        return False
    _stats.invalidated(True)
    return True


def cache_stats() -> dict[str, Any]:
    """Process-local hit/miss/error counters (totals and per namespace) and the backend in use."""
    snapshot = _stats.snapshot()
    current = _current()
    snapshot["backend"] = current[0].backend if current else None
    snapshot["backend_available"] = current[0].available() if current else None
    snapshot["registered_namespaces"] = sorted(_NAMESPACES)
    return snapshot


def reset_stats() -> None:
    """Zero the counters (tests and benchmarks)."""
    _stats.reset()


def invalidate_for_settings(
    settings: Settings, namespace: str | None = None, key_prefix: str | None = None
) -> bool:
    """:func:`invalidate` from outside the web app (CLI imports, demo loads): binds a throw-away
    app to the shared backend of ``settings``. An in-process SimpleCache lives only in the web
    workers, so there is nothing to reach: it returns False and their entries expire with the
    TTL."""
    if not settings.redis_url and not settings.cache_dir:
        log.info(
            "cache invalidation skipped: the in-process cache of running workers is unreachable"
        )
        return False
    server = flask.Flask("bi_app.cache.invalidate")
    init_app(server, settings, key_prefix=key_prefix)
    with server.app_context():
        return invalidate(namespace)
