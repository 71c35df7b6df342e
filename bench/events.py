"""Events pages' data calls at scale: cache miss and hit against the raw SQL they run.

    python -m bench.events [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Same database, cache and targets as :mod:`bench.overview` (whose helpers this reuses): miss <=
1.5 x raw SQL + 30 ms, hit <= 10 ms (medians). Measured: the Events list, every data call of one
event's page (the held event with the most registrations whose organizer has an earlier event, so
the comparison and the "views vs previous event" paths run), and that event's channel report as
the summary callback fetches it — the built-in demo source for every channel, no network.

A miss empties the ``events`` namespace and, for the channel report, the report's own cache
entries. "Raw SQL" replays the statements of that miss on one connection in autocommit mode:
the channel report writes each channel's last-good value in its own transaction, and those
commits belong to the floor (the replay writes the same values again, a few ms older). The channel sources run in
parallel threads, so their statements are compared as a multiset, not in order. Reading
``orders`` is allowed here (sales around an event's dates); the JSON lists which calls do.
Writes bench/results/events.json and exits 1 when a target fails.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import sys
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench.overview import (
    DEFAULT_REDIS,
    HIT_LIMIT_MS,
    MISS_FACTOR,
    MISS_SLACK_MS,
    RAW_TABLES,
    CallResult,
    StatementRecorder,
    bench_url,
    ensure_data,
    make_server,
    print_table,
    redis_available,
    summary,
    timed_ms,
)
from bi_app.channels.config import load_configs
from bi_app.channels.report import event_channels
from bi_app.channels.service import ChannelReport
from bi_app.config import Settings
from bi_app.data import cache as data_cache
from bi_app.data import events
from bi_app.extensions import cache, db

RESULTS = Path(__file__).resolve().parent / "results" / "events.json"
Statements = list[tuple[str, Any]]


def replay_autocommit_ms(engine: Engine, statements: Statements) -> float:
    """The statements alone on one connection, rows fetched, each committed on its own: the
    channel report's last-good writes are separate transactions, and their commits are part of
    the work a miss cannot avoid (replaying them rewrites the values just written)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        return timed_ms(lambda: _run_all(conn, statements))


def _run_all(conn: Any, statements: Statements) -> None:
    for statement, parameters in statements:
        result = conn.exec_driver_sql(statement, parameters)
        if result.returns_rows:
            result.fetchall()


def _shape(statements: Statements) -> Counter[str]:
    return Counter(statement for statement, _ in statements)


def bench_call(engine: Engine, recorder: StatementRecorder, name: str, call: Callable[[], Any],
               runs: int, hit_runs: int, invalidate: Callable[[], None]) -> tuple[CallResult, list[str]]:
    """Like :func:`bench.overview.bench_call` with a caller-given invalidation; returns the
    result and the raw tables its statements read (reported, not judged)."""
    invalidate()
    statements = recorder.capture(call)  # also warms PostgreSQL's buffers for the runs below
    raw, misses, previous = [], [], statements
    for run in range(runs):
        if run % 2:  # replay first on odd runs: neither side always gets the warmer buffers
            raw.append(replay_autocommit_ms(engine, previous))
        invalidate()
        elapsed, ran = recorder.timed(call)
        misses.append(elapsed)
        if run % 2 == 0:
            raw.append(replay_autocommit_ms(engine, ran))
        elif _shape(ran) != _shape(previous):
            raise RuntimeError(f"{name}: a cache miss sent other statements than the one before it")
        previous = ran
    touched = sorted({m.group(1).lower() for s, _ in previous for m in RAW_TABLES.finditer(s)})
    call()
    hits = [timed_ms(call) for _ in range(hit_runs)]
    raw_s, miss_s, hit_s = summary(raw), summary(misses), summary(hits)
    target = MISS_FACTOR * raw_s["median"] + MISS_SLACK_MS
    result = CallResult(name, len(previous), raw_s, miss_s, hit_s, round(target, 2),
                        miss_s["median"] <= target, hit_s["median"] <= HIT_LIMIT_MS, [])
    return result, touched


def report_keys(engine: Engine, event_ids: list[int]) -> list[str]:
    """The cache keys :func:`bi_app.channels.report.channel_report` uses for these events."""
    configs = load_configs(engine)
    digest = hashlib.sha256("|".join(c.fingerprint() for c in configs).encode()).hexdigest()[:12]
    return [f"channels:report:{event_id}:{digest}" for event_id in event_ids]


def pick_event() -> tuple[int, int | None]:
    """The held event with the most registrations that has an earlier event of its organizer
    (else the one with the most registrations), and that earlier event."""
    listed = events.events_list()
    if listed.empty:
        raise SystemExit("no events in the data set: nothing to benchmark")
    ranked = listed.sort_values(["registered", "event_id"], ascending=[False, True])
    held = ranked[ranked["status"].isin(events.HELD_STATUSES)]
    for event_id in [int(i) for i in held["event_id"]] + [int(i) for i in ranked["event_id"]]:
        previous = events.previous_event_id(event_id)
        if previous is not None:
            return event_id, previous
    return int(ranked.iloc[0]["event_id"]), None


def event_calls(event_id: int, timezone: str) -> list[tuple[str, Callable[[], Any]]]:
    """What the Events list and one event's page ask for, with the callbacks' arguments."""
    return [
        ("events_list", events.events_list),
        ("event_summary", lambda: events.event_summary(event_id)),
        ("what_if_base", lambda: events.what_if_base(event_id)),
        ("checkins_by_hour", lambda: events.checkins_by_hour(event_id, timezone)),
        ("participant_profile", lambda: events.participant_profile(event_id)),
        ("organizer_comparison", lambda: events.organizer_comparison(event_id)),
        ("event_advice", lambda: events.event_advice(event_id)),
    ]


def bench_channels(engine: Engine, recorder: StatementRecorder, event_id: int, previous: int | None,
                   runs: int, hit_runs: int) -> tuple[CallResult, list[str]]:
    """``event_channels`` as the summary callback calls it: this event's and the previous
    event's reports (demo source) plus the lookups around them."""
    if any(c.enabled for c in load_configs(engine)):
        raise SystemExit("channel_sources has an enabled HTTP source: this bench uses the demo source only")
    keys = report_keys(engine, [event_id] + ([previous] if previous is not None else []))

    def invalidate() -> None:
        data_cache.invalidate(events.NAMESPACE)
        for key in keys:
            cache.delete(key)

    def call() -> None:
        found = event_channels(event_id)
        if found is None or len(found.report.results) == 0:
            raise RuntimeError(f"event {event_id}: no channel report")

    call()
    missing = [k for k in keys if not isinstance(cache.get(k), ChannelReport)]
    if missing:  # else every "miss" below would be a hit and the numbers a lie
        raise RuntimeError(f"channel report not cached under {missing}: the key scheme changed")
    return bench_call(engine, recorder, "event_channels (demo source)", call, runs, hit_runs, invalidate)


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
    raw_reads: dict[str, list[str]] = {}
    try:
        with server.app_context():
            event_id, previous = pick_event()

            def invalidate() -> None:
                data_cache.invalidate(events.NAMESPACE)

            for name, call in event_calls(event_id, settings.timezone):
                result, touched = bench_call(engine, recorder, name, call, args.runs, args.hit_runs, invalidate)
                results.append(result)
                raw_reads[name] = touched
            result, touched = bench_channels(engine, recorder, event_id, previous, args.runs, args.hit_runs)
            results.append(result)
            raw_reads[result.name] = touched
            listed = len(events.events_list())
    finally:
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)

    print(f"\n{orders:,} orders, {listed} events, detail of event {event_id} (previous {previous}), "
          f"cache {'Redis' if redis_url else 'SimpleCache'}, database {engine.dialect.name}\n")
    print_table(results)
    reading = {name: tables for name, tables in raw_reads.items() if tables}
    if reading:
        print("reading raw tables (allowed here): "
              + "; ".join(f"{name}: {', '.join(t)}" for name, t in reading.items()))
    ok = all(r.miss_ok and r.hit_ok for r in results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "orders": orders,
        "events": listed, "event_id": event_id, "previous_event_id": previous,
        "cache_backend": "RedisCache" if redis_url else "SimpleCache",
        "database": engine.dialect.name,
        "targets": {"miss": f"<= {MISS_FACTOR} x raw SQL + {MISS_SLACK_MS:g} ms (median)",
                    "hit": f"<= {HIT_LIMIT_MS:g} ms (median)"},
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
        "raw_tables_read": raw_reads,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"\n{'all targets met' if ok else 'TARGETS MISSED'}; wrote {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
