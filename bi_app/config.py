"""Settings read from ``BI_*`` environment variables through strict parsers.

Each field of :class:`Settings` carries its variable name and its parser (see :func:`setting`),
so adding a variable is one edit. An invalid value raises :class:`ConfigError` naming the
variable, so start-up stops with a message an operator can act on instead of a traceback deep
inside a library.

Files that ship with the app (pages, assets, migrations) are found through the imported
packages, so an installed wheel works as well as a source checkout; what the app writes (the
development secret, the default SQLite file) goes to the instance directory (``BI_INSTANCE_DIR``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PACKAGE_PARENT = Path(__file__).resolve().parent.parent
# A source checkout (editable install or `python -m` from the tree) has its pyproject.toml next
# to the packages; an installed wheel does not.
IS_CHECKOUT = (PACKAGE_PARENT / "pyproject.toml").is_file()
PROJECT_ROOT = (
    PACKAGE_PARENT  # the checkout (or site-packages when installed): prefer the *_dir helpers
)
ENVIRONMENTS = ("development", "production", "test")


def default_instance_dir() -> Path:
    """``instance/`` of the checkout (unchanged for ``make run``); once installed, flask's
    convention ``<sys.prefix>/var/bi_app-instance``. ``BI_INSTANCE_DIR`` overrides both."""
    if IS_CHECKOUT:
        return PACKAGE_PARENT / "instance"
    return Path(sys.prefix) / "var" / "bi_app-instance"


INSTANCE_DIR = default_instance_dir()


def _package_dir(package: str, marker: str) -> Path:
    """The folder of a top-level data package (pages, assets, migrations), found through the
    import system without importing it. ``marker`` picks the right portion when an unrelated
    folder of the same name (e.g. an ``assets/`` in the working directory) joins the namespace."""
    spec = importlib.util.find_spec(package)
    for location in (spec.submodule_search_locations or []) if spec else []:
        if (Path(location) / marker).exists():
            return Path(location).resolve()
    raise RuntimeError(
        f"bi-app is incomplete: package {package!r} with {marker} not found (reinstall bi-app)"
    )


def pages_dir() -> Path:
    return _package_dir("pages", "overview.py")


def assets_dir() -> Path:
    return _package_dir("assets", "app.js")


def migrations_dir() -> Path:
    return _package_dir("migrations", "env.py")


_dotenv_loaded = False


def load_dotenv_once() -> None:
    """Load ``.env`` into ``os.environ`` once per process, never overriding variables already set.
    Used by the CLI and the WSGI entry point. In a checkout ``.env`` is searched from the package
    folder upwards (so it is the checkout's, wherever the command runs); once installed, from the
    working directory upwards."""
    global _dotenv_loaded
    if _dotenv_loaded:
        return
    from dotenv import load_dotenv

    start = PACKAGE_PARENT / "bi_app" if IS_CHECKOUT else Path.cwd()
    for folder in (start, *start.parents):
        if (folder / ".env").is_file():
            load_dotenv(folder / ".env", override=False)
            break
    _dotenv_loaded = True


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


def _int_between(minimum: int, maximum: int) -> Callable[[str, str], int]:
    return lambda name, raw: _parse_int(name, raw, minimum, maximum)


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
        raise ConfigError(
            f"{name}: unknown time zone {raw!r} (use an IANA name like Europe/Berlin)"
        ) from None
    return raw.strip()


def _parse_locale(name: str, raw: str) -> str:
    from bi_app.i18n import LOCALES, parse_locale

    value = parse_locale(raw)
    if value is None:
        raise ConfigError(f"{name}: expected one of {', '.join(LOCALES)}, got {raw!r}")
    return value


def _parse_currency(name: str, raw: str) -> str:
    value = raw.strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ConfigError(f"{name}: expected a 3-letter ISO 4217 currency code, got {raw!r}")
    return value


def _parse_database_url(name: str, raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("sqlite", "postgresql")):
        raise ConfigError(
            f"{name}: expected a sqlite:/// or postgresql+psycopg:// URL, got {_mask(value)!r}"
        )
    if value.startswith("postgresql://"):
        value = "postgresql+psycopg://" + value[len("postgresql://") :]
    return value


def _parse_redis_url(name: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{name}: expected a redis:// URL, got {_mask(value)!r}")
    return value


def _parse_path(name: str, raw: str) -> str:
    value = raw.strip()
    if not value:
        raise ConfigError(f"{name}: expected a directory path, got an empty value")
    return str(Path(value).expanduser().resolve())


def _parse_metrics_token(name: str, raw: str) -> str | None:
    """Empty = no token; else at least 16 characters."""
    if not raw.strip():
        return None
    value = raw.strip()
    if len(value) < 16:
        raise ConfigError(f"{name}: must be at least 16 characters long")
    return value


def _parse_health_services(name: str, raw: str) -> tuple:
    from bi_app.monitoring.services import parse_services  # its errors name BI_HEALTH_SERVICES

    return parse_services(raw)


def _show_health_services(specs: tuple) -> str:
    """The services as JSON in the variable's own format, with each auth header's value hidden."""
    if not specs:
        return ""
    shown = []
    for s in specs:
        entry = {
            "name": s.name,
            "url": s.url,
            "expected_status": s.expected_status,
            "timeout": s.timeout_s,
        }
        if s.auth_header:
            entry["auth_header"] = f"{s.auth_header[0]}: ***"
        shown.append(entry)
    return json.dumps(shown)


def _parse_outbound_allow(name: str, raw: str) -> tuple[str, ...]:
    """Comma-separated CIDRs (``10.1.2.0/24``, ``127.0.0.1/32``) and host names
    (``payments.internal``) that outbound calls may reach although they are private."""
    import ipaddress
    import re

    items = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            items.append(str(ipaddress.ip_network(item, strict=False)))
            continue
        except ValueError:
            pass
        host = item.lower().rstrip(".")
        if not re.fullmatch(
            r"(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*"
            r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?",
            host,
        ):
            raise ConfigError(f"{name}: {item!r} is neither a CIDR nor a host name")
        items.append(host)
    return tuple(items)


def _mask(url: str) -> str:
    """Hide the password part of a URL (user:password@host)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def default_database_url(instance_dir: str | Path | None = None) -> str:
    return f"sqlite:///{Path(instance_dir or INSTANCE_DIR) / 'bi_app.sqlite'}"


def setting(
    env: str,
    parse: Callable[[str, str], Any],
    default: Any = None,
    *,
    default_factory: Callable[[], Any] | None = None,
    secret: bool = False,
    show: Callable[[Any], Any] | None = None,
) -> Any:
    """A Settings field read from the variable ``env`` through ``parse(env, raw)``.

    ``secret=True`` hides the value in :meth:`Settings.masked`; ``show`` turns a value into what
    ``masked()`` may print (e.g. a URL without its password). Neither kind is in ``repr()``."""
    metadata = {"env": env, "parse": parse, "secret": secret, "show": show}
    in_repr = not secret and show is None
    if default_factory is not None:
        return field(default_factory=default_factory, metadata=metadata, repr=in_repr)
    return field(default=default, metadata=metadata, repr=in_repr)


@dataclass(frozen=True)
class Settings:
    env: str = setting("BI_ENV", lambda n, v: _parse_choice(n, v, ENVIRONMENTS), "development")
    database_url: str = setting(
        "BI_DATABASE_URL", _parse_database_url, default_factory=default_database_url, show=_mask
    )
    redis_url: str | None = setting("BI_REDIS_URL", _parse_redis_url, show=_mask)
    secret_key: str = setting("BI_SECRET_KEY", lambda n, v: v, "", secret=True)
    cache_ttl: int = setting("BI_CACHE_TTL", _int_between(0, 7 * 24 * 3600), 300)
    cache_dir: str = setting("BI_CACHE_DIR", lambda n, v: v.strip(), "")
    timezone: str = setting("BI_TIMEZONE", _parse_timezone, "UTC")
    currency: str = setting("BI_CURRENCY", _parse_currency, "EUR")
    locale: str = setting("BI_LOCALE", _parse_locale, "en")
    refresh_ms: int = setting("BI_REFRESH_MS", _int_between(500, 3_600_000), 5000)
    scheduler: bool = setting("BI_SCHEDULER", _parse_bool, True)
    admin_password: str | None = setting("BI_ADMIN_PASSWORD", lambda n, v: v or None, secret=True)
    login_rate_limit: int = setting("BI_LOGIN_RATE_LIMIT", _int_between(1, 1000), 5)
    login_rate_window: int = setting("BI_LOGIN_RATE_WINDOW", _int_between(1, 86400), 300)
    # failed sign-ins allowed per client address, across all user names, per window
    login_address_limit: int = setting("BI_LOGIN_ADDRESS_LIMIT", _int_between(1, 10000), 20)
    host: str = setting("BI_HOST", lambda n, v: v.strip(), "127.0.0.1")
    port: int = setting("BI_PORT", _int_between(1, 65535), 8050)
    debug: bool = setting("BI_DEBUG", _parse_bool, False)
    # where the app writes: the development secret, the default SQLite file
    instance_dir: str = setting(
        "BI_INSTANCE_DIR", _parse_path, default_factory=lambda: str(INSTANCE_DIR)
    )
    # JSON list of external HTTP services to health-check (see bi_app.monitoring.services)
    health_services: tuple = setting(
        "BI_HEALTH_SERVICES", _parse_health_services, (), show=_show_health_services
    )
    # bearer token that opens /metrics without a session
    metrics_token: str | None = setting("BI_METRICS_TOKEN", _parse_metrics_token, secret=True)
    # private/loopback networks and hosts that outbound calls may reach (bi_app.outbound)
    outbound_allow: tuple = setting("BI_OUTBOUND_ALLOW", _parse_outbound_allow, ())
    # reverse proxies in front of the app whose X-Forwarded-For is trusted (0: none)
    proxy_hops: int = setting("BI_PROXY_HOPS", _int_between(0, 5), 0)
    # a session ends this many seconds after sign-in, or after this many idle seconds
    session_lifetime: int = setting("BI_SESSION_LIFETIME", _int_between(300, 30 * 86400), 43200)
    session_idle_timeout: int = setting("BI_SESSION_IDLE_TIMEOUT", _int_between(60, 86400), 7200)
    # a session this worker verified within this many seconds is not read again (0: every
    # request); a sign-out on another worker takes effect within it
    session_recheck: int = setting("BI_SESSION_RECHECK", _int_between(0, 60), 5)
    # Fernet key (urlsafe base64, 32 bytes) for secrets stored in the database; derived from
    # BI_SECRET_KEY when unset
    encryption_key: str | None = setting(
        "BI_ENCRYPTION_KEY", lambda n, v: v.strip() or None, secret=True
    )
    # request body limits: every request, and every Dash callback except the import upload
    max_request_mb: int = setting("BI_MAX_REQUEST_MB", _int_between(1, 1024), 48)
    max_callback_kb: int = setting("BI_MAX_CALLBACK_KB", _int_between(16, 65536), 1024)
    # PostgreSQL statement_timeout of every statement run while serving a web request (0: none);
    # below gunicorn's worker timeout, so a runaway query ends as a readable message, not as a
    # killed worker. Jobs, the CLI and migrations are not limited.
    statement_timeout_s: int = setting("BI_STATEMENT_TIMEOUT_S", _int_between(0, 3600), 25)
    # how many days after now an imported date may lie (planned orders, clocks and time zones);
    # later dates are row errors. At most a century: beyond that they are typos.
    import_future_days: int = setting("BI_IMPORT_FUTURE_DAYS", _int_between(0, 36_500), 1)
    # the mapping file `bi-app sync` reads; the scheduled sync job runs it every 15 minutes
    sync_file: str = setting("BI_SYNC_FILE", lambda n, v: v.strip(), "")
    # the alert center (bi_app.alerts): how often rules are evaluated and the outbox dispatched
    # (retries; a pass's new notifications go out as the pass ends), how long firing alerts of
    # one rule wait for others to go out as one message (0: those of the same pass), and how
    # often a notification is tried before it counts as failed
    alert_eval_seconds: int = setting("BI_ALERT_EVAL_SECONDS", _int_between(10, 3600), 60)
    alert_dispatch_seconds: int = setting("BI_ALERT_DISPATCH_SECONDS", _int_between(1, 600), 5)
    alert_group_seconds: int = setting("BI_ALERT_GROUP_SECONDS", _int_between(0, 600), 0)
    alert_max_attempts: int = setting("BI_ALERT_MAX_ATTEMPTS", _int_between(1, 50), 8)
    # bearer token of POST /api/alerts/alertmanager (unset: the receiver is off)
    alertmanager_token: str | None = setting(
        "BI_ALERTMANAGER_TOKEN", _parse_metrics_token, secret=True
    )
    # the app's address as people reach it, for links in notifications ("" : no links)
    public_url: str = setting("BI_PUBLIC_URL", lambda n, v: v.strip().rstrip("/"), "")
    # a directory shared by every worker for generated reports' files ("": in the database)
    report_dir: str = setting("BI_REPORT_DIR", lambda n, v: v.strip(), "")
    # a transaction of at least this amount (major units of BI_CURRENCY) is flagged as large
    large_transaction: int = setting("BI_LARGE_TRANSACTION", _int_between(1, 10**15), 10_000)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = env.get(name)
            if raw is not None:
                values[f.name] = f.metadata["parse"](name, raw)
        if "instance_dir" in values and "database_url" not in values:
            values["database_url"] = default_database_url(values["instance_dir"])
        settings = cls(**values)
        if settings.env == "production" and settings.debug:
            raise ConfigError(
                "BI_DEBUG: must be off when BI_ENV=production (debug mode serves tracebacks and "
                "development tools to anyone who can reach the app)"
            )
        if not settings.secret_key:
            if settings.env == "production":
                raise ConfigError(
                    "BI_SECRET_KEY: required when BI_ENV=production (every worker must share it; "
                    "generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
                )
            settings = replace(
                settings, secret_key=_development_secret(Path(settings.instance_dir))
            )
        elif len(settings.secret_key) < 16:
            raise ConfigError("BI_SECRET_KEY: must be at least 16 characters long")
        return settings

    def masked(self) -> dict[str, Any]:
        """The effective settings with secrets hidden, for `bi-app config` and logs."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value and f.metadata["secret"]:
                value = "***"
            elif value is not None and f.metadata["show"] is not None:
                value = f.metadata["show"](value)
            out[f.metadata["env"]] = value
        return out


def _development_secret(instance_dir: Path = INSTANCE_DIR) -> str:
    """A stable per-instance secret for development, so sessions survive restarts and all local
    workers agree. Production must set BI_SECRET_KEY."""
    path = instance_dir / ".dev_secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance_dir.mkdir(parents=True, exist_ok=True)
    # Written whole, readable by the owner only, to a private temporary file, then linked into
    # place: link() fails if another worker got there first, and then everyone reads theirs.
    fd, tmp = tempfile.mkstemp(dir=instance_dir, prefix=".dev_secret_key.")  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()
