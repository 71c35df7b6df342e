"""Open an uploaded file as a header plus a stream of rows, refusing hostile input early.

Supported: CSV (UTF-8, with or without BOM; delimiter , ; tab or |), Excel ``.xlsx`` (first
sheet) and Parquet. The extension must match the contents. Every refusal raises
:class:`ImportFileError` with a message a person can act on; nothing is written by then.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from bi_app.i18n import N_, _

# Limits, in bytes. Uploads travel base64-encoded through the browser, so they are kept smaller
# than files imported from the command line.
MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_CLI_BYTES = 256 * 1024 * 1024
MAX_ROWS = 5_000_000
MAX_COLUMNS = 200
MAX_XLSX_UNCOMPRESSED = 256 * 1024 * 1024
MAX_XLSX_RATIO = 200  # uncompressed/compressed of one part; real sheets stay far below
MAX_PARQUET_UNCOMPRESSED = 512 * 1024 * 1024
# Parquet is decoded in small batches, each checked before its values become Python objects:
# sizes in a file's metadata are whatever its writer claims, the decoded batches are not.
PARQUET_BATCH_ROWS = 1000
MAX_PARQUET_BATCH_BYTES = 64 * 1024 * 1024
# The longest cell any format may carry: the CSV reader's own field limit.
MAX_CELL_BYTES = csv.field_size_limit()
FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet"}

Row = tuple[int, list[Any]]  # (row number as a spreadsheet shows it, cell values)


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says why and what to do (in the
    locale current when it was raised)."""


@dataclass
class Table:
    format: str
    header: list[str]
    rows: Iterator[Row]
    progress: Callable[[], float] = field(default=lambda: 0.0)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if data.startswith(b"PAR1"):
        return "parquet"
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        return "xls"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf16"
    if b"\x00" in data[:8192]:
        return "binary"
    return None


# what a file's first bytes say it is (N_()-marked: translated in the message that names it)
_LABELS = {
    "xlsx": N_("an Excel workbook or another zip archive"),
    "parquet": N_("a Parquet file"),
    "xls": N_("a legacy Excel .xls workbook"),
    "csv": N_("text (CSV)"),
    "binary": N_("binary data"),
}


def detect_format(data: bytes, filename: str, max_bytes: int) -> str:
    """The file's format from its extension, checked against its first bytes and its size."""
    if len(data) > max_bytes:
        raise ImportFileError(
            _(
                "The file is %(size)s; the limit is %(limit)s. Split it into smaller files (or "
                "import it with `bi-app import`).",
                size=_mb(len(data)),
                limit=_mb(max_bytes),
            )
        )
    if not data.strip():
        raise ImportFileError(_("The file is empty."))
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".xls":
        raise ImportFileError(
            _("Legacy .xls workbooks are not supported: save the sheet as .xlsx or CSV.")
        )
    declared = FORMATS.get(suffix)
    if declared is None:
        raise ImportFileError(
            _(
                "Unsupported file type %(suffix)s: upload a .csv, .xlsx or .parquet file.",
                suffix=repr(suffix or _("(no extension)")),
            )
        )
    actual = _sniff(data)
    if actual == "utf16" and declared == "csv":
        raise ImportFileError(
            _('The file is encoded as UTF-16; save it as UTF-8 ("CSV UTF-8") and upload it again.')
        )
    if (actual or "csv") != declared:
        label = _LABELS.get(actual or "csv")
        raise ImportFileError(
            _(
                "The file is named %(suffix)s but its contents look like %(contents)s; export "
                "it again in the right format or fix its name.",
                suffix=suffix,
                contents=_(label) if label else actual,
            )
        )
    return declared


def open_table(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    columns: Collection[str] | None = None,
) -> Table:
    """The file as a header and rows. ``columns`` (normalized names) are the ones the caller
    will read: a Parquet file's other columns are never decoded (their cells are None)."""
    fmt = detect_format(data, filename, max_bytes)
    if fmt == "parquet":
        return _open_parquet(data, columns)
    return {"csv": _open_csv, "xlsx": _open_xlsx}[fmt](data)


def normalize_header(cells: list[Any]) -> list[str]:
    names = [
        str(c if c is not None else "").strip().lstrip("\ufeff").strip().lower().replace(" ", "_")
        for c in cells
    ]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise ImportFileError(_("The first row must hold the column names; it is empty."))
    if len(names) > MAX_COLUMNS:
        raise ImportFileError(
            _(
                "The file has %(count)s columns; at most %(limit)s are allowed.",
                count=len(names),
                limit=MAX_COLUMNS,
            )
        )
    if "" in names:
        raise ImportFileError(
            _("Column %(number)s has no name in the header row.", number=names.index("") + 1)
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ImportFileError(
                _("The column %(name)s appears twice in the header row.", name=repr(name[:60]))
            )
        seen.add(name)
    return names


# --- CSV ------------------------------------------------------------------------------------


def _check_utf8(data: bytes) -> None:
    """Decode in blocks (no second copy of a big file); say which encoding it probably is."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    block = 1 << 20
    for offset in range(0, len(data), block):
        try:
            decoder.decode(data[offset : offset + block], final=offset + block >= len(data))
        except UnicodeDecodeError as exc:
            position = offset + exc.start
            line = data.count(b"\n", 0, position) + 1
            try:
                data.decode("cp1252")
                message = _(
                    "The file is not valid UTF-8 (first bad byte on line %(line)s); it looks like "
                    "Windows-1252 / Latin-1 (the default of older Excel versions). Save it as "
                    'UTF-8 ("CSV UTF-8") and upload it again.',
                    line=line,
                )
            except UnicodeDecodeError:
                message = _(
                    "The file is not valid UTF-8 (first bad byte on line %(line)s); its encoding "
                    'is unknown. Save it as UTF-8 ("CSV UTF-8") and upload it again.',
                    line=line,
                )
            raise ImportFileError(message) from None


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    first_line = sample.split("\n", 1)[0]
    try:
        return csv.Sniffer().sniff(first_line, delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def _open_csv(data: bytes) -> Table:
    _check_utf8(data)
    stream = io.BytesIO(data)
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    dialect = _dialect(text.read(65536))
    text.seek(0)
    reader = csv.reader(text, dialect=dialect, strict=True)
    try:
        header = normalize_header(next(reader, []))
    except csv.Error as exc:
        raise ImportFileError(
            _("The header row is not valid CSV: %(problem)s.", problem=exc)
        ) from None
    total = max(len(data), 1)

    def rows() -> Iterator[Row]:
        number = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFileError(
                    _(
                        "Malformed CSV after row %(row)s (line %(line)s): %(problem)s. Check "
                        "quotes and delimiters.",
                        row=number,
                        line=reader.line_num,
                        problem=exc,
                    )
                ) from None
            number += 1
            if cells and any(c.strip() for c in cells):
                yield number, cells

    # TextIOWrapper reads ahead in chunks; the byte position is close enough for a progress bar.
    return Table("csv", header, rows(), lambda: min(stream.tell() / total, 1.0))


# --- Excel ----------------------------------------------------------------------------------


def _check_zip(data: bytes) -> None:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ImportFileError(_("The .xlsx file is damaged (not a valid zip archive).")) from None
    with archive:
        infos = archive.infolist()
        names = {info.filename for info in infos}
        if "xl/workbook.xml" not in names:
            raise ImportFileError(_("The file is a zip archive but not an Excel workbook."))
        expanded = sum(info.file_size for info in infos)
        if expanded > MAX_XLSX_UNCOMPRESSED:
            raise ImportFileError(
                _(
                    "The workbook expands to %(size)s when unpacked; the limit is %(limit)s. Use "
                    "CSV for very large data.",
                    size=_mb(expanded),
                    limit=_mb(MAX_XLSX_UNCOMPRESSED),
                )
            )
        for info in infos:
            if info.file_size > 1_000_000 and info.file_size > MAX_XLSX_RATIO * max(
                info.compress_size, 1
            ):
                raise ImportFileError(
                    _(
                        "The workbook is compressed suspiciously well (a possible zip bomb) and "
                        "was refused."
                    )
                )


def _open_xlsx(data: bytes) -> Table:
    import openpyxl

    _check_zip(data)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for damaged files
        raise ImportFileError(
            _("The workbook cannot be read (%(error)s).", error=type(exc).__name__)
        ) from None
    if not workbook.worksheets:
        raise ImportFileError(_("The workbook has no worksheet."))
    sheet = workbook.worksheets[0]
    cells = sheet.iter_rows(values_only=True)
    header_cells = next(cells, None)
    if header_cells is None:
        workbook.close()
        raise ImportFileError(_("The first worksheet is empty."))
    header = normalize_header(list(header_cells))
    width = len(header)
    total = max(sheet.max_row or 0, 1)
    state = {"row": 1}

    def rows() -> Iterator[Row]:
        try:
            for number, values in enumerate(cells, start=2):
                state["row"] = number
                values = list(values)
                if any(v is not None and _filled(v) for v in values):
                    # empty cells right of the header are dropped; filled ones are reported
                    while len(values) > width and (values[-1] is None or not _filled(values[-1])):
                        values.pop()
                    yield number, values + [None] * (width - len(values))
        except (ValueError, TypeError, KeyError, AttributeError, zipfile.BadZipFile) as exc:
            # openpyxl converts cells as it reads them; a crafted sheet can hold a number it
            # cannot convert (int() refuses more than 4,300 digits) or broken XML.
            raise ImportFileError(
                _(
                    "The workbook cannot be read after row %(row)s (%(error)s); save it again "
                    "from Excel, or export it as CSV.",
                    row=state["row"],
                    error=type(exc).__name__,
                )
            ) from None
        finally:
            workbook.close()

    return Table("xlsx", header, rows(), lambda: min(state["row"] / total, 1.0))


def _filled(value: Any) -> bool:
    return not isinstance(value, str) or bool(value.strip())


# --- Parquet --------------------------------------------------------------------------------


def _open_parquet(data: bytes, wanted: Collection[str] | None = None) -> Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
    except Exception as exc:  # noqa: BLE001 - arrow raises ArrowInvalid/OSError for damage
        raise ImportFileError(
            _("The Parquet file cannot be read (%(error)s).", error=type(exc).__name__)
        ) from None
    meta = parquet.metadata
    expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    if expanded > MAX_PARQUET_UNCOMPRESSED:
        raise ImportFileError(
            _(
                "The Parquet file expands to %(size)s; the limit is %(limit)s.",
                size=_mb(expanded),
                limit=_mb(MAX_PARQUET_UNCOMPRESSED),
            )
        )
    if meta.num_rows > MAX_ROWS:
        raise ImportFileError(
            _(
                "The file has %(count)s rows; at most %(limit)s are allowed.",
                count=f"{meta.num_rows:,}",
                limit=f"{MAX_ROWS:,}",
            )
        )
    schema = parquet.schema_arrow
    names = list(schema.names)
    header = normalize_header(names)
    # Only the columns the import reads are decoded (the header lists them all, so unknown
    # columns are still reported as ignored).
    read = [i for i, name in enumerate(header) if wanted is None or name in wanted]
    for i in read:
        column_type = schema.field(i).type
        if pa.types.is_dictionary(column_type):
            column_type = column_type.value_type
        if pa.types.is_nested(column_type):
            raise ImportFileError(
                _(
                    "The column %(name)s holds lists or records; each cell must hold one value "
                    "(text, a number or a date).",
                    name=repr(header[i][:60]),
                )
            )
    total = max(meta.num_rows, 1)
    state = {"done": 0}

    def rows() -> Iterator[Row]:
        number, decoded = 1, 0
        try:
            batches = parquet.iter_batches(
                batch_size=PARQUET_BATCH_ROWS, columns=[names[i] for i in read], use_threads=False
            )
            for batch in batches:
                decoded += _check_parquet_batch(batch, [header[i] for i in read], number)
                if decoded > MAX_PARQUET_UNCOMPRESSED:
                    raise ImportFileError(
                        _(
                            "The Parquet file decodes to more than %(limit)s (more than its own "
                            "description says); split it into smaller files.",
                            limit=_mb(MAX_PARQUET_UNCOMPRESSED),
                        )
                    )
                columns = [column.to_pylist() for column in batch.columns]
                for r in range(batch.num_rows):
                    number += 1
                    cells: list[Any] = [None] * len(header)
                    for i, values in zip(read, columns, strict=True):
                        cells[i] = values[r]
                    yield number, cells
                state["done"] = number - 1
        except ImportFileError:
            raise
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise ImportFileError(
                _(
                    "The Parquet file is damaged after row %(row)s (%(error)s).",
                    row=number,
                    error=type(exc).__name__,
                )
            ) from None

    return Table("parquet", header, rows(), lambda: min(state["done"] / total, 1.0))


def _check_parquet_batch(batch: Any, header: list[str], first_row: int) -> int:
    """The decoded size of one batch, after refusing a batch or a cell too large to hold."""
    import pyarrow as pa
    import pyarrow.compute as pc

    size = batch.get_total_buffer_size()
    if size > MAX_PARQUET_BATCH_BYTES:
        raise ImportFileError(
            _(
                "The rows after row %(row)s of the Parquet file decode to %(size)s per %(batch)s "
                "rows; the limit is %(limit)s.",
                row=first_row,
                size=_mb(size),
                batch=f"{PARQUET_BATCH_ROWS:,}",
                limit=_mb(MAX_PARQUET_BATCH_BYTES),
            )
        )
    for name, column in zip(header, batch.columns, strict=True):
        values = column.dictionary if pa.types.is_dictionary(column.type) else column
        kind = values.type
        if not (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_binary(kind)
            or pa.types.is_large_binary(kind)
        ):
            continue
        longest = pc.max(pc.binary_length(values)).as_py() or 0
        if longest > MAX_CELL_BYTES:
            raise ImportFileError(
                _(
                    "The column %(name)s has a cell of %(size)s bytes after row %(row)s; at most "
                    "%(limit)s are allowed in one cell.",
                    name=repr(name[:60]),
                    size=f"{longest:,}",
                    row=first_row,
                    limit=f"{MAX_CELL_BYTES:,}",
                )
            )
    return size
