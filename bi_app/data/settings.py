"""The business-settings store: the values an admin changed, read (cached) and saved (audited).

The schema (keys, defaults, validation, text forms) is :mod:`bi_app.business_settings`, pure. A
save invalidates every cache namespace, because figures on every business page depend on these
values. Like every data-layer service, this module finds its own engine.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from bi_app.auth import audit, current_username
from bi_app.business_settings import (
    SPECS,
    SettingError,
    check_consistency,
    defaults,
    format_text,
    spec,
    validate,
)
from bi_app.data._common import engine
from bi_app.data.cache import cached, invalidate
from bi_app.db.analytics_models import BusinessSetting
from bi_app.db.models import utcnow
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_

log = logging.getLogger(__name__)

NAMESPACE = "business_settings"


_ROWS = select(
    BusinessSetting.key,
    BusinessSetting.value,
    BusinessSetting.updated_at,
    BusinessSetting.updated_by,
)


def _rows(conn: Connection) -> dict[str, dict[str, Any]]:
    return {
        key: {"value": value, "updated_at": at, "updated_by": by}
        for key, value, at, by in conn.execute(_ROWS)
    }


@cached(NAMESPACE)
def _stored() -> dict[str, dict[str, Any]]:
    """Rows of the table as ``{key: {"value", "updated_at", "updated_by"}}``."""
    with engine().connect() as conn:
        return _rows(conn)


def _effective(stored: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    values = defaults()
    for key, row in stored.items():
        if key not in SPECS:
            continue
        try:
            values[key] = validate(key, row["value"])
        except SettingError as exc:
            log.error("business setting %s: stored value ignored, using the default: %s", key, exc)
    return values


def all_settings() -> dict[str, Any]:
    """Every key's effective value: the stored one when it is still valid, else the default
    (a stored value that no longer validates is logged and ignored, never shown as data)."""
    return _effective(_stored())


def settings_in(conn: Connection) -> dict[str, Any]:
    """:func:`all_settings` read through ``conn``, uncached: for work on an engine of its own
    (the customer recompute of an import or a job)."""
    return _effective(_rows(conn))


def get(key: str) -> Any:
    """The effective value of one key."""
    spec(key)
    return all_settings()[key]


@unavailable_on_database_error(N_("Settings"))
def describe() -> list[dict[str, Any]]:
    """One row per key for the Admin → Settings page, in :data:`SPECS` order."""
    stored, values = _stored(), all_settings()
    rows = []
    for key, s in SPECS.items():
        row = stored.get(key, {})
        rows.append(
            {
                "key": key,
                "label": s.label,
                "help": s.help,
                "kind": s.kind,
                "value": values[key],
                "text": format_text(key, values[key]),
                "default_text": format_text(key, s.default),
                "is_default": key not in stored,
                "updated_at": row.get("updated_at"),
                "updated_by": row.get("updated_by"),
            }
        )
    return rows


@unavailable_on_database_error(N_("Saving settings"))
def save(
    changes: Mapping[str, Any], actor: Any = None, now: Callable[[], dt.datetime] = utcnow
) -> dict[str, Any]:
    """Validate every change (alone and together with the other keys), store, audit, commit and
    invalidate the data cache. Returns the changed keys with their new values; nothing is written
    when any value is refused (:class:`SettingError`)."""
    validated = {key: validate(key, value) for key, value in changes.items()}
    with Session(engine()) as session:
        stored = {row.key: row for row in session.scalars(select(BusinessSetting))}
        current = defaults()
        for key, row in stored.items():
            if key in SPECS:
                try:
                    current[key] = validate(key, row.value)
                except SettingError:
                    pass  # a corrupt stored value counts as the default, as all_settings() reads it
        check_consistency({**current, **validated})
        changed = {k: v for k, v in validated.items() if v != current[k] or k not in stored}
        if not changed:
            return {}
        username = _actor_name(actor)
        for key, value in changed.items():
            row = stored.get(key)
            if row is None:
                session.add(
                    BusinessSetting(key=key, value=value, updated_at=now(), updated_by=username)
                )
            else:
                row.value, row.updated_at, row.updated_by = value, now(), username
            audit(
                session,
                "business_setting.set",
                key,
                {"old": current[key], "new": value},
                actor=actor,
            )
        session.commit()
    invalidate()  # every namespace: segment and event figures depend on these values
    return changed


def save_one(key: str, value: Any, actor: Any = None) -> Any:
    """Change one key (see :func:`save`); returns its validated value."""
    changed = save({key: value}, actor)
    return changed.get(key, validate(key, value))


def _actor_name(actor: Any) -> str | None:
    if actor is None:
        return current_username()
    return getattr(actor, "username", None) or str(actor)[:64]
