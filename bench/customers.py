"""Customers page data calls at scale: cache miss and hit against the raw SQL they run.

    python -m bench.customers [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Same database, cache and targets as :mod:`bench.overview` (whose helpers this reuses): miss <=
1.5 x raw SQL + 30 ms, hit <= 10 ms (medians). The customer stats, snapshots and tags are
recomputed first (timed and reported: that is the daily job's cost). Writes
bench/results/customers.json and exits 1 when a target fails.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.overview import (
    DEFAULT_REDIS,
    HIT_LIMIT_MS,
    MISS_FACTOR,
    MISS_SLACK_MS,
    CallResult,
    StatementRecorder,
    bench_url,
    ensure_data,
    make_server,
    print_table,
    redis_available,
    replay_ms,
    summary,
    timed_ms,
)
from bi_app.config import Settings
from bi_app.customer_tags import recompute
from bi_app.data import cache as data_cache
from bi_app.data import catalog, customers
from bi_app.extensions import db

RESULTS = Path(__file__).resolve().parent / "results" / "customers.json"


def bench_call(engine: Any, recorder: StatementRecorder, name: str, call: Callable[[], Any],
               runs: int, hit_runs: int) -> CallResult:
    """Like :func:`bench.overview.bench_call`, for the customers namespace; raw tables are
    allowed here (repeat purchases count orders), so none are flagged."""
    data_cache.invalidate(customers.NAMESPACE)
    statements = recorder.capture(call)
    raw = [replay_ms(engine, statements) for _ in range(runs)]
    misses = []
    for _ in range(runs):
        data_cache.invalidate(customers.NAMESPACE)
        misses.append(timed_ms(call))
    call()
    hits = [timed_ms(call) for _ in range(hit_runs)]
    raw_s, miss_s, hit_s = summary(raw), summary(misses), summary(hits)
    target = MISS_FACTOR * raw_s["median"] + MISS_SLACK_MS
    return CallResult(name, len(statements), raw_s, miss_s, hit_s, round(target, 2),
                      miss_s["median"] <= target, hit_s["median"] <= HIT_LIMIT_MS, [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--hit-runs", type=int, default=50)
    parser.add_argument("--reload", action="store_true")
    parser.add_argument("--schema", default="bench")
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
            began = time.perf_counter()
            job = recompute(engine, end + dt.timedelta(days=1), full_snapshots=True)
            job_seconds = round(time.perf_counter() - began, 2)
            print(f"recompute (full snapshots): {job_seconds} s, {job}", flush=True)
            q_start = end - dt.timedelta(days=89)
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("customer_kpis 90 days", lambda: customers.customer_kpis(q_start, end)),
                ("customer_kpis web", lambda: customers.customer_kpis(q_start, end, ("web",))),
                ("cohort_retention 1 year", lambda: customers.cohort_retention(start, end)),
                ("segment_summary", customers.segment_summary),
                ("segment_trend 1 year", lambda: customers.segment_trend(start, end)),
                ("segment_movement 1 year", lambda: customers.segment_movement(start, end)),
                ("rfm_grid", customers.rfm_grid),
                ("tag_counts", customers.tag_counts),
                ("customer_list 5000", lambda: customers.customer_list()),
                ("customer_list loyal", lambda: customers.customer_list("loyal")),
                ("stats_status", customers.stats_status),
            ]
            for name, call in calls:
                results.append(bench_call(engine, recorder, name, call, args.runs, args.hit_runs))
    finally:
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)

    print(f"\n{orders:,} orders, window {start}..{end}, cache {'Redis' if redis_url else 'SimpleCache'}, "
          f"database {engine.dialect.name}\n")
    print_table(results)
    ok = all(r.miss_ok and r.hit_ok for r in results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "orders": orders,
        "window": [start.isoformat(), end.isoformat()], "recompute_seconds": job_seconds, "recompute": job,
        "cache_backend": "RedisCache" if redis_url else "SimpleCache", "all_targets_met": ok,
        "results": [asdict(r) for r in results],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\n{'all targets met' if ok else 'TARGETS MISSED'}; wrote {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
