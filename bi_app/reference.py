"""Reference data: the sales platforms and product categories the filters, charts and imports
name by code. Admins list them, add one and rename one (Admin → Reference data); every change is
audited and invalidates the data cache, so filters and charts show it at once.

Codes never change once created (URLs, saved links and filters carry them); only names do. The
code rule is the filters' own (see :data:`bi_app.importing.values.CODE_RE`). Like every service,
this module finds its own engine and raises errors whose message is safe to show, in the
request's locale.
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
from bi_app.i18n import N_, _
from bi_app.importing import values

log = logging.getLogger(__name__)
MAX_NAME = 128  # the name columns' length
T = TypeVar("T")


class ReferenceDataError(ServiceError):
    """Refused input (a bad or duplicate code, an empty name); the message says what to fix."""


@dataclass(frozen=True)
class Messages:
    """What a change of one kind tells the admin: whole sentences, N_()-marked per kind (the
    noun's form and place differ by language), translated with ``_()`` when shown."""

    added: str  # %(code)s, %(name)s
    renamed: str  # %(code)s, %(old)s, %(new)s
    unchanged: str  # %(code)s, %(name)s
    choose: str
    no_such: str  # %(code)s
    duplicate: str  # %(code)s
    duplicate_named: str  # %(code)s, %(name)s


@dataclass(frozen=True)
class Kind:
    name: str  # platforms, categories
    label: str
    singular: str  # in audit targets and logs
    model: Any
    messages: Messages


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "platforms",
            N_("Sales platforms"),
            "platform",
            SalesPlatform,
            Messages(
                added=N_("Added platform %(code)s “%(name)s”."),
                renamed=N_("Renamed platform %(code)s: “%(old)s” → “%(new)s”."),
                unchanged=N_("The platform %(code)s is already named “%(name)s”; nothing changed."),
                choose=N_("Choose the platform to rename."),
                no_such=N_("There is no platform with the code %(code)s."),
                duplicate=N_(
                    "A platform with the code %(code)s already exists; rename it instead."
                ),
                duplicate_named=N_(
                    "A platform with the code %(code)s already exists (“%(name)s”); rename it "
                    "instead."
                ),
            ),
        ),
        Kind(
            "categories",
            N_("Product categories"),
            "category",
            Category,
            Messages(
                added=N_("Added category %(code)s “%(name)s”."),
                renamed=N_("Renamed category %(code)s: “%(old)s” → “%(new)s”."),
                unchanged=N_("The category %(code)s is already named “%(name)s”; nothing changed."),
                choose=N_("Choose the category to rename."),
                no_such=N_("There is no category with the code %(code)s."),
                duplicate=N_(
                    "A category with the code %(code)s already exists; rename it instead."
                ),
                duplicate_named=N_(
                    "A category with the code %(code)s already exists (“%(name)s”); rename it "
                    "instead."
                ),
            ),
        ),
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
        raise ReferenceDataError(_("Unknown kind of reference data."))
    return found


def clean_code(raw: Any) -> str:
    """A new code as it will be stored (lower-cased), or :class:`ReferenceDataError`."""
    if values.is_empty(raw):
        raise ReferenceDataError(_("Enter a code."))
    try:
        return str(values.parse_code(raw))
    except values.CellError:
        shown = values.shown(raw, 40)
        raise ReferenceDataError(
            _(
                "The code %(code)s is not valid: use %(rule)s.",
                code=repr(shown),
                rule=_(values.CODE_RULE),
            )
        ) from None


def clean_name(raw: Any) -> str:
    """A name as it will be stored (trimmed), or :class:`ReferenceDataError`."""
    if values.is_empty(raw):
        raise ReferenceDataError(_("Enter a name."))
    try:
        return str(values.parse_text(raw, max_length=MAX_NAME))
    except values.CellError as exc:
        # the cell's problem ("is 129 characters long; ...") said of the name
        raise ReferenceDataError(_("The name %(problem)s.", problem=exc)) from None


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


@unavailable_on_database_error(N_("Reference data"))
def list_all(engine: Engine | None = None) -> dict[str, list[dict[str, str]]]:
    """``{"platforms": [{"code", "name"}, ...], "categories": [...]}``, each by code."""
    with Session(_engine(engine)) as session:
        return {name: _rows(session, kind) for name, kind in KINDS.items()}


@unavailable_on_database_error(N_("Reference data"))
def name_of(kind: str, code: Any, engine: Engine | None = None) -> str | None:
    """The current name of one code (None when there is no such code)."""
    spec = _kind(kind)
    if not isinstance(code, str):
        return None
    with Session(_engine(engine)) as session:
        return session.scalar(select(spec.model.name).where(spec.model.code == code))


@unavailable_on_database_error(N_("Saving reference data"))
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
        message = _(spec.messages.added, code=new_code, name=new_name)
        return Change(message, _rows(session, spec))

    try:
        change = _write(engine, work)
    except IntegrityError:  # added by someone else between the check and the insert
        log.info("reference: %s %s added concurrently", spec.singular, new_code)
        raise _duplicate(spec, new_code, None) from None
    _invalidate()
    return change


@unavailable_on_database_error(N_("Saving reference data"))
def rename(
    kind: str, code: Any, name: Any, *, actor: Any = None, engine: Engine | None = None
) -> Change:
    """Give a platform or category a new name; its code stays."""
    spec = _kind(kind)
    if values.is_empty(code):
        raise ReferenceDataError(_(spec.messages.choose))
    new_name = clean_name(name)

    def work(session: Session) -> Change:
        row = session.scalar(select(spec.model).where(spec.model.code == str(code)))
        if row is None:
            raise ReferenceDataError(_(spec.messages.no_such, code=repr(values.shown(code, 40))))
        old = row.name
        if old == new_name:
            message = _(spec.messages.unchanged, code=row.code, name=old)
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
        message = _(spec.messages.renamed, code=row.code, old=old, new=new_name)
        return Change(message, _rows(session, spec))

    change = _write(engine, work)
    if change.changed:
        _invalidate()
    return change


def _duplicate(spec: Kind, code: str, name: str | None) -> ReferenceDataError:
    if name:
        return ReferenceDataError(_(spec.messages.duplicate_named, code=repr(code), name=name))
    return ReferenceDataError(_(spec.messages.duplicate, code=repr(code)))
