"""Writing generated column batches into SQLite (Core executemany) or PostgreSQL (binary COPY)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import numpy as np
from sqlalchemy import Connection, Engine, insert, inspect, text

from bi_app.db.models import Base

log = logging.getLogger(__name__)

SQLITE_BATCH = 20_000
# Binary COPY needs the exact wire type; varchar shares text's binary format.
COPY_TYPES = {"varchar": "text", "bpchar": "text"}


class Sink(Protocol):
    def write(self, table: str, columns: dict[str, Sequence]) -> int: ...


def python_values(values: Sequence) -> list:
    """A column as plain Python objects: drivers reject numpy scalars."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "M" and values.dtype != np.dtype("datetime64[D]"):
            return values.astype("datetime64[us]").tolist()
        return values.tolist()
    return list(values)


class SqliteSink:
    """Core ``insert`` executemany in batches, inside the caller's transaction."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def write(self, table: str, columns: dict[str, Sequence]) -> int:
        names = list(columns)
        values = [python_values(columns[name]) for name in names]
        statement = insert(Base.metadata.tables[table])
        count = len(values[0]) if values else 0
        for offset in range(0, count, SQLITE_BATCH):
            chunk = [v[offset : offset + SQLITE_BATCH] for v in values]
            self.conn.execute(statement, [dict(zip(names, row)) for row in zip(*chunk)])
        return count


class PostgresSink:
    """``COPY ... FROM STDIN (FORMAT BINARY)`` on the caller's connection and transaction."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.raw = conn.connection.dbapi_connection
        self._types: dict[str, dict[str, str]] = {}

    def column_types(self, table: str) -> dict[str, str]:
        if table not in self._types:
            rows = self.conn.execute(
                text(
                    "SELECT column_name, udt_name FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND table_name = :table"
                ),
                {"table": table},
            )
            self._types[table] = {name: COPY_TYPES.get(udt, udt) for name, udt in rows}
        return self._types[table]

    def write(self, table: str, columns: dict[str, Sequence]) -> int:
        from psycopg import sql

        names = list(columns)
        types = self.column_types(table)
        values = [python_values(columns[name]) for name in names]
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types([types[name] for name in names])
            for row in zip(*values):
                copy.write_row(row)
        return len(values[0]) if values else 0


@contextmanager
def deferred_constraints(conn: Connection, tables: Sequence[str]) -> Iterator[None]:
    """On PostgreSQL, drop foreign keys and secondary indexes of ``tables`` while loading and
    recreate them from their own catalogue definitions afterwards.

    The PostgreSQL manual's advice for bulk loads: one validation pass and one index build
    per table are far cheaper than a foreign-key lookup and index insert per copied row.
    Primary keys and unique constraints stay, so duplicate ids still fail the load. It all
    runs in the caller's transaction, so a failure restores the original schema.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    params = {"tables": list(tables)}
    foreign_keys = conn.execute(
        text(
            "SELECT c.conname, t.relname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "JOIN pg_class t ON t.oid = c.conrelid "
            "WHERE c.contype = 'f' AND t.relnamespace = current_schema()::regnamespace "
            "AND t.relname = ANY(:tables)"
        ),
        params,
    ).all()
    indexes = conn.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = "
            "current_schema() "
            "AND i.tablename = ANY(:tables) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || "
            "quote_ident(i.indexname))::regclass)"
        ),
        params,
    ).all()
    for name, table, _definition in foreign_keys:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    for name, _definition in indexes:
        conn.execute(text(f'DROP INDEX "{name}"'))
    yield
    for _name, definition in indexes:
        conn.execute(text(definition))
    for name, table, definition in foreign_keys:
        conn.execute(text(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}'))


def make_sink(conn: Connection) -> Sink:
    return PostgresSink(conn) if conn.dialect.name == "postgresql" else SqliteSink(conn)


def clear_tables(
    conn: Connection,
    tables: Sequence[str],
    protected: Sequence[str] = ("users", "roles", "audit_log"),
) -> list[str]:
    """Delete every row of ``tables`` (given parents first) and of the tables whose foreign keys
    point into them (e.g. rows cached per event), which could not outlive their parents anyway.

    Returns those dependent tables. Refuses, before deleting anything, when a ``protected``
    table depends on the data.
    """
    dependents = _dependent_tables(conn, tables)
    blocked = sorted(set(dependents) & set(protected))
    if blocked:
        raise RuntimeError(f"refusing to delete demo data: {', '.join(blocked)} reference it")
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{name}"' for name in [*tables, *dependents])
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY"))
        return dependents
    for name in [*dependents, *reversed(tables)]:
        conn.execute(text(f'DELETE FROM "{name}"'))
    return dependents


def _dependent_tables(conn: Connection, tables: Sequence[str]) -> list[str]:
    """Tables outside ``tables`` that reference them, directly or through each other;
    the most dependent first."""
    inspector = inspect(conn)
    references = {
        name: {fk["referred_table"] for fk in inspector.get_foreign_keys(name)}
        for name in inspector.get_table_names()
    }
    cleared, found = set(tables), []
    changed = True
    while changed:
        changed = False
        for name, referred in sorted(references.items()):
            if name not in cleared and referred & cleared:
                cleared.add(name)
                found.insert(0, name)
                changed = True
    return found


def fix_sequences(conn: Connection, tables: Sequence[str]) -> None:
    """After explicit ids, move each serial sequence past the largest id (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return
    for name in tables:
        if "id" not in Base.metadata.tables[name].c:
            continue
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                f'COALESCE((SELECT MAX(id) FROM "{name}"), 0) + 1, false) '
                f"WHERE pg_get_serial_sequence(:table, 'id') IS NOT NULL"
            ),
            {"table": name},
        )


def vacuum(engine: Engine, tables: Sequence[str]) -> None:
    """After a big load on PostgreSQL (outside its transaction): ``VACUUM (ANALYZE)``, so the
    visibility map is set and index-only scans (the customer lookups of an incremental customer
    recompute, say) read no heap pages: right after loading 27M visits, 1,000 customers' visits
    took 6 s of random heap reads instead of a fraction of a second. Best effort."""
    if engine.dialect.name != "postgresql":
        return
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM (ANALYZE) " + ", ".join(f'"{name}"' for name in tables)))
    except Exception:  # the autovacuum daemon gets there eventually
        log.warning("VACUUM after the load failed", exc_info=True)


def analyze(conn: Connection, tables: Sequence[str]) -> None:
    """Fresh planner statistics, so the first queries after a big load are not planned blind."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ANALYZE " + ", ".join(f'"{name}"' for name in tables)))
