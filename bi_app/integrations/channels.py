"""Admin → Integrations, channel sources: which source answers for each marketing channel
(the built-in demo or an HTTP JSON endpoint), its form, saving (audited without the secret) and
a one-off test fetch.

A channel's auth header value is write-only: stored encrypted by
:func:`bi_app.channels.config.save_config`, shown masked, never audited. An empty value keeps the
stored one only while the URL's origin (scheme, host, port) stays the same: a secret is never
sent to a host other than the one it was entered for. Nothing is invalidated explicitly on a
change: the channel report's cache key includes every source configuration's fingerprint.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bi_app.auth import audit
from bi_app.channels.base import ChannelSource, EventRef
from bi_app.channels.breaker import CircuitBreaker
from bi_app.channels.config import (
    DEFAULT_CHANNELS,
    MAX_SECRET_CHARS,
    SECRET_UNREADABLE,
    SourceConfig,
    build_sources,
    delete_config,
    load_configs,
    save_config,
)
from bi_app.channels.demo_source import DemoChannelSource
from bi_app.channels.http_source import HttpJsonSource
from bi_app.channels.service import LIVE, ChannelService
from bi_app.channels.store import MemoryLastGoodStore
from bi_app.db.models import Event
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _
from bi_app.integrations._common import (
    IntegrationError,
    NotFound,
    as_float,
    clean_text,
    engine_or_app,
)

log = logging.getLogger(__name__)

SECRET_MASK = "••••••••"
KINDS = ("demo", "http")
ORIGIN_CHANGED = "secret cleared because the URL's origin changed"  # audit and log: English


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    serving: str  # the kind of source that answers now: "http" or "demo"
    configured: bool  # an HTTP JSON configuration is stored (maybe disabled)
    url: str | None = None
    auth_header_name: str | None = None
    auth_set: bool = False
    timeout_s: float | None = None
    enabled: bool = False
    auth_unreadable: bool = False  # a value is stored but cannot be decrypted

    @property
    def auth_display(self) -> str:
        """The header name with its value masked; the value itself never leaves the server."""
        if not self.auth_header_name:
            return "—"
        if self.auth_unreadable:
            return f"{self.auth_header_name}: {SECRET_UNREADABLE}"
        return f"{self.auth_header_name}: {SECRET_MASK}" if self.auth_set else self.auth_header_name


@dataclass(frozen=True)
class ChannelInput:
    channel: str
    kind: str  # "demo" removes the HTTP configuration, "http" saves it
    url: str = ""
    auth_header_name: str | None = None
    auth_header_value: str | None = field(default=None, repr=False)  # None: keep the stored one
    clear_auth: bool = False
    timeout_s: float = 10.0
    enabled: bool = True


@unavailable_on_database_error(N_("The list of channels"))
def channel_names(*, engine: Engine | None = None) -> list[str]:
    """The default channels, then any other configured one."""
    engine = engine_or_app(engine)
    extra = sorted({c.channel for c in load_configs(engine)} - set(DEFAULT_CHANNELS))
    return list(DEFAULT_CHANNELS) + extra


@unavailable_on_database_error(N_("The list of channel sources"))
def list_channel_sources(*, engine: Engine | None = None) -> list[ChannelRow]:
    engine = engine_or_app(engine)
    configs = load_configs(engine)
    by_channel = {c.channel: c for c in configs}
    rows = []
    for source in build_sources(configs):
        config = by_channel.get(source.channel)
        if config is None:
            rows.append(ChannelRow(source.channel, source.kind, False))
            continue
        rows.append(
            ChannelRow(
                source.channel,
                source.kind,
                True,
                config.url,
                config.auth_header_name,
                bool(config.auth_header_value),
                config.timeout_s,
                config.enabled,
                config.secret_unreadable,
            )
        )
    return rows


def source_field_error(channel: str, **field: Any) -> str | None:
    """:class:`HttpJsonSource`'s message for the given constructor arguments (others valid);
    a given URL is also checked against the outbound policy (its host resolved)."""
    values: dict[str, Any] = {"url": "http://127.0.0.1/", **field}
    try:
        source = HttpJsonSource(channel, values.pop("url"), **values)
    except ValueError as exc:
        return str(exc).removeprefix(f"channel {channel}: ")
    if "url" in field:
        return source.refusal()
    return None


def parse_channel_form(
    raw: Mapping[str, Any], channels: list[str] | tuple[str, ...]
) -> ChannelInput:
    """Validate the channel form (channel, kind, url, auth_header_name, auth_header_value,
    clear_auth, timeout_s, enabled); the auth pair is checked again when saving, against the
    stored value an empty field keeps."""
    channel, kind = clean_text(raw.get("channel")), clean_text(raw.get("kind")) or "http"
    errors: dict[str, str] = {}
    if channel not in channels:
        errors["channel"] = _("choose one of %(channels)s", channels=", ".join(channels))
    if kind not in KINDS:
        errors["kind"] = _("choose the built-in demo source or HTTP JSON")
    if kind == "demo" or errors:
        if errors:
            raise IntegrationError(errors)
        return ChannelInput(channel, "demo")
    url = clean_text(raw.get("url"))
    if (message := source_field_error(channel, url=url)) is not None:
        errors["url"] = message
    timeout = as_float(raw.get("timeout_s"))
    if timeout is None:
        errors["timeout_s"] = _("timeout must be a number of seconds")
    elif (message := source_field_error(channel, timeout=timeout)) is not None:
        errors["timeout_s"] = message
    name = clean_text(raw.get("auth_header_name")) or None
    value = raw.get("auth_header_value") if isinstance(raw.get("auth_header_value"), str) else None
    if errors:
        raise IntegrationError(errors)
    return ChannelInput(
        channel,
        "http",
        url,
        name,
        value or None,
        bool(raw.get("clear_auth")),
        float(timeout),
        bool(raw.get("enabled")),
    )  # type: ignore[arg-type]


def _auth_error(channel: str, name: str | None, value: str | None) -> dict[str, str]:
    if value and len(value) > MAX_SECRET_CHARS:
        return {"auth_header_value": _("at most %(count)s characters", count=MAX_SECRET_CHARS)}
    message = source_field_error(channel, auth_header_name=name, auth_header_value=value)
    if message is None:
        return {}
    name_ok = bool(name) and name.replace("-", "").isalnum()  # type: ignore[union-attr]
    return {"auth_header_value" if name_ok else "auth_header_name": message}


_DEFAULT_PORTS = {"http": 80, "https": 443}


def url_origin(url: str) -> tuple[str, str, int | str | None]:
    """Scheme, host and port of a (template) URL, the port defaulted from the scheme."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port: int | str | None = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:  # not a number: compare what was typed
        port = parts.netloc.rpartition(":")[2]
    return scheme, (parts.hostname or "").lower(), port


@dataclass(frozen=True)
class SavedChannel:
    """What :func:`save_channel_source` stored, and what the admin must be told about it."""

    config: SourceConfig | None  # None: the channel is back on the built-in demo source
    notice: str | None = None


def save_channel_source(
    form: ChannelInput, actor: str | None = None, *, engine: Engine | None = None
) -> SavedChannel:
    """Store (kind http) or remove (kind demo) a channel's configuration, audited without the
    secret. An empty value keeps the stored secret only for the same URL origin; for another
    one the header is removed and the returned notice says so."""
    engine = engine_or_app(engine)
    stored = {c.channel: c for c in load_configs(engine)}.get(form.channel)
    if form.kind == "demo":
        delete_config(engine, form.channel)  # also tells every worker to reload configurations
        _audit(
            engine,
            "integration.channel.remove",
            form.channel,
            {"url": stored.url if stored else None},
            actor,
        )
        return SavedChannel(None)
    keeps_stored = (
        stored is not None
        and not form.clear_auth
        and form.auth_header_name is not None
        and form.auth_header_value is None
        and (stored.auth_header_value is not None or stored.secret_unreadable)
    )
    retargeted = bool(keeps_stored and stored and url_origin(stored.url) != url_origin(form.url))
    value = (
        None
        if form.clear_auth or retargeted
        else (form.auth_header_value or (stored.auth_header_value if stored else None))
    )
    name = None if form.clear_auth or retargeted else form.auth_header_name
    if name is None and not form.clear_auth and form.auth_header_value is None:
        value = None  # no header name given: no header
    if keeps_stored and not retargeted and stored and stored.secret_unreadable:
        raise IntegrationError(
            {
                "auth_header_value": _(
                    "the stored value cannot be read (the key changed): re-enter it"
                )
            }
        )
    errors = _auth_error(form.channel, name, value)
    if errors:
        raise IntegrationError(errors)
    config = SourceConfig(form.channel, form.url, name, value, form.enabled, form.timeout_s)
    save_config(engine, config)
    old_value = stored.auth_header_value if stored else None
    if retargeted:
        auth_change = ORIGIN_CHANGED
    elif value == old_value and not (stored and stored.secret_unreadable):
        auth_change = "unchanged"
    else:
        auth_change = "removed" if value is None else "changed"
    _audit(
        engine,
        "integration.channel.save",
        form.channel,
        {
            "url": form.url,
            "timeout_s": form.timeout_s,
            "enabled": form.enabled,
            "auth_header_name": name,
            "auth_header": auth_change,
        },
        actor,
    )
    if retargeted:
        log.warning("channel %s: auth header %s", form.channel, ORIGIN_CHANGED)
        return SavedChannel(
            config,
            _(
                "Auth header removed: secret cleared because the URL's origin changed; "
                "enter it again."
            ),
        )
    return SavedChannel(config)


def _audit(
    engine: Engine, action: str, target: str, detail: dict[str, Any], actor: str | None
) -> None:
    # save_config owns its transaction, so the audit row follows in its own.
    with Session(engine) as session:
        audit(session, action, target, detail, actor=actor)
        session.commit()


@dataclass(frozen=True)
class FetchResult:
    channel: str
    kind: str
    event_code: str
    ok: bool
    elapsed_ms: float
    views: int | None = None
    clicks: int | None = None
    conversions: int | None = None
    error: str | None = None


@unavailable_on_database_error(N_("The list of events"))
def event_choices(limit: int = 200, *, engine: Engine | None = None) -> list[tuple[int, str]]:
    """``(id, label)`` of the newest events, for choosing the one a test fetch asks about."""
    query = (
        select(Event.id, Event.code, Event.name)
        .order_by(Event.starts_at.desc(), Event.id)
        .limit(limit)
    )
    with engine_or_app(engine).connect() as conn:
        return [(int(i), f"{code} — {name}") for i, code, name in conn.execute(query)]


def _source_for(config: SourceConfig | None, channel: str) -> ChannelSource:
    if config is None:
        return DemoChannelSource(channel)
    if config.secret_unreadable:
        raise ValueError(f"channel {channel}: {SECRET_UNREADABLE}")
    return HttpJsonSource(
        channel,
        config.url,
        auth_header_name=config.auth_header_name,
        auth_header_value=config.auth_header_value,
        timeout=config.timeout_s,
    )


def try_channel_source(channel: str, event_id: int, *, engine: Engine | None = None) -> FetchResult:
    """Fetch one event's statistics once through the channel's configured source (an HTTP
    configuration even while disabled), with its timeout. A private breaker and memory store
    keep the live breakers (Health page) and the last good values untouched."""
    engine = engine_or_app(engine)
    if channel not in channel_names(engine=engine):
        raise NotFound(_("no channel named %(channel)s", channel=channel))
    with engine.connect() as conn:
        code = conn.execute(select(Event.code).where(Event.id == event_id)).scalar()
    if code is None:
        raise NotFound(_("event %(id)s does not exist", id=event_id))
    config = {c.channel: c for c in load_configs(engine)}.get(channel)
    started = time.perf_counter()
    try:
        source = _source_for(config, channel)
    except ValueError as exc:
        return FetchResult(channel, "http", code, False, 0.0, error=str(exc))
    service = ChannelService(
        [source],
        MemoryLastGoodStore(),
        breakers=lambda name: CircuitBreaker(f"integrations-test:{name}"),
    )
    result = service.fetch(EventRef(event_id, code)).results[0]
    elapsed = (time.perf_counter() - started) * 1000.0
    if result.status != LIVE:
        return FetchResult(channel, source.kind, code, False, elapsed, error=result.error)
    stats = result.stats
    return FetchResult(
        channel, source.kind, code, True, elapsed, stats.views, stats.clicks, stats.conversions
    )
