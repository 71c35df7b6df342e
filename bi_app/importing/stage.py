"""The staging table of one import: the file's typed rows, loaded in batches (``COPY`` on
PostgreSQL, ``executemany`` on SQLite) so the checks that span rows (duplicate keys, unknown
references, order items that disagree) and the final merge are set-based SQL, whatever the size.

It is a temporary table of the import's own connection and transaction: nobody else sees it, and
it is gone when the import ends (dropped on commit on PostgreSQL, dropped by :func:`drop`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Index,
    MetaData,
    Table,
    Text,
    and_,
    insert,
    text,
)

from bi_app.importing.schemas import ImportKind

NAME = "bi_import_stage"
BATCH_ROWS = 10_000
_TYPES = {
    "text": Text,
    "choice": Text,
    "code": Text,
    "int": BigInteger,
    "money": BigInteger,
    "datetime": DateTime,
    "date": Date,
    "bool": Boolean,
}
# row_no: the row as a spreadsheet shows it; bad: a row with a cell error, staged for its key only
# (so a duplicate of it is still reported), never merged
FIXED = ("row_no", "bad")


def create(conn: Connection, kind: ImportKind) -> Table:
    """An empty staging table with one typed column per column of ``kind`` (by file name)."""
    drop(conn)
    columns = [Column("row_no", BigInteger, nullable=False), Column("bad", Boolean, nullable=False)]
    columns += [Column(f.name, _TYPES.get(f.type, Text)()) for f in kind.fields]
    table = Table(NAME, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")
    table.create(conn)
    return table


def columns(table: Table) -> list[str]:
    return [c.name for c in table.columns]


def load(conn: Connection, table: Table, rows: Sequence[Sequence[Any]]) -> None:
    """Append ``rows`` (values in :func:`columns` order) to the staging table."""
    if not rows:
        return
    names = columns(table)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor() as cursor:
            quoted = ", ".join(f'"{n}"' for n in names)
            with cursor.copy(f"COPY {NAME} ({quoted}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])


def prepare(conn: Connection, table: Table, kind: ImportKind) -> None:
    """Index what the checks and the merge join on, and give the planner the table's size
    (temporary tables are never analyzed automatically)."""
    indexed = [table.c[k] for k in kind.key]
    Index(f"{NAME}_key", *indexed).create(conn)
    if "order_number" in table.c and kind.key != ("order_number",):
        Index(f"{NAME}_order", table.c.order_number).create(conn)
    Index(f"{NAME}_row", table.c.row_no).create(conn)
    conn.execute(text(f"ANALYZE {NAME}"))


def same_key(left: Any, right: Any, key: Sequence[str], optional: Collection[str]) -> Any:
    """Rows of ``left`` and ``right`` (tables or subqueries) equal on the ``key`` columns; in an
    ``optional`` column two empty cells are equal too (NULL-safe, which no index serves, so
    required columns compare plainly)."""
    return and_(
        *[
            left.c[k].is_not_distinct_from(right.c[k]) if k in optional else left.c[k] == right.c[k]
            for k in key
        ]
    )


def drop(conn: Connection) -> None:
    """Forget the staging table (SQLite keeps temporary tables for the connection's life); only
    the temporary one, never a table of that name in the database."""
    schema = "pg_temp" if conn.dialect.name == "postgresql" else "temp"
    conn.execute(text(f"DROP TABLE IF EXISTS {schema}.{NAME}"))
