"""Registry of circuit breakers guarding external channel sources, for the health page.

A channel source registers an object with ``snapshot() -> dict`` (keys: ``name``, ``state`` —
closed, open or half_open — ``failures``, ``opened_at``, ``last_error``); the page only reads.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol


class Breaker(Protocol):
    name: str

    def snapshot(self) -> dict[str, Any]: ...


_lock = threading.Lock()
_breakers: dict[str, Breaker] = {}


def register_breaker(breaker: Breaker) -> None:
    with _lock:
        _breakers[breaker.name] = breaker


def breaker_states() -> list[dict[str, Any]]:
    """Snapshots of every registered breaker, by name; a failing snapshot shows as unknown."""
    with _lock:
        items = sorted(_breakers.items())
    states = []
    for name, breaker in items:
        try:
            snap = dict(breaker.snapshot())
        except Exception as exc:  # noqa: BLE001 - one broken source must not hide the others
            snap = {"state": "unknown", "last_error": f"{type(exc).__name__}: {exc}"}
        snap["name"] = name
        snap.setdefault("state", "unknown")
        snap.setdefault("failures", 0)
        snap.setdefault("opened_at", None)
        snap.setdefault("last_error", None)
        states.append(snap)
    return states
