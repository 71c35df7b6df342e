"""Admin → Integrations: monitored HTTP services and external channel sources.

Validation reuses the checks that already guard these settings (the ``BI_HEALTH_SERVICES``
validator in :mod:`bi_app.monitoring.services`, the :class:`HttpJsonSource` constructor), run
one field at a time against a known-good baseline so a form can mark every bad field at once.

Secrets never leave this module: a monitored service names an environment variable (only
whether it is set is reported), and a channel's auth header value is write-only — stored as
:func:`bi_app.channels.config.save_config` stores it, shown masked, never audited.

What a change invalidates: services — this process's last health report (the next health run
reads the table again); channels — nothing explicit, because the channel report's cache key
includes every source configuration's fingerprint, so a changed source misses the cache in
every worker at once.
"""
from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bi_app.auth.users import audit
from bi_app.channels.base import ChannelSource, EventRef
from bi_app.channels.breaker import CircuitBreaker
from bi_app.channels.config import (
    DEFAULT_CHANNELS,
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
from bi_app.config import ConfigError
from bi_app.db.models import Event
from bi_app.db.monitoring_models import MonitoredService
from bi_app.monitoring import health, rules
from bi_app.monitoring import services as monitored

log = logging.getLogger(__name__)

MIN_SERVICE_TIMEOUT_S = 0.5
MAX_SERVICE_TIMEOUT_S = monitored.MAX_TIMEOUT_S
# The pattern add_service() applies to auth_env (it is inline there, not importable).
AUTH_ENV_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
SECRET_MASK = "••••••••"
KINDS = ("demo", "http")


class IntegrationError(ValueError):
    """Refused input; ``errors`` maps each bad form field to a message a person can act on."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class NotFound(LookupError):
    """The service or channel named in a request does not exist (any more)."""


# --- monitored services --------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceInput:
    name: str
    url: str
    expected_status: int
    timeout_s: float
    auth_env: str | None


@dataclass(frozen=True)
class ServiceRow:
    name: str
    url: str
    expected_status: int
    timeout_s: float
    source: Literal["settings", "admin"]
    enabled: bool
    id: int | None = None
    auth_env: str | None = None
    auth_env_set: bool | None = None  # None: no variable named
    auth_in_settings: bool = False  # a settings service carries its header inline

    @property
    def read_only(self) -> bool:
        return self.source == "settings"


_BASELINE = {"name": "probe", "url": "http://127.0.0.1/", "expected": 200, "timeout": 5.0}


def build_service_spec(where: str, name: Any, url: Any, expected_status: Any, timeout_s: Any,
                       auth_header: str | None) -> monitored.ServiceSpec:
    """The health services' own validator (private there); raises ConfigError naming ``where``."""
    return monitored._validate(where, name, url, expected_status, timeout_s, auth_header)


def service_field_error(**field: Any) -> str | None:
    """The health-services validator's message for one field (name, url, expected or timeout),
    checked with every other field at a valid value; None when the field is acceptable."""
    values = {**_BASELINE, **field}
    prefix = f"{monitored.ENV_VAR}: form: "
    try:
        build_service_spec("form", values["name"], values["url"], values["expected"], values["timeout"], None)
    except ConfigError as exc:
        text = str(exc)
        return text.removeprefix(prefix)
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*\d{1,4}\s*", value):
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_service_form(raw: Mapping[str, Any]) -> ServiceInput:
    """Validate the add/edit form (keys: name, url, expected_status, timeout_s, auth_env);
    raises :class:`IntegrationError` with a message for every refused field."""
    errors: dict[str, str] = {}
    name, url, auth_env = _text(raw.get("name")), _text(raw.get("url")), _text(raw.get("auth_env")) or None
    if (message := service_field_error(name=name)) is not None:
        errors["name"] = message
    if (message := service_field_error(url=url)) is not None:
        errors["url"] = message
    status = _as_int(raw.get("expected_status"))
    if status is None:
        errors["expected_status"] = "expected status must be a whole number, e.g. 200"
    elif (message := service_field_error(expected=status)) is not None:
        errors["expected_status"] = f"{message} (100–599)"
    timeout = _as_float(raw.get("timeout_s"))
    if timeout is None or not MIN_SERVICE_TIMEOUT_S <= timeout <= MAX_SERVICE_TIMEOUT_S:
        errors["timeout_s"] = (f"timeout must be between {MIN_SERVICE_TIMEOUT_S:g} and "
                               f"{MAX_SERVICE_TIMEOUT_S:g} seconds")
    elif (message := service_field_error(timeout=timeout)) is not None:
        errors["timeout_s"] = message
    if auth_env is not None and not AUTH_ENV_RE.match(auth_env):
        errors["auth_env"] = ("must be the NAME of an environment variable (capital letters, digits, _), "
                              "e.g. PAYMENTS_AUTH — never the header itself")
    if errors:
        raise IntegrationError(errors)
    return ServiceInput(name, url, status, float(timeout), auth_env)  # type: ignore[arg-type]


def list_services(engine: Engine, settings: Any, environ: Mapping[str, str] | None = None) -> list[ServiceRow]:
    """Settings services (read-only) first, then every admin row, enabled or not."""
    env = os.environ if environ is None else environ
    rows = [ServiceRow(s.name, s.url, s.expected_status, s.timeout_s, "settings", True,
                       auth_in_settings=s.auth_header is not None)
            for s in monitored.settings_services(settings)]
    with Session(engine) as session:
        for r in session.scalars(select(MonitoredService).order_by(MonitoredService.name)):
            rows.append(ServiceRow(r.name, r.url, r.expected_status, r.timeout_s, "admin", bool(r.enabled), r.id,
                                   r.auth_env, (r.auth_env in env) if r.auth_env else None))
    return rows


def _settings_names(settings: Any) -> set[str]:
    return {s.name for s in monitored.settings_services(settings)}


def _check_name_free(session: Session, settings: Any, name: str, service_id: int | None = None) -> None:
    if name in _settings_names(settings):
        raise IntegrationError({"name": f"{name} is configured in settings (BI_HEALTH_SERVICES); pick another name"})
    clash = session.scalar(select(MonitoredService.id).where(MonitoredService.name == name))
    if clash is not None and clash != service_id:
        raise IntegrationError({"name": f"a service named {name} already exists"})


def _service_detail(row: MonitoredService) -> dict[str, Any]:
    return {"name": row.name, "url": row.url, "expected_status": row.expected_status,
            "timeout_s": row.timeout_s, "auth_env": row.auth_env, "enabled": bool(row.enabled)}


def _commit(session: Session, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:  # another admin saved the same name a moment ago
        session.rollback()
        raise IntegrationError({"name": f"a service named {name} already exists"}) from None


def create_service(engine: Engine, settings: Any, form: ServiceInput, actor: str | None = None) -> int:
    """Add an admin-managed service (audited); returns its id."""
    with Session(engine) as session:
        _check_name_free(session, settings, form.name)
        row = monitored.add_service(session, form.name, form.url, form.expected_status, form.timeout_s,
                                    form.auth_env)
        session.flush()
        audit(session, "integration.service.create", form.name, _service_detail(row), actor=actor)
        _commit(session, form.name)
        service_id = row.id
    health.forget()
    return service_id


def _admin_row(session: Session, service_id: int) -> MonitoredService:
    row = session.get(MonitoredService, service_id)
    if row is None:
        raise NotFound(f"monitored service {service_id} does not exist")
    return row


def update_service(engine: Engine, settings: Any, service_id: int, form: ServiceInput,
                   actor: str | None = None) -> None:
    """Replace an admin service's fields (audited with the old and new values)."""
    with Session(engine) as session:
        row = _admin_row(session, service_id)
        _check_name_free(session, settings, form.name, service_id)
        old = _service_detail(row)
        row.name, row.url, row.expected_status = form.name, form.url, form.expected_status
        row.timeout_s, row.auth_env = form.timeout_s, form.auth_env
        new = _service_detail(row)
        changed = {k: {"old": old[k], "new": new[k]} for k in new if old[k] != new[k]}
        audit(session, "integration.service.update", form.name, changed, actor=actor)
        _commit(session, form.name)
    health.forget()


def set_service_enabled(engine: Engine, service_id: int, enabled: bool, actor: str | None = None) -> str:
    """Enable or disable an admin service (audited); returns its name."""
    with Session(engine) as session:
        row = _admin_row(session, service_id)
        row.enabled = bool(enabled)
        name = row.name
        audit(session, "integration.service.enable" if enabled else "integration.service.disable", name,
              None, actor=actor)
        session.commit()
    health.forget()
    return name


def toggle_service(engine: Engine, service_id: int, actor: str | None = None) -> tuple[str, bool]:
    """Flip an admin service between enabled and disabled; returns its name and new state."""
    with Session(engine) as session:
        enabled = not _admin_row(session, service_id).enabled
    return set_service_enabled(engine, service_id, enabled, actor), enabled


def delete_service(engine: Engine, service_id: int, actor: str | None = None) -> str:
    """Remove an admin service (audited with what it was); returns its name."""
    with Session(engine) as session:
        row = _admin_row(session, service_id)
        name, detail = row.name, _service_detail(row)
        session.delete(row)
        audit(session, "integration.service.delete", name, detail, actor=actor)
        session.commit()
    health.forget()
    return name


def service_name(engine: Engine, service_id: int) -> str:
    with Session(engine) as session:
        return _admin_row(session, service_id).name


def check_service(engine: Engine, settings: Any, name: str,
                  environ: Mapping[str, str] | None = None) -> health.CheckResult:
    """Run the health module's HTTP check for one service now (disabled ones too), with the
    health job's deadline; nothing is stored and the health report is left as it is."""
    env = os.environ if environ is None else environ
    spec = next((s for s in monitored.settings_services(settings) if s.name == name), None)
    if spec is None:
        with Session(engine) as session:
            row = session.scalar(select(MonitoredService).where(MonitoredService.name == name))
        if row is None:
            raise NotFound(f"no monitored service named {name}")
        check_name = f"service:{row.name}"
        auth = env.get(row.auth_env) if row.auth_env else None
        if row.auth_env and auth is None:
            return health.CheckResult(check_name, rules.UNHEALTHY, None, {"url": row.url},
                                      f"environment variable {row.auth_env} is not set in this process")
        try:
            spec = build_service_spec(f"monitored service {row.name}", row.name, row.url, row.expected_status,
                                      row.timeout_s, auth)
        except ConfigError as exc:
            return health.CheckResult(check_name, rules.UNHEALTHY, None, {"url": row.url}, str(exc))
    planned = health.PlannedCheck(spec.check_name, lambda: health.check_http(spec), spec.timeout_s + 0.5)
    return health.run_parallel([planned])[0]


# --- channel sources -------------------------------------------------------------------------

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

    @property
    def auth_display(self) -> str:
        """The header name with its value masked; the value itself never leaves the server."""
        if not self.auth_header_name:
            return "—"
        return f"{self.auth_header_name}: {SECRET_MASK}" if self.auth_set else self.auth_header_name


@dataclass(frozen=True)
class ChannelInput:
    channel: str
    kind: str  # "demo" removes the HTTP configuration, "http" saves it
    url: str = ""
    auth_header_name: str | None = None
    auth_header_value: str | None = None  # None: keep the stored value
    clear_auth: bool = False
    timeout_s: float = 10.0
    enabled: bool = True


def channel_names(engine: Engine) -> list[str]:
    """The default channels, then any other configured one."""
    extra = sorted({c.channel for c in load_configs(engine)} - set(DEFAULT_CHANNELS))
    return list(DEFAULT_CHANNELS) + extra


def list_channel_sources(engine: Engine) -> list[ChannelRow]:
    configs = load_configs(engine)
    by_channel = {c.channel: c for c in configs}
    rows = []
    for source in build_sources(configs):
        config = by_channel.get(source.channel)
        if config is None:
            rows.append(ChannelRow(source.channel, source.kind, False))
            continue
        rows.append(ChannelRow(source.channel, source.kind, True, config.url, config.auth_header_name,
                               bool(config.auth_header_value), config.timeout_s, config.enabled))
    return rows


def source_field_error(channel: str, **field: Any) -> str | None:
    """:class:`HttpJsonSource`'s message for the given constructor arguments (others valid)."""
    values: dict[str, Any] = {"url": "http://127.0.0.1/", **field}
    try:
        source = HttpJsonSource(channel, values.pop("url"), **values)
        source.target(EventRef(1, "E1"))  # a placeholder it does not know fails every fetch
    except ValueError as exc:
        return str(exc).removeprefix(f"channel {channel}: ")
    except (KeyError, IndexError):
        return "unknown placeholder in the URL: use {event_id}, {event_code} or {channel}"
    return None


def parse_channel_form(raw: Mapping[str, Any], channels: list[str] | tuple[str, ...]) -> ChannelInput:
    """Validate the channel form (channel, kind, url, auth_header_name, auth_header_value,
    clear_auth, timeout_s, enabled); the auth pair is checked again when saving, against the
    stored value an empty field keeps."""
    channel, kind = _text(raw.get("channel")), _text(raw.get("kind")) or "http"
    errors: dict[str, str] = {}
    if channel not in channels:
        errors["channel"] = f"choose one of {', '.join(channels)}"
    if kind not in KINDS:
        errors["kind"] = "choose the built-in demo source or HTTP JSON"
    if kind == "demo" or errors:
        if errors:
            raise IntegrationError(errors)
        return ChannelInput(channel, "demo")
    url = _text(raw.get("url"))
    if (message := source_field_error(channel, url=url)) is not None:
        errors["url"] = message
    timeout = _as_float(raw.get("timeout_s"))
    if timeout is None:
        errors["timeout_s"] = "timeout must be a number of seconds"
    elif (message := source_field_error(channel, timeout=timeout)) is not None:
        errors["timeout_s"] = message
    name = _text(raw.get("auth_header_name")) or None
    value = raw.get("auth_header_value") if isinstance(raw.get("auth_header_value"), str) else None
    if errors:
        raise IntegrationError(errors)
    return ChannelInput(channel, "http", url, name, value or None, bool(raw.get("clear_auth")),
                        float(timeout), bool(raw.get("enabled")))  # type: ignore[arg-type]


def _auth_error(channel: str, name: str | None, value: str | None) -> dict[str, str]:
    message = source_field_error(channel, auth_header_name=name, auth_header_value=value)
    if message is None:
        return {}
    name_ok = bool(name) and name.replace("-", "").isalnum()  # type: ignore[union-attr]
    return {"auth_header_value" if name_ok else "auth_header_name": message}


def save_channel_source(engine: Engine, form: ChannelInput, actor: str | None = None) -> SourceConfig | None:
    """Store (kind http) or remove (kind demo) a channel's configuration, audited without the
    secret; returns the stored configuration, None when the channel is back on the demo source."""
    stored = {c.channel: c for c in load_configs(engine)}.get(form.channel)
    if form.kind == "demo":
        delete_config(engine, form.channel)  # also tells every worker to reload configurations
        _audit(engine, "integration.channel.remove", form.channel,
               {"url": stored.url if stored else None}, actor)
        return None
    value = None if form.clear_auth else (form.auth_header_value or (stored.auth_header_value if stored else None))
    name = None if form.clear_auth else form.auth_header_name
    if name is None and not form.clear_auth and form.auth_header_value is None:
        value = None  # no header name given: no header
    errors = _auth_error(form.channel, name, value)
    if errors:
        raise IntegrationError(errors)
    config = SourceConfig(form.channel, form.url, name, value, form.enabled, form.timeout_s)
    save_config(engine, config)
    old_value = stored.auth_header_value if stored else None
    auth_change = "unchanged" if value == old_value else ("removed" if value is None else "changed")
    _audit(engine, "integration.channel.save", form.channel,
           {"url": form.url, "timeout_s": form.timeout_s, "enabled": form.enabled,
            "auth_header_name": name, "auth_header": auth_change}, actor)
    return config


def _audit(engine: Engine, action: str, target: str, detail: dict[str, Any], actor: str | None) -> None:
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


def event_choices(engine: Engine, limit: int = 200) -> list[tuple[int, str]]:
    """``(id, label)`` of the newest events, for choosing the one a test fetch asks about."""
    query = select(Event.id, Event.code, Event.name).order_by(Event.starts_at.desc(), Event.id).limit(limit)
    with engine.connect() as conn:
        return [(int(i), f"{code} — {name}") for i, code, name in conn.execute(query)]


def _source_for(config: SourceConfig | None, channel: str) -> ChannelSource:
    if config is None:
        return DemoChannelSource(channel)
    return HttpJsonSource(channel, config.url, auth_header_name=config.auth_header_name,
                          auth_header_value=config.auth_header_value, timeout=config.timeout_s)


def try_channel_source(engine: Engine, channel: str, event_id: int) -> FetchResult:
    """Fetch one event's statistics once through the channel's configured source (an HTTP
    configuration even while disabled), with its timeout. A private breaker and memory store
    keep the live breakers (Health page) and the last good values untouched."""
    if channel not in channel_names(engine):
        raise NotFound(f"no channel named {channel}")
    with engine.connect() as conn:
        code = conn.execute(select(Event.code).where(Event.id == event_id)).scalar()
    if code is None:
        raise NotFound(f"event {event_id} does not exist")
    config = {c.channel: c for c in load_configs(engine)}.get(channel)
    started = time.perf_counter()
    try:
        source = _source_for(config, channel)
    except ValueError as exc:
        return FetchResult(channel, "http", code, False, 0.0, error=str(exc))
    service = ChannelService([source], MemoryLastGoodStore(),
                             breakers=lambda name: CircuitBreaker(f"integrations-test:{name}"))
    result = service.fetch(EventRef(event_id, code)).results[0]
    elapsed = (time.perf_counter() - started) * 1000.0
    if result.status != LIVE:
        return FetchResult(channel, source.kind, code, False, elapsed, error=result.error)
    stats = result.stats
    return FetchResult(channel, source.kind, code, True, elapsed, stats.views, stats.clicks, stats.conversions)
