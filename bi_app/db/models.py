"""Typed SQLAlchemy 2 models for the whole product domain.

Money is stored as integers of the currency's minor unit (``*_cents``); times are UTC.
Roll-up tables (``daily_*``) are derived from orders by :mod:`bi_app.db.rollups` and are what
charts read, so years of data never scan raw orders.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bi_app.roles import ALL_ROLES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
REVENUE_STATUSES = ("paid", "shipped", "delivered")
COST_CATEGORIES = ("venue", "catering", "technology", "marketing", "staff", "materials", "other")
ACCOUNT_TIERS = ("hot", "warm", "cold")
TRANSACTION_KINDS = ("deposit", "sweep", "cold_storage", "withdrawal", "fee")
ROLES = ALL_ROLES


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # read by SQLAlchemy, never mutated
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


# --- catalogue -------------------------------------------------------------------------------


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"), index=True)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    unit_cost_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    category: Mapped[Category] = relationship()


class SalesPlatform(Base):
    __tablename__ = "sales_platforms"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))


# --- customers and orders --------------------------------------------------------------------


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    region: Mapped[str | None] = mapped_column(String(64))
    gender: Mapped[str | None] = mapped_column(String(16))
    birth_year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN {_in(ORDER_STATUSES)}", name="status"),
        Index("ix_orders_ordered_at", "ordered_at"),
        Index("ix_orders_customer_ordered", "customer_id", "ordered_at"),
        Index("ix_orders_total", "total_cents", "id"),  # the orders explorer's amount sort
        # order-number prefixes (LIKE 'x%') on PostgreSQL, whatever the database's collation
        Index(
            "ix_orders_number_prefix",
            "order_number",
            postgresql_ops={"order_number": "varchar_pattern_ops"},
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    platform_id: Mapped[int] = mapped_column(ForeignKey("sales_platforms.id"))
    status: Mapped[str] = mapped_column(String(16))
    ordered_at: Mapped[dt.datetime] = mapped_column(DateTime)
    total_cents: Mapped[int] = mapped_column(BigInteger)


class OrderItem(Base):
    __tablename__ = "order_items"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_cents: Mapped[int] = mapped_column(BigInteger)
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class Visit(Base):
    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_customer_visited", "customer_id", "visited_at"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    platform_id: Mapped[int | None] = mapped_column(ForeignKey("sales_platforms.id"))
    visited_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    channel: Mapped[str | None] = mapped_column(String(32))


# --- marketing events and campaigns ----------------------------------------------------------


class Event(Base):
    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # event, campaign, webinar, ...
    organizer: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # planned, running, completed, cancelled
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime)
    venue: Mapped[str | None] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(64))
    budget_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    capacity: Mapped[int | None] = mapped_column(Integer)
    target_participants: Mapped[int | None] = mapped_column(Integer)
    ticket_price_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class EventCost(Base):
    __tablename__ = "event_costs"
    __table_args__ = (CheckConstraint(f"category IN {_in(COST_CATEGORIES)}", name="category"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class EventRevenue(Base):
    __tablename__ = "event_revenues"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(32))  # tickets, sponsorship, sales, other
    description: Mapped[str | None] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class EventRegistration(Base):
    """A participant's registration, attendance and profile fields."""

    __tablename__ = "event_registrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    registered_at: Mapped[dt.datetime] = mapped_column(DateTime)
    attended: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    channel: Mapped[str | None] = mapped_column(String(32))
    age_band: Mapped[str | None] = mapped_column(String(16))
    gender: Mapped[str | None] = mapped_column(String(16))
    region: Mapped[str | None] = mapped_column(String(64))
    is_returning: Mapped[bool] = mapped_column(Boolean, default=False)


class EventChannelStat(Base):
    __tablename__ = "event_channel_stats"
    __table_args__ = (UniqueConstraint("event_id", "channel", "day", name="uq_event_channel_day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    views: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    conversions: Mapped[int] = mapped_column(BigInteger, default=0)


# --- treasury --------------------------------------------------------------------------------


class Account(Base):
    __tablename__ = "accounts"
    __table_args__ = (CheckConstraint(f"tier IN {_in(ACCOUNT_TIERS)}", name="tier"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    tier: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))


class Counterparty(Base):
    __tablename__ = "counterparties"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))  # bank, exchange, customer, supplier, internal


class Transaction(Base):
    __tablename__ = "transactions"
    __table_args__ = (
        CheckConstraint(f"kind IN {_in(TRANSACTION_KINDS)}", name="kind"),
        Index("ix_transactions_account_occurred", "account_id", "occurred_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    counterparty_id: Mapped[int | None] = mapped_column(ForeignKey("counterparties.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    note: Mapped[str | None] = mapped_column(String(200))


# --- demo ground truth -----------------------------------------------------------------------


class DemoAnomaly(Base):
    """Anomalies deliberately injected by the demo generator, for later quality checks."""

    __tablename__ = "demo_anomalies"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # revenue_drop, unusual_transaction, ...
    day: Mapped[dt.date] = mapped_column(Date, index=True)
    ref_table: Mapped[str | None] = mapped_column(String(64))
    ref_id: Mapped[int | None] = mapped_column(BigInteger)
    magnitude: Mapped[float | None] = mapped_column()
    description: Mapped[str] = mapped_column(Text)


# --- roll-ups (derived; see bi_app.db.rollups) ---------------------------------------------


class DailyOrders(Base):
    """Orders per day x platform x status; ``week``/``month`` are the
    period starts (Monday, 1st)."""

    __tablename__ = "daily_orders"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    week: Mapped[dt.date] = mapped_column(Date)
    month: Mapped[dt.date] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)


class DailyCategorySales(Base):
    """Item sales per day x platform x status x category; ``orders`` counts orders touching it."""

    __tablename__ = "daily_category_sales"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    week: Mapped[dt.date] = mapped_column(Date)
    month: Mapped[dt.date] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)


class DailyProductSales(Base):
    __tablename__ = "daily_product_sales"
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)


class MonthlyProductSales(Base):
    """``daily_product_sales`` summed per month; the category is part of the key because a
    product moved to another category mid-month keeps both rows, exactly like the daily table."""

    __tablename__ = "monthly_product_sales"
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    platform_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    orders: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)
    units: Mapped[int] = mapped_column(BigInteger)


# --- users, roles and audit ------------------------------------------------------------------


class Role(Base):
    __tablename__ = "roles"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    description: Mapped[str] = mapped_column(String(200))


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(ForeignKey("roles.name"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    locale: Mapped[str | None] = mapped_column(String(8))  # None: the browser's, else BI_LOCALE


class AppState(Base):
    """Facts about the stored data the app must remember, by key: ``rollup_timezone`` is the
    time zone whose days the roll-ups were built in."""

    __tablename__ = "app_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class UserSession(Base):
    """One signed-in browser session. The cookie carries a random token; the row keys on its
    SHA-256, so a database reader cannot make a session (see :mod:`bi_app.auth.sessions`)."""

    __tablename__ = "user_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
