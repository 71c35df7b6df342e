"""The source interface and the statistics every source returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

DEFAULT_TIMEOUT_S = 10.0


class ChannelSourceError(RuntimeError):
    """A source could not deliver valid statistics; the message says why (no secrets in it)."""


@dataclass(frozen=True)
class EventRef:
    """What a source needs to know about the event it is asked about."""

    event_id: int
    code: str


@dataclass(frozen=True)
class ChannelStats:
    channel: str
    views: int
    clicks: int
    conversions: int

    @property
    def conversion_rate(self) -> float | None:
        """Conversions per click, as a fraction; None without clicks."""
        return self.conversions / self.clicks if self.clicks else None


@runtime_checkable
class ChannelSource(Protocol):
    """Statistics of one promotion channel for one event.

    ``fetch`` raises :class:`ChannelSourceError` (or any exception) on failure and must give up
    after about ``timeout`` seconds; the service enforces the timeout as well.
    """

    channel: str
    kind: str  # "http", "demo", ...
    timeout: float

    def fetch(self, event: EventRef) -> ChannelStats: ...
