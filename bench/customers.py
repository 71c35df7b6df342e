"""Customers page data calls at scale: cache miss and hit against the raw SQL they run.

    python -m bench.customers [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Same database, cache and targets as :mod:`bench.overview` (both use :mod:`bench.harness`): miss <=
1.5 x raw SQL + 30 ms, hit <= 10 ms (medians). First the daily job is timed: a full recompute,
then an incremental one after adding ~1,000 orders and ~1,000 visits for existing customers
(targets: full <= 60 s, incremental <= 5 s at 10M orders), and the added rows are deleted again
(a third, incremental, run puts the figures back). Then the full runs a threshold change makes
(``customers.growing_max_visits`` raised by 2, then restored) are timed too; the full target
holds for the slowest of the three. When the activity months were never built
(a new data set, or a database from before migration 0019), a first run builds them from every
visit and order; it is timed and reported on its own (``months_build_seconds``), as it happens
once, not daily. Writes bench/results/customers.json and exits 1 when a target fails.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from bench.harness import (
    RESULTS_DIR,
    as_multiset,
    bench_call,
    parse_args,
    print_table,
    setup,
    write_report,
)
from bi_app.customer_tags import last_succeeded, recompute
from bi_app.data import cache as data_cache
from bi_app.data import catalog, customers, settings
from bi_app.db.analytics_models import TAGS
from bi_app.db.models import Customer, Order, Visit

RESULTS = RESULTS_DIR / "customers.json"


def invalidate_customers() -> None:
    data_cache.invalidate(customers.NAMESPACE)


BENCH_PREFIX = "BENCH-ADD-"
FULL_TARGET_S = 60.0
THRESHOLD = "customers.growing_max_visits"
INCREMENTAL_TARGET_S = 5.0


def add_activity(engine: Engine, end: dt.date, n: int) -> str:
    """``n`` paid orders and ``n`` visits on ``end`` for existing customers (marked for removal)."""
    with engine.begin() as conn:
        ids = conn.execute(select(Customer.id).order_by(Customer.id).limit(n)).scalars().all()
        platform = conn.execute(select(func.min(Order.platform_id))).scalar_one()
        at = dt.datetime.combine(end, dt.time(12))
        conn.execute(
            insert(Order),
            [
                {
                    "order_number": f"{BENCH_PREFIX}{i}",
                    "customer_id": cid,
                    "platform_id": platform,
                    "status": "paid",
                    "ordered_at": at,
                    "total_cents": 12_345,
                }
                for i, cid in enumerate(ids)
            ],
        )
        conn.execute(
            insert(Visit),
            [
                {
                    "customer_id": cid,
                    "platform_id": platform,
                    "visited_at": at,
                    "channel": BENCH_PREFIX,
                }
                for cid in ids
            ],
        )
    return f"{len(ids)} orders and visits"


def remove_activity(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(delete(Order).where(Order.order_number.like(f"{BENCH_PREFIX}%")))
        conn.execute(delete(Visit).where(Visit.channel == BENCH_PREFIX))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], RESULTS, argv)
    bench = setup(args, "bench.customers")
    engine, results = bench.engine, []
    with bench.running():
        bounds = catalog.data_bounds()
        if bounds is None:
            print("no data in the roll-ups: nothing to benchmark", file=sys.stderr)
            return 1
        end = bounds[1]
        start = max(bounds[0], end - dt.timedelta(days=364))
        today = end + dt.timedelta(days=1)
        build = None
        with engine.connect() as conn:
            last = last_succeeded(conn)
        if last is None or not last.activity_months:
            build = recompute(engine, today)
            print(f"recompute (building the activity months): {build['seconds']} s, {build}")
        began = time.perf_counter()
        job = recompute(engine, today, full=True)
        job_seconds = round(time.perf_counter() - began, 2)
        print(f"recompute (full): {job_seconds} s, {job}", flush=True)
        # the run a threshold change makes: segments and paths of many customers change
        growing = settings.all_settings()[THRESHOLD]
        settings.save_one(THRESHOLD, growing + 2, actor="bench")
        try:
            changed = recompute(engine, today)
        finally:
            settings.save_one(THRESHOLD, growing, actor="bench")
        print(f"recompute (thresholds changed): {changed['seconds']} s, {changed}", flush=True)
        restored_thresholds = recompute(engine, today)
        print(f"recompute (thresholds restored): {restored_thresholds['seconds']} s", flush=True)
        added = add_activity(engine, end, 1000)
        began = time.perf_counter()
        incremental = recompute(engine, today)
        incremental_seconds = round(time.perf_counter() - began, 2)
        print(f"recompute (incremental, {added}): {incremental_seconds} s, {incremental}")
        remove_activity(engine)
        restored = recompute(engine, today)
        print(f"recompute (incremental, additions deleted): {restored['seconds']} s", flush=True)
        q_start = end - dt.timedelta(days=89)
        deep_key = customers.page_key(customers.customer_page(39_900, 40_000), "spend_cents")
        calls: list[tuple[str, Callable[[], Any]]] = [
            ("customer_kpis 90 days", lambda: customers.customer_kpis(q_start, end)),
            ("customer_kpis web", lambda: customers.customer_kpis(q_start, end, ("web",))),
            ("cohort_retention 1 year", lambda: customers.cohort_retention(start, end)),
            ("segment_summary", customers.segment_summary),
            ("segment_trend 1 year", lambda: customers.segment_trend(start, end)),
            ("segment_movement 1 year", lambda: customers.segment_movement(start, end)),
            ("rfm_grid", customers.rfm_grid),
            ("tag_counts", customers.tag_counts),
            ("stats_status", customers.stats_status),
            ("customer_count all", lambda: customers.customer_count()),
            ("customer_count loyal+tag", lambda: customers.customer_count("loyal", TAGS[4])),
        ]
        for sort in customers.SORT_KEYS:
            for descending in (True, False):
                calls.append(
                    (
                        f"page 1 {sort} {'desc' if descending else 'asc'}",
                        lambda s=sort, d=descending: customers.customer_page(
                            0, 100, sort=s, descending=d
                        ),
                    )
                )
        calls += [
            ("page 1 loyal by spend", lambda: customers.customer_page(0, 100, "loyal")),
            ("page 1 vip by visits", lambda: customers.customer_page(0, 100, "vip", sort="visits")),
            (
                "page 1 tag by last visit",
                lambda: customers.customer_page(0, 100, tag=TAGS[2], sort="last_visit"),
            ),
            ("page 11 (rows 1000-1100)", lambda: customers.customer_page(1000, 1100)),
            ("page at row 40,000 (offset)", lambda: customers.customer_page(40_000, 40_100)),
            (
                "page at row 40,000 (keyset)",
                lambda: customers.customer_page(40_000, 40_100, after=deep_key),
            ),
        ]
        for name, call in calls:
            result = bench_call(
                engine,
                bench.recorder,
                name,
                call,
                args.runs,
                args.hit_runs,
                invalidate=invalidate_customers,
                shape=as_multiset,
            )
            # raw tables are allowed here (repeat purchases count orders): none are flagged
            result.raw_tables_touched = []
            results.append(result)

    print(
        f"\n{bench.orders:,} orders, window {start}..{end}, cache {bench.cache_label}, "
        f"database {engine.dialect.name}\n"
    )
    print_table(results)
    slowest_full = max(job_seconds, changed["seconds"], restored_thresholds["seconds"])
    recompute_ok = slowest_full <= FULL_TARGET_S and incremental_seconds <= INCREMENTAL_TARGET_S
    ok = recompute_ok and all(r.miss_ok and r.hit_ok for r in results)
    print(
        f"full recompute {job_seconds} s asked, {changed['seconds']} s and "
        f"{restored_thresholds['seconds']} s after threshold changes (target {FULL_TARGET_S} s), "
        "incremental "
        f"{incremental_seconds} s (target {INCREMENTAL_TARGET_S} s)"
        + ("" if build is None else f"; building the activity months first: {build['seconds']} s")
    )
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": bench.orders,
        "window": [start.isoformat(), end.isoformat()],
        "recompute_seconds": job_seconds,
        "recompute": job,
        "recompute_targets_s": {"full": FULL_TARGET_S, "incremental": INCREMENTAL_TARGET_S},
        "thresholds_changed": changed,
        "thresholds_restored": restored_thresholds,
        "recompute_ok": recompute_ok,
        "months_build_seconds": None if build is None else build["seconds"],
        "months_build": build,
        "incremental_seconds": incremental_seconds,
        "incremental": incremental,
        "cache_backend": bench.cache_backend,
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
    }
    return write_report(args.output, report, ok)


if __name__ == "__main__":
    sys.exit(main())
