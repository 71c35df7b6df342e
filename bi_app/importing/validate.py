"""Row-level validation of an import file against its kind's schema and the database.

Rows are read as a stream: each cell is checked as it comes (type, range, length,
formula-looking text) and the typed rows go to the import's staging table (:mod:`.stage`) in
batches, so memory stays bounded whatever the file's size. The checks that span rows are then
set-based SQL on that table: duplicate keys within the file, references to rows that do not exist
(categories, platforms, customers, products, events) and, for orders, item rows of one order that
disagree. Every problem becomes one :class:`RowError`; a file without any is merged from the
staging table by :mod:`.write`.

With ``create_missing`` an unknown platform, category or customer is no error: it is listed in
:attr:`Validation.missing`, and :mod:`.create` inserts it in the import's transaction before the
merge resolves the codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, exists, func, or_, select
from sqlalchemy import Table as SqlTable

from bi_app.db.models import Category, Customer, Event, Product, SalesPlatform
from bi_app.i18n import N_, _
from bi_app.importing import stage, values
from bi_app.importing.reader import MAX_ROWS, ImportFileError, Table
from bi_app.importing.schemas import ImportKind

MAX_REPORTED_ERRORS = 10_000
ROW = N_("(row)")  # the "column" of an error about a whole row (translated when reported)


@dataclass(frozen=True)
class Reference:
    key: Any  # the referenced key column
    target: str  # the database column it resolves to
    singular: str
    plural: str
    # the "unknown ..." message of a row referring to a missing one, saying how to make it exist
    # (N_()-marked, translated when reported)
    unknown: str


# file column -> what it refers to; in the order "Create missing" reports what it created
REFERENCES: dict[str, Reference] = {
    "category_code": Reference(
        Category.code,
        "category_id",
        "category",
        "categories",
        N_(
            "unknown category: not in the database; import it first (Product categories), or "
            "choose “Create missing platforms, categories and customers” (--create-missing on "
            "the command line)"
        ),
    ),
    "platform_code": Reference(
        SalesPlatform.code,
        "platform_id",
        "platform",
        "platforms",
        N_(
            "unknown platform: not in the database; import it first (Sales platforms), or "
            "choose “Create missing platforms, categories and customers” (--create-missing on "
            "the command line)"
        ),
    ),
    "customer_external_id": Reference(
        Customer.external_id,
        "customer_id",
        "customer",
        "customers",
        N_(
            "unknown customer: not in the database; import it first (Customers), or choose "
            "“Create missing platforms, categories and customers” (--create-missing on the "
            "command line)"
        ),
    ),
    "sku": Reference(
        Product.sku,
        "product_id",
        "product",
        "products",
        N_(
            "unknown product: not in the database; products are never created by another "
            "file's import (they need a name, category and price): import them first"
        ),
    ),
    "event_code": Reference(
        Event.code,
        "event_id",
        "event",
        "events",
        N_(
            "unknown event: not in the database; events are never created by an import (they "
            "need more than a code): add the event first"
        ),
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
    stage: SqlTable | None = None  # the staged rows (see :mod:`.stage`), merged when all is well
    header: list[str] = field(default_factory=list)
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


def check_header(table: Table, kind: ImportKind) -> list[str]:
    missing = [name for name in kind.required if name not in table.header]
    if missing:
        raise ImportFileError(
            _(
                "Missing required column(s): %(missing)s. A %(kind)s file has the columns: "
                "%(columns)s.",
                missing=", ".join(missing),
                kind=_(kind.label).lower(),
                columns=", ".join(kind.columns),
            )
        )
    return [name for name in table.header if name not in kind.columns]


def _stage_rows(
    conn: Connection,
    table: Table,
    kind: ImportKind,
    result: Validation,
    staged: SqlTable,
    *,
    now: dt.datetime,
    decimals: int,
    future_days: int,
    progress: Callable[[float], None],
) -> None:
    """Check every cell as the rows stream by and stage the typed rows in batches. A row with
    a cell error is staged too when its key parsed (flagged ``bad``), so a duplicate of it is
    still reported."""
    positions = [
        (i, name, kind.field(name).parser(now=now, decimals=decimals, future_days=future_days))
        for i, name in enumerate(table.header)
        if name in kind.columns
    ]
    names = [f.name for f in kind.fields]
    width = len(table.header)
    batch: list[tuple[Any, ...]] = []
    for number, cells in table.rows:
        result.rows_total += 1
        if result.rows_total > MAX_ROWS:
            raise ImportFileError(
                _(
                    "The file has more than %(limit)s rows; split it into smaller files.",
                    limit=f"{MAX_ROWS:,}",
                )
            )
        if len(cells) != width:
            result.add(
                number,
                _(ROW),
                "",
                _(
                    "has %(cells)s cells but the header has %(width)s columns",
                    cells=len(cells),
                    width=width,
                ),
            )
            continue
        record: dict[str, Any] = {}
        bad = False
        for index, name, parse in positions:
            try:
                record[name] = parse(cells[index])
            except values.CellError as exc:
                result.add(number, name, cells[index], str(exc))
                bad = True
        if bad and not all(name in record for name in kind.key):
            continue
        batch.append((number, bad, *(record.get(name) for name in names)))
        if len(batch) >= stage.BATCH_ROWS:
            stage.load(conn, staged, batch)
            batch.clear()
            progress(table.progress())
    stage.load(conn, staged, batch)


def _optional(kind: ImportKind, names: Sequence[str]) -> set[str]:
    return {n for n in names if not kind.field(n).required}


def _check_duplicates(
    conn: Connection, staged: SqlTable, kind: ImportKind, result: Validation
) -> None:
    keys = [staged.c[k] for k in kind.key]
    repeated = (
        select(*keys, func.min(staged.c.row_no).label("first"))
        .group_by(*keys)
        .having(func.count() > 1)
        .subquery("repeated")
    )
    query = (
        select(staged.c.row_no, repeated.c.first, *keys)
        .join(repeated, stage.same_key(staged, repeated, kind.key, _optional(kind, kind.key)))
        .where(staged.c.row_no != repeated.c.first)
        .order_by(staged.c.row_no)
    )
    for number, first, *key in conn.execute(query):
        shown = ", ".join(values.shown(k) for k in key)
        message = _("duplicate key: same as row %(row)s", row=first)
        result.add(number, "+".join(kind.key), shown, message)


def _moment(staged: SqlTable) -> Any:
    """When a staged row happened (a customer created from it has signed up by then)."""
    return next((staged.c[m] for m in _MOMENTS if m in staged.c), None)


def _check_references(
    conn: Connection,
    staged: SqlTable,
    kind: ImportKind,
    result: Validation,
    create_missing: bool,
) -> None:
    for name in kind.references:
        ref = REFERENCES[name]
        code = staged.c[name]
        unknown = [
            code.is_not(None),
            ~staged.c.bad,
            ~exists().where(ref.key == code),
        ]
        if create_missing and kind.field(name).creatable:
            moment = _moment(staged)
            first = func.min(staged.c.row_no).label("first")
            query = (
                select(code, func.min(moment) if moment is not None else first, first)
                .where(*unknown)
                .group_by(code)
                .order_by(first)
            )
            found = {
                row[0]: (row[1] if moment is not None else None) for row in conn.execute(query)
            }
            if found:
                result.missing[name] = found
            continue
        query = select(staged.c.row_no, code).where(*unknown).order_by(staged.c.row_no)
        message = _(ref.unknown)
        for number, value in conn.execute(query):
            result.add(number, name, value, message)


def _check_orders(conn: Connection, staged: SqlTable, kind: ImportKind, result: Validation) -> None:
    """Item rows of one order must agree on the order's own fields (with its first row)."""
    firsts = (
        select(staged.c.order_number, func.min(staged.c.row_no).label("first"))
        .where(~staged.c.bad)
        .group_by(staged.c.order_number)
        .subquery("firsts")
    )
    first = staged.alias("first_row")
    fields = [staged.c[n] for n in _ORDER_FIELDS]
    query = (
        select(staged.c.row_no, first.c.row_no, *fields, *[first.c[n] for n in _ORDER_FIELDS])
        .join(firsts, firsts.c.order_number == staged.c.order_number)
        .join(first, first.c.row_no == firsts.c.first)
        .where(
            ~staged.c.bad,
            staged.c.row_no != firsts.c.first,
            or_(*[staged.c[n].is_distinct_from(first.c[n]) for n in _ORDER_FIELDS]),
        )
        .order_by(staged.c.row_no)
    )
    count = len(_ORDER_FIELDS)
    for number, first_no, *cells in conn.execute(query):
        mine, theirs = cells[:count], cells[count:]
        for name, value, expected in zip(_ORDER_FIELDS, mine, theirs, strict=True):
            if value != expected:
                message = _(
                    "differs from row %(row)s of the same order (%(expected)s)",
                    row=first_no,
                    expected=values.shown(expected),
                )
                result.add(number, name, value, message)


def staged_records(conn: Connection, result: Validation, kind: ImportKind) -> list[dict[str, Any]]:
    """The staged rows of a checked file as the merge reads them (file columns of the header,
    money in minor units), in file order: what an import of it would write."""
    assert result.stage is not None
    names = [n for n in kind.columns if n in result.header]
    query = (
        select(*[result.stage.c[n] for n in names])
        .where(~result.stage.c.bad)
        .order_by(result.stage.c.row_no)
    )
    return [dict(zip(names, row, strict=True)) for row in conn.execute(query)]


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
    """Check every row, staging the typed rows in ``conn``'s transaction (``result.stage``).
    Dates may lie up to ``future_days`` after ``now``; ``create_missing`` accepts unknown
    platforms, categories and customers (listed in ``missing``)."""
    result = Validation(ignored_columns=check_header(table, kind), header=list(table.header))
    staged = stage.create(conn, kind)
    result.stage = staged
    _stage_rows(
        conn,
        table,
        kind,
        result,
        staged,
        now=now,
        decimals=decimals,
        future_days=future_days,
        progress=progress,
    )
    if result.rows_total == 0:
        raise ImportFileError(_("The file has a header row but no data rows."))
    stage.prepare(conn, staged, kind)
    _check_duplicates(conn, staged, kind, result)
    _check_references(conn, staged, kind, result, create_missing)
    if kind.name == "orders":
        _check_orders(conn, staged, kind, result)
    if not result.ok:
        result.missing = {}  # nothing is created for a file that is refused
    result.errors.sort(key=lambda e: (e.row, e.column))
    return result
