"""Per-channel source configuration (``channel_sources``) and the sources it builds.

An enabled row makes the channel an HTTP JSON source; every other channel is served by the
built-in demo source. A row that cannot build a source (a bad URL typed into the database) is
logged and that channel falls back to the demo source rather than breaking the page.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select

from bi_app.channels.base import DEFAULT_TIMEOUT_S, ChannelSource
from bi_app.channels.demo_source import DemoChannelSource
from bi_app.channels.http_source import HttpJsonSource
from bi_app.db.channel_models import ChannelSourceConfig
from bi_app.db.models import utcnow

log = logging.getLogger(__name__)

DEFAULT_CHANNELS = ("email", "social", "search", "display", "partner")


@dataclass(frozen=True)
class SourceConfig:
    channel: str
    url: str
    auth_header_name: str | None = None
    auth_header_value: str | None = None
    enabled: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S

    def fingerprint(self) -> str:
        """Changes whenever the configuration does (the secret only as part of a digest)."""
        text = "|".join(str(v) for v in (self.channel, self.url, self.auth_header_name,
                                         self.auth_header_value, self.enabled, self.timeout_s))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_configs(engine: Engine) -> list[SourceConfig]:
    t = ChannelSourceConfig.__table__
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.channel, t.c.url, t.c.auth_header_name, t.c.auth_header_value,
                                   t.c.enabled, t.c.timeout_s).order_by(t.c.channel)).all()
    return [SourceConfig(r[0], r[1], r[2], r[3], bool(r[4]), float(r[5])) for r in rows]


def save_config(engine: Engine, config: SourceConfig) -> None:
    """Create or replace one channel's configuration (validated by building its source first)."""
    HttpJsonSource(config.channel, config.url, auth_header_name=config.auth_header_name,
                   auth_header_value=config.auth_header_value, timeout=config.timeout_s)
    t = ChannelSourceConfig.__table__
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.channel == config.channel))
        conn.execute(insert(t).values(channel=config.channel, kind="http", url=config.url,
                                      auth_header_name=config.auth_header_name,
                                      auth_header_value=config.auth_header_value,
                                      enabled=config.enabled, timeout_s=config.timeout_s,
                                      updated_at=utcnow()))


def build_sources(configs: list[SourceConfig], channels: tuple[str, ...] = DEFAULT_CHANNELS) -> list[ChannelSource]:
    """One source per channel (the default ones plus any configured), in a stable order."""
    by_channel = {c.channel: c for c in configs}
    sources: list[ChannelSource] = []
    for channel in list(channels) + sorted(set(by_channel) - set(channels)):
        config = by_channel.get(channel)
        if config is not None and config.enabled:
            try:
                sources.append(HttpJsonSource(channel, config.url, auth_header_name=config.auth_header_name,
                                              auth_header_value=config.auth_header_value,
                                              timeout=config.timeout_s))
                continue
            except ValueError as exc:
                log.error("channel %s: invalid source configuration (%s); using the demo source", channel, exc)
        sources.append(DemoChannelSource(channel))
    return sources
