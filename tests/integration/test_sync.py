"""``bi-app sync`` against real second databases: a SQLite file and a second PostgreSQL
database as the source, SQLite and PostgreSQL as the target. A sync imports what the source
holds; the next one picks up exactly the row that changed and the row that is new; a refused
kind keeps its watermark until the source is fixed; an unreadable source or a bad mapping says
what is wrong and imports nothing."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, func, insert, select, text

from bi_app.db.import_models import ImportRun
from bi_app.db.models import Category, Customer, Order, OrderItem, Product
from bi_app.importing.sync import SyncError, load_mapping, parse_mapping, read_watermark, run_sync
from tests.conftest import PG_URL, make_settings, unavailable
from tests.integration.test_import import db_url, engine  # noqa: F401 (fixtures: the target)

pytestmark = pytest.mark.integration
T0 = dt.datetime(2024, 5, 1, 9, 0)
T1 = dt.datetime(2024, 5, 2, 9, 0)
SOURCE_TABLES = """
CREATE TABLE crm_customers (id VARCHAR(20) PRIMARY KEY, full_name VARCHAR(100),
                            email VARCHAR(100), updated_at TIMESTAMP);
CREATE TABLE shop_orders (order_no VARCHAR(30), line INTEGER, customer VARCHAR(20),
                          channel VARCHAR(20), state VARCHAR(20), placed_at TIMESTAMP,
                          sku VARCHAR(30), qty INTEGER, price NUMERIC(12, 2), updated_at TIMESTAMP)
"""
MAPPING = """
name = "shop"
url = "{url}"

[[kinds]]
kind = "customers"
table = "crm_customers"
watermark = "updated_at"
columns = {{ external_id = "id", name = "full_name", email = "email" }}

[[kinds]]
kind = "orders"
query = \"\"\"SELECT order_no, customer, channel, state, placed_at, sku, qty, price, updated_at
FROM shop_orders\"\"\"
watermark = "updated_at"

[kinds.columns]
order_number = "order_no"
customer_external_id = "customer"
platform_code = "channel"
status = "state"
ordered_at = "placed_at"
sku = "sku"
quantity = "qty"
unit_price = "price"
"""


def _fill(source: Engine) -> None:
    with source.begin() as conn:
        for statement in SOURCE_TABLES.split(";"):
            conn.execute(text(statement))
        conn.execute(
            text("INSERT INTO crm_customers VALUES (:i, :n, :e, :u)"),
            [
                {"i": "C1", "n": "Ada Lovelace", "e": "ada@example.com", "u": T0},
                {"i": "C2", "n": "Grace Hopper", "e": None, "u": T0 + dt.timedelta(minutes=1)},
            ],
        )
        conn.execute(
            text("INSERT INTO shop_orders VALUES (:o, :l, :c, 'web', :s, :p, :k, :q, :r, :u)"),
            [
                {
                    "o": "S-1",
                    "l": 1,
                    "c": "C1",
                    "s": "paid",
                    "p": T0,
                    "k": "SKU-1",
                    "q": 2,
                    "r": "12.50",
                    "u": T0,
                },
                {
                    "o": "S-1",
                    "l": 2,
                    "c": "C1",
                    "s": "paid",
                    "p": T0,
                    "k": "SKU-2",
                    "q": 1,
                    "r": "3.00",
                    "u": T0,
                },
                {
                    "o": "S-2",
                    "l": 1,
                    "c": "C2",
                    "s": "shipped",
                    "p": T0,
                    "k": "SKU-1",
                    "q": 1,
                    "r": "12.50",
                    "u": T0,
                },
            ],
        )


MYSQL_URL = os.environ.get("BI_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def source_url(request, tmp_path):
    """The business's own database: a SQLite file, a second PostgreSQL database, or a MariaDB
    database (``BI_TEST_MYSQL_URL``; scripts/ensure-test-deps.sh starts one)."""
    if request.param == "sqlite":
        path = tmp_path / "shop.sqlite"
        sqlite3.connect(path).close()
        url = f"sqlite:///{path}"
        source = create_engine(url)
        _fill(source)
        source.dispose()
        yield url
        return
    name = f"bi_sync_{uuid.uuid4().hex[:10]}"
    server = PG_URL if request.param == "postgresql" else MYSQL_URL
    quote = '"' if request.param == "postgresql" else "`"
    try:
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {quote}{name}{quote}"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        unavailable(f"{request.param} at {server} ({type(exc).__name__})")
    url = server.rsplit("/", 1)[0] + f"/{name}"
    source = create_engine(url)
    try:
        _fill(source)
        source.dispose()
        yield url
    finally:
        source.dispose()
        force = " WITH (FORCE)" if request.param == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}"))
        admin.dispose()


@pytest.fixture
def target(engine):  # noqa: F811
    with engine.begin() as conn:
        category = conn.execute(select(Category.id).where(Category.code == "electronics")).scalar()
        conn.execute(
            insert(Product),
            [
                {
                    "sku": "SKU-1",
                    "name": "Cable",
                    "category_id": category,
                    "unit_price_cents": 1250,
                },
                {"sku": "SKU-2", "name": "Plug", "category_id": category, "unit_price_cents": 300},
            ],
        )
    return engine


def _mapping(tmp_path: Path, url: str):
    path = tmp_path / "sync.toml"
    path.write_text(MAPPING.format(url=url))
    return load_mapping(path)


def _moment(watermark: object) -> str:
    """A watermark as text: a datetime from PostgreSQL, the stored text from SQLite."""
    return str(watermark).replace("T", " ")[:19]


def _runs(db: Engine) -> int:
    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(ImportRun)).scalar_one()


def test_a_sync_picks_up_the_changed_row_and_the_new_row_and_nothing_else(
    target, source_url, tmp_path
):
    mapping = _mapping(tmp_path, source_url)
    first = run_sync(target, mapping)
    customers, orders = first.kinds
    assert (customers.outcome.status, customers.outcome.inserted, customers.rows) == (
        "succeeded",
        2,
        2,
    )
    assert (orders.outcome.status, orders.outcome.inserted, orders.rows) == ("succeeded", 2, 3)
    assert _moment(read_watermark(target, "shop", "customers")) == "2024-05-01 09:01:00"
    with target.connect() as conn:
        totals = dict(conn.execute(select(Order.order_number, Order.total_cents)).all())
        items = conn.execute(select(func.count()).select_from(OrderItem)).scalar_one()
    assert totals == {"S-1": 2 * 1250 + 300, "S-2": 1250} and items == 3

    source = create_engine(source_url)
    with source.begin() as conn:
        conn.execute(
            text(
                "UPDATE crm_customers SET full_name = 'Ada King', updated_at = :u WHERE id = 'C1'"
            ),
            {"u": T1},
        )
        conn.execute(
            text("INSERT INTO crm_customers VALUES ('C3', 'Alan Turing', NULL, :u)"), {"u": T1}
        )
    runs_before = _runs(target)
    second = run_sync(target, mapping)
    customers, orders = second.kinds
    assert (customers.rows, customers.outcome.rows_total) == (2, 2)
    assert (customers.outcome.inserted, customers.outcome.updated) == (1, 1)
    assert orders.outcome is None and orders.message.startswith("no changes since")
    assert _runs(target) == runs_before + 1  # only the kind with changes is a run
    with target.connect() as conn:
        names = dict(conn.execute(select(Customer.external_id, Customer.name)).all())
    assert names == {"C1": "Ada King", "C2": "Grace Hopper", "C3": "Alan Turing"}

    third = run_sync(target, mapping)
    assert [k.outcome for k in third.kinds] == [None, None] and _runs(target) == runs_before + 1

    # a refused row keeps the watermark, so the row comes again once the source is fixed
    with source.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO shop_orders VALUES "
                "('S-3', 1, 'C3', 'web', 'paid', :p, 'SKU-9', 1, 5, :u)"
            ),
            {"p": T1, "u": T1},
        )
    refused = run_sync(target, mapping).kinds[1]
    assert refused.outcome.status == "rejected" and not refused.ok
    assert "unknown product" in refused.outcome.errors[0].message
    assert _moment(read_watermark(target, "shop", "orders")) == "2024-05-01 09:00:00"
    with source.begin() as conn:
        conn.execute(text("UPDATE shop_orders SET sku = 'SKU-2' WHERE order_no = 'S-3'"))
    fixed = run_sync(target, mapping).kinds[1]
    assert (fixed.outcome.status, fixed.outcome.inserted, fixed.rows) == ("succeeded", 1, 1)
    assert _moment(read_watermark(target, "shop", "orders")) == "2024-05-02 09:00:00"
    # --full reads everything again; the merge changes nothing
    again = run_sync(target, mapping, full=True)
    assert [k.outcome.inserted for k in again.kinds] == [0, 0]
    assert [k.outcome.updated for k in again.kinds] == [3, 3]
    source.dispose()


def _cli(args: list[str], database_url: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, BI_DATABASE_URL=database_url, BI_SECRET_KEY="s" * 32, BI_SCHEDULER="off")
    return subprocess.run(
        [sys.executable, "-m", "bi_app.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_the_command_line_syncs_and_says_what_it_did(target, tmp_path):
    source = tmp_path / "shop.sqlite"
    shop = create_engine(f"sqlite:///{source}")
    _fill(shop)
    shop.dispose()
    _mapping(tmp_path, f"sqlite:///{source}")
    url = target.url.render_as_string(hide_password=False)
    done = _cli(["sync", str(tmp_path / "sync.toml")], url)
    assert done.returncode == 0, done.stderr
    assert "sync shop: customers: succeeded: Imported 2 row(s) of customers" in done.stdout
    assert "sync shop: orders: succeeded: Imported 3 row(s) of orders with items" in done.stdout
    assert "% writing" in done.stderr  # progress
    again = _cli(["sync", str(tmp_path / "sync.toml")], url)
    assert (
        again.returncode == 0 and "customers: no changes since 2024-05-01 09:01:00" in again.stdout
    )


def test_an_unreadable_source_says_so_and_imports_nothing(target, tmp_path):
    mapping = _mapping(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(SyncError, match="customers cannot be read from the source database"):
        run_sync(target, mapping)
    assert _runs(target) == 0
    url = target.url.render_as_string(hide_password=False)
    refused = _cli(["sync", str(tmp_path / "sync.toml")], url)
    assert refused.returncode == 2 and "cannot be read from the source database" in refused.stderr
    assert "Traceback" not in refused.stderr
    missing = _cli(["sync", str(tmp_path / "missing.toml")], url)
    assert missing.returncode == 2 and "cannot read the mapping file" in missing.stderr
    assert _runs(target) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Shop Name"}, "name: give the source a short name"),
        ({"url": "shop.db"}, "url: give the source database as a SQLAlchemy URL"),
        ({"kinds": []}, "kinds: list at least one"),
        ({"kinds": [{"kind": "invoices"}]}, "unknown import kind 'invoices'"),
        (
            {
                "kinds": [
                    {
                        "kind": "customers",
                        "table": "a",
                        "query": "SELECT 1",
                        "watermark": "u",
                        "columns": {"external_id": "id", "name": "n"},
                    }
                ]
            },
            "give either table",
        ),
        (
            {
                "kinds": [
                    {
                        "kind": "customers",
                        "query": "DELETE FROM a",
                        "watermark": "u",
                        "columns": {"external_id": "id", "name": "n"},
                    }
                ]
            },
            "must be a SELECT",
        ),
        (
            {
                "kinds": [
                    {
                        "kind": "customers",
                        "table": "a; DROP TABLE x",
                        "watermark": "u",
                        "columns": {"external_id": "id", "name": "n"},
                    }
                ]
            },
            "plain table name",
        ),
        (
            {
                "kinds": [
                    {
                        "kind": "customers",
                        "table": "a",
                        "watermark": "u",
                        "columns": {"external_id": "id"},
                    }
                ]
            },
            "map the required column(s) name",
        ),
        (
            {
                "kinds": [
                    {
                        "kind": "customers",
                        "table": "a",
                        "watermark": "u",
                        "columns": {"external_id": "id", "name": "n", "shoe": "s"},
                    }
                ]
            },
            "unknown import column(s) shoe",
        ),
        (
            {
                "kinds": [
                    {
                        "kind": "customers",
                        "table": "a",
                        "watermark": "u",
                        "columns": {"external_id": "id", "name": "n || 1"},
                    }
                ]
            },
            "plain column names",
        ),
    ],
)
def test_a_bad_mapping_names_what_is_wrong(change, message):
    good = {
        "name": "shop",
        "url": "sqlite:///shop.db",
        "kinds": [
            {
                "kind": "customers",
                "table": "a",
                "watermark": "u",
                "columns": {"external_id": "id", "name": "n"},
            }
        ],
    }
    with pytest.raises(SyncError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_mapping({**good, **change})
    assert parse_mapping(good).kinds[0].table == "a"


def test_the_scheduled_job_does_nothing_without_a_mapping(target):
    from bi_app.importing.sync import run_configured_sync

    settings = make_settings("sqlite://")
    assert run_configured_sync(settings, target) == {"skipped": "no BI_SYNC_FILE configured"}
