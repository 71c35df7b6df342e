"""Customer figures for the Customers page: KPIs, segments and their movement, cohorts, RFM, tags
and the customer list.

Period figures (KPIs, cohorts) are exact distinct counts from the customer bitmaps (see
:mod:`bi_app.data.customer_counts`); lifetime revenue from the daily roll-ups. Segment, RFM and
list figures read what the tags job stored
(``customer_stats``, ``customer_segment_snapshots``, ``customer_tags``; see
:mod:`bi_app.customer_tags`), so no call here aggregates raw visits. Segments are derived in SQL
with the thresholds in force, so a settings change shows at once (it invalidates every cache).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Date, case, cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

from bi_app.analytics import kpi
from bi_app.analytics.segmentation import SEGMENTS, SegmentThresholds, movement_matrix, summarize
from bi_app.data import customer_counts, settings
from bi_app.data._common import (
    Codes,
    DateArg,
    as_date,
    category_filter,
    date_range,
    engine,
    platform_filter,
    previous_period,
)
from bi_app.data.cache import cached
from bi_app.data.keys import normalize_value
from bi_app.db.analytics_models import TAGS, CustomerSegmentSnapshot, CustomerStats, CustomerTag
from bi_app.db.models import (
    REVENUE_STATUSES,
    Customer,
    DailyCategorySales,
    DailyOrders,
)

NAMESPACE = "customers"
LIST_LIMIT = 5000
MAX_LIST_LIMIT = 50_000
LIST_SORTS = ("spend", "last_visit", "visits")
MAX_SEARCH_CHARS = 100


def thresholds() -> SegmentThresholds:
    return SegmentThresholds.from_settings(settings.all_settings())


def segment_sql(visits: Any, spend_cents: Any, t: SegmentThresholds) -> Any:
    """:func:`bi_app.analytics.segmentation.segment_of` as a SQL ``CASE``."""
    return case(
        (spend_cents >= t.vip_min_spend_cents, literal("vip")),
        (visits <= t.new_max_visits, literal("new")),
        (visits <= t.growing_max_visits, literal("growing")),
        else_=literal("loyal"),
    )


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _prev_month(month: dt.date) -> dt.date:
    return (month - dt.timedelta(days=1)).replace(day=1)


# --- status ------------------------------------------------------------------------------------


@cached(NAMESPACE)
def stats_status() -> dict[str, Any]:
    """``{"as_of", "computed_at", "customers", "tagged"}`` of the last recomputation (None/0
    before the first)."""
    s = CustomerStats.__table__
    query = select(
        func.max(s.c.as_of),
        func.max(s.c.computed_at),
        func.count(),
        select(func.count(func.distinct(CustomerTag.customer_id))).scalar_subquery(),
    )
    with engine().connect() as conn:
        as_of, computed_at, customers, tagged = conn.execute(query).one()
    if isinstance(as_of, str):
        as_of = dt.date.fromisoformat(as_of)
    return {
        "as_of": as_of,
        "computed_at": computed_at,
        "customers": int(customers),
        "tagged": int(tagged or 0),
    }


# --- period KPIs
# -----------------------------------------------------------------------------------


@cached(NAMESPACE)
def period_figures(
    start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None
) -> dict:
    """``visitors`` (customers with a visit; categories do not apply to visits), ``buyers``
    (customers with a revenue order), ``repeat_buyers`` (two or more such orders) in the period;
    ``lifetime_revenue_cents`` and ``lifetime_customers`` from the first data up to ``end``.
    The customer counts are exact, from the customer bitmaps
    (:mod:`bi_app.data.customer_counts`)."""
    first, last = date_range(start, end)
    sales = DailyCategorySales.__table__ if categories else DailyOrders.__table__
    revenue_conditions = [
        sales.c.day <= last,
        sales.c.status.in_(REVENUE_STATUSES),
        *platform_filter(sales.c.platform_id, platforms),
    ]
    if categories:
        revenue_conditions += category_filter(sales.c.category_id, categories)
    query = select(func.coalesce(func.sum(sales.c.revenue_cents), 0)).where(*revenue_conditions)
    with engine().connect() as conn:
        revenue = conn.execute(query).scalar_one()
    counts = customer_counts.period_counts(first, last, platforms, categories)
    return {
        "visitors": counts["visitors"],
        "buyers": counts["buyers"],
        "repeat_buyers": counts["repeat_buyers"],
        "lifetime_revenue_cents": int(revenue),
        "lifetime_customers": counts["lifetime_customers"],
    }


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def kpis_from_figures(current: dict, previous: dict) -> list[kpi.Kpi]:
    """Active customers, conversion rate, repeat-purchase rate and lifetime value per customer."""

    def make(key: str, label: str, fn, kind: str) -> kpi.Kpi:
        value, prev = fn(current), fn(previous)
        return kpi.Kpi(key, label, value, prev, kpi.change_pct(value, prev), kind)  # type: ignore[arg-type]

    return [
        make("buyers", "Active customers", lambda f: f["buyers"], "count"),
        make(
            "conversion", "Conversion rate", lambda f: _ratio(f["buyers"], f["visitors"]), "percent"
        ),
        make(
            "repeat",
            "Repeat-purchase rate",
            lambda f: _ratio(f["repeat_buyers"], f["buyers"]),
            "percent",
        ),
        make(
            "clv",
            "Lifetime value per customer",
            lambda f: _ratio(f["lifetime_revenue_cents"], f["lifetime_customers"]),
            "money",
        ),
    ]


@cached(NAMESPACE)
def customer_kpis(
    start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None
) -> list[kpi.Kpi]:
    """:func:`kpis_from_figures` for the period and the equal period before it."""
    first, last = date_range(start, end)
    prev_start, prev_end = previous_period(first, last)
    return kpis_from_figures(
        period_figures(first, last, platforms, categories),
        period_figures(prev_start, prev_end, platforms, categories),
    )


# --- segments ----------------------------------------------------------------------------------


@cached(NAMESPACE)
def segment_summary() -> pd.DataFrame:
    """Per segment (all four, in order): ``customers``, lifetime ``revenue_cents`` and their
    shares, as of the last recomputation."""
    s = CustomerStats.__table__
    segment = segment_sql(s.c.visits, s.c.spend_cents, thresholds()).label("segment")
    query = select(segment, func.count(), func.coalesce(func.sum(s.c.spend_cents), 0)).group_by(
        segment
    )
    with engine().connect() as conn:
        rows = [(seg, int(n), int(rev)) for seg, n, rev in conn.execute(query)]
    return summarize(pd.DataFrame(rows, columns=["segment", "customers", "revenue_cents"]))


@cached(NAMESPACE)
def segment_trend(start: DateArg, end: DateArg) -> pd.DataFrame:
    """Columns ``month``, ``segment``, ``customers``: the segment sizes at the end of each month
    touching ``start..end`` (every segment of every stored month, zeros included)."""
    first, last = date_range(start, end)
    snap = CustomerSegmentSnapshot.__table__
    segment = segment_sql(snap.c.visits, snap.c.spend_cents, thresholds()).label("segment")
    query = (
        select(snap.c.month, segment, func.count())
        .where(snap.c.month >= _month(first), snap.c.month <= _month(last))
        .group_by(snap.c.month, segment)
    )
    with engine().connect() as conn:
        found = {(as_date(m), seg): int(n) for m, seg, n in conn.execute(query)}
    months = sorted({m for m, _ in found})
    rows = [(m, seg, found.get((m, seg), 0)) for m in months for seg in SEGMENTS]
    return pd.DataFrame(rows, columns=["month", "segment", "customers"]).astype(
        {"customers": "int64"}
    )


@cached(NAMESPACE)
def segment_movement(start: DateArg, end: DateArg) -> pd.DataFrame:
    """Customers by segment at the start of the period (the end of the month before ``start``;
    ``none`` for customers not active yet) against their segment at the end of ``end``'s month:
    a square table, rows ``from`` (none + segments) and columns ``to`` (segments)."""
    first, last = date_range(start, end)
    snap = CustomerSegmentSnapshot.__table__
    t = thresholds()
    before = (
        select(
            snap.c.customer_id, segment_sql(snap.c.visits, snap.c.spend_cents, t).label("segment")
        )
        .where(snap.c.month == _prev_month(_month(first)))
        .subquery("before")
    )
    to_segment = segment_sql(snap.c.visits, snap.c.spend_cents, t).label("to_segment")
    from_segment = func.coalesce(before.c.segment, literal("none")).label("from_segment")
    query = (
        select(from_segment, to_segment, func.count())
        .select_from(snap)
        .outerjoin(before, before.c.customer_id == snap.c.customer_id)
        .where(snap.c.month == _month(last))
        .group_by(from_segment, to_segment)
    )
    with engine().connect() as conn:
        rows = [(f, t_, int(n)) for f, t_, n in conn.execute(query)]
    return movement_matrix(pd.DataFrame(rows, columns=["from_segment", "to_segment", "customers"]))


# --- cohorts -----------------------------------------------------------------------------------


@cached(NAMESPACE)
def cohort_retention(
    start: DateArg, end: DateArg, platforms: Codes = None, categories: Codes = None
) -> pd.DataFrame:
    """Monthly cohorts (month of the first revenue order, on the chosen platforms/categories)
    starting in ``start..end``'s months, and the share of each active in every later month up
    to ``end``'s: columns ``cohort``, ``months_since``, ``customers``, ``cohort_size``,
    ``retention``."""
    first, last = date_range(start, end)
    return customer_counts.cohort_rows(first, last, platforms, categories)


# --- RFM ---------------------------------------------------------------------------------------


@cached(NAMESPACE)
def rfm_grid() -> pd.DataFrame:
    """Customers with a revenue order scored 1..5 on recency (5 = most recent last order),
    frequency (orders) and monetary value (spend) by quintile (``NTILE(5)``, ties broken by
    customer id), as of the last recomputation. Columns ``recency``, ``frequency``,
    ``customers``, ``monetary_avg`` (mean monetary score), ``spend_cents``: one row per
    recency x frequency cell that has customers."""
    s = CustomerStats.__table__
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
    query = (
        select(
            scored.c.recency,
            scored.c.frequency,
            func.count(),
            func.avg(scored.c.monetary),
            func.sum(scored.c.spend_cents),
        )
        .group_by(scored.c.recency, scored.c.frequency)
        .order_by(scored.c.recency, scored.c.frequency)
    )
    with engine().connect() as conn:
        rows = [
            (int(r), int(f), int(n), float(m), int(sp)) for r, f, n, m, sp in conn.execute(query)
        ]
    return pd.DataFrame(
        rows, columns=["recency", "frequency", "customers", "monetary_avg", "spend_cents"]
    )


# --- tags and the list ---------------------------------------------------------------------------


@cached(NAMESPACE)
def tag_counts() -> pd.DataFrame:
    """Columns ``tag``, ``customers``: every tag, zeros included, in :data:`TAGS` order."""
    query = select(CustomerTag.tag, func.count()).group_by(CustomerTag.tag)
    with engine().connect() as conn:
        found = {tag: int(n) for tag, n in conn.execute(query)}
    return pd.DataFrame([(t, found.get(t, 0)) for t in TAGS], columns=["tag", "customers"])


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


LIST_COLUMNS = [
    "customer_id",
    "external_id",
    "customer",
    "segment",
    "tags",
    "visits",
    "orders",
    "spend_cents",
    "last_visit",
    "next_visit",
]


def customer_list(
    segment: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "spend",
    limit: int = LIST_LIMIT,
) -> dict[str, Any]:
    """``{"rows": DataFrame, "total": int, "limit": int}``: the first ``limit`` customers by
    ``sort`` (spend, last visit or visits, descending) matching the segment, tag and a name /
    id search (its first :data:`MAX_SEARCH_CHARS` characters, any letter case), and how many
    match in all. ``tags`` is a comma-separated text.

    Lists without a search are cached like every data function. Searches are not: each
    distinct text anyone types would be one more cached list of up to ``limit`` rows, so a
    viewer could fill the shared cache by typing."""
    text = search_text(search)
    if text is None:
        return _unsearched_list(segment, tag, sort, limit)
    return _customer_list(
        normalize_value(segment), normalize_value(tag), text, normalize_value(sort), limit
    )


def search_text(search: object) -> str | None:
    """The search as the list applies it: trimmed, lower-cased, at most
    :data:`MAX_SEARCH_CHARS` characters; None for no search."""
    if not isinstance(search, str):
        return None
    return search.strip()[:MAX_SEARCH_CHARS].strip().lower() or None


@cached(NAMESPACE)
def _unsearched_list(
    segment: str | None = None, tag: str | None = None, sort: str = "spend", limit: int = LIST_LIMIT
) -> dict[str, Any]:
    return _customer_list(segment, tag, None, sort, limit)


def _customer_list(
    segment: str | None, tag: str | None, search: str | None, sort: str, limit: int
) -> dict[str, Any]:
    if segment is not None and segment not in SEGMENTS:
        raise ValueError(f"segment: expected one of {', '.join(SEGMENTS)}, got {segment!r}")
    if tag is not None and tag not in TAGS:
        raise ValueError(f"tag: expected one of {', '.join(TAGS)}, got {tag!r}")
    if sort not in LIST_SORTS:
        raise ValueError(f"sort: expected one of {', '.join(LIST_SORTS)}, got {sort!r}")
    if not 1 <= int(limit) <= MAX_LIST_LIMIT:
        raise ValueError(f"limit: expected 1..{MAX_LIST_LIMIT}, got {limit!r}")
    s = CustomerStats.__table__
    seg = segment_sql(s.c.visits, s.c.spend_cents, thresholds())
    conditions: list[Any] = []
    if segment is not None:
        conditions.append(seg == segment)
    if tag is not None:
        conditions.append(
            s.c.customer_id.in_(select(CustomerTag.customer_id).where(CustomerTag.tag == tag))
        )
    if search:
        pattern = f"%{_escape_like(search)}%"
        conditions.append(
            or_(
                func.lower(Customer.name).like(pattern, escape="\\"),
                func.lower(Customer.external_id).like(pattern, escape="\\"),
            )
        )
    order = {"spend": s.c.spend_cents, "last_visit": s.c.last_visit, "visits": s.c.visits}[sort]
    dialect = engine().dialect.name
    tags = _tag_texts(dialect)
    # One statement: the match count rides along as a window over every matching row (computed
    # before the LIMIT); the tags come pre-joined per customer. Sorting and counting read every
    # matching customer anyway, so one hash join with the (smaller) tags table adds little.
    page = (
        select(
            s.c.customer_id,
            Customer.external_id,
            Customer.name,
            seg,
            s.c.visits,
            s.c.orders,
            s.c.spend_cents,
            _as_day(s.c.last_visit, dialect),
            s.c.avg_interval_days,
            tags.c.tags,
            func.count().over(),
        )
        .join(Customer, Customer.id == s.c.customer_id)
        .outerjoin(tags, tags.c.customer_id == s.c.customer_id)
        .where(*conditions)
        .order_by(order.desc().nulls_last(), s.c.customer_id)
        .limit(int(limit))
    )
    with engine().connect() as conn:
        rows = conn.execute(page).all()
    return {
        "rows": _list_frame(rows),
        "total": int(rows[0][-1]) if rows else 0,
        "limit": int(limit),
    }


def _as_day(column: Any, dialect: str) -> Any:
    """A timestamp's calendar day, as a date in the result (SQLite's
    CAST would make it a number)."""
    if dialect == "sqlite":
        return func.date(column, type_=Date)
    return cast(column, Date)


def _tag_texts(dialect: str) -> Any:
    """``customer_id``, ``tags``: each tagged customer's tags, alphabetical, comma-separated."""
    t = CustomerTag.__table__
    if dialect == "postgresql":
        text = func.string_agg(t.c.tag, aggregate_order_by(literal(", "), t.c.tag))
        return (
            select(t.c.customer_id, text.label("tags"))
            .group_by(t.c.customer_id)
            .subquery("tag_texts")
        )
    # SQLite before 3.44 has no ORDER BY inside an aggregate; it concatenates in input order
    ordered = (
        select(t.c.customer_id, t.c.tag).order_by(t.c.customer_id, t.c.tag).subquery("sorted_tags")
    )
    return (
        select(ordered.c.customer_id, func.group_concat(ordered.c.tag, ", ").label("tags"))
        .group_by(ordered.c.customer_id)
        .subquery("tag_texts")
    )


def _list_frame(rows: list[Any]) -> pd.DataFrame:
    """The list's columns built column-wise with pyarrow (no Python loop per customer)."""
    cid, ext, name, seg, visits, orders, spend, last, interval, tags, _ = (
        zip(*rows) if rows else ((),) * 11
    )
    last_visit = pa.array(last, type=pa.date32())
    days = pa.array(interval, type=pa.float64())
    # next_expected_visit for every row at once: half-to-even rounding like round(), and no
    # expectation without an interval (None, NaN or 0)
    known = pc.and_(pc.invert(pc.is_nan(days)), pc.not_equal(days, 0.0))
    step = pc.cast(pc.round(pc.if_else(known, days, None), round_mode="half_to_even"), pa.int32())
    next_visit = pc.cast(pc.add(pc.cast(last_visit, pa.int32()), step), pa.date32())
    table = pa.table(
        {
            "customer_id": pa.array(cid, type=pa.int64()),
            "external_id": pa.array(ext, type=pa.string()),
            "customer": pa.array(name, type=pa.string()),
            "segment": pa.array(seg, type=pa.string()),
            "tags": pc.fill_null(pa.array(tags, type=pa.string()), ""),
            "visits": pa.array(visits, type=pa.int64()),
            "orders": pa.array(orders, type=pa.int64()),
            "spend_cents": pa.array(spend, type=pa.int64()),
            "last_visit": last_visit,
            "next_visit": next_visit,
        }
    )
    # dates as objects (date or None), like every other date the data layer returns
    return table.select(LIST_COLUMNS).to_pandas(date_as_object=True)


__all__ = [
    "LIST_LIMIT",
    "MAX_SEARCH_CHARS",
    "NAMESPACE",
    "cohort_retention",
    "customer_kpis",
    "customer_list",
    "period_figures",
    "rfm_grid",
    "search_text",
    "segment_movement",
    "segment_sql",
    "segment_summary",
    "segment_trend",
    "stats_status",
    "tag_counts",
    "thresholds",
]
