"""Data import end to end on SQLite and PostgreSQL: every kind in CSV, Excel and Parquet, numbers
reaching the data layer, idempotent re-import, all-or-nothing files, and hostile input."""

from __future__ import annotations

import datetime as dt
import io
import time
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from sqlalchemy import Engine, func, insert, select

from bi_app.db.analytics_models import CustomerRecomputeRun, CustomerStats
from bi_app.db.engine import make_engine
from bi_app.db.import_models import ImportRun
from bi_app.db.models import (
    AuditLog,
    Category,
    Customer,
    DailyOrders,
    Event,
    EventChannelStat,
    EventCost,
    EventRevenue,
    Order,
    OrderItem,
    Product,
    SalesPlatform,
    Visit,
)
from bi_app.importing import get_run, import_file, reader
from tests.conftest import migrate

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
# kind -> (fixture, table, rows the fixture adds)
FILES = {
    "customers": ("customers.csv", Customer, 3),
    "products": ("products.csv", Product, 2),
    "orders": ("orders.csv", Order, 3),
    "visits": ("visits.csv", Visit, 3),
    "event_costs": ("event_costs.csv", EventCost, 3),
    "event_revenues": ("event_revenues.csv", EventRevenue, 2),
    "channel_stats": ("channel_stats.csv", EventChannelStat, 3),
}
DATA_TABLES = (
    Customer,
    Product,
    Order,
    OrderItem,
    Visit,
    EventCost,
    EventRevenue,
    EventChannelStat,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    url = (
        f"sqlite:///{tmp_path / 'import.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(Category),
            [
                {"code": "electronics", "name": "Electronics"},
                {"code": "home_kitchen", "name": "Home & Kitchen"},
            ],
        )
        conn.execute(
            insert(SalesPlatform),
            [{"code": "web", "name": "Web"}, {"code": "mobile_app", "name": "App"}],
        )
        conn.execute(
            insert(Event),
            [
                {
                    "code": "IMP-EVT-1",
                    "name": "Launch",
                    "kind": "event",
                    "organizer": "Marketing",
                    "status": "completed",
                    "starts_at": dt.datetime(2024, 3, 1),
                    "ends_at": dt.datetime(2024, 3, 2),
                    "budget_cents": 0,
                    "ticket_price_cents": 0,
                }
            ],
        )
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url) -> Engine:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def _frame(csv_bytes: bytes) -> pd.DataFrame:
    sep = ";" if b";" in csv_bytes.split(b"\n", 1)[0] else ","
    frame = pd.read_csv(io.BytesIO(csv_bytes), sep=sep, dtype=str, keep_default_na=False)
    for column in frame.columns:  # typed cells, as real workbooks and Parquet files have them
        if column.endswith("_at"):
            frame[column] = pd.to_datetime(
                frame[column].replace("", None), utc=True, format="ISO8601"
            ).dt.tz_localize(None)
        elif column == "day":
            frame[column] = pd.to_datetime(frame[column]).dt.date
        elif column in ("quantity", "views", "clicks", "conversions", "birth_year"):
            frame[column] = pd.to_numeric(frame[column].replace("", None)).astype("Int64")
        elif column in ("unit_price", "amount"):
            frame[column] = frame[column].astype(float)
    return frame


def as_format(csv_bytes: bytes, fmt: str) -> bytes:
    if fmt == "csv":
        return csv_bytes
    frame = _frame(csv_bytes)
    out = io.BytesIO()
    if fmt == "parquet":
        frame.to_parquet(out, index=False)
    else:
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(list(frame.columns))
        for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False):
            sheet.append([None if v is pd.NA or v == "" else v for v in row])
        book.save(out)
    return out.getvalue()


def run(engine: Engine, name: str, kind: str, fmt: str = "csv", **kwargs):
    data = as_format(fixture_bytes(name), fmt)
    return import_file(engine, data, f"{Path(name).stem}.{fmt}", kind, actor="tester", **kwargs)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.__tablename__: conn.scalar(select(func.count()).select_from(t)) for t in DATA_TABLES
        }


def orders_snapshot(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        orders = conn.execute(
            select(Order.order_number, Order.status, Order.ordered_at, Order.total_cents).order_by(
                Order.order_number
            )
        ).all()
        items = conn.execute(
            select(
                OrderItem.order_id, OrderItem.product_id, OrderItem.quantity, OrderItem.amount_cents
            ).order_by(OrderItem.order_id, OrderItem.product_id)
        ).all()
    return [tuple(r) for r in orders] + [tuple(r) for r in items]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet"])
def test_every_kind_imports_in_every_format(engine, fmt):
    for kind, (name, table, added) in FILES.items():
        before = counts(engine)[table.__tablename__]
        outcome = run(engine, name, kind, fmt)
        assert outcome.status == "succeeded", (kind, outcome.message, outcome.errors)
        assert (outcome.inserted, outcome.updated, outcome.file_format) == (added, 0, fmt)
        assert counts(engine)[table.__tablename__] == before + added
    with engine.connect() as conn:
        grace = conn.execute(select(Customer).where(Customer.external_id == "IMP-C-003")).one()
        skillet = conn.execute(select(Product).where(Product.sku == "IMP-SKU-2")).one()
        visit = (
            conn.execute(
                select(Visit.visited_at)
                .join(Customer)
                .where(Customer.external_id == "IMP-C-002")
                .order_by(Visit.visited_at)
            )
            .scalars()
            .first()
        )
        catering = conn.scalar(
            select(EventCost.amount_cents).where(EventCost.category == "catering")
        )
        social = conn.scalar(
            select(EventChannelStat.views).where(EventChannelStat.channel == "social")
        )
        totals = dict(conn.execute(select(Order.order_number, Order.total_cents)).all())
    assert (grace.name, grace.gender, grace.birth_year) == (
        "Grace Hopper, Rear Admiral",
        None,
        1990,
    )
    assert (skillet.unit_price_cents, skillet.unit_cost_cents, skillet.active) == (3500, 0, True)
    assert visit == dt.datetime(2024, 3, 2, 14, 0)  # 15:00+01:00 stored as UTC
    assert (catering, social) == (32050, 5400)
    assert totals == {"IMP-O-1": 2 * 7990 + 3500, "IMP-O-2": 3 * 3000, "IMP-O-3": 7990}


def test_imported_orders_reach_the_overview_totals(db_url, app_factory):
    from bi_app.data.sales import sales_totals
    from bi_app.extensions import db
    from bi_app.importing import app_invalidator

    app = app_factory(db_url)
    engine = db.require_engine()
    with app.server.app_context():
        assert sales_totals("2024-03-01", "2024-03-02")["revenue_cents"] == 0  # now cached
        for kind in ("customers", "products"):
            assert run(engine, FILES[kind][0], kind).ok
        outcome = run(engine, "orders.csv", "orders", invalidate=app_invalidator())
        assert outcome.status == "succeeded", outcome.message
        totals = sales_totals("2024-03-01", "2024-03-02")
    # paid IMP-O-1 (2 x 79.90 + 35.00) and delivered IMP-O-2 (3 x 30.00); IMP-O-3 is cancelled
    assert totals == {"revenue_cents": 19480 + 9000, "orders": 2, "active_customers": 2, "units": 6}


def test_an_orders_or_visits_import_brings_the_customer_figures_up_to_date(engine):
    """No "Recompute tags" press needed after an import: its last step recomputes the customers
    it changed (the first run ever is a full one, later ones are incremental)."""
    for kind in ("customers", "products"):
        assert run(engine, FILES[kind][0], kind).ok
    orders = run(engine, "orders.csv", "orders")
    assert orders.status == "succeeded" and "not updated" not in orders.message
    with engine.connect() as conn:
        stats = dict(
            conn.execute(
                select(Customer.external_id, CustomerStats.spend_cents).join(
                    Customer, Customer.id == CustomerStats.customer_id
                )
            ).all()
        )
        first = conn.execute(select(CustomerRecomputeRun.mode)).scalars().all()
    # revenue orders only: IMP-O-3 of IMP-C-003 is cancelled
    assert stats == {"IMP-C-001": 2 * 7990 + 3500, "IMP-C-002": 3 * 3000}
    assert first == ["full"]
    visits = run(engine, "visits.csv", "visits")
    assert visits.status == "succeeded" and "not updated" not in visits.message
    with engine.connect() as conn:
        visited = dict(
            conn.execute(
                select(Customer.external_id, CustomerStats.visits).join(
                    Customer, Customer.id == CustomerStats.customer_id
                )
            ).all()
        )
        modes = conn.execute(
            select(CustomerRecomputeRun.mode).order_by(CustomerRecomputeRun.id)
        ).scalars()
        assert list(modes) == ["full", "incremental"]
    assert visited == {"IMP-C-001": 1, "IMP-C-002": 2}


def test_a_failed_customer_recompute_keeps_the_import_and_says_so(engine, monkeypatch):
    from bi_app import customer_tags

    def broken(*_args, **_kwargs):
        raise RuntimeError("recompute exploded")

    monkeypatch.setattr(customer_tags, "recompute", broken)
    for kind in ("customers", "products"):
        assert run(engine, FILES[kind][0], kind).ok
    outcome = run(engine, "orders.csv", "orders")
    assert outcome.status == "succeeded" and outcome.inserted == 3
    assert "Customer figures are not updated yet" in outcome.message
    assert counts(engine)["orders"] == 3


def test_reimport_is_idempotent_and_audited(engine):
    for kind in ("customers", "products"):
        run(engine, FILES[kind][0], kind)
    first = run(engine, "orders.csv", "orders")
    state = (counts(engine), orders_snapshot(engine))
    again = run(engine, "orders.csv", "orders", fmt="xlsx")
    assert (first.inserted, first.updated, again.inserted, again.updated) == (3, 0, 0, 3)
    assert (counts(engine), orders_snapshot(engine)) == state
    with engine.connect() as conn:
        audits = conn.execute(
            select(AuditLog.action, AuditLog.username, AuditLog.target)
            .where(AuditLog.action == "data.import")
            .order_by(AuditLog.id)
        ).all()
        runs = conn.execute(
            select(
                ImportRun.status, ImportRun.rows_total, ImportRun.inserted, ImportRun.updated
            ).order_by(ImportRun.id)
        ).all()
    assert [tuple(a) for a in audits][-2:] == [
        ("data.import", "tester", "orders:orders.csv"),
        ("data.import", "tester", "orders:orders.xlsx"),
    ]
    assert [tuple(r) for r in runs][-2:] == [("succeeded", 4, 3, 0), ("succeeded", 4, 0, 3)]


def test_a_changed_order_moves_its_rollup_day(engine):
    for kind in ("customers", "products"):
        run(engine, FILES[kind][0], kind)
    run(engine, "orders.csv", "orders")
    moved = fixture_bytes("orders.csv").replace(b"2024-03-02 15:30:00", b"2024-03-05 15:30:00")
    assert import_file(engine, moved, "moved.csv", "orders", actor="tester").ok
    with engine.connect() as conn:
        days = conn.execute(
            select(func.date(Order.ordered_at)).where(Order.order_number == "IMP-O-2")
        ).scalar()
        rollup = conn.exec_driver_sql(
            "SELECT day, revenue_cents FROM daily_orders WHERE status = 'delivered'"
        ).all()
    assert str(days) == "2024-03-05"
    assert [(str(d), r) for d, r in rollup] == [("2024-03-05", 9000)]


def test_one_bad_row_changes_nothing_and_is_reported_exactly(engine):
    for kind in ("customers", "products"):
        run(engine, FILES[kind][0], kind)
    run(engine, "orders.csv", "orders")
    state = (counts(engine), orders_snapshot(engine))
    outcome = run(engine, "orders_one_bad_row.csv", "orders")
    assert outcome.status == "rejected"
    assert [(e.row, e.column, e.value) for e in outcome.errors] == [(3, "quantity", "-2")]
    assert (outcome.rows_total, outcome.rows_ok, outcome.rows_failed) == (3, 2, 1)
    assert (counts(engine), orders_snapshot(engine)) == state
    stored = get_run(engine, outcome.run_id)
    assert stored["status"] == "rejected" and stored["errors"] == [
        {"row": 3, "column": "quantity", "value": "-2", "message": "must be at least 1"}
    ]


def test_dry_run_validates_without_writing(engine):
    outcome = run(engine, "customers.csv", "customers", dry_run=True)
    assert (outcome.status, outcome.rows_ok) == ("validated", 3)
    assert counts(engine)["customers"] == 0


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (20 * 1024 * 1024))
    return out.getvalue()


def _xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


HEADER = "external_id,name,email,region,gender,birth_year,created_at\n"
# (what, file name, kind, content, expected text in the message or in the row errors)
HOSTILE = [
    ("malformed CSV", "c.csv", "customers", (HEADER + '"IMP-1,Ada\n').encode(), "Malformed CSV"),
    ("empty file", "c.csv", "customers", b"", "empty"),
    ("header only", "c.csv", "customers", HEADER.encode(), "no data rows"),
    (
        "Windows-1252",
        "c.csv",
        "customers",
        (HEADER + "IMP-1,Jürgen Müller,,,,,\n").encode("cp1252"),
        "Windows-1252",
    ),
    ("UTF-16", "c.csv", "customers", (HEADER + "IMP-1,Ada,,,,,\n").encode("utf-16"), "UTF-16"),
    (
        "xlsx named csv",
        "c.csv",
        "customers",
        _xlsx([["external_id", "name"], ["IMP-1", "Ada"]]),
        "Excel workbook",
    ),
    ("csv named xlsx", "c.xlsx", "customers", (HEADER + "IMP-1,Ada,,,,,\n").encode(), "text (CSV)"),
    ("legacy xls", "c.xls", "customers", b"\xd0\xcf\x11\xe0junk", "Legacy .xls"),
    ("executable", "c.exe", "customers", b"MZ\x90\x00", "Unsupported file type"),
    ("zip bomb", "c.xlsx", "customers", _zip_bomb(), "zip bomb"),
    ("zip, not a workbook", "c.xlsx", "customers", b"PK\x03\x04" + b"\x00" * 40, "damaged"),
    (
        "missing column",
        "c.csv",
        "customers",
        b"external_id\nIMP-1\n",
        "Missing required column(s): name",
    ),
    (
        "unknown kind",
        "c.csv",
        "payroll",
        (HEADER + "IMP-1,Ada,,,,,\n").encode(),
        "Unknown import kind",
    ),
    (
        "field beyond the CSV limit",
        "c.csv",
        "customers",
        (HEADER + "IMP-1," + "x" * 200_000 + ",,,,,\n").encode(),
        "field larger than field limit",
    ),
    (
        "formula",
        "c.csv",
        "customers",
        (HEADER + "IMP-1,@SUM(A1:A9),,,,,\n").encode(),
        "spreadsheet formula",
    ),
    (
        "long string",
        "c.csv",
        "customers",
        (HEADER + "IMP-1," + "x" * 5000 + ",,,,,\n").encode(),
        "5,000 characters long",
    ),
    (
        "duplicate key",
        "c.csv",
        "customers",
        (HEADER + "IMP-1,Ada,,,,,\nIMP-1,Bob,,,,,\n").encode(),
        "duplicate key: same as row 2",
    ),
    (
        "future date",
        "c.csv",
        "customers",
        (HEADER + "IMP-1,Ada,,,,,2099-01-01\n").encode(),
        "in the future",
    ),
    (
        "too many cells",
        "c.csv",
        "customers",
        (HEADER + "IMP-1,Ada,,,,,,extra\n").encode(),
        "has 8 cells",
    ),
    (
        "negative quantity",
        "o.csv",
        "orders",
        (
            b"order_number,customer_external_id,platform_code,status,ordered_at,sku,quantity,unit_price\n"
            b"X-1,IMP-C-001,web,paid,2024-03-01,IMP-SKU-1,-1,1.00\n"
        ),
        "must be at least 1",
    ),
    (
        "unknown reference",
        "v.csv",
        "visits",
        b"customer_external_id,visited_at\nNOBODY,2024-03-01\n",
        "unknown customer",
    ),
    (
        "inconsistent order",
        "o.csv",
        "orders",
        (
            b"order_number,customer_external_id,platform_code,status,ordered_at,sku,quantity,unit_price\n"
            b"X-1,IMP-C-001,web,paid,2024-03-01,IMP-SKU-1,1,1.00\nX-1,IMP-C-001,web,shipped,2024-03-01,IMP-SKU-2,1,1.00\n"
        ),
        "differs from row 2 of the same order",
    ),
]


def test_hostile_files_are_refused_with_a_clear_message_and_change_nothing(engine):
    for kind in ("customers", "products"):
        run(engine, FILES[kind][0], kind)
    state = (counts(engine), orders_snapshot(engine))
    for what, name, kind, content, expected in HOSTILE:
        outcome = import_file(engine, content, name, kind, actor="tester")
        report = outcome.message + " | " + " | ".join(e.message for e in outcome.errors)
        assert outcome.status == "rejected", (what, outcome.status, report)
        assert expected in report, (what, report)
        assert (
            "Nothing was imported" in outcome.message or "nothing was imported" in outcome.message
        ), what
    assert (counts(engine), orders_snapshot(engine)) == state


def test_size_limit_is_enforced(engine, monkeypatch):
    monkeypatch.setattr(reader, "MAX_XLSX_UNCOMPRESSED", 10_000)
    big = import_file(
        engine, fixture_bytes("customers.csv"), "c.csv", "customers", actor="t", max_bytes=100
    )
    assert big.status == "rejected" and "the limit is" in big.message
    workbook = import_file(
        engine, as_format(fixture_bytes("customers.csv"), "xlsx"), "c.xlsx", "customers", actor="t"
    )
    assert workbook.status == "rejected" and "expands to" in workbook.message
    assert counts(engine)["customers"] == 0


def test_cli_import_reports_and_exits_by_outcome(db_url, capsys):
    from bi_app.extensions import db
    from bi_app.importing.cli import cli_import
    from tests.conftest import make_settings

    settings = make_settings(db_url)
    db.init(db_url)
    try:
        assert cli_import(str(FIXTURES / "hostile.csv"), "customers", settings=settings) == 1
        bad = capsys.readouterr()
        assert "rejected" in bad.out and "row 4, external_id: duplicate key" in bad.err
        assert (
            cli_import(
                str(FIXTURES / "customers.csv"), "customers", settings=settings, dry_run=True
            )
            == 0
        )
        assert "validated" in capsys.readouterr().out
        assert cli_import(str(FIXTURES / "customers.csv"), "customers", settings=settings) == 0
        assert "3 new, 0 updated" in capsys.readouterr().out
        assert cli_import(str(FIXTURES / "missing.csv"), "customers", settings=settings) == 2
        assert counts(db.require_engine())["customers"] == 3
    finally:
        db.engine.dispose()


def test_analysts_can_neither_open_the_page_nor_start_an_import(demo_app):
    import base64
    import re

    from components.ids import AdminImport
    from tests.conftest import ADMIN_PASSWORD, ANALYST_PASSWORD

    client = demo_app.server.test_client()
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)
    ).group(1)
    client.post(
        "/login",
        data={
            "username": "analyst",
            "password": ANALYST_PASSWORD,
            "next": "/",
            "csrf_token": token,
        },
    )
    assert client.get("/admin/import").status_code == 403
    upload = "data:text/csv;base64," + base64.b64encode(fixture_bytes("customers.csv")).decode()
    body = {
        "output": f"..{AdminImport.RUN_STORE}.data...{AdminImport.INTERVAL}.disabled..."
        f"{AdminImport.MESSAGE}.children...{AdminImport.MESSAGE}.is_open..",
        "outputs": [
            {"id": AdminImport.RUN_STORE, "property": "data"},
            {"id": AdminImport.INTERVAL, "property": "disabled"},
            {"id": AdminImport.MESSAGE, "property": "children"},
            {"id": AdminImport.MESSAGE, "property": "is_open"},
        ],
        "inputs": [
            {"id": AdminImport.VALIDATE, "property": "n_clicks", "value": 0},
            {"id": AdminImport.IMPORT, "property": "n_clicks", "value": 1},
        ],
        "state": [
            {"id": AdminImport.UPLOAD, "property": "contents", "value": upload},
            {"id": AdminImport.UPLOAD, "property": "filename", "value": "customers.csv"},
            {"id": AdminImport.KIND, "property": "value", "value": "customers"},
            {"id": AdminImport.CREATE_MISSING, "property": "value", "value": False},
        ],
        "changedPropIds": [f"{AdminImport.IMPORT}.n_clicks"],
    }
    assert client.post("/_dash-update-component", json=body).status_code == 403
    from bi_app.extensions import db

    def imported() -> tuple[int, int]:
        with db.require_engine().connect() as conn:
            return (
                conn.scalar(select(func.count()).select_from(ImportRun)),
                conn.scalar(
                    select(func.count())
                    .select_from(Customer)
                    .where(Customer.external_id.like("IMP-%"))
                ),
            )

    assert imported() == (0, 0)
    admin = demo_app.server.test_client()  # the same request from an admin starts the import
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', admin.get("/login").get_data(as_text=True)
    ).group(1)
    admin.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "next": "/", "csrf_token": token},
    )
    response = admin.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    run_id = response.get_json()["response"][AdminImport.RUN_STORE]["data"]["run_id"]
    deadline = time.monotonic() + 30
    while not get_run(db.require_engine(), run_id)["finished"] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert get_run(db.require_engine(), run_id)["status"] == "succeeded"
    assert imported() == (1, 3)


# --- numbers too long, unexpected errors, failed records, the queue (issue 8, L6) -----------


def test_a_5000_digit_number_is_a_row_error_and_the_other_rows_validate(engine):
    rows = [f"IMP-{i},Name {i},,,,{1980 + i}," for i in range(5)]
    rows[2] = "IMP-2,Name 2,,,," + "9" * 5000 + ","
    content = (HEADER + "\n".join(rows) + "\n").encode()
    outcome = import_file(engine, content, "c.csv", "customers", actor="tester")
    assert outcome.status == "rejected"  # all or nothing: the report lists the one bad row
    assert (outcome.rows_total, outcome.rows_ok, outcome.rows_failed) == (5, 4, 1)
    assert [(e.row, e.column, e.message) for e in outcome.errors] == [
        (4, "birth_year", "number too long: at most 18 digits before the decimal point")
    ]
    assert get_run(engine, outcome.run_id)["status"] == "rejected"
    assert counts(engine)["customers"] == 0
    rows[2] = "IMP-2,Name 2,,,,1990,"
    fixed = import_file(
        engine, (HEADER + "\n".join(rows) + "\n").encode(), "c.csv", "customers", actor="t"
    )
    assert fixed.status == "succeeded" and counts(engine)["customers"] == 5


def test_a_long_amount_is_a_row_error(engine):
    for kind in ("customers", "products"):
        run(engine, FILES[kind][0], kind)
    content = (
        b"order_number,customer_external_id,platform_code,status,ordered_at,sku,quantity,"
        b"unit_price\nX-1,IMP-C-001,web,paid,2024-03-01,IMP-SKU-1,1," + b"9" * 5000 + b".00\n"
    )
    outcome = import_file(engine, content, "o.csv", "orders", actor="tester")
    assert outcome.status == "rejected"
    assert [(e.row, e.column) for e in outcome.errors] == [(2, "unit_price")]
    assert "number too long" in outcome.errors[0].message


def test_a_column_name_with_a_nul_character_still_ends_the_run(engine):
    """PostgreSQL refuses NUL in text: the message naming the column used to fail to save and
    the run stayed "running" for good."""
    header = "external_id," + " " * 9000 + "name,\x00evil\n"  # past the binary sniffing window
    outcome = import_file(
        engine, (header + "IMP-1,Ada,x\n").encode(), "c.csv", "customers", actor="t"
    )
    stored = get_run(engine, outcome.run_id)
    assert outcome.status == "succeeded" and stored["status"] == "succeeded"
    assert stored["finished"] and "\ufffdevil" in stored["message"]


@pytest.mark.parametrize("error", [RecursionError, MemoryError, ValueError, KeyError])
def test_an_unexpected_error_ends_the_run_as_failed(engine, monkeypatch, error):
    from bi_app.importing import service

    def broken(*_args, **_kwargs):
        raise error("deep inside")

    monkeypatch.setattr(service, "validate", broken)
    outcome = run(engine, "customers.csv", "customers")
    stored = get_run(engine, outcome.run_id)
    assert outcome.status == stored["status"] == "failed"
    assert f"unexpected error ({error.__name__})" in stored["message"]
    assert "Nothing was imported" in stored["message"] and stored["finished"]
    assert counts(engine)["customers"] == 0


def test_a_failure_to_record_the_report_still_ends_the_run(engine, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from bi_app.importing import runs

    real, calls = runs.finish_run, []

    def first_write_fails(*args, **kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("UPDATE import_runs", {}, Exception("connection lost"))
        return real(*args, **kwargs)

    monkeypatch.setattr(runs, "finish_run", first_write_fails)
    outcome = run(engine, "customers.csv", "customers", dry_run=True)
    stored = get_run(engine, outcome.run_id)
    assert len(calls) == 2 and stored["status"] == "validated" and stored["finished"]
    assert "report could not be saved" in stored["message"]


def test_the_import_queue_is_bounded(engine):
    import threading

    from bi_app.importing import service

    data = fixture_bytes("customers.csv")
    gate = threading.Event()
    service._executor.submit(gate.wait, 60)  # the one worker is busy: imports wait behind it
    try:
        waiting = [
            service.start_import(engine, data, "c.csv", "customers", actor="t", dry_run=True)
            for _ in range(service.MAX_QUEUED_IMPORTS + 1)
        ]
        refused = service.start_import(engine, data, "c.csv", "customers", actor="t", dry_run=True)
        stored = get_run(engine, refused)
        assert stored["status"] == "rejected" and stored["finished"]
        assert "import queue is full" in stored["message"]
        assert [get_run(engine, r)["status"] for r in waiting] == ["queued"] * len(waiting)
    finally:
        gate.set()
    service._executor.submit(lambda: None).result(timeout=120)  # everything before it ran
    assert [get_run(engine, r)["status"] for r in waiting] == ["validated"] * len(waiting)
    again = service.start_import(engine, data, "c.csv", "customers", actor="t", dry_run=True)
    service._executor.submit(lambda: None).result(timeout=120)
    assert get_run(engine, again)["status"] == "validated"


# --- reference data: platforms and categories (issue 10) -------------------------------------


def reference_rows(engine: Engine, model) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(select(model.code, model.name)).all())


def test_platforms_and_categories_import_by_code_and_reimport_renames(engine):
    platforms = b"code,name\nKiosk,Kiosk stand\nweb,Web shop\n"
    first = import_file(engine, platforms, "platforms.csv", "platforms", actor="tester")
    assert (first.status, first.inserted, first.updated) == ("succeeded", 1, 1), first.message
    assert reference_rows(engine, SalesPlatform) == {
        "web": "Web shop",
        "mobile_app": "App",
        "kiosk": "Kiosk stand",
    }
    renamed = import_file(
        engine, b"code,name\nkiosk,Kiosk\n", "platforms.csv", "platforms", actor="tester"
    )
    assert (renamed.inserted, renamed.updated) == (0, 1)
    assert reference_rows(engine, SalesPlatform)["kiosk"] == "Kiosk"

    categories = as_format(
        b"code,name\ntoys,Toys & Games\nELECTRONICS,Electronics & Audio\n", "xlsx"
    )
    outcome = import_file(engine, categories, "categories.xlsx", "categories", actor="tester")
    assert (outcome.status, outcome.inserted, outcome.updated) == ("succeeded", 1, 1)
    assert reference_rows(engine, Category) == {
        "electronics": "Electronics & Audio",
        "home_kitchen": "Home & Kitchen",
        "toys": "Toys & Games",
    }


def test_a_code_outside_the_filter_rule_is_a_row_error_and_nothing_changes(engine):
    before = reference_rows(engine, Category)
    content = b"code,name\ngarden,Garden\nhome & garden,Home\n_toys,Toys\n"
    outcome = import_file(engine, content, "c.csv", "categories", actor="tester")
    assert outcome.status == "rejected"
    assert [(e.row, e.column, e.value) for e in outcome.errors] == [
        (3, "code", "home & garden"),
        (4, "code", "_toys"),
    ]
    assert outcome.errors[0].message == (
        "is not a valid code: use 1 to 64 lower-case letters, digits, _ or -, starting with a "
        "letter or digit"
    )
    assert reference_rows(engine, Category) == before


def test_a_platform_import_shows_in_the_cached_catalogue(db_url, app_factory):
    from bi_app.data import catalog
    from bi_app.extensions import db
    from bi_app.importing import app_invalidator

    app = app_factory(db_url)
    engine = db.require_engine()
    content = b"code,name\nkiosk,Kiosk\nweb,Web shop\n"
    with app.server.app_context():
        assert [p["code"] for p in catalog.platforms()] == ["mobile_app", "web"]  # now cached
        assert import_file(engine, content, "p.csv", "platforms", actor="tester").ok
        # without invalidation the cache still answers: this is what the hook fixes
        assert [p["code"] for p in catalog.platforms()] == ["mobile_app", "web"]
        outcome = import_file(
            engine, content, "p.csv", "platforms", actor="tester", invalidate=app_invalidator()
        )
        assert outcome.status == "succeeded" and "old numbers" not in outcome.message
        assert catalog.platforms() == [
            {"code": "mobile_app", "name": "App"},
            {"code": "kiosk", "name": "Kiosk"},
            {"code": "web", "name": "Web shop"},
        ]
        assert catalog.display_names()["platform"]["kiosk"] == "Kiosk"


# --- dates from 1900 and the future horizon (issue 10) --------------------------------------

OLD_ORDERS = [
    # order_number, status, ordered_at, sku, quantity, unit_price (cents)
    ("OLD-1", "paid", "1950-01-01 00:00:00", "IMP-SKU-1", 2, 1000),
    ("OLD-2", "delivered", "1950-01-01 23:59:00", "IMP-SKU-2", 1, 250),
    ("OLD-3", "paid", "1969-12-31 23:30:00", "IMP-SKU-1", 1, 999),
    ("OLD-4", "paid", "1970-01-01 00:10:00", "IMP-SKU-1", 3, 100),
    ("OLD-5", "cancelled", "1984-02-29 12:00:00", "IMP-SKU-2", 4, 500),
    ("OLD-6", "paid", "1999-12-31 23:59:59", "IMP-SKU-2", 5, 1234),
]


def _old_orders_csv() -> bytes:
    lines = [
        "order_number,customer_external_id,platform_code,status,ordered_at,sku,quantity,unit_price"
    ]
    for number, status, at, sku, quantity, cents in OLD_ORDERS:
        lines.append(f"{number},IMP-C-001,web,{status},{at},{sku},{quantity},{cents / 100:.2f}")
    return ("\n".join(lines) + "\n").encode()


def test_orders_from_1950_to_1999_import_with_their_daily_rollups(engine):
    for kind in ("customers", "products"):
        assert run(engine, FILES[kind][0], kind).ok
    outcome = import_file(engine, _old_orders_csv(), "old.csv", "orders", actor="tester")
    assert outcome.status == "succeeded", (outcome.message, outcome.errors)
    assert "not updated" not in outcome.message
    with engine.connect() as conn:
        stored = conn.execute(
            select(Order.order_number, Order.status, Order.ordered_at, Order.total_cents).order_by(
                Order.order_number
            )
        ).all()
        rollup = conn.execute(
            select(
                DailyOrders.day,
                DailyOrders.status,
                DailyOrders.week,
                DailyOrders.month,
                DailyOrders.orders,
                DailyOrders.revenue_cents,
                DailyOrders.units,
            ).order_by(DailyOrders.day, DailyOrders.status)
        ).all()
    assert [tuple(r) for r in stored] == [
        (n, s, dt.datetime.fromisoformat(at), q * c) for n, s, at, _sku, q, c in OLD_ORDERS
    ]
    expected: dict[tuple[dt.date, str], list[int]] = {}
    for _n, status, at, _sku, quantity, cents in OLD_ORDERS:
        sums = expected.setdefault((dt.date.fromisoformat(at[:10]), status), [0, 0, 0])
        sums[0] += 1
        sums[1] += quantity * cents
        sums[2] += quantity
    assert [
        (str(day), status, str(week), str(month), orders, revenue, units)
        for day, status, week, month, orders, revenue, units in rollup
    ] == [
        (
            str(day),
            status,
            str(day - dt.timedelta(days=day.weekday())),
            str(day.replace(day=1)),
            *sums,
        )
        for (day, status), sums in sorted(expected.items())
    ]
    assert len(rollup) == 6  # 1950-01-01 holds a paid and a delivered order


def test_dates_beyond_the_horizon_are_row_errors_naming_the_setting(engine):
    now = dt.datetime(2025, 6, 1, 12, 0)
    content = (HEADER + "IMP-1,Ada,,,,,2025-06-20 10:00\nIMP-2,Bob,,,,,1900-01-01\n").encode()
    refused = import_file(engine, content, "c.csv", "customers", actor="tester", now=now)
    assert refused.status == "rejected"
    assert [(e.row, e.column) for e in refused.errors] == [(2, "created_at")]
    assert "at most 1 day(s) ahead; BI_IMPORT_FUTURE_DAYS" in refused.errors[0].message
    allowed = import_file(
        engine, content, "c.csv", "customers", actor="tester", now=now, future_days=30
    )
    assert allowed.status == "succeeded" and allowed.inserted == 2
    with engine.connect() as conn:
        created = dict(conn.execute(select(Customer.external_id, Customer.created_at)).all())
    assert created == {
        "IMP-1": dt.datetime(2025, 6, 20, 10),
        "IMP-2": dt.datetime(1900, 1, 1),
    }


def test_the_cli_passes_the_future_horizon_from_the_settings(db_url, tmp_path, capsys):
    from bi_app.extensions import db
    from bi_app.importing.cli import cli_import
    from tests.conftest import make_settings

    ahead = (dt.datetime.now(dt.UTC) + dt.timedelta(days=10)).strftime("%Y-%m-%d %H:%M")
    path = tmp_path / "planned.csv"
    path.write_text(HEADER + f"IMP-1,Ada,,,,,{ahead}\n")
    db.init(db_url)
    try:
        assert cli_import(str(path), "customers", settings=make_settings(db_url)) == 1
        assert "BI_IMPORT_FUTURE_DAYS" in capsys.readouterr().err
        settings = make_settings(db_url, import_future_days=30)
        assert cli_import(str(path), "customers", settings=settings) == 0
        assert counts(db.require_engine())["customers"] == 1
    finally:
        db.engine.dispose()
