"""Sign-in throttling: per user name across all addresses, per address across all names.

Counting. Every attempt is counted *before* the password is checked, with one atomic increment
per subject (Redis ``INCRBY`` in a Lua script, a locked counter in memory), and the answer comes
from that increment's result. There is no read-then-write window, so parallel attempts cannot
slip past the limit.

Shape of the limit, per subject (a normalized user name, or a client address):

* the first ``limit - 1`` attempts of a window (``login_rate_window`` seconds) pass freely;
* from the ``limit``-th on, an attempt passes only when no back-off gate is set, and the attempt
  that passes sets the gate for ``min(cap, 2 ** (n - limit + 1))`` seconds (2, 4, 8 … 60 s).
  The gate is itself an atomic counter: of many attempts arriving together exactly one opens it;
* attempts refused by a gate are not counted and do not extend it.

Why a bounded back-off and not a lock-out: whoever floods a name (or, behind a proxy that is not
declared with ``BI_PROXY_HOPS``, the shared address) can at worst make everyone wait ``cap``
seconds after the flood stops; the real owner is never locked out for minutes, while a guesser
gets about one try per ``cap`` seconds per name (and per address), from however many addresses.

Two more rules keep the owner in while an attack is going on:

* a successful sign-in clears the name's counter and gate and refunds its own address count.
  The address limit therefore counts failures (an office behind one NAT signs in freely), and a
  success never resets more than its own attempt, so spraying from one address stays limited;
* a browser that signed in as a name before holds a signed *device cookie* (OWASP "device
  cookies"). Its attempts for that name are counted on their own subject (name + device) and skip
  the address limit, so a flood of the name from elsewhere, or from behind the same proxy, does
  not slow the owner down on a known browser. A stolen device cookie buys a guesser one more
  bucket of the same size, for that one name.

Storage. Redis (``BI_REDIS_URL``, keys under a prefix) shares the counts across workers and
hosts; without Redis the counts live in the process. When Redis fails, counting continues in an
in-process fallback (each worker counts alone for a while, so the limit is per worker, but never
off) and Redis is tried again after :data:`RETRY_PRIMARY_S`. Counting never fails open.

Names are hashed before they become keys or log text: a password typed into the name field must
not land in Redis or in ``app_logs``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flask
from flask_limiter import Limiter
from limits.storage import MemoryStorage, Storage
from redis.backoff import NoBackoff
from redis.retry import Retry

from bi_app.config import Settings

log = logging.getLogger(__name__)

DEFAULT_KEY_PREFIX = "bi:limits"
BACKOFF_CAP_S = 60
RETRY_PRIMARY_S = 5.0
REDIS_TIMEOUT_S = 0.25  # a hung Redis must cost one short timeout, not a minute (RECIPES)


def name_tag(username: str) -> str:
    """A short, stable hash of a normalized user name: for keys and logs, never the raw text."""
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()[:12]


def _address_tag(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:16]


class FailoverStorage:
    """The subset of a ``limits`` storage the throttle uses, on ``primary`` while it answers and
    on an in-process :class:`~limits.storage.MemoryStorage` while it does not."""

    def __init__(
        self,
        primary: Storage,
        fallback: Storage | None = None,
        retry_after: float = RETRY_PRIMARY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.fallback = fallback or MemoryStorage()
        self.retry_after = retry_after
        self.clock = clock
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def using_fallback(self) -> bool:
        return self.clock() < self._down_until

    def _call(self, op: str, *args: Any) -> Any:
        if not self.using_fallback:
            try:
                return getattr(self.primary, op)(*args)
            except Exception:  # any storage failure: count in-process instead
                with self._lock:
                    first = not self.using_fallback
                    self._down_until = self.clock() + self.retry_after
                if first:
                    log.warning(
                        "login throttle: rate-limit storage failed; counting in-process for %ss",
                        self.retry_after,
                        exc_info=True,
                    )
        return getattr(self.fallback, op)(*args)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return int(self._call("incr", key, expiry, amount))

    def get_expiry(self, key: str) -> float:
        return float(self._call("get_expiry", key))

    def clear(self, key: str) -> None:
        self._call("clear", key)


@dataclass(frozen=True)
class Attempt:
    """The throttle's answer to one sign-in attempt. ``counted`` lists the counters this attempt
    took a slot from (given back to :meth:`LoginThrottle.succeeded`)."""

    allowed: bool
    retry_after: int = 0
    counted: tuple[tuple[str, str], ...] = ()


class LoginThrottle:
    """Counts sign-in attempts per name and per address; see the module docstring."""

    def __init__(
        self,
        storage: FailoverStorage,
        *,
        name_limit: int,
        address_limit: int,
        window: int,
        cap: int | None = None,
    ) -> None:
        self.storage = storage
        self.name_limit = name_limit
        self.address_limit = address_limit
        self.window = window
        self.cap = cap or BACKOFF_CAP_S

    def delay(self, count: int, limit: int) -> int:
        """Seconds the ``count``-th attempt of a window closes the gate for (count >= limit)."""
        return int(min(self.cap, 2 ** min(count - limit + 1, 16)))

    def _take(self, key: str, limit: int) -> tuple[bool, int]:
        count = self.storage.incr(f"{key}:n", self.window)
        if count < limit:
            return True, 0
        gate = f"{key}:gate"
        if self.storage.incr(gate, self.delay(count, limit)) == 1:
            return True, 0
        self.storage.incr(f"{key}:n", self.window, -1)  # refused attempts are not counted
        wait = self.storage.get_expiry(gate) - time.time()
        return False, max(1, math.ceil(wait))

    def attempt(self, username: str, address: str | None, device: str | None = None) -> Attempt:
        """Count one attempt for ``username`` from ``address`` before its password is checked.
        ``device`` is the id from a valid device cookie for this very name (or None)."""
        subjects: list[tuple[str, str, int]] = []
        if device is None and address:
            subjects.append(("address", f"login:a:{_address_tag(address)}", self.address_limit))
        name_key = f"login:u:{name_tag(username)}"
        if device is not None:
            name_key = f"{name_key}:d:{hashlib.sha256(device.encode()).hexdigest()[:16]}"
        subjects.append(("name", name_key, self.name_limit))
        counted: list[tuple[str, str]] = []
        for kind, key, limit in subjects:
            ok, wait = self._take(key, limit)
            if not ok:
                for _, taken in counted:  # refused: the other counter gets its slot back
                    self.storage.incr(f"{taken}:n", self.window, -1)
                return Attempt(False, wait)
            counted.append((kind, key))
        return Attempt(True, 0, tuple(counted))

    def succeeded(self, attempt: Attempt) -> None:
        """A correct password: the name starts afresh; the address gets this attempt back."""
        for kind, key in attempt.counted:
            if kind == "name":
                self.storage.clear(f"{key}:n")
                self.storage.clear(f"{key}:gate")
            else:
                self.storage.incr(f"{key}:n", self.window, -1)


def limiter_storage_options(settings: Settings, key_prefix: str) -> dict[str, Any]:
    if not settings.redis_url:
        return {}
    return {
        "key_prefix": key_prefix,
        "socket_timeout": REDIS_TIMEOUT_S,
        "socket_connect_timeout": REDIS_TIMEOUT_S,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
    }


def init_limiter(
    server: flask.Flask, settings: Settings, key_prefix: str = DEFAULT_KEY_PREFIX
) -> LoginThrottle:
    """Bind flask-limiter to ``server`` (Redis storage when ``BI_REDIS_URL`` is set, memory
    otherwise; in-memory fallback on, errors never swallowed) and build the sign-in throttle on
    its storage.

    The throttle drives the storage itself instead of decorating the login view: flask-limiter's
    decorators count in a before-request hook and switch to their fallback only inside that
    hook, and cannot express refund-on-success or the gate. The storage, its Redis options and
    its keys are flask-limiter's; the throttle only adds the in-process failover.
    """
    from flask_limiter.util import get_remote_address

    limiter = Limiter(
        get_remote_address,
        storage_uri=settings.redis_url or "memory://",
        storage_options=limiter_storage_options(settings, key_prefix),
        strategy="fixed-window",
        in_memory_fallback_enabled=True,
        swallow_errors=False,
        headers_enabled=False,
    )
    limiter.init_app(server)
    return LoginThrottle(
        FailoverStorage(limiter.storage),
        name_limit=settings.login_rate_limit,
        address_limit=settings.login_address_limit,
        window=settings.login_rate_window,
    )
