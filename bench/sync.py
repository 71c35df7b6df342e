"""Sync time for changed rows: ``bi-app sync`` from a source database into PostgreSQL.

    python -m bench.sync [--rows 100000] [--schema bench_sync]

The source is a SQLite file (the shop's own database) with ``--rows`` orders (one item each) and
``--rows`` / 5 customers, each row with an ``updated_at``. The target is a fresh PostgreSQL schema
with the platforms and products the orders name. Runs:

1. **first**: every row is new;
2. **changed**: ``--rows`` orders get a new status and ``updated_at`` at the source (every order,
   so the run reads, checks and merges ``--rows`` changed rows), the customers are unchanged;
3. **unchanged**: nothing changed: the sync reads nothing and imports nothing.

Target (the issue "A real business's own data on day one" asks for the figure, with no number):
reported; the check is that run 2 imports exactly the changed rows and run 3 none. Writes
bench/results/sync.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, select

from bench.harness import RESULTS_DIR, write_report
from bench.imports import _fresh_schema
from bi_app.db.models import Category, Product, SalesPlatform
from bi_app.importing.sync import parse_mapping, run_sync

RESULTS = RESULTS_DIR / "sync.json"
T0 = dt.datetime(2025, 3, 1, 8, 0)


def _source(path: Path, rows: int) -> None:
    rng = random.Random(11)
    customers = max(rows // 5, 1)
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, updated_at TEXT)")
        db.execute(
            "CREATE TABLE orders (no TEXT PRIMARY KEY, customer TEXT, channel TEXT, state TEXT,"
            " placed_at TEXT, sku TEXT, qty INTEGER, price TEXT, updated_at TEXT)"
        )
        db.execute("CREATE INDEX orders_updated ON orders (updated_at)")
        db.execute("CREATE INDEX customers_updated ON customers (updated_at)")
        stamp = T0.isoformat(sep=" ")
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            ((f"S-C{i:07d}", f"Customer {i}", stamp) for i in range(customers)),
        )
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, 'web', 'paid', ?, ?, ?, ?, ?)",
            (
                (
                    f"S-O{i:08d}",
                    f"S-C{rng.randrange(customers):07d}",
                    (T0 - dt.timedelta(minutes=rng.randrange(40_000))).isoformat(sep=" "),
                    f"S-SKU-{rng.randrange(50):02d}",
                    1 + rng.randrange(3),
                    f"{1 + rng.randrange(9_000) / 100:.2f}",
                    stamp,
                )
                for i in range(rows)
            ),
        )


def _mapping(path: Path) -> Any:
    return parse_mapping(
        {
            "name": "benchshop",
            "url": f"sqlite:///{path}",
            "kinds": [
                {
                    "kind": "customers",
                    "table": "customers",
                    "watermark": "updated_at",
                    "columns": {"external_id": "id", "name": "name"},
                },
                {
                    "kind": "orders",
                    "table": "orders",
                    "watermark": "updated_at",
                    "columns": {
                        "order_number": "no",
                        "customer_external_id": "customer",
                        "platform_code": "channel",
                        "status": "state",
                        "ordered_at": "placed_at",
                        "sku": "sku",
                        "quantity": "qty",
                        "unit_price": "price",
                    },
                },
            ],
        }
    )


def _timed(engine: Any, mapping: Any, name: str) -> dict[str, Any]:
    started = time.perf_counter()
    result = run_sync(engine, mapping)
    seconds = time.perf_counter() - started
    kinds = {
        k.kind: {
            "rows": k.rows,
            "status": k.outcome.status if k.outcome else "unchanged",
            "inserted": k.outcome.inserted if k.outcome else 0,
            "updated": k.outcome.updated if k.outcome else 0,
        }
        for k in result.kinds
    }
    print(f"{name}: {seconds:.1f} s  {kinds}", flush=True)
    return {"run": name, "seconds": round(seconds, 2), "kinds": kinds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--schema", default="bench_sync")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    source = folder / "shop.sqlite"
    _source(source, args.rows)
    url = _fresh_schema(args.schema)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"code": "web", "name": "Web"}])
        conn.execute(insert(Category), [{"code": "misc", "name": "Misc"}])
        category = conn.execute(select(Category.id)).scalar_one()
        conn.execute(
            insert(Product),
            [
                {
                    "sku": f"S-SKU-{i:02d}",
                    "name": f"P{i}",
                    "category_id": category,
                    "unit_price_cents": 100 + i,
                    "unit_cost_cents": 0,
                    "active": True,
                }
                for i in range(50)
            ],
        )
    mapping = _mapping(source)
    runs = [_timed(engine, mapping, "first")]
    with sqlite3.connect(source) as db:
        db.execute(
            "UPDATE orders SET state = 'delivered', updated_at = ?",
            ((T0 + dt.timedelta(days=1)).isoformat(sep=" "),),
        )
    runs.append(_timed(engine, mapping, f"changed ({args.rows:,} orders)"))
    runs.append(_timed(engine, mapping, "unchanged"))
    engine.dispose()
    changed, unchanged = runs[1]["kinds"], runs[2]["kinds"]
    checks = [
        {
            "check": "changed: exactly the changed orders, all updated",
            "ok": changed["orders"]
            == {"rows": args.rows, "status": "succeeded", "inserted": 0, "updated": args.rows}
            and changed["customers"]["status"] == "unchanged",
            "value": changed,
        },
        {
            "check": "unchanged: nothing read",
            "ok": all(k["status"] == "unchanged" for k in unchanged.values()),
            "value": unchanged,
        },
    ]
    for item in checks:
        print(f"  {'ok  ' if item['ok'] else 'MISS'} {item['check']}")
    changed_s = runs[1]["seconds"]
    rate = args.rows / changed_s
    print(f"sync of {args.rows:,} changed rows: {changed_s:.1f} s ({rate:,.0f} rows/s)")
    ok = all(item["ok"] for item in checks)
    return write_report(RESULTS, {"runs": runs, "checks": checks}, ok)


if __name__ == "__main__":
    sys.exit(main())
