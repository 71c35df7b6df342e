"""Orders, order items and visits, generated one calendar month at a time.

Each month has its own random stream (seed, month), so the rows do not depend on how the
loader chunks them, and 10 million orders never need to be in memory at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from bi_app.db.demo_calendar import Calendar
from bi_app.db.demo_catalog import (
    PLATFORMS,
    RETAIL,
    VISIT_CHANNEL_SHARES,
    VISIT_CHANNELS,
    Catalogue,
    Customers,
)

SALES_STREAM = 101
ONLINE_HOURS = np.array(
    [
        0.9,
        0.5,
        0.3,
        0.2,
        0.2,
        0.3,
        0.6,
        1.2,
        2.0,
        2.8,
        3.4,
        3.8,
        4.2,
        4.0,
        3.8,
        3.7,
        3.9,
        4.3,
        4.9,
        5.6,
        6.0,
        5.2,
        3.6,
        1.9,
    ]
)
STORE_HOURS = np.array([0] * 8 + [2.0, 3.5, 4.0, 4.5, 5.0, 5.0, 4.6, 5.2, 5.8, 5.5, 3.5] + [0] * 5)
ITEMS_PER_ORDER = np.array([0.42, 0.26, 0.16, 0.10, 0.06])
QUANTITY_VALUES = np.array([1, 2, 3, 4, 5, 6, 10, 12, 20, 24])
QUANTITY_SHARES = np.array([0.8, 0.12, 0.04, 0.012, 0.008, 0.005, 0.006, 0.004, 0.003, 0.002])
STATUSES = np.array(
    ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"], dtype=object
)
# Chance of each status by the order's age in days (upper bound) -- older orders have settled.
STATUS_BY_AGE = (
    (1, np.array([0.28, 0.42, 0.24, 0.0, 0.06, 0.0])),
    (4, np.array([0.0, 0.1, 0.55, 0.3, 0.05, 0.0])),
    (9, np.array([0.0, 0.0, 0.14, 0.8, 0.045, 0.015])),
    (None, np.array([0.0, 0.0, 0.0, 0.935, 0.04, 0.025])),
)
STORE_STATUS = np.array([0.0, 0.0, 0.0, 0.975, 0.0, 0.025])  # paid at the till; some returns
CONVERSION_VISIT_TRAFFIC = 1.7  # browse-only visits per expected order


def _euro_retail_prices(price: np.ndarray) -> np.ndarray:
    """Cents ending in 9 (24.99), at least 0.99."""
    return np.maximum(99, np.round(price / 10) * 10 - 1).astype(np.int64)


@dataclass(frozen=True)
class SalesProfile:
    """When a market's customers buy (local wall-clock hours) and how its prices are rounded."""

    online_hours: np.ndarray  # relative orders per hour of the day, 0-23
    store_hours: np.ndarray
    retail_prices: Callable[[np.ndarray], np.ndarray]  # float minor units -> int64


ENGLISH_SALES = SalesProfile(ONLINE_HOURS, STORE_HOURS, _euro_retail_prices)


@dataclass
class IdCounters:
    order: int = 1
    item: int = 1
    visit: int = 1


def sales_months(
    calendar: Calendar,
    catalogue: Catalogue,
    customers: Customers,
    seed: int,
    today: dt.date,
    profile: SalesProfile = ENGLISH_SALES,
) -> Iterator[tuple[str, dict]]:
    """Yield ("orders" | "order_items" | "visits", columns) for each month of the span."""
    ids = IdCounters()
    traffic = calendar.expected.copy()
    for i, magnitude in calendar.drops.items():
        traffic[i] /= 1 - magnitude  # an outage breaks checkout, not browsing
    for month_index, days in enumerate(calendar.month_slices()):
        rng = np.random.default_rng([seed, SALES_STREAM, month_index])
        orders, items = _month_orders(
            calendar, catalogue, customers, days, rng, ids, today, profile
        )
        visits = _month_visits(
            calendar, customers, days, traffic, orders, rng, ids, profile.online_hours
        )
        yield "orders", orders
        yield "order_items", items
        yield "visits", visits


def _pick_customers(
    customers: Customers, day: int, k: int, rng: np.random.Generator, power: float = 1.0
) -> np.ndarray:
    """Indexes of ``k`` customers who exist and have not churned on ``day``."""
    live = (customers.created_day < day) & (customers.churn_day >= day)
    if not live.any():
        live = customers.created_day < day
    if not live.any():
        live = customers.created_day == customers.created_day.min()
    weights = np.where(live, customers.weight**power, 0.0)
    cumulative = np.cumsum(weights)
    picks = np.searchsorted(cumulative, rng.random(k) * cumulative[-1], side="right")
    return np.minimum(picks, len(cumulative) - 1)


def _day_buyers(customers: Customers, day: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """First purchases of new customers, then repeat purchases by propensity."""
    first = customers.first_buyers(day)[:k]
    return np.concatenate([first, _pick_customers(customers, day, k - len(first), rng)])


def _platform_shares(fraction_of_span: float) -> np.ndarray:
    shares = np.array(
        [
            0.45 - 0.12 * fraction_of_span,
            0.21 + 0.15 * fraction_of_span,
            0.2,
            0.14 - 0.03 * fraction_of_span,
        ]
    )
    return shares / shares.sum()


def _times(
    day_index: np.ndarray, hours_profile: np.ndarray, rng: np.random.Generator, start: np.datetime64
) -> np.ndarray:
    hours = rng.choice(24, len(day_index), p=hours_profile / hours_profile.sum())
    seconds = hours * 3600 + rng.integers(0, 3600, len(day_index))
    return start + day_index.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")


def _month_orders(
    calendar: Calendar,
    catalogue: Catalogue,
    customers: Customers,
    days: slice,
    rng: np.random.Generator,
    ids: IdCounters,
    today: dt.date,
    profile: SalesProfile,
) -> tuple[dict, dict]:
    start = np.datetime64(calendar.start, "s")
    span = len(calendar.days)
    counts = calendar.orders[days]
    day_index = np.repeat(np.arange(days.start, days.stop), counts)
    n = len(day_index)
    customer = np.concatenate(
        [
            _day_buyers(customers, d, int(k), rng)
            for d, k in zip(range(days.start, days.stop), counts)
        ]
        or [[]]
    )
    customer = customer.astype(np.int64)

    platform = rng.choice(len(PLATFORMS), n, p=_platform_shares(days.start / span))
    loyal = rng.random(n) < 0.6
    platform = np.where(loyal, customers.preferred_platform[customer], platform)
    shut = calendar.stores_closed()[day_index]
    platform = np.where((platform == RETAIL) & shut, 0, platform)  # a closed store sells online
    store = platform == RETAIL
    ordered_at = np.where(
        store,
        _times(day_index, profile.store_hours, rng, start),
        _times(day_index, profile.online_hours, rng, start),
    )
    order = np.argsort(ordered_at, kind="stable")
    day_index, customer, platform, ordered_at, store = (
        a[order] for a in (day_index, customer, platform, ordered_at, store)
    )

    status = _statuses((today - calendar.start).days - day_index, store, rng)
    order_ids = np.arange(ids.order, ids.order + n, dtype=np.int64)
    ids.order += n

    lines = rng.choice(np.arange(1, 6), n, p=ITEMS_PER_ORDER)
    owner = np.repeat(np.arange(n), lines)
    month = int(calendar.days[days.start].astype(object).month)
    product = rng.choice(
        len(catalogue.price_cents), len(owner), p=catalogue.product_probabilities(month)
    )
    quantity = rng.choice(QUANTITY_VALUES, len(owner), p=QUANTITY_SHARES)
    # The same product twice in one basket becomes one line with the summed quantity.
    key, inverse = np.unique(owner * len(catalogue.price_cents) + product, return_inverse=True)
    quantity = np.bincount(inverse, weights=quantity).astype(np.int64)
    owner, product = key // len(catalogue.price_cents), key % len(catalogue.price_cents)

    discount = np.array([calendar.discount(i) for i in range(days.start, days.stop)])
    inflation = 1 + 0.025 * day_index[owner] / 365.0
    price = catalogue.price_cents[product] * inflation * discount[day_index[owner] - days.start]
    unit_price = profile.retail_prices(price)
    amount = unit_price * quantity
    total = np.bincount(owner, weights=amount, minlength=n).astype(np.int64)

    item_ids = np.arange(ids.item, ids.item + len(owner), dtype=np.int64)
    ids.item += len(owner)
    years = ordered_at.astype("datetime64[Y]").astype(np.int64) + 1970
    orders = {
        "id": order_ids,
        "order_number": [f"SO-{y}-{i:08d}" for y, i in zip(years.tolist(), order_ids.tolist())],
        "customer_id": customer + 1,
        "platform_id": platform + 1,
        "status": status,
        "ordered_at": ordered_at,
        "total_cents": total,
    }
    items = {
        "id": item_ids,
        "order_id": order_ids[owner],
        "product_id": product + 1,
        "quantity": quantity,
        "unit_price_cents": unit_price,
        "amount_cents": amount,
    }
    return orders, items


def _statuses(age_days: np.ndarray, store: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    status = np.empty(len(age_days), dtype=object)
    lower = -1
    for upper, shares in STATUS_BY_AGE:
        band = age_days > lower if upper is None else (age_days > lower) & (age_days <= upper)
        status[band] = rng.choice(STATUSES, int(band.sum()), p=shares)
        lower = upper if upper is not None else lower
    status[store] = rng.choice(STATUSES, int(store.sum()), p=STORE_STATUS)
    return status


def _month_visits(
    calendar: Calendar,
    customers: Customers,
    days: slice,
    traffic: np.ndarray,
    orders: dict,
    rng: np.random.Generator,
    ids: IdCounters,
    online_hours: np.ndarray,
) -> dict:
    """One visit just before every order, plus browse-only visits (more visits than orders)."""
    start = np.datetime64(calendar.start, "s")
    customer = orders["customer_id"] - 1
    delay = np.clip(rng.lognormal(np.log(12 * 60), 0.9, len(customer)), 60, 3 * 3600)
    created = start + customers.created_day[customer].astype("timedelta64[D]")
    earliest = created + np.timedelta64(23 * 3600 + 30, "s")  # after the sign-up time of day
    converting_at = np.maximum(orders["ordered_at"] - delay.astype("timedelta64[s]"), earliest)
    converting_channel = np.where(
        orders["platform_id"] == RETAIL + 1, "store", customers.channel[customer]
    ).astype(object)

    browse_counts = rng.poisson(CONVERSION_VISIT_TRAFFIC * traffic[days])
    browse_day = np.repeat(np.arange(days.start, days.stop), browse_counts)
    browse_customer = np.concatenate(
        [
            _pick_customers(customers, d, int(k), rng, power=0.5)
            for d, k in zip(range(days.start, days.stop), browse_counts)
        ]
        or [[]]
    ).astype(np.int64)
    online = rng.choice(3, len(browse_day), p=[0.5, 0.35, 0.15])
    preferred = customers.preferred_platform[browse_customer]
    browse_platform = np.where(
        (preferred != RETAIL) & (rng.random(len(browse_day)) < 0.6), preferred, online
    )
    browse_channel = np.where(
        rng.random(len(browse_day)) < 0.5,
        customers.channel[browse_customer],
        rng.choice(VISIT_CHANNELS, len(browse_day), p=VISIT_CHANNEL_SHARES),
    )

    visited_at = np.concatenate([converting_at, _times(browse_day, online_hours, rng, start)])
    order = np.argsort(visited_at, kind="stable")
    count = len(visited_at)
    visit_ids = np.arange(ids.visit, ids.visit + count, dtype=np.int64)
    ids.visit += count
    return {
        "id": visit_ids,
        "customer_id": np.concatenate([customer, browse_customer])[order] + 1,
        "platform_id": np.concatenate([orders["platform_id"] - 1, browse_platform])[order] + 1,
        "visited_at": visited_at[order],
        "channel": np.concatenate([converting_channel, browse_channel.astype(object)])[order],
    }
