"""The channel report of one event, cache-aside through the cache extension (failing open).

A fully live report is kept for 300 s; one with an unavailable channel only for 30 s, so a
source that recovers is noticed soon while a broken one is not hammered on every page view.
The key includes the configuration's fingerprint: a changed source is fetched afresh.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from decimal import Decimal

import flask

from bi_app.channels.base import EventRef
from bi_app.channels.config import build_sources, load_configs
from bi_app.channels.service import ChannelReport, ChannelService
from bi_app.channels.store import DbLastGoodStore
from bi_app.extensions import cache, db

log = logging.getLogger(__name__)

REPORT_TTL_S = 300
DEGRADED_TTL_S = 30


def _cache_get(key: str) -> ChannelReport | None:
    if not flask.has_app_context():
        return None
    try:
        value = cache.get(key)
    except Exception:
        log.warning("channel report cache read failed", exc_info=True)
        return None
    return value if isinstance(value, ChannelReport) else None


def _cache_set(key: str, report: ChannelReport) -> None:
    if not flask.has_app_context():
        return
    try:
        cache.set(key, report, timeout=DEGRADED_TTL_S if report.degraded else REPORT_TTL_S)
    except Exception:
        log.warning("channel report cache write failed", exc_info=True)


def channel_report(event: EventRef) -> ChannelReport:
    """Every channel's statistics for ``event``: from the cache, else fetched in parallel."""
    engine = db.require_engine()
    configs = load_configs(engine)
    digest = hashlib.sha256("|".join(c.fingerprint() for c in configs).encode()).hexdigest()[:12]
    key = f"channels:report:{event.event_id}:{digest}"
    cached = _cache_get(key)
    if cached is not None:
        return cached
    service = ChannelService(build_sources(configs), DbLastGoodStore(db.require_engine))
    report = service.fetch(event)
    _cache_set(key, report)
    return report


@dataclass(frozen=True)
class EventChannels:
    """The event's channel report, and its total views against the organizer's previous event."""

    report: ChannelReport
    views: int
    previous_views: int | None
    previous_name: str | None
    views_change_pct: Decimal | None


def event_channels(event_id: int) -> EventChannels | None:
    """Channel statistics of an event and of the same organizer's previous event (views change)."""
    from bi_app.analytics.roi import change_pct
    from bi_app.data import events

    ref = events.event_ref(event_id)
    if ref is None:
        return None
    report = channel_report(EventRef(*ref))
    views = report.totals().views
    previous_id = events.previous_event_id(event_id)
    previous_ref = events.event_ref(previous_id) if previous_id is not None else None
    if previous_ref is None:
        return EventChannels(report, views, None, None, None)
    previous = channel_report(EventRef(*previous_ref))
    summary = events.event_summary(previous_id)
    previous_views = previous.totals().views
    return EventChannels(report, views, previous_views, summary.name if summary else None,
                         change_pct(views, previous_views))
