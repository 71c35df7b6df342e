"""Server-side sessions: one ``user_sessions`` row per signed-in browser.

The signed cookie carries a random token; the row (keyed on the token's SHA-256) says whether the
session still stands. A request is signed in only while its row exists, is not revoked, is younger
than ``BI_SESSION_LIFETIME`` and was seen within ``BI_SESSION_IDLE_TIMEOUT``. So logout ends the
session on the server (a copied cookie stops working), and a password change or "sign out
everywhere" ends every session of the user.

A row per session rather than a per-user epoch: an epoch bumped on logout would also end the
user's other browsers, and it cannot carry an idle time the client cannot replay. ``last_seen`` is
written at most once a minute (:data:`TOUCH_EVERY`, or a quarter of the idle timeout when that is
shorter), so a busy session costs one small UPDATE a minute.

Each worker remembers the sessions it verified (:class:`VerifiedSessions`): within
``BI_SESSION_RECHECK`` a request of the same session is not read again, and while the database
does not answer, a session verified in the last minutes keeps working. Revoking forgets in this
worker at once; another worker notices within the recheck interval.

Callers own the transaction (as in :mod:`bi_app.auth.users`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from bi_app.db.models import User, UserSession, utcnow

TOUCH_EVERY = dt.timedelta(seconds=60)
OUTAGE_GRACE_S = 300.0


def now() -> dt.datetime:
    """The clock sessions are judged by (UTC, naive); tests replace it."""
    return utcnow()


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(session: Session, user_id: int, lifetime: int, idle: int) -> str:
    """Record a new session for ``user_id`` and return its token (for the cookie). The user's
    ended sessions are deleted on the way, so the table stays small."""
    t = now()
    session.execute(
        delete(UserSession).where(
            UserSession.user_id == user_id,
            or_(
                UserSession.revoked_at.is_not(None),
                UserSession.created_at < t - dt.timedelta(seconds=lifetime),
                UserSession.last_seen < t - dt.timedelta(seconds=idle),
            ),
        )
    )
    token = secrets.token_urlsafe(32)
    session.add(UserSession(id=token_id(token), user_id=user_id, created_at=t, last_seen=t))
    session.flush()
    return token


class VerifiedSessions:
    """Sessions this process verified against the database, with when (bounded, oldest out).

    Keyed on the whole session id (user id, password fingerprint, token), so a cookie with a
    stale fingerprint never matches. Times come from :func:`now`, the sessions' own clock."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, tuple[int, Any, dt.datetime, dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, session_id: str, user_id: int, user: Any, valid_until: dt.datetime) -> None:
        """``user`` was verified just now; the session cannot stand past ``valid_until`` (its
        lifetime or idle limit), whatever the recheck interval."""
        with self._lock:
            self._seen[session_id] = (user_id, user, now(), valid_until)
            self._seen.move_to_end(session_id)
            while len(self._seen) > self.size:
                self._seen.popitem(last=False)

    def recall(self, session_id: str, within: float) -> Any | None:
        """The user of ``session_id`` if this process verified it less than ``within`` seconds
        ago and its lifetime and idle limit have not passed since."""
        with self._lock:
            entry = self._seen.get(session_id)
        if entry is None:
            return None
        _user_id, user, verified_at, valid_until = entry
        t = now()
        if t - verified_at >= dt.timedelta(seconds=within) or t >= valid_until:
            return None
        return user

    def forget(self, session_id: str) -> None:
        with self._lock:
            self._seen.pop(session_id, None)

    def forget_token(self, token: str) -> None:
        self._forget_where(lambda session_id, _user_id: session_id.endswith(f":{token}"))

    def forget_user(self, user_id: int) -> None:
        self._forget_where(lambda _session_id, owner: owner == user_id)

    def _forget_where(self, matches: Any) -> None:
        with self._lock:
            for session_id in [s for s, entry in self._seen.items() if matches(s, entry[0])]:
                del self._seen[session_id]


VERIFIED = VerifiedSessions()


# Built once: composing the statement per request cost more than running it.
_VERIFY = (
    select(
        User.id,
        User.username,
        User.role,
        User.active,
        User.password_hash,
        User.locale,
        UserSession.revoked_at,
        UserSession.created_at,
        UserSession.last_seen,
    )
    .join(UserSession, UserSession.user_id == User.id)
    .where(User.id == bindparam("user_id"), UserSession.id == bindparam("key"))
)


def verified_user(
    conn: Connection, user_id: int, token: str, lifetime: int, idle: int
) -> Row | None:
    """The user (``id, username, role, active, password_hash, locale``) whose session ``token``
    still stands: one indexed join per request instead of two ORM loads. Refreshes ``last_seen``
    at most once a minute (the caller commits)."""
    if not token:
        return None
    key = token_id(token)
    row = conn.execute(_VERIFY, {"user_id": user_id, "key": key}).first()
    if row is None or row.revoked_at is not None:
        return None
    t = now()
    if t - row.created_at > dt.timedelta(seconds=lifetime):
        return None
    if t - row.last_seen > dt.timedelta(seconds=idle):
        return None
    if t - row.last_seen >= min(TOUCH_EVERY, dt.timedelta(seconds=idle / 4)):
        conn.execute(update(UserSession).where(UserSession.id == key).values(last_seen=t))
    return row


def valid_until(row: Row, lifetime: int, idle: int) -> dt.datetime:
    """When a session :func:`verified_user` just returned ends at the latest, unless used again:
    its lifetime, or its idle limit counted from the ``last_seen`` it was read with."""
    return min(
        row.created_at + dt.timedelta(seconds=lifetime),
        row.last_seen + dt.timedelta(seconds=idle),
    )


def revoke(session: Session, token: str) -> None:
    """End one session (logout)."""
    VERIFIED.forget_token(token)
    session.execute(
        update(UserSession)
        .where(UserSession.id == token_id(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )


def revoke_all(session: Session, user_id: int) -> int:
    """End every session of a user (sign out everywhere, password change); returns how many."""
    VERIFIED.forget_user(user_id)
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=now())
    )
    return int(result.rowcount or 0)
