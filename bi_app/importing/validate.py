"""Row-level validation of an import file against its kind's schema and the database.

Checks, in order: the header (required columns), each cell (type, range, length, formula-looking
text), duplicate keys within the file, references to existing rows (categories, platforms,
customers, products, events) and, for orders, that the item rows of one order agree. Every
problem becomes one :class:`RowError`; the result also holds the database-ready records.

With ``create_missing`` an unknown platform, category or customer is no error: it is listed in
:attr:`Validation.missing` and its records hold a :class:`Pending` reference, which
:mod:`.create` replaces by the id of the row it inserts in the import's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from bi_app.db.models import Category, Customer, Event, Product, SalesPlatform
from bi_app.importing import values
from bi_app.importing.reader import MAX_ROWS, ImportFileError, Table
from bi_app.importing.schemas import ImportKind

MAX_REPORTED_ERRORS = 10_000
ROW = "(row)"


@dataclass(frozen=True)
class Reference:
    key: Any  # the referenced key column
    target: str  # the database column it resolves to
    singular: str
    plural: str
    first: str  # how to make the row exist, for the "unknown ..." message


CREATE_OPTION = (
    "or choose “Create missing platforms, categories and customers” (--create-missing on the "
    "command line)"
)
# file column -> what it refers to; in the order "Create missing" reports what it created
REFERENCES: dict[str, Reference] = {
    "category_code": Reference(
        Category.code,
        "category_id",
        "category",
        "categories",
        f"import it first (Product categories), {CREATE_OPTION}",
    ),
    "platform_code": Reference(
        SalesPlatform.code,
        "platform_id",
        "platform",
        "platforms",
        f"import it first (Sales platforms), {CREATE_OPTION}",
    ),
    "customer_external_id": Reference(
        Customer.external_id,
        "customer_id",
        "customer",
        "customers",
        f"import it first (Customers), {CREATE_OPTION}",
    ),
    "sku": Reference(
        Product.sku,
        "product_id",
        "product",
        "products",
        "products are never created by another file's import (they need a name, category and "
        "price): import them first",
    ),
    "event_code": Reference(
        Event.code,
        "event_id",
        "event",
        "events",
        "events are never created by an import (they need more than a code): add the event first",
    ),
}
# file column -> database column, where they differ
RENAMES = {
    "unit_price": "unit_price_cents",
    "unit_cost": "unit_cost_cents",
    "amount": "amount_cents",
}
_ORDER_FIELDS = ("customer_external_id", "platform_code", "status", "ordered_at")
# the moment a row happened: a customer created from it has signed up by then
_MOMENTS = ("ordered_at", "visited_at")


@dataclass(frozen=True)
class Pending:
    """A reference to a row "Create missing" inserts before the records are written."""

    column: str  # the file column, a key of REFERENCES
    code: str


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    value: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": self.value,
            "message": self.message,
        }


@dataclass
class Validation:
    records: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    failed_rows: set[int] = field(default_factory=set)
    rows_total: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    # file column -> unknown code -> the earliest moment a row with it happened (None: no time);
    # filled only with create_missing, in the order the codes first appear
    missing: dict[str, dict[str, dt.datetime | None]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    @property
    def rows_failed(self) -> int:
        return len(self.failed_rows)

    @property
    def rows_ok(self) -> int:
        return self.rows_total - len(self.failed_rows)

    def add(self, row: int, column: str, value: Any, message: str) -> None:
        self.error_count += 1
        self.failed_rows.add(row)
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, column, values.shown(value), message))


def lookup(conn: Connection, column: Any, keys: Iterable[str], batch: int = 500) -> dict[str, int]:
    """Ids of the rows whose ``column`` is one of ``keys`` (batched ``IN`` queries)."""
    wanted = sorted(set(keys))
    id_column = column.class_.id
    found: dict[str, int] = {}
    for start in range(0, len(wanted), batch):
        chunk = wanted[start : start + batch]
        found.update(
            {
                key: ident
                for ident, key in conn.execute(select(id_column, column).where(column.in_(chunk)))
            }
        )
    return found


def check_header(table: Table, kind: ImportKind) -> list[str]:
    missing = [name for name in kind.required if name not in table.header]
    if missing:
        raise ImportFileError(
            f"Missing required column(s): {', '.join(missing)}. A {kind.label.lower()} "
            f"file has the columns: {', '.join(kind.columns)}."
        )
    return [name for name in table.header if name not in kind.columns]


def _parse_rows(
    table: Table,
    kind: ImportKind,
    result: Validation,
    *,
    now: dt.datetime,
    decimals: int,
    future_days: int,
    progress: Callable[[float], None],
) -> list[tuple[int, dict[str, Any]]]:
    """Typed records of the rows without cell errors; duplicate keys are caught here too, so a
    duplicate is reported even when its first occurrence has another error."""
    positions = [
        (i, kind.field(name)) for i, name in enumerate(table.header) if name in kind.columns
    ]
    width = len(table.header)
    parsed: list[tuple[int, dict[str, Any]]] = []
    first_row: dict[tuple, int] = {}
    for number, cells in table.rows:
        result.rows_total += 1
        if result.rows_total > MAX_ROWS:
            raise ImportFileError(
                f"The file has more than {MAX_ROWS:,} rows; split it into smaller files."
            )
        if len(cells) != width:
            result.add(
                number, ROW, "", f"has {len(cells)} cells but the header has {width} columns"
            )
            continue
        record: dict[str, Any] = {}
        good = True
        for index, spec in positions:
            try:
                record[spec.name] = spec.parse(
                    cells[index], now=now, decimals=decimals, future_days=future_days
                )
            except values.CellError as exc:
                result.add(number, spec.name, cells[index], str(exc))
                good = False
        if all(name in record for name in kind.key):
            key = tuple(record[name] for name in kind.key)
            if key in first_row:
                shown = ", ".join(values.shown(k) for k in key)
                result.add(
                    number,
                    "+".join(kind.key),
                    shown,
                    f"duplicate key: same as row {first_row[key]}",
                )
                good = False
            else:
                first_row[key] = number
        if good:
            parsed.append((number, record))
        if result.rows_total % 2000 == 0:
            progress(table.progress())
    return parsed


def _note_missing(result: Validation, name: str, code: str, record: dict[str, Any]) -> None:
    moment = next((record[m] for m in _MOMENTS if record.get(m) is not None), None)
    codes = result.missing.setdefault(name, {})
    if code not in codes or (moment is not None and (codes[code] is None or moment < codes[code])):
        codes[code] = moment


def _check_references(
    conn: Connection,
    parsed: list[tuple[int, dict[str, Any]]],
    kind: ImportKind,
    result: Validation,
    create_missing: bool,
) -> list[tuple[int, dict[str, Any]]]:
    maps = {}
    for name in kind.references:
        column = REFERENCES[name].key
        maps[name] = lookup(conn, column, (r[name] for _, r in parsed if r.get(name) is not None))
    resolved = []
    for number, record in parsed:
        good = True
        for name, found in maps.items():
            code, ref = record.get(name), REFERENCES[name]
            if code is None:
                record[ref.target] = None
            elif code in found:
                record[ref.target] = found[code]
            elif create_missing and kind.field(name).creatable:
                record[ref.target] = Pending(name, code)
                _note_missing(result, name, code, record)
            else:
                result.add(
                    number, name, code, f"unknown {ref.singular}: not in the database; {ref.first}"
                )
                good = False
        if good:
            resolved.append((number, record))
    return resolved


def _check_orders(parsed: list[tuple[int, dict[str, Any]]], result: Validation) -> None:
    """Item rows of one order must agree on the order's own fields."""
    first: dict[str, tuple[int, dict[str, Any]]] = {}
    for number, record in parsed:
        seen = first.setdefault(record["order_number"], (number, record))
        if seen[0] == number:
            continue
        for name in _ORDER_FIELDS:
            if record[name] != seen[1][name]:
                result.add(
                    number,
                    name,
                    record[name],
                    f"differs from row {seen[0]} of the same order ({values.shown(seen[1][name])})",
                )


def _database_record(record: dict[str, Any], kind: ImportKind, header: list[str]) -> dict[str, Any]:
    """Columns of the target table; optional columns absent from the file are left out."""
    out: dict[str, Any] = {}
    for name in kind.columns:
        if name not in header:
            continue
        if name in kind.references:
            target = REFERENCES[name].target
            out[target] = record[target]
        else:
            out[RENAMES.get(name, name)] = record[name]
    return out


def validate(
    conn: Connection,
    table: Table,
    kind: ImportKind,
    *,
    now: dt.datetime,
    decimals: int = 2,
    future_days: int = values.DEFAULT_FUTURE_DAYS,
    create_missing: bool = False,
    progress: Callable[[float], None] = lambda _f: None,
) -> Validation:
    """Check every row; ``records`` are filled only when there is no error at all. Dates may
    lie up to ``future_days`` after ``now``; ``create_missing`` accepts unknown platforms,
    categories and customers (listed in ``missing``)."""
    result = Validation(ignored_columns=check_header(table, kind))
    parsed = _parse_rows(
        table,
        kind,
        result,
        now=now,
        decimals=decimals,
        future_days=future_days,
        progress=progress,
    )
    if result.rows_total == 0:
        raise ImportFileError("The file has a header row but no data rows.")
    parsed = _check_references(conn, parsed, kind, result, create_missing)
    if kind.name == "orders":
        _check_orders(parsed, result)
    if result.ok:
        result.records = [_database_record(record, kind, table.header) for _, record in parsed]
    else:
        result.missing = {}  # nothing is created for a file that is refused
    result.errors.sort(key=lambda e: (e.row, e.column))
    return result
