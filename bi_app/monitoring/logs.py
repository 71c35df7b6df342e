"""Structured application logs: JSON lines on stderr and rows in ``app_logs``, never blocking.

:func:`install_log_capture` puts a :class:`CaptureQueueHandler` on the root logger. The calling
thread only snapshots the record (message, traceback text, request id, user, extras) and
``put_nowait``\\ s it on a bounded queue: a full queue drops the line and counts it, so a slow or
dead database can never slow a request. A :class:`BatchingListener` thread writes each line to
stderr as JSON and hands it to :class:`DatabaseLogWriter`, which inserts batches. While the
database is down the writer keeps a bounded buffer, retries with backoff and reports its own
trouble straight to stderr, never through ``logging`` (that would feed its own queue).
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import copy
import datetime as dt
import json
import logging
import queue
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from logging.handlers import QueueHandler, QueueListener
from typing import Any, TextIO

from sqlalchemy import Engine, delete, insert

from bi_app.config import Settings
from bi_app.db.log_models import EXC_TEXT_MAX_CHARS, MESSAGE_MAX_CHARS, AppLog

QUEUE_SIZE = 10_000
BATCH_SIZE = 200
FLUSH_INTERVAL_S = 1.0
MAX_BUFFERED_ROWS = 5_000
MAX_BACKOFF_S = 30.0
DEFAULT_RETENTION_DAYS = 14
# Access logs of the development server are per-request noise (request metrics cover them) and
# the live tail's own polling would fill the table with them: they go to stderr only.
DB_LEVEL_FLOOR = {"werkzeug": logging.WARNING}

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "bi_request_id",
    "bi_user",
    "bi_extra",
}
_MAX_EXTRA_STR = 1000


# --- record snapshotting (runs in the caller's thread) --------------------------------------


def json_safe(value: Any, depth: int = 0) -> Any:
    """A JSON-serialisable copy of ``value`` (long strings cut, unknown objects as ``repr``)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return value[:_MAX_EXTRA_STR]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if depth >= 4:
        return repr(value)[:_MAX_EXTRA_STR]
    if isinstance(value, dict):
        return {str(k)[:100]: json_safe(v, depth + 1) for k, v in list(value.items())[:50]}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v, depth + 1) for v in list(value)[:50]]
    return repr(value)[:_MAX_EXTRA_STR]


def record_extras(record: logging.LogRecord) -> dict[str, Any] | None:
    """Attributes given through ``extra=`` (anything that is not a standard record field)."""
    if hasattr(record, "bi_extra"):
        return record.bi_extra
    extras = {k: json_safe(v) for k, v in vars(record).items() if k not in _STANDARD_ATTRS}
    return extras or None


def request_context() -> tuple[str | None, str | None]:
    """(request id, username) of the Flask request being served by this thread, if any.

    Reads the user flask-login already loaded (``g._login_user``) instead of ``current_user``:
    loading it here could query the database and log, re-entering the handler.
    """
    try:
        import flask

        if not flask.has_request_context():
            return None, None
        rid = flask.g.get("request_id") or flask.request.headers.get("X-Request-ID")
        user = flask.g.get("_login_user")
        name = None
        if user is not None and getattr(user, "is_authenticated", False):
            name = getattr(user, "username", None) or user.get_id()
        return (str(rid)[:64] if rid else None), (str(name)[:64] if name else None)
    except Exception:  # noqa: BLE001 - context is best effort, logging must not fail
        return None, None


def snapshot(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of ``record`` that is safe to hand to another thread: message merged with its
    args, traceback rendered to text, request context and extras captured now."""
    rec = copy.copy(record)
    try:
        message = record.getMessage()
    except Exception as exc:  # noqa: BLE001 - a bad format string must not lose the line
        message = f"{record.msg!r} (unformattable args: {type(exc).__name__})"
    rec.msg, rec.args, rec.message = message, None, message
    if record.exc_info and not record.exc_text:
        rec.exc_text = logging.Formatter().formatException(record.exc_info)
    rec.exc_info = None
    rec.bi_extra = record_extras(record)
    if not hasattr(record, "bi_request_id"):
        rec.bi_request_id, rec.bi_user = request_context()
    return rec


# --- formatting -----------------------------------------------------------------------------


def _utc(created: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(created, dt.UTC)


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``msg`` is the plain, readable message."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": _utc(record.created).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "module": record.module,
            "func": record.funcName,
            "line": record.lineno,
        }
        rid, user = getattr(record, "bi_request_id", None), getattr(record, "bi_user", None)
        if rid:
            payload["request_id"] = rid
        if user:
            payload["user"] = user
        extras = record_extras(record)
        if extras:
            payload["extra"] = extras
        exc_text = record.exc_text or (
            self.formatException(record.exc_info) if record.exc_info else None
        )
        if exc_text:
            payload["exc"] = exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        return json.dumps(payload, ensure_ascii=False, default=str)


def to_row(record: logging.LogRecord, host: str | None = None) -> dict[str, Any]:
    """The ``app_logs`` row for a (snapshotted) record."""
    exc_text = record.exc_text or None
    if record.stack_info:
        exc_text = f"{exc_text}\n{record.stack_info}" if exc_text else record.stack_info
    return {
        "at": _utc(record.created).replace(tzinfo=None),
        "level": int(record.levelno),
        "level_name": str(record.levelname)[:16],
        "logger": str(record.name)[:200],
        "message": record.getMessage()[:MESSAGE_MAX_CHARS],
        "module": (record.module or None) and str(record.module)[:200],
        "func": (record.funcName or None) and str(record.funcName)[:200],
        "line": record.lineno,
        "exc_text": exc_text[:EXC_TEXT_MAX_CHARS] if exc_text else None,
        "request_id": getattr(record, "bi_request_id", None),
        "username": getattr(record, "bi_user", None),
        "host": host,
        "pid": record.process,
        "extra": record_extras(record),
    }


# --- counters -------------------------------------------------------------------------------


class CaptureStats:
    """Thread-safe counters of what happened to log lines (shown on the logs page)."""

    FIELDS = (
        "queued",
        "dropped_queue_full",
        "written",
        "dropped_db",
        "write_errors",
        "handler_errors",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(self.FIELDS, 0)
        self.last_error: str | None = None
        self.last_error_at: dt.datetime | None = None

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] += n

    def error(self, message: str) -> None:
        with self._lock:
            self._values["write_errors"] += 1
            self.last_error, self.last_error_at = message, dt.datetime.now(dt.UTC)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = dict(self._values)
        out["last_error"] = self.last_error
        out["last_error_at"] = self.last_error_at.isoformat() if self.last_error_at else None
        return out


# --- the caller side ------------------------------------------------------------------------


class CaptureQueueHandler(QueueHandler):
    """Snapshots records and enqueues them without ever waiting."""

    def __init__(self, q: queue.Queue, stats: CaptureStats, fallback: logging.Handler) -> None:
        super().__init__(q)
        self.stats = stats
        self.fallback = fallback
        self.writer_ident: int | None = None
        self._local = threading.local()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return snapshot(record)

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
            self.stats.add("queued")
        except queue.Full:
            self.stats.add("dropped_queue_full")

    def emit(self, record: logging.LogRecord) -> None:
        # Lines logged by the writer thread itself (e.g. SQLAlchemy warnings during an insert)
        # would loop back into its own queue: they only go to stderr.
        if self.writer_ident is not None and threading.get_ident() == self.writer_ident:
            self.fallback.handle(record)
            return
        if getattr(self._local, "busy", False):
            return  # logging from inside our own snapshot code: drop rather than recurse
        self._local.busy = True
        try:
            self.enqueue(self.prepare(record))
        except Exception:  # noqa: BLE001 - logging never raises into the caller
            self.stats.add("handler_errors")
        finally:
            self._local.busy = False


# --- the writer side ------------------------------------------------------------------------


class DatabaseLogWriter(logging.Handler):
    """Buffers rows and inserts them in batches; only the listener thread calls it."""

    def __init__(
        self,
        engine: Engine,
        stats: CaptureStats,
        *,
        batch_size: int = BATCH_SIZE,
        flush_interval: float = FLUSH_INTERVAL_S,
        max_buffered: int = MAX_BUFFERED_ROWS,
        error_stream: TextIO | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.stats = stats
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.buffer: collections.deque[dict[str, Any]] = collections.deque()
        self.max_buffered = max_buffered
        self.host = socket.gethostname()[:128]
        self._error_stream = error_stream
        self._oldest_at: float | None = None
        self._retry_at = 0.0
        self._backoff = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        floor = DB_LEVEL_FLOOR.get(record.name.split(".", 1)[0])
        if floor is not None and record.levelno < floor:
            return
        if len(self.buffer) >= self.max_buffered:
            self.buffer.popleft()
            self.stats.add("dropped_db")
        self.buffer.append(to_row(record, self.host))
        if self._oldest_at is None:
            self._oldest_at = time.monotonic()
        if (
            len(self.buffer) >= self.batch_size
            or time.monotonic() - self._oldest_at >= self.flush_interval
        ):
            self.flush()

    def flush(self, force: bool = False) -> None:
        """Insert what is buffered; after a failure, wait for the backoff unless ``force``."""
        with self.lock:
            while self.buffer:
                if not force and time.monotonic() < self._retry_at:
                    return
                batch = [self.buffer[i] for i in range(min(self.batch_size, len(self.buffer)))]
                try:
                    with self.engine.begin() as conn:
                        conn.execute(insert(AppLog.__table__), batch)
                except Exception as exc:  # noqa: BLE001 - an outage must not kill the writer
                    self._failed(exc)
                    return
                for _ in batch:
                    self.buffer.popleft()
                self.stats.add("written", len(batch))
                self._backoff, self._retry_at = 0.0, 0.0
            self._oldest_at = None

    def _failed(self, exc: Exception) -> None:
        reason = (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[
                :300
            ]
        )
        first = self._backoff == 0.0
        self._backoff = min(MAX_BACKOFF_S, self._backoff * 2 or 1.0)
        self._retry_at = time.monotonic() + self._backoff
        self.stats.error(reason)
        if first:  # once per outage, not once per retry
            stream = self._error_stream or sys.stderr
            try:
                stream.write(
                    json.dumps(
                        {
                            "ts": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
                            "level": "ERROR",
                            "logger": __name__,
                            "msg": f"cannot store log lines, buffering up to "
                            f"{self.max_buffered}: {reason}",
                        }
                    )
                    + "\n"
                )
                stream.flush()
            except Exception:  # noqa: BLE001, S110 - stderr itself is gone: nowhere left to say it
                pass


class BatchingListener(QueueListener):
    """A QueueListener that flushes the writer's partial batch whenever the queue goes idle."""

    def __init__(
        self,
        q: queue.Queue,
        *handlers: logging.Handler,
        writer: DatabaseLogWriter,
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(q, *handlers, respect_handler_level=True)
        self.writer = writer
        self._on_start = on_start
        self._started = False

    def dequeue(self, block: bool) -> logging.LogRecord:
        if not self._started:
            self._started = True
            if self._on_start is not None:
                self._on_start(threading.get_ident())
        while True:
            try:
                return self.queue.get(block, timeout=self.writer.flush_interval)
            except queue.Empty:
                if not block:
                    raise
                self.writer.flush()

    def enqueue_sentinel(self) -> None:
        # The stock put_nowait raises on a full queue; make room by dropping the oldest line.
        while True:
            try:
                self.queue.put_nowait(self._sentinel)
                return
            except queue.Full:
                try:
                    self.queue.get_nowait()
                    self.writer.stats.add("dropped_queue_full")
                except queue.Empty:
                    pass


# --- installation ---------------------------------------------------------------------------


@dataclass
class _Capture:
    engine: Engine
    handler: CaptureQueueHandler
    listener: BatchingListener
    writer: DatabaseLogWriter


_lock = threading.Lock()
_capture: _Capture | None = None
_stats = CaptureStats()
_atexit_registered = False


def install_log_capture(
    settings: Settings,
    engine: Engine,
    *,
    stderr: bool = True,
    flush_interval: float = FLUSH_INTERVAL_S,
) -> None:
    """Route every log record to stderr (JSON) and ``app_logs`` through a background thread.

    Idempotent: a second call with the same engine does nothing; with another engine (a new
    app in the same process) the previous capture is flushed and replaced.
    """
    global _capture, _atexit_registered
    with _lock:
        if _capture is not None and _capture.engine is engine:
            return
        _shutdown_locked()
        level = logging.DEBUG if settings.debug else logging.INFO
        stream_handler = logging.StreamHandler(sys.stderr)
        stream_handler.setFormatter(JsonFormatter())
        writer = DatabaseLogWriter(engine, _stats, flush_interval=flush_interval)
        writer.setLevel(level)
        handler = CaptureQueueHandler(
            queue.Queue(maxsize=QUEUE_SIZE), _stats, fallback=stream_handler
        )

        def on_start(ident: int) -> None:
            handler.writer_ident = ident

        handlers: tuple[logging.Handler, ...] = (stream_handler, writer) if stderr else (writer,)
        listener = BatchingListener(handler.queue, *handlers, writer=writer, on_start=on_start)
        listener.start()
        root = logging.getLogger()
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > level:
            root.setLevel(level)
        _capture = _Capture(engine, handler, listener, writer)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True


def _shutdown_locked() -> None:
    global _capture
    if _capture is None:
        return
    capture, _capture = _capture, None
    logging.getLogger().removeHandler(capture.handler)
    with contextlib.suppress(Exception):  # shutting down must not raise
        capture.listener.stop()
    capture.writer.flush(force=True)
    capture.writer.close()


def shutdown() -> None:
    """Detach the handler, drain the queue and write what is left (one last attempt)."""
    with _lock:
        _shutdown_locked()


def flush() -> None:
    """Wait until every line logged so far has been handed to the writer, then write it.

    For tests and orderly stops; requests never call this.
    """
    with _lock:
        capture = _capture
    if capture is None:
        return
    q = capture.handler.queue
    deadline = time.monotonic() + 10
    # the listener calls task_done() after handling each record, so this counts handled lines
    while q.unfinished_tasks and time.monotonic() < deadline:
        time.sleep(0.01)
    capture.writer.flush(force=True)


def stats() -> dict[str, Any]:
    """Counters since start-up: queued, dropped (queue full / database), written, errors."""
    out = _stats.as_dict()
    with _lock:
        out["installed"] = _capture is not None
        out["buffered"] = len(_capture.writer.buffer) if _capture else 0
    return out


def purge_logs(
    days: int = DEFAULT_RETENTION_DAYS,
    *,
    engine: Engine | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Delete log lines older than ``days`` days; returns how many were deleted."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"days must be a whole number >= 1, got {days!r}")
    if engine is None:
        from bi_app.extensions import db

        engine = db.require_engine()
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cutoff = now - dt.timedelta(days=days)
    with engine.begin() as conn:
        result = conn.execute(delete(AppLog.__table__).where(AppLog.__table__.c.at < cutoff))
    return int(result.rowcount or 0)
