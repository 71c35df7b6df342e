"""Consumable resources and their sampled levels: ``capacity_resources`` and ``capacity_samples``.

A resource is something the hot wallets use up and that refills over time, such as a blockchain
wallet's transaction energy or an API quota: ``capacity`` units at most, ``refill_per_hour``
units regained per hour, ``cost_per_transaction`` units used by each outgoing transaction (a
debit) of the accounts of ``tier`` (and ``currency`` when set). The ``capacity_sample`` job
(:func:`bi_app.capacity.sample_job`) appends one sample per resource every few minutes: the
level then, what was used, refilled and topped up since the previous sample.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, utcnow


class CapacityResource(Base):
    __tablename__ = "capacity_resources"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity"),
        CheckConstraint("refill_per_hour >= 0", name="refill"),
        CheckConstraint("cost_per_transaction >= 0", name="cost"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128))
    unit: Mapped[str] = mapped_column(String(32))
    capacity: Mapped[float] = mapped_column(Float)
    refill_per_hour: Mapped[float] = mapped_column(Float, default=0.0)
    cost_per_transaction: Mapped[float] = mapped_column(Float, default=1.0)
    tier: Mapped[str] = mapped_column(String(8), default="hot")
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class CapacitySample(Base):
    __tablename__ = "capacity_samples"
    __table_args__ = (
        Index("ix_capacity_samples_resource_at", "resource_id", "sampled_at", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("capacity_resources.id", ondelete="CASCADE")
    )
    sampled_at: Mapped[dt.datetime] = mapped_column(DateTime)  # naive UTC
    level: Mapped[float] = mapped_column(Float)
    used: Mapped[float] = mapped_column(Float, default=0.0)  # since the previous sample
    refilled: Mapped[float] = mapped_column(Float, default=0.0)
    topped_up: Mapped[float] = mapped_column(Float, default=0.0)
    transactions: Mapped[int] = mapped_column(default=0)
