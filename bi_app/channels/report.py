"""The channel report of one event, cache-aside through the cache extension (failing open).

A fully live report is kept for 300 s; one with an unavailable channel only for 30 s, so a
source that recovers is noticed soon while a broken one is not hammered on every page view.
The key includes the configuration's fingerprint: a changed source is fetched afresh.
"""
from __future__ import annotations

import hashlib
import logging

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
    except Exception:  # noqa: BLE001 - a cache outage must not break the page
        log.warning("channel report cache read failed", exc_info=True)
        return None
    return value if isinstance(value, ChannelReport) else None


def _cache_set(key: str, report: ChannelReport) -> None:
    if not flask.has_app_context():
        return
    try:
        cache.set(key, report, timeout=DEGRADED_TTL_S if report.degraded else REPORT_TTL_S)
    except Exception:  # noqa: BLE001
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
