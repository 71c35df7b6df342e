"""Exact distinct customer counts from the customer bitmaps (:mod:`bi_app.db.bitmaps`): active
customers, visitors, repeat buyers, lifetime customers and monthly cohorts.

A range is read as whole quarters, whole months and edge days, so a year with no filter unions
a few dozen bitmaps; filters pick the bitmaps of the chosen platforms and categories (one per
platform x category per period; for repeat buyers over several categories also the bitmaps of
customers who bought two of them in one order).

These are plain functions; the cached public API stays in :mod:`bi_app.data.customers` and
:mod:`bi_app.data.sales`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from pyroaring import BitMap
from sqlalchemy import Connection, select

from bi_app.analytics import cohorts
from bi_app.data._common import Codes, engine
from bi_app.db import bitmaps
from bi_app.db.models import Category, SalesPlatform
from bi_app.db.periods import next_period

Ids = tuple[int, ...] | None  # None: all (the ALL bitmaps)


def _ids(conn: Connection, model: Any, codes: Codes) -> Ids:
    if not codes:
        return None
    return tuple(conn.execute(select(model.id).where(model.code.in_(codes))).scalars())


def filter_ids(conn: Connection, platforms: Codes, categories: Codes) -> tuple[Ids, Ids]:
    """Platform and category ids of the codes (None when not filtered; unknown codes match
    nothing, like the SQL filters)."""
    return _ids(conn, SalesPlatform, platforms), _ids(conn, Category, categories)


def active_customers(start: dt.date, end: dt.date, platforms: Codes, categories: Codes) -> int:
    """Customers with a revenue order on days ``start..end`` on the platforms, with items of the
    categories (None: all)."""
    with engine().connect() as conn:
        platform_ids, category_ids = filter_ids(conn, platforms, categories)
        parts = bitmaps.load(conn, start, end, ("buyers",), platform_ids, category_ids)
    return len(bitmaps.union(parts, "buyers"))


def period_counts(start: dt.date, end: dt.date, platforms: Codes, categories: Codes) -> dict:
    """``visitors``, ``buyers``, ``repeat_buyers`` on days ``start..end`` and
    ``lifetime_customers`` (buyers from the first data up to ``end``)."""
    with engine().connect() as conn:
        platform_ids, category_ids = filter_ids(conn, platforms, categories)
        several = category_ids is not None and len(category_ids) > 1
        kinds = ("buyers", "repeat", "pair") if several else ("buyers", "repeat")
        period = bitmaps.load(conn, start, end, kinds, platform_ids, category_ids)
        visits = bitmaps.load(conn, start, end, ("visitors",), platform_ids, None)
        first = bitmaps.first_day(conn)
        lifetime = (
            bitmaps.load(conn, first, end, ("buyers",), platform_ids, category_ids)
            if first is not None and first <= end
            else []
        )
    return {
        "visitors": len(bitmaps.union(visits, "visitors")),
        "buyers": len(bitmaps.union(period, "buyers")),
        "repeat_buyers": len(bitmaps.repeat_buyers(period)),
        "lifetime_customers": len(bitmaps.union(lifetime, "buyers")),
    }


def cohort_rows(start: dt.date, end: dt.date, platforms: Codes, categories: Codes) -> pd.DataFrame:
    """:func:`bi_app.analytics.cohorts.retention_table` of the monthly cohorts (month of the first
    revenue order on the platforms/categories) starting in ``start..end``'s months, active in
    each later month up to ``end`` (its month counted up to ``end``)."""
    first_month, last_month = start.replace(day=1), end.replace(day=1)
    rows: list[tuple[dt.date, dt.date, int]] = []
    with engine().connect() as conn:
        platform_ids, category_ids = filter_ids(conn, platforms, categories)
        data_start = bitmaps.first_day(conn)
        if data_start is not None and data_start <= end:
            # whole months from the first data on: who had bought before each cohort month
            months: dict[dt.date, list[BitMap]] = {}
            for part in bitmaps.load(
                conn,
                data_start.replace(day=1),
                next_period(last_month, "month") - dt.timedelta(days=1),
                ("buyers",),
                platform_ids,
                category_ids,
                grains=("month",),
            ):
                months.setdefault(part.start, []).append(part.bitmap)
            # the last month is active only up to ``end``
            partial = bitmaps.union(
                bitmaps.load(conn, last_month, end, ("buyers",), platform_ids, category_ids),
                "buyers",
            )
            buyers = {m: BitMap.union(*b) for m, b in months.items()}
            seen = BitMap()
            for month in sorted(m for m in buyers if m < first_month):
                seen |= buyers[month]
            window = sorted(m for m in buyers if first_month <= m <= last_month)
            active = {m: (partial if m == last_month else buyers[m]) for m in window}
            if last_month not in active:
                active[last_month] = partial
            for cohort in window:
                members = buyers[cohort] - seen
                seen |= buyers[cohort]
                for month in sorted(m for m in active if m >= cohort):
                    n = members.intersection_cardinality(active[month])
                    if n:
                        rows.append((cohort, month, n))
    return cohorts.retention_table(pd.DataFrame(rows, columns=["cohort", "month", "customers"]))


__all__ = ["active_customers", "cohort_rows", "filter_ids", "period_counts"]
