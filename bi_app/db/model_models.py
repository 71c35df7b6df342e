"""Trained models and what they found: ``model_versions`` and ``transaction_findings``.

A model version is one training run of one named model (``transactions_iforest``): its artifact
(skops bytes or Prophet JSON, never a pickle), the data window it saw, its features, parameters
and metrics. Versions are numbered per name. At most one version per name is ``active`` (a partial
unique index holds that across workers and hosts): the one every process loads. A training that
failed (``failed``) or scored worse than the active one (``rejected``) is stored for the record
and never activated; a rollback moves ``active`` to an earlier ``good`` version.

A finding is one scored transaction the detector flagged (or a large one), at most one per
transaction; the highest scored transaction id is the scoring watermark.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, _in, utcnow

MODEL_STATUSES = ("good", "failed", "rejected")
MODEL_FORMATS = ("skops", "prophet-json")
FINDING_LEVELS = ("critical", "high", "medium", "low")
_ACTIVE_WHERE = text("active")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint("status IN " + _in(MODEL_STATUSES), name="status"),
        CheckConstraint("format IN " + _in(MODEL_FORMATS), name="format"),
        UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
        Index(
            "uq_model_versions_active",
            "name",
            unique=True,
            postgresql_where=_ACTIVE_WHERE,
            sqlite_where=_ACTIVE_WHERE,
        ),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    trained_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    data_from: Mapped[dt.datetime | None] = mapped_column(DateTime)
    data_to: Mapped[dt.datetime | None] = mapped_column(DateTime)
    features: Mapped[list[Any]] = mapped_column(default=list)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    format: Mapped[str] = mapped_column(String(16))
    artifact: Mapped[bytes | None] = mapped_column(LargeBinary)
    error: Mapped[str | None] = mapped_column(Text)
    trained_by: Mapped[str | None] = mapped_column(String(64))


class TransactionFinding(Base):
    __tablename__ = "transaction_findings"
    __table_args__ = (
        CheckConstraint("level IN " + _in(FINDING_LEVELS), name="level"),
        Index("ix_transaction_findings_scored_level", "scored_at", "level"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    transaction_id: Mapped[int] = mapped_column(
        ForeignKey("transactions.id", ondelete="CASCADE"), unique=True
    )
    model_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("model_versions.id", ondelete="SET NULL")
    )
    scored_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[str | None] = mapped_column(String(16))  # None: only large, not anomalous
    factors: Mapped[list[Any]] = mapped_column(default=list)
    action: Mapped[str] = mapped_column(String(32))
    large: Mapped[bool] = mapped_column(Boolean, default=False)
