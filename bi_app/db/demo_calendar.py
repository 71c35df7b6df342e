"""The demo's daily demand: how many orders each of the 730 days gets, and why.

Demand is a product of a growth trend, a yearly cycle (summer low, winter high), a weekly
cycle (weekend peaks), retail holidays (Black Friday week, the Christmas run-up, sales) and a
little autocorrelated noise. A few days are closed; 6-10 ordinary days get an injected
revenue drop (a checkout outage) that is recorded as ground truth. The week, the holidays and
the shop closures are a market's :class:`CalendarProfile` (English by default; the Korean one
is in :mod:`bi_app.db.demo_korean`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

SPAN_DAYS = 730
GROWTH_OVER_SPAN = 1.38
WEEKDAY_FACTORS = np.array([0.92, 0.95, 0.97, 1.0, 1.07, 1.24, 1.13])  # Monday first
HOLIDAY_DISCOUNTS = {
    "Black Friday": 0.8,
    "Cyber Monday": 0.85,
    "Black Friday weekend": 0.85,
    "Boxing Day sale": 0.85,
    "Summer sale": 0.9,
    "New Year sale": 0.9,
}


@dataclass(frozen=True)
class Calendar:
    """Per-day demand over the demo span; index ``i`` is ``start + i`` days."""

    start: dt.date
    days: np.ndarray  # datetime64[D]
    expected: np.ndarray  # expected orders per day, closures and drops applied
    orders: np.ndarray  # realised order counts per day (Poisson draws)
    closed: np.ndarray  # bool: the shop took no orders
    labels: dict[int, str] = field(default_factory=dict)  # holiday name by day index
    drops: dict[int, float] = field(default_factory=dict)  # injected revenue drop by day index
    discounts: Mapping[str, float] = field(default_factory=lambda: HOLIDAY_DISCOUNTS)
    store_closed: np.ndarray | None = None  # bool per day: shops shut (None: Sundays)
    bank_holidays: np.ndarray | None = None  # bool per day: no settlements (None: none)

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=len(self.days) - 1)

    def weekday(self) -> np.ndarray:
        return (self.days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday

    def discount(self, index: int) -> float:
        return self.discounts.get(self.labels.get(index, ""), 1.0)

    def stores_closed(self) -> np.ndarray:
        """Bool per day: the retail stores take no orders."""
        if self.store_closed is None:
            return self.weekday() == 6
        return self.store_closed

    def is_bank_holiday(self, index: int) -> bool:
        return self.bank_holidays is not None and bool(self.bank_holidays[index])

    def month_slices(self) -> list[slice]:
        """Day-index ranges of each calendar month in the span (the loader's chunks)."""
        months = self.days.astype("datetime64[M]")
        edges = np.flatnonzero(np.diff(months.astype(np.int64))) + 1
        bounds = [0, *edges.tolist(), len(self.days)]
        return [slice(a, b) for a, b in pairwise(bounds)]


def easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def holiday_effects(year: int) -> dict[dt.date, tuple[str, float]]:
    """Retail calendar of one year: day -> (label, demand multiplier; 0 means closed)."""
    effects: dict[dt.date, tuple[str, float]] = {}
    nov1 = dt.date(year, 11, 1)
    thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
    black_friday = thanksgiving + dt.timedelta(days=1)
    for offset in range(-7, 0):
        effects[black_friday + dt.timedelta(days=offset)] = ("Black Week", 1.18)
    effects[black_friday] = ("Black Friday", 3.1)
    effects[black_friday + dt.timedelta(days=1)] = ("Black Friday weekend", 1.9)
    effects[black_friday + dt.timedelta(days=2)] = ("Black Friday weekend", 1.6)
    effects[black_friday + dt.timedelta(days=3)] = ("Cyber Monday", 2.3)
    for day in range(1, 21):
        if dt.date(year, 12, day) not in effects:
            effects[dt.date(year, 12, day)] = ("Christmas shopping", 1.2 + 0.025 * day)
    for day in (21, 22, 23):
        effects[dt.date(year, 12, day)] = ("Last-minute gifts", 1.45)
    effects[dt.date(year, 12, 24)] = ("Christmas Eve", 0.45)
    effects[dt.date(year, 12, 25)] = ("Christmas Day (closed)", 0.0)
    effects[dt.date(year, 12, 26)] = ("Boxing Day sale", 1.55)
    for day in range(27, 32):
        effects[dt.date(year, 12, day)] = ("Year-end sale", 1.12)
    effects[dt.date(year, 1, 1)] = ("New Year's Day (closed)", 0.0)
    for day in range(2, 9):
        effects[dt.date(year, 1, day)] = ("New Year sale", 1.15)
    for day in range(8, 14):
        effects[dt.date(year, 2, day)] = ("Valentine's week", 1.1)
    effects[dt.date(year, 2, 14)] = ("Valentine's Day", 1.3)
    effects[easter(year)] = ("Easter Sunday (closed)", 0.0)
    july1 = dt.date(year, 7, 1)
    for offset in range(7):
        effects[july1 + dt.timedelta(days=offset)] = ("Summer sale", 1.25)
    return effects


@dataclass(frozen=True)
class CalendarProfile:
    """What shapes a market's demand: its week, its holidays and sales, its shop closures."""

    weekday_factors: np.ndarray  # Monday first
    effects: Callable[[int], dict[dt.date, tuple[str, float]]]  # year -> day -> (label, factor)
    discounts: Mapping[str, float]  # price factor by holiday label
    store_closed_labels: frozenset[str] | None = None  # None: stores close on Sundays
    bank_holidays: Callable[[int], set[dt.date]] | None = None  # year -> days without settlement


ENGLISH_CALENDAR = CalendarProfile(WEEKDAY_FACTORS, holiday_effects, HOLIDAY_DISCOUNTS)


def build_calendar(
    today: dt.date,
    total_orders: float,
    rng: np.random.Generator,
    profile: CalendarProfile = ENGLISH_CALENDAR,
) -> Calendar:
    """Daily demand for the 730 days ending the day before ``today``, summing to ~total_orders."""
    start = today - dt.timedelta(days=SPAN_DAYS)
    days = np.arange(np.datetime64(start, "D"), np.datetime64(today, "D"))
    t = np.arange(SPAN_DAYS) / (SPAN_DAYS - 1)
    weekday = (days.astype(np.int64) + 3) % 7
    doy = (days - days.astype("datetime64[Y]")).astype(np.int64)

    demand = GROWTH_OVER_SPAN**t
    demand *= profile.weekday_factors[weekday]
    demand *= 1 + 0.13 * np.cos(2 * np.pi * (doy - 350) / 365.25)
    noise = np.empty(SPAN_DAYS)
    level = 0.0
    for i, shock in enumerate(rng.normal(0.0, 0.045, SPAN_DAYS)):
        level = 0.6 * level + shock
        noise[i] = level
    demand *= np.exp(noise)

    labels: dict[int, str] = {}
    effects: dict[dt.date, tuple[str, float]] = {}
    years = range(start.year, today.year + 1)
    for year in years:
        effects.update(profile.effects(year))
    for i in range(SPAN_DAYS):
        hit = effects.get(start + dt.timedelta(days=i))
        if hit:
            labels[i] = hit[0]
            demand[i] *= hit[1]
    closed = demand == 0
    demand *= total_orders / demand.sum()

    drops = _pick_drop_days(rng, labels, closed)
    for i, magnitude in drops.items():
        demand[i] *= 1 - magnitude
    orders = rng.poisson(demand)
    return Calendar(
        start=start,
        days=days,
        expected=demand,
        orders=orders,
        closed=closed,
        labels=labels,
        drops=drops,
        discounts=profile.discounts,
        store_closed=_labelled(labels, profile.store_closed_labels),
        bank_holidays=_bank_holidays(start, years, profile.bank_holidays),
    )


def _labelled(labels: dict[int, str], wanted: frozenset[str] | None) -> np.ndarray | None:
    if wanted is None:
        return None
    mask = np.zeros(SPAN_DAYS, dtype=bool)
    mask[[i for i, label in labels.items() if label in wanted]] = True
    return mask


def _bank_holidays(
    start: dt.date, years: range, holidays_of: Callable[[int], set[dt.date]] | None
) -> np.ndarray | None:
    if holidays_of is None:
        return None
    mask = np.zeros(SPAN_DAYS, dtype=bool)
    for year in years:
        for day in holidays_of(year):
            if 0 <= (day - start).days < SPAN_DAYS:
                mask[(day - start).days] = True
    return mask


def _pick_drop_days(
    rng: np.random.Generator, labels: dict[int, str], closed: np.ndarray
) -> dict[int, float]:
    """6-10 ordinary days, away from holidays, span edges and each other, with a 50-75% drop."""
    quiet = np.ones(SPAN_DAYS, dtype=bool)
    quiet[:14] = quiet[-14:] = False
    for i in list(labels) + np.flatnonzero(closed).tolist():
        quiet[max(0, i - 7) : i + 8] = False
    wanted = int(rng.integers(6, 11))
    drops: dict[int, float] = {}
    for i in rng.permutation(np.flatnonzero(quiet)).tolist():
        if all(abs(i - j) > 10 for j in drops):
            drops[i] = round(float(rng.uniform(0.5, 0.75)), 3)
        if len(drops) == wanted:
            break
    return dict(sorted(drops.items()))
