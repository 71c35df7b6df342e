"""Create missing (issue 10): an import may add the platforms, categories and customers its file
names but the database lacks, in the import's own transaction; products and events never. On
SQLite and PostgreSQL (the ``db_url`` fixture of test_import)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select

from bi_app.db.models import AuditLog, Category, Customer, Order, Product, SalesPlatform, Visit
from bi_app.importing import get_run, import_file
from tests.integration import test_import as base
from tests.integration.test_import import FILES, FIXTURES, counts, run

pytestmark = pytest.mark.integration
db_url, engine = base.db_url, base.engine  # the same fixtures: SQLite and PostgreSQL
ORDERS_HEADER = (
    "order_number,customer_external_id,platform_code,status,ordered_at,sku,quantity,unit_price\n"
)
# two new customers, one new platform (written in capitals: codes are lower-cased), known skus
NEW_ORDERS = (
    ORDERS_HEADER
    + "NEW-O-1,NEW-C-1,Kiosk,paid,2024-04-02 10:00,IMP-SKU-1,1,79.90\n"
    + "NEW-O-2,NEW-C-2,kiosk,paid,2024-04-03 11:00,IMP-SKU-2,2,35.00\n"
    + "NEW-O-3,NEW-C-1,web,delivered,2024-04-01 09:30,IMP-SKU-2,1,35.00\n"
).encode()
HINT = (
    "or choose “Create missing platforms, categories and customers” (--create-missing on the "
    "command line)"
)


@pytest.fixture
def known(engine) -> Engine:
    """The fixture customers and products are in; the file's other codes are not."""
    for kind in ("customers", "products"):
        assert run(engine, FILES[kind][0], kind).ok
    return engine


def rows(engine: Engine, *columns) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(*columns)).all()]


def test_without_the_option_an_unknown_code_is_a_row_error_pointing_to_it(known):
    before = counts(known)
    outcome = import_file(known, NEW_ORDERS, "new.csv", "orders", actor="tester")
    assert outcome.status == "rejected" and outcome.created == {}
    assert [(e.row, e.column, e.value, e.message) for e in outcome.errors] == [
        (
            2,
            "customer_external_id",
            "NEW-C-1",
            f"unknown customer: not in the database; import it first (Customers), {HINT}",
        ),
        (
            2,
            "platform_code",
            "kiosk",
            f"unknown platform: not in the database; import it first (Sales platforms), {HINT}",
        ),
        (3, "customer_external_id", "NEW-C-2", outcome.errors[2].message),
        (3, "platform_code", "kiosk", outcome.errors[3].message),
        (4, "customer_external_id", "NEW-C-1", outcome.errors[4].message),
    ]
    assert counts(known) == before
    assert rows(known, SalesPlatform.code) == [("mobile_app",), ("web",)]


def test_a_dry_run_says_what_would_be_created_and_creates_nothing(known):
    before = counts(known)
    outcome = import_file(
        known, NEW_ORDERS, "new.csv", "orders", actor="tester", dry_run=True, create_missing=True
    )
    assert outcome.status == "validated", (outcome.message, outcome.errors)
    assert outcome.created == {"platforms": ["kiosk"], "customers": ["NEW-C-1", "NEW-C-2"]}
    assert outcome.message.endswith(
        "Nothing was written (validation only). "
        "Would create 1 platform: kiosk; 2 customers: NEW-C-1, NEW-C-2."
    )
    assert get_run(known, outcome.run_id)["message"] == outcome.message
    assert counts(known) == before
    assert rows(known, SalesPlatform.code) == [("mobile_app",), ("web",)]


def test_the_option_creates_the_codes_with_the_import(known):
    outcome = import_file(
        known, NEW_ORDERS, "new.csv", "orders", actor="tester", create_missing=True
    )
    assert outcome.status == "succeeded", (outcome.message, outcome.errors)
    assert outcome.message == (
        "Imported 3 row(s) of orders with items: 3 new, 0 updated. "
        "Created 1 platform: kiosk; 2 customers: NEW-C-1, NEW-C-2."
    )
    assert "Created 1 platform: kiosk" in get_run(known, outcome.run_id)["message"]
    assert rows(known, SalesPlatform.code, SalesPlatform.name) == [
        ("kiosk", "kiosk"),
        ("mobile_app", "App"),
        ("web", "Web"),
    ]
    # a created customer is named after its external id and signed up at its first order
    with known.connect() as conn:
        created = conn.execute(
            select(Customer.external_id, Customer.name, Customer.created_at)
            .where(Customer.external_id.like("NEW-%"))
            .order_by(Customer.external_id)
        ).all()
        orders = conn.execute(
            select(Order.order_number, Customer.external_id, SalesPlatform.code, Order.total_cents)
            .join(Customer, Customer.id == Order.customer_id)
            .join(SalesPlatform, SalesPlatform.id == Order.platform_id)
            .order_by(Order.order_number)
        ).all()
        detail = conn.scalar(
            select(AuditLog.detail)
            .where(AuditLog.action == "data.import")
            .order_by(AuditLog.id.desc())
        )
    assert [tuple(c) for c in created] == [
        ("NEW-C-1", "NEW-C-1", dt.datetime(2024, 4, 1, 9, 30)),
        ("NEW-C-2", "NEW-C-2", dt.datetime(2024, 4, 3, 11, 0)),
    ]
    assert [tuple(o) for o in orders] == [
        ("NEW-O-1", "NEW-C-1", "kiosk", 7990),
        ("NEW-O-2", "NEW-C-2", "kiosk", 7000),
        ("NEW-O-3", "NEW-C-1", "web", 3500),
    ]
    assert detail["created"] == {
        "platforms": {"count": 1, "codes": ["kiosk"]},
        "customers": {"count": 2, "codes": ["NEW-C-1", "NEW-C-2"]},
    }
    again = import_file(known, NEW_ORDERS, "new.csv", "orders", actor="t", create_missing=True)
    assert (again.inserted, again.updated, again.created) == (0, 3, {})
    assert "Created" not in again.message


def test_products_create_their_missing_categories(known):
    content = (
        b"sku,name,category_code,unit_price\n"
        b"T-1,Kite,toys,9.90\nG-1,Rake,Garden,19.00\nT-2,Yo-yo,toys,2.50\nE-1,Cable,electronics,5\n"
    )
    outcome = import_file(known, content, "p.csv", "products", actor="t", create_missing=True)
    assert outcome.status == "succeeded", (outcome.message, outcome.errors)
    assert outcome.message.endswith("Created 2 categories: toys, garden.")
    with known.connect() as conn:
        placed = dict(
            conn.execute(
                select(Product.sku, Category.code).join(
                    Category, Category.id == Product.category_id
                )
            ).all()
        )
    assert placed == {
        "IMP-SKU-1": "electronics",
        "IMP-SKU-2": "home_kitchen",
        "T-1": "toys",
        "G-1": "garden",
        "T-2": "toys",
        "E-1": "electronics",
    }


def test_visits_create_customers_and_platforms(known):
    content = (
        b"customer_external_id,visited_at,platform_code,channel\n"
        b"V-1,2024-05-02 10:00,kiosk,walk-in\nV-1,2024-05-01 08:00,,walk-in\n"
    )
    outcome = import_file(known, content, "v.csv", "visits", actor="t", create_missing=True)
    assert outcome.status == "succeeded", (outcome.message, outcome.errors)
    assert outcome.created == {"platforms": ["kiosk"], "customers": ["V-1"]}
    assert rows(known, Customer.external_id, Customer.created_at)[-1] == (
        "V-1",
        dt.datetime(2024, 5, 1, 8, 0),
    )
    assert len(rows(known, Visit.id)) == 2


def test_products_and_events_are_never_created(known):
    before = counts(known)
    orders = (
        ORDERS_HEADER + "NEW-O-1,NEW-C-1,kiosk,paid,2024-04-02 10:00,NO-SUCH-SKU,1,1.00\n"
    ).encode()
    outcome = import_file(known, orders, "o.csv", "orders", actor="t", create_missing=True)
    assert outcome.status == "rejected" and outcome.created == {}
    assert [(e.row, e.column, e.message) for e in outcome.errors] == [
        (
            2,
            "sku",
            (
                "unknown product: not in the database; products are never created by another "
                "file's import (they need a name, category and price): import them first"
            ),
        )
    ]
    costs = b"event_code,category,description,amount\nNO-EVT,venue,Hall,10.00\n"
    refused = import_file(known, costs, "c.csv", "event_costs", actor="t", create_missing=True)
    assert refused.status == "rejected"
    assert "events are never created by an import" in refused.errors[0].message
    assert "Would create" not in outcome.message and "Created" not in outcome.message
    assert counts(known) == before
    assert rows(known, SalesPlatform.code) == [("mobile_app",), ("web",)]  # kiosk not created


def test_a_failed_write_takes_the_created_codes_back(known, monkeypatch):
    from bi_app.importing import service

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "write", broken)
    outcome = import_file(known, NEW_ORDERS, "n.csv", "orders", actor="t", create_missing=True)
    assert outcome.status == "failed" and outcome.created == {}
    assert "Created" not in get_run(known, outcome.run_id)["message"]
    assert rows(known, SalesPlatform.code) == [("mobile_app",), ("web",)]
    assert not [r for r in rows(known, Customer.external_id) if r[0].startswith("NEW-")]


def test_the_cli_creates_on_request_and_prints_what_it_created(db_url, tmp_path, capsys):
    from bi_app.extensions import db
    from bi_app.importing.cli import cli_import
    from tests.conftest import make_settings

    settings = make_settings(db_url)
    path = tmp_path / "new.csv"
    path.write_bytes(NEW_ORDERS)
    db.init(db_url)
    try:
        for kind in ("customers", "products"):
            assert cli_import(str(FIXTURES / FILES[kind][0]), kind, settings=settings) == 0
        capsys.readouterr()
        assert cli_import(str(path), "orders", settings=settings) == 1
        assert "--create-missing" in capsys.readouterr().err
        assert cli_import(str(path), "orders", settings=settings, create_missing=True) == 0
        printed = capsys.readouterr().out
        assert "Created 1 platform: kiosk; 2 customers: NEW-C-1, NEW-C-2." in printed
        assert counts(db.require_engine())["orders"] == 3
    finally:
        db.engine.dispose()
