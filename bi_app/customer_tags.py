"""Recompute customer figures, monthly segment snapshots and churn-risk tags (daily job + button).

One run, in one transaction (readers see the old or the new state, never half of each):

1. ``customer_stats``: every customer's visits (count, first, last, average interval) and
   revenue orders (count, spend, first, last) up to the end of ``today``, aggregated in SQL;
2. ``customer_segment_snapshots``: cumulative visits and spend per customer at each month's end,
   in SQL with a running sum; only the last two months are rebuilt unless the table is empty;
3. ``customer_tags``: the pure rules of :mod:`bi_app.analytics.churn` on the per-customer stats
   (one row per customer, never the raw visits); tags that appear get a history row, tags that
   disappear get their history row closed.

The job entry point is :func:`recompute_tags` (``bi_app.customer_tags:recompute_tags``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import pandas as pd
from sqlalchemy import (
    Connection,
    Date,
    Engine,
    Float,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
    union,
    union_all,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql.expression import FunctionElement

from bi_app.analytics.churn import ChurnThresholds, tag_frame
from bi_app.analytics.segmentation import SegmentThresholds
from bi_app.data import settings
from bi_app.data.customers import NAMESPACE, segment_sql
from bi_app.db.analytics_models import (
    CustomerSegmentSnapshot,
    CustomerStats,
    CustomerTag,
    CustomerTagHistory,
)
from bi_app.db.models import REVENUE_STATUSES, Order, Visit, utcnow
from bi_app.db.rollups import day_of, month_start
from bi_app.extensions import db

log = logging.getLogger(__name__)

LOCK_KEY = 0x6375_7374  # "cust": serializes concurrent runs on PostgreSQL
SNAPSHOT_REBUILD_MONTHS = 2


class days_between(FunctionElement):
    """Fractional days from the second timestamp to the first."""

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between_default(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - "
        f"{compiler.process(earlier, **kw)})) / 86400.0)"
    )


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    later_sql, earlier_sql = compiler.process(later, **kw), compiler.process(earlier, **kw)
    return f"(julianday({later_sql}) - julianday({earlier_sql}))"


def _cutoff(today: dt.date) -> dt.datetime:
    return dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min)


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def stats_select(today: dt.date, computed_at: dt.datetime) -> Any:
    """Per-customer figures up to the end of ``today``, in the column
    order of ``customer_stats``."""
    cutoff = _cutoff(today)
    v = (
        select(
            Visit.customer_id.label("customer_id"),
            func.count().label("visits"),
            func.min(Visit.visited_at).label("first_visit"),
            func.max(Visit.visited_at).label("last_visit"),
        )
        .where(Visit.visited_at < cutoff)
        .group_by(Visit.customer_id)
        .subquery("v")
    )
    o = (
        select(
            Order.customer_id.label("customer_id"),
            func.count().label("orders"),
            func.sum(Order.total_cents).label("spend_cents"),
            func.min(Order.ordered_at).label("first_order"),
            func.max(Order.ordered_at).label("last_order"),
        )
        .where(Order.ordered_at < cutoff, Order.status.in_(REVENUE_STATUSES))
        .group_by(Order.customer_id)
        .subquery("o")
    )
    ids = union(select(v.c.customer_id), select(o.c.customer_id)).subquery("ids")
    interval = case(
        (v.c.visits > 1, days_between(v.c.last_visit, v.c.first_visit) / (v.c.visits - 1)),
        else_=None,
    )
    return (
        select(
            ids.c.customer_id,
            literal(today, Date),
            func.coalesce(v.c.visits, 0),
            v.c.first_visit,
            v.c.last_visit,
            interval,
            func.coalesce(o.c.orders, 0),
            func.coalesce(o.c.spend_cents, 0),
            o.c.first_order,
            o.c.last_order,
            literal(computed_at),
        )
        .select_from(ids)
        .outerjoin(v, v.c.customer_id == ids.c.customer_id)
        .outerjoin(o, o.c.customer_id == ids.c.customer_id)
    )


STATS_COLUMNS = (
    "customer_id",
    "as_of",
    "visits",
    "first_visit",
    "last_visit",
    "avg_interval_days",
    "orders",
    "spend_cents",
    "first_order",
    "last_order",
    "computed_at",
)


def _months_span(conn: Connection, today: dt.date) -> list[dt.date]:
    cutoff = _cutoff(today)
    first_visit = conn.execute(
        select(func.min(Visit.visited_at)).where(Visit.visited_at < cutoff)
    ).scalar()
    first_order = conn.execute(
        select(func.min(Order.ordered_at)).where(Order.ordered_at < cutoff)
    ).scalar()
    firsts = [pd.Timestamp(x).date() for x in (first_visit, first_order) if x is not None]
    if not firsts:
        return []
    month, last = min(firsts).replace(day=1), today.replace(day=1)
    months = []
    while month <= last:
        months.append(month)
        month = _add_months(month, 1)
    return months


def snapshots_select(today: dt.date, months: list[dt.date], from_month: dt.date) -> Any:
    """Cumulative visits and spend per customer at the end of every month in ``months`` from the
    customer's first active month on, keeping the months ``>= from_month``."""
    cutoff = _cutoff(today)
    visit_month = month_start(day_of(Visit.visited_at))
    order_month = month_start(day_of(Order.ordered_at))
    increments = union_all(
        select(
            Visit.customer_id.label("customer_id"),
            visit_month.label("month"),
            func.count().label("visits"),
            literal(0).label("spend_cents"),
        )
        .where(Visit.visited_at < cutoff)
        .group_by(Visit.customer_id, visit_month),
        select(Order.customer_id, order_month, literal(0), func.sum(Order.total_cents))
        .where(Order.ordered_at < cutoff, Order.status.in_(REVENUE_STATUSES))
        .group_by(Order.customer_id, order_month),
    ).subquery("increments")
    monthly = (
        select(
            increments.c.customer_id,
            increments.c.month,
            func.sum(increments.c.visits).label("visits"),
            func.sum(increments.c.spend_cents).label("spend_cents"),
        )
        .group_by(increments.c.customer_id, increments.c.month)
        .subquery("monthly")
    )
    firsts = (
        select(monthly.c.customer_id, func.min(monthly.c.month).label("first_month"))
        .group_by(monthly.c.customer_id)
        .subquery("firsts")
    )
    calendar = union_all(*[select(literal(m, Date).label("month")) for m in months]).subquery(
        "calendar"
    )
    grid = (
        select(
            calendar.c.month.label("month"),
            firsts.c.customer_id.label("customer_id"),
            func.sum(func.coalesce(monthly.c.visits, 0))
            .over(partition_by=firsts.c.customer_id, order_by=calendar.c.month)
            .label("visits"),
            func.sum(func.coalesce(monthly.c.spend_cents, 0))
            .over(partition_by=firsts.c.customer_id, order_by=calendar.c.month)
            .label("spend_cents"),
        )
        .select_from(firsts)
        .join(calendar, calendar.c.month >= firsts.c.first_month)
        .outerjoin(
            monthly,
            and_(
                monthly.c.customer_id == firsts.c.customer_id, monthly.c.month == calendar.c.month
            ),
        )
        .subquery("grid")
    )
    return select(grid.c.month, grid.c.customer_id, grid.c.visits, grid.c.spend_cents).where(
        grid.c.month >= from_month
    )


def _rebuild_snapshots(conn: Connection, today: dt.date, full: bool) -> int:
    months = _months_span(conn, today)
    table = CustomerSegmentSnapshot.__table__
    if not months:
        conn.execute(delete(table))
        return 0
    has_rows = conn.execute(select(table.c.month).limit(1)).first() is not None
    from_month = (
        months[0]
        if full or not has_rows
        else max(months[0], _add_months(months[-1], -(SNAPSHOT_REBUILD_MONTHS - 1)))
    )
    conn.execute(delete(table).where(table.c.month >= from_month))
    result = conn.execute(
        insert(table).from_select(
            ["month", "customer_id", "visits", "spend_cents"],
            snapshots_select(today, months, from_month),
        ),
        execution_options={"preserve_rowcount": True},
    )
    return max(result.rowcount or 0, 0)


def _current_stats(conn: Connection, segments: SegmentThresholds) -> pd.DataFrame:
    s = CustomerStats.__table__
    query = select(
        s.c.customer_id,
        segment_sql(s.c.visits, s.c.spend_cents, segments).label("segment"),
        s.c.first_visit,
        s.c.last_visit,
        s.c.avg_interval_days,
    )
    # julianday/epoch arithmetic leaves float noise (2.0000000001 days), which would decide
    # the exact-boundary cases of the delay rule; a microsecond-level rounding removes it
    rows = [
        (cid, seg, first, last, None if interval is None else round(float(interval), 6))
        for cid, seg, first, last, interval in conn.execute(query)
    ]
    return pd.DataFrame(
        rows, columns=["customer_id", "segment", "first_visit", "last_visit", "avg_interval_days"]
    )


def _apply_tags(
    conn: Connection, desired: pd.DataFrame, today: dt.date, now: dt.datetime
) -> dict[str, int]:
    current = {
        (int(c), t) for c, t in conn.execute(select(CustomerTag.customer_id, CustomerTag.tag))
    }
    wanted = {(int(c), t) for c, t in zip(desired["customer_id"], desired["tag"])}
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if removed:
        conn.execute(
            delete(CustomerTag).where(
                CustomerTag.customer_id == bindparam("cid"), CustomerTag.tag == bindparam("t")
            ),
            [{"cid": c, "t": t} for c, t in removed],
        )
        conn.execute(
            update(CustomerTagHistory)
            .where(
                CustomerTagHistory.customer_id == bindparam("cid"),
                CustomerTagHistory.tag == bindparam("t"),
                CustomerTagHistory.removed_at.is_(None),
            )
            .values(removed_at=now, removed_as_of=today),
            [{"cid": c, "t": t} for c, t in removed],
        )
    if added:
        conn.execute(
            insert(CustomerTag),
            [{"customer_id": c, "tag": t, "added_at": now, "as_of": today} for c, t in added],
        )
        conn.execute(
            insert(CustomerTagHistory),
            [{"customer_id": c, "tag": t, "added_at": now, "added_as_of": today} for c, t in added],
        )
    conn.execute(update(CustomerTag).values(as_of=today))
    return {"added": len(added), "removed": len(removed), "tagged": len(wanted)}


def recompute(
    engine: Engine, today: dt.date, *, full_snapshots: bool = False, actor: Any = None
) -> dict[str, Any]:
    """Rebuild stats, snapshots and tags as of the end of ``today``; returns counts and seconds.

    ``actor`` (a user or a name) marks a manual run: it is recorded in the audit log."""
    began, now = time.perf_counter(), utcnow()
    values = settings.all_settings()
    segments, churn = SegmentThresholds.from_settings(values), ChurnThresholds.from_settings(values)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(LOCK_KEY)))
        conn.execute(delete(CustomerStats))
        result = conn.execute(
            insert(CustomerStats).from_select(STATS_COLUMNS, stats_select(today, now)),
            execution_options={"preserve_rowcount": True},
        )
        customers = max(result.rowcount or 0, 0)
        snapshot_rows = _rebuild_snapshots(conn, today, full_snapshots)
        tags = _apply_tags(
            conn, tag_frame(_current_stats(conn, segments), today, churn), today, now
        )
        if conn.dialect.name == "postgresql":
            for name in ("customer_stats", "customer_segment_snapshots", "customer_tags"):
                conn.exec_driver_sql(f"ANALYZE {name}")
    summary = {
        "as_of": today.isoformat(),
        "customers": customers,
        "snapshot_rows": snapshot_rows,
        **tags,
        "seconds": round(time.perf_counter() - began, 3),
    }
    if actor is not None:
        from bi_app.auth import audit

        with sessionmaker(engine)() as session:
            audit(session, "customer_tags.recompute", today.isoformat(), summary, actor=actor)
            session.commit()
    from bi_app.data.cache import invalidate

    invalidate(NAMESPACE)
    log.info("customer tags recomputed as of %s: %s", today, summary)
    return summary


def recompute_now(actor: Any) -> dict[str, Any]:
    """A manual recompute from the Customers page: as of today (UTC), audited as ``actor``."""
    return recompute(db.require_engine(), utcnow().date(), actor=actor)


def recompute_tags(engine: Engine, scheduled_for: dt.datetime | None = None) -> dict[str, Any]:
    """The daily job: everything as of the run's UTC date."""
    return recompute(engine, (scheduled_for or utcnow()).date())
