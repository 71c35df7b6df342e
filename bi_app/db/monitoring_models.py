"""Operations-monitoring tables: health time series, resource samples, request/callback metrics.

Metric rows carry a ``source`` (host:pid) because every worker keeps its own in-memory
aggregator and flushes its own rows; readers merge them. ``buckets`` holds the sparse latency
histogram (see :mod:`bi_app.monitoring.histogram`) so percentiles can be merged exactly across
workers and minutes instead of averaging percentiles.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
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

OVERALL_CHECK = "overall"


class HealthResult(Base):
    """One check's outcome at one run; the run's overall status is the row named ``overall``."""

    __tablename__ = "health_results"
    __table_args__ = (
        CheckConstraint("status IN ('healthy', 'degraded', 'unhealthy')", name="status"),
        Index("ix_health_results_check_at", "check_name", "at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    check_name: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16))  # healthy, degraded or unhealthy
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class ResourceSample(Base):
    __tablename__ = "resource_samples"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    source: Mapped[str] = mapped_column(String(128))
    cpu_percent: Mapped[float] = mapped_column(Float)
    memory_percent: Mapped[float] = mapped_column(Float)
    memory_used_bytes: Mapped[int] = mapped_column(BigInteger)
    disk_percent: Mapped[float] = mapped_column(Float)
    disk_used_bytes: Mapped[int] = mapped_column(BigInteger)
    net_sent_bps: Mapped[float] = mapped_column(Float)
    net_recv_bps: Mapped[float] = mapped_column(Float)


class _MetricColumns:
    """Columns shared by the per-minute and per-hour request metric tables."""

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bucket: Mapped[dt.datetime] = mapped_column(DateTime)
    source: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))  # "http" or "callback"
    name: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(8))
    count: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    sum_ms: Mapped[float] = mapped_column(Float)
    max_ms: Mapped[float] = mapped_column(Float)
    p50_ms: Mapped[float] = mapped_column(Float)
    p95_ms: Mapped[float] = mapped_column(Float)
    buckets: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RequestMetricMinute(_MetricColumns, Base):
    __tablename__ = "request_metrics_minute"
    __table_args__ = (
        CheckConstraint("kind IN ('http', 'callback')", name="kind"),
        Index("ix_request_metrics_minute_bucket_kind", "bucket", "kind"),
    )


class RequestMetricHour(_MetricColumns, Base):
    __tablename__ = "request_metrics_hour"
    __table_args__ = (
        CheckConstraint("kind IN ('http', 'callback')", name="kind"),
        Index("ix_request_metrics_hour_bucket_kind", "bucket", "kind"),
    )


class CacheMetricMinute(Base):
    __tablename__ = "cache_metrics_minute"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    bucket: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    source: Mapped[str] = mapped_column(String(128))
    hits: Mapped[int] = mapped_column(Integer)
    misses: Mapped[int] = mapped_column(Integer)


class MonitoredService(Base):
    """An external HTTP service checked by the health job (admin-managed).

    The auth header's value is not stored: ``auth_env`` names an environment variable holding
    ``Header-Name: value``, so the database never holds a credential.
    """

    __tablename__ = "monitored_services"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    url: Mapped[str] = mapped_column(String(500))
    expected_status: Mapped[int] = mapped_column(Integer, default=200)
    timeout_s: Mapped[float] = mapped_column(Float, default=5.0)
    auth_env: Mapped[str | None] = mapped_column(String(128), nullable=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
