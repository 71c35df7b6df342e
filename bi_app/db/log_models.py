"""The ``app_logs`` table: structured application log lines written by
:mod:`bi_app.monitoring.logs` and read by :mod:`bi_app.monitoring.logs_query`.

Kept apart from :mod:`bi_app.db.models` so the log capture has no dependency on the business
schema; it shares ``Base`` (and so the metadata Alembic compares against).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base

MESSAGE_MAX_CHARS = 8000
EXC_TEXT_MAX_CHARS = 20000


class AppLog(Base):
    """One log record; ``level`` is the numeric level (for "at least WARNING" filters)."""

    __tablename__ = "app_logs"
    __table_args__ = (
        Index("ix_app_logs_at", "at"),
        Index("ix_app_logs_level_at", "level", "at"),
        Index("ix_app_logs_logger_at", "logger", "at"),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    level: Mapped[int] = mapped_column(SmallInteger)
    level_name: Mapped[str] = mapped_column(String(16))
    logger: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    module: Mapped[str | None] = mapped_column(String(200))
    func: Mapped[str | None] = mapped_column(String(200))
    line: Mapped[int | None] = mapped_column(Integer)
    exc_text: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(64))
    host: Mapped[str | None] = mapped_column(String(128))
    pid: Mapped[int | None] = mapped_column(Integer)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
