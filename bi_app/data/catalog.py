"""Reference data for filters and labels: platforms, categories, the span of the data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from bi_app.data._common import engine
from bi_app.data.cache import cached
from bi_app.db.models import Category, DailyOrders, SalesPlatform

NAMESPACE = "catalog"


@cached(NAMESPACE)
def platforms() -> list[dict]:
    """Sales platforms as ``{"code", "name"}``, by name."""
    query = select(SalesPlatform.code, SalesPlatform.name).order_by(
        SalesPlatform.name, SalesPlatform.code
    )
    with engine().connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


@cached(NAMESPACE)
def categories() -> list[dict]:
    """Product categories as ``{"code", "name"}``, by name."""
    query = select(Category.code, Category.name).order_by(Category.name, Category.code)
    with engine().connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


@cached(NAMESPACE)
def data_bounds() -> tuple[dt.date, dt.date] | None:
    """The first and last UTC day with any order (from the roll-ups); None without data."""
    query = select(func.min(DailyOrders.day), func.max(DailyOrders.day))
    with engine().connect() as conn:
        first, last = conn.execute(query).one()
    if first is None:
        return None
    return first, last


def display_names() -> dict[str, dict[str, str]]:
    """Code → name for each filter dimension that has a catalogue (platform, category)."""
    return {
        "platform": {p["code"]: p["name"] for p in platforms()},
        "category": {c["code"]: c["name"] for c in categories()},
    }
