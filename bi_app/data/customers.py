"""Customer figures for the Customers page: KPIs, segments and their movement, cohorts, RFM, tags
and the customer list.

Period figures (KPIs, cohorts) are exact distinct counts from the customer bitmaps (see
:mod:`bi_app.data.customer_counts`); lifetime revenue from the daily roll-ups. Segment, RFM, tag
and list figures read what the tags job stored (see :mod:`bi_app.customer_tags`): small aggregate
tables (segment x tag counts, segment paths, RFM cells) and, for the list, one indexed page of
``customer_stats`` at a time, so no call here reads every customer. Segments are those of the
last run's thresholds: after a threshold change :func:`stats_status` says so until a
recomputation (the page's button or the daily job) applies it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Date, case, cast, func, literal, or_, select, tuple_

from bi_app.analytics import kpi
from bi_app.analytics.churn import ChurnThresholds
from bi_app.analytics.segmentation import SEGMENTS, SegmentThresholds, movement_matrix, summarize
from bi_app.data import customer_counts, settings
from bi_app.data._common import (
    Codes,
    DateArg,
    as_date,
    category_filter,
    date_range,
    engine,
    escape_like,
    platform_filter,
    previous_period,
)
from bi_app.data.cache import cached
from bi_app.data.keys import normalize_value
from bi_app.db.analytics_models import (
    TAGS,
    CustomerProfileCount,
    CustomerRecomputeRun,
    CustomerRfmCell,
    CustomerSegmentPath,
    CustomerStats,
    CustomerTag,
)
from bi_app.db.churn_models import ChurnScore
from bi_app.db.model_models import ModelVersion
from bi_app.db.models import (
    REVENUE_STATUSES,
    Customer,
    DailyCategorySales,
    DailyOrders,
)
from bi_app.i18n import N_

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
    """``{"as_of", "computed_at", "customers", "tagged", "stale_thresholds"}`` of the last
    recomputation (None/0 before the first), from its recorded summary (no count over the
    customers); ``stale_thresholds`` is True when the segment or churn thresholds changed since
    (the stored segments and tags still follow the old ones)."""
    run = _last_run()
    if run is None:
        return {
            "as_of": None,
            "computed_at": None,
            "customers": 0,
            "tagged": 0,
            "stale_thresholds": False,
        }
    summary = run["summary"] or {}
    values = settings.all_settings()
    current = {
        "segments": dataclasses.asdict(SegmentThresholds.from_settings(values)),
        "churn": dataclasses.asdict(ChurnThresholds.from_settings(values)),
    }
    return {
        "as_of": run["as_of"],
        "computed_at": run["finished_at"],
        "customers": int(summary.get("customers", 0)),
        "tagged": int(summary.get("tagged", 0)),
        "stale_thresholds": run["thresholds"] != current,
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
        make("buyers", N_("Active customers"), lambda f: f["buyers"], "count"),
        make(
            "conversion",
            N_("Conversion rate"),
            lambda f: _ratio(f["buyers"], f["visitors"]),
            "percent",
        ),
        make(
            "repeat",
            N_("Repeat-purchase rate"),
            lambda f: _ratio(f["repeat_buyers"], f["buyers"]),
            "percent",
        ),
        make(
            "clv",
            N_("Lifetime value per customer"),
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


def _last_run() -> dict[str, Any] | None:
    """The newest successful recomputation: ``as_of``, ``finished_at``, ``summary``."""
    r = CustomerRecomputeRun.__table__
    query = (
        select(r.c.as_of, r.c.finished_at, r.c.summary, r.c.thresholds)
        .where(r.c.status == "succeeded")
        .order_by(r.c.status, r.c.id.desc())
        .limit(1)
    )
    with engine().connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    return {
        "as_of": as_date(row.as_of),
        "finished_at": row.finished_at,
        "summary": row.summary,
        "thresholds": row.thresholds,
    }


@cached(NAMESPACE)
def segment_summary() -> pd.DataFrame:
    """Per segment (all four, in order): ``customers``, lifetime ``revenue_cents`` and their
    shares, as of the last recomputation (from its segment x tag counts)."""
    c = CustomerProfileCount.__table__
    query = select(c.c.segment, func.sum(c.c.customers), func.sum(c.c.spend_cents)).group_by(
        c.c.segment
    )
    with engine().connect() as conn:
        rows = [(seg, int(n), int(rev)) for seg, n, rev in conn.execute(query)]
    return summarize(pd.DataFrame(rows, columns=["segment", "customers", "revenue_cents"]))


_NEVER = 10**7  # a month index later than any real one


def _month_index(values: Any) -> np.ndarray:
    return np.array(
        [_NEVER if v is None else (v.year * 12 + v.month - 1) for v in map(_opt_date, values)],
        dtype=np.int64,
    )


def _opt_date(value: Any) -> dt.date | None:
    return None if value is None else as_date(value)


def _paths() -> dict[str, np.ndarray]:
    """The stored segment paths as month indexes (year * 12 + month - 1) and their counts."""
    p = CustomerSegmentPath.__table__
    query = select(
        p.c.first_month, p.c.growing_month, p.c.loyal_month, p.c.vip_month, p.c.customers
    )
    with engine().connect() as conn:
        rows = conn.execute(query).all()
    columns = list(zip(*rows)) if rows else [[], [], [], [], []]
    return {
        "first": _month_index(columns[0]),
        "growing": _month_index(columns[1]),
        "loyal": _month_index(columns[2]),
        "vip": _month_index(columns[3]),
        "customers": np.array(columns[4], dtype=np.int64),
    }


_SEGMENT_CODES = ("none", *SEGMENTS)


def _segments_at(paths: dict[str, np.ndarray], month: int) -> np.ndarray:
    """Each path's segment at the end of ``month`` as an index into :data:`_SEGMENT_CODES`."""
    return np.select(
        [
            paths["first"] > month,
            paths["vip"] <= month,
            paths["loyal"] <= month,
            paths["growing"] <= month,
        ],
        [0, 4, 3, 2],
        default=1,
    )


def _index(month: dt.date) -> int:
    return month.year * 12 + month.month - 1


def _from_index(index: int) -> dt.date:
    return dt.date(index // 12, index % 12 + 1, 1)


@cached(NAMESPACE)
def segment_trend(start: DateArg, end: DateArg) -> pd.DataFrame:
    """Columns ``month``, ``segment``, ``customers``: the segment sizes at the end of each month
    touching ``start..end`` from the first customer's month up to the last recomputation's
    (every segment of every such month, zeros included), from the stored segment paths."""
    first, last = date_range(start, end)
    run = _last_run()
    paths = _paths()
    rows: list[tuple[dt.date, str, int]] = []
    if run is not None and len(paths["customers"]):
        lo = max(_index(_month(first)), int(paths["first"].min()))
        hi = min(_index(_month(last)), _index(_month(run["as_of"])))
        for m in range(lo, hi + 1):
            sums = np.bincount(
                _segments_at(paths, m), weights=paths["customers"], minlength=len(_SEGMENT_CODES)
            )
            rows += [(_from_index(m), seg, int(sums[i + 1])) for i, seg in enumerate(SEGMENTS)]
    return pd.DataFrame(rows, columns=["month", "segment", "customers"]).astype(
        {"customers": "int64"}
    )


@cached(NAMESPACE)
def segment_movement(start: DateArg, end: DateArg) -> pd.DataFrame:
    """Customers by segment at the start of the period (the end of the month before ``start``;
    ``none`` for customers not active yet) against their segment at the end of ``end``'s month:
    a square table, rows ``from`` (none + segments) and columns ``to`` (segments). Empty for an
    ``end`` after the last recomputation's month."""
    first, last = date_range(start, end)
    run = _last_run()
    to_month = _index(_month(last))
    paths = _paths()
    if run is None or to_month > _index(_month(run["as_of"])) or not len(paths["customers"]):
        return movement_matrix(pd.DataFrame(columns=["from_segment", "to_segment", "customers"]))
    before = _segments_at(paths, _index(_month(first)) - 1)
    after = _segments_at(paths, to_month)
    present = after > 0
    frame = pd.DataFrame(
        {
            "from_segment": np.array(_SEGMENT_CODES)[before[present]],
            "to_segment": np.array(_SEGMENT_CODES)[after[present]],
            "customers": paths["customers"][present],
        }
    )
    return movement_matrix(frame)


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
    customer id), as of the last recomputation (which stores the cells). Columns ``recency``,
    ``frequency``, ``customers``, ``monetary_avg`` (mean monetary score), ``spend_cents``: one
    row per recency x frequency cell that has customers."""
    c = CustomerRfmCell.__table__
    query = select(
        c.c.recency, c.c.frequency, c.c.customers, c.c.monetary_sum, c.c.spend_cents
    ).order_by(c.c.recency, c.c.frequency)
    with engine().connect() as conn:
        rows = [
            (int(r), int(f), int(n), int(m) / int(n), int(sp))
            for r, f, n, m, sp in conn.execute(query)
            if n
        ]
    return pd.DataFrame(
        rows, columns=["recency", "frequency", "customers", "monetary_avg", "spend_cents"]
    )


# --- the churn model ---------------------------------------------------------------------------


@cached(NAMESPACE)
def churn_model_summary() -> dict[str, Any]:
    """The churn classifier's hold-out quality for the page: ``trained`` (False before the
    first good training), ``version``, ``trained_at``, ``auc``, ``top_decile_precision``,
    ``base_rate``, ``holdout_from``/``holdout_to`` (dates), ``churn_days``, ``rows_test``,
    ``scored`` (customers with a stored probability) and ``latest_problem`` (``failed`` or
    ``rejected`` when the newest training did not become active, else None)."""
    m = ModelVersion.__table__
    with engine().connect() as conn:
        active_row = conn.execute(
            select(m.c.version, m.c.trained_at, m.c.metrics).where(
                m.c.name == CHURN_MODEL_NAME, m.c.active.is_(True)
            )
        ).first()
        newest = conn.execute(
            select(m.c.version, m.c.status)
            .where(m.c.name == CHURN_MODEL_NAME)
            .order_by(m.c.version.desc())
            .limit(1)
        ).first()
        scored = conn.execute(select(func.count()).select_from(ChurnScore.__table__)).scalar_one()
    problem = None
    if newest is not None and newest.status != "good":
        problem = newest.status
    if active_row is None:
        return {"trained": False, "scored": int(scored), "latest_problem": problem}
    metrics = active_row.metrics or {}

    def day(key: str) -> dt.date | None:
        value = metrics.get(key)
        return dt.datetime.fromisoformat(value).date() if isinstance(value, str) else None

    return {
        "trained": True,
        "version": int(active_row.version),
        "trained_at": active_row.trained_at,
        "auc": metrics.get("auc"),
        "top_decile_precision": metrics.get("top_decile_precision"),
        "base_rate": metrics.get("base_rate"),
        "holdout_from": day("holdout_from"),
        "holdout_to": day("holdout_to"),
        "churn_days": metrics.get("churn_days"),
        "rows_test": metrics.get("rows_test"),
        "scored": int(scored),
        "latest_problem": problem,
    }


# --- tags and the list ---------------------------------------------------------------------------


@cached(NAMESPACE)
def tag_counts() -> pd.DataFrame:
    """Columns ``tag``, ``customers``: every tag, zeros included, in :data:`TAGS` order."""
    c = CustomerProfileCount.__table__
    query = select(c.c.tag, func.sum(c.c.customers)).where(c.c.tag != "").group_by(c.c.tag)
    with engine().connect() as conn:
        found = {tag: int(n) for tag, n in conn.execute(query)}
    return pd.DataFrame([(t, found.get(t, 0)) for t in TAGS], columns=["tag", "customers"])


# the tag filter's value for "carries any churn-risk tag": the combined at-risk view
AT_RISK = "at-risk"
TAG_FILTERS = (AT_RISK, *TAGS)
LIST_COLUMNS = [
    "customer_id",
    "external_id",
    "customer",
    "segment",
    "tags",
    "tag_since",
    "visits",
    "orders",
    "spend_cents",
    "last_visit",
    "next_visit",
    "churn_probability",
]
# the list's sortable columns and the stored column each sorts on (each has an index ending in
# customer_id, so a page is an index range in either direction); the churn probability is
# ``churn_scores.probability_ppm`` (-1 for a customer without a score)
SORT_KEYS = {
    "spend_cents": "spend_cents",
    "last_visit": "last_visit_day",
    "visits": "visits",
    "churn_probability": "probability_ppm",
}
SORT_ALIASES = {"spend": "spend_cents", "last_visit": "last_visit", "visits": "visits"}
CHURN_MODEL_NAME = "customer_churn"  # bi_app.models.churn.MODEL_NAME (models import the data layer)
MAX_PAGE_ROWS = 1000


def search_text(search: object) -> str | None:
    """The search as the list applies it: trimmed, lower-cased, at most
    :data:`MAX_SEARCH_CHARS` characters; None for no search."""
    if not isinstance(search, str):
        return None
    return search.strip()[:MAX_SEARCH_CHARS].strip().lower() or None


def _check_filters(segment: str | None, tag: str | None) -> None:
    if segment is not None and segment not in SEGMENTS:
        raise ValueError(f"segment: expected one of {', '.join(SEGMENTS)}, got {segment!r}")
    if tag is not None and tag not in TAG_FILTERS:
        raise ValueError(f"tag: expected one of {', '.join(TAG_FILTERS)}, got {tag!r}")


def _conditions(segment: str | None, tag: str | None, search: str | None) -> list[Any]:
    s = CustomerStats.__table__
    conditions: list[Any] = []
    if segment is not None:
        conditions.append(s.c.segment == segment)
    if tag == AT_RISK:
        conditions.append(s.c.tag.is_not(None))
    elif tag is not None:
        conditions.append(s.c.tag == tag)
    if search:
        # the matching customers as a set the sort-index walk probes (hashed), rather than a
        # join looked up row by row along the index until enough names match (0.6 s at 1M
        # orders for a rare name)
        pattern = f"%{escape_like(search)}%"
        matching = select(Customer.id).where(
            or_(
                func.lower(Customer.name).like(pattern, escape="\\"),
                func.lower(Customer.external_id).like(pattern, escape="\\"),
            )
        )
        conditions.append(s.c.customer_id.in_(matching))
    return conditions


def customer_count(
    segment: str | None = None, tag: str | None = None, search: str | None = None
) -> int:
    """How many customers match: from the stored segment x tag counts without a search (cached;
    no scan). With a search, one count over the customers, not cached (each text typed would be
    one more cache entry): the page asks for it once per search, with the first block."""
    text = search_text(search)
    if text is None:
        return _unsearched_count(normalize_value(segment), normalize_value(tag))
    segment, tag = normalize_value(segment), normalize_value(tag)
    _check_filters(segment, tag)
    s = CustomerStats.__table__
    query = select(func.count()).select_from(s).where(*_conditions(segment, tag, text))
    with engine().connect() as conn:
        return int(conn.execute(query).scalar_one())


@cached(NAMESPACE)
def _unsearched_count(segment: str | None = None, tag: str | None = None) -> int:
    _check_filters(segment, tag)
    c = CustomerProfileCount.__table__
    conditions = []
    if segment is not None:
        conditions.append(c.c.segment == segment)
    if tag == AT_RISK:
        conditions.append(c.c.tag != "")
    elif tag is not None:
        conditions.append(c.c.tag == tag)
    query = select(func.coalesce(func.sum(c.c.customers), 0)).where(*conditions)
    with engine().connect() as conn:
        return int(conn.execute(query).scalar_one())


def customer_page(
    start: int = 0,
    end: int = 100,
    segment: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "spend_cents",
    descending: bool = True,
    after: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Rows ``start..end-1`` (at most :data:`MAX_PAGE_ROWS`) of the matching customers ordered
    by ``sort`` (a key of :data:`SORT_KEYS`), ties by customer id in the same direction, plus
    each row's tags by primary key. ``after`` (:func:`page_key` of the block that ends at
    ``start``) makes it a keyset read that starts right there instead of skipping ``start``
    rows. Pages without a search are cached (a page is small); searched pages are not (every
    text typed would be one more entry)."""
    text = search_text(search)
    sort = SORT_ALIASES.get(sort, sort)
    if not (0 <= int(start) < int(end) and int(end) - int(start) <= MAX_PAGE_ROWS):
        raise ValueError(
            f"rows {start}..{end}: expected 0 <= start < end, at most {MAX_PAGE_ROWS} rows"
        )
    key, cid = _after(after)
    if text is None:
        return _cached_page(int(start), int(end), segment, tag, sort, bool(descending), key, cid)
    return _page(
        int(start),
        int(end),
        normalize_value(segment),
        normalize_value(tag),
        text,
        sort,
        bool(descending),
        key,
        cid,
    )


def _after(after: object) -> tuple[int | None, int | None]:
    if after is None:
        return None, None
    if (
        not isinstance(after, (list, tuple))
        or len(after) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in after)
    ):
        raise ValueError(f"after: expected [sort key, customer id], got {after!r}")
    return int(after[0]), int(after[1])


EXPORT_ROWS = 100_000  # a customer-list download; more is a filter away (and a minute of xlsx)


def customers_for_export(
    segment: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "spend_cents",
    descending: bool = True,
    limit: int = EXPORT_ROWS,
) -> pd.DataFrame:
    """The first ``limit`` matching customers in the list's order, read as keyset pages of
    :data:`MAX_PAGE_ROWS` (each an index range, like the grid's own blocks)."""
    frames: list[pd.DataFrame] = []
    start, after = 0, None
    while start < limit:
        end = min(start + MAX_PAGE_ROWS, limit)
        rows = customer_page(start, end, segment, tag, search, sort, descending, after)
        if rows.empty:
            break
        frames.append(rows)
        if len(rows) < end - start:
            break
        after, start = page_key(rows, sort), end
    if not frames:
        return customer_page(0, 1, segment, tag, search, sort, descending).iloc[0:0]
    return pd.concat(frames, ignore_index=True)


def page_key(rows: pd.DataFrame, sort: str) -> list[int] | None:
    """``[sort key, customer id]`` of a page's last row: the ``after`` of the next page."""
    if rows.empty:
        return None
    last = rows.iloc[-1]
    sort = SORT_ALIASES.get(sort, sort)
    if sort == "last_visit":
        day = last["last_visit"]
        key = -1 if day is None or pd.isna(day) else (day - dt.date(1970, 1, 1)).days
    elif sort == "churn_probability":
        p = last["churn_probability"]
        key = -1 if p is None or pd.isna(p) else round(float(p) * 1_000_000)
    else:
        key = int(last[sort])
    return [int(key), int(last["customer_id"])]


@cached(NAMESPACE)
def _cached_page(
    start: int,
    end: int,
    segment: str | None,
    tag: str | None,
    sort: str,
    descending: bool,
    after_key: int | None = None,
    after_id: int | None = None,
) -> pd.DataFrame:
    return _page(start, end, segment, tag, None, sort, descending, after_key, after_id)


def _page(
    start: int,
    end: int,
    segment: str | None,
    tag: str | None,
    search: str | None,
    sort: str,
    descending: bool,
    after_key: int | None = None,
    after_id: int | None = None,
) -> pd.DataFrame:
    _check_filters(segment, tag)
    if sort not in SORT_KEYS:
        raise ValueError(f"sort: expected one of {', '.join(SORT_KEYS)}, got {sort!r}")
    s = CustomerStats.__table__
    c = ChurnScore.__table__
    listed = s
    if sort == "churn_probability":
        listed = s.outerjoin(c, c.c.customer_id == s.c.customer_id)
        key = func.coalesce(c.c.probability_ppm, -1)
    else:
        key = s.c[SORT_KEYS[sort]]
    if search:
        # a search's matches are few or many, the planner cannot tell: with the sort index it
        # may walk every customer probing names (0.6 s for a name nobody has at 1M orders);
        # sorting the matches instead costs one pass over the customers' names (~50 ms)
        key = key + 0
    order = (key.desc(), s.c.customer_id.desc()) if descending else (key, s.c.customer_id)
    # the rows to skip are walked on the sort index alone; only the page's rows are joined
    # to the customers and their tags (a deep page would otherwise join every skipped row)
    conditions = _conditions(segment, tag, search)
    skip = start
    if after_key is not None and after_id is not None:
        bound = tuple_(key, s.c.customer_id)
        conditions.append(
            bound < tuple_(after_key, after_id)
            if descending
            else bound > tuple_(after_key, after_id)
        )
        skip = 0
    page = (
        select(s.c.customer_id.label("id"), key.label("k"))
        .select_from(listed)
        .where(*conditions)
        .order_by(*order)
        .offset(skip)
        .limit(end - start)
        .subquery("page")
    )
    again = (page.c.k.desc(), page.c.id.desc()) if descending else (page.c.k, page.c.id)
    dialect = engine().dialect.name
    query = (
        select(
            s.c.customer_id,
            Customer.external_id,
            Customer.name,
            s.c.segment,
            s.c.visits,
            s.c.orders,
            s.c.spend_cents,
            _as_day(s.c.last_visit, dialect),
            s.c.avg_interval_days,
            _tag_text(s.c.customer_id, dialect),
            _tag_since(s.c.customer_id),
            c.c.probability,
        )
        .select_from(page)
        .join(s, s.c.customer_id == page.c.id)
        .join(Customer, Customer.id == page.c.id)
        .outerjoin(c, c.c.customer_id == page.c.id)
        .order_by(*again)
    )
    with engine().connect() as conn:
        rows = conn.execute(query).all()
    return _list_frame(rows)


def customer_list(
    segment: str | None = None,
    tag: str | None = None,
    search: str | None = None,
    sort: str = "spend",
    limit: int = LIST_LIMIT,
) -> dict[str, Any]:
    """``{"rows": DataFrame, "total": int, "limit": int}``: the first ``limit`` customers by
    ``sort`` (spend, last visit or visits, descending) matching the segment, tag and a name /
    id search, and how many match in all (exports and scripts; the page reads pages of it with
    :func:`customer_page`)."""
    if not 1 <= int(limit) <= MAX_LIST_LIMIT:
        raise ValueError(f"limit: expected 1..{MAX_LIST_LIMIT}, got {limit!r}")
    segment, tag = normalize_value(segment), normalize_value(tag)
    if sort not in LIST_SORTS:
        raise ValueError(f"sort: expected one of {', '.join(LIST_SORTS)}, got {sort!r}")
    _check_filters(segment, tag)
    text = search_text(search)
    rows = _page(0, int(limit), segment, tag, text, SORT_ALIASES[sort], True)
    return {"rows": rows, "total": customer_count(segment, tag, text), "limit": int(limit)}


def _as_day(column: Any, dialect: str) -> Any:
    """A timestamp's calendar day, as a date in the result (SQLite's
    CAST would make it a number)."""
    if dialect == "sqlite":
        return func.date(column, type_=Date)
    return cast(column, Date)


def _tag_text(customer_id: Any, dialect: str) -> Any:
    """One customer's tags, comma-separated (a primary-key range read per row; sorted
    alphabetically by :func:`_list_frame`, as SQLite before 3.44 cannot order inside an
    aggregate)."""
    t = CustomerTag.__table__
    concat = (
        func.string_agg(t.c.tag, literal(", "))
        if dialect == "postgresql"
        else func.group_concat(t.c.tag, ", ")
    )
    return select(concat).where(t.c.customer_id == customer_id).scalar_subquery()


def _day_or_none(value: Any) -> dt.date | None:
    return None if value is None else as_date(value)


def _tag_since(customer_id: Any) -> Any:
    """The business day from which a customer has carried their current tag (None untagged)."""
    t = CustomerTag.__table__
    return select(func.min(t.c.as_of)).where(t.c.customer_id == customer_id).scalar_subquery()


def _list_frame(rows: list[Any]) -> pd.DataFrame:
    """The list's columns built column-wise with pyarrow (no Python loop per customer)."""
    cid, ext, name, seg, visits, orders, spend, last, interval, tags, since, churn = (
        zip(*rows) if rows else ((),) * 12
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
            "tags": pa.array(
                [", ".join(sorted(t.split(", "))) if t else "" for t in tags], type=pa.string()
            ),
            # SQLite hands back a subquery's date as text
            "tag_since": pa.array([_day_or_none(d) for d in since], type=pa.date32()),
            "visits": pa.array(visits, type=pa.int64()),
            "orders": pa.array(orders, type=pa.int64()),
            "spend_cents": pa.array(spend, type=pa.int64()),
            "last_visit": last_visit,
            "next_visit": next_visit,
            "churn_probability": pa.array(churn, type=pa.float64()),
        }
    )
    # dates as objects (date or None), like every other date the data layer returns
    return table.select(LIST_COLUMNS).to_pandas(date_as_object=True)


__all__ = [
    "AT_RISK",
    "EXPORT_ROWS",
    "LIST_LIMIT",
    "MAX_SEARCH_CHARS",
    "NAMESPACE",
    "SORT_KEYS",
    "TAG_FILTERS",
    "churn_model_summary",
    "cohort_retention",
    "customer_count",
    "customer_kpis",
    "customer_list",
    "customer_page",
    "customers_for_export",
    "page_key",
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
