"""Reference data: the sales platforms and product categories the filters, charts and imports
name by code. Admins list them, add one and rename one (Admin → Reference data); every change is
audited and invalidates the data cache, so filters and charts show it at once.

Codes never change once created (URLs, saved links and filters carry them); only names do. The
code rule is the filters' own (see :data:`bi_app.importing.values.CODE_RE`). Like every service,
this module finds its own engine and raises errors whose message is safe to show.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bi_app.auth import audit
from bi_app.db.models import Category, SalesPlatform
from bi_app.errors import ServiceError, unavailable_on_database_error
from bi_app.importing import values

log = logging.getLogger(__name__)
MAX_NAME = 128  # the name columns' length
T = TypeVar("T")


class ReferenceDataError(ServiceError):
    """Refused input (a bad or duplicate code, an empty name); the message says what to fix."""


@dataclass(frozen=True)
class Kind:
    name: str  # platforms, categories
    label: str
    singular: str
    model: Any


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("platforms", "Sales platforms", "platform", SalesPlatform),
        Kind("categories", "Product categories", "category", Category),
    )
}


@dataclass(frozen=True)
class Change:
    """What an add or a rename did, and the kind's rows after it."""

    message: str
    rows: list[dict[str, str]]
    changed: bool = True


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def _kind(kind: Any) -> Kind:
    found = KINDS.get(kind) if isinstance(kind, str) else None
    if found is None:
        raise ReferenceDataError("Unknown kind of reference data.")
    return found


def clean_code(raw: Any) -> str:
    """A new code as it will be stored (lower-cased), or :class:`ReferenceDataError`."""
    if values.is_empty(raw):
        raise ReferenceDataError("Enter a code.")
    try:
        return str(values.parse_code(raw))
    except values.CellError:
        shown = values.shown(raw, 40)
        raise ReferenceDataError(
            f"The code {shown!r} is not valid: use {values.CODE_RULE}."
        ) from None


def clean_name(raw: Any) -> str:
    """A name as it will be stored (trimmed), or :class:`ReferenceDataError`."""
    if values.is_empty(raw):
        raise ReferenceDataError("Enter a name.")
    try:
        return str(values.parse_text(raw, max_length=MAX_NAME))
    except values.CellError as exc:
        raise ReferenceDataError(f"The name {exc}.") from None


def _rows(session: Session, kind: Kind) -> list[dict[str, str]]:
    model = kind.model
    query = select(model.code, model.name).order_by(model.code)
    return [{"code": code, "name": name} for code, name in session.execute(query)]


def _invalidate() -> None:
    """Names and codes show on every business page: every namespace goes stale."""
    from bi_app.data.cache import invalidate

    invalidate()


def _write(engine: Engine | None, work: Callable[[Session], T]) -> T:
    with Session(_engine(engine)) as session, session.begin():
        return work(session)


@unavailable_on_database_error("Reference data")
def list_all(engine: Engine | None = None) -> dict[str, list[dict[str, str]]]:
    """``{"platforms": [{"code", "name"}, ...], "categories": [...]}``, each by code."""
    with Session(_engine(engine)) as session:
        return {name: _rows(session, kind) for name, kind in KINDS.items()}


@unavailable_on_database_error("Reference data")
def name_of(kind: str, code: Any, engine: Engine | None = None) -> str | None:
    """The current name of one code (None when there is no such code)."""
    spec = _kind(kind)
    if not isinstance(code, str):
        return None
    with Session(_engine(engine)) as session:
        return session.scalar(select(spec.model.name).where(spec.model.code == code))


@unavailable_on_database_error("Saving reference data")
def add(
    kind: str, code: Any, name: Any, *, actor: Any = None, engine: Engine | None = None
) -> Change:
    """Add a platform or category; refuses a bad code, a code in use and an empty name."""
    spec = _kind(kind)
    new_code, new_name = clean_code(code), clean_name(name)

    def work(session: Session) -> Change:
        model = spec.model
        existing = session.scalar(select(model.name).where(model.code == new_code))
        if existing is not None:
            raise _duplicate(spec, new_code, existing)
        session.add(model(code=new_code, name=new_name))
        session.flush()
        audit(session, "reference.add", f"{spec.singular}:{new_code}", {"name": new_name}, actor)
        return Change(f"Added {spec.singular} {new_code} “{new_name}”.", _rows(session, spec))

    try:
        change = _write(engine, work)
    except IntegrityError:  # added by someone else between the check and the insert
        log.info("reference: %s %s added concurrently", spec.singular, new_code)
        raise _duplicate(spec, new_code, None) from None
    _invalidate()
    return change


@unavailable_on_database_error("Saving reference data")
def rename(
    kind: str, code: Any, name: Any, *, actor: Any = None, engine: Engine | None = None
) -> Change:
    """Give a platform or category a new name; its code stays."""
    spec = _kind(kind)
    if values.is_empty(code):
        raise ReferenceDataError(f"Choose the {spec.singular} to rename.")
    new_name = clean_name(name)

    def work(session: Session) -> Change:
        row = session.scalar(select(spec.model).where(spec.model.code == str(code)))
        if row is None:
            raise ReferenceDataError(
                f"There is no {spec.singular} with the code {values.shown(code, 40)!r}."
            )
        old = row.name
        if old == new_name:
            message = f"The {spec.singular} {row.code} is already named “{old}”; nothing changed."
            return Change(message, _rows(session, spec), changed=False)
        row.name = new_name
        session.flush()
        audit(
            session,
            "reference.rename",
            f"{spec.singular}:{row.code}",
            {"old": old, "new": new_name},
            actor,
        )
        message = f"Renamed {spec.singular} {row.code}: “{old}” → “{new_name}”."
        return Change(message, _rows(session, spec))

    change = _write(engine, work)
    if change.changed:
        _invalidate()
    return change


def _duplicate(spec: Kind, code: str, name: str | None) -> ReferenceDataError:
    named = f" (“{name}”)" if name else ""
    return ReferenceDataError(
        f"A {spec.singular} with the code {code!r} already exists{named}; rename it instead."
    )
