"""Churn scores: ``churn_scores``, one row per customer, written by the churn model's job.

A row holds the probability the active churn classifier gave the customer (no visit in the
model's churn window after the scoring date; see :mod:`bi_app.models.churn`), the customer's
next expected visit, the model version that scored it and when. Every scoring run replaces all
rows. ``probability_ppm`` is the probability in parts per million: the integer the customer
list sorts and pages on (keyset pages need an exact key).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Float, ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, utcnow


class ChurnScore(Base):
    __tablename__ = "churn_scores"
    __table_args__ = (Index("ix_churn_scores_ppm", "probability_ppm", "customer_id"),)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    probability: Mapped[float] = mapped_column(Float)
    probability_ppm: Mapped[int] = mapped_column(Integer)
    next_expected_visit: Mapped[dt.date | None] = mapped_column(Date)
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
