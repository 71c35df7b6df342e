"""Tables of the customer analytics: business settings, per-customer stats, monthly segment
snapshots, churn-risk tags and their history.

Segments are not stored: they are derived when read from the stored visit counts and spend with
the thresholds in force (see :mod:`bi_app.business_settings`), so an admin's change to a
threshold applies to today's view and to every past month at once, without a recomputation.
Tags depend on more than one threshold and on "today", so they are stored, with their history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, DateTime, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, utcnow

TAGS = (
    "new_customer_followup",
    "new_customer_at_risk",
    "reactivation_needed",
    "growing_delayed",
    "loyal_delayed",
)


class BusinessSetting(Base):
    """One admin-editable business threshold; keys and defaults live in code."""

    __tablename__ = "business_settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(64))


class CustomerStats(Base):
    """Each customer's lifetime figures as of ``as_of`` (inclusive), rebuilt by the tags job."""

    __tablename__ = "customer_stats"
    __table_args__ = (
        Index("ix_customer_stats_spend", "spend_cents"),
        Index("ix_customer_stats_last_visit", "last_visit"),
    )
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    visits: Mapped[int] = mapped_column(Integer)
    first_visit: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_visit: Mapped[dt.datetime | None] = mapped_column(DateTime)
    avg_interval_days: Mapped[float | None] = mapped_column(Float)
    orders: Mapped[int] = mapped_column(Integer)
    spend_cents: Mapped[int] = mapped_column(BigInteger)
    first_order: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_order: Mapped[dt.datetime | None] = mapped_column(DateTime)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CustomerSegmentSnapshot(Base):
    """A customer's cumulative visits and spend at the end of ``month`` (its first day labels
    it; the current month holds the state as of the last run)."""

    __tablename__ = "customer_segment_snapshots"
    __table_args__ = (Index("ix_customer_segment_snapshots_customer", "customer_id", "month"),)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)
    spend_cents: Mapped[int] = mapped_column(BigInteger)


class CustomerTag(Base):
    """A churn-risk tag a customer carries now."""

    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tag", "tag"),)
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    as_of: Mapped[dt.date] = mapped_column(Date)


class CustomerTagHistory(Base):
    """Every period a customer carried a tag: ``removed_at`` is None while it still does."""

    __tablename__ = "customer_tag_history"
    __table_args__ = (
        Index("ix_customer_tag_history_customer", "customer_id", "tag"),
        Index("ix_customer_tag_history_added_at", "added_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)
    tag: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[dt.datetime] = mapped_column(DateTime)
    added_as_of: Mapped[dt.date] = mapped_column(Date)
    removed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    removed_as_of: Mapped[dt.date | None] = mapped_column(Date)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
