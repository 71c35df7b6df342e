"""Exports written as they are read: CSV and JSON as a stream of byte chunks, Excel into a
temporary file in constant-memory mode, from batches of rows (see
:func:`bi_app.data.orders.iter_orders`), so a file of millions of rows never sits in memory.

Each file says what it holds (``about``: period, filters, when it was made, how many rows): CSV
in leading ``# key: value`` lines, JSON in an ``export`` object beside its ``rows``, Excel on an
"About" sheet. Cells are written as :mod:`bi_app.export` writes them: text that looks like a
formula is neutralized, numbers and dates are typed.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd
import xlsxwriter

from bi_app.export import (
    XLSX_MAX_ROWS,
    ExportColumn,
    _json_default,
    _json_value,
    _text_cell,
    _write_cell,
    is_formula_like,
    neutralize,
    xlsx_formats,
)
from bi_app.i18n import _

About = Sequence[tuple[str, str]]  # (label, value) lines describing the file


def _values(series: pd.Series, kind: str) -> list[Any]:
    if kind == "money":
        series = series / 100.0
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(v) else v.to_pydatetime() for v in series]
    return [None if isinstance(v, float) and math.isnan(v) else v for v in series.tolist()]


def _records(frame: pd.DataFrame, columns: Sequence[ExportColumn]) -> list[dict[str, Any]]:
    """A batch's rows as plain Python values: money cents become units, timestamps datetimes,
    gaps None."""
    fields = [c.field for c in columns]
    values = [_values(frame[c.field], c.kind) for c in columns]
    return [dict(zip(fields, row, strict=True)) for row in zip(*values, strict=True)]


def csv_chunks(
    batches: Iterable[pd.DataFrame], columns: Sequence[ExportColumn], about: About
) -> Iterator[bytes]:
    """UTF-8 CSV (with a BOM, for Excel) that starts with ``# label: value`` lines."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    for label, value in about:
        buffer.write(f"# {label}: {neutralize(value)}\r\n")
    writer.writerow([neutralize(c.header) for c in columns])
    yield buffer.getvalue().encode("utf-8-sig")
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        for row in _records(batch, columns):
            writer.writerow([_text_cell(row[c.field]) for c in columns])
        yield buffer.getvalue().encode("utf-8")


def json_chunks(
    batches: Iterable[pd.DataFrame], columns: Sequence[ExportColumn], about: About
) -> Iterator[bytes]:
    """``{"export": {label: value, ...}, "rows": [{field: value, ...}, ...]}``, streamed."""
    head = orjson.dumps({label: value for label, value in about})
    yield b'{"export":' + head + b',"rows":['
    first = True
    for batch in batches:
        records = [
            {c.field: _json_value(row[c.field]) for c in columns}
            for row in _records(batch, columns)
        ]
        if not records:
            continue
        body = orjson.dumps(records, default=_json_default, option=orjson.OPT_SERIALIZE_NUMPY)
        yield (b"" if first else b",") + body[1:-1]
        first = False
    yield b"]}"


@dataclass(frozen=True)
class XlsxWritten:
    rows: int
    truncated: bool


def write_xlsx(
    path: str,
    batches: Iterable[pd.DataFrame],
    columns: Sequence[ExportColumn],
    about: About,
    *,
    sheet_name: str,
    currency: str,
    max_rows: int = XLSX_MAX_ROWS,
) -> XlsxWritten:
    """An .xlsx at ``path``: the rows on ``sheet_name`` (typed cells, frozen header, autofilter),
    what the file holds on "About". Rows beyond ``max_rows`` (Excel's limit) are left out and
    "About" says so. The "About" sheet's name and note are in the current locale."""
    workbook = xlsxwriter.Workbook(
        path, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = workbook.add_worksheet(sheet_name[:31])
    formats = xlsx_formats(workbook, currency)
    header = formats["header"]
    for index, column in enumerate(columns):
        sheet.set_column(index, index, 28 if column.kind == "text" else 18)
        sheet.write_string(0, index, column.header, header)
    sheet.freeze_panes(1, 0)
    written, truncated = 0, False
    for batch in batches:
        for row in _records(batch, columns):
            if written >= max_rows:
                truncated = True
                break
            written += 1
            for c, column in enumerate(columns):
                _write_cell(sheet, written, c, column.kind, row[column.field], formats)
        if truncated:
            break
    sheet.autofilter(0, 0, max(written, 1), len(columns) - 1)
    info = workbook.add_worksheet(_("About")[:31])
    info.set_column(0, 0, 22)
    info.set_column(1, 1, 80)
    lines = list(about)
    if truncated:
        note = _(
            "Excel holds at most %(limit)s rows: this file has the first ones. Download CSV or "
            "JSON for all rows, or narrow the filter.",
            limit=f"{max_rows:,}",
        )
        lines.append((_("Note"), note))
    for r, (label, value) in enumerate(lines):
        info.write_string(r, 0, label, header)
        info.write_string(r, 1, value, formats["quoted"] if is_formula_like(value) else None)
    workbook.close()
    return XlsxWritten(written, truncated)
