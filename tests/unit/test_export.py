"""CSV / Excel / JSON writers: formula neutralization, round trips, Excel styling and row cap."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from decimal import Decimal

import openpyxl
import pytest

from bi_app.export import (
    ExportColumn,
    ExportError,
    columns_from_spec,
    export_filename,
    export_rows,
    neutralize,
    to_csv_bytes,
    to_json_bytes,
    to_xlsx_bytes,
)

COLUMNS = [
    ExportColumn("name", "Name", "text"),
    ExportColumn("qty", "Quantity", "int"),
    ExportColumn("price", "Unit price", "money"),
    ExportColumn("share", "Share", "percent"),
    ExportColumn("score", "Score", "float"),
    ExportColumn("day", "Day", "date"),
]
ROWS = [
    {
        "name": 'Müller & Söhne, "Ltd"',
        "qty": 1200,
        "price": 19.99,
        "share": 0.125,
        "score": 3.5,
        "day": "2024-03-01",
    },
    {
        "name": '=HYPERLINK("http://127.0.0.1/x","click")',
        "qty": -3,
        "price": -5.5,
        "share": 1,
        "score": None,
        "day": dt.date(2024, 3, 2),
    },
    {"name": "plain", "qty": 0, "price": 0, "share": 0.0, "score": -0.25, "day": None},
]


def _xlsx(rows, columns=COLUMNS, **kwargs):
    result = to_xlsx_bytes(rows, columns, "Orders", **kwargs)
    return result, openpyxl.load_workbook(io.BytesIO(result.content)).active


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("\nx", "'\nx"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("a=1", "a=1"),
        # the first non-blank character counts, full-width forms too
        (" =1+2", "' =1+2"),
        ("\u3000=1+2", "'\u3000=1+2"),
        ("\u00a0\t+1", "'\u00a0\t+1"),
        ("\u200b=1", "'\u200b=1"),
        ("\uff1dHYPERLINK()", "'\uff1dHYPERLINK()"),
        ("\uff0b1", "'\uff0b1"),
        ("\uff0d1", "'\uff0d1"),
        ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
        ("  \uff1d1", "'  \uff1d1"),
        ("   ", "   "),
        ("a \uff1d b", "a \uff1d b"),
        ("", ""),
        ("hello", "hello"),
        (42, 42),
        (-42, -42),
        (-1.5, -1.5),
        (Decimal("-3.10"), Decimal("-3.10")),
        (None, None),
        (True, True),
    ],
)
def test_neutralize(value, expected):
    assert neutralize(value) == expected


def test_csv_round_trip_with_bom_and_neutralized_text():
    data = to_csv_bytes(ROWS, COLUMNS)
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert parsed == [
        ["Name", "Quantity", "Unit price", "Share", "Score", "Day"],
        ['Müller & Söhne, "Ltd"', "1200", "19.99", "0.125", "3.5", "2024-03-01"],
        ['\'=HYPERLINK("http://127.0.0.1/x","click")', "-3", "-5.5", "1", "", "2024-03-02"],
        ["plain", "0", "0", "0.0", "-0.25", ""],
    ]


def test_csv_neutralizes_headers_and_treats_nan_as_empty():
    data = to_csv_bytes([{"a": float("nan")}], [ExportColumn("a", "=cmd", "float")])
    assert list(csv.reader(io.StringIO(data.decode("utf-8-sig")))) == [["'=cmd"], [""]]


def test_json_round_trip_keeps_data_unneutralized():
    rows = ROWS + [
        {
            "name": "-x",
            "qty": Decimal(7),
            "price": Decimal("2.50"),
            "share": float("nan"),
            "score": float("inf"),
            "day": dt.datetime(2024, 3, 4, 5, 6, 7),
        }
    ]
    parsed = json.loads(to_json_bytes(rows, COLUMNS))
    assert parsed[0] == {
        "name": 'Müller & Söhne, "Ltd"',
        "qty": 1200,
        "price": 19.99,
        "share": 0.125,
        "score": 3.5,
        "day": "2024-03-01",
    }
    assert parsed[1]["name"] == '=HYPERLINK("http://127.0.0.1/x","click")'
    assert parsed[1]["day"] == "2024-03-02"
    assert parsed[3] == {
        "name": "-x",
        "qty": 7,
        "price": 2.5,
        "share": None,
        "score": None,
        "day": "2024-03-04T05:06:07",
    }
    assert list(parsed[0]) == [c.field for c in COLUMNS]


def test_xlsx_header_style_freeze_pane_and_widths():
    result, sheet = _xlsx(ROWS)
    assert result.rows_written == 3 and not result.truncated and result.message is None
    assert [c.value for c in sheet[1]] == [c.header for c in COLUMNS]
    header = sheet["A1"]
    assert header.font.b is True
    assert header.fill.fill_type == "solid"
    assert sheet.freeze_panes == "A2"
    widths = [sheet.column_dimensions[letter].width for letter in "ABCDEF"]
    assert all(8 <= w <= 61 for w in widths)
    assert widths[0] > widths[1]  # the long name column is wider than the quantity column


def test_xlsx_number_formats_per_kind():
    _, sheet = _xlsx(ROWS)
    row = sheet[2]
    assert row[1].value == 1200 and row[1].number_format == "#,##0"
    assert row[2].value == pytest.approx(19.99) and "€" in row[2].number_format
    assert "#,##0.00" in row[2].number_format
    assert row[3].value == pytest.approx(0.125) and row[3].number_format == "0.0%"
    assert row[4].number_format == "#,##0.00"
    assert row[5].value == dt.datetime(2024, 3, 1) and row[5].number_format == "yyyy-mm-dd"
    assert sheet["C3"].value == pytest.approx(-5.5)


def test_xlsx_currency_follows_setting():
    _, sheet = _xlsx(ROWS, currency="USD")
    assert "$" in sheet["C2"].number_format and "€" not in sheet["C2"].number_format
    _, sheet = _xlsx(ROWS, currency="JPY")
    assert "¥" in sheet["C2"].number_format and "." not in sheet["C2"].number_format


def test_xlsx_formula_text_is_stored_as_text():
    _, sheet = _xlsx(ROWS)
    cell = sheet["A3"]
    assert cell.data_type == "s"
    # text as the user typed it, no visible apostrophe: the cell's quote prefix keeps it text
    assert cell.value == '=HYPERLINK("http://127.0.0.1/x","click")'
    assert cell.quotePrefix is True
    assert sheet["A2"].quotePrefix is False
    # and the raw sheet XML holds no formula element at all
    from zipfile import ZipFile

    with ZipFile(io.BytesIO(to_xlsx_bytes(ROWS, COLUMNS).content)) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")


def test_xlsx_missing_and_bad_values():
    rows = [
        {
            "name": None,
            "qty": "not a number",
            "price": float("nan"),
            "share": "",
            "score": "1.5",
            "day": "someday",
        }
    ]
    _, sheet = _xlsx(rows)
    values = [c.value for c in sheet[2]]
    assert values == [None, "not a number", None, None, 1.5, "someday"]


def test_xlsx_row_cap_truncates_with_message():
    rows = [{"name": f"r{i}", "qty": i} for i in range(7)]
    result, sheet = _xlsx(rows, max_rows=5)
    assert result.truncated is True and result.rows_written == 5
    assert "5" in result.message and "7" in result.message and "CSV" in result.message
    assert sheet.max_row == 6
    assert sheet["A6"].value == "r4"

    exact, sheet = _xlsx(rows[:5], max_rows=5)
    assert exact.truncated is False and exact.message is None and sheet.max_row == 6


def test_export_rows_dispatch_and_validation():
    now = dt.datetime(2024, 5, 6, 7, 8)
    out = export_rows(ROWS, COLUMNS, "csv", name="orders", now=now)
    assert out.filename == "orders-20240506-0708.csv" and out.media_type == "text/csv"
    assert out.content == to_csv_bytes(ROWS, COLUMNS)
    out = export_rows(ROWS * 3, COLUMNS, "xlsx", name="orders", now=now, xlsx_max_rows=4)
    assert out.truncated and out.rows == 4 and out.filename.endswith(".xlsx")
    with pytest.raises(ExportError, match="unknown download format"):
        export_rows(ROWS, COLUMNS, "pdf", name="orders", now=now)
    with pytest.raises(ExportError, match="list"):
        export_rows({"a": 1}, COLUMNS, "csv", name="orders", now=now)
    with pytest.raises(ExportError, match="too many rows"):
        export_rows(ROWS, COLUMNS, "json", name="orders", now=now, max_rows=2)


def test_export_filename_is_safe():
    now = dt.datetime(2024, 1, 2, 3, 4)
    assert export_filename("../../etc/passwd", "csv", now) == "etc-passwd-20240102-0304.csv"
    assert export_filename("", "json", now) == "export-20240102-0304.json"


def test_columns_from_spec():
    spec = [{"field": "a", "header": "A", "kind": "money"}, {"field": "b"}]
    assert columns_from_spec(spec) == [
        ExportColumn("a", "A", "money"),
        ExportColumn("b", "b", "text"),
    ]
    for bad in (None, [], "x", [{"header": "no field"}], [{"field": "a", "kind": "blob"}]):
        with pytest.raises(ExportError):
            columns_from_spec(bad)


def test_grid_rows_convert_cents_and_dates_for_display_and_export():
    import pandas as pd

    from components.data_grid import GridColumn, column_defs, grid_rows

    df = pd.DataFrame(
        {
            "name": ["a", "=b"],
            "revenue": [123456, -5],
            "refunds": [250, None],  # an integer cents column with a gap arrives as float64
            "day": pd.to_datetime(["2024-01-02 13:00", "2024-01-03 00:00"]),
            "rate": [0.5, float("nan")],
        }
    )
    columns = [
        GridColumn("name", "Name"),
        GridColumn("revenue", "Revenue", "money"),
        GridColumn("refunds", "Refunds", "money"),
        GridColumn("day", "Day", "date"),
        GridColumn("rate", "Rate", "percent", width=90, pinned="right"),
    ]
    assert grid_rows(df, columns) == [
        {"name": "a", "revenue": 1234.56, "refunds": 2.5, "day": "2024-01-02", "rate": 0.5},
        {"name": "=b", "revenue": -0.05, "refunds": None, "day": "2024-01-03", "rate": None},
    ]
    defs = {d["field"]: d for d in column_defs(columns, "EUR")}
    assert defs["revenue"]["cellDataType"] == "number"
    # the browser's Intl (assets/locale.js) formats money in the page's language with the
    # currency's own digits
    assert defs["revenue"]["valueFormatter"]["function"] == 'biNumber(params.value, "money", "EUR")'
    assert defs["day"]["cellDataType"] == "dateString"
    assert defs["rate"]["width"] == 90 and defs["rate"]["pinned"] == "right"
    assert "valueFormatter" not in defs["name"]


def test_grid_rows_take_the_currency_minor_unit():
    import pandas as pd

    from components.data_grid import GridColumn, grid_rows

    df = pd.DataFrame({"amount": [1_000_000, 12_345]})
    money = [GridColumn("amount", "Amount", "money")]
    assert [r["amount"] for r in grid_rows(df, money, "KRW")] == [1_000_000, 12_345]
    assert [r["amount"] for r in grid_rows(df, money, "JPY")] == [1_000_000, 12_345]
    assert [r["amount"] for r in grid_rows(df, money, "EUR")] == [10_000, 123.45]
    assert [r["amount"] for r in grid_rows(df, money, "BHD")] == [1_000, 12.345]


def test_xlsx_full_width_and_blank_prefixed_formulas_are_quoted_text():
    rows = [{"name": value} for value in ("\uff1dcmd|' /C calc'!A0", " @SUM(A1)", "\u3000-1", "ok")]
    _, sheet = _xlsx(rows, [ExportColumn("name", "\uff1dheader")])
    assert [c.value for c in sheet["A"]] == [
        "\uff1dheader",
        "\uff1dcmd|' /C calc'!A0",
        " @SUM(A1)",
        "\u3000-1",
        "ok",
    ]
    assert [c.quotePrefix for c in sheet["A"]] == [True, True, True, True, False]
    assert sheet["A1"].font.b is True  # the quoted header keeps the header style
    # real negative numbers stay numbers in every column kind
    _, sheet = _xlsx([{"name": -12.5, "qty": -3}], COLUMNS[:2])
    assert (sheet["A2"].value, sheet["B2"].value) == (-12.5, -3)
    assert sheet["A2"].data_type == "n"


NOW = dt.datetime(2024, 5, 6, 7, 8)
TWO = [ExportColumn("name", "Name"), ExportColumn("qty", "Quantity", "int")]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
@pytest.mark.parametrize(
    "bad",
    [
        [1, 2],
        {"a": 1},
        {"nested": [[[]]]},
        # deeper than orjson serializes (it raised TypeError past ~255 levels)
        __import__("functools").reduce(lambda inner, _: [inner], range(300), []),
        10**30,
        b"bytes",
    ],
)
def test_only_single_values_are_exported(fmt, bad):
    rows = [{"name": "ok", "qty": 1}, {"name": bad, "qty": 2}]
    with pytest.raises(ExportError, match=r"cannot export: invalid data \(row 2, column 'name'"):
        export_rows(rows, TWO, fmt, name="orders", now=NOW)
    with pytest.raises(ExportError, match="row 1 is not a record"):
        export_rows([["ok", 1]], TWO, fmt, name="orders", now=NOW)


def test_columns_and_cells_are_bounded():
    from bi_app import export

    spec = [{"field": f"c{i}"} for i in range(export.MAX_EXPORT_COLUMNS + 1)]
    with pytest.raises(ExportError, match="too many columns to download \\(201; the limit is 200"):
        columns_from_spec(spec)
    assert len(columns_from_spec(spec[:200])) == 200
    columns = columns_from_spec(spec[:200])
    rows = [{}] * (export.MAX_EXPORT_CELLS // 200 + 1)
    with pytest.raises(ExportError, match="too much data to download \\(5,000,200 cells"):
        export_rows(rows, columns, "csv", name="wide", now=NOW)
    for bad in ([{"field": "a", "header": {"x": 1}}], [{"field": "a", "kind": ["text"]}]):
        with pytest.raises(ExportError, match="malformed"):
            columns_from_spec(bad)
    assert columns_from_spec([{"field": "a", "header": "h" * 1000}])[0].header == "h" * 255


def test_long_text_is_cut_to_the_excel_limit_and_the_user_is_told():
    from bi_app.export import MAX_CELL_CHARS

    rows = [{"name": "x" * (MAX_CELL_CHARS + 10), "qty": 1}, {"name": "short", "qty": 2}]
    for fmt in ("csv", "json", "xlsx"):
        out = export_rows(rows, TWO, fmt, name="orders", now=NOW)
        assert "1 cell(s) longer than 32,767 characters were shortened" in out.message
    parsed = json.loads(export_rows(rows, TWO, "json", name="o", now=NOW).content)
    assert len(parsed[0]["name"]) == MAX_CELL_CHARS and parsed[1]["name"] == "short"
    assert export_rows(rows[1:], TWO, "csv", name="o", now=NOW).message is None


def test_lone_surrogates_from_a_browser_do_not_break_any_format():
    rows = [{"name": "bad \ud800 text", "qty": 1}]
    csv_text = export_rows(rows, TWO, "csv", name="o", now=NOW).content.decode("utf-8-sig")
    assert "bad \ufffd text" in csv_text
    assert json.loads(export_rows(rows, TWO, "json", name="o", now=NOW).content)[0]["name"] == (
        "bad \ufffd text"
    )
    export_rows(rows, TWO, "xlsx", name="o", now=NOW)
    with pytest.raises(ExportError, match="malformed"):
        columns_from_spec([{"field": "bad \udc00"}])
    with pytest.raises(ExportError, match="unknown download format"):
        export_rows(rows, TWO, ["csv"], name="o", now=NOW)
