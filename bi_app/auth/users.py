"""Users, passwords and the audit trail: plain functions over a SQLAlchemy session.

Callers own the transaction: these functions add and flush, the caller commits. Every change
writes an :class:`AuditLog` row in the same transaction, so a change and its audit entry are
committed (or rolled back) together.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from bi_app.auth.sessions import revoke_all
from bi_app.db.models import ROLES, AuditLog, User, utcnow

MIN_PASSWORD_LENGTH = 8
# scrypt of a very long input is still cheap, but nobody needs more and it bounds request cost.
MAX_PASSWORD_LENGTH = 256
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


class UserError(ValueError):
    """A user-management request that cannot be carried out; the message says why."""


def normalize_username(raw: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    return (raw or "").strip().lower()


def validate_username(raw: str) -> str:
    name = normalize_username(raw)
    if not USERNAME_RE.match(name):
        raise UserError(
            "username must be 2-64 characters: letters, digits and . _ @ - "
            "(starting with a letter or digit)"
        )
    return name


def validate_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"password must be at most {MAX_PASSWORD_LENGTH} characters long")
    return password


def validate_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    return generate_password_hash(validate_password(password))


def verify_password(user: User | None, password: str) -> bool:
    """Check a password; an unknown user costs the same hash work, so timing does not tell."""
    if user is None or not password or len(password) > MAX_PASSWORD_LENGTH:
        check_password_hash(_DUMMY_HASH, password or "x")
        return False
    return check_password_hash(user.password_hash, password)


def get_user(session: Session, username: str) -> User | None:
    name = normalize_username(username)
    if not name:
        return None
    return session.scalar(select(User).where(User.username == name))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def _actor_fields(actor: User | str | None) -> tuple[int | None, str | None]:
    if isinstance(actor, User):
        return actor.id, actor.username
    if isinstance(actor, str):
        return None, actor[:64]
    from bi_app.auth.context import request_user  # late: keeps this module free of Flask

    user = request_user()
    return (user.id, user.username) if user is not None else (None, None)


def audit(
    session: Session,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    actor: User | str | None = None,
) -> AuditLog:
    """Record an action that changed something. ``actor`` defaults to the logged-in user of the
    current request; a string names a non-user actor such as ``"cli"``."""
    from bi_app.auth.context import request_ip

    user_id, username = _actor_fields(actor)
    row = AuditLog(
        at=utcnow(),
        user_id=user_id,
        username=username,
        action=action[:64],
        target=target[:200] if target else None,
        detail=detail,
        ip=request_ip(),
    )
    session.add(row)
    session.flush()
    return row


def create_user(
    session: Session, username: str, password: str, role: str, actor: User | str | None = None
) -> User:
    name = validate_username(username)
    validate_role(role)
    if get_user(session, name) is not None:
        raise UserError(f"user {name!r} already exists")
    user = User(
        username=name,
        password_hash=hash_password(password),
        role=role,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit(session, "user.create", target=name, detail={"role": role}, actor=actor)
    return user


def _require_user(session: Session, username: str) -> User:
    user = get_user(session, username)
    if user is None:
        raise UserError(f"no user named {normalize_username(username)!r}")
    return user


def set_password(
    session: Session, username: str, password: str, actor: User | str | None = None
) -> User:
    """Change a password; every session of the user ends (:mod:`bi_app.auth.sessions`; the
    password fingerprint in the session id would end them too)."""
    user = _require_user(session, username)
    user.password_hash = hash_password(password)
    session.flush()
    revoke_all(session, user.id)
    audit(session, "user.set_password", target=user.username, actor=actor)
    return user


def sign_out_everywhere(session: Session, username: str, actor: User | str | None = None) -> int:
    """End every session of a user; returns how many were open."""
    user = _require_user(session, username)
    ended = revoke_all(session, user.id)
    audit(session, "user.sign_out", target=user.username, detail={"sessions": ended}, actor=actor)
    return ended


def disable_user(session: Session, username: str, actor: User | str | None = None) -> User:
    user = _require_user(session, username)
    if user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise UserError("cannot disable the last active admin")
    user.active = False
    session.flush()
    revoke_all(session, user.id)
    audit(session, "user.disable", target=user.username, actor=actor)
    return user


def _active_admins(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", User.active.is_(True))
        )
        or 0
    )


def ensure_admin(session: Session, username: str, password: str | None) -> str | None:
    """Make sure an active admin exists. Returns the password used when one was created (a
    generated one when ``password`` is None), or None when an active admin already existed.

    When no active admin exists but ``username`` does (disabled, or demoted), that account is
    restored as admin with the new password: this is the way back in after a lock-out.
    """
    if _active_admins(session) > 0:
        return None
    password = password or secrets.token_urlsafe(16)
    user = get_user(session, username)
    if user is None:
        create_user(session, username, password, "admin", actor="setup")
        return password
    user.password_hash = hash_password(password)
    user.role = "admin"
    user.active = True
    session.flush()
    audit(session, "user.restore_admin", target=user.username, actor="setup")
    return password


def set_locale(session: Session, user_id: int, locale: str | None) -> str | None:
    """Store the language ``user_id`` reads the app in (``None``: the browser's); returns what
    was stored. Raises :class:`UserError` for a language the app does not speak."""
    from bi_app.i18n import LOCALES, parse_locale

    chosen = parse_locale(locale) if locale else None
    if locale and chosen is None:
        raise UserError(f"unknown language {locale!r} (one of {', '.join(LOCALES)})")
    user = session.get(User, user_id)
    if user is None:
        raise UserError("no such user")
    user.locale = chosen
    return chosen
