"""Generated reports: ``report_runs``, one row per requested report with its file.

A run is queued when someone asks for it, then ``running`` (with a progress percentage and the
section being built), then ``succeeded`` with its file (PDF or xlsx bytes) and, for a PDF, a small
PNG of its first page — or ``failed`` with a message. The file lives in the database so any worker
on any host can serve the download. ``content`` and ``preview_png`` are deferred: a history list
never loads them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from bi_app.db.models import Base, _in, utcnow

REPORT_KINDS = ("daily", "weekly", "monthly", "custom")
REPORT_FORMATS = ("pdf", "xlsx")
REPORT_STATUSES = ("queued", "running", "succeeded", "failed")


class ReportRun(Base):
    __tablename__ = "report_runs"
    __table_args__ = (
        CheckConstraint("kind IN " + _in(REPORT_KINDS), name="kind"),
        CheckConstraint("format IN " + _in(REPORT_FORMATS), name="format"),
        CheckConstraint("status IN " + _in(REPORT_STATUSES), name="status"),
        Index("ix_report_runs_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    sections: Mapped[list[Any]] = mapped_column(default=list)
    format: Mapped[str] = mapped_column(String(8))
    locale: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[str | None] = mapped_column(String(200))
    requested_by: Mapped[str | None] = mapped_column(String(64))
    schedule_id: Mapped[int | None] = mapped_column(Integer)  # report schedules come later
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    preview_png: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    error: Mapped[str | None] = mapped_column(Text)
