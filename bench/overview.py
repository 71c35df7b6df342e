"""Overview page data calls at scale: cache miss and hit against the raw SQL they run.

    python -m bench.overview [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Database: BI_BENCH_DATABASE_URL, else BI_TEST_DATABASE_URL with its own schema ``bench``
(created, migrated and filled with demo data, seed 42, on first use; reused afterwards).
Cache: Redis at BI_BENCH_REDIS_URL / BI_TEST_REDIS_URL when it answers (a private key prefix,
removed afterwards), else the in-process SimpleCache.

For each call over the last full year of data: server time on a cache miss (the namespace is
invalidated before every run), on a hit, and "raw SQL": the statements that very miss sent,
replayed straight on the driver right before or after it (alternating), so both see the same
load on a shared machine. Targets: miss <= 1.5 x raw SQL + 30 ms, hit <= 10 ms (medians), and
no statement may read ``orders`` or ``order_items``. Prints a table, writes
bench/results/overview.json and exits 1 when a target fails.

An existing data set is reused; roll-up tables that are empty (e.g. a grain added by a newer
migration) are refreshed from the orders first, so the 1M orders need not be generated again.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import flask
from sqlalchemy import Engine, create_engine, event, func, literal, select, text

from bi_app.config import Settings
from bi_app.data import cache as data_cache
from bi_app.data import catalog, sales
from bi_app.db.models import Order
from bi_app.extensions import db

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/15"
ORDERS_PER_SCALE = 50_000  # bi_app.db.demo: scale 1.0 is about 50k orders
RESULTS = Path(__file__).resolve().parent / "results" / "overview.json"
RAW_TABLES = re.compile(r'\b(?:FROM|JOIN)\s+(?:"?\w+"?\.)?"?(orders|order_items)"?(?![\w.])', re.IGNORECASE)
MISS_FACTOR, MISS_SLACK_MS, HIT_LIMIT_MS = 1.5, 30.0, 10.0


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


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median": round(statistics.median(ordered), 2), "p95": round(p95, 2), "n": len(ordered)}


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


def ensure_data(engine: Engine, url: str, orders: int, reload: bool) -> int:
    """Migrate, then load the demo data set unless one of about the right size is there."""
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
        empty = [t.name for t in ROLLUP_TABLES
                 if conn.execute(select(literal(1)).select_from(t).limit(1)).first() is None]
    if empty and present:
        print(f"empty roll-up tables ({', '.join(empty)}): refreshing roll-ups ...", flush=True)
        print(refresh_rollups(engine))
    return present


def make_server(settings: Settings, prefix: str) -> flask.Flask:
    server = flask.Flask("bench.overview")
    data_cache.init_app(server, settings, key_prefix=prefix)
    return server


def redis_available(url: str) -> bool:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5).ping()
        return True
    except Exception:  # noqa: BLE001 - no Redis: bench the in-process cache
        return False


class StatementRecorder:
    """Collects (statement, parameters) of what the engine sends while ``active``."""

    def __init__(self, engine: Engine) -> None:
        self.active = False
        self.statements: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if self.active:
            self.statements.append((statement, parameters))

    def capture(self, call: Callable[[], Any]) -> list[tuple[str, Any]]:
        self.statements, self.active = [], True
        try:
            call()
        finally:
            self.active = False
        return self.statements

    def timed(self, call: Callable[[], Any]) -> tuple[float, list[tuple[str, Any]]]:
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


def replay_ms(engine: Engine, statements: list[tuple[str, Any]]) -> float:
    """The statements alone, on one pooled connection, results fetched — the floor for a miss."""
    with engine.connect() as conn:
        began = time.perf_counter()
        for statement, parameters in statements:
            conn.exec_driver_sql(statement, parameters).fetchall()
        return (time.perf_counter() - began) * 1000.0


def bench_call(engine: Engine, recorder: StatementRecorder, name: str, call: Callable[[], Any],
               runs: int, hit_runs: int) -> CallResult:
    data_cache.invalidate("sales")
    statements = recorder.capture(call)  # also warms PostgreSQL's buffers for the runs below
    raw, misses, sent = [], [], [statements]
    for run in range(runs):
        if run % 2:  # replay first on odd runs: neither side always gets the warmer buffers
            raw.append(replay_ms(engine, sent[-1]))
        data_cache.invalidate("sales")
        elapsed, ran = recorder.timed(call)
        misses.append(elapsed)
        sent.append(ran)
        if run % 2 == 0:
            raw.append(replay_ms(engine, ran))
        elif [s for s, _ in ran] != [s for s, _ in sent[-2]]:
            raise RuntimeError(f"{name}: a cache miss sent other statements than the one before it")
    touched = sorted({m.group(1).lower() for run in sent for s, _ in run for m in RAW_TABLES.finditer(s)})
    call()
    hits = [timed_ms(call) for _ in range(hit_runs)]
    raw_s, miss_s, hit_s = summary(raw), summary(misses), summary(hits)
    target = MISS_FACTOR * raw_s["median"] + MISS_SLACK_MS
    return CallResult(name, len(statements), raw_s, miss_s, hit_s, round(target, 2),
                      miss_s["median"] <= target, hit_s["median"] <= HIT_LIMIT_MS, touched)


def print_table(results: list[CallResult]) -> None:
    head = (f"{'call':<34}{'stmts':>6}{'raw med':>9}{'miss med':>10}{'miss p95':>10}"
            f"{'target':>9}{'hit med':>9}{'hit p95':>9}  verdict")
    print(head)
    print("-" * len(head))
    for r in results:
        verdict = "ok" if r.miss_ok and r.hit_ok and not r.raw_tables_touched else "FAIL"
        if r.raw_tables_touched:
            verdict += f" (reads {', '.join(r.raw_tables_touched)})"
        print(f"{r.name:<34}{r.statements:>6}{r.raw_sql_ms['median']:>9.1f}{r.miss_ms['median']:>10.1f}"
              f"{r.miss_ms['p95']:>10.1f}{r.miss_target_ms:>9.1f}{r.hit_ms['median']:>9.2f}"
              f"{r.hit_ms['p95']:>9.2f}  {verdict}")
    print("times in ms; miss target = 1.5 x raw SQL + 30 ms, hit target = 10 ms (medians)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to load when empty")
    parser.add_argument("--runs", type=int, default=7, help="cache-miss and raw SQL runs per call")
    parser.add_argument("--hit-runs", type=int, default=50)
    parser.add_argument("--reload", action="store_true", help="replace the bench data set")
    parser.add_argument("--schema", default="bench",
                        help="PostgreSQL schema for the data set (without BI_BENCH_DATABASE_URL)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    url = bench_url(args.schema)
    redis_url = os.environ.get("BI_BENCH_REDIS_URL") or os.environ.get("BI_TEST_REDIS_URL", DEFAULT_REDIS)
    if not redis_available(redis_url):
        redis_url = None
    db.init(url)
    engine = db.require_engine()
    orders = ensure_data(engine, url, args.orders, args.reload)

    prefix = f"bench-{uuid.uuid4().hex[:8]}:"
    settings = Settings(env="test", database_url=url, redis_url=redis_url, secret_key="bench-" * 4,
                        cache_ttl=600, scheduler=False)
    server = make_server(settings, prefix)
    recorder = StatementRecorder(engine)
    results: list[CallResult] = []
    try:
        with server.app_context():
            bounds = catalog.data_bounds()
            if bounds is None:
                print("no data in the roll-ups: nothing to benchmark", file=sys.stderr)
                return 1
            end = bounds[1]
            start = max(bounds[0], end - dt.timedelta(days=364))
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("overview_kpis", lambda: sales.overview_kpis(start, end)),
                ("revenue_trend day", lambda: sales.revenue_trend(start, end, granularity="day")),
                ("revenue_trend week", lambda: sales.revenue_trend(start, end, granularity="week")),
                ("revenue_trend month", lambda: sales.revenue_trend(start, end, granularity="month")),
                ("orders_by_platform_status", lambda: sales.orders_by_platform_status(start, end)),
                ("top_products 100", lambda: sales.top_products(start, end, limit=100)),
                ("top_products 100 web", lambda: sales.top_products(start, end, ("web",), limit=100)),
                ("sales_totals web", lambda: sales.sales_totals(start, end, ("web",))),
                ("sales_totals electronics",
                 lambda: sales.sales_totals(start, end, categories=("electronics",))),
            ]
            for name, call in calls:
                results.append(bench_call(engine, recorder, name, call, args.runs, args.hit_runs))
            stats = data_cache.cache_stats()
    finally:
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)

    with engine.connect() as conn:
        server_version = conn.exec_driver_sql("SHOW server_version").scalar() \
            if engine.dialect.name == "postgresql" else engine.dialect.name
    print(f"\n{orders:,} orders, window {start}..{end}, cache {'Redis' if redis_url else 'SimpleCache'}, "
          f"database {engine.dialect.name} {server_version}\n")
    print_table(results)
    ok = all(r.miss_ok and r.hit_ok and not r.raw_tables_touched for r in results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": orders, "window": [start.isoformat(), end.isoformat()],
        "cache_backend": "RedisCache" if redis_url else "SimpleCache",
        "database": f"{engine.dialect.name} {server_version}",
        "targets": {"miss": f"<= {MISS_FACTOR} x raw SQL + {MISS_SLACK_MS:g} ms (median)",
                    "hit": f"<= {HIT_LIMIT_MS:g} ms (median)", "raw_tables": "none read"},
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
        "cache_stats": {k: stats[k] for k in ("hits", "misses", "errors", "hit_ratio")},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'all targets met' if ok else 'TARGETS MISSED'}; wrote {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
