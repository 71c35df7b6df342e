"""Helpers shared by the domain modules: argument coercion and roll-up filters."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Engine, select

from bi_app.db.models import Category, SalesPlatform
from bi_app.extensions import db

GRANULARITIES = ("day", "week", "month")


def engine() -> Engine:
    return db.require_engine()


def as_date(value: dt.date | str, name: str) -> dt.date:
    """Accept a date or an ISO string (cache keys treat both alike), reject anything else."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            pass
    raise ValueError(f"{name}: expected a date, got {value!r}")


def date_range(start: dt.date | str, end: dt.date | str) -> tuple[dt.date, dt.date]:
    first, last = as_date(start, "start"), as_date(end, "end")
    if first > last:
        raise ValueError(f"start {first} is after end {last}")
    return first, last


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The equal-length period that ends the day before ``start``."""
    days = (end - start).days + 1
    prev_end = start - dt.timedelta(days=1)
    return prev_end - dt.timedelta(days=days - 1), prev_end


def platform_filter(column: Any, platforms: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    """Roll-up rows of the given platform codes (no condition for None = all)."""
    if not platforms:
        return []
    return [column.in_(select(SalesPlatform.id).where(SalesPlatform.code.in_(platforms)))]


def category_filter(column: Any, categories: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    if not categories:
        return []
    return [column.in_(select(Category.id).where(Category.code.in_(categories)))]


def check_granularity(granularity: str) -> str:
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity: expected one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    return granularity
