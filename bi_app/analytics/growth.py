"""Period-over-period and year-over-year growth, as pure date and DataFrame maths.

A period is labelled by its start (the day, the Monday of its ISO week, the 1st of its month,
January 1st), like the roll-up tables' ``day``/``week``/``month`` columns. Comparisons are made
between the *same set of days* shifted, so a partial first or last period (a range starting
mid-month, a month to date) is compared with the equally partial period before it, never with a
full one:

* period over period: shifted by one period (1 day, 7 days, 1 calendar month, 1 year);
* year over year: shifted by one year — the same calendar date for days and months
  (29 February maps to 28 February), 52 weeks (364 days) for weeks, so a week is always
  compared with a week of the same weekdays.

Querying a comparison window with :func:`comparison_window` and grouping it by period therefore
yields exactly the values :func:`growth_table` needs for each current period.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from bi_app.analytics.kpi import change_pct
from bi_app.i18n import N_

GRANULARITIES = ("day", "week", "month", "year")
Comparison = Literal["pop", "yoy"]


def _check(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(
            f"granularity: expected one of {', '.join(GRANULARITIES)}, got {granularity!r}"
        )


def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole calendar months, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first_next = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last_day = (first_next - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last_day))


def period_start(day: dt.date, granularity: str) -> dt.date:
    """The label of the period containing ``day``."""
    _check(granularity)
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    if granularity == "year":
        return day.replace(month=1, day=1)
    return day


def periods(start: dt.date, end: dt.date, granularity: str) -> list[dt.date]:
    """Every period label touching ``start..end``, in order (a partial first period is
    labelled by its start, like the roll-ups' ``week``/``month`` columns)."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    labels, label = [], period_start(start, granularity)
    while label <= end:
        labels.append(label)
        label = shift_period(label, granularity, 1)
    return labels


def shift_period(day: dt.date, granularity: str, periods: int = -1) -> dt.date:
    """``day`` moved by ``periods`` periods of ``granularity`` (negative = earlier)."""
    _check(granularity)
    if granularity == "day":
        return day + dt.timedelta(days=periods)
    if granularity == "week":
        return day + dt.timedelta(weeks=periods)
    return _add_months(day, periods * 12 if granularity == "year" else periods)


def year_earlier(day: dt.date, granularity: str) -> dt.date:
    """The day one year before ``day`` as year-over-year comparisons define it."""
    _check(granularity)
    if granularity == "week":
        return day - dt.timedelta(weeks=52)
    return _add_months(day, -12)


def comparison_day(day: dt.date, granularity: str, kind: Comparison) -> dt.date:
    if kind == "pop":
        return shift_period(day, granularity, -1)
    if kind == "yoy":
        return year_earlier(day, granularity)
    raise ValueError(f"comparison: expected 'pop' or 'yoy', got {kind!r}")


def comparison_window(
    start: dt.date, end: dt.date, granularity: str, kind: Comparison
) -> tuple[dt.date, dt.date]:
    """The days to query so that each period of ``start..end`` finds its comparison."""
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    return comparison_day(start, granularity, kind), comparison_day(end, granularity, kind)


def share(part: float | None, whole: float | None) -> float | None:
    """``part / whole`` as a fraction; None when there is no whole to take a share of."""
    if part is None or not whole:
        return None
    return part / whole


def change_points(value: float | None, previous: float | None) -> float | None:
    """The change of a share in percentage points (0.10 -> 0.15 is +5.0)."""
    if value is None or previous is None:
        return None
    return (value - previous) * 100.0


def _lookup(df: pd.DataFrame | None) -> dict[dt.date, tuple[int, int]]:
    if df is None or df.empty:
        return {}
    return {
        _as_date(p): (int(r), int(o))
        for p, r, o in zip(df["period"], df["revenue_cents"], df["orders"])
    }


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def _aov(revenue: int, orders: int) -> float | None:
    return revenue / orders if orders else None


def growth_table(
    current: pd.DataFrame,
    previous: pd.DataFrame | None,
    year_ago: pd.DataFrame | None,
    granularity: str,
) -> pd.DataFrame:
    """One row per current period with its PoP and YoY comparisons.

    Inputs have columns ``period``, ``revenue_cents``, ``orders``: ``current`` over the range,
    ``previous`` and ``year_ago`` over the :func:`comparison_window` of that range (periods
    missing there count as zero sales). Output columns: ``period``, ``revenue_cents``,
    ``orders``, ``aov_cents``, ``prev_revenue_cents``, ``prev_orders``, ``revenue_pop_pct``,
    ``orders_pop_pct``, ``yoy_revenue_cents``, ``yoy_orders``, ``revenue_yoy_pct``,
    ``orders_yoy_pct``; percentages are None where the comparison has nothing to compare with.
    """
    _check(granularity)
    prev, yoy = _lookup(previous), _lookup(year_ago)
    rows = []
    for period, (revenue, orders) in sorted(_lookup(current).items()):
        p_rev, p_ord = prev.get(shift_period(period, granularity, -1), (0, 0))
        y_rev, y_ord = yoy.get(year_earlier(period, granularity), (0, 0))
        rows.append(
            {
                "period": period,
                "revenue_cents": revenue,
                "orders": orders,
                "aov_cents": _aov(revenue, orders),
                "prev_revenue_cents": p_rev,
                "prev_orders": p_ord,
                "revenue_pop_pct": change_pct(revenue, p_rev),
                "orders_pop_pct": change_pct(orders, p_ord),
                "yoy_revenue_cents": y_rev,
                "yoy_orders": y_ord,
                "revenue_yoy_pct": change_pct(revenue, y_rev),
                "orders_yoy_pct": change_pct(orders, y_ord),
            }
        )
    columns = [
        "period",
        "revenue_cents",
        "orders",
        "aov_cents",
        "prev_revenue_cents",
        "prev_orders",
        "revenue_pop_pct",
        "orders_pop_pct",
        "yoy_revenue_cents",
        "yoy_orders",
        "revenue_yoy_pct",
        "orders_yoy_pct",
    ]
    int_columns = {
        "revenue_cents",
        "orders",
        "prev_revenue_cents",
        "prev_orders",
        "yoy_revenue_cents",
        "yoy_orders",
    }
    # object dtype for the optional figures: None stays None (pandas would turn it into NaN)
    return pd.DataFrame(
        {
            c: pd.Series(
                [r[c] for r in rows],
                dtype="int64" if c in int_columns else ("object" if c != "period" else None),
            )
            for c in columns
        }
    )


@dataclass(frozen=True)
class GrowthKpi:
    """A headline figure with its previous-period and year-earlier values and changes.

    ``kind`` is ``money`` (cents), ``count`` or ``share`` (a fraction, whose changes are in
    percentage points rather than percent).
    """

    key: str
    label: str
    kind: str
    value: float | int | None
    previous: float | int | None
    year_ago: float | int | None
    pop_change: float | None
    yoy_change: float | None


def _growth_kpi(
    key: str,
    label: str,
    kind: str,
    value: float | None,
    previous: float | None,
    year_ago: float | None,
) -> GrowthKpi:
    diff = change_points if kind == "share" else change_pct
    return GrowthKpi(
        key, label, kind, value, previous, year_ago, diff(value, previous), diff(value, year_ago)
    )


def summary_kpis(
    current: Mapping[str, int], previous: Mapping[str, int], year_ago: Mapping[str, int]
) -> list[GrowthKpi]:
    """Revenue, orders, average order value and the share of orders cancelled or refunded.

    Each mapping holds ``revenue_cents``, ``orders`` (revenue orders), ``lost_orders``
    (cancelled + refunded) and ``all_orders`` (every status).
    """

    def aov(t: Mapping[str, int]) -> float | None:
        return _aov(t["revenue_cents"], t["orders"])

    def lost(t: Mapping[str, int]) -> float | None:
        return share(t["lost_orders"], t["all_orders"])

    return [
        _growth_kpi(
            "revenue",
            N_("Revenue"),
            "money",
            current["revenue_cents"],
            previous["revenue_cents"],
            year_ago["revenue_cents"],
        ),
        _growth_kpi(
            "orders",
            N_("Orders"),
            "count",
            current["orders"],
            previous["orders"],
            year_ago["orders"],
        ),
        _growth_kpi(
            "aov", N_("Average order value"), "money", aov(current), aov(previous), aov(year_ago)
        ),
        _growth_kpi(
            "lost",
            N_("Cancelled or refunded"),
            "share",
            lost(current),
            lost(previous),
            lost(year_ago),
        ),
    ]


BREAKDOWN_COLUMNS = [
    "code",
    "name",
    "revenue_cents",
    "share",
    "prev_revenue_cents",
    "revenue_pop",
    "yoy_revenue_cents",
    "revenue_yoy",
    "orders",
    "prev_orders",
    "orders_pop",
]


def _fraction(value: float | None, previous: float | None) -> float | None:
    change = change_pct(value, previous)
    return None if change is None else change / 100.0


def breakdown_growth(
    names: Mapping[str, str],
    current: Mapping[str, tuple[int, int]],
    previous: Mapping[str, tuple[int, int]],
    year_ago: Mapping[str, tuple[int, int]],
) -> pd.DataFrame:
    """Growth of each member of a dimension (platform, category): revenue and orders now, in
    the previous equal period and a year earlier, keyed by code as ``(revenue_cents, orders)``.

    Every member that sold in any of the three windows gets a row (one that stopped selling
    shows -100 %); changes are fractions (0.12 = +12 %), None without a base to compare with.
    Rows come fastest-growing first (by revenue against the previous period; members without a
    base last, then by revenue)."""
    total = sum(revenue for revenue, _ in current.values())
    rows = []
    for code in sorted(set(current) | set(previous) | set(year_ago)):
        revenue, orders = current.get(code, (0, 0))
        p_rev, p_ord = previous.get(code, (0, 0))
        y_rev, _ = year_ago.get(code, (0, 0))
        rows.append(
            {
                "code": code,
                "name": names.get(code, code),
                "revenue_cents": revenue,
                "share": revenue / total if total else None,
                "prev_revenue_cents": p_rev,
                "revenue_pop": _fraction(revenue, p_rev),
                "yoy_revenue_cents": y_rev,
                "revenue_yoy": _fraction(revenue, y_rev),
                "orders": orders,
                "prev_orders": p_ord,
                "orders_pop": _fraction(orders, p_ord),
            }
        )
    rows.sort(
        key=lambda r: (
            r["revenue_pop"] is None,
            -(r["revenue_pop"] or 0.0),
            -r["revenue_cents"],
        )
    )
    frame = pd.DataFrame(rows, columns=BREAKDOWN_COLUMNS)
    counts = ["revenue_cents", "prev_revenue_cents", "yoy_revenue_cents", "orders", "prev_orders"]
    return frame.astype({name: "int64" for name in counts})
