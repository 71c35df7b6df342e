"""External HTTP services watched by the health checks: from ``BI_HEALTH_SERVICES`` and from the
admin-managed ``monitored_services`` table.

``BI_HEALTH_SERVICES`` is a JSON list, e.g.::

    [{"name": "payments", "url": "https://pay.example/health", "expected_status": 200,
      "timeout": 5, "auth_header": "Authorization: Bearer <token>"}]

Only ``name`` and ``url`` are required. Table rows never hold a credential: their ``auth_env``
names an environment variable holding ``Header-Name: value``. Only names with the prefix
``BI_SECRET_`` are ever read (:func:`auth_env_allowed`): an admin must not be able to send any
other variable of the process (database or Redis URLs, keys) to a URL of their choosing, nor
learn whether it is set.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bi_app.config import ConfigError, Settings
from bi_app.db.monitoring_models import MonitoredService
from bi_app.i18n import N_, _
from bi_app.outbound import url_shape_error

ENV_VAR = "BI_HEALTH_SERVICES"
DEFAULT_TIMEOUT_S = 5.0
MAX_TIMEOUT_S = 20.0  # stays inside the 25 s timeout of the health_checks job
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_HEADER_RE = re.compile(r"^([A-Za-z0-9-]{1,64}):\s*(.+)$")
_KEYS = {"name", "url", "expected_status", "timeout", "auth_header"}
AUTH_ENV_PREFIX = "BI_SECRET_"
AUTH_ENV_RE = re.compile(r"^BI_SECRET_[A-Z0-9_]{1,100}$")
AUTH_ENV_NOT_ALLOWED = N_("not allowed: rename to BI_SECRET_…")


# the app's own settings are never a service's header, prefix or not (BI_SECRET_KEY)
_APP_VARIABLES = frozenset(f.metadata["env"] for f in fields(Settings))


def auth_env_allowed(name: str | None) -> bool:
    """Whether ``name`` may be read as a service's auth header: the BI_SECRET_ prefix, and not
    one of the app's own settings."""
    return (
        isinstance(name, str)
        and AUTH_ENV_RE.fullmatch(name) is not None
        and name not in _APP_VARIABLES
    )


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    url: str
    expected_status: int = 200
    timeout_s: float = DEFAULT_TIMEOUT_S
    auth_header: tuple[str, str] | None = field(default=None, repr=False)

    @property
    def check_name(self) -> str:
        return f"service:{self.name}"


# what validate_service() says about a field: English in the ConfigError (configuration is
# read at start-up, in no one's language), translated by field_message() where a form shows it
NAME_INVALID = N_("name must be lowercase letters, digits, '_', '-', '.', got %(value)s")
URL_NOT_HTTP = N_("url must be an http:// or https:// URL, got %(value)s")
URL_PROBLEMS = {
    "is not valid": N_("url is not valid"),
    "must not contain a user name or password (send credentials in an auth header)": N_(
        "url must not contain a user name or password (send credentials in an auth header)"
    ),
    "has an invalid port": N_("url has an invalid port"),
}
EXPECTED_INVALID = N_("expected_status must be an HTTP status code, got %(value)s")
TIMEOUT_INVALID = N_("timeout must be seconds in (0, %(max)s], got %(value)s")
AUTH_HEADER_INVALID = N_("auth_header must look like 'Header-Name: value'")


def _fail(where: str, message: str, **values: Any) -> ConfigError:
    """A ConfigError naming the variable and ``where``; it keeps ``message`` (a template) and
    ``values`` for :func:`field_message`."""
    exc = ConfigError(f"{ENV_VAR}: {where}: {message % values if values else message}")
    exc.bi_message = (message, values)  # type: ignore[attr-defined]
    return exc


def field_message(exc: ConfigError) -> str | None:
    """What :func:`validate_service` refused, without the variable and place, in the current
    locale; None for an error it did not raise."""
    template = getattr(exc, "bi_message", None)
    if template is None:
        return None
    message, values = template
    return _(message, **values) if values else _(message)


def validate_service(
    where: str, name: Any, url: Any, expected: Any, timeout: Any, auth: Any
) -> ServiceSpec:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _fail(where, NAME_INVALID, value=repr(name))
    if not isinstance(url, str) or (problem := url_shape_error(url)) == "scheme":
        raise _fail(where, URL_NOT_HTTP, value=repr(url))
    if problem is not None:
        if problem in URL_PROBLEMS:
            raise _fail(where, URL_PROBLEMS[problem])
        raise ConfigError(f"{ENV_VAR}: {where}: url {problem}")
    if isinstance(expected, bool) or not isinstance(expected, int) or not 100 <= expected <= 599:
        raise _fail(where, EXPECTED_INVALID, value=repr(expected))
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not 0 < timeout <= MAX_TIMEOUT_S
    ):
        raise _fail(where, TIMEOUT_INVALID, max=format(MAX_TIMEOUT_S, "g"), value=repr(timeout))
    header = None
    if auth is not None:
        match = _HEADER_RE.match(auth) if isinstance(auth, str) else None
        if not match:
            raise _fail(where, AUTH_HEADER_INVALID)
        header = (match.group(1), match.group(2).strip())
    return ServiceSpec(name, url, expected, float(timeout), header)


def parse_services(raw: str | None) -> tuple[ServiceSpec, ...]:
    """Strictly parse the ``BI_HEALTH_SERVICES`` JSON; errors name the variable and the entry."""
    if raw is None or not raw.strip():
        return ()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{ENV_VAR}: not valid JSON ({exc.msg} at position {exc.pos})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{ENV_VAR}: expected a JSON list of services")
    specs: list[ServiceSpec] = []
    for i, item in enumerate(data):
        where = f"entry {i}"
        if not isinstance(item, dict):
            raise _fail(where, "expected an object with name and url")
        unknown = set(item) - _KEYS
        if unknown:
            raise _fail(where, f"unknown key(s) {', '.join(sorted(unknown))}")
        specs.append(
            validate_service(
                where,
                item.get("name"),
                item.get("url"),
                item.get("expected_status", 200),
                item.get("timeout", DEFAULT_TIMEOUT_S),
                item.get("auth_header"),
            )
        )
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{ENV_VAR}: duplicate service name(s) {', '.join(duplicates)}")
    return tuple(specs)


def settings_services(settings: Any) -> tuple[ServiceSpec, ...]:
    """The services of ``BI_HEALTH_SERVICES``, parsed into ``settings.health_services``."""
    return tuple(settings.health_services)


def table_services(
    engine: Engine, environ: Mapping[str, str] | None = None
) -> tuple[ServiceSpec, ...]:
    """Enabled services from ``monitored_services``; a row with a bad
    auth_env is reported by name."""
    env = os.environ if environ is None else environ
    with Session(engine) as session:
        rows = session.scalars(
            select(MonitoredService)
            .where(MonitoredService.enabled.is_(True))
            .order_by(MonitoredService.name)
        ).all()
    specs = []
    for row in rows:
        if row.auth_env and not auth_env_allowed(row.auth_env):
            raise ConfigError(
                f"monitored service {row.name}: auth_env {row.auth_env} is {AUTH_ENV_NOT_ALLOWED}"
            )
        auth = env.get(row.auth_env) if row.auth_env else None
        if row.auth_env and auth is None:
            raise ConfigError(
                f"monitored service {row.name}: environment variable {row.auth_env} is not set"
            )
        specs.append(
            validate_service(
                f"monitored service {row.name}",
                row.name,
                row.url,
                row.expected_status,
                row.timeout_s,
                auth,
            )
        )
    return tuple(specs)


def add_service(
    session: Session,
    name: str,
    url: str,
    expected_status: int = 200,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    auth_env: str | None = None,
) -> MonitoredService:
    """Validate and add a monitored service (for the admin UI and CLI); the caller commits."""
    validate_service("new service", name, url, expected_status, timeout_s, None)
    if auth_env is not None and not auth_env_allowed(auth_env):
        raise ValueError(
            f"auth_env must be the name of an environment variable starting with "
            f"{AUTH_ENV_PREFIX}, got {auth_env!r}"
        )
    row = MonitoredService(
        name=name,
        url=url,
        expected_status=expected_status,
        timeout_s=timeout_s,
        auth_env=auth_env,
        enabled=True,
    )
    session.add(row)
    return row
