"""Sales growth: headline figures and revenue per period against the previous period and the
same days a year earlier, cached under the ``sales`` namespace like :mod:`bi_app.data.sales`.

Comparison windows follow :mod:`bi_app.analytics.growth`: the same set of days shifted by one
period or by one year, so a partial period is compared with an equally partial one.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from sqlalchemy import literal, union_all

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
)
from bi_app.data.cache import cached
from bi_app.data.sales import NAMESPACE, order_totals


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
