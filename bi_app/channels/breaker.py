"""A circuit breaker with a count-based sliding window and an injectable clock.

Closed: calls pass; the last ``window`` outcomes are kept, and once at least ``min_calls`` are in
the window and the failure share reaches ``failure_ratio`` the breaker opens. Open: calls are
refused until ``cooldown`` seconds have passed, then it is half-open and lets ONE trial call
through; success closes it (with a fresh window), failure opens it again for another cool-down.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class BreakerOpen(RuntimeError):
    """The breaker refused the call (open, or a half-open trial is already running)."""


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failure_ratio: float = 0.5,
        window: int = 20,
        min_calls: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        if not 0 < failure_ratio <= 1 or window < 1 or not 1 <= min_calls <= window or cooldown < 0:
            raise ValueError(
                "breaker: need 0 < failure_ratio <= 1, 1 <= min_calls <= window, cooldown >= 0"
            )
        self.name = name
        self.failure_ratio = failure_ratio
        self.min_calls = min_calls
        self.cooldown = cooldown
        self._clock = clock
        self._wall = wall_clock or (lambda: dt.datetime.now(dt.UTC))
        self._lock = threading.Lock()
        self._outcomes: deque[bool] = deque(maxlen=window)  # True = failure
        self._state = CLOSED
        self._opened_at: float | None = None
        self._opened_at_wall: dt.datetime | None = None
        self._trial_running = False
        self._last_error: str | None = None

    @property
    def state(self) -> str:
        with self._lock:
            return self._current_state()

    def _current_state(self) -> str:
        if (
            self._state == OPEN
            and self._opened_at is not None
            and self._clock() - self._opened_at >= self.cooldown
        ):
            self._state = HALF_OPEN
            self._trial_running = False
        return self._state

    def allow(self) -> bool:
        """Whether a call may go ahead now; a True in half-open reserves the single trial."""
        with self._lock:
            state = self._current_state()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            state = self._current_state()
            if state == HALF_OPEN:
                self._close()
            elif state == CLOSED:  # a late success from before the breaker opened changes nothing
                self._outcomes.append(False)

    def record_failure(self, error: str | BaseException) -> None:
        with self._lock:
            self._last_error = (
                error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            )
            self._last_error = self._last_error[:300]
            state = self._current_state()
            if state == HALF_OPEN:
                self._open()
                return
            if state == OPEN:
                return
            self._outcomes.append(True)
            failures = sum(self._outcomes)
            if len(self._outcomes) >= self.min_calls and failures >= self.failure_ratio * len(
                self._outcomes
            ):
                self._open()

    def call(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` through the breaker: refuse when open, record the outcome otherwise."""
        if not self.allow():
            raise BreakerOpen(f"circuit {self.name} is open")
        try:
            result = func()
        except Exception as exc:
            self.record_failure(exc)
            raise
        self.record_success()
        return result

    def _open(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._opened_at_wall = self._wall()
        self._trial_running = False

    def _close(self) -> None:
        self._state = CLOSED
        self._outcomes.clear()
        self._opened_at = None
        self._opened_at_wall = None
        self._trial_running = False

    def snapshot(self) -> dict[str, Any]:
        """For the health page (see :mod:`bi_app.monitoring.breakers`)."""
        with self._lock:
            state = self._current_state()
            return {
                "name": self.name,
                "state": state,
                "failures": sum(self._outcomes),
                "calls": len(self._outcomes),
                "opened_at": self._opened_at_wall.isoformat() if self._opened_at_wall else None,
                "last_error": self._last_error,
            }
