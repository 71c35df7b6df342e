"""Sales growth: headline figures and revenue per period against the previous period and the
same days a year earlier, cached under the ``sales`` namespace like :mod:`bi_app.data.sales`.

Comparison windows follow :mod:`bi_app.analytics.growth`: the same set of days shifted by one
period or by one year, so a partial period is compared with an equally partial one.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import func, literal, select, union_all

from bi_app.analytics import growth
from bi_app.data._common import (
    Codes,
    DateArg,
    as_date,
    check_granularity,
    date_range,
    engine,
    period_frame,
    period_sums_query,
    previous_period,
    sales_where,
    selected_statuses,
)
from bi_app.data.cache import cached
from bi_app.data.sales import NAMESPACE, order_totals
from bi_app.db.models import Category, DailyCategorySales, DailyOrders, SalesPlatform

BREAKDOWNS = ("platform", "category")


@cached(NAMESPACE)
def growth_kpis(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> list[growth.GrowthKpi]:
    """Revenue, orders, average order value and the share of lost orders against the previous
    equal-length range and the same range a year earlier."""
    first, last = date_range(start, end)
    prev_start, prev_end = previous_period(first, last)
    year_start, year_end = growth.comparison_window(first, last, "day", "yoy")
    args = (platforms, categories, statuses)
    return growth.summary_kpis(
        order_totals(first, last, *args),
        order_totals(prev_start, prev_end, *args),
        order_totals(year_start, year_end, *args),
    )


@cached(NAMESPACE)
def revenue_growth(
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
    granularity: str = "day",
) -> pd.DataFrame:
    """Revenue, orders and average order value per period with period-over-period and
    year-over-year changes (see :func:`bi_app.analytics.growth.growth_table` for the columns)."""
    first, last = date_range(start, end)
    check_granularity(granularity)
    windows = [
        (first, last),
        growth.comparison_window(first, last, granularity, "pop"),
        growth.comparison_window(first, last, granularity, "yoy"),
    ]
    # One statement, one branch per window: the windows overlap (a day's previous period is
    # the day before), so each branch sums its own days, exactly as a query per window would.
    parts = []
    for index, (w_start, w_end) in enumerate(windows):
        sums = period_sums_query(w_start, w_end, platforms, categories, statuses, granularity)
        parts.append(sums.add_columns(literal(index).label("window")))
    found: list[dict[dt.date, tuple[int, int]]] = [{}, {}, {}]
    with engine().connect() as conn:
        for period, revenue, orders, window in conn.execute(union_all(*parts)):
            # SQLite hands back a compound SELECT's dates as text: the column type is lost
            found[int(window)][as_date(period)] = (int(revenue), int(orders))
    columns = ("revenue_cents", "orders")
    current = period_frame(found[0], growth.periods(first, last, granularity), columns)
    # growth_table counts a comparison period it does not find as zero sales: the windows'
    # frames need only the periods that sold, not every period padded with zeros
    previous, year_ago = (period_frame(sums, sorted(sums), columns) for sums in found[1:])
    return growth.growth_table(current, previous, year_ago, granularity)


@cached(NAMESPACE)
def growth_by(
    dimension: str,
    start: DateArg,
    end: DateArg,
    platforms: Codes = None,
    categories: Codes = None,
    statuses: Codes = None,
) -> pd.DataFrame:
    """Revenue and orders per sales platform or product category (``dimension``) over the range,
    against the previous equal-length range and the same days a year earlier: "which platform
    grew fastest last quarter". Columns: see :data:`bi_app.analytics.growth.BREAKDOWN_COLUMNS`."""
    if dimension not in BREAKDOWNS:
        raise ValueError(f"dimension: expected one of {', '.join(BREAKDOWNS)}, got {dimension!r}")
    first, last = date_range(start, end)
    windows = [
        (first, last),
        previous_period(first, last),
        growth.comparison_window(first, last, "day", "yoy"),
    ]
    by_category = dimension == "category"
    table = (DailyCategorySales if by_category or categories else DailyOrders).__table__
    member = Category if by_category else SalesPlatform
    key = table.c.category_id if by_category else table.c.platform_id
    parts = [
        select(
            member.code,
            member.name,
            func.sum(table.c.revenue_cents),
            func.sum(table.c.orders),
            literal(index).label("window"),
        )
        .select_from(table.join(member.__table__, member.id == key))
        .where(
            *sales_where(table, w_start, w_end, platforms, categories),
            table.c.status.in_(selected_statuses(statuses)),
        )
        .group_by(member.code, member.name)
        for index, (w_start, w_end) in enumerate(windows)
    ]
    names: dict[str, str] = {}
    found: list[dict[str, tuple[int, int]]] = [{}, {}, {}]
    with engine().connect() as conn:
        for code, name, revenue, orders, window in conn.execute(union_all(*parts)):
            names[code] = name
            found[int(window)][code] = (int(revenue), int(orders))
    return growth.breakdown_growth(names, *found)
