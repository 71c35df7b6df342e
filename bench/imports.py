"""Import throughput and memory: one orders file of ``--rows`` rows through ``bi-app import``.

    python -m bench.imports [--rows 1500000] [--full-schema bench10m] [--skip-full]

Each run generates a CSV of ``--rows`` orders (one item row each: the file's rows are the
orders) over 28 days, then imports it with the real command line in a child process — read,
validate, stage, merge, roll-ups and customer figures included — and records the wall time and
the child's peak memory (its maximum resident set size):

1. **empty**: into a fresh schema ``bench_import`` (migrated; 4 platforms, 8 categories, 500
   products and 100,000 customers, no orders);
2. **again**: the same file a second time: nothing new, every order updated, the tables equal;
3. **full** (unless ``--skip-full``): the file, renumbered, into the 10-million-order schema
   ``--full-schema``; afterwards those orders are deleted again, their days' roll-ups refreshed
   and the customer figures recomputed, so the data set stays what the other benchmarks expect.

Targets (the issue "A real business's own data on day one"): >= 50,000 rows/s and a peak under
500 MB for every run; 1.5 million rows in under 60 s. Writes bench/results/imports.json; exits 1
when a target is missed.

Beside them, the **database floor**: after the empty run, the same orders and items are inserted
again by bare ``INSERT ... SELECT`` statements from copies of themselves into the emptied tables
(indexes, foreign keys and triggers as the schema has them), in a transaction that is rolled
back. No import that keeps the schema's indexes and foreign keys can write faster than that on
the machine at hand, so the report shows how far above the database's own speed the import is.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, insert, select, text

from bench.harness import RESULTS_DIR, bench_url, write_report
from bench.servers import app_env
from bi_app.db.models import Category, Customer, Order, OrderItem, Product, SalesPlatform

RESULTS = RESULTS_DIR / "imports.json"
MIN_ROWS_PER_S = 50_000
MAX_PEAK_MB = 500
MAX_SECONDS_1_5M = 60
PLATFORMS = ("web", "app", "market", "store")
STATUSES = ("paid", "paid", "shipped", "delivered", "delivered", "cancelled", "refunded")


def _reference_data(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(SalesPlatform), [{"code": c, "name": c.title()} for c in PLATFORMS])
        conn.execute(insert(Category), [{"code": f"cat{i}", "name": f"Cat {i}"} for i in range(8)])
        ids = dict(conn.execute(select(Category.code, Category.id)).all())
        conn.execute(
            insert(Product),
            [
                {
                    "sku": f"BSKU-{i:04d}",
                    "name": f"Product {i}",
                    "category_id": ids[f"cat{i % 8}"],
                    "unit_price_cents": 500 + i * 37,
                    "unit_cost_cents": 0,
                    "active": True,
                }
                for i in range(500)
            ],
        )
        conn.execute(
            insert(Customer),
            [
                {
                    "external_id": f"BCUS-{i:06d}",
                    "name": f"Customer {i}",
                    "created_at": dt.datetime(2020, 1, 1),
                }
                for i in range(100_000)
            ],
        )


def _skus_and_customers(engine: Engine) -> tuple[list[str], list[str], list[str]]:
    with engine.connect() as conn:
        skus = list(conn.execute(select(Product.sku).order_by(Product.id).limit(500)).scalars())
        customers = list(
            conn.execute(
                select(Customer.external_id).order_by(Customer.id).limit(100_000)
            ).scalars()
        )
        platforms = list(conn.execute(select(SalesPlatform.code)).scalars())
    return skus, customers, platforms


def write_file(path: Path, rows: int, prefix: str, engine: Engine, first_day: dt.date) -> None:
    """``rows`` orders of one item each, over 28 days from ``first_day``, referring to what
    ``engine``'s database has."""
    skus, customers, platforms = _skus_and_customers(engine)
    rng = random.Random(7)
    start = dt.datetime.combine(first_day, dt.time())
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(
            [
                "order_number",
                "customer_external_id",
                "platform_code",
                "status",
                "ordered_at",
                "sku",
                "quantity",
                "unit_price",
            ]
        )
        for i in range(rows):
            at = start + dt.timedelta(seconds=rng.randrange(28 * 86_400))
            out.writerow(
                [
                    f"{prefix}-{i:09d}",
                    customers[rng.randrange(len(customers))],
                    platforms[rng.randrange(len(platforms))],
                    STATUSES[rng.randrange(len(STATUSES))],
                    at.isoformat(sep=" "),
                    skus[rng.randrange(len(skus))],
                    1 + rng.randrange(4),
                    f"{5 + rng.randrange(20_000) / 100:.2f}",
                ]
            )


def import_in_child(url: str, path: Path) -> dict[str, Any]:
    """Run ``bi-app import`` in a child process; its wall time, peak memory and summary."""
    env = {**os.environ, **app_env(url, "redis://127.0.0.1:1/0")}
    env["BI_LOG_LEVEL"] = "WARNING"
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bi_app.cli", "import", str(path), "--kind", "orders"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    lines = output.splitlines()
    summary = next((line for line in lines if line.startswith("import #")), output)
    # the command's progress lines ("  12.3 s  40% validating"): when each phase began
    phases: dict[str, float] = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 4 and parts[1] == "s" and parts[2].endswith("%"):
            phases.setdefault(" ".join(parts[3:]), float(parts[0]))
    return {
        "seconds": round(seconds, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports kilobytes
        "exit": child.returncode,
        "summary": summary.strip()[:400],
        "phases_started_at_s": phases,
    }


def _snapshot(engine: Engine, prefix: str) -> tuple[int, int, int]:
    with engine.connect() as conn:
        mine = Order.order_number.like(f"{prefix}-%")
        orders, total = conn.execute(
            select(func.count(), func.coalesce(func.sum(Order.total_cents), 0)).where(mine)
        ).one()
        items = conn.execute(
            select(func.count())
            .select_from(OrderItem)
            .join(Order, Order.id == OrderItem.order_id)
            .where(mine)
        ).scalar_one()
    return int(orders), int(total), int(items)


def _fresh_schema(schema: str) -> str:
    from bi_app.db import migrate

    url = bench_url(schema)
    admin = create_engine(
        os.environ.get("BI_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    migrate.upgrade(url)
    return url


def _remove(engine: Engine, prefix: str, first_day: dt.date) -> None:
    """Take the benchmark's orders out of a shared data set again and repair what they touched."""
    from bi_app import customer_tags
    from bi_app.db.rollups import refresh_rollups

    with engine.begin() as conn:
        mine = select(Order.id).where(Order.order_number.like(f"{prefix}-%"))
        conn.execute(OrderItem.__table__.delete().where(OrderItem.order_id.in_(mine)))
        conn.execute(Order.__table__.delete().where(Order.order_number.like(f"{prefix}-%")))
    refresh_rollups(engine, first_day, first_day + dt.timedelta(days=28))
    customer_tags.recompute(engine, dt.date.today())


def database_floor(engine: Engine) -> dict[str, Any]:
    """Seconds for bare ``INSERT ... SELECT`` of every order and item into the emptied tables
    (see the module's text); nothing is kept."""
    floor: dict[str, Any] = {}
    with engine.connect() as conn, conn.begin() as transaction:
        orders = "id, order_number, customer_id, platform_id, status, ordered_at, total_cents"
        items = "id, order_id, product_id, quantity, unit_price_cents, amount_cents"
        conn.execute(text(f"CREATE TEMPORARY TABLE floor_orders AS SELECT {orders} FROM orders"))
        conn.execute(text(f"CREATE TEMPORARY TABLE floor_items AS SELECT {items} FROM order_items"))
        conn.execute(text("TRUNCATE orders CASCADE"))
        for table, columns, source in (
            ("orders", orders, "floor_orders"),
            ("order_items", items, "floor_items"),
        ):
            began = time.perf_counter()
            rows = conn.execute(
                text(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {source}")
            ).rowcount
            floor[f"{table}_seconds"] = round(time.perf_counter() - began, 2)
            floor[f"{table}_rows"] = rows
        transaction.rollback()
    floor["seconds"] = round(floor["orders_seconds"] + floor["order_items_seconds"], 2)
    floor["rows_per_s"] = round(floor["orders_rows"] / floor["seconds"]) if floor["seconds"] else 0
    print(
        f"  database floor: orders {floor['orders_seconds']} s, items "
        f"{floor['order_items_seconds']} s: {floor['rows_per_s']:,} rows/s for the inserts alone",
        flush=True,
    )
    return floor


def _run(
    name: str, url: str, path: Path, rows: int, checks: list[dict[str, Any]]
) -> dict[str, Any]:
    print(f"{name}: importing {rows:,} rows ...", flush=True)
    result = {"run": name, "rows": rows, **import_in_child(url, path)}
    result["rows_per_s"] = round(rows / result["seconds"]) if result["seconds"] else 0
    speed = f"{result['seconds']:.1f} s, {result['rows_per_s']:,} rows/s"
    print(
        f"  {speed}, peak {result['peak_mb']} MB: {result['summary']}\n"
        f"  phases began at (s): {result['phases_started_at_s']}",
        flush=True,
    )
    checks.append({"check": f"{name}: exit 0", "ok": result["exit"] == 0, "value": result["exit"]})
    checks.append(
        {
            "check": f"{name}: >= {MIN_ROWS_PER_S:,} rows/s",
            "ok": result["rows_per_s"] >= MIN_ROWS_PER_S,
            "value": result["rows_per_s"],
        }
    )
    checks.append(
        {
            "check": f"{name}: peak < {MAX_PEAK_MB} MB",
            "ok": result["peak_mb"] < MAX_PEAK_MB,
            "value": result["peak_mb"],
        }
    )
    if rows >= 1_500_000:
        checks.append(
            {
                "check": f"{name}: 1.5M rows < {MAX_SECONDS_1_5M} s",
                "ok": result["seconds"] * 1_500_000 / rows < MAX_SECONDS_1_5M,
                "value": result["seconds"],
            }
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--schema", default="bench_import", help="the empty-table schema")
    parser.add_argument("--full-schema", default="bench10m", help="the data set to import into")
    parser.add_argument("--skip-full", action="store_true")
    args = parser.parse_args(argv)
    checks: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    first_day = dt.date.today() - dt.timedelta(days=400)
    folder = Path(tempfile.mkdtemp(prefix="bench-imports-"))

    from bi_app import customer_tags

    url = _fresh_schema(args.schema)
    engine = create_engine(url)
    _reference_data(engine)
    # the first customer recompute ever is a full one: done before, so the imports' own are
    # the incremental ones every later import runs
    customer_tags.recompute(engine, dt.date.today())
    path = folder / "orders.csv"
    write_file(path, args.rows, "BIMP", engine, first_day)
    print(f"file: {path.stat().st_size / 1024 / 1024:.0f} MB, {args.rows:,} rows", flush=True)
    runs.append(_run("empty", url, path, args.rows, checks))
    first = _snapshot(engine, "BIMP")
    floor = database_floor(engine)
    runs.append(_run("again", url, path, args.rows, checks))
    again = _snapshot(engine, "BIMP")
    checks.append(
        {
            "check": "again: the same file twice changes nothing",
            "ok": first == again,
            "value": again,
        }
    )
    checks.append(
        {"check": "empty: every row is an order", "ok": first[0] == args.rows, "value": first[0]}
    )
    engine.dispose()

    if not args.skip_full:
        from bi_app.db import migrate

        url = bench_url(args.full_schema)
        migrate.upgrade(url)  # the data set may predate the code's latest migration
        engine = create_engine(url)
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(Order)).scalar_one()
        customer_tags.recompute(engine, dt.date.today())  # catch up first (see above)
        full_path = folder / "orders-full.csv"
        write_file(full_path, args.rows, "BFULL", engine, first_day)
        try:
            result = _run(f"full ({before:,} orders)", url, full_path, args.rows, checks)
            result["orders_before"] = before
            runs.append(result)
        finally:
            print("removing the imported orders again ...", flush=True)
            _remove(engine, "BFULL", first_day)
        engine.dispose()

    for item in checks:
        print(f"  {'ok  ' if item['ok'] else 'MISS'} {item['check']}: {item['value']}")
    ok = all(item["ok"] for item in checks)
    return write_report(RESULTS, {"runs": runs, "database_floor": floor, "checks": checks}, ok)


if __name__ == "__main__":
    sys.exit(main())
