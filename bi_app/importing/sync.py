"""``bi-app sync MAPPING.toml``: pull what changed in a business's own database (its shop or CRM,
any SQLAlchemy URL) since the last sync, through the same checks and merge as a file import.

A mapping file names the source and, per import kind in the order to import them, a table or a
query, the column that tells when a row last changed (the watermark, e.g. ``updated_at``) and
which source column feeds each import column::

    name = "shop"                                   # how runs and watermarks are labelled
    url = "postgresql+psycopg://reader@db/shop"     # or sqlite:///shop.db, mysql+pymysql://...

    [[kinds]]
    kind = "customers"
    table = "crm_customers"                         # or: query = "SELECT ... FROM ..."
    watermark = "updated_at"
    columns = { external_id = "id", name = "full_name", email = "email" }

Each kind reads only rows whose watermark is greater than the largest one it imported before
(every row with ``--full``), streams them into the import of that kind and, when the import
succeeds, remembers the new largest watermark (``sync_watermarks``). A refused import keeps the
old watermark, so the same rows come again once they are fixed at the source. A row whose
watermark equals the remembered one but was committed after the last sync read is not seen:
sources should set the watermark on commit (or sync with ``--full`` now and then; the merge is
idempotent). Each run with rows is an import run, listed on Admin → Import.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, column, create_engine, func, select, table, text
from sqlalchemy.exc import SQLAlchemyError

from bi_app.db.import_models import SyncWatermark
from bi_app.db.models import utcnow
from bi_app.importing.reader import Table
from bi_app.importing.schemas import get_kind
from bi_app.importing.service import (
    Echo,
    ImportOutcome,
    Invalidate,
    import_file,
    settings_options,
)

log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$")
WATERMARK = "bi_watermark"
BATCH_ROWS = 5000


class SyncError(ValueError):
    """The mapping or the source cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class KindMapping:
    kind: str
    watermark: str
    columns: dict[str, str]  # import column -> source column
    table: str | None = None
    query: str | None = None


@dataclass(frozen=True)
class SyncMapping:
    name: str
    url: str
    kinds: tuple[KindMapping, ...]


@dataclass
class KindResult:
    kind: str
    rows: int = 0
    outcome: ImportOutcome | None = None  # None: nothing changed since the watermark
    watermark: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is None or self.outcome.ok


@dataclass
class SyncResult:
    name: str
    kinds: list[KindResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(k.ok for k in self.kinds)


# --- the mapping file -------------------------------------------------------------------------


def load_mapping(path: str | Path) -> SyncMapping:
    """Read and check a mapping file; :class:`SyncError` names what is wrong."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SyncError(f"cannot read the mapping file {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SyncError(f"the mapping file {path} is not valid TOML: {exc}") from None
    return parse_mapping(data)


def parse_mapping(data: dict[str, Any]) -> SyncMapping:
    name = str(data.get("name") or "").strip().lower()
    if not _NAME_RE.match(name):
        raise SyncError(
            "name: give the source a short name (lower-case letters, digits, _ or -), e.g. "
            'name = "shop"'
        )
    url = data.get("url")
    if not isinstance(url, str) or "://" not in url:
        raise SyncError(
            'url: give the source database as a SQLAlchemy URL, e.g. "sqlite:///shop.db"'
        )
    entries = data.get("kinds")
    if not isinstance(entries, list) or not entries:
        raise SyncError("kinds: list at least one [[kinds]] table (kind, table or query, ...)")
    kinds = tuple(_kind_mapping(entry, number) for number, entry in enumerate(entries, start=1))
    if len({k.kind for k in kinds}) != len(kinds):
        raise SyncError("kinds: each kind may be listed once")
    return SyncMapping(name, url, kinds)


def _kind_mapping(entry: Any, number: int) -> KindMapping:
    where = f"kinds #{number}"
    if not isinstance(entry, dict):
        raise SyncError(f"{where}: expected a table of settings")
    try:
        spec = get_kind(entry.get("kind"))
    except ValueError as exc:
        raise SyncError(f"{where}: {exc}") from None
    where = f"kinds #{number} ({spec.name})"
    source_table, query = entry.get("table"), entry.get("query")
    if (source_table is None) == (query is None):
        raise SyncError(f'{where}: give either table = "..." or query = "SELECT ..."')
    if source_table is not None and not (
        isinstance(source_table, str) and _IDENT_RE.match(source_table)
    ):
        raise SyncError(f"{where}: table must be a plain table name (optionally schema.table)")
    if query is not None and not (
        isinstance(query, str) and query.strip().lower().startswith(("select", "with"))
    ):
        raise SyncError(f"{where}: query must be a SELECT statement")
    watermark = entry.get("watermark")
    if not isinstance(watermark, str) or not _IDENT_RE.match(watermark):
        raise SyncError(f"{where}: watermark must name the column that tells when a row changed")
    columns = entry.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise SyncError(f"{where}: columns must map import columns to source columns")
    unknown = [c for c in columns if c not in spec.columns]
    if unknown:
        raise SyncError(
            f"{where}: unknown import column(s) {', '.join(unknown)}; "
            f"a {spec.label.lower()} import has: {', '.join(spec.columns)}"
        )
    missing = [c for c in spec.required if c not in columns]
    if missing:
        raise SyncError(f"{where}: map the required column(s) {', '.join(missing)}")
    bad = [str(v) for v in columns.values() if not (isinstance(v, str) and _IDENT_RE.match(v))]
    if bad:
        raise SyncError(f"{where}: source columns must be plain column names, not {bad[0]!r}")
    return KindMapping(spec.name, watermark, dict(columns), source_table, query)


# --- watermarks -------------------------------------------------------------------------------


def _encode(value: Any) -> tuple[str, str]:
    if isinstance(value, dt.datetime):
        return "datetime", value.isoformat()
    if isinstance(value, dt.date):
        return "date", value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        return "int", str(value)
    return "text", str(value)


def _decode(value_type: str, value: str) -> Any:
    if value_type == "datetime":
        return dt.datetime.fromisoformat(value)
    if value_type == "date":
        return dt.date.fromisoformat(value)
    if value_type == "int":
        return int(value)
    return value


def read_watermark(engine: Engine, source: str, kind: str) -> Any:
    w = SyncWatermark.__table__
    with engine.connect() as conn:
        row = conn.execute(
            select(w.c.value_type, w.c.value).where(w.c.source == source, w.c.kind == kind)
        ).first()
    return None if row is None else _decode(row.value_type, row.value)


def _save_watermark(engine: Engine, source: str, kind: str, value: Any, rows: int) -> str:
    value_type, text_value = _encode(value)
    w = SyncWatermark.__table__
    values = {
        "value_type": value_type,
        "value": text_value[:255],
        "rows": rows,
        "updated_at": utcnow(),
    }
    with engine.begin() as conn:
        done = conn.execute(
            w.update().where(w.c.source == source, w.c.kind == kind).values(values)
        ).rowcount
        if not done:
            conn.execute(w.insert().values(source=source, kind=kind, **values))
    return text_value


# --- reading the source -----------------------------------------------------------------------


def _source(km: KindMapping) -> Any:
    """The kind's rows at the source, with their watermark as :data:`WATERMARK`."""
    names = [*dict.fromkeys([*km.columns.values(), km.watermark])]
    if km.table is not None:
        schema, _, name = km.table.rpartition(".")
        return table(name, *[column(n) for n in names], schema=schema or None).alias("src")
    return text(km.query).columns(*[column(n) for n in names]).subquery("src")


def _select(km: KindMapping, after: Any) -> Any:
    src = _source(km)
    query = select(
        *[src.c[source].label(target) for target, source in km.columns.items()],
        src.c[km.watermark].label(WATERMARK),
    )
    if after is not None:
        query = query.where(src.c[km.watermark] > after)
    return query.order_by(src.c[km.watermark])


def _changed(source: Engine, km: KindMapping, after: Any) -> int:
    """How many rows changed after ``after`` (all of them for None)."""
    counted = select(func.count()).select_from(_select(km, after).order_by(None).subquery())
    with source.connect() as conn:
        return int(conn.execute(counted).scalar_one())


class _Reader:
    """Streams one kind's changed rows as an import table, noting the largest watermark."""

    def __init__(self, source: Engine, km: KindMapping, after: Any) -> None:
        self.source, self.km, self.after = source, km, after
        self.largest: Any = after

    def __call__(self, _spec: Any) -> Table:
        def rows() -> Iterator[tuple[int, list[Any]]]:
            with self.source.connect() as conn:
                result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
                    _select(self.km, self.after)
                )
                for number, row in enumerate(result, start=2):
                    *cells, mark = row
                    if mark is not None and (self.largest is None or mark > self.largest):
                        self.largest = mark
                    yield number, list(cells)

        return Table("sync", list(self.km.columns), rows())


# --- one sync ---------------------------------------------------------------------------------


def run_sync(
    engine: Engine,
    mapping: SyncMapping,
    *,
    full: bool = False,
    actor: str = "sync",
    decimals: int = 2,
    future_days: int = 1,
    invalidate: Invalidate | None = None,
    echo: Echo | None = None,
    report: Callable[[str], None] = lambda _line: None,
) -> SyncResult:
    """Import what changed at the source, kind by kind, in the mapping's order. A source that
    cannot be read raises :class:`SyncError` (nothing imported for that kind and later ones)."""
    result = SyncResult(mapping.name)
    try:
        source = create_engine(mapping.url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise SyncError(f"{mapping.name}: the source URL cannot be used ({exc})") from None
    try:
        for km in mapping.kinds:
            after = None if full else read_watermark(engine, mapping.name, km.kind)
            try:
                changed = _changed(source, km, after)
            except SQLAlchemyError as exc:
                log.warning("sync %s/%s: source unreadable: %s", mapping.name, km.kind, exc)
                raise SyncError(
                    f"{mapping.name}: {km.kind} cannot be read from the source database "
                    f"({type(exc.orig or exc).__name__}: check the URL, the table or query and "
                    "the column names). Nothing more was imported."
                ) from None
            item = KindResult(km.kind, watermark=None if after is None else str(after))
            result.kinds.append(item)
            if not changed:
                item.message = "no changes" + (f" since {after}" if after is not None else "")
                report(f"{km.kind}: {item.message}")
                continue
            reader = _Reader(source, km, after)
            outcome = import_file(
                engine,
                b"",
                f"sync {mapping.name}: {km.kind}",
                km.kind,
                actor=actor,
                source="sync",
                decimals=decimals,
                future_days=future_days,
                invalidate=invalidate,
                echo=echo,
                opener=reader,
            )
            item.outcome, item.rows = outcome, outcome.rows_total
            if outcome.status == "succeeded" and reader.largest is not None:
                item.watermark = _save_watermark(
                    engine, mapping.name, km.kind, reader.largest, item.rows
                )
            item.message = outcome.message
            report(f"{km.kind}: {outcome.status}: {outcome.message}")
    finally:
        source.dispose()
    return result


def run_configured_sync(settings: Any, engine: Engine) -> dict[str, Any]:
    """The scheduled job: the mapping of ``BI_SYNC_FILE``, if one is configured."""
    if not settings.sync_file:
        return {"skipped": "no BI_SYNC_FILE configured"}
    mapping = load_mapping(settings.sync_file)
    result = run_sync(
        engine,
        mapping,
        actor="scheduler",
        **settings_options(settings),
    )
    summary = {
        k.kind: (k.outcome.status if k.outcome else "unchanged") + f" ({k.rows} rows)"
        for k in result.kinds
    }
    if not result.ok:
        raise RuntimeError(f"sync {mapping.name}: a kind was refused or failed: {summary}")
    return summary
