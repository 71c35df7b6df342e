"""Recompute customer figures, segments, segment paths, churn-risk tags and the small aggregate
tables the Customers page reads (daily job, and the page's button starts the same job).

What a run recomputes
---------------------
A *full* run recomputes every customer. An *incremental* run recomputes only the customers
whose figures can have changed since the last successful run (the "work set"):

* customers whose orders or visits were inserted, updated (both the old and the new customer of
  a row) or deleted: database triggers on ``orders`` and ``visits`` (migration 0016) write them
  to ``customer_changes`` whoever the writer is (imports, syncs, the demo loader, a manual SQL
  fix), so deletions are seen as surely as insertions. A ``TRUNCATE`` writes ``-1``: next run
  is full;
* customers with activity between the last run's cutoff and this one's (rows stamped in the
  future enter a customer's figures as days pass);
* customers whose tag may change by time alone: each row stores ``tag_due``, the first day on
  which one of the tag rules' day thresholds is crossed with no new activity (an index finds
  them). Tags are thus exact every day without re-reading everyone.

A run is full when asked, when no run succeeded yet, when the segment or churn thresholds differ
from those the last run applied, when ``today`` is earlier than the last run's, or after a
``TRUNCATE``. Segments and paths are stored, so a threshold change shows once a run applied it:
the Customers page says the thresholds changed since the last run (``stats_status``) and its
"Recompute tags" button starts that run in the background; otherwise the next daily run does.

On PostgreSQL the run is one REPEATABLE READ transaction: every statement sees the same snapshot
of orders, visits and ``customer_changes``, and it deletes exactly the change rows it saw
(rows committed meanwhile stay for the next run). Readers see the old or the new state, never
half of each. On SQLite the one writer lock gives the same.

Activity months (``customer_visit_months``, ``customer_order_months``): each customer's visits
and revenue orders per month before the run's cutoff, what the stats are computed from instead of
every visit and order. A run first rewrites the months of the customers whose visits or orders
changed or gained rows since the last cutoff (from their rows, through the customer indexes), so
they stay exact; they are rebuilt from all rows only when no run completed them yet (a new or
upgraded database), after a ``TRUNCATE``, or when ``today`` went back. A full run after a
threshold change therefore reads a few rows per customer, not every visit.

Steps (the work set in ``customer_work``, processed in customer-id chunks so progress can be
shown): 1. ``customer_stats`` rows of the chunk: visits, revenue orders, the segment with the
thresholds in force, the *segment path* (the month of the first activity and the months in which
the customer reached growing, loyal and VIP: the (new_max+1)-th and (growing_max+1)-th visit and
the order that took cumulative spend to the VIP threshold), the tag (rules of
:mod:`bi_app.analytics.churn`, in SQL) and ``tag_due``; 2. the tag table and its history for the
work set; 3. the aggregates, each one ``GROUP BY`` over the narrow ``customer_stats``:
segment x tag counts, path counts (segment sizes at any month's end and the movement between two
months follow from them), RFM cells (``NTILE(5)`` as before).

Segments at a month's end replace the old one-row-per-customer-per-month snapshots: a customer's
segment at the end of month M is the highest segment whose month is <= M (none before the first
month). Cumulative visits and spend only grow with time, so that is exactly what a snapshot said.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Iterator
from functools import reduce
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Engine,
    Float,
    Integer,
    MetaData,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    union,
    update,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import sessionmaker
from sqlalchemy.sql.expression import FunctionElement

from bi_app.analytics.churn import ChurnThresholds
from bi_app.analytics.segmentation import SegmentThresholds
from bi_app.data import settings
from bi_app.data.customers import NAMESPACE, segment_sql
from bi_app.db.analytics_models import (
    CustomerChange,
    CustomerOrderMonth,
    CustomerProfileCount,
    CustomerRecomputeRun,
    CustomerRfmCell,
    CustomerSegmentPath,
    CustomerStats,
    CustomerTag,
    CustomerTagHistory,
    CustomerVisitMonth,
    CustomerWork,
)
from bi_app.db.business_days import (
    CUSTOMER_MONTHS_TIMEZONE_KEY,
    record_timezone,
    same_zone,
    stored_timezone,
)
from bi_app.db.models import REVENUE_STATUSES, Customer, Order, Visit, utcnow
from bi_app.db.periods import (
    business_timezone,
    day_of,
    local_date,
    local_midnight_utc,
    month_start,
)
from bi_app.extensions import db
from bi_app.i18n import N_

log = logging.getLogger(__name__)

LOCK_KEY = 0x6375_7374  # "cust": serializes runs on PostgreSQL (see _serialized)
CHUNK = 50_000  # work-set customers per stats statement in an incremental run
# a full run reads the activity months sequentially once per chunk: few chunks (progress in
# quarters), where an incremental run's small chunks read them through their primary keys
FULL_RUN_CHUNKS = 4
WORK_MEM = "128MB"
JOB_NAME = "customer_tags"
EPOCH = dt.date(1970, 1, 1)
TRUNCATED = -1  # a customer_changes row written by a TRUNCATE: everything changed


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


class day_number(FunctionElement):
    """A timestamp's calendar day as whole days since 1970-01-01."""

    type = Integer()
    inherit_cache = True
    name = "day_number"


@compiles(day_number)
def _day_number_default(element: day_number, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"(CAST({compiler.process(value, **kw)} AS DATE) - DATE '1970-01-01')"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"CAST(julianday(date({compiler.process(value, **kw)})) - 2440587.5 AS INTEGER)"


class rounded6(FunctionElement):
    """A float rounded to 6 decimals, as a float (removes julianday/epoch noise like Python's
    ``round(x, 6)``)."""

    type = Float()
    inherit_cache = True
    name = "rounded6"


@compiles(rounded6)
def _rounded6_default(element: rounded6, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"CAST(ROUND(CAST({compiler.process(value, **kw)} AS NUMERIC), 6) AS DOUBLE PRECISION)"


@compiles(rounded6, "sqlite")
def _rounded6_sqlite(element: rounded6, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"ROUND({compiler.process(value, **kw)}, 6)"


class floor_int(FunctionElement):
    """The whole part of a non-negative number, as an integer."""

    type = Integer()
    inherit_cache = True
    name = "floor_int"


@compiles(floor_int)
def _floor_int_default(element: floor_int, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"CAST(FLOOR({compiler.process(value, **kw)}) AS INTEGER)"


@compiles(floor_int, "sqlite")
def _floor_int_sqlite(element: floor_int, compiler: Any, **kw: Any) -> str:
    (value,) = list(element.clauses)
    return f"CAST({compiler.process(value, **kw)} AS INTEGER)"


def _cutoff(today: dt.date) -> dt.datetime:
    """The end of local day ``today`` (the business time zone's midnight) as stored: UTC."""
    return local_midnight_utc(today + dt.timedelta(days=1))


def local_today() -> dt.date:
    """Today in the business time zone: what "as of today" means for tags."""
    return local_date(utcnow())


def day_no(day: dt.date) -> int:
    return (day - EPOCH).days


@dataclasses.dataclass(frozen=True)
class Rules:
    segments: SegmentThresholds
    churn: ChurnThresholds

    @classmethod
    def current(cls, engine: Engine) -> Rules:
        """The thresholds stored in ``engine``'s database (read now, not from the cache)."""
        with engine.connect() as conn:
            values = settings.settings_in(conn)
        return cls(SegmentThresholds.from_settings(values), ChurnThresholds.from_settings(values))

    def as_json(self) -> dict[str, Any]:
        return {
            "segments": dataclasses.asdict(self.segments),
            "churn": dataclasses.asdict(self.churn),
        }


# --- per-customer SQL -----------------------------------------------------------------------


def _in_chunk(column: Any, lo: int, hi: int, full: bool) -> list[Any]:
    """Rows of the work-set customers with ids in ``lo..hi`` (a full run's work set is every
    customer: the id range alone says it, without a join)."""
    if full:
        return [column.between(lo, hi)]
    work = CustomerWork.__table__.c.customer_id
    return [
        column.between(lo, hi),
        column.in_(select(work).where(work.between(lo, hi))),
    ]


def _least(a: Any, b: Any) -> Any:
    return case((a.is_(None), b), (b.is_(None), a), (a < b, a), else_=b)


def _earliest(a: Any, b: Any) -> Any:
    return _least(a, b)


def tag_sql(c: Any, segment: Any, today_n: int, t: ChurnThresholds) -> tuple[Any, Any]:
    """The tag (:func:`bi_app.analytics.churn.churn_tag`) and ``tag_due`` of a row whose
    ``first_visit``, ``last_visit`` and ``avg_interval_days`` are the columns ``c``."""
    # local days: a visit at 00:30 in Seoul is on the Seoul date
    last_n, first_n = day_number(day_of(c.last_visit)), day_number(day_of(c.first_visit))
    since_last, since_first = literal(today_n) - last_n, literal(today_n) - first_n
    interval = rounded6(c.avg_interval_days)
    has_interval = and_(c.avg_interval_days.is_not(None), interval != 0)
    allowance = interval * (1.0 + t.delay_tolerance)
    tag = case(
        (c.first_visit.is_(None), None),
        (c.last_visit.is_(None), None),
        (since_last >= t.reactivation_days, literal("reactivation_needed")),
        (
            segment == "new",
            case(
                (since_last >= t.new_at_risk_days, literal("new_customer_at_risk")),
                (since_first >= t.followup_days, literal("new_customer_followup")),
                else_=None,
            ),
        ),
        (
            and_(segment.in_(("growing", "loyal")), has_interval, since_last > allowance),
            case((segment == "growing", literal("growing_delayed")), else_="loyal_delayed"),
        ),
        else_=None,
    )
    # every day on which a rule's threshold is crossed; the nearest one after today is when
    # the tag must be looked at again (a look that changes nothing is harmless)
    candidates = [
        last_n + t.reactivation_days,
        last_n + t.new_at_risk_days,
        first_n + t.followup_days,
        case((has_interval, last_n + floor_int(allowance) + 1), else_=None),
    ]
    upcoming = [case((cand > today_n, cand), else_=None) for cand in candidates]
    due = case((c.first_visit.is_(None), None), else_=reduce(_least, upcoming))
    return tag, due


def _stats_select(
    today: dt.date, computed_at: dt.datetime, rules: Rules, lo: int, hi: int, full: bool = False
) -> Any:
    """Every column of ``customer_stats`` for the work-set customers with ids in ``lo..hi``.

    Read from the activity months (visits and revenue orders per customer and month, brought up
    to date by :func:`_refresh_months` first): the lifetime figures and the segment path are
    running sums over those monthly rows, far fewer than the raw rows."""
    seg_t = rules.segments
    vmonths, omonths = CustomerVisitMonth.__table__, CustomerOrderMonth.__table__
    vm = (
        select(
            vmonths.c.customer_id.label("customer_id"),
            vmonths.c.month.label("month"),
            vmonths.c.visits.label("n"),
            vmonths.c.first_at.label("first_at"),
            vmonths.c.last_at.label("last_at"),
        )
        .where(*_in_chunk(vmonths.c.customer_id, lo, hi, full))
        .cte("vm")
    )
    om = (
        select(
            omonths.c.customer_id.label("customer_id"),
            omonths.c.month.label("month"),
            omonths.c.orders.label("n"),
            omonths.c.spend_cents.label("spend"),
            omonths.c.first_at.label("first_at"),
            omonths.c.last_at.label("last_at"),
        )
        .where(*_in_chunk(omonths.c.customer_id, lo, hi, full))
        .cte("om")
    )
    v_running = func.sum(vm.c.n).over(partition_by=vm.c.customer_id, order_by=vm.c.month)
    v_cum = select(vm.c.customer_id, vm.c.month, v_running.label("cum")).subquery("v_cum")
    v = (
        select(
            vm.c.customer_id.label("customer_id"),
            func.sum(vm.c.n).label("visits"),
            func.min(vm.c.first_at).label("first_visit"),
            func.max(vm.c.last_at).label("last_visit"),
            func.min(vm.c.month).label("first_month"),
        )
        .group_by(vm.c.customer_id)
        .cte("v")
    )
    steps = (
        select(
            v_cum.c.customer_id,
            func.min(case((v_cum.c.cum > seg_t.new_max_visits, v_cum.c.month))).label("growing"),
            func.min(case((v_cum.c.cum > seg_t.growing_max_visits, v_cum.c.month))).label("loyal"),
        )
        .where(v_cum.c.cum > seg_t.new_max_visits)
        .group_by(v_cum.c.customer_id)
        .subquery("steps")
    )
    o_running = func.sum(om.c.spend).over(partition_by=om.c.customer_id, order_by=om.c.month)
    o_cum = select(om.c.customer_id, om.c.month, o_running.label("cum")).subquery("o_cum")
    vip = (
        select(o_cum.c.customer_id, func.min(o_cum.c.month).label("vip"))
        .where(o_cum.c.cum >= seg_t.vip_min_spend_cents)
        .group_by(o_cum.c.customer_id)
        .subquery("vip")
    )
    o = (
        select(
            om.c.customer_id.label("customer_id"),
            func.sum(om.c.n).label("orders"),
            func.sum(om.c.spend).label("spend_cents"),
            func.min(om.c.first_at).label("first_order"),
            func.max(om.c.last_at).label("last_order"),
            func.min(om.c.month).label("first_month"),
        )
        .group_by(om.c.customer_id)
        .cte("o")
    )
    ids = union(select(v.c.customer_id), select(o.c.customer_id)).subquery("ids")
    interval = case(
        (v.c.visits > 1, days_between(v.c.last_visit, v.c.first_visit) / (v.c.visits - 1)),
        else_=None,
    )
    base = (
        select(
            ids.c.customer_id.label("customer_id"),
            func.coalesce(v.c.visits, 0).label("visits"),
            v.c.first_visit.label("first_visit"),
            v.c.last_visit.label("last_visit"),
            interval.label("avg_interval_days"),
            func.coalesce(o.c.orders, 0).label("orders"),
            func.coalesce(o.c.spend_cents, 0).label("spend_cents"),
            o.c.first_order.label("first_order"),
            o.c.last_order.label("last_order"),
            _earliest(v.c.first_month, o.c.first_month).label("first_month"),
            steps.c.growing.label("growing_month"),
            steps.c.loyal.label("loyal_month"),
            vip.c.vip.label("vip_month"),
        )
        .select_from(ids)
        .outerjoin(v, v.c.customer_id == ids.c.customer_id)
        .outerjoin(o, o.c.customer_id == ids.c.customer_id)
        .outerjoin(steps, steps.c.customer_id == ids.c.customer_id)
        .outerjoin(vip, vip.c.customer_id == ids.c.customer_id)
        .subquery("base")
    )
    segment = segment_sql(base.c.visits, base.c.spend_cents, seg_t)
    tag, due = tag_sql(base.c, segment, day_no(today), rules.churn)
    return select(
        base.c.customer_id,
        literal(today, Date),
        base.c.visits,
        base.c.first_visit,
        base.c.last_visit,
        base.c.avg_interval_days,
        base.c.orders,
        base.c.spend_cents,
        base.c.first_order,
        base.c.last_order,
        literal(computed_at),
        segment,
        base.c.first_month,
        base.c.growing_month,
        base.c.loyal_month,
        base.c.vip_month,
        func.coalesce(day_number(day_of(base.c.last_visit)), -1),
        tag,
        due,
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
    "segment",
    "first_month",
    "growing_month",
    "loyal_month",
    "vip_month",
    "last_visit_day",
    "tag",
    "tag_due",
)


# --- the work set -----------------------------------------------------------------------------


def _empty(conn: Connection, table: Table) -> None:
    """Empty a table the run owns. On PostgreSQL by TRUNCATE: deleting a full run's rows of
    ``customer_work`` left a bloated table the planner then judged costly to read, and it chose
    to walk every customer instead of looking up the few of an incremental run (0.5 s per
    statement at 1M orders); rebuilt activity months leave no dead rows behind either."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"TRUNCATE {table.name}")
    else:
        conn.execute(delete(table))


def _empty_work(conn: Connection) -> None:
    _empty(conn, CustomerWork.__table__)


def _fill_work(
    conn: Connection,
    today: dt.date,
    last: CustomerRecomputeRun | None,
    full: bool,
    rebuild: bool,
) -> tuple[int, int | None]:
    """Bring the activity months up to date, then fill ``customer_work``; returns its size and
    the newest change row consumed.

    The customers whose visits or orders changed (trigger rows) or gained rows between the last
    run's cutoff and this one's get their months rewritten from their visits and orders (all
    customers when ``rebuild``). The work set is then every customer (``full``) or those plus
    the ones whose tag may change by time alone."""
    work = CustomerWork.__table__
    changes = CustomerChange.__table__
    _empty_work(conn)
    newest = conn.execute(select(func.max(changes.c.id))).scalar()
    if rebuild or last is None:
        _refresh_months(conn, today, only_work=False)
    else:
        cutoff, since = _cutoff(today), _cutoff(last.as_of)
        sources = [
            select(changes.c.customer_id).where(changes.c.id <= newest)
            if newest is not None
            else None,
            select(Visit.customer_id).where(Visit.visited_at >= since, Visit.visited_at < cutoff),
            select(Order.customer_id).where(Order.ordered_at >= since, Order.ordered_at < cutoff),
        ]
        ids = union(*[q for q in sources if q is not None]).subquery("ids")
        conn.execute(
            insert(work).from_select(["customer_id"], select(ids.c[0]).where(ids.c[0] != TRUNCATED))
        )
        if conn.dialect.name == "postgresql":
            # planned with the last run's size (a full run's million), the refresh read every
            # visit instead of looking up the few changed customers (6 s instead of 0.1 s)
            conn.exec_driver_sql("ANALYZE customer_work")
        _refresh_months(conn, today, only_work=True)
    if full:
        _empty_work(conn)
        conn.execute(insert(work).from_select(["customer_id"], select(Customer.id)))
    else:
        s = CustomerStats.__table__
        due = select(s.c.customer_id).where(
            s.c.tag_due <= day_no(today),
            ~exists().where(work.c.customer_id == s.c.customer_id),
        )
        conn.execute(insert(work).from_select(["customer_id"], due))
    size = conn.execute(select(func.count()).select_from(work)).scalar_one()
    return int(size), newest


def _refresh_months(conn: Connection, today: dt.date, only_work: bool) -> None:
    """Rewrite the activity months from visits and revenue orders before this run's cutoff:
    those of the customers in ``customer_work`` (``only_work``), else all of them."""
    cutoff = _cutoff(today)
    work = select(CustomerWork.__table__.c.customer_id)
    vmonths, omonths = CustomerVisitMonth.__table__, CustomerOrderMonth.__table__
    visit_month = month_start(day_of(Visit.visited_at))
    visits = select(
        Visit.customer_id,
        visit_month,
        func.count(),
        func.min(Visit.visited_at),
        func.max(Visit.visited_at),
    ).where(Visit.visited_at < cutoff)
    order_month = month_start(day_of(Order.ordered_at))
    orders = select(
        Order.customer_id,
        order_month,
        func.count(),
        func.sum(Order.total_cents),
        func.min(Order.ordered_at),
        func.max(Order.ordered_at),
    ).where(Order.ordered_at < cutoff, Order.status.in_(REVENUE_STATUSES))
    if only_work:
        visits = visits.where(Visit.customer_id.in_(work))
        orders = orders.where(Order.customer_id.in_(work))
    for table, source in (
        (vmonths, visits.group_by(Visit.customer_id, visit_month)),
        (omonths, orders.group_by(Order.customer_id, order_month)),
    ):
        if only_work:
            conn.execute(delete(table).where(table.c.customer_id.in_(work)))
        else:
            _empty(conn, table)
        conn.execute(insert(table).from_select([c.name for c in table.c], source))
    if not only_work and conn.dialect.name == "postgresql":
        for table in (vmonths, omonths):
            conn.exec_driver_sql(f"ANALYZE {table.name}")


def _chunks(conn: Connection, size: int, full: bool) -> list[tuple[int, int]]:
    """Customer-id ranges of about :data:`CHUNK` work-set customers each (a quarter of them in
    a full run)."""
    work = CustomerWork.__table__.c.customer_id
    if size == 0:
        return []
    step = max(1, math.ceil(size / FULL_RUN_CHUNKS)) if full else CHUNK
    bounds = [
        conn.execute(select(work).order_by(work).offset(i).limit(1)).scalar_one()
        for i in range(0, size, step)
    ]
    top = conn.execute(select(func.max(work))).scalar_one()
    return [
        (lo, (bounds[i + 1] - 1) if i + 1 < len(bounds) else top) for i, lo in enumerate(bounds)
    ]


# --- a full run's stats: written where they changed ------------------------------------------

# the columns whose change is a change of the customer's figures (not when they were computed)
FIGURE_COLUMNS = tuple(c for c in STATS_COLUMNS if c not in ("customer_id", "as_of", "computed_at"))


def _create_stage(conn: Connection) -> Table:
    """A temporary copy of ``customer_stats`` without its indexes, for a full run's rows."""
    s = CustomerStats.__table__
    stage = Table(
        "customer_stats_stage",
        MetaData(),
        *[Column(name, s.c[name].type) for name in STATS_COLUMNS],
        prefixes=["TEMPORARY"],
    )
    stage.drop(conn, checkfirst=True)
    stage.create(conn)
    return stage


def _write_changed_stats(conn: Connection, stage: Table) -> None:
    """Make ``customer_stats`` equal the stage, writing only the rows whose figures differ.

    Rewriting every row of a full run (delete, then insert into a table with eleven sort indexes
    for the customer list) took two thirds of the run at 10M orders, although after a threshold
    change most customers keep their figures; ``as_of`` and ``computed_at`` then say when a
    row's figures last changed."""
    s = CustomerStats.__table__
    conn.execute(delete(s).where(~exists().where(stage.c.customer_id == s.c.customer_id)))
    changed = reduce(
        lambda a, b: a | b, [s.c[name].is_distinct_from(stage.c[name]) for name in FIGURE_COLUMNS]
    )
    conn.execute(
        update(s)
        .where(s.c.customer_id == stage.c.customer_id, changed)
        .values({name: stage.c[name] for name in STATS_COLUMNS if name != "customer_id"})
    )
    new_rows = select(*[stage.c[name] for name in STATS_COLUMNS]).where(
        ~exists().where(s.c.customer_id == stage.c.customer_id)
    )
    conn.execute(insert(s).from_select(STATS_COLUMNS, new_rows))
    stage.drop(conn)


# --- tags and aggregates ----------------------------------------------------------------------


def _apply_tags(conn: Connection, today: dt.date, now: dt.datetime) -> dict[str, int]:
    """Make ``customer_tags`` (and its history) of the work set match ``customer_stats.tag``."""
    s, t, h = CustomerStats.__table__, CustomerTag.__table__, CustomerTagHistory.__table__
    work = select(CustomerWork.__table__.c.customer_id)
    still = exists().where(s.c.customer_id == t.c.customer_id, s.c.tag == t.c.tag)
    still_h = exists().where(s.c.customer_id == h.c.customer_id, s.c.tag == h.c.tag)
    conn.execute(
        update(h)
        .where(h.c.removed_at.is_(None), h.c.customer_id.in_(work), ~still_h)
        .values(removed_at=now, removed_as_of=today)
    )
    removed = conn.execute(
        delete(t).where(t.c.customer_id.in_(work), ~still),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    new = select(s.c.customer_id, s.c.tag, literal(now), literal(today, Date)).where(
        s.c.customer_id.in_(work),
        s.c.tag.is_not(None),
        ~exists().where(t.c.customer_id == s.c.customer_id, t.c.tag == s.c.tag),
    )
    conn.execute(insert(h).from_select(["customer_id", "tag", "added_at", "added_as_of"], new))
    added = conn.execute(
        insert(t).from_select(["customer_id", "tag", "added_at", "as_of"], new),
        execution_options={"preserve_rowcount": True},
    ).rowcount
    return {"added": max(added or 0, 0), "removed": max(removed or 0, 0)}


PathKey = tuple[Any, Any, Any, Any]


def _contributions(conn: Connection) -> tuple[Counter, Counter, Counter]:
    """What the work-set customers' stored rows add to the aggregates: customers and spend per
    (segment, tag), customers per segment path."""
    s, work = CustomerStats.__table__, select(CustomerWork.__table__.c.customer_id)
    tag = func.coalesce(s.c.tag, literal(""))
    people: Counter = Counter()
    spend: Counter = Counter()
    for segment, tag_, n, cents in conn.execute(
        select(s.c.segment, tag, func.count(), func.sum(s.c.spend_cents))
        .where(s.c.customer_id.in_(work))
        .group_by(s.c.segment, tag)
    ):
        people[(segment, tag_)] += int(n)
        spend[(segment, tag_)] += int(cents or 0)
    path = (s.c.first_month, s.c.growing_month, s.c.loyal_month, s.c.vip_month)
    paths: Counter = Counter(
        {
            tuple(key): int(n)
            for *key, n in conn.execute(
                select(*path, func.count()).where(s.c.customer_id.in_(work)).group_by(*path)
            )
        }
    )
    return people, spend, paths


def _apply_deltas(
    conn: Connection,
    before: tuple[Counter, Counter, Counter],
    after: tuple[Counter, Counter, Counter],
) -> None:
    """Move the aggregates from the work set's old rows to its new ones: O(work set), where a
    rebuild reads every customer."""
    c = CustomerProfileCount.__table__
    stored = {
        (r.segment, r.tag): [int(r.customers), int(r.spend_cents)] for r in conn.execute(select(c))
    }
    changed = set()
    for key in set(before[0]) | set(after[0]) | set(before[1]) | set(after[1]):
        dn, ds = after[0][key] - before[0][key], after[1][key] - before[1][key]
        if dn or ds:
            row = stored.setdefault(key, [0, 0])
            row[0] += dn
            row[1] += ds
            changed.add(key)
    for segment, tag in changed:
        conn.execute(delete(c).where(c.c.segment == segment, c.c.tag == tag))
        n, cents = stored[(segment, tag)]
        if n:
            conn.execute(insert(c).values(segment=segment, tag=tag, customers=n, spend_cents=cents))
    p = CustomerSegmentPath.__table__
    rows = {
        (r.first_month, r.growing_month, r.loyal_month, r.vip_month): (r.id, int(r.customers))
        for r in conn.execute(select(p))
    }
    delta = Counter(after[2])
    delta.subtract(before[2])
    for key, d in delta.items():
        if not d:
            continue
        found = rows.get(key)
        n = (found[1] if found else 0) + d
        if found and n:
            conn.execute(update(p).where(p.c.id == found[0]).values(customers=n))
        elif found:
            conn.execute(delete(p).where(p.c.id == found[0]))
        elif n:
            first, growing, loyal, vip = key
            conn.execute(
                insert(p).values(
                    first_month=first,
                    growing_month=growing,
                    loyal_month=loyal,
                    vip_month=vip,
                    customers=n,
                )
            )


def _rebuild_aggregates(conn: Connection, full: bool) -> None:
    """Segment x tag counts and path counts from every customer (full runs; incremental runs
    move them with :func:`_apply_deltas`), and the RFM cells, whose quintiles move with every
    customer's figures, from every buyer (three ``NTILE`` windows over the narrow stats)."""
    if full:
        _rebuild_counts(conn)
    _rebuild_rfm(conn)


def _rebuild_counts(conn: Connection) -> None:
    s = CustomerStats.__table__
    conn.execute(delete(CustomerProfileCount))
    tag = func.coalesce(s.c.tag, literal(""))
    conn.execute(
        insert(CustomerProfileCount).from_select(
            ["segment", "tag", "customers", "spend_cents"],
            select(s.c.segment, tag, func.count(), func.sum(s.c.spend_cents)).group_by(
                s.c.segment, tag
            ),
        )
    )
    conn.execute(delete(CustomerSegmentPath))
    path = (s.c.first_month, s.c.growing_month, s.c.loyal_month, s.c.vip_month)
    conn.execute(
        insert(CustomerSegmentPath).from_select(
            ["first_month", "growing_month", "loyal_month", "vip_month", "customers"],
            select(*path, func.count()).group_by(*path),
        )
    )


def _rebuild_rfm(conn: Connection) -> None:
    s = CustomerStats.__table__
    conn.execute(delete(CustomerRfmCell))
    scored = (
        select(
            func.ntile(5).over(order_by=(s.c.last_order, s.c.customer_id)).label("recency"),
            func.ntile(5).over(order_by=(s.c.orders, s.c.customer_id)).label("frequency"),
            func.ntile(5).over(order_by=(s.c.spend_cents, s.c.customer_id)).label("monetary"),
            s.c.spend_cents,
        )
        .where(s.c.orders > 0)
        .subquery("scored")
    )
    conn.execute(
        insert(CustomerRfmCell).from_select(
            ["recency", "frequency", "customers", "monetary_sum", "spend_cents"],
            select(
                scored.c.recency,
                scored.c.frequency,
                func.count(),
                func.sum(scored.c.monetary),
                func.sum(scored.c.spend_cents),
            ).group_by(scored.c.recency, scored.c.frequency),
        )
    )


# --- progress ---------------------------------------------------------------------------------

_progress_lock = threading.Lock()
_progress: dict[int, dict[str, Any]] = {}  # run id -> fresher progress than the row (this process)


class Progress:
    """Reports a run's phase and counts: in this process's memory always, and on PostgreSQL in
    the run's row through a separate short transaction (SQLite has one writer: the run holds
    it, so other processes see the row's start and end only)."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine, self.run_id = engine, run_id
        self.shared = engine.dialect.name == "postgresql"

    def __call__(self, phase: str, done: int, total: int) -> None:
        with _progress_lock:
            _progress[self.run_id] = {"phase": phase, "done": done, "total": total}
        if self.shared:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        update(CustomerRecomputeRun)
                        .where(CustomerRecomputeRun.id == self.run_id)
                        .values(phase=phase, done=done, total=total)
                    )
            except Exception:  # noqa: BLE001 - progress is a courtesy; the run goes on
                log.warning("customer recompute %s: could not record progress", self.run_id)

    def forget(self) -> None:
        with _progress_lock:
            _progress.pop(self.run_id, None)


def local_progress(run_id: int) -> dict[str, Any] | None:
    with _progress_lock:
        found = _progress.get(run_id)
        return dict(found) if found else None


# --- the run ----------------------------------------------------------------------------------


def last_succeeded(conn: Connection) -> CustomerRecomputeRun | None:
    r = CustomerRecomputeRun.__table__
    row = conn.execute(
        select(r).where(r.c.status == "succeeded").order_by(r.c.id.desc()).limit(1)
    ).first()
    return row  # type: ignore[return-value]


def _needs_rebuild(conn: Connection, today: dt.date, last: Any | None) -> str | None:
    """Why the activity months must be rebuilt from every visit and order, or None: they were
    never completed, they hold rows past this run's cutoff, or a TRUNCATE emptied a source."""
    if last is None:
        return "no earlier run"
    if not last.activity_months:
        return "activity months not built yet"
    if today < last.as_of:
        return "an earlier day than the last run"
    if not same_zone(stored_timezone(conn, CUSTOMER_MONTHS_TIMEZONE_KEY), business_timezone()):
        return "the business time zone changed"
    truncated = conn.execute(
        select(CustomerChange.id).where(CustomerChange.customer_id == TRUNCATED).limit(1)
    ).first()
    return "orders or visits were truncated" if truncated else None


def _needs_full(conn: Connection, today: dt.date, rules: Rules, last: Any | None) -> str | None:
    """Why this run must be full, or None."""
    rebuild = _needs_rebuild(conn, today, last)
    if rebuild is not None:
        return rebuild
    if last.thresholds != rules.as_json():
        return "thresholds changed"
    return None


def _start_row(engine: Engine, today: dt.date, actor: str | None) -> int:
    with engine.begin() as conn:
        return conn.execute(
            insert(CustomerRecomputeRun)
            .values(
                started_at=utcnow(),
                status="running",
                as_of=today,
                actor=actor,
                phase="starting",
                done=0,
                total=0,
            )
            .returning(CustomerRecomputeRun.id)
        ).scalar_one()


def _finish_row(engine: Engine, run_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(CustomerRecomputeRun)
            .where(CustomerRecomputeRun.id == run_id)
            .values(finished_at=utcnow(), **values)
        )


def recompute(
    engine: Engine, today: dt.date, *, full: bool = False, actor: Any = None
) -> dict[str, Any]:
    """Bring stats, segments, paths, tags and aggregates up to the end of ``today``: only the
    customers with changes unless ``full`` (or a full run is needed; see the module text).
    Returns counts and seconds. ``actor`` (a user or a name) is recorded in the audit log."""
    began, now = time.perf_counter(), utcnow()
    rules = Rules.current(engine)
    actor_name = None if actor is None else str(getattr(actor, "username", actor))[:64]
    run_id = _start_row(engine, today, actor_name)
    progress = Progress(engine, run_id)
    try:
        summary = _run(engine, today, now, rules, full, progress, run_id)
    except BaseException as exc:
        progress.forget()
        try:
            _finish_row(engine, run_id, status="failed", error=f"{type(exc).__name__}"[:500])
        except Exception:
            log.exception("customer recompute %s: could not record the failure", run_id)
        raise
    summary["seconds"] = round(time.perf_counter() - began, 3)
    _finish_row(
        engine,
        run_id,
        status="succeeded",
        mode=summary["mode"],
        thresholds=rules.as_json(),
        summary=summary,
        phase="done",
        done=summary["customers"],
        total=summary["customers"],
        activity_months=True,
    )
    progress.forget()
    if actor is not None:
        from bi_app.auth import audit

        with sessionmaker(engine)() as session:
            audit(session, "customer_tags.recompute", today.isoformat(), summary, actor=actor)
            session.commit()
    from bi_app.data.cache import invalidate

    invalidate(NAMESPACE)
    log.info("customer tags recomputed as of %s: %s", today, summary)
    return summary


@contextlib.contextmanager
def _serialized(engine: Engine) -> Iterator[Connection]:
    """The run's transaction. On PostgreSQL: REPEATABLE READ, entered only once this session
    holds the advisory lock that serializes runs (taken inside the transaction, the lock would
    come after its snapshot: a run that waited would then work from data older than the other
    run's commit and undo it)."""
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn, conn.begin():
            yield conn
        return
    with engine.connect() as conn:
        conn.execute(select(func.pg_advisory_lock(LOCK_KEY)))
        conn.commit()
        try:
            conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn
        finally:
            try:
                conn.execute(select(func.pg_advisory_unlock(LOCK_KEY)))
                conn.commit()
            except Exception:  # noqa: BLE001 - closing the connection releases it too
                log.warning("customer recompute: could not release the advisory lock")
                conn.invalidate()


def _vacuum(engine: Engine) -> None:
    """After a full run rewrote every stats row: reclaim the old ones and mark the pages
    all-visible, so list pages read the sort indexes alone (measured: a page 40,000 rows deep
    fetched 5 heap rows per index entry from the dead rows of earlier runs). Best effort."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) customer_stats")
    except Exception:
        log.warning("customer recompute: VACUUM customer_stats failed", exc_info=True)


def _run(
    engine: Engine,
    today: dt.date,
    now: dt.datetime,
    rules: Rules,
    full: bool,
    progress: Progress,
    run_id: int,
) -> dict[str, Any]:
    began = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    with _serialized(engine) as conn:
        if postgres:
            # the planner's estimates for the chunked statements are high enough to trigger
            # JIT, which compiled for 18 s to save milliseconds (measured on 2,000 customers)
            conn.exec_driver_sql("SET LOCAL jit = off")
            # the per-customer-month groupings of a full run's chunk hash a few hundred
            # thousand rows: in memory rather than spilled to disk (this transaction only)
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
        last = last_succeeded(conn)
        rebuild = _needs_rebuild(conn, today, last)
        reason = "asked" if full else _needs_full(conn, today, rules, last)
        mode = "full" if reason else "incremental"
        size, newest = _fill_work(conn, today, last, mode == "full", rebuild is not None)
        phases_months = time.perf_counter()
        if postgres:  # its size swings from a handful to every customer: plan with the real one
            conn.exec_driver_sql("ANALYZE customer_work")
            if mode != "full":
                # a merge join "through" the work set walks every customer when the anti-join
                # under it yields nothing (1 s per tag statement for 1,000 customers at 1M
                # orders); a small work set wants lookups by primary key
                conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
        progress("stats", 0, size)
        work = select(CustomerWork.__table__.c.customer_id)
        s = CustomerStats.__table__
        target = _create_stage(conn) if mode == "full" else s
        before = _contributions(conn) if mode != "full" else None
        done = 0
        for lo, hi in _chunks(conn, size, mode == "full"):
            if mode != "full":
                conn.execute(
                    delete(s).where(s.c.customer_id.between(lo, hi), s.c.customer_id.in_(work))
                )
            conn.execute(
                insert(target).from_select(
                    STATS_COLUMNS, _stats_select(today, now, rules, lo, hi, mode == "full")
                )
            )
            done += conn.execute(
                select(func.count()).where(CustomerWork.customer_id.between(lo, hi))
            ).scalar_one()
            progress("stats", done, size)
        if mode == "full":
            _write_changed_stats(conn, target)
        phases = {"months": phases_months, "stats": time.perf_counter()}
        progress("tags", size, size)
        tags = _apply_tags(conn, today, now)
        phases["tags"] = time.perf_counter()
        progress("aggregates", size, size)
        if before is not None:
            _apply_deltas(conn, before, _contributions(conn))
        _rebuild_aggregates(conn, full=before is None)
        phases["aggregates"] = time.perf_counter()
        if newest is not None:
            conn.execute(delete(CustomerChange).where(CustomerChange.id <= newest))
        if rebuild is not None:  # every activity month is now cut in this zone
            record_timezone(conn, business_timezone(), CUSTOMER_MONTHS_TIMEZONE_KEY)
        phases["commit"] = time.perf_counter()
        _empty_work(conn)
        counts = CustomerProfileCount.__table__
        customers, tagged = conn.execute(
            select(
                func.coalesce(func.sum(counts.c.customers), 0),
                func.coalesce(func.sum(case((counts.c.tag != "", counts.c.customers), else_=0)), 0),
            )
        ).one()
        if postgres and mode == "full":
            for name in ("customer_stats", "customer_tags", "customer_tag_history"):
                conn.exec_driver_sql(f"ANALYZE {name}")
    if postgres and mode == "full":
        _vacuum(engine)
    return {
        "run_id": run_id,
        "as_of": today.isoformat(),
        "mode": mode,
        "reason": reason,
        "months_rebuilt": rebuild is not None,
        "recomputed": size,
        "customers": int(customers),
        "tagged": int(tagged),
        **tags,
        "phase_seconds": {
            name: round(at - previous, 3)
            for (name, at), previous in zip(phases.items(), [began, *list(phases.values())[:-1]])
        },
    }


def recompute_tags(engine: Engine, scheduled_for: dt.datetime | None = None) -> dict[str, Any]:
    """The daily job (and the Customers page's button): as of the run's local date."""
    return recompute(engine, local_date(scheduled_for or utcnow()))


def recompute_now(actor: Any) -> dict[str, Any]:
    """A synchronous recompute as of today (in the business time zone), audited as ``actor``
    (CLI and tests; the page starts the job in the background with :func:`start_recompute`)."""
    return recompute(db.require_engine(), local_today(), actor=actor)


def percent(done: int, total: int) -> int:
    return 100 if not total else min(100, math.floor(100 * done / total))


# --- the page's button: start the job, follow its progress -------------------------------------

# what start_recompute() answers (marked only: the Customers page shows them with _())
RECOMPUTING = N_("Recomputing…")
ALREADY_RUNNING = N_("A recomputation is already running; try again when it has finished.")


def start_recompute(actor: Any) -> dict[str, Any]:
    """Start the ``customer_tags`` job in the background (through its cross-process lock, like
    the Jobs page's "Run now") and audit it as ``actor``. Returns ``{"ok", "job_run_id",
    "message"}`` at once; :func:`recompute_status` follows the run."""
    from bi_app.auth import audit
    from bi_app.jobs.status import run_job_now

    started = run_job_now(JOB_NAME, actor)
    with sessionmaker(db.require_engine())() as session:
        audit(
            session,
            "customer_tags.recompute",
            local_today().isoformat(),
            {"job_run_id": started["run_id"], "status": started["status"]},
            actor=actor,
        )
        session.commit()
    if started["status"] == "skipped":
        return {
            "ok": False,
            "job_run_id": started["run_id"],
            "message": ALREADY_RUNNING,
        }
    return {"ok": True, "job_run_id": started["run_id"], "message": RECOMPUTING}


def recompute_status(job_run_id: int) -> dict[str, Any]:
    """``{"state": running|succeeded|failed, "phase", "done", "total", "percent", "summary",
    "error"}`` of the recomputation a job run started (``summary`` once it succeeded)."""
    from bi_app.db.job_models import JobRun

    engine = db.require_engine()
    r = CustomerRecomputeRun.__table__
    with engine.connect() as conn:
        job = conn.execute(
            select(JobRun.status, JobRun.started_at, JobRun.error).where(JobRun.id == job_run_id)
        ).first()
        if job is None:
            raise LookupError(f"no job run {job_run_id}")
        run = conn.execute(
            select(r)
            .where(r.c.started_at >= job.started_at - dt.timedelta(seconds=1))
            .order_by(r.c.id)
            .limit(1)
        ).first()
    state = {"running": "running", "succeeded": "succeeded"}.get(job.status, "failed")
    if state == "succeeded" and (run is None or run.status != "succeeded"):
        state = "failed"  # the job ended without a recorded run
    found = {"phase": "starting", "done": 0, "total": 0}
    if run is not None:
        found = local_progress(run.id) or {"phase": run.phase, "done": run.done, "total": run.total}
    error = None
    if state == "failed":
        error = (job.error or (run.error if run is not None else None) or "failed").splitlines()[0]
    return {
        "state": state,
        **found,
        "percent": percent(found["done"], found["total"]),
        "summary": run.summary if run is not None and state == "succeeded" else None,
        "error": error,
    }
