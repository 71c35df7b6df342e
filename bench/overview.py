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

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from bench.harness import (
    RESULTS_DIR,
    bench_call,
    parse_args,
    print_table,
    setup,
    targets,
    write_report,
)
from bi_app.data import cache as data_cache
from bi_app.data import catalog, sales

RESULTS = RESULTS_DIR / "overview.json"


def invalidate_sales() -> None:
    """A cache miss for every call here: the ``sales`` namespace is emptied."""
    data_cache.invalidate("sales")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__.splitlines()[0], RESULTS, argv)
    bench = setup(args, "bench.overview")
    engine, results = bench.engine, []
    with bench.running():
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
            (
                "sales_totals electronics",
                lambda: sales.sales_totals(start, end, categories=("electronics",)),
            ),
        ]
        for name, call in calls:
            results.append(
                bench_call(
                    engine,
                    bench.recorder,
                    name,
                    call,
                    args.runs,
                    args.hit_runs,
                    invalidate=invalidate_sales,
                )
            )
        stats = data_cache.cache_stats()

    with engine.connect() as conn:
        server_version = (
            conn.exec_driver_sql("SHOW server_version").scalar()
            if engine.dialect.name == "postgresql"
            else engine.dialect.name
        )
    print(
        f"\n{bench.orders:,} orders, window {start}..{end}, cache {bench.cache_label}, "
        f"database {engine.dialect.name} {server_version}\n"
    )
    print_table(results)
    ok = all(r.miss_ok and r.hit_ok and not r.raw_tables_touched for r in results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "orders": bench.orders,
        "window": [start.isoformat(), end.isoformat()],
        "cache_backend": bench.cache_backend,
        "database": f"{engine.dialect.name} {server_version}",
        "targets": targets(),
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
        "cache_stats": {k: stats[k] for k in ("hits", "misses", "errors", "hit_ratio")},
    }
    return write_report(args.output, report, ok)


if __name__ == "__main__":
    sys.exit(main())
