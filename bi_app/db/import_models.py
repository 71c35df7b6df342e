"""The ``import_runs`` table: one row per uploaded or CLI-imported file.

The row is also the progress channel of a running import: the worker thread updates
``phase``/``progress`` on it, and any web worker polling the page reads it back, so progress
survives load-balancing across processes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, utcnow


class ImportRun(Base):
    __tablename__ = "import_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'validated', 'rejected', 'failed')",
            name="status",
        ),
        Index("ix_import_runs_started_at", "started_at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="web")  # web, cli
    file_name: Mapped[str] = mapped_column(String(255))
    file_format: Mapped[str | None] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    kind: Mapped[str] = mapped_column(String(32))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # queued, running, succeeded, validated, rejected or failed
    status: Mapped[str] = mapped_column(String(16), default="queued")
    phase: Mapped[str | None] = mapped_column(String(32))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rows_total: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_ok: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    inserted: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    error_count: Mapped[int] = mapped_column(BigInteger, default=0)
    # [{"row", "column", "value", "message"}, ...], capped (see
    # bi_app.importing.MAX_REPORTED_ERRORS)
    errors: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class SyncWatermark(Base):
    """How far ``bi-app sync`` has read one kind of one source: the largest watermark value
    (e.g. ``updated_at``) of the rows it imported, as text with its type."""

    __tablename__ = "sync_watermarks"
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    value_type: Mapped[str] = mapped_column(String(16))  # datetime, date, int, text
    value: Mapped[str] = mapped_column(String(255))
    rows: Mapped[int] = mapped_column(BigInteger, default=0)  # imported by the last run
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
