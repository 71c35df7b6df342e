"""Failed-login limiting per (client IP, username), kept in the shared cache.

A fixed-window counter: ``add`` + ``inc`` are atomic on Redis, so every worker and host sees
the same count. The window index is part of the key, so a new window starts at zero whatever
the backend does with expiry. Any cache error fails open (logged): an outage of the cache must
not lock every user out.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)
KEY_PREFIX = "auth:login-fail:"


@dataclass
class LoginRateLimiter:
    cache: Any  # flask_caching.Cache, or a cachelib backend (get/add/inc/delete)
    limit: int
    window: int
    clock: Callable[[], float] = field(default=time.time)

    def _backend(self) -> Any:
        # flask_caching.Cache has no inc(); its backend for the current app (``.cache``) does.
        from flask_caching import Cache

        return self.cache.cache if isinstance(self.cache, Cache) else self.cache

    def _key(self, ip: str | None, username: str) -> str:
        subject = f"{ip or '-'}|{username.strip().lower()}".encode()
        bucket = int(self.clock() // self.window)
        return f"{KEY_PREFIX}{hashlib.sha256(subject).hexdigest()[:32]}:{bucket}"

    def retry_after(self) -> int:
        """Seconds until the current window ends."""
        return max(1, int(self.window - self.clock() % self.window))

    def failures(self, ip: str | None, username: str) -> int:
        try:
            return int(self._backend().get(self._key(ip, username)) or 0)
        except Exception:  # fail open, see the module docstring
            log.warning("login rate limit: cache read failed; allowing the attempt", exc_info=True)
            return 0

    def blocked(self, ip: str | None, username: str) -> bool:
        return self.failures(ip, username) >= self.limit

    def record_failure(self, ip: str | None, username: str) -> int:
        key = self._key(ip, username)
        try:
            # add() sets the expiry only when the key is new; inc() keeps it on Redis.
            backend = self._backend()
            backend.add(key, 0, timeout=self.window + 1)
            return int(backend.inc(key) or 0)
        except Exception:
            log.warning("login rate limit: cache write failed; not counting", exc_info=True)
            return 0

    def reset(self, ip: str | None, username: str) -> None:
        try:
            self._backend().delete(self._key(ip, username))
        except Exception:
            log.warning("login rate limit: cache delete failed", exc_info=True)
