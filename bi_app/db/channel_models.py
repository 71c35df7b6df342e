"""Configuration of external channel sources and the last good statistics each one delivered.

A channel without an enabled row in ``channel_sources`` is served by the built-in demo source
(the ``event_channel_stats`` table). ``channel_last_good`` is shared by every worker, so a source
that fails after a restart or on another host still has something to fall back to.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, utcnow


class ChannelSourceConfig(Base):
    __tablename__ = "channel_sources"
    __table_args__ = (
        CheckConstraint("kind IN ('http')", name="kind"),
        CheckConstraint("timeout_s > 0 AND timeout_s <= 120", name="timeout_s"),
    )
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="http")
    url: Mapped[str] = mapped_column(String(500))
    auth_header_name: Mapped[str | None] = mapped_column(String(64))
    # a secret, stored encrypted ("fernet:<token>", bi_app.secret_box; up to 500 characters of
    # plaintext): kept out of logs, snapshots and error messages
    auth_header_value: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    timeout_s: Mapped[float] = mapped_column(Float, default=10.0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ChannelLastGood(Base):
    __tablename__ = "channel_last_good"
    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger)
    clicks: Mapped[int] = mapped_column(BigInteger)
    conversions: Mapped[int] = mapped_column(BigInteger)
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime)
