"""A :class:`~bi_app.reports.model.Report` as an Excel workbook (XlsxWriter).

One "Summary" sheet with the report's title, period and cover KPIs, then one sheet per section.
A section's first table sits at the top of its sheet (title in row 1, header in row 2, frozen
above row 3, with an autofilter); its other tables, KPIs and insights follow below it. Cells are
typed — numbers, money, fractions and dates stay numbers with number formats (money with the
currency's symbol and its own decimals: KRW 0, EUR 2), so the workbook calculates and sorts.
A time series (first column a date) gets a native line chart, a breakdown section a bar chart.
Text is written as text, never a formula (formula-looking text also gets a quote prefix).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

import xlsxwriter

from bi_app import i18n
from bi_app.export import excel_number_format, is_formula_like
from bi_app.i18n import N_, _
from bi_app.reports.model import Column, ColumnKind, Kpi, Report, Section, Table
from bi_app.reports.pdf import SEVERITY, format_when, report_locale

SUMMARY = N_("Summary")
INDICATOR = N_("Indicator")
VALUE = N_("Value")
VS_PREVIOUS = N_("vs previous period")
VS_LAST_YEAR = N_("vs last year")
KEY_FIGURES = N_("Key figures")
INSIGHTS = N_("Insights")
RECOMMENDATION = N_("Recommendation")
SEVERITY_HEADER = N_("Severity")
INSIGHT_HEADER = N_("Insight")
GENERATED = N_("Generated %(when)s")

BREAKDOWN_SECTIONS = frozenset({"sales_breakdown"})  # a bar chart of the first table
MAX_CHART_ROWS = 50  # a bar chart of more categories helps nobody
MAX_WIDTH = 60
_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_NUMERIC: frozenset[str] = frozenset({"int", "number", "money", "percent"})
HEADER_STYLE = {
    "bold": True,
    "bg_color": "#DCE6F1",
    "bottom": 1,
    "valign": "vcenter",
    "text_wrap": True,
}


def number_format(kind: ColumnKind | str, currency: str, locale: str = "en") -> str | None:
    """The Excel number format of a column kind (None for text): the grids' export formats
    (:func:`bi_app.export.excel_number_format`), plus dates."""
    if kind == "date":
        return "yyyy-mm-dd"
    if kind == "datetime":
        return "yyyy-mm-dd hh:mm"
    return excel_number_format(kind, currency, locale)


def sheet_name(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name for ``title``: no ``[]:*?/\\``, no leading or trailing
    apostrophe, at most 31 characters, unique ignoring case (``taken`` holds the lowercased
    names in use and is updated)."""
    base = _BAD_SHEET_CHARS.sub("-", title).strip().strip("'").strip() or "Sheet"
    if base.lower() == "history":  # reserved by Excel
        base = base + " 1"
    name = base[:31]
    counter = 2
    while name.lower() in taken:
        suffix = f" ({counter})"
        name = base[: 31 - len(suffix)].rstrip() + suffix
        counter += 1
    taken.add(name.lower())
    return name


class _Writer:
    def __init__(self, report: Report, workbook: Any) -> None:
        self.report = report
        self.locale = i18n.parse_locale(report.locale) or i18n.DEFAULT_LOCALE
        self.workbook = workbook
        self.taken: set[str] = set()
        self.formats: dict[str, Any] = {}
        for kind in ("int", "number", "money", "percent", "change", "date", "datetime"):
            fmt = number_format(kind, report.currency, self.locale)
            self.formats[kind] = workbook.add_format({"num_format": fmt})
        self.formats["header"] = workbook.add_format(HEADER_STYLE)
        styles = {
            "text": {},
            "title": {"bold": True, "font_size": 13},
            "subtitle": {"italic": True, "font_color": "#52606D"},
            "wrap": {"text_wrap": True, "valign": "top"},
        }
        for name, style in styles.items():
            self.formats[name] = workbook.add_format(style)
            self.formats[name + "_quoted"] = workbook.add_format({**style, "quote_prefix": True})

    # --- cells ---

    def cell(self, sheet: Any, row: int, col: int, value: Any, kind: str) -> None:
        if value is None:
            return
        if kind in _NUMERIC or kind == "change":
            if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
                sheet.write_number(row, col, float(value), self.formats[kind])
                return
        elif kind in ("date", "datetime"):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(row, col, value.replace(tzinfo=None), self.formats["datetime"])
                return
            if isinstance(value, dt.date):
                midnight = dt.datetime.combine(value, dt.time())
                sheet.write_datetime(row, col, midnight, self.formats["date"])
                return
        self.text(sheet, row, col, str(value))

    def text(self, sheet: Any, row: int, col: int, value: str, style: str = "text") -> None:
        """A text cell; formula-looking text gets the quote prefix, which keeps it text when
        the cell is edited in Excel."""
        if is_formula_like(value):
            style += "_quoted"
        sheet.write_string(row, col, value, self.formats[style])

    def header(self, sheet: Any, row: int, labels: list[str]) -> None:
        for col, label in enumerate(labels):
            if is_formula_like(label):
                label = "'" + label
            sheet.write_string(row, col, label, self.formats["header"])

    # --- blocks ---

    def table(self, sheet: Any, row: int, table: Table, widths: list[float]) -> tuple[int, int]:
        """Writes the title, header and rows from ``row``; returns (header row, last row)."""
        self.text(sheet, row, 0, table.title, "title")
        header_row = row + 1
        self.header(sheet, header_row, [c.label for c in table.columns])
        for r, values in enumerate(table.rows, start=header_row + 1):
            for c, column in enumerate(table.columns):
                self.cell(sheet, r, c, values.get(column.key), column.kind)
        last = header_row + len(table.rows)
        _widen(widths, table.columns, table.rows, self.report.currency)
        if table.note:
            self.text(sheet, last + 1, 0, table.note, "subtitle")
            last += 1
        return header_row, last

    def kpis(self, sheet: Any, row: int, title: str, kpis: list[Kpi], widths: list[float]) -> int:
        self.text(sheet, row, 0, title, "title")
        given = self.report.labels
        labels = [
            _(INDICATOR),
            _(VALUE),
            given.get("vs_previous") or _(VS_PREVIOUS),
            given.get("vs_last_year") or _(VS_LAST_YEAR),
        ]
        self.header(sheet, row + 1, labels)
        for r, kpi in enumerate(kpis, start=row + 2):
            self.text(sheet, r, 0, kpi.label)
            self.cell(sheet, r, 1, kpi.value, kpi.kind)
            self.cell(sheet, r, 2, kpi.vs_previous, "change")
            self.cell(sheet, r, 3, kpi.vs_last_year, "change")
        _fit(widths, 0, max([len(k.label) for k in kpis] + [len(labels[0])]))
        _fit(widths, 1, max([_shown_len(k.value, k.kind, self.report.currency) for k in kpis]))
        _fit(widths, 2, len(labels[2]))
        _fit(widths, 3, len(labels[3]))
        return row + 1 + len(kpis)

    def insights(self, sheet: Any, row: int, section: Section, widths: list[float]) -> int:
        self.text(sheet, row, 0, _(INSIGHTS), "title")
        self.header(sheet, row + 1, [_(SEVERITY_HEADER), _(INSIGHT_HEADER), _(RECOMMENDATION)])
        for r, insight in enumerate(section.insights, start=row + 2):
            self.text(sheet, r, 0, _(SEVERITY.get(insight.severity, insight.severity)))
            self.text(sheet, r, 1, insight.text, "wrap")
            if insight.recommendation:
                self.text(sheet, r, 2, insight.recommendation, "wrap")
        _fit(widths, 0, 12)
        _fit(widths, 1, max(len(i.text) for i in section.insights))
        _fit(widths, 2, max(len(i.recommendation or "") for i in section.insights))
        return row + 1 + len(section.insights)

    # --- sheets ---

    def summary(self) -> None:
        report = self.report
        sheet = self.workbook.add_worksheet(sheet_name(_(SUMMARY), self.taken))
        self.text(sheet, 0, 0, report.title, "title")
        self.text(sheet, 1, 0, report.period_label)
        when = format_when(report.generated_at, self.locale)
        self.text(sheet, 2, 0, _(GENERATED, when=when), "subtitle")
        widths = [0.0] * 4
        if report.cover_kpis:
            self.kpis(sheet, 4, _(KEY_FIGURES), report.cover_kpis, widths)
            sheet.freeze_panes(6, 0)
        _apply_widths(sheet, widths)

    def section(self, section: Section) -> None:
        sheet = self.workbook.add_worksheet(sheet_name(section.title, self.taken))
        widths: list[float] = []
        row = 0
        for index, table in enumerate(section.tables):
            header_row, last = self.table(sheet, row, table, widths)
            if index == 0:
                sheet.freeze_panes(header_row + 1, 0)
                last_col = max(len(table.columns) - 1, 0)
                sheet.autofilter(header_row, 0, max(last, header_row), last_col)
                self.chart(sheet, section, table, header_row)
            row = last + 2
        if section.kpis:
            if not section.tables:
                sheet.freeze_panes(row + 2, 0)
            row = self.kpis(sheet, row, section.title, section.kpis, widths) + 2
        if section.insights:
            if not section.tables and not section.kpis:
                sheet.freeze_panes(row + 2, 0)
            row = self.insights(sheet, row, section, widths) + 2
        if section.message:
            self.text(sheet, row, 0, section.message, "subtitle")
            _fit(widths, 0, min(len(section.message), 40))
        _apply_widths(sheet, widths)

    def chart(self, sheet: Any, section: Section, table: Table, header_row: int) -> None:
        rows = len(table.rows)
        if rows < 2 or len(table.columns) < 2:
            return
        first = table.columns[0]
        values = [i for i, c in enumerate(table.columns) if c.kind in ("money", "number", "int")]
        if not values:
            return
        if first.kind in ("date", "datetime"):
            chart = self.workbook.add_chart({"type": "line"})
        elif first.kind == "text" and section.key in BREAKDOWN_SECTIONS and rows <= MAX_CHART_ROWS:
            chart = self.workbook.add_chart({"type": "column"})
        else:
            return
        # the first money column, else the first numeric one: one unit on one axis
        money = [i for i in values if table.columns[i].kind == "money"]
        col = (money or values)[0]
        name = sheet.get_name()
        series = {
            "name": [name, header_row, col],
            "categories": [name, header_row + 1, 0, header_row + rows, 0],
            "values": [name, header_row + 1, col, header_row + rows, col],
        }
        if first.kind != "text":
            series["marker"] = {"type": "circle"}
        chart.add_series(series)
        chart.set_title({"name": table.title})
        chart.set_legend({"none": True})
        chart.set_y_axis({"num_format": self.formats[table.columns[col].kind].num_format})
        if first.kind in ("date", "datetime"):
            chart.set_x_axis({"date_axis": True, "num_format": "mm-dd"})
        chart.set_size({"width": 640, "height": 320})
        sheet.insert_chart(header_row, len(table.columns) + 1, chart)


def _shown_len(value: Any, kind: str, currency: str) -> int:
    """About how many characters a cell shows once formatted."""
    if value is None:
        return 0
    if kind in ("date",):
        return 10
    if kind == "datetime":
        return 16
    if kind in _NUMERIC and isinstance(value, (int, float, Decimal)):
        if kind == "percent":
            return len(f"{float(value) * 100:,.1f}") + 1
        decimals = i18n.currency_decimals(currency) if kind == "money" else 2
        if kind == "int":
            decimals = 0
        return len(f"{float(value):,.{decimals}f}") + (2 if kind == "money" else 0)
    text = str(value)
    # East Asian characters are about two columns wide
    return sum(2 if ord(ch) >= 0x1100 else 1 for ch in text)


def _fit(widths: list[float], col: int, length: float) -> None:
    while len(widths) <= col:
        widths.append(0.0)
    widths[col] = max(widths[col], length)


def _widen(widths: list[float], columns: list[Column], rows: list[dict], currency: str) -> None:
    for c, column in enumerate(columns):
        longest = _shown_len(column.label, "text", currency) + 3  # the autofilter button
        for values in rows[:500]:
            longest = max(longest, _shown_len(values.get(column.key), column.kind, currency))
        _fit(widths, c, longest)


def _apply_widths(sheet: Any, widths: list[float]) -> None:
    for col, width in enumerate(widths):
        if width:
            sheet.set_column(col, col, min(max(width + 2, 8), MAX_WIDTH))


def render_xlsx(report: Report) -> bytes:
    """The report as an .xlsx workbook: a Summary sheet, then one sheet per section."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    locale = i18n.parse_locale(report.locale) or i18n.DEFAULT_LOCALE
    with report_locale(locale):
        writer = _Writer(report, workbook)
        writer.summary()
        for section in report.sections:
            writer.section(section)
    workbook.set_properties({"title": report.title})
    workbook.close()
    return buffer.getvalue()


__all__ = ["number_format", "render_xlsx", "sheet_name"]
