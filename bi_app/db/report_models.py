"""Generated reports: ``report_runs``, one row per requested report with its file.

A run is queued when someone asks for it, then ``running`` (with a progress percentage and the
section being built), then ``succeeded`` with its file (PDF or xlsx bytes) and, for a PDF, a small
PNG of its first page — or ``failed`` with a message. The file lives in the database (or, with
``BI_REPORT_DIR``, in that shared directory: ``file_path``) so any worker on any host can serve the
download. ``content`` and ``preview_png`` are deferred: a history list never loads them.

``report_schedules`` holds the reports made on a schedule: a cron in the business time zone, the
period kind, sections, format and language, and the e-mail channel and recipients it is delivered
to. A scheduled run carries its schedule and slot (``scheduled_for``), unique together, so a slot
is built once however many processes see it due; ``enqueued_at`` is set in the transaction that
writes its e-mails to the notification outbox, so they are written once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
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
SCHEDULE_KINDS = ("daily", "weekly", "monthly")


class ReportRun(Base):
    __tablename__ = "report_runs"
    __table_args__ = (
        CheckConstraint("kind IN " + _in(REPORT_KINDS), name="kind"),
        CheckConstraint("format IN " + _in(REPORT_FORMATS), name="format"),
        CheckConstraint("status IN " + _in(REPORT_STATUSES), name="status"),
        Index("ix_report_runs_created_at", "created_at"),
        Index("uq_report_runs_schedule_slot", "schedule_id", "scheduled_for", unique=True),
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
    # a scheduled run: its schedule (kept when the schedule is deleted) and the slot it is for
    schedule_id: Mapped[int | None] = mapped_column(Integer)
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(DateTime)
    enqueued_at: Mapped[dt.datetime | None] = mapped_column(DateTime)  # its e-mails written
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    preview_png: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    error: Mapped[str | None] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(String(500))  # under BI_REPORT_DIR


class ReportSchedule(Base):
    """A report made on a schedule and e-mailed: ``cron`` (five crontab fields) is read in the
    business time zone; ``next_run_at`` (UTC) is the next slot, moved on atomically by the one
    process that claims it."""

    __tablename__ = "report_schedules"
    __table_args__ = (
        CheckConstraint("kind IN " + _in(SCHEDULE_KINDS), name="kind"),
        CheckConstraint("format IN " + _in(REPORT_FORMATS), name="format"),
        Index("ix_report_schedules_due", "enabled", "next_run_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    cron: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    sections: Mapped[list[Any]] = mapped_column(default=list)
    format: Mapped[str] = mapped_column(String(8))
    locale: Mapped[str] = mapped_column(String(16))
    channel_id: Mapped[int | None] = mapped_column(
        ForeignKey("notification_channels.id", ondelete="SET NULL")
    )
    recipients: Mapped[list[Any]] = mapped_column(default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
