"""Admin → Integrations, monitored HTTP services: the ``monitored_services`` rows next to the
``BI_HEALTH_SERVICES`` ones, their form, CRUD (audited) and "Check now".

A service names the environment variable holding its auth header; only names with the
``BI_SECRET_`` prefix are accepted, read, or reported as set or unset (a row stored earlier with
another name shows "not allowed" and is never read). A change drops this process's last health
report (the next run reads the table again).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bi_app import outbound
from bi_app.auth import audit
from bi_app.config import ConfigError, Settings
from bi_app.db.monitoring_models import MonitoredService
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _
from bi_app.integrations._common import (
    IntegrationError,
    NotFound,
    as_float,
    clean_text,
    engine_or_app,
    settings_or_app,
)
from bi_app.monitoring import health, rules
from bi_app.monitoring import services as monitored

log = logging.getLogger(__name__)

MIN_SERVICE_TIMEOUT_S = 0.5
MAX_SERVICE_TIMEOUT_S = monitored.MAX_TIMEOUT_S
AUTH_ENV_RE = monitored.AUTH_ENV_RE  # the rule add_service() and table_services() apply
SERVICE_EXISTS = N_("a service named %(name)s already exists")


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
    auth_env_set: bool | None = None  # None: no variable named, or a name not allowed
    auth_env_allowed: bool = True  # False: a name without the BI_SECRET_ prefix (never read)
    auth_in_settings: bool = False  # a settings service carries its header inline

    @property
    def read_only(self) -> bool:
        return self.source == "settings"


_BASELINE = {"name": "probe", "url": "http://127.0.0.1/", "expected": 200, "timeout": 5.0}


def build_service_spec(
    where: str, name: Any, url: Any, expected_status: Any, timeout_s: Any, auth_header: str | None
) -> monitored.ServiceSpec:
    """The health services' own validator; raises ConfigError naming ``where``."""
    return monitored.validate_service(where, name, url, expected_status, timeout_s, auth_header)


def service_field_error(**field: Any) -> str | None:
    """The health-services validator's message for one field (name, url, expected or timeout),
    checked with every other field at a valid value; None when the field is acceptable. A URL
    is also checked against the outbound policy (its host resolved)."""
    values = {**_BASELINE, **field}
    prefix = f"{monitored.ENV_VAR}: form: "
    try:
        build_service_spec(
            "form", values["name"], values["url"], values["expected"], values["timeout"], None
        )
    except ConfigError as exc:
        return monitored.field_message(exc) or str(exc).removeprefix(prefix)
    if "url" in field:
        return outbound.refusal(values["url"])
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


def parse_service_form(raw: Mapping[str, Any]) -> ServiceInput:
    """Validate the add/edit form (keys: name, url, expected_status, timeout_s, auth_env);
    raises :class:`IntegrationError` with a message for every refused field."""
    errors: dict[str, str] = {}
    name, url, auth_env = (
        clean_text(raw.get("name")),
        clean_text(raw.get("url")),
        clean_text(raw.get("auth_env")) or None,
    )
    if (message := service_field_error(name=name)) is not None:
        errors["name"] = message
    if (message := service_field_error(url=url)) is not None:
        errors["url"] = message
    status = _as_int(raw.get("expected_status"))
    if status is None:
        errors["expected_status"] = _("expected status must be a whole number, e.g. 200")
    elif (message := service_field_error(expected=status)) is not None:
        errors["expected_status"] = _("%(problem)s (100–599)", problem=message)
    timeout = as_float(raw.get("timeout_s"))
    if timeout is None or not MIN_SERVICE_TIMEOUT_S <= timeout <= MAX_SERVICE_TIMEOUT_S:
        errors["timeout_s"] = _(
            "timeout must be between %(min)s and %(max)s seconds",
            min=format(MIN_SERVICE_TIMEOUT_S, "g"),
            max=format(MAX_SERVICE_TIMEOUT_S, "g"),
        )
    elif (message := service_field_error(timeout=timeout)) is not None:
        errors["timeout_s"] = message
    if auth_env is not None and not monitored.auth_env_allowed(auth_env):
        errors["auth_env"] = _(
            "must be the NAME of an environment variable starting with BI_SECRET_ (then capital "
            "letters, digits, _), e.g. BI_SECRET_PAYMENTS_AUTH — never the header itself"
        )
    if errors:
        raise IntegrationError(errors)
    return ServiceInput(name, url, status, float(timeout), auth_env)  # type: ignore[arg-type]


@unavailable_on_database_error(N_("The list of monitored services"))
def list_services(
    environ: Mapping[str, str] | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> list[ServiceRow]:
    """Settings services (read-only) first, then every admin row, enabled or not."""
    engine, settings = engine_or_app(engine), settings_or_app(settings)
    env = os.environ if environ is None else environ
    rows = [
        ServiceRow(
            s.name,
            s.url,
            s.expected_status,
            s.timeout_s,
            "settings",
            True,
            auth_in_settings=s.auth_header is not None,
        )
        for s in monitored.settings_services(settings)
    ]
    with Session(engine) as session:
        for r in session.scalars(select(MonitoredService).order_by(MonitoredService.name)):
            rows.append(
                ServiceRow(
                    r.name,
                    r.url,
                    r.expected_status,
                    r.timeout_s,
                    "admin",
                    bool(r.enabled),
                    r.id,
                    r.auth_env,
                    _env_is_set(env, r.auth_env),
                    not r.auth_env or monitored.auth_env_allowed(r.auth_env),
                )
            )
    return rows


def _env_is_set(env: Mapping[str, str], name: str | None) -> bool | None:
    """Whether an allowed variable is set; None for no name or a name that is never looked up
    (the listing must not tell whether any other variable of the process exists)."""
    if not name or not monitored.auth_env_allowed(name):
        return None
    return name in env


def _settings_names(settings: Any) -> set[str]:
    return {s.name for s in monitored.settings_services(settings)}


def _check_name_free(
    session: Session, settings: Any, name: str, service_id: int | None = None
) -> None:
    if name in _settings_names(settings):
        raise IntegrationError(
            {
                "name": _(
                    "%(name)s is configured in settings (BI_HEALTH_SERVICES); pick another name",
                    name=name,
                )
            }
        )
    clash = session.scalar(select(MonitoredService.id).where(MonitoredService.name == name))
    if clash is not None and clash != service_id:
        raise IntegrationError({"name": _(SERVICE_EXISTS, name=name)})


def _service_detail(row: MonitoredService) -> dict[str, Any]:
    return {
        "name": row.name,
        "url": row.url,
        "expected_status": row.expected_status,
        "timeout_s": row.timeout_s,
        "auth_env": row.auth_env,
        "enabled": bool(row.enabled),
    }


def _commit(session: Session, name: str) -> None:
    try:
        session.commit()
    except IntegrityError:  # another admin saved the same name a moment ago
        session.rollback()
        raise IntegrationError({"name": _(SERVICE_EXISTS, name=name)}) from None


def create_service(
    form: ServiceInput,
    actor: str | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> int:
    """Add an admin-managed service (audited); returns its id."""
    engine, settings = engine_or_app(engine), settings_or_app(settings)
    with Session(engine) as session:
        _check_name_free(session, settings, form.name)
        row = monitored.add_service(
            session, form.name, form.url, form.expected_status, form.timeout_s, form.auth_env
        )
        session.flush()
        audit(session, "integration.service.create", form.name, _service_detail(row), actor=actor)
        _commit(session, form.name)
        service_id = row.id
    health.forget()
    return service_id


def _admin_row(session: Session, service_id: int) -> MonitoredService:
    row = session.get(MonitoredService, service_id)
    if row is None:
        raise NotFound(_("monitored service %(id)s does not exist", id=service_id))
    return row


def update_service(
    service_id: int,
    form: ServiceInput,
    actor: str | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> None:
    """Replace an admin service's fields (audited with the old and new values)."""
    engine, settings = engine_or_app(engine), settings_or_app(settings)
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


def set_service_enabled(
    service_id: int, enabled: bool, actor: str | None = None, *, engine: Engine | None = None
) -> str:
    """Enable or disable an admin service (audited); returns its name."""
    engine = engine_or_app(engine)
    with Session(engine) as session:
        row = _admin_row(session, service_id)
        row.enabled = bool(enabled)
        name = row.name
        audit(
            session,
            "integration.service.enable" if enabled else "integration.service.disable",
            name,
            None,
            actor=actor,
        )
        session.commit()
    health.forget()
    return name


def toggle_service(
    service_id: int, actor: str | None = None, *, engine: Engine | None = None
) -> tuple[str, bool]:
    """Flip an admin service between enabled and disabled; returns its name and new state."""
    engine = engine_or_app(engine)
    with Session(engine) as session:
        enabled = not _admin_row(session, service_id).enabled
    return set_service_enabled(service_id, enabled, actor, engine=engine), enabled


def delete_service(
    service_id: int, actor: str | None = None, *, engine: Engine | None = None
) -> str:
    """Remove an admin service (audited with what it was); returns its name."""
    engine = engine_or_app(engine)
    with Session(engine) as session:
        row = _admin_row(session, service_id)
        name, detail = row.name, _service_detail(row)
        session.delete(row)
        audit(session, "integration.service.delete", name, detail, actor=actor)
        session.commit()
    health.forget()
    return name


def service_name(service_id: int, *, engine: Engine | None = None) -> str:
    engine = engine_or_app(engine)
    with Session(engine) as session:
        return _admin_row(session, service_id).name


def check_service(
    name: str,
    environ: Mapping[str, str] | None = None,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
) -> health.CheckResult:
    """Run the health module's HTTP check for one service now (disabled ones too), with the
    health job's deadline; nothing is stored and the health report is left as it is."""
    engine, settings = engine_or_app(engine), settings_or_app(settings)
    env = os.environ if environ is None else environ
    spec = next((s for s in monitored.settings_services(settings) if s.name == name), None)
    if spec is None:
        with Session(engine) as session:
            row = session.scalar(select(MonitoredService).where(MonitoredService.name == name))
        if row is None:
            raise NotFound(_("no monitored service named %(name)s", name=name))
        check_name = f"service:{row.name}"
        if row.auth_env and not monitored.auth_env_allowed(row.auth_env):
            return health.CheckResult(
                check_name,
                rules.UNHEALTHY,
                None,
                {"url": row.url},
                _("auth_env %(name)s is not allowed: rename to BI_SECRET_…", name=row.auth_env),
            )
        auth = env.get(row.auth_env) if row.auth_env else None
        if row.auth_env and auth is None:
            return health.CheckResult(
                check_name,
                rules.UNHEALTHY,
                None,
                {"url": row.url},
                _(
                    "environment variable %(name)s is not set in this process",
                    name=row.auth_env,
                ),
            )
        try:
            spec = build_service_spec(
                f"monitored service {row.name}",
                row.name,
                row.url,
                row.expected_status,
                row.timeout_s,
                auth,
            )
        except ConfigError as exc:
            return health.CheckResult(check_name, rules.UNHEALTHY, None, {"url": row.url}, str(exc))
    policy = outbound.OutboundPolicy.from_settings(settings)
    planned = health.PlannedCheck(
        spec.check_name, lambda: health.check_http(spec, policy=policy), spec.timeout_s + 0.5
    )
    result = health.run_parallel([planned])[0]
    return dataclasses.replace(result, error=rules.localized_reason(result.error))
