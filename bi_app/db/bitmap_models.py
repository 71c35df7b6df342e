"""Roll-ups of customer ids as serialized compressed bitmaps (pyroaring ``BitMap``), per day,
month and calendar quarter: exact distinct counts by unions and intersections of a few bitmaps
instead of a ``COUNT(DISTINCT)`` over millions of rows. Built by :mod:`bi_app.db.bitmaps`.

Each row is one set of customers: ``kind`` is ``buyers`` (a revenue order in the period),
``repeat`` (two or more revenue orders in the period), ``visitors`` (a visit in the period) or
``pair`` (a revenue order holding items of both ``category_id`` and ``paired_category_id``, the
larger id; what makes repeat buyers over several categories exact, see :mod:`bi_app.db.bitmaps`).
``platform_id`` / ``category_id`` narrow it to orders on that platform containing items of that
category (category 0: an order without items), :data:`ALL` (-1) meaning any;
``paired_category_id`` is :data:`ALL` except for pairs. Visitors have no category (always
:data:`ALL`); a visit without a platform is only in the ``ALL`` platform set.

The period column comes first and the tables are named like the other grains so that they
follow the same refresh rules as :mod:`bi_app.db.rollups` (a month is rebuilt from its days).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Integer, LargeBinary, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base

ALL = -1  # platform_id / category_id of "any platform" / "any category"
KINDS = ("buyers", "repeat", "visitors", "pair")


class DailyCustomerBitmaps(Base):
    """Customers per day, kind, platform and category (or :data:`ALL`) as a roaring bitmap."""

    __tablename__ = "daily_customer_bitmaps"
    __table_args__ = (
        PrimaryKeyConstraint("day", "kind", "platform_id", "category_id", "paired_category_id"),
    )
    day: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(Integer)
    paired_category_id: Mapped[int] = mapped_column(Integer)
    bitmap: Mapped[bytes] = mapped_column(LargeBinary)


class MonthlyCustomerBitmaps(Base):
    """The daily bitmaps of a month combined (``month`` = its first day)."""

    __tablename__ = "monthly_customer_bitmaps"
    __table_args__ = (
        PrimaryKeyConstraint("month", "kind", "platform_id", "category_id", "paired_category_id"),
    )
    month: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(Integer)
    paired_category_id: Mapped[int] = mapped_column(Integer)
    bitmap: Mapped[bytes] = mapped_column(LargeBinary)


class QuarterlyCustomerBitmaps(Base):
    """The monthly bitmaps of a calendar quarter combined (``quarter`` = its first day)."""

    __tablename__ = "quarterly_customer_bitmaps"
    __table_args__ = (
        PrimaryKeyConstraint("quarter", "kind", "platform_id", "category_id", "paired_category_id"),
    )
    quarter: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int] = mapped_column(Integer)
    paired_category_id: Mapped[int] = mapped_column(Integer)
    bitmap: Mapped[bytes] = mapped_column(LargeBinary)


BITMAP_TABLES = {
    "day": DailyCustomerBitmaps.__table__,
    "month": MonthlyCustomerBitmaps.__table__,
    "quarter": QuarterlyCustomerBitmaps.__table__,
}
