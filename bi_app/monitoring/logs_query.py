"""Reading ``app_logs`` for the /ops/logs page: filter parsing, capped line queries, and log
volume by level over time aggregated in SQL (bucketed the same way on SQLite and PostgreSQL).

Log data is live, so nothing here is cached; every query is bounded by a time range and a row cap.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Integer, and_, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from bi_app.db.log_models import AppLog
from bi_app.errors import unavailable_on_database_error
from bi_app.i18n import N_, _

LEVELS: dict[str, int] = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
DEFAULT_LEVEL = "INFO"
RANGES: dict[str, dt.timedelta] = {
    "15m": dt.timedelta(minutes=15),
    "1h": dt.timedelta(hours=1),
    "6h": dt.timedelta(hours=6),
    "24h": dt.timedelta(hours=24),
    "7d": dt.timedelta(days=7),
    "30d": dt.timedelta(days=30),
}
RANGE_LABELS = {
    "15m": N_("Last 15 minutes"),
    "1h": N_("Last hour"),
    "6h": N_("Last 6 hours"),
    "24h": N_("Last 24 hours"),
    "7d": N_("Last 7 days"),
    "30d": N_("Last 30 days"),
    "custom": N_("Custom"),
}
DEFAULT_RANGE = "24h"
MAX_RANGE = dt.timedelta(days=90)
MAX_KEYWORD_CHARS = 200
MAX_LOGGERS = 20
DEFAULT_LIMIT = 5_000
EXPORT_LIMIT = 50_000
BUCKET_STEPS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400)
TARGET_BUCKETS = 60
_LOGGER_RE = re.compile(r"^[A-Za-z0-9_.\-:]{1,200}$")
_T = AppLog.__table__
LINE_COLUMNS = (
    "id",
    "at",
    "level_name",
    "logger",
    "message",
    "module",
    "func",
    "line",
    "exc_text",
    "request_id",
    "username",
    "host",
    "extra",
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class LogQuery:
    """A validated filter; times are naive UTC."""

    start: dt.datetime
    end: dt.datetime
    min_level: int = LEVELS[DEFAULT_LEVEL]
    loggers: tuple[str, ...] | None = None  # None = all; a name also matches its children
    keyword: str | None = None


@dataclass
class ParsedLogQuery:
    query: LogQuery
    range_key: str
    level_name: str
    notices: list[str] = field(default_factory=list)


@dataclass
class LogPage:
    rows: list[dict[str, Any]]
    total: int
    limit: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.rows)


def escape_like(term: str, escape: str = "\\") -> str:
    """``term`` with LIKE wildcards made literal (for ``LIKE ... ESCAPE '\\'``)."""
    return term.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")


def _parse_datetime(raw: object, tz: str) -> dt.datetime | None:
    """An ISO date/time as naive UTC; without an offset it is a time in zone ``tz``."""
    if raw is None or str(raw).strip() == "":
        return None
    text = str(raw).strip()[:40].replace("Z", "+00:00")
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    try:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    except (OverflowError, ValueError):
        return None


def _split(raw: object) -> list[str]:
    if raw is None:
        return []
    items: Iterable[object] = raw if isinstance(raw, (list, tuple)) else str(raw).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def parse_log_query(
    raw: Mapping[str, object], now: dt.datetime | None = None, *, tz: str = "UTC"
) -> ParsedLogQuery:
    """Validate what a URL or the page's controls sent; bad values get a notice and a default.

    Keys: ``level`` (minimum level name), ``logger`` (list or comma list), ``range`` (a key of
    :data:`RANGES` or ``custom``), ``start``/``end`` (ISO datetimes, UTC unless an offset is
    given, then they are times in ``tz``; used with ``custom``), ``q`` (keyword, case-insensitive,
    literal).
    """
    now = now or utcnow()
    notices: list[str] = []

    level = str(raw.get("level") or DEFAULT_LEVEL).strip().upper()
    if level not in LEVELS:
        notices.append(
            _(
                "Unknown level %(level)s; showing %(default)s and above.",
                level=repr(str(raw.get("level"))[:30]),
                default=DEFAULT_LEVEL,
            )
        )
        level = DEFAULT_LEVEL

    loggers: list[str] = []
    for name in _split(raw.get("logger")):
        if _LOGGER_RE.match(name):
            if name not in loggers:
                loggers.append(name)
        else:
            notices.append(_("Ignored invalid logger name %(name)s.", name=repr(name[:40])))
    if len(loggers) > MAX_LOGGERS:
        notices.append(
            _(
                "At most %(count)s loggers can be selected; the rest were ignored.",
                count=MAX_LOGGERS,
            )
        )
        loggers = loggers[:MAX_LOGGERS]

    keyword = str(raw.get("q") or "").strip()
    if len(keyword) > MAX_KEYWORD_CHARS:
        notices.append(
            _(
                "The search text was cut to its first %(count)s characters.",
                count=MAX_KEYWORD_CHARS,
            )
        )
        keyword = keyword[:MAX_KEYWORD_CHARS]

    range_key = str(raw.get("range") or DEFAULT_RANGE).strip().lower()
    if range_key not in RANGES and range_key != "custom":
        notices.append(
            _(
                "Unknown time range %(range)s; showing the last 24 hours.",
                range=repr(str(raw.get("range"))[:30]),
            )
        )
        range_key = DEFAULT_RANGE
    if range_key == "custom":
        start, end = _parse_datetime(raw.get("start"), tz), _parse_datetime(raw.get("end"), tz)
        if raw.get("start") not in (None, "") and start is None:
            notices.append(
                _("Invalid start time %(value)s.", value=repr(str(raw.get("start"))[:40]))
            )
        if raw.get("end") not in (None, "") and end is None:
            notices.append(_("Invalid end time %(value)s.", value=repr(str(raw.get("end"))[:40])))
        end = end or now
        start = start or end - RANGES[DEFAULT_RANGE]
        if start > end:
            start, end = end, start
            notices.append(_("The start time was after the end time; the two were swapped."))
        if end - start > MAX_RANGE:
            start = end - MAX_RANGE
            notices.append(
                _(
                    "Time ranges are limited to %(days)s days; the start was moved.",
                    days=MAX_RANGE.days,
                )
            )
    else:
        start, end = now - RANGES[range_key], now

    query = LogQuery(
        start=start,
        end=end,
        min_level=LEVELS[level],
        loggers=tuple(loggers) or None,
        keyword=keyword or None,
    )
    return ParsedLogQuery(query, range_key, level, notices)


def conditions(q: LogQuery) -> list[ColumnElement[bool]]:
    """WHERE conditions for a query; every value is a bound parameter."""
    where: list[ColumnElement[bool]] = [
        _T.c.at >= q.start,
        _T.c.at <= q.end,
        _T.c.level >= q.min_level,
    ]
    if q.loggers:
        where.append(
            or_(
                *(
                    or_(
                        _T.c.logger == name, _T.c.logger.like(escape_like(name) + ".%", escape="\\")
                    )
                    for name in q.loggers
                )
            )
        )
    if q.keyword:
        pattern = "%" + escape_like(q.keyword.lower()) + "%"
        where.append(
            or_(
                func.lower(_T.c.message).like(pattern, escape="\\"),
                func.lower(func.coalesce(_T.c.exc_text, "")).like(pattern, escape="\\"),
            )
        )
    return where


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def fetch_logs(
    q: LogQuery,
    *,
    engine: Engine | None = None,
    limit: int = DEFAULT_LIMIT,
    after_id: int | None = None,
) -> LogPage:
    """The newest ``limit`` lines matching ``q`` (newest first) and how many match in all.

    With ``after_id`` only lines stored after that id are returned (the live tail).
    """
    limit = max(1, min(int(limit), EXPORT_LIMIT))
    where = conditions(q)
    cols = [_T.c[name] for name in LINE_COLUMNS]
    lines = select(*cols).where(and_(*where))
    if after_id is not None:
        lines = lines.where(_T.c.id > int(after_id))
    lines = lines.order_by(_T.c.at.desc(), _T.c.id.desc()).limit(limit)
    with _engine(engine).connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(lines)]
        total = conn.execute(select(func.count()).select_from(_T).where(and_(*where))).scalar_one()
    return LogPage(rows, int(total), limit)


class epoch_bucket(FunctionElement):
    """``floor(epoch seconds of a timestamp / N) * N`` as an integer, on SQLite and PostgreSQL.

    ``N`` is rendered as a literal (it is a validated int), so the SELECT and GROUP BY
    expressions are textually identical, as PostgreSQL requires.
    """

    type = Integer()
    inherit_cache = True
    name = "epoch_bucket"

    def __init__(self, column: ColumnElement[Any], seconds: int) -> None:
        self.seconds = int(seconds)
        super().__init__(column)


@compiles(epoch_bucket)
def _epoch_bucket_default(element: epoch_bucket, compiler: Any, **kw: Any) -> str:
    col = compiler.process(next(iter(element.clauses)), **kw)
    n = element.seconds
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {col}) / {n}) AS BIGINT) * {n}"


@compiles(epoch_bucket, "sqlite")
def _epoch_bucket_sqlite(element: epoch_bucket, compiler: Any, **kw: Any) -> str:
    col = compiler.process(next(iter(element.clauses)), **kw)
    n = element.seconds
    return f"(CAST(strftime('%s', {col}) AS INTEGER) / {n}) * {n}"


def bucket_seconds(start: dt.datetime, end: dt.datetime) -> int:
    """The smallest step from :data:`BUCKET_STEPS` giving at most ~60 buckets over the range."""
    span = max((end - start).total_seconds(), 1.0)
    for step in BUCKET_STEPS:
        if span / step <= TARGET_BUCKETS:
            return step
    return BUCKET_STEPS[-1]


@dataclass
class LevelVolume:
    bucket_seconds: int
    points: list[tuple[dt.datetime, str, int]]  # (bucket start UTC, level name, lines)


def level_volume(q: LogQuery, *, engine: Engine | None = None) -> LevelVolume:
    """Lines per level per time bucket, counted by the database."""
    step = bucket_seconds(q.start, q.end)
    bucket = epoch_bucket(_T.c.at, step).label("bucket")
    stmt = (
        select(bucket, _T.c.level_name, func.count().label("n"))
        .where(and_(*conditions(q)))
        .group_by(bucket, _T.c.level_name)
        .order_by(bucket, _T.c.level_name)
    )
    with _engine(engine).connect() as conn:
        points = [
            (
                dt.datetime.fromtimestamp(int(b), dt.UTC).replace(tzinfo=None),
                str(lvl),
                int(n),
            )
            for b, lvl, n in conn.execute(stmt)
        ]
    return LevelVolume(step, points)


@unavailable_on_database_error(N_("The logger list"))
def known_loggers(
    *, engine: Engine | None = None, since: dt.datetime | None = None, limit: int = 200
) -> list[str]:
    """Logger names seen since ``since`` (default 7 days) plus their top-level parents."""
    since = since or utcnow() - dt.timedelta(days=7)
    stmt = select(_T.c.logger).where(_T.c.at >= since).distinct().order_by(_T.c.logger).limit(limit)
    with _engine(engine).connect() as conn:
        names = {row[0] for row in conn.execute(stmt)}
    names |= {name.split(".", 1)[0] for name in names}
    return sorted(names)


@dataclass
class LogView:
    """What the page shows for a filter: the capped lines and their volume by level."""

    page: LogPage
    volume: LevelVolume

    @property
    def tail_state(self) -> dict[str, Any]:
        return tail_state(self.page.rows, len(self.page.rows))


def tail_state(
    rows: Iterable[Mapping[str, Any]], shown: int, last_id: int | None = None
) -> dict[str, Any]:
    """What the live tail remembers between ticks: the newest id seen and how many lines show."""
    ids = [int(row["id"]) for row in rows]
    if last_id is not None:
        ids.append(int(last_id))
    return {"last_id": max(ids) if ids else None, "shown": int(shown)}


@unavailable_on_database_error(N_("Log storage"))
def load_log_view(
    q: LogQuery, *, engine: Engine | None = None, limit: int = DEFAULT_LIMIT
) -> LogView:
    engine = _engine(engine)
    return LogView(fetch_logs(q, engine=engine, limit=limit), level_volume(q, engine=engine))


@dataclass
class TailResult:
    """Lines stored since the last tick (newest first), or a full reload when the cap is hit."""

    new_rows: list[dict[str, Any]]
    total: int
    state: dict[str, Any]
    volume: LevelVolume | None = None
    reload: LogPage | None = None


@unavailable_on_database_error(N_("Log storage"))
def tail_logs(
    q: LogQuery,
    state: Mapping[str, Any] | None,
    *,
    engine: Engine | None = None,
    limit: int = DEFAULT_LIMIT,
) -> TailResult:
    """New lines for the live tail; ``state`` is the previous :func:`tail_state`."""
    engine = _engine(engine)
    state = dict(state or {})
    last_id = state.get("last_id")
    last_id = int(last_id) if isinstance(last_id, int) and not isinstance(last_id, bool) else None
    shown = state.get("shown") if isinstance(state.get("shown"), int) else 0
    page = fetch_logs(q, engine=engine, limit=limit, after_id=last_id)
    if not page.rows:
        return TailResult([], page.total, tail_state([], shown, last_id))
    volume = level_volume(q, engine=engine)
    if shown + len(page.rows) > limit:
        full = fetch_logs(q, engine=engine, limit=limit)
        return TailResult(
            [], full.total, tail_state(full.rows, len(full.rows), last_id), volume, full
        )
    return TailResult(
        page.rows, page.total, tail_state(page.rows, shown + len(page.rows), last_id), volume
    )
