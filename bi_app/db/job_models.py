"""Scheduler tables: one row per job run or scheduled slot, and one heartbeat row per scheduler
process.

Every scheduled slot leaves a row: a run (succeeded, failed, timed_out), ``skipped`` (another run
of the job was still going) or ``missed`` (no leader, the process was down or stalled). A long
outage is summarized: one ``missed`` row whose ``slots`` says how many slots it stands for.

Every worker may serve the Admin → Jobs page, but only the leader knows its schedule; the leader
therefore publishes its next run times on its heartbeat row so any process can show them.
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
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, utcnow


class JobRun(Base):
    __tablename__ = "job_runs"
    __table_args__ = (
        CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'timed_out', 'skipped', 'missed')",
            name="status",
        ),
        CheckConstraint("run_trigger IN ('scheduled', 'manual')", name="run_trigger"),
        Index("ix_job_runs_job_started", "job_name", "started_at"),
        Index("ix_job_runs_started_at", "started_at"),
        Index("ix_job_runs_job_slot", "job_name", "scheduled_for"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job_name: Mapped[str] = mapped_column(String(64))
    run_trigger: Mapped[str] = mapped_column(String(16), default="scheduled")  # or "manual"
    actor: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    scheduled_for: Mapped[dt.datetime | None] = mapped_column(DateTime)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # running, succeeded, failed, timed_out, skipped or missed
    status: Mapped[str] = mapped_column(String(16))
    # How many scheduled slots this row stands for when more than one (a summarized gap)
    slots: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    late_ms: Mapped[int | None] = mapped_column(Integer)


class SchedulerNode(Base):
    """A process running the scheduler; ``next_runs`` maps job name to
    ISO UTC time (leader only)."""

    __tablename__ = "scheduler_nodes"
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    leader_since: Mapped[dt.datetime | None] = mapped_column(DateTime)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    tick_seconds: Mapped[float] = mapped_column(Float, default=5.0)
    next_runs: Mapped[dict[str, Any] | None] = mapped_column()
