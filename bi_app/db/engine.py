"""Engine and session creation, and a readable error when the database cannot be reached."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bi_app.db.periods import register_sqlite_functions


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached; the message says which and why."""


def make_engine(url: str, **kwargs) -> Engine:
    """An engine with health-checked pooled connections; SQLite gets WAL, foreign keys and the
    time-zone function business days are computed with
    (:func:`bi_app.db.periods.register_sqlite_functions`).

    Statement parameters never appear in SQLAlchemy's error messages or logs
    (``hide_parameters``): they carry secrets and personal data, and logged errors end up in
    ``app_logs``, which analysts read."""
    kwargs["hide_parameters"] = True
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
            register_sqlite_functions(dbapi_conn)

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 5)
        kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


def check_connection(engine: Engine) -> None:
    """Raise :class:`DatabaseUnavailable` with a one-line reason when the database is down."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailable(
            f"Cannot connect to the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{reason}"
        ) from None
    except SQLAlchemyError as exc:
        raise DatabaseUnavailable(
            f"Database error at {engine.url.render_as_string(hide_password=True)}: {exc}"
        ) from None


_PROFILE_KEY = "bi_request_profile"  # connection record info: which session settings it has


def limit_request_statements(engine: Engine, seconds: int) -> None:
    """Give every SQL statement run while serving a web request a PostgreSQL
    ``statement_timeout`` of ``seconds`` (``0``: none) and no parallel workers, and leave
    everything else (jobs, the scheduler, the CLI, migrations, background threads) at the
    server's own defaults.

    No parallel workers: a request reads roll-ups and bitmaps, a few thousand rows at most, and
    starting workers cost more than they saved (a 27 ms top-products statement at 10M orders
    spent 17 ms in Gather Merge waiting for its workers), while several requests at once would
    multiply the processes competing for the same cores. Long reads (jobs) keep them.

    The decision is made when a connection is taken from the pool, by whether a Flask request
    is being served in this thread (``flask.has_request_context()``); the settings are sent only
    when they must change, so a pooled connection that served a request before costs nothing.
    They live in the session, not the transaction, and are committed at once: the rollback a
    connection gets on its way back to the pool must not undo them. A cancelled statement
    raises ``OperationalError`` with SQLSTATE 57014 (see
    :func:`bi_app.errors.is_statement_timeout`). SQLite has no such settings: nothing to do."""
    if engine.dialect.name != "postgresql":
        return
    request_profile = (
        f"SET statement_timeout = {int(seconds) * 1000}",
        "SET max_parallel_workers_per_gather = 0",
    )
    default_profile = ("RESET statement_timeout", "RESET max_parallel_workers_per_gather")

    @event.listens_for(engine, "checkout")
    def _request_profile(dbapi_conn, record, _proxy) -> None:
        import flask

        wanted = "request" if flask.has_request_context() else "default"
        if record.info.get(_PROFILE_KEY, "default") == wanted:
            return
        try:
            cursor = dbapi_conn.cursor()
            try:
                for statement in request_profile if wanted == "request" else default_profile:
                    cursor.execute(statement)
            finally:
                cursor.close()
            dbapi_conn.commit()
        except Exception as exc:  # the pool retries the checkout with a fresh connection
            raise DisconnectionError(f"could not set the request settings: {exc}") from exc
        record.info[_PROFILE_KEY] = wanted


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
