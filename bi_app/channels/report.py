"""The channel report of one event, cache-aside through the cache extension (failing open).

A fully live report is kept for 300 s; one with an unavailable channel only for 30 s, so a
source that recovers is noticed soon while a broken one is not hammered on every page view.
The key includes the configuration's fingerprint: a changed source is fetched afresh.

:func:`event_channels` (what an event's page shows) is kept as one entry that a page view reads
with a single cache round trip, together with the tokens it depends on: the data cache's
generations of the ``events`` namespace (imports and data changes), the channel configuration
token (:func:`bi_app.channels.config.save_config`), and the expiry of the shorter-lived of its
two reports. When any of them moved on, it is rebuilt from the per-event reports.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import flask

from bi_app.analytics.roi import change_pct
from bi_app.channels.base import ChannelStats, EventRef
from bi_app.channels.config import (
    CONFIG_TOKEN_KEY,
    DEFAULT_CHANNELS,
    ConfigSnapshot,
    build_sources,
    config_token,
    current_configs,
    shared_cache_state,
)
from bi_app.channels.demo_source import DemoChannelSource
from bi_app.channels.service import ChannelReport, ChannelService
from bi_app.channels.store import DbLastGoodStore
from bi_app.data import events
from bi_app.data.cache import generation_keys
from bi_app.extensions import cache, db

log = logging.getLogger(__name__)

REPORT_TTL_S = 300
DEGRADED_TTL_S = 30


def _cache_get(key: str) -> ChannelReport | None:
    state = shared_cache_state()
    if state is None:
        return None
    try:
        value = cache.get(key)
    except Exception as exc:  # noqa: BLE001 - the sources are the fallback
        state.failed(None, "read", exc)
        return None
    return value if isinstance(value, ChannelReport) else None


def _cache_set(key: str, value: object, timeout: int) -> None:
    state = shared_cache_state()
    if state is None:
        return
    try:
        cache.set(key, value, timeout=timeout)
    except Exception as exc:  # noqa: BLE001
        state.failed(None, "write", exc)


def report_key(event_id: int, digest: str) -> str:
    return f"channels:report:{event_id}:{digest}"


def _report_ttl(report: ChannelReport) -> int:
    return DEGRADED_TTL_S if report.degraded else REPORT_TTL_S


def _expires_at(report: ChannelReport) -> float:
    """Wall-clock time (epoch seconds, shared by every host) at which ``report`` is due again."""
    return report.fetched_at.replace(tzinfo=dt.UTC).timestamp() + _report_ttl(report)


class _ReadDemoSource(DemoChannelSource):
    """A demo channel whose row was already read with every other demo channel's."""

    def __init__(self, channel: str, rows: Mapping[str, tuple[int, int, int]]) -> None:
        super().__init__(channel)
        self._row = rows.get(channel, (0, 0, 0))

    def fetch(self, event: EventRef) -> ChannelStats:
        return ChannelStats(self.channel, *self._row)


def report_channels(recorded: Mapping[str, object]) -> tuple[str, ...]:
    """The channels an event's report lists: the default ones, and any other channel the event
    has statistics for (after them, by name); an event whose channels are all its own (a Korean
    shop's 우리동네TV, 지니TV, ...) lists only those. Configured sources are added by
    :func:`build_sources`."""
    own = tuple(sorted(set(recorded) - set(DEFAULT_CHANNELS)))
    if own and len(own) == len(recorded):
        return own
    return DEFAULT_CHANNELS + own


def _report(event: EventRef, snapshot: ConfigSnapshot) -> ChannelReport:
    key = report_key(event.event_id, snapshot.digest)
    found = _cache_get(key)
    if found is not None:
        return found
    # every recorded channel from one query, not one lookup per channel and thread
    rows = events.table_channel_stats(event.event_id)
    sources = build_sources(snapshot.configs, report_channels(rows))
    if any(isinstance(s, DemoChannelSource) for s in sources):
        sources = [
            _ReadDemoSource(s.channel, rows) if isinstance(s, DemoChannelSource) else s
            for s in sources
        ]
    report = ChannelService(sources, DbLastGoodStore(db.require_engine)).fetch(event)
    _cache_set(key, report, _report_ttl(report))
    return report


def channel_report(event: EventRef) -> ChannelReport:
    """Every channel's statistics for ``event``: from the cache, else fetched in parallel."""
    return _report(event, current_configs(db.require_engine(), config_token()))


@dataclass(frozen=True)
class EventChannels:
    """The event's channel report, and its total views against the organizer's previous event."""

    report: ChannelReport
    views: int
    previous_views: int | None
    previous_name: str | None
    views_change_pct: Decimal | None


@dataclass(frozen=True)
class _Entry:
    """:func:`event_channels`' cached answer and what it was built from."""

    tokens: tuple[str, str, str]  # global and events generations, configuration token
    digest: str
    expires_at: float
    value: EventChannels | None


def _entry_key(event_id: int) -> str:
    return f"channels:event:{event_id}"


def _read_entry(event_id: int) -> tuple[_Entry | None, tuple[str, str, str] | None]:
    """The stored entry and the current tokens, in one round trip (None, None without a cache)."""
    state = shared_cache_state()
    if state is None:
        return None, None
    keys = (_entry_key(event_id), *generation_keys(events.NAMESPACE), CONFIG_TOKEN_KEY)
    try:
        entry, *tokens = cache.get_many(*keys)
    except Exception as exc:  # noqa: BLE001
        state.failed(None, "read", exc)
        return None, None
    if not all(isinstance(t, str) for t in tokens):
        return None, None  # a token not created yet: the calls below create them
    return (entry if isinstance(entry, _Entry) else None), (tokens[0], tokens[1], tokens[2])


def event_channels(event_id: int) -> EventChannels | None:
    """Channel statistics of an event and of the same organizer's previous event (views change)."""
    entry, tokens = _read_entry(event_id)
    snapshot = current_configs(db.require_engine(), tokens[2] if tokens else config_token())
    if (
        entry is not None
        and entry.tokens == tokens
        and entry.digest == snapshot.digest
        and entry.expires_at > time.time()
    ):
        return entry.value
    value, expires_at = _build(event_id, snapshot)
    if tokens is not None:  # tokens read before building: a change meanwhile orphans the entry
        remaining = math.ceil(expires_at - time.time())
        if remaining > 0:
            _cache_set(
                _entry_key(event_id),
                _Entry(tokens, snapshot.digest, expires_at, value),
                min(remaining, REPORT_TTL_S),
            )
    return value


R = TypeVar("R")


def _in_app_context(func: Callable[..., R]) -> Callable[..., R]:
    """``func`` for a worker thread, run in the caller's app context (its data cache)."""
    if not flask.has_app_context():
        return func
    app = flask.current_app._get_current_object()  # type: ignore[attr-defined]

    def run(*args: Any) -> R:
        with app.app_context():
            return func(*args)

    return run


def _build(event_id: int, snapshot: ConfigSnapshot) -> tuple[EventChannels | None, float]:
    # The lookups, then the two reports, run side by side: each is mostly waiting on the
    # database, the cache or a remote source, and the page waits for the slower one only.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="event-channels") as pool:
        found_ref = pool.submit(_in_app_context(events.event_ref), event_id)
        found_previous = pool.submit(_in_app_context(events.previous_event), event_id)
        ref, previous = found_ref.result(), found_previous.result()
        if ref is None:
            return None, time.time() + REPORT_TTL_S
        fetching = pool.submit(_in_app_context(_report), EventRef(*ref), snapshot)
        previous_report = (
            None if previous is None else _report(EventRef(previous[0], previous[1]), snapshot)
        )
        report = fetching.result()
    views = report.totals().views
    if previous_report is None:
        return EventChannels(report, views, None, None, None), _expires_at(report)
    previous_views = previous_report.totals().views
    value = EventChannels(
        report, views, previous_views, previous[2], change_pct(views, previous_views)
    )
    return value, min(_expires_at(report), _expires_at(previous_report))
