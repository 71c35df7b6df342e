"""Tables of the customer analytics: business settings, per-customer stats, monthly segment
snapshots, churn-risk tags and their history.

Everything a page reads is precomputed by the tags job (:mod:`bi_app.customer_tags`) so that no
read scans all customers: each customer's segment, the month it reached each segment (its
"path", from which the segment at any month's end follows), its churn-risk tag and the day that
tag may next change by time alone; and small aggregate tables (segment x tag counts, path counts,
RFM cells). Segments therefore follow the thresholds in force at the last run: a change of a
threshold makes the next run a full one (the Customers page says so and its button starts one).

``customer_changes`` is filled by database triggers on ``orders`` and ``visits`` (insert,
update, delete; see migration 0016): the customers whose figures a run must recompute.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, Index, Integer, String
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
    """Each customer's lifetime figures as of ``as_of`` (inclusive; the run that last changed
    the row), its segment, segment path, tag and the day number its tag is due for a new look.

    The three sort indexes end with ``customer_id`` so a page of the list is an index range."""

    __tablename__ = "customer_stats"
    __table_args__ = (
        Index("ix_customer_stats_spend", "spend_cents", "customer_id"),
        Index("ix_customer_stats_last_visit", "last_visit_day", "customer_id"),
        Index("ix_customer_stats_visits", "visits", "customer_id"),
        # the same orders within one segment or one tag: a filtered page is a range too
        Index("ix_customer_stats_segment_spend", "segment", "spend_cents", "customer_id"),
        Index("ix_customer_stats_segment_last_visit", "segment", "last_visit_day", "customer_id"),
        Index("ix_customer_stats_segment_visits", "segment", "visits", "customer_id"),
        Index("ix_customer_stats_tag_spend", "tag", "spend_cents", "customer_id"),
        Index("ix_customer_stats_tag_last_visit", "tag", "last_visit_day", "customer_id"),
        Index("ix_customer_stats_tag_visits", "tag", "visits", "customer_id"),
        Index("ix_customer_stats_tag_due", "tag_due"),
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
    segment: Mapped[str] = mapped_column(String(8))
    # first day of the month of the first activity, and of the month the customer reached each
    # segment (None: not reached); the segment at a month's end follows from these four
    first_month: Mapped[dt.date] = mapped_column(Date)
    growing_month: Mapped[dt.date | None] = mapped_column(Date)
    loyal_month: Mapped[dt.date | None] = mapped_column(Date)
    vip_month: Mapped[dt.date | None] = mapped_column(Date)
    # the day of the last visit (days since 1970-01-01; -1 for none): the list's sort key, never
    # NULL so that both databases order it the same way and one index serves both directions
    last_visit_day: Mapped[int] = mapped_column(Integer)
    tag: Mapped[str | None] = mapped_column(String(32))
    # the first day (days since 1970-01-01) on which the tag may change with no new activity
    tag_due: Mapped[int | None] = mapped_column(Integer)


class CustomerChange(Base):
    """A customer whose orders or visits changed since the last run (trigger-filled; a row with
    ``customer_id`` -1 means "everything": a TRUNCATE)."""

    __tablename__ = "customer_changes"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(Integer)


class CustomerVisitMonth(Base):
    """A customer's visits in one month, before the last run's cutoff: what a run reads instead
    of every visit (a few rows per customer instead of dozens). Kept exact by the runs, which
    rewrite the months of every customer whose visits changed (see :mod:`bi_app.customer_tags`)."""

    __tablename__ = "customer_visit_months"
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    visits: Mapped[int] = mapped_column(Integer)
    first_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CustomerOrderMonth(Base):
    """A customer's revenue orders in one month, before the last run's cutoff (as
    :class:`CustomerVisitMonth` for visits)."""

    __tablename__ = "customer_order_months"
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    orders: Mapped[int] = mapped_column(Integer)
    spend_cents: Mapped[int] = mapped_column(BigInteger)
    first_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CustomerWork(Base):
    """The customers one run recomputes (filled and emptied inside the run's transaction)."""

    __tablename__ = "customer_work"
    customer_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class CustomerSegmentPath(Base):
    """How many customers share one segment path (see :class:`CustomerStats`): enough to count
    the segments at any month's end and the movement between two months without reading
    customers."""

    __tablename__ = "customer_segment_paths"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_month: Mapped[dt.date] = mapped_column(Date)
    growing_month: Mapped[dt.date | None] = mapped_column(Date)
    loyal_month: Mapped[dt.date | None] = mapped_column(Date)
    vip_month: Mapped[dt.date | None] = mapped_column(Date)
    customers: Mapped[int] = mapped_column(Integer)


class CustomerProfileCount(Base):
    """Customers and their lifetime spend per current segment and tag ('' for none)."""

    __tablename__ = "customer_profile_counts"
    segment: Mapped[str] = mapped_column(String(8), primary_key=True)
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)
    customers: Mapped[int] = mapped_column(Integer)
    spend_cents: Mapped[int] = mapped_column(BigInteger)


class CustomerRfmCell(Base):
    """One recency x frequency cell of the RFM grid as of the last run."""

    __tablename__ = "customer_rfm_cells"
    recency: Mapped[int] = mapped_column(Integer, primary_key=True)
    frequency: Mapped[int] = mapped_column(Integer, primary_key=True)
    customers: Mapped[int] = mapped_column(Integer)
    monetary_sum: Mapped[int] = mapped_column(Integer)
    spend_cents: Mapped[int] = mapped_column(BigInteger)


class CustomerRecomputeRun(Base):
    """One run of the recomputation: its mode, progress and outcome. The newest succeeded row
    is the state the next run starts from (``as_of``, the thresholds it applied)."""

    __tablename__ = "customer_recompute_runs"
    __table_args__ = (Index("ix_customer_recompute_runs_status", "status", "id"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16))  # running, succeeded, failed
    mode: Mapped[str | None] = mapped_column(String(16))  # full or incremental
    as_of: Mapped[dt.date] = mapped_column(Date)
    thresholds: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(String(500))
    actor: Mapped[str | None] = mapped_column(String(64))
    phase: Mapped[str | None] = mapped_column(String(32))
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    # the activity months (customer_visit_months, customer_order_months) were complete as of
    # this run; NULL for runs before they existed: the next run then builds them
    activity_months: Mapped[bool | None] = mapped_column(Boolean)


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
