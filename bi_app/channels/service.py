"""Fetch every channel's statistics for an event in parallel, each source behind its breaker.

Each source gets its own deadline (its ``timeout`` from the moment all calls start), so a slow
source delays the answer by at most its own timeout and never holds up the others. A source
that fails, times out or has an open breaker is answered from the last good value with a
notice ("Channel email unavailable — data from 10:42"), or with zeros when there is none.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bi_app.channels.base import ChannelSource, ChannelStats, EventRef
from bi_app.channels.breaker import CircuitBreaker
from bi_app.channels.store import LastGoodStore
from bi_app.db.models import utcnow
from bi_app.i18n import _

log = logging.getLogger(__name__)

LIVE, STALE, MISSING = "live", "stale", "missing"
BREAKER_SETTINGS = {"failure_ratio": 0.5, "window": 20, "min_calls": 5, "cooldown": 60.0}

_breakers: dict[str, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(channel: str) -> CircuitBreaker:
    """The process-wide breaker of ``channel``, created and shown on the
    Health page on first use."""
    from bi_app.monitoring.breakers import register_breaker

    name = f"channel:{channel}"
    with _breakers_lock:
        breaker = _breakers.get(name)
        if breaker is None:
            breaker = _breakers[name] = CircuitBreaker(name, **BREAKER_SETTINGS)
            register_breaker(breaker)
        return breaker


@dataclass(frozen=True)
class ChannelResult:
    channel: str
    stats: ChannelStats
    status: str  # live, stale (last good value) or missing (zeros)
    as_of: dt.datetime | None  # UTC (naive) time the numbers were fetched
    source: str
    error: str | None = None

    def notice(self, timezone: str = "UTC") -> str | None:
        """What the page says about a channel that did not answer; None when it did."""
        if self.status == LIVE:
            return None
        if self.status == STALE and self.as_of is not None:
            local = self.as_of.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))
            today = utcnow().replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).date()
            when = (
                local.strftime("%H:%M")
                if local.date() == today
                else local.strftime("%Y-%m-%d %H:%M")
            )
            return _(
                "Channel %(channel)s unavailable — data from %(time)s",
                channel=self.channel,
                time=when,
            )
        return _(
            "Channel %(channel)s unavailable — no earlier data, showing 0", channel=self.channel
        )


@dataclass(frozen=True)
class ChannelReport:
    event_id: int
    results: tuple[ChannelResult, ...]
    fetched_at: dt.datetime

    @property
    def degraded(self) -> bool:
        return any(r.status != LIVE for r in self.results)

    def totals(self) -> ChannelStats:
        return ChannelStats(
            "all",
            sum(r.stats.views for r in self.results),
            sum(r.stats.clicks for r in self.results),
            sum(r.stats.conversions for r in self.results),
        )

    def notices(self, timezone: str = "UTC") -> list[str]:
        return [n for r in self.results if (n := r.notice(timezone))]


class ChannelService:
    def __init__(
        self,
        sources: Sequence[ChannelSource],
        store: LastGoodStore,
        *,
        breakers: Callable[[str], CircuitBreaker] = breaker_for,
        now: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.sources = list(sources)
        self.store = store
        self._breaker = breakers
        self._now = now

    def fetch(self, event: EventRef) -> ChannelReport:
        results: dict[str, ChannelResult] = {}
        pending = []
        executor = ThreadPoolExecutor(
            max_workers=max(len(self.sources), 1), thread_name_prefix="channel"
        )
        try:
            started = time.monotonic()
            for source in self.sources:
                breaker = self._breaker(source.channel)
                if breaker.allow():
                    pending.append((source, breaker, executor.submit(source.fetch, event)))
                else:
                    results[source.channel] = self._fallback(event, source, "circuit open")
            for source, breaker, future in pending:
                remaining = started + source.timeout - time.monotonic()
                try:
                    stats = future.result(timeout=max(remaining, 0))
                except FutureTimeout:
                    future.cancel()
                    error = f"timed out after {source.timeout:g} s"
                except Exception as exc:  # noqa: BLE001 - any failure of a source is its own
                    error = f"{type(exc).__name__}: {exc}"[:300]
                else:
                    breaker.record_success()
                    at = self._now()
                    self.store.put(event.event_id, stats, at)
                    results[source.channel] = ChannelResult(
                        source.channel, stats, LIVE, at, source.kind
                    )
                    continue
                breaker.record_failure(error)
                log.warning(
                    "channel %s (%s) failed for event %s: %s",
                    source.channel,
                    source.kind,
                    event.event_id,
                    error,
                )
                results[source.channel] = self._fallback(event, source, error)
        finally:
            # never wait for a stuck source: its thread ends with its own socket timeout
            executor.shutdown(wait=False, cancel_futures=True)
        ordered = tuple(results[s.channel] for s in self.sources)
        return ChannelReport(event.event_id, ordered, self._now())

    def _fallback(self, event: EventRef, source: ChannelSource, error: str) -> ChannelResult:
        stored = self.store.get(event.event_id, source.channel)
        if stored is None:
            return ChannelResult(
                source.channel,
                ChannelStats(source.channel, 0, 0, 0),
                MISSING,
                None,
                source.kind,
                error,
            )
        stats, at = stored
        return ChannelResult(source.channel, stats, STALE, at, source.kind, error)
