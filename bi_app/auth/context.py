"""The logged-in user of the current request, the session's CSRF token and flask-login wiring."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

import flask
from flask_login import LoginManager, current_user
from sqlalchemy import Row
from sqlalchemy.exc import SQLAlchemyError

from bi_app.auth import sessions
from bi_app.db.models import User

CSRF_SESSION_KEY = "_csrf_token"
CSRF_FORM_FIELD = "csrf_token"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SessionUser:
    """What a request knows about its user: a detached snapshot, never a live ORM object.

    The session id carries a fingerprint of the password hash, so changing a password ends
    every other session of that user, and the token of its server-side session
    (:mod:`bi_app.auth.sessions`), which logout revokes.
    """

    id: int
    username: str
    role: str
    active: bool
    fingerprint: str
    session_token: str = ""
    locale: str | None = None  # the user's language; None: the browser's, else BI_LOCALE

    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.fingerprint}:{self.session_token}"

    @classmethod
    def from_model(cls, user: User | Row, secret_key: str, session_token: str = "") -> SessionUser:
        return cls(
            user.id,
            user.username,
            user.role,
            bool(user.active),
            password_fingerprint(user.password_hash, secret_key),
            session_token,
            getattr(user, "locale", None),
        )


def password_fingerprint(password_hash: str, secret_key: str) -> str:
    return hmac.new(secret_key.encode(), password_hash.encode(), hashlib.sha256).hexdigest()[:20]


def load_user(session_id: str) -> SessionUser | None:
    """flask-login's user loader: the user must exist, be active and keep the same password, and
    the server-side session must stand: not revoked, not past ``BI_SESSION_LIFETIME``, not idle
    longer than ``BI_SESSION_IDLE_TIMEOUT`` (otherwise the request is simply signed out).

    A session this worker verified within ``BI_SESSION_RECHECK`` is not read again (a cache
    hit would otherwise spend most of its time on that query); during a database outage, one
    verified in the last minutes stands (:class:`bi_app.auth.sessions.VerifiedSessions`).
    """
    settings = flask.current_app.config["BI_SETTINGS"]
    verified = sessions.VERIFIED
    if settings.session_recheck:
        user = verified.recall(session_id, settings.session_recheck)
        if user is not None:
            return user
    try:
        verified_session = _load_verified_user(session_id, settings)
    except SQLAlchemyError as exc:
        user = verified.recall(
            session_id, min(sessions.OUTAGE_GRACE_S, settings.session_idle_timeout)
        )
        log.warning(
            "database unavailable while loading a session (%s); %s",
            type(exc).__name__,
            "using the session verified recently" if user else "signed out",
        )
        return user
    if verified_session is None:
        verified.forget(session_id)
        return None
    user, valid_until = verified_session
    verified.remember(session_id, user.id, user, valid_until)
    return user


def _load_verified_user(session_id: str, settings) -> tuple[SessionUser, dt.datetime] | None:
    """The session's user and when the session ends at the latest, read from the database."""
    from bi_app.extensions import db

    user_id, _, rest = (session_id or "").partition(":")
    fingerprint, _, token = rest.partition(":")
    if not user_id.isdigit() or not fingerprint or not token:
        return None
    with db.require_engine().connect() as conn:
        user = sessions.verified_user(
            conn, int(user_id), token, settings.session_lifetime, settings.session_idle_timeout
        )
        if user is None or not user.active:
            return None
        snapshot = SessionUser.from_model(user, flask.current_app.config["SECRET_KEY"], token)
        if not hmac.compare_digest(snapshot.fingerprint, fingerprint):
            return None
        conn.commit()  # last_seen, when it moved
    lifetime, idle = settings.session_lifetime, settings.session_idle_timeout
    return snapshot, sessions.valid_until(user, lifetime, idle)


def init_login_manager(manager: LoginManager, server: flask.Flask) -> None:
    manager.session_protection = "strong"
    manager.user_loader(load_user)
    manager.init_app(server)


def request_user() -> SessionUser | None:
    """The authenticated user of the current request, or None (also outside a request)."""
    if not flask.has_request_context():
        return None
    user = current_user._get_current_object()
    return user if isinstance(user, SessionUser) and user.is_authenticated else None


def request_ip() -> str | None:
    """The client address: ``remote_addr``, which ProxyFix sets from ``X-Forwarded-For`` only for
    the ``BI_PROXY_HOPS`` proxies declared trusted (see :func:`bi_app.auth.init_app`)."""
    if not flask.has_request_context():
        return None
    return (flask.request.remote_addr or "")[:64] or None


def current_role() -> str | None:
    user = request_user()
    return user.role if user is not None else None


def current_username() -> str | None:
    user = request_user()
    return user.username if user is not None else None


def csrf_token() -> str:
    """The session's CSRF token, created on first use; forms post it back as ``csrf_token``."""
    token = flask.session.get(CSRF_SESSION_KEY)
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        flask.session[CSRF_SESSION_KEY] = token
    return token


def csrf_valid(submitted: str | None) -> bool:
    expected = flask.session.get(CSRF_SESSION_KEY)
    if not isinstance(expected, str) or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())
