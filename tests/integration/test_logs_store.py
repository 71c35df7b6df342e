"""Log capture against real databases: asynchronous writes, outages, retention, query parity."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import event, func, insert, select

from bi_app.db.engine import make_engine
from bi_app.db.log_models import AppLog
from bi_app.monitoring import logs
from bi_app.monitoring.logs_query import (
    LogQuery,
    bucket_seconds,
    fetch_logs,
    level_volume,
    load_log_view,
    parse_log_query,
    tail_logs,
)
from tests.conftest import make_settings, migrate

T = AppLog.__table__


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def engine(db_url):
    migrate(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(autouse=True)
def _no_capture_left_behind():
    yield
    logs.shutdown()


def _rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(T).order_by(T.c.id))]


def test_handler_writes_rows_in_the_background(engine, db_url):
    logs.install_log_capture(make_settings(db_url), engine)
    logs.install_log_capture(make_settings(db_url), engine)  # idempotent: one handler
    assert sum(isinstance(h, logs.CaptureQueueHandler) for h in logging.getLogger().handlers) == 1
    log = logging.getLogger("bi_app.tests.capture")
    log.info("order %s imported", "A-1", extra={"rows": 12})
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError:
        log.exception("import failed")
    logging.getLogger("werkzeug").info("GET /_dash-update-component 200")  # stderr only
    logs.flush()
    rows = [r for r in _rows(engine) if r["logger"].startswith("bi_app.tests")]
    assert [r["message"] for r in rows] == ["order A-1 imported", "import failed"]
    assert rows[0]["level_name"] == "INFO" and rows[0]["extra"] == {"rows": 12}
    assert rows[0]["func"] == "test_handler_writes_rows_in_the_background" and rows[0]["line"] > 0
    assert rows[1]["level"] == logging.ERROR and "RuntimeError: disk on fire" in rows[1]["exc_text"]
    assert not any(r["logger"] == "werkzeug" for r in _rows(engine))
    assert logs.stats()["written"] >= 2


def test_request_context_is_recorded(engine, db_url):
    import flask

    logs.install_log_capture(make_settings(db_url), engine)
    app = flask.Flask("t")
    with app.test_request_context("/x", headers={"X-Request-ID": "req-123"}):
        logging.getLogger("bi_app.tests.req").warning("slow page")
    logs.flush()
    row = next(r for r in _rows(engine) if r["logger"] == "bi_app.tests.req")
    assert row["request_id"] == "req-123"


@pytest.fixture
def hanging_postgres():
    """A loopback port that accepts TCP connections and never answers: a hung database."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"postgresql+psycopg://postgres@127.0.0.1:{sock.getsockname()[1]}/test"
    sock.close()


def test_database_outage_never_blocks_or_raises(hanging_postgres):
    engine = make_engine(hanging_postgres, connect_args={"connect_timeout": 2})
    connecting_threads: list[int] = []  # the thread of every attempt to reach the database
    event.listen(
        engine, "do_connect", lambda *_args: connecting_threads.append(threading.get_ident())
    )
    logs.install_log_capture(
        make_settings(hanging_postgres), engine, stderr=False, flush_interval=0.05
    )
    log = logging.getLogger("bi_app.tests.outage")
    before = logs.stats()  # counters are per process, since start-up
    for i in range(500):
        log.info("line %d while the database hangs", i)
    deadline = time.monotonic() + 10
    while logs.stats()["write_errors"] == before["write_errors"] and time.monotonic() < deadline:
        time.sleep(0.05)
    stats = logs.stats()
    # the database was tried, and never from the thread that logged: no caller waited for it
    assert connecting_threads and threading.get_ident() not in connecting_threads
    assert stats["write_errors"] > before["write_errors"] and stats["written"] == before["written"]
    assert stats["last_error"]
    assert stats["buffered"] <= logs.MAX_BUFFERED_ROWS
    engine.dispose()


def test_lines_buffered_during_an_outage_are_written_afterwards(sqlite_url):
    engine = make_engine(sqlite_url)  # no table yet: every insert fails like a dead database
    writer = logs.DatabaseLogWriter(engine, logs.CaptureStats(), batch_size=10, max_buffered=25)
    log = logging.getLogger("bi_app.tests.recover")
    for i in range(40):
        writer.handle(
            logs.snapshot(log.makeRecord(log.name, logging.INFO, "f.py", 1, "n=%d", (i,), None))
        )
    writer.flush(force=True)
    assert writer.stats.as_dict()["write_errors"] >= 1
    assert (
        len(writer.buffer) == 25 and writer.stats.as_dict()["dropped_db"] == 15
    )  # bounded: oldest go
    T.create(engine)
    writer.flush(force=True)
    assert [r["message"] for r in _rows(engine)] == [f"n={i}" for i in range(15, 40)]
    assert not writer.buffer
    engine.dispose()


def test_purge_logs_deletes_by_age(engine):
    now = dt.datetime(2026, 5, 20, 12, 0)
    ages = [0, 1, 6, 7.5, 8, 30]
    with engine.begin() as conn:
        conn.execute(
            insert(T),
            [
                {
                    "at": now - dt.timedelta(days=d),
                    "level": 20,
                    "level_name": "INFO",
                    "logger": "t",
                    "message": f"{d} days old",
                }
                for d in ages
            ],
        )
    assert logs.purge_logs(days=7, engine=engine, now=now) == 3
    assert sorted(r["message"] for r in _rows(engine)) == ["0 days old", "1 days old", "6 days old"]
    with pytest.raises(ValueError):
        logs.purge_logs(days=0, engine=engine)


# --- query parity: both databases give the answers computed here in Python ---------------------

NOW = dt.datetime(2026, 5, 20, 12, 0)
LOGGERS = ("bi_app.jobs", "bi_app.jobs.rollup", "bi_app.data", "werkzeug", "bi_app_other")
LEVEL_NAMES = {10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR"}


def _dataset() -> list[dict]:
    rows = []
    for i in range(300):
        level = (10, 20, 20, 30, 40)[i % 5]
        message = f"Order {i} synced" if i % 7 else f"Quota 100% used_by tenant {i}"
        if i % 11 == 0:
            message = f"TIMEOUT calling service {i}"
        rows.append(
            {
                "at": NOW - dt.timedelta(minutes=3 * i, seconds=i % 60, microseconds=i * 1000),
                "level": level,
                "level_name": LEVEL_NAMES[level],
                "logger": LOGGERS[i % len(LOGGERS)],
                "message": message,
                "exc_text": "Traceback ... Timeout" if i % 13 == 0 else None,
            }
        )
    return rows


def _expected(rows: list[dict], q: LogQuery) -> list[dict]:
    def keep(r: dict) -> bool:
        if not (q.start <= r["at"] <= q.end and r["level"] >= q.min_level):
            return False
        if q.loggers and not any(
            r["logger"] == n or r["logger"].startswith(n + ".") for n in q.loggers
        ):
            return False
        if q.keyword:
            k = q.keyword.lower()
            return k in r["message"].lower() or k in (r["exc_text"] or "").lower()
        return True

    return sorted((r for r in rows if keep(r)), key=lambda r: r["at"], reverse=True)


CASES = [
    {"range": "6h"},
    {"range": "24h", "level": "warning"},
    {"range": "24h", "logger": "bi_app.jobs"},  # the child logger too, not bi_app_other
    {"range": "24h", "q": "100%"},  # literal percent
    {"range": "24h", "q": "used_by"},  # literal underscore
    {"range": "24h", "q": "timeout", "level": "DEBUG"},  # case-insensitive, message or traceback
    {
        "range": "custom",
        "start": "2026-05-20T03:00",
        "end": "2026-05-20T09:30",
        "logger": "werkzeug,bi_app.data",
    },
]


@pytest.mark.parametrize("raw", CASES)
def test_filters_give_the_same_answers_on_both_databases(engine, raw):
    data = _dataset()
    with engine.begin() as conn:
        conn.execute(insert(T), data)
    q = parse_log_query(raw, now=NOW).query
    expected = _expected(data, q)
    page = fetch_logs(q, engine=engine, limit=50)
    assert page.total == len(expected)
    assert [r["message"] for r in page.rows] == [r["message"] for r in expected[:50]]

    step = bucket_seconds(q.start, q.end)
    counts = Counter(
        (int(r["at"].replace(tzinfo=dt.UTC).timestamp()) // step * step, r["level_name"])
        for r in expected
    )
    volume = level_volume(q, engine=engine)
    got = {(int(b.replace(tzinfo=dt.UTC).timestamp()), lvl): n for b, lvl, n in volume.points}
    assert got == dict(counts)


def test_tail_returns_only_new_lines_and_reloads_at_the_cap(engine):
    data = _dataset()[:20]
    with engine.begin() as conn:
        conn.execute(insert(T), data)
    q = parse_log_query({"range": "24h", "level": "DEBUG"}, now=NOW + dt.timedelta(minutes=5)).query
    view = load_log_view(q, engine=engine, limit=25)
    assert len(view.page.rows) == 20
    state = view.tail_state
    assert tail_logs(q, state, engine=engine, limit=25).new_rows == []
    with engine.begin() as conn:
        conn.execute(
            insert(T),
            [
                {
                    "at": NOW + dt.timedelta(minutes=1, seconds=s),
                    "level": 20,
                    "level_name": "INFO",
                    "logger": "bi_app.new",
                    "message": f"new {s}",
                }
                for s in range(3)
            ],
        )
    result = tail_logs(q, state, engine=engine, limit=25)
    assert [r["message"] for r in result.new_rows] == ["new 2", "new 1", "new 0"]
    assert result.state["shown"] == 23 and result.total == 23 and result.reload is None
    with engine.begin() as conn:
        conn.execute(
            insert(T),
            [
                {
                    "at": NOW + dt.timedelta(minutes=2, seconds=s),
                    "level": 20,
                    "level_name": "INFO",
                    "logger": "bi_app.new",
                    "message": f"more {s}",
                }
                for s in range(5)
            ],
        )
    result = tail_logs(q, result.state, engine=engine, limit=25)
    assert result.reload is not None and len(result.reload.rows) == 25 and result.total == 28
    with engine.connect() as conn:
        assert result.state["last_id"] == conn.execute(select(func.max(T.c.id))).scalar_one()
