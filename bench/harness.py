"""What every data benchmark shares: arguments, database and cache set-up, the measurement of one
call (cache miss, hit and the raw SQL floor), the table and the JSON result file.

A benchmark module parses its arguments with :func:`parse_args`, builds a :class:`Bench` with
:func:`setup`, runs its calls inside ``with bench.running():`` (app context; the Redis keys it
made are deleted afterwards) through :func:`bench_call`, and writes its report with
:func:`write_report`. Targets: miss <= 1.5 x raw SQL + 30 ms, hit <= 10 ms (medians).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import flask
from sqlalchemy import Engine, create_engine, event, func, literal, select, text

from bi_app.config import Settings
from bi_app.data import cache as data_cache
from bi_app.db.models import Order
from bi_app.extensions import db

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
ORDERS_PER_SCALE = 50_000  # bi_app.db.demo: scale 1.0 is about 50k orders
RESULTS_DIR = Path(__file__).resolve().parent / "results"
RAW_TABLES = re.compile(
    r'\b(?:FROM|JOIN)\s+(?:"?\w+"?\.)?"?(orders|order_items)"?(?![\w.])', re.IGNORECASE
)
MISS_FACTOR, MISS_SLACK_MS, HIT_LIMIT_MS = 1.5, 30.0, 10.0

Statements = list[tuple[str, Any]]


@dataclass
class CallResult:
    name: str
    statements: int
    raw_sql_ms: dict[str, float]
    miss_ms: dict[str, float]
    hit_ms: dict[str, float]
    miss_target_ms: float
    miss_ok: bool
    hit_ok: bool
    raw_tables_touched: list[str] = field(default_factory=list)


# --- arguments, database, cache -------------------------------------------------------------


def parse_args(
    description: str, results: Path, argv: list[str] | None = None
) -> argparse.Namespace:
    """The flags every data benchmark takes (bench.run_all passes them)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to load when empty")
    parser.add_argument("--runs", type=int, default=7, help="cache-miss and raw SQL runs per call")
    parser.add_argument("--hit-runs", type=int, default=50)
    parser.add_argument("--reload", action="store_true", help="replace the bench data set")
    parser.add_argument(
        "--schema",
        default="bench",
        help="PostgreSQL schema for the data set (without BI_BENCH_DATABASE_URL)",
    )
    parser.add_argument("--output", type=Path, default=results)
    return parser.parse_args(argv)


def bench_url(schema: str) -> str:
    explicit = os.environ.get("BI_BENCH_DATABASE_URL")
    if explicit:
        return explicit
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise SystemExit(f"--schema: expected a plain lower-case identifier, got {schema!r}")
    base = os.environ.get("BI_TEST_DATABASE_URL", DEFAULT_PG)
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    admin.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


def bench_redis_url() -> str | None:
    """BI_BENCH_REDIS_URL / BI_TEST_REDIS_URL when it answers, else None (SimpleCache)."""
    url = os.environ.get("BI_BENCH_REDIS_URL") or os.environ.get("BI_TEST_REDIS_URL", DEFAULT_REDIS)
    return url if redis_available(url) else None


def redis_available(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        return True
    except Exception:  # noqa: BLE001 - no Redis: bench the in-process cache
        return False


@contextmanager
def data_set_lock(engine: Engine) -> Iterator[None]:
    """One benchmark at a time may migrate, load or refresh a schema's data set: at 10 million
    orders loading and refreshing the roll-ups take many minutes, and a second benchmark started
    meanwhile (another run, a colleague) would otherwise see empty roll-ups and refresh them a
    second time, concurrently. A PostgreSQL session advisory lock per schema, held on its own
    connection; waiters print why they wait."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        key = "select hashtext('bi-bench-data:' || current_schema())"
        got = conn.exec_driver_sql(f"select pg_try_advisory_lock(({key}))").scalar()
        if not got:
            print("another benchmark is loading this data set: waiting for it ...", flush=True)
            conn.exec_driver_sql(f"select pg_advisory_lock(({key}))")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"select pg_advisory_unlock(({key}))")


def ensure_data(engine: Engine, url: str, orders: int, reload: bool) -> int:
    """Migrate, then load the demo data set unless one of about the right size is there
    (under :func:`data_set_lock`)."""
    with data_set_lock(engine):
        return _ensure_data(engine, url, orders, reload)


def _ensure_data(engine: Engine, url: str, orders: int, reload: bool) -> int:
    from bi_app.db import demo, migrate
    from bi_app.db.rollups import ROLLUP_TABLES, refresh_rollups

    migrate.upgrade(url)
    with engine.connect() as conn:
        present = conn.execute(select(func.count()).select_from(Order)).scalar_one()
    if reload or present == 0:
        scale = orders / ORDERS_PER_SCALE
        print(f"loading demo data: scale {scale:g} (~{orders:,} orders, seed 42) ...", flush=True)
        summary_ = demo.load_demo(engine, scale=scale, seed=42, progress=True, replace=reload)
        print(f"loaded in {summary_['elapsed_seconds']} s", flush=True)
    elif abs(present - orders) > 0.2 * orders:
        print(f"note: reusing {present:,} orders (asked for ~{orders:,}; pass --reload to rebuild)")
    with engine.connect() as conn:
        present = conn.execute(select(func.count()).select_from(Order)).scalar_one()
        empty = [
            t.name
            for t in ROLLUP_TABLES
            if conn.execute(select(literal(1)).select_from(t).limit(1)).first() is None
        ]
    if empty and present:
        print(f"empty roll-up tables ({', '.join(empty)}): refreshing roll-ups ...", flush=True)
        print(refresh_rollups(engine))
    return present


def make_server(settings: Settings, prefix: str, name: str = "bench") -> flask.Flask:
    server = flask.Flask(name)
    data_cache.init_app(server, settings, key_prefix=prefix)
    return server


@dataclass
class Bench:
    """One benchmark's database, cache, Flask server and statement recorder."""

    url: str
    redis_url: str | None
    engine: Engine
    orders: int
    prefix: str
    settings: Settings
    server: flask.Flask
    recorder: StatementRecorder

    @property
    def cache_backend(self) -> str:
        return "RedisCache" if self.redis_url else "SimpleCache"

    @property
    def cache_label(self) -> str:
        return "Redis" if self.redis_url else "SimpleCache"

    @contextmanager
    def running(self) -> Iterator[None]:
        """The server's app context; the cache keys made meanwhile are deleted afterwards."""
        try:
            with self.server.app_context():
                yield
        finally:
            self.cleanup()

    def cleanup(self) -> None:
        if self.redis_url:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            for key in client.scan_iter(f"{self.prefix}*"):
                client.delete(key)


def setup(args: argparse.Namespace, name: str) -> Bench:
    """Database (schema, migrations, demo data), cache (Redis if it answers) and server."""
    url = bench_url(args.schema)
    redis_url = bench_redis_url()
    db.init(url)
    engine = db.require_engine()
    orders = ensure_data(engine, url, args.orders, args.reload)
    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    settings = Settings(
        env="test",
        database_url=url,
        redis_url=redis_url,
        secret_key="bench-" * 4,
        cache_ttl=600,
        scheduler=False,
    )
    server = make_server(settings, prefix, name)
    return Bench(
        url, redis_url, engine, orders, prefix, settings, server, StatementRecorder(engine)
    )


# --- measuring one call ---------------------------------------------------------------------


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median": round(statistics.median(ordered), 2), "p95": round(p95, 2), "n": len(ordered)}


class StatementRecorder:
    """Collects (statement, parameters) of what the engine sends while ``active``."""

    def __init__(self, engine: Engine) -> None:
        self.active = False
        self.statements: Statements = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.active:
            self.statements.append((statement, parameters))

    def capture(self, call: Callable[[], Any]) -> Statements:
        self.statements, self.active = [], True
        try:
            call()
        finally:
            self.active = False
        return self.statements

    def timed(self, call: Callable[[], Any]) -> tuple[float, Statements]:
        """Milliseconds of one call and the statements it sent."""
        self.statements, self.active = [], True
        try:
            return timed_ms(call), self.statements
        finally:
            self.active = False


def timed_ms(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000.0


def replay_ms(engine: Engine, statements: Statements) -> float:
    """The statements alone, on one pooled connection, results fetched — the floor for a miss."""
    with engine.connect() as conn:
        began = time.perf_counter()
        for statement, parameters in statements:
            conn.exec_driver_sql(statement, parameters).fetchall()
        return (time.perf_counter() - began) * 1000.0


def replay_autocommit_ms(engine: Engine, statements: Statements) -> float:
    """The statements alone on one connection, rows fetched, each committed on its own: for calls
    that write in their own transactions (commits are part of the work a miss cannot avoid)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return timed_ms(lambda: _run_all(conn, statements))


def _run_all(conn: Any, statements: Statements) -> None:
    for statement, parameters in statements:
        result = conn.exec_driver_sql(statement, parameters)
        if result.returns_rows:
            result.fetchall()


def in_order(statements: Statements) -> Hashable:
    """Two misses must send the same statements in the same order."""
    return tuple(statement for statement, _ in statements)


def as_multiset(statements: Statements) -> Counter[str]:
    """Two misses must send the same statements, in any order (calls that fan out to threads)."""
    return Counter(statement for statement, _ in statements)


def bench_call(
    engine: Engine,
    recorder: StatementRecorder,
    name: str,
    call: Callable[[], Any],
    runs: int,
    hit_runs: int,
    *,
    invalidate: Callable[[], None],
    replay: Callable[[Engine, Statements], float] = replay_ms,
    shape: Callable[[Statements], Any] | None = in_order,
) -> CallResult:
    """Time ``call`` on ``runs`` cache misses (``invalidate`` before each) and ``hit_runs`` hits,
    against ``replay`` of the statements a miss sent. Raw SQL and miss alternate which goes
    first, so neither side always gets the warmer buffers. ``shape`` (unless None) must give the
    same value for every miss, or the runs would not measure the same work. The result counts the
    statements of the last miss and lists the raw tables (orders, order_items) any miss read;
    the caller decides whether reading them fails."""
    invalidate()
    statements = recorder.capture(call)  # also warms PostgreSQL's buffers for the runs below
    raw, misses, sent = [], [], [statements]
    for run in range(runs):
        if run % 2:  # replay first on odd runs
            raw.append(replay(engine, sent[-1]))
        invalidate()
        elapsed, ran = recorder.timed(call)
        misses.append(elapsed)
        if run % 2 == 0:
            raw.append(replay(engine, ran))
        elif shape is not None and shape(ran) != shape(sent[-1]):
            raise RuntimeError(f"{name}: a cache miss sent other statements than the one before it")
        sent.append(ran)
    touched = sorted(
        {m.group(1).lower() for run in sent for s, _ in run for m in RAW_TABLES.finditer(s)}
    )
    call()
    hits = [timed_ms(call) for _ in range(hit_runs)]
    raw_s, miss_s, hit_s = summary(raw), summary(misses), summary(hits)
    target = MISS_FACTOR * raw_s["median"] + MISS_SLACK_MS
    return CallResult(
        name,
        len(sent[-1]),
        raw_s,
        miss_s,
        hit_s,
        round(target, 2),
        miss_s["median"] <= target,
        hit_s["median"] <= HIT_LIMIT_MS,
        touched,
    )


# --- reporting ------------------------------------------------------------------------------


def targets(raw_tables: bool = True) -> dict[str, str]:
    out = {
        "miss": f"<= {MISS_FACTOR} x raw SQL + {MISS_SLACK_MS:g} ms (median)",
        "hit": f"<= {HIT_LIMIT_MS:g} ms (median)",
    }
    if raw_tables:
        out["raw_tables"] = "none read"
    return out


def print_table(results: list[CallResult]) -> None:
    head = (
        f"{'call':<34}{'stmts':>6}{'raw med':>9}{'miss med':>10}{'miss p95':>10}"
        f"{'target':>9}{'hit med':>9}{'hit p95':>9}  verdict"
    )
    print(head)
    print("-" * len(head))
    for r in results:
        verdict = "ok" if r.miss_ok and r.hit_ok and not r.raw_tables_touched else "FAIL"
        if r.raw_tables_touched:
            verdict += f" (reads {', '.join(r.raw_tables_touched)})"
        print(
            f"{r.name:<34}{r.statements:>6}{r.raw_sql_ms['median']:>9.1f}{r.miss_ms['median']:>10.1f}"
            f"{r.miss_ms['p95']:>10.1f}{r.miss_target_ms:>9.1f}{r.hit_ms['median']:>9.2f}"
            f"{r.hit_ms['p95']:>9.2f}  {verdict}"
        )
    print("times in ms; miss target = 1.5 x raw SQL + 30 ms, hit target = 10 ms (medians)")


def write_report(output: Path, report: dict[str, Any], ok: bool) -> int:
    """Write the JSON result file (bench.run_all reads it); exit code 0 when every target is met."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\n{'all targets met' if ok else 'TARGETS MISSED'}; wrote {output}")
    return 0 if ok else 1
