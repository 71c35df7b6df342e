"""The report workbook, read back with openpyxl: sheet names, headers, typed cells and their
number formats, frozen header rows, autofilters, native charts, Korean text as it is."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest

from bi_app.reports import excel
from bi_app.reports.model import Column, Section, Table
from tests import report_fixture as fx

KRW = '"₩"#,##0;-"₩"#,##0'
EUR = '"€"#,##0.00;-"€"#,##0.00'


def _open(report) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(excel.render_xlsx(report)))


@pytest.fixture(scope="module")
def workbook() -> openpyxl.Workbook:
    return _open(fx.make_report())


def test_a_summary_sheet_then_one_sheet_per_section(workbook):
    assert workbook.sheetnames == [
        "Summary",
        "Key figures",
        "Revenue trend",
        "Sales by platform",
        "Top products",
        "Customers",
        "Insights",
        "Events",
    ]


def test_summary_holds_title_period_and_cover_kpis(workbook):
    sheet = workbook["Summary"]
    assert sheet["A1"].value == fx.TITLE
    assert sheet["A2"].value == fx.PERIOD_LABEL
    assert sheet["A3"].value == f"Generated {fx.GENERATED_TEXT}"
    assert [c.value for c in sheet[6]] == [
        "Indicator",
        "Value",
        "vs previous period",
        "vs last year",
    ]
    assert sheet["A6"].font.b
    assert sheet["A7"].value == "Revenue"
    assert sheet["B7"].value == 116_690_000
    assert sheet["B7"].number_format == KRW
    assert sheet["C7"].value == pytest.approx(0.124)
    assert sheet["C7"].number_format == "+0.0%;-0.0%;0.0%"
    assert sheet["B10"].value == pytest.approx(0.0312)
    assert sheet["B10"].number_format == "0.0%"
    assert sheet["D8"].value is None  # no change against last year given
    assert sheet.freeze_panes == "A7"


def test_customer_sheet_typed_cells_formats_filter_and_frozen_header(workbook):
    sheet = workbook["Customers"]
    rows = fx.customer_rows()
    assert sheet["A1"].value == "Top customers"
    assert [c.value for c in sheet[2]] == [c.label for c in fx.CUSTOMER_COLUMNS]
    header = sheet["A2"]
    assert header.font.b and header.fill.fgColor.rgb.endswith("DCE6F1")
    first = {c.column_letter: c for c in sheet[3]}
    assert first["A"].value == "김민준"
    assert first["B"].value == 40 and first["B"].number_format == "#,##0"
    assert first["C"].value == 2_500_000 and first["C"].number_format == KRW
    assert first["D"].value == pytest.approx(0.05) and first["D"].number_format == "0.0%"
    assert first["E"].value == dt.datetime(2024, 1, 1)
    assert first["E"].number_format == "yyyy-mm-dd"
    assert first["F"].value == dt.datetime(2026, 12, 6, 18, 0)
    assert first["F"].number_format == "yyyy-mm-dd hh:mm"
    assert first["G"].value == pytest.approx(0.99) and first["G"].number_format == "#,##0.00"
    assert sheet["G6"].value is None  # None is an empty cell
    assert sheet.max_row == 2 + len(rows)
    assert sheet[f"A{2 + len(rows)}"].value == rows[-1]["customer"]
    assert sheet.freeze_panes == "A3"
    assert sheet.auto_filter.ref == f"A2:G{2 + len(rows)}"
    # columns fit their content: the Korean names and the formatted dates are not cut
    widths = {k: v.width for k, v in sheet.column_dimensions.items()}
    assert widths["A"] >= 12 and widths["F"] >= 16 and widths["C"] >= 11


def test_trend_sheet_has_a_line_chart_and_platforms_a_bar_chart(workbook):
    trend = workbook["Revenue trend"]
    assert trend["A3"].value == dt.datetime(2026, 11, 30)
    assert trend["C3"].number_format == KRW
    assert trend.auto_filter.ref == "A2:C9"
    assert len(trend._charts) == 1
    assert trend._charts[0].tagname == "lineChart"
    platforms = workbook["Sales by platform"]
    assert [platforms[f"A{r}"].value for r in (3, 4, 5)] == [p[0] for p in fx.PLATFORMS]
    assert len(platforms._charts) == 1 and platforms._charts[0].tagname == "barChart"
    assert workbook["Customers"]._charts == []


def test_formula_like_text_stays_text(workbook):
    sheet = workbook["Top products"]
    note = sheet["A8"]  # below the five products
    assert note.value == "=SUM(A1:A9) stays text in the workbook."
    assert note.data_type == "s"
    assert note.quotePrefix


def test_kpis_insights_and_messages_have_their_own_blocks(workbook):
    kpis = workbook["Key figures"]
    assert [c.value for c in kpis[2]] == [
        "Indicator",
        "Value",
        "vs previous period",
        "vs last year",
    ]
    assert kpis["B4"].value == pytest.approx(53_363) and kpis["B4"].number_format == KRW
    insights = workbook["Insights"]
    assert [c.value for c in insights[2]] == ["Severity", "Insight", "Recommendation"]
    assert insights["A3"].value == "Good"
    assert insights["B3"].value.startswith("무선 이어폰 프로")
    assert insights["C3"].value == "Keep the weekend promotion."
    assert insights["C4"].value is None
    assert workbook["Events"]["A1"].value == "No events in this period."


def test_euro_amounts_have_two_decimals():
    workbook = _open(fx.make_report(currency="EUR", customers=3))
    cell = workbook["Customers"]["C3"]
    assert cell.value == 2_500_000 and cell.number_format == EUR


def test_sheet_names_are_valid_and_unique():
    taken: set[str] = set()
    assert excel.sheet_name("Sales [by] platform: a/b?", taken) == "Sales -by- platform- a-b-"
    long = "매출 " * 20
    first = excel.sheet_name(long, taken)
    second = excel.sheet_name(long, taken)
    assert len(first) <= 31 and len(second) <= 31
    assert first != second and second.endswith(" (2)")
    assert excel.sheet_name("'quoted'", taken) == "quoted"
    assert excel.sheet_name("QUOTED", taken) == "QUOTED (2)"
    assert excel.sheet_name("", taken) == "Sheet"


def test_two_sections_with_the_same_title_get_two_sheets():
    report = fx.make_report(customers=2)
    table = Table("T", [Column("a", "A")], [{"a": "x"}])
    extra = [Section(key="system", title="Customers", tables=[table])]
    report = type(report)(**{**report.__dict__, "sections": report.sections + extra})
    assert _open(report).sheetnames[-2:] == ["Events", "Customers (2)"]
