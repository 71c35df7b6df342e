"""Cross-process locks and leader election for the in-process scheduler.

On PostgreSQL a lock is a session-level advisory lock held on a dedicated, unpooled connection:
it lives exactly as long as that connection, so a killed process or a restarted server releases
it, and a pooled or transaction-level lock would be released behind our back. On SQLite it is an
exclusive ``flock`` on a file next to the database (flock, unlike POSIX record locks, also
excludes a second descriptor in the same process).

Lock identities derive from the database URL (including its ``search_path`` option) plus a name,
so two deployments or two parallel test schemas on one server never share a lock.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import logging
import os
import re
import socket
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bi_app.db.job_models import SchedulerNode
from bi_app.db.models import utcnow

log = logging.getLogger(__name__)

DEFAULT_LEADER_LOCK = "scheduler-leader"
CONNECT_TIMEOUT_S = 5


class ProcessLock(Protocol):
    def try_acquire(self) -> bool: ...

    def is_held(self) -> bool: ...

    def release(self) -> None: ...


def database_identity(database_url: str) -> str:
    """The URL without its password: what makes two lock names refer to the same database."""
    return make_url(database_url).render_as_string(hide_password=True)


def advisory_key(database_url: str, name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` on this database (and search_path)."""
    digest = hashlib.blake2b(f"{database_identity(database_url)}|{name}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _libpq_conninfo(database_url: str) -> str:
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class AdvisoryLock:
    """``pg_try_advisory_lock`` on its own psycopg connection (autocommit, never pooled)."""

    def __init__(self, database_url: str, name: str) -> None:
        self.name = name
        self.key = advisory_key(database_url, name)
        self._conninfo = _libpq_conninfo(database_url)
        self._conn: Any = None
        self._held = False

    @property
    def backend_pid(self) -> int | None:
        """The PostgreSQL backend pid of the lock's connection (for diagnostics and tests)."""
        return (
            self._conn.info.backend_pid
            if self._conn is not None and not self._conn.closed
            else None
        )

    def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._close()
            self._conn = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="bi-app-lock",
            )
        return self._conn

    def try_acquire(self) -> bool:
        if self._held and self.is_held():
            return True
        try:
            row = (
                self._connection()
                .execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
                .fetchone()
            )
        except Exception:
            self._close()
            raise
        self._held = bool(row and row[0])
        return self._held

    def is_held(self) -> bool:
        """Ask the server whether this connection still holds the lock; a
        dead connection does not."""
        if not self._held or self._conn is None or self._conn.closed or self._conn.broken:
            self._held = False
            return False
        unsigned = self.key & 0xFFFFFFFFFFFFFFFF
        try:
            row = self._conn.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND pid = pg_backend_pid() AND objsubid = 1"
                " AND classid = %s::bigint::oid AND objid = %s::bigint::oid)",
                (unsigned >> 32, unsigned & 0xFFFFFFFF),
            ).fetchone()
        except Exception as exc:  # noqa: BLE001 - any failure means the lock is gone
            log.warning("lock %r: connection lost (%s)", self.name, type(exc).__name__)
            self._close()
            self._held = False
            return False
        self._held = bool(row and row[0])
        return self._held

    def release(self) -> None:
        if self._held and self._conn is not None and not self._conn.closed:
            with contextlib.suppress(Exception):  # closing the session releases it anyway
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        self._held = False
        self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # an already broken connection
                self._conn.close()
        self._conn = None


class FileLock:
    """An exclusive, non-blocking ``flock`` on ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return self.is_held()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def is_held(self) -> bool:
        """Held while our descriptor is still the file at ``path`` (a deleted file is no lock)."""
        if self._fd is None:
            return False
        try:
            same = os.fstat(self._fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            self.release()
        return same

    def release(self) -> None:
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:100]


def lock_file_path(database_url: str, name: str) -> Path:
    database = make_url(database_url).database
    if database and database != ":memory:":
        return Path(f"{database}.{_slug(name)}.lock")
    # An in-memory database is private to its process; the lock only needs to be too.
    return Path(tempfile.gettempdir()) / f"bi-app-{os.getpid()}-{_slug(name)}.lock"


def make_lock(database_url: str, name: str) -> ProcessLock:
    """The right kind of cross-process lock for this database."""
    if make_url(database_url).get_backend_name() == "postgresql":
        return AdvisoryLock(database_url, name)
    return FileLock(lock_file_path(database_url, name))


class LeaderElector:
    """Holds leadership while the lock is held; :meth:`tick` re-checks or retries the lock.

    ``elected_at`` is when this process last took the lock: every election gets its own, even
    when the same process wins again (what ``leader_since`` publishes)."""

    def __init__(self, lock: ProcessLock) -> None:
        self.lock = lock
        self.is_leader = False
        self.elected_at: dt.datetime | None = None

    def tick(self) -> str | None:
        """Check the held lock or try to take it; returns "promoted", "demoted" or None."""
        if self.is_leader:
            if self.lock.is_held():
                return None
            self.is_leader, self.elected_at = False, None
            self.lock.release()
            return "demoted"
        try:
            acquired = self.lock.try_acquire()
        except Exception as exc:  # noqa: BLE001 - database down: stay a follower, retry next tick
            log.warning("leader election: lock unavailable (%s: %s)", type(exc).__name__, exc)
            return None
        if acquired:
            self.is_leader, self.elected_at = True, utcnow()
            return "promoted"
        return None

    def release(self) -> None:
        self.is_leader, self.elected_at = False, None
        self.lock.release()


# --- heartbeats -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeInfo:
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"


def heartbeat(
    session: Session,
    node: NodeInfo,
    *,
    is_leader: bool,
    tick_seconds: float,
    next_runs: dict[str, str] | None,
    leader_since: dt.datetime | None = None,
) -> None:
    """Insert or refresh this process's row (the caller commits).

    ``leader_since`` is the time of this process's current election; pass it, because a row
    that still says "leader" may be from an earlier election (the heartbeat that would have
    said "not leader" in between failed, e.g. while the database restarted)."""
    now = utcnow()
    row = session.get(SchedulerNode, node.id)
    if row is None:
        row = SchedulerNode(id=node.id, host=node.host, pid=node.pid, started_at=now)
        session.add(row)
    if not is_leader:
        row.leader_since = None
    elif leader_since is not None:
        row.leader_since = leader_since
    elif not row.is_leader or row.leader_since is None:
        row.leader_since = now
    row.is_leader = is_leader
    row.heartbeat_at = now
    row.tick_seconds = tick_seconds
    row.next_runs = next_runs if is_leader else None


def stale_after(tick_seconds: float) -> dt.timedelta:
    """How old a heartbeat may be before its process counts as gone."""
    return dt.timedelta(seconds=max(3 * tick_seconds, 10.0))


def live_nodes(session: Session) -> list[SchedulerNode]:
    now = utcnow()
    rows = session.scalars(select(SchedulerNode).order_by(SchedulerNode.heartbeat_at.desc())).all()
    return [r for r in rows if now - r.heartbeat_at <= stale_after(r.tick_seconds)]


def current_leader(session: Session) -> SchedulerNode | None:
    """The most recently heard-from live leader, or None when no process leads."""
    leaders = [n for n in live_nodes(session) if n.is_leader]
    return leaders[0] if leaders else None


def forget_node(session: Session, node: NodeInfo) -> None:
    session.execute(delete(SchedulerNode).where(SchedulerNode.id == node.id))


def prune_nodes(session: Session, older_than: dt.timedelta = dt.timedelta(hours=1)) -> int:
    """Delete rows of processes not heard from for ``older_than`` (killed without cleanup)."""
    result = session.execute(
        delete(SchedulerNode).where(SchedulerNode.heartbeat_at < utcnow() - older_than)
    )
    return result.rowcount or 0
