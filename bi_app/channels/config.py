"""Per-channel source configuration (``channel_sources``) and the sources it builds.

An enabled row makes the channel an HTTP JSON source; every other channel is served by the
built-in demo source. A row that cannot build a source (a bad URL typed into the database) is
logged and that channel falls back to the demo source rather than breaking the page.

Readers on the page path use :func:`current_configs`: the rows are kept in process memory (so
the auth secrets never go into the shared cache) under a token stored in the shared cache.
:func:`save_config` and :func:`delete_config`, the writers, replace the token, so every worker
reloads at its next read; rows changed behind their back are reloaded after
:data:`CONFIG_MAX_AGE_S` at the latest.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import flask
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from bi_app.channels.base import (
    DEFAULT_TIMEOUT_S,
    ChannelSource,
    ChannelSourceError,
    ChannelStats,
    EventRef,
)
from bi_app.channels.demo_source import DemoChannelSource
from bi_app.channels.http_source import HttpJsonSource
from bi_app.data import cache as data_cache
from bi_app.data.cache import CacheState
from bi_app.db.channel_models import ChannelSourceConfig
from bi_app.db.models import utcnow
from bi_app.extensions import cache
from bi_app.secret_box import SecretBox, SecretUnreadable, current_box, is_sealed

log = logging.getLogger(__name__)

DEFAULT_CHANNELS = ("email", "social", "search", "display", "partner")
CONFIG_TOKEN_KEY = "channels:config-token"
CONFIG_MAX_AGE_S = 30.0
MAX_SECRET_CHARS = 500
SECRET_UNREADABLE = "secret unreadable: re-enter it"


@dataclass(frozen=True)
class SourceConfig:
    channel: str
    url: str
    auth_header_name: str | None = None
    auth_header_value: str | None = field(default=None, repr=False)
    enabled: bool = True
    timeout_s: float = DEFAULT_TIMEOUT_S
    secret_unreadable: bool = False  # a value is stored but the keys cannot decrypt it

    def fingerprint(self) -> str:
        """Changes whenever the configuration does (the secret only as part of a digest)."""
        text = "|".join(
            str(v)
            for v in (
                self.channel,
                self.url,
                self.auth_header_name,
                self.auth_header_value,
                self.enabled,
                self.timeout_s,
                self.secret_unreadable,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class UnreadableSecretSource:
    """An HTTP channel whose stored secret cannot be decrypted: every fetch fails saying so."""

    kind = "http"

    def __init__(self, channel: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.channel, self.timeout = channel, float(timeout)

    def fetch(self, event: EventRef) -> ChannelStats:
        raise ChannelSourceError(SECRET_UNREADABLE)


def load_configs(engine: Engine, box: SecretBox | None = None) -> list[SourceConfig]:
    """Every stored configuration with its secret decrypted; plaintext rows are encrypted."""
    box = box or current_box()
    t = ChannelSourceConfig.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.c.channel,
                t.c.url,
                t.c.auth_header_name,
                t.c.auth_header_value,
                t.c.enabled,
                t.c.timeout_s,
            ).order_by(t.c.channel)
        ).all()
    configs, plaintext = [], []
    for channel, url, name, stored, enabled, timeout in rows:
        value, unreadable = None, False
        if stored:
            try:
                value = box.open(stored)
            except SecretUnreadable:
                unreadable = True
            if not is_sealed(stored):
                plaintext.append((channel, stored))
        configs.append(
            SourceConfig(channel, url, name, value, bool(enabled), float(timeout), unreadable)
        )
    if plaintext:
        _encrypt_in_place(engine, box, plaintext)
    return configs


def _encrypt_in_place(engine: Engine, box: SecretBox, rows: list[tuple[str, str]]) -> None:
    """Store plaintext secrets (rows from before encryption) encrypted; a row changed meanwhile
    is left to its writer, and a failure only postpones this to the next load."""
    t = ChannelSourceConfig.__table__
    try:
        with engine.begin() as conn:
            for channel, plaintext in rows:
                conn.execute(
                    update(t)
                    .where(t.c.channel == channel, t.c.auth_header_value == plaintext)
                    .values(auth_header_value=box.seal(plaintext))
                )
    except SQLAlchemyError as exc:
        log.warning(
            "channel secrets of %s still stored in plaintext: %s",
            ", ".join(c for c, _ in rows),
            type(exc).__name__,
        )
        return
    log.info("channel secrets of %s are now stored encrypted", ", ".join(c for c, _ in rows))


def save_config(engine: Engine, config: SourceConfig, box: SecretBox | None = None) -> None:
    """Create or replace one channel's configuration (validated by building its source first),
    its secret encrypted; every worker uses it from its next channel report on."""
    if config.auth_header_value and len(config.auth_header_value) > MAX_SECRET_CHARS:
        raise ValueError(
            f"channel {config.channel}: the auth header value is longer than "
            f"{MAX_SECRET_CHARS} characters"
        )
    box = box or current_box()
    HttpJsonSource(
        config.channel,
        config.url,
        auth_header_name=config.auth_header_name,
        auth_header_value=config.auth_header_value,
        timeout=config.timeout_s,
    )
    t = ChannelSourceConfig.__table__
    with engine.begin() as conn:
        conn.execute(delete(t).where(t.c.channel == config.channel))
        conn.execute(
            insert(t).values(
                channel=config.channel,
                kind="http",
                url=config.url,
                auth_header_name=config.auth_header_name,
                auth_header_value=(
                    box.seal(config.auth_header_value) if config.auth_header_value else None
                ),
                enabled=config.enabled,
                timeout_s=config.timeout_s,
                updated_at=utcnow(),
            )
        )
    config_changed()


def delete_config(engine: Engine, channel: str) -> bool:
    """Put ``channel`` back on the demo source; False when it had no configuration."""
    t = ChannelSourceConfig.__table__
    with engine.begin() as conn:
        removed = conn.execute(delete(t).where(t.c.channel == channel)).rowcount > 0
    config_changed()
    return removed


def config_digest(configs: Sequence[SourceConfig]) -> str:
    """One fingerprint of every configuration: part of the channel report's cache key."""
    return hashlib.sha256("|".join(c.fingerprint() for c in configs).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ConfigSnapshot:
    configs: tuple[SourceConfig, ...]
    digest: str
    token: str | None
    loaded_at: float  # time.monotonic()


_snapshots: dict[str, ConfigSnapshot] = {}  # by database URL
_snapshots_lock = threading.Lock()


def current_configs(engine: Engine, token: str | None) -> ConfigSnapshot:
    """The configurations as of ``token`` (see :func:`config_token`): from process memory while
    the token is unchanged and the copy younger than :data:`CONFIG_MAX_AGE_S`, else reloaded."""
    url = engine.url.render_as_string(hide_password=False)
    with _snapshots_lock:
        snapshot = _snapshots.get(url)
    if (
        snapshot is not None
        and token is not None
        and snapshot.token == token
        and time.monotonic() - snapshot.loaded_at < CONFIG_MAX_AGE_S
    ):
        return snapshot
    configs = tuple(load_configs(engine))
    snapshot = ConfigSnapshot(configs, config_digest(configs), token, time.monotonic())
    with _snapshots_lock:
        _snapshots[url] = snapshot
    return snapshot


def shared_cache_state() -> CacheState | None:
    """The data cache's state when the shared cache may be used now: an app context with the
    cache bound and on, and its breaker closed (a hung Redis is not asked again on every call)."""
    if not flask.has_app_context():
        return None
    state = flask.current_app.extensions.get(data_cache.STATE_KEY)
    if state is None or not state.enabled or not state.available():
        return None
    return state


def config_token() -> str | None:
    """The shared configuration token (created on first use); None without a usable cache,
    which makes :func:`current_configs` read the table."""
    state = shared_cache_state()
    if state is None:
        return None
    try:
        token = cache.get(CONFIG_TOKEN_KEY)
        if token is None:
            cache.add(CONFIG_TOKEN_KEY, uuid.uuid4().hex[:12], timeout=0)
            token = cache.get(CONFIG_TOKEN_KEY)
    except Exception as exc:  # noqa: BLE001 - the table is the fallback
        state.failed(None, "read", exc)
        return None
    return token if isinstance(token, str) else None


def config_changed() -> None:
    """Make every worker reload the configurations: drop this process's copy and replace the
    shared token (outside an app context only this process knows at once; the others reload
    within :data:`CONFIG_MAX_AGE_S`)."""
    with _snapshots_lock:
        _snapshots.clear()
    if (
        not flask.has_app_context()
        or flask.current_app.extensions.get(data_cache.STATE_KEY) is None
    ):
        log.info(
            "channel configuration changed without a shared cache at hand: other workers "
            "reload within %g s",
            CONFIG_MAX_AGE_S,
        )
        return
    try:
        cache.set(CONFIG_TOKEN_KEY, uuid.uuid4().hex[:12], timeout=0)
    except Exception:
        log.exception(
            "CHANNEL CONFIGURATION TOKEN NOT REPLACED: other workers use the old sources "
            "for up to %g s",
            CONFIG_MAX_AGE_S,
        )


def build_sources(
    configs: Sequence[SourceConfig], channels: tuple[str, ...] = DEFAULT_CHANNELS
) -> list[ChannelSource]:
    """One source per channel (the default ones plus any configured), in a stable order."""
    by_channel = {c.channel: c for c in configs}
    sources: list[ChannelSource] = []
    for channel in list(channels) + sorted(set(by_channel) - set(channels)):
        config = by_channel.get(channel)
        if config is not None and config.enabled and config.secret_unreadable:
            log.error("channel %s: %s", channel, SECRET_UNREADABLE)
            sources.append(UnreadableSecretSource(channel, config.timeout_s))
            continue
        if config is not None and config.enabled:
            try:
                sources.append(
                    HttpJsonSource(
                        channel,
                        config.url,
                        auth_header_name=config.auth_header_name,
                        auth_header_value=config.auth_header_value,
                        timeout=config.timeout_s,
                    )
                )
                continue
            except ValueError as exc:
                log.error(
                    "channel %s: invalid source configuration (%s); using the demo source",
                    channel,
                    exc,
                )
        sources.append(DemoChannelSource(channel))
    return sources
