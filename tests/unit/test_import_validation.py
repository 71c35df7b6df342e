"""Import validation: cell parsers, file detection, row-level reports (the checks that span rows
run on an in-memory SQLite database's staging table)."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import create_engine

from bi_app.importing import reader, service, values
from bi_app.importing.reader import ImportFileError, open_table
from bi_app.importing.schemas import KINDS, get_kind
from bi_app.importing.templates import template_file
from bi_app.importing.validate import staged_records, validate

NOW = dt.datetime(2025, 6, 1, 12, 0)


@pytest.fixture
def conn():
    """A connection of an empty in-memory database: enough for files without references."""
    engine = create_engine("sqlite://")
    with engine.begin() as connection:
        yield connection
    engine.dispose()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("12.50", 1250),
        ("12.5", 1250),
        (12.5, 1250),
        (7, 700),
        ("0", 0),
        (" 3 ", 300),
        (0.1, 10),
    ],
)
def test_money_in_units_becomes_minor_units(raw, expected):
    assert values.parse_money(raw, decimals=2, minimum=0, maximum=10**12) == expected


@pytest.mark.parametrize(
    "raw, message",
    [
        ("1,50", "decimal separator"),
        ("12.345", "more than 2 decimal places"),
        ("-1", "must not be negative"),
        ("abc", "expected an amount"),
        (True, "true/false"),
        (float("inf"), "expected an amount"),
    ],
)
def test_money_refusals(raw, message):
    with pytest.raises(values.CellError, match=message):
        values.parse_money(raw, decimals=2, minimum=0, maximum=10**12)


@pytest.mark.parametrize(
    "raw, message",
    [
        ("=1+1", "formula"),
        ("+cmd", "formula"),
        ("-foo", "formula"),
        ("@SUM(A1)", "formula"),
        ("a\x00b", "control characters"),
        ("x" * 65, "65 characters long"),
    ],
)
def test_text_refusals(raw, message):
    with pytest.raises(values.CellError, match=message):
        values.parse_text(raw, max_length=64)


def test_text_accepts_numbers_and_negative_numbers_as_text():
    assert values.parse_text(1001.0, max_length=64) == "1001"
    assert values.parse_text("-5", max_length=64) == "-5"
    assert values.parse_text(" Paid ", max_length=64, choices=("paid",)) == "paid"


def test_datetimes_are_utc_and_plausible():
    assert values.parse_datetime("2024-05-01T14:30:00+02:00", now=NOW) == dt.datetime(
        2024, 5, 1, 12, 30
    )
    assert values.parse_datetime(dt.date(2024, 5, 1), now=NOW) == dt.datetime(2024, 5, 1)
    assert values.parse_datetime("2025-06-02 11:00", now=NOW) == dt.datetime(
        2025, 6, 2, 11
    )  # within a day
    assert values.parse_datetime("1900-01-01 00:00", now=NOW) == dt.datetime(1900, 1, 1)
    assert values.parse_date("1950-07-15", now=NOW) == dt.date(1950, 7, 15)
    for raw, message in (
        ("2025-06-03", "in the future"),
        ("1899-12-31 23:59", "before 1900-01-01"),
        ("01/05/2024", "ISO"),
    ):
        with pytest.raises(values.CellError, match=message):
            values.parse_datetime(raw, now=NOW)
    with pytest.raises(values.CellError, match="without a time"):
        values.parse_date(dt.datetime(2024, 1, 1, 10), now=NOW)


def test_the_future_horizon_is_configurable_and_named_in_the_error():
    # the default horizon is one day; BI_IMPORT_FUTURE_DAYS moves it
    assert values.parse_datetime("2025-06-30 12:00", now=NOW, future_days=29) == dt.datetime(
        2025, 6, 30, 12
    )
    assert values.parse_date("2025-06-30", now=NOW, future_days=29) == dt.date(2025, 6, 30)
    with pytest.raises(values.CellError) as info:
        values.parse_datetime("2025-06-30 12:01", now=NOW, future_days=29)
    assert str(info.value) == (
        "is in the future (after 2025-06-30 12:00 UTC): dates may lie at most 29 day(s) ahead; "
        "BI_IMPORT_FUTURE_DAYS sets how many"
    )
    assert values.parse_datetime("2025-06-01 12:00", now=NOW, future_days=0) == NOW
    with pytest.raises(values.CellError, match="at most 0 day"):
        values.parse_date("2025-06-02", now=NOW, future_days=0)


def test_a_file_is_validated_against_the_horizon_it_is_given(conn):
    data = b"external_id,name,created_at\nC-1,Ada,2025-06-10 09:00\nC-2,Bob,1901-02-03\n"
    strict = validate(conn, open_table(data, "c.csv"), get_kind("customers"), now=NOW)
    assert [(e.row, e.column) for e in strict.errors] == [(2, "created_at")]
    assert "BI_IMPORT_FUTURE_DAYS" in strict.errors[0].message
    lenient = validate(
        conn, open_table(data, "c.csv"), get_kind("customers"), now=NOW, future_days=10
    )
    assert lenient.ok
    assert [r["created_at"] for r in staged_records(conn, lenient, get_kind("customers"))] == [
        dt.datetime(2025, 6, 10, 9),
        dt.datetime(1901, 2, 3),
    ]


@pytest.mark.parametrize(
    "raw, expected",
    [("web", "web"), (" Kiosk ", "kiosk"), ("HOME_kitchen-2", "home_kitchen-2"), (42.0, "42")],
)
def test_codes_are_lower_cased(raw, expected):
    assert values.parse_code(raw) == expected


@pytest.mark.parametrize("raw", ["web shop", "_web", "-web", "caf\u00e9", "x" * 65, "=1+1", "a/b"])
def test_codes_outside_the_filter_rule_are_refused(raw):
    with pytest.raises(values.CellError, match="is not a valid code: use 1 to 64 lower-case"):
        values.parse_code(raw)


def test_the_import_code_rule_is_the_filters_rule():
    from bi_app.filters import _CODE_RE

    assert values.CODE_RE.pattern == _CODE_RE.pattern


def test_platform_and_category_files_are_validated_by_code(conn):
    data = b"code,name\nWeb,Web shop\nkiosk,Kiosk\nweb,Again\nbad code,X\nshop,\n"
    result = validate(conn, open_table(data, "p.csv"), get_kind("platforms"), now=NOW)
    assert [(e.row, e.column, e.value) for e in result.errors] == [
        (4, "code", "web"),
        (5, "code", "bad code"),
        (6, "name", ""),
    ]
    assert result.errors[0].message == "duplicate key: same as row 2"
    assert result.errors[1].message.startswith("is not a valid code")
    good = validate(
        conn,
        open_table(b"code,name\nToys,Toys & Games\n", "c.csv"),
        get_kind("categories"),
        now=NOW,
    )
    assert good.ok
    assert staged_records(conn, good, get_kind("categories")) == [
        {"code": "toys", "name": "Toys & Games"}
    ]


def test_the_cli_offers_every_import_kind():
    from bi_app.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["import"]
    kinds = next(a for a in sub._actions if a.dest == "kind").choices
    assert tuple(kinds) == tuple(KINDS)
    args = parser.parse_args(["import", "f.csv", "--kind", "platforms", "--create-missing"])
    assert (args.kind, args.create_missing, args.dry_run) == ("platforms", True, False)


@pytest.mark.parametrize("raw, expected", [("3", 3), (3.0, 3), ("+4", 4)])
def test_int(raw, expected):
    assert values.parse_int(raw, minimum=1, maximum=10) == expected


@pytest.mark.parametrize(
    "raw, message", [("0", "at least 1"), ("11", "at most 10"), ("2.5", "whole"), (2.5, "whole")]
)
def test_int_refusals(raw, message):
    with pytest.raises(values.CellError, match=message):
        values.parse_int(raw, minimum=1, maximum=10)


def test_format_follows_contents_not_just_the_name():
    assert reader.detect_format(b"a,b\n1,2\n", "x.CSV", 100) == "csv"
    with pytest.raises(ImportFileError, match="Parquet"):
        reader.detect_format(b"PAR1....", "x.csv", 100)
    with pytest.raises(ImportFileError, match="limit is"):
        reader.detect_format(b"a" * 101, "x.csv", 100)
    with pytest.raises(ImportFileError, match="empty"):
        reader.detect_format(b"  \n", "x.csv", 100)


def test_header_is_normalized_and_checked():
    assert reader.normalize_header(["\ufeffExternal ID", " Name ", None]) == ["external_id", "name"]
    with pytest.raises(ImportFileError, match="appears twice"):
        reader.normalize_header(["sku", "SKU"])
    with pytest.raises(ImportFileError, match="Column 2 has no name"):
        reader.normalize_header(["sku", "", "name"])


def test_semicolon_csv_with_bom_and_quoted_newlines():
    data = '\ufeffexternal_id;name\nC-1;"Ada\nLovelace"\nC-2;Alan\n'.encode()
    table = open_table(data, "c.csv")
    assert table.header == ["external_id", "name"]
    assert list(table.rows) == [(2, ["C-1", "Ada\nLovelace"]), (3, ["C-2", "Alan"])]


def test_customers_report_lists_each_bad_cell_with_its_row(conn):
    data = (
        b"external_id,name,gender,birth_year,extra\n"
        b"C-1,Ada,female,1985,x\n"
        b"C-2,,robot,1985,x\n"
        b"C-1,Dup,male,,x\n"
    )
    result = validate(conn, open_table(data, "c.csv"), get_kind("customers"), now=NOW)
    assert [(e.row, e.column, e.value, e.message) for e in result.errors] == [
        (3, "gender", "robot", "must be one of: female, male, other"),
        (3, "name", "", "is required"),
        (4, "external_id", "C-1", "duplicate key: same as row 2"),
    ]
    assert (result.rows_total, result.rows_ok, result.rows_failed, result.error_count) == (
        3,
        1,
        2,
        3,
    )
    assert result.ignored_columns == ["extra"]


def test_valid_rows_become_table_records_with_only_the_given_columns(conn):
    data = b"external_id,name,birth_year\nC-1,Ada,1985\n"
    result = validate(conn, open_table(data, "c.csv"), get_kind("customers"), now=NOW)
    assert result.ok and staged_records(conn, result, get_kind("customers")) == [
        {"external_id": "C-1", "name": "Ada", "birth_year": 1985}
    ]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_templates_hold_every_column_and_a_parseable_example(kind, fmt):
    content, name = template_file(kind, fmt)
    table = open_table(content, name)
    assert table.header == list(KINDS[kind].columns)
    ((_number, cells),) = list(table.rows)
    for spec, cell in zip(KINDS[kind].fields, cells):
        spec.parse(cell, now=NOW, decimals=2)  # raises on a bad example


def test_upload_decoding_and_its_size_limit(monkeypatch):
    payload = "data:text/csv;base64," + base64.b64encode(b"a,b\n").decode()
    assert service.decode_upload(payload) == b"a,b\n"
    monkeypatch.setattr(service, "MAX_UPLOAD_BYTES", 2)
    with pytest.raises(ImportFileError, match="upload limit"):
        service.decode_upload(payload)
    with pytest.raises(ImportFileError, match="Choose a file"):
        service.decode_upload(None)
    with pytest.raises(ImportFileError, match="damaged"):
        service.decode_upload("data:text/csv;base64,@@")


def test_unknown_kind_names_the_known_ones():
    with pytest.raises(ValueError, match="platforms, categories, customers, products, orders"):
        get_kind("payroll")


# --- bounds on numbers, text and Parquet batches -------------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["9" * 5000, "-" + "1" * 19, "+" + "1" * 4301, Decimal("1e999999999"), Decimal(10**30)],
)
def test_int_with_too_many_digits_is_a_cell_error(raw):
    with pytest.raises(values.CellError, match="number too long"):
        values.parse_int(raw, minimum=0, maximum=10**12)


@pytest.mark.parametrize("raw", ["9" * 5000, "1" * 19 + ".5", Decimal("1e999999999"), 10**40])
def test_amount_with_too_many_digits_is_a_cell_error(raw):
    with pytest.raises(values.CellError, match="number too long"):
        values.parse_money(raw, decimals=2, minimum=0, maximum=10**12)


def test_numbers_within_the_digit_bound_still_parse():
    assert values.parse_int("0" * 30 + "5", minimum=0, maximum=10) == 5
    assert values.parse_int("9" * 18, minimum=0, maximum=10**18) == 10**18 - 1
    assert values.parse_money("12.50", decimals=2, minimum=0, maximum=10**12) == 1250
    with pytest.raises(values.CellError, match="whole number"):
        values.parse_int(Decimal("NaN"), minimum=0, maximum=10)
    assert values.shown(10**5000).startswith("(a whole number of about 5,001 digits")


@pytest.mark.parametrize(
    "raw", ["\uff1dcmd|' /C calc'!A0", "\u200b=1+1", "\u3000@SUM(A1)", "\uff0b1", "\uff20x"]
)
def test_full_width_and_blank_prefixed_formulas_are_refused(raw):
    with pytest.raises(values.CellError, match="formula"):
        values.parse_text(raw, max_length=200)


def _parquet(table) -> bytes:
    import io

    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def test_parquet_reads_only_the_columns_the_import_uses():
    import pyarrow as pa

    huge = "x" * (reader.MAX_CELL_BYTES + 1)
    data = _parquet(
        pa.table(
            {
                "external_id": ["C-1", "C-2"],
                "Name": ["Ada", "Alan"],
                "notes": [huge, "short"],  # not a customers column: never decoded
                "tags": pa.array([[1, 2], [3]]),
            }
        )
    )
    table = open_table(data, "c.parquet", columns=KINDS["customers"].columns)
    assert table.header == ["external_id", "name", "notes", "tags"]
    assert list(table.rows) == [(2, ["C-1", "Ada", None, None]), (3, ["C-2", "Alan", None, None])]
    # every column decoded (no kind given): the nested column and the huge cell are refused
    with pytest.raises(ImportFileError, match="'tags' holds lists or records"):
        open_table(data, "c.parquet")


def test_parquet_cells_and_batches_are_checked_as_decoded():
    import pyarrow as pa

    huge = "x" * (reader.MAX_CELL_BYTES + 1)
    data = _parquet(pa.table({"external_id": ["C-1", "C-2"], "name": ["Ada", huge]}))
    table = open_table(data, "c.parquet", columns=KINDS["customers"].columns)
    with pytest.raises(ImportFileError, match="'name' has a cell of 131,073 bytes"):
        list(table.rows)
    labels = pa.array(["Ada", huge]).dictionary_encode()  # pandas categoricals arrive like this
    data = _parquet(pa.table({"external_id": ["C-1", "C-2"], "name": labels}))
    with pytest.raises(ImportFileError, match="has a cell of"):
        list(open_table(data, "c.parquet", columns=["external_id", "name"]).rows)


def test_parquet_batch_size_is_checked_after_decoding(monkeypatch):
    import pyarrow as pa

    data = _parquet(pa.table({"external_id": [f"C-{i}" for i in range(50)], "name": ["a"] * 50}))
    monkeypatch.setattr(reader, "MAX_PARQUET_BATCH_BYTES", 100)
    with pytest.raises(ImportFileError, match="decode to .* the limit is"):
        list(open_table(data, "c.parquet").rows)
    monkeypatch.setattr(reader, "MAX_PARQUET_BATCH_BYTES", 10**9)
    monkeypatch.setattr(reader, "MAX_PARQUET_UNCOMPRESSED", 10**9)
    monkeypatch.setattr(reader, "PARQUET_BATCH_ROWS", 10)
    assert len(list(open_table(data, "c.parquet").rows)) == 50


def test_a_workbook_with_an_unreadable_number_is_refused_with_a_message():
    import io
    import zipfile

    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["external_id", "name", "birth_year"])
    book.active.append(["C-1", "Ada", 1985])
    book.active.append(["C-2", "Alan", 123456789])
    out = io.BytesIO()
    book.save(out)
    patched = io.BytesIO()
    with zipfile.ZipFile(out) as source, zipfile.ZipFile(patched, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"<v>123456789</v>", b"<v>" + b"9" * 5000 + b"</v>")
            target.writestr(info, content)
    table = open_table(patched.getvalue(), "c.xlsx")
    with pytest.raises(ImportFileError, match="cannot be read after row 2 \\(ValueError\\)"):
        list(table.rows)


def test_what_create_missing_made_is_described_in_order_and_long_lists_are_shortened():
    from bi_app.importing.create import audit_detail, created_codes, describe_created

    created = created_codes(
        {"platform_code": {"kiosk": None}, "category_code": {"toys": None, "garden": None}}
    )
    assert created == {"categories": ["toys", "garden"], "platforms": ["kiosk"]}
    assert describe_created(created) == "2 categories: toys, garden; 1 platform: kiosk"
    many = [f"C-{i:03}" for i in range(1025)]
    assert describe_created({"customers": many}) == (
        "1,025 customers: " + ", ".join(many[:10]) + " and 1,015 more"
    )
    detail = audit_detail({"customers": many})
    assert detail["customers"]["count"] == 1025 and detail["customers"]["codes"] == many[:1000]
    assert created_codes({"customer_external_id": {}}) == {}
