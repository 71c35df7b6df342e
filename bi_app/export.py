"""CSV, Excel and JSON writers for tabular rows, safe against formula injection.

Rows are plain dicts (what a grid shows, or a query result); columns are :class:`ExportColumn`
descriptions that say which fields to write, under which header and how to format them.
Spreadsheet formats neutralize text that a spreadsheet would run as a formula; JSON is data and
is written unchanged.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any, Literal, get_args

import orjson
import xlsxwriter

from bi_app import i18n
from bi_app.i18n import _

# change: a signed fraction (0.12 is +12.0 %), a growth rate
ColumnKind = Literal["text", "int", "float", "money", "percent", "change", "date"]
COLUMN_KINDS: tuple[str, ...] = get_args(ColumnKind)
NUMERIC_KINDS: frozenset[str] = frozenset({"int", "float", "money", "percent", "change"})

EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    # format -> (file extension, media type)
    "csv": ("csv", "text/csv"),
    "xlsx": ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "json": ("json", "application/json"),
}
# Excel holds 1,048,576 rows including the header row.
XLSX_MAX_ROWS = 1_048_575
# Rows a single download request may carry. Grids bigger than this belong on the server-side
# row model, not in the browser; the bound keeps one request from exhausting a worker's memory.
MAX_DOWNLOAD_ROWS = 500_000
# Rows come from the browser, so their width and size are bounded too: a grid has a few dozen
# columns, and no one reads a cell longer than Excel's own limit of 32,767 characters.
MAX_EXPORT_COLUMNS = 200
MAX_EXPORT_CELLS = 5_000_000
MAX_CELL_CHARS = 32_767
MAX_HEADER_CHARS = 255
# A spreadsheet runs text whose first visible character is one of these (full-width forms too:
# Excel with an East Asian IME reads ＝ as =), and text that starts with a tab or line break.
_FORMULA_STARTS = frozenset("=+-@\uff1d\uff0b\uff0d\uff20\ufe62\ufe63\ufe66\ufe6b")
_LEADING_CONTROLS = ("\t", "\r", "\n")
# \s covers Unicode blanks (U+3000 ideographic space, no-break spaces); the rest are invisible.
_LEADING_BLANKS = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]*")
_SURROGATES = re.compile("[\ud800-\udfff]")
_INT64 = 2**63
_SCALARS = (str, int, float, bool, type(None), Decimal, dt.date, dt.datetime, dt.time)
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_FILE_NAME_BAD = re.compile(r"[^A-Za-z0-9_-]+")
_WIDTH_SAMPLE_ROWS = 500


class ExportError(ValueError):
    """The request cannot be exported (unknown format, malformed rows or columns); the message
    is shown to the person downloading, in the locale current when it was raised."""


@dataclass(frozen=True)
class ExportColumn:
    """One output column: the row key, the header people read, and how values are formatted.

    ``money`` values are in currency units (not cents); ``percent`` values are fractions
    (0.25 is 25 %); ``date`` values are ``date``/``datetime`` objects or ISO strings.
    """

    field: str
    header: str
    kind: ColumnKind = "text"

    def __post_init__(self) -> None:
        if self.kind not in COLUMN_KINDS:
            raise ExportError(
                _(
                    "column %(field)s: unknown kind %(kind)s (expected one of %(kinds)s)",
                    field=repr(self.field),
                    kind=repr(self.kind),
                    kinds=", ".join(COLUMN_KINDS),
                )
            )


@dataclass(frozen=True)
class XlsxResult:
    content: bytes = dataclass_field(repr=False)
    rows_written: int
    truncated: bool
    message: str | None = None


@dataclass(frozen=True)
class ExportFile:
    """A finished download: what the browser saves, and what to tell the user about it."""

    filename: str
    content: bytes = dataclass_field(repr=False)
    media_type: str
    rows: int
    truncated: bool = False
    message: str | None = None


def formula_start(text: str) -> str | None:
    """The character that would make a spreadsheet read ``text`` as a formula: its first
    non-blank character when that is ``= + - @`` (or a full-width form), or a leading tab or
    line break; None for text a spreadsheet shows as it is."""
    if text.startswith(_LEADING_CONTROLS):
        return text[0]
    start = _LEADING_BLANKS.match(text).end()  # type: ignore[union-attr] - always matches
    return text[start] if start < len(text) and text[start] in _FORMULA_STARTS else None


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula (see :func:`formula_start`)."""
    return formula_start(text) is not None


def neutralize(value: Any) -> Any:
    """Prefix ``'`` to text a spreadsheet would treat as a formula (the OWASP advice for CSV);
    other values, numbers included, pass through."""
    if isinstance(value, str) and is_formula_like(value):
        return "'" + value
    return value


def columns_from_spec(spec: Any) -> list[ExportColumn]:
    """Rebuild columns from their JSON form (a grid's spec store); raises :class:`ExportError`."""
    if not isinstance(spec, list) or not spec:
        raise ExportError(_("the grid has no column description"))
    if len(spec) > MAX_EXPORT_COLUMNS:
        raise ExportError(
            _(
                "too many columns to download (%(count)s; the limit is %(limit)s)",
                count=f"{len(spec):,}",
                limit=MAX_EXPORT_COLUMNS,
            )
        )
    columns = []
    for item in spec:
        field = item.get("field") if isinstance(item, Mapping) else None
        header = item.get("header", field) if isinstance(item, Mapping) else None
        if (
            not isinstance(field, str)
            or len(field) > MAX_HEADER_CHARS
            or _SURROGATES.search(field)
            or not isinstance(header, (str, int, float, type(None)))
        ):
            raise ExportError(_("the grid's column description is malformed"))
        header = _clean_text(str(header if header is not None else field))[:MAX_HEADER_CHARS]
        kind = item.get("kind", "text")
        if not isinstance(kind, str):
            raise ExportError(_("the grid's column description is malformed"))
        columns.append(ExportColumn(field, header, kind))  # type: ignore[arg-type]
    return columns


def _clean_text(text: str) -> str:
    """``text`` without lone UTF-16 surrogates (JSON from a browser may carry them; no UTF-8
    writer accepts them)."""
    return _SURROGATES.sub("\ufffd", text) if _SURROGATES.search(text) else text


def scalar_rows(
    rows: Sequence[Any], columns: Sequence[ExportColumn]
) -> tuple[list[dict[str, Any]], int]:
    """The exported cells of rows a client sent, checked: each row a record, each cell a scalar
    (text, number, true/false, date or empty), integers within 64 bits, text cut to
    :data:`MAX_CELL_CHARS`. Returns the rows (exported fields only) and how many cells were cut;
    raises :class:`ExportError` for anything else (nested lists or records included)."""
    fields = [c.field for c in columns]
    out: list[dict[str, Any]] = []
    cut = 0
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise ExportError(
                _("cannot export: invalid data (row %(row)s is not a record)", row=number)
            )
        record: dict[str, Any] = {}
        for name in fields:
            value = row.get(name)
            if isinstance(value, str):
                if len(value) > MAX_CELL_CHARS:
                    value, cut = value[:MAX_CELL_CHARS], cut + 1
                value = _clean_text(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                if not -_INT64 <= value < _INT64:
                    raise ExportError(
                        _(
                            "cannot export: invalid data (row %(row)s, column %(column)s: a "
                            "number out of range)",
                            row=number,
                            column=repr(name[:40]),
                        )
                    )
            elif not isinstance(value, _SCALARS):
                raise ExportError(
                    _(
                        "cannot export: invalid data (row %(row)s, column %(column)s holds a "
                        "%(type)s, not a single value)",
                        row=number,
                        column=repr(name[:40]),
                        type=type(value).__name__,
                    )
                )
            record[name] = value
        out.append(record)
    return out, cut


# --- value conversion -----------------------------------------------------------------------


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal):
        return value.is_nan()
    return False


def _plain_text(value: Any) -> str:
    """The text form used by CSV: ISO dates, exact decimals, empty for missing values."""
    if _is_missing(value):
        return ""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(value)


def _text_cell(value: Any) -> str:
    """Text for a spreadsheet cell: strings neutralized, other values in their plain form."""
    if isinstance(value, str):
        return neutralize(value)
    return _plain_text(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            return None
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    return value


def _to_number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value if not (isinstance(value, float) and not math.isfinite(value)) else None
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _to_datetime(value: Any) -> dt.datetime | dt.date | None:
    if isinstance(value, dt.datetime):
        # Excel has no time zones: keep the wall-clock time the user saw.
        return value.replace(tzinfo=None)
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return dt.datetime.fromisoformat(text).replace(tzinfo=None)
        except ValueError:
            return None
    return None


def _check_rows(rows: Any) -> None:
    if not isinstance(rows, (list, tuple)):
        raise ExportError(_("rows must be a list of records"))


def _cell(row: Any, field: str) -> Any:
    if type(row) is dict:  # the common case; the Mapping ABC check costs ~10x more per cell
        return row.get(field)
    return row.get(field) if isinstance(row, Mapping) else None


# --- writers --------------------------------------------------------------------------------


def to_csv_bytes(rows: Sequence[Mapping[str, Any]], columns: Sequence[ExportColumn]) -> bytes:
    """UTF-8 CSV with a BOM (so Excel detects the encoding) and neutralized text."""
    _check_rows(rows)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralize(c.header) for c in columns])
    for row in rows:
        writer.writerow([_text_cell(_cell(row, c.field)) for c in columns])
    return buffer.getvalue().encode("utf-8-sig")


def to_json_bytes(rows: Sequence[Mapping[str, Any]], columns: Sequence[ExportColumn]) -> bytes:
    """A JSON array of records keyed by field; ISO dates, numbers for decimals, null for NaN."""
    _check_rows(rows)
    records = [{c.field: _json_value(_cell(row, c.field)) for c in columns} for row in rows]
    return orjson.dumps(records, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)


def _sheet_name(name: str) -> str:
    cleaned = _SHEET_NAME_BAD.sub("-", name).strip("'").strip() or "Data"
    return cleaned[:31]


def excel_number_format(kind: str, currency: str, locale: str | None = None) -> str | None:
    """The Excel number format of a column kind ("int", "float" or "number", "percent",
    "change", "money", "date", "datetime"); None for text. Money carries the currency's symbol
    and decimals (KRW none, EUR two)."""
    if kind == "int":
        return "#,##0"
    if kind in ("float", "number"):
        return "#,##0.00"
    if kind == "percent":
        return "0.0%"
    if kind == "change":
        return "+0.0%;-0.0%;0.0%"
    if kind == "money":
        decimals = i18n.currency_decimals(currency)
        body = "#,##0" + ("." + "0" * decimals if decimals else "")
        symbol = i18n.currency_symbol(currency, locale).replace('"', "")
        return f'"{symbol}"{body};-"{symbol}"{body}'
    return None


def _column_widths(rows: Sequence[Any], columns: Sequence[ExportColumn]) -> list[float]:
    widths = []
    sample = rows[:_WIDTH_SAMPLE_ROWS]
    for column in columns:
        longest = len(column.header) + 2  # room for the autofilter button
        for row in sample:
            value = _cell(row, column.field)
            if column.kind in NUMERIC_KINDS and _to_number(value) is not None:
                # formatted numbers gain separators and a symbol
                longest = max(longest, len(f"{_to_number(value):,.2f}") + 3)
            else:
                longest = max(longest, len(_plain_text(value)))
        widths.append(min(max(longest + 1, 8), 60))
    return widths


def _write_cell(
    sheet: Any, r: int, c: int, kind: str, value: Any, formats: Mapping[str, Any]
) -> None:
    """Typed values get typed cells; anything else becomes a text cell, never a formula."""
    if _is_missing(value) or value == "":
        return
    if kind in NUMERIC_KINDS or (
        isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    ):
        number = _to_number(value)
        if number is not None:
            sheet.write_number(r, c, number, formats.get(kind))
            return
    elif kind == "date":
        when = _to_datetime(value)
        if isinstance(when, dt.datetime):
            sheet.write_datetime(r, c, when, formats["datetime"])
            return
        if isinstance(when, dt.date):
            sheet.write_datetime(r, c, dt.datetime.combine(when, dt.time()), formats["date"])
            return
    text = value if isinstance(value, str) else _plain_text(value)
    # Text is stored as text, so Excel never evaluates it; formula-looking text also gets the
    # cell's quote prefix (Excel's own "typed with a leading '"), which keeps it text when the
    # cell is edited, without showing an apostrophe.
    sheet.write_string(r, c, text, formats["quoted"] if is_formula_like(text) else None)


HEADER_STYLE = {"bold": True, "bg_color": "#DCE6F1", "bottom": 1, "valign": "vcenter"}


def xlsx_formats(workbook: Any, currency: str) -> dict[str, Any]:
    """The cell formats of an export workbook, by column kind, plus ``date``, ``datetime``,
    ``quoted`` (text a spreadsheet must not run), ``header`` and ``header_quoted``."""
    formats = {
        kind: workbook.add_format({"num_format": excel_number_format(kind, currency)})
        for kind in NUMERIC_KINDS
    }
    formats["date"] = workbook.add_format({"num_format": "yyyy-mm-dd"})
    formats["datetime"] = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    formats["quoted"] = workbook.add_format({"quote_prefix": True})
    formats["header"] = workbook.add_format(HEADER_STYLE)
    formats["header_quoted"] = workbook.add_format({**HEADER_STYLE, "quote_prefix": True})
    return formats


def to_xlsx_bytes(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[ExportColumn],
    sheet_name: str = "Data",
    *,
    currency: str = "EUR",
    max_rows: int = XLSX_MAX_ROWS,
) -> XlsxResult:
    """An .xlsx workbook built with XlsxWriter in constant-memory mode.

    Text is always written as text (never as a formula), formula-looking text with the cell's
    quote prefix rather than a visible apostrophe; numbers, money,
    percentages and dates get real Excel number formats. Rows beyond ``max_rows`` (Excel's
    limit by default) are dropped and the result says so.
    """
    _check_rows(rows)
    if not columns:
        raise ExportError(_("nothing to export: no columns"))
    kept = rows[:max_rows]
    truncated = len(rows) > max_rows
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer,
        {
            "constant_memory": True,
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    sheet = workbook.add_worksheet(_sheet_name(sheet_name))
    formats = xlsx_formats(workbook, currency)
    header_format, header_quoted = formats["header"], formats["header_quoted"]

    for index, width in enumerate(_column_widths(kept, columns)):
        sheet.set_column(index, index, width)
    sheet.freeze_panes(1, 0)
    for index, column in enumerate(columns):
        quoted = is_formula_like(column.header)
        sheet.write_string(0, index, column.header, header_quoted if quoted else header_format)
    if kept:
        sheet.autofilter(0, 0, len(kept), len(columns) - 1)

    for r, row in enumerate(kept, start=1):
        for c, column in enumerate(columns):
            _write_cell(sheet, r, c, column.kind, _cell(row, column.field), formats)
    workbook.close()

    message = None
    if truncated:
        message = _(
            "Excel holds at most %(limit)s rows: the file has the first %(limit)s of %(total)s. "
            "Download CSV for all rows, or narrow the filter.",
            limit=f"{max_rows:,}",
            total=f"{len(rows):,}",
        )
    return XlsxResult(buffer.getvalue(), len(kept), truncated, message)


def export_filename(name: str, extension: str, now: dt.datetime) -> str:
    """``<name>-<YYYYMMDD-HHMM>.<ext>`` with the name reduced to safe characters."""
    safe = _FILE_NAME_BAD.sub("-", name).strip("-")[:60] or "export"
    return f"{safe}-{now:%Y%m%d-%H%M}.{extension}"


def export_rows(
    rows: Any,
    columns: Sequence[ExportColumn],
    fmt: str,
    *,
    name: str,
    now: dt.datetime,
    currency: str = "EUR",
    max_rows: int = MAX_DOWNLOAD_ROWS,
    xlsx_max_rows: int = XLSX_MAX_ROWS,
) -> ExportFile:
    """Write ``rows`` in ``fmt`` (csv, xlsx or json); raises :class:`ExportError` on bad input.

    The rows may come from a browser, so they are checked first (see :func:`scalar_rows`): at
    most ``max_rows`` rows, :data:`MAX_EXPORT_COLUMNS` columns and :data:`MAX_EXPORT_CELLS`
    cells, in every format; xlsx keeps the first ``xlsx_max_rows`` and says so in the result's
    message, and text longer than :data:`MAX_CELL_CHARS` is cut, with a message too.
    """
    if not isinstance(fmt, str) or fmt not in EXPORT_FORMATS:
        raise ExportError(
            _(
                "unknown download format %(format)s (expected one of %(formats)s)",
                format=repr(str(fmt)[:20]),
                formats=", ".join(EXPORT_FORMATS),
            )
        )
    _check_rows(rows)
    if len(rows) > max_rows:
        raise ExportError(
            _(
                "too many rows to download (%(count)s; the limit is %(limit)s): narrow the "
                "filter first",
                count=f"{len(rows):,}",
                limit=f"{max_rows:,}",
            )
        )
    if not columns:
        raise ExportError(_("nothing to export: no columns"))
    if len(columns) > MAX_EXPORT_COLUMNS:
        raise ExportError(
            _(
                "too many columns to download (%(count)s; the limit is %(limit)s)",
                count=f"{len(columns):,}",
                limit=MAX_EXPORT_COLUMNS,
            )
        )
    if len(rows) * len(columns) > MAX_EXPORT_CELLS:
        raise ExportError(
            _(
                "too much data to download (%(count)s cells; the limit is %(limit)s): narrow "
                "the filter or download fewer columns",
                count=f"{len(rows) * len(columns):,}",
                limit=f"{MAX_EXPORT_CELLS:,}",
            )
        )
    rows, cut = scalar_rows(rows, columns)
    cut_message = (
        _(
            "%(count)s cell(s) longer than %(limit)s characters were shortened to that length.",
            count=f"{cut:,}",
            limit=f"{MAX_CELL_CHARS:,}",
        )
        if cut
        else None
    )
    extension, media_type = EXPORT_FORMATS[fmt]
    filename = export_filename(name, extension, now)
    if fmt == "csv":
        content = to_csv_bytes(rows, columns)
        return ExportFile(filename, content, media_type, len(rows), message=cut_message)
    if fmt == "json":
        content = to_json_bytes(rows, columns)
        return ExportFile(filename, content, media_type, len(rows), message=cut_message)
    result = to_xlsx_bytes(rows, columns, name, currency=currency, max_rows=xlsx_max_rows)
    message = " ".join(m for m in (result.message, cut_message) if m) or None
    return ExportFile(
        filename, result.content, media_type, result.rows_written, result.truncated, message
    )
