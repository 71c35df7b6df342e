"""Settings read from ``BI_*`` environment variables through strict parsers.

An invalid value raises :class:`ConfigError` naming the variable, so start-up stops with a
message an operator can act on instead of a traceback deep inside a library.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
ENVIRONMENTS = ("development", "production", "test")
SECRET_FIELDS = ("secret_key", "admin_password", "database_url", "redis_url")


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


def _parse_int(name: str, raw: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name}: expected a value between {minimum} and {maximum}, got {value}")
    return value


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}: expected on/off (or true/false, 1/0), got {raw!r}")


def _parse_choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
    return value


def _parse_timezone(name: str, raw: str) -> str:
    try:
        ZoneInfo(raw.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: unknown time zone {raw!r} (use an IANA name like Europe/Berlin)") from None
    return raw.strip()


def _parse_currency(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ConfigError(f"{name}: expected a 3-letter ISO 4217 currency code, got {raw!r}")
    return value


def _parse_database_url(name: str, raw: str) -> str:
    value = raw.strip()
    if not (value.startswith("sqlite") or value.startswith("postgresql")):
        raise ConfigError(f"{name}: expected a sqlite:/// or postgresql+psycopg:// URL, got {_mask(value)!r}")
    if value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value[len("postgresql://"):]
    return value


def _parse_redis_url(name: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name}: expected a redis:// URL, got {_mask(value)!r}")
    return value


def _mask(url: str) -> str:
    """Hide the password part of a URL (user:password@host)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def default_database_url() -> str:
    return f"sqlite:///{INSTANCE_DIR / 'bi_app.sqlite'}"


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = field(default_factory=default_database_url)
    redis_url: str | None = None
    secret_key: str = ""
    cache_ttl: int = 300
    cache_dir: str = ""
    timezone: str = "UTC"
    currency: str = "EUR"
    refresh_ms: int = 5000
    scheduler: bool = True
    admin_password: str | None = None
    login_rate_limit: int = 5
    login_rate_window: int = 300
    host: str = "127.0.0.1"
    port: int = 8050
    debug: bool = False

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        parsers: dict[str, Callable[[str, str], Any]] = {
            "env": lambda n, v: _parse_choice(n, v, ENVIRONMENTS),
            "database_url": _parse_database_url,
            "redis_url": _parse_redis_url,
            "secret_key": lambda n, v: v,
            "cache_ttl": lambda n, v: _parse_int(n, v, 0, 7 * 24 * 3600),
            "cache_dir": lambda n, v: v.strip(),
            "timezone": _parse_timezone,
            "currency": _parse_currency,
            "refresh_ms": lambda n, v: _parse_int(n, v, 500, 3_600_000),
            "scheduler": _parse_bool,
            "admin_password": lambda n, v: v or None,
            "login_rate_limit": lambda n, v: _parse_int(n, v, 1, 1000),
            "login_rate_window": lambda n, v: _parse_int(n, v, 1, 86400),
            "host": lambda n, v: v.strip(),
            "port": lambda n, v: _parse_int(n, v, 1, 65535),
            "debug": _parse_bool,
        }
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f"BI_{f.name.upper()}"
            raw = env.get(name)
            if raw is not None:
                values[f.name] = parsers[f.name](name, raw)
        settings = cls(**values)
        if not settings.secret_key:
            if settings.env == "production":
                raise ConfigError(
                    "BI_SECRET_KEY: required when BI_ENV=production (every worker must share it; "
                    "generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
                )
            settings = replace(settings, secret_key=_development_secret())
        elif len(settings.secret_key) < 16:
            raise ConfigError("BI_SECRET_KEY: must be at least 16 characters long")
        return settings

    def masked(self) -> dict[str, Any]:
        """The effective settings with secrets hidden, for `bi-app config` and logs."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("secret_key", "admin_password") and value:
                value = "***"
            elif f.name in ("database_url", "redis_url") and value:
                value = _mask(value)
            out[f"BI_{f.name.upper()}"] = value
        return out


def _development_secret() -> str:
    """A stable per-checkout secret for development, so sessions survive restarts and all local
    workers agree. Production must set BI_SECRET_KEY."""
    path = INSTANCE_DIR / ".dev_secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        path.write_text(key)
        path.chmod(0o600)
        return key
