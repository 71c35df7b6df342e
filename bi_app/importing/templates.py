"""Downloadable templates (header plus one example row) and the column help of each kind."""

from __future__ import annotations

import csv
import io
from typing import Any

import xlsxwriter

from bi_app.importing.schemas import get_kind

TEMPLATE_FORMATS = ("csv", "xlsx")


def template_file(kind: str, fmt: str) -> tuple[bytes, str]:
    """``(content, file name)`` of the template of ``kind`` as CSV or Excel."""
    spec = get_kind(kind)
    header = list(spec.columns)
    example = [f.example for f in spec.fields]
    name = f"import-template-{spec.name}.{fmt}"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerow(example)
        return out.getvalue().encode("utf-8"), name
    if fmt != "xlsx":
        raise ValueError(f"unknown template format {str(fmt)[:20]!r}; expected csv or xlsx")
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}
    )
    sheet = workbook.add_worksheet(spec.name[:31])
    bold = workbook.add_format({"bold": True})
    for col, (title, value) in enumerate(zip(header, example)):
        sheet.write_string(0, col, title, bold)
        if isinstance(value, (int, float)):
            sheet.write_number(1, col, value)
        else:
            sheet.write_string(1, col, str(value))
        sheet.set_column(col, col, max(len(title), len(str(value))) + 2)
    workbook.close()
    return buffer.getvalue(), name


def column_help(kind: str) -> list[dict[str, Any]]:
    """One entry per column: name, required, what it holds, example."""
    spec = get_kind(kind)
    return [
        {
            "column": f.name,
            "required": f.required,
            "format": f.describe(),
            "note": f.help,
            "example": str(f.example),
        }
        for f in spec.fields
    ]
