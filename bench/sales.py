"""Sales page data calls at scale: cache miss and hit against the raw SQL they run.

    python -m bench.sales [--orders 1000000] [--runs 7] [--hit-runs 50] [--reload]

Same database, cache and targets as :mod:`bench.overview`, whose ``bench_call`` measures every
call here: miss <= 1.5 x raw SQL + 30 ms, hit <= 10 ms (medians), and no statement may read
``orders`` or ``order_items`` (the page runs on the roll-ups). The calls are the ones the
callbacks in ``callbacks/sales.py`` make, with their positional arguments, over the last full
year of data: the KPIs, the revenue/growth and lost-orders trends by day, week and month, the
platform x status, status and category breakdowns, and the product ranking by revenue and by
units — without filters and with a platform filter, and the main ones with a status filter
(cancelled + refunded, what a click on the status chart selects) and a category filter. Every
callback also re-validates the filter bar against the catalogue (platforms, categories, data
bounds): those three calls are measured too. Writes bench/results/sales.json; exits 1 when a
target fails.

Row names: ``kpis`` = growth_kpis, ``by_platform_status`` / ``by_status`` =
orders_by_platform_status / orders_by_status, ``ranking <metric>`` = product_ranking; a suffix
names the filter: a platform code, ``lost`` (statuses cancelled + refunded) or a category code.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import events as events_bench
from bench.overview import (
    DEFAULT_REDIS,
    HIT_LIMIT_MS,
    MISS_FACTOR,
    MISS_SLACK_MS,
    CallResult,
    StatementRecorder,
    bench_call,
    bench_url,
    ensure_data,
    make_server,
    print_table,
    redis_available,
)
from bi_app.config import Settings
from bi_app.data import cache as data_cache
from bi_app.data import catalog, sales, sales_growth
from bi_app.extensions import db

RESULTS = Path(__file__).resolve().parent / "results" / "sales.json"
GRAINS = ("day", "week", "month")
LOST = ("cancelled", "refunded")
Call = tuple[str, Callable[[], Any]]


@dataclass(frozen=True)
class Variant:
    """One state of the page's filters, as the callbacks hand it to ``sales``."""

    label: str
    platforms: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None
    full: bool = True  # every grain and both rankings, else the page's defaults only

    def args(self) -> tuple[Any, ...]:
        return self.platforms, self.categories, self.statuses

    def name(self, what: str) -> str:
        return f"{what} {self.label}".strip()


def pick(codes: list[str], preferred: str) -> str:
    """``preferred`` when the catalogue has it (names stay comparable across runs), else the first."""
    if not codes:
        raise SystemExit("the catalogue is empty: nothing to benchmark")
    return preferred if preferred in codes else codes[0]


def variants(platform: str, category: str) -> list[Variant]:
    return [
        Variant(""),
        Variant(platform, platforms=(platform,)),
        Variant("lost", statuses=LOST, full=False),
        Variant(category, categories=(category,), full=False),
    ]


def sales_calls(start: dt.date, end: dt.date, v: Variant) -> list[Call]:
    """The Sales page's data calls for one filter state, argument for argument as its callbacks."""
    a = v.args()
    grains = GRAINS if v.full else ("day",)
    metrics = sales.RANK_METRICS if v.full else ("revenue",)
    calls: list[Call] = [(v.name("kpis"), lambda: sales_growth.growth_kpis(start, end, *a))]
    for grain in grains:
        calls += [
            (v.name(f"revenue_growth {grain}"),
             lambda g=grain: sales_growth.revenue_growth(start, end, *a, g)),
            (v.name(f"lost_orders_trend {grain}"),
             lambda g=grain: sales.lost_orders_trend(start, end, *a, g)),
        ]
    calls += [
        (v.name("by_platform_status"), lambda: sales.orders_by_platform_status(start, end, *a)),
        (v.name("by_status"), lambda: sales.orders_by_status(start, end, *a)),
        (v.name("category_sales"), lambda: sales.category_sales(start, end, *a)),
    ]
    calls += [(v.name(f"ranking {m}"), lambda m=m: sales.product_ranking(start, end, *a, m))
              for m in metrics]
    return calls


CATALOG_CALLS: list[Call] = [
    ("catalog.platforms", catalog.platforms),
    ("catalog.categories", catalog.categories),
    ("catalog.data_bounds", catalog.data_bounds),
]


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
            platform = pick([p["code"] for p in catalog.platforms()], "web")
            category = pick([c["code"] for c in catalog.categories()], "electronics")
            for variant in variants(platform, category):
                for name, call in sales_calls(start, end, variant):
                    results.append(bench_call(engine, recorder, name, call, args.runs, args.hit_runs))
            for name, call in CATALOG_CALLS:
                result, touched = events_bench.bench_call(
                    engine, recorder, name, call, args.runs, args.hit_runs,
                    lambda: data_cache.invalidate(catalog.NAMESPACE))
                result.raw_tables_touched = touched
                results.append(result)
    finally:
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url)
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)

    print(f"\n{orders:,} orders, window {start}..{end}, cache {'Redis' if redis_url else 'SimpleCache'}, "
          f"database {engine.dialect.name}\n")
    print_table(results)
    ok = all(r.miss_ok and r.hit_ok and not r.raw_tables_touched for r in results)
    report = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "orders": orders,
        "window": [start.isoformat(), end.isoformat()], "platform": platform, "category": category,
        "cache_backend": "RedisCache" if redis_url else "SimpleCache", "database": engine.dialect.name,
        "targets": {"miss": f"<= {MISS_FACTOR} x raw SQL + {MISS_SLACK_MS:g} ms (median)",
                    "hit": f"<= {HIT_LIMIT_MS:g} ms (median)", "raw_tables": "none read"},
        "all_targets_met": ok,
        "results": [asdict(r) for r in results],
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{'all targets met' if ok else 'TARGETS MISSED'}; wrote {args.output}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
