"""Stored forecasts: ``forecast_runs`` and ``forecast_points``.

A run is one fit of one named series (``revenue``, ``orders``) by the ``forecast_fit`` job: the
history it saw, the horizon it forecast, its parameters, its backtest quality (MAPE, 80 %
interval coverage, the seasonal-naive baseline's MAPE) and the fitted Prophet model as JSON
(never a pickle). A run that failed or had too little history is stored too (``status``), with
no points. Points are the run's days: the history (``actual`` set) and the forecast (``actual``
None), each with the model's line and its 80 % interval. Pages read the latest ``ok`` run.
``filter_key`` says which slice of the business a run fits ("" the totals; ``platform:<code>``,
``category:<code>``); older runs keep their forecast days a while for the deviation findings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bi_app.db.models import Base, _in, utcnow

FORECAST_STATUSES = ("ok", "failed", "insufficient_history")


class ForecastRun(Base):
    __tablename__ = "forecast_runs"
    __table_args__ = (
        CheckConstraint("status IN " + _in(FORECAST_STATUSES), name="status"),
        Index("ix_forecast_runs_series_fitted", "series", "status", "fitted_at"),
        Index("ix_forecast_runs_series_filter", "series", "filter_key", "status", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    series: Mapped[str] = mapped_column(String(32))
    # "" for the whole business; "platform:<code>" / "category:<code>" for one platform's or one
    # category's series (bi_app.forecasting.filter_key)
    filter_key: Mapped[str] = mapped_column(String(160), default="", server_default="")
    status: Mapped[str] = mapped_column(String(24))
    fitted_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    history_start: Mapped[dt.date | None] = mapped_column(Date)
    history_end: Mapped[dt.date | None] = mapped_column(Date)
    horizon_days: Mapped[int] = mapped_column(Integer)
    fit_seconds: Mapped[float | None] = mapped_column(Float)
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    quality: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_json: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class ForecastPoint(Base):
    __tablename__ = "forecast_points"
    run_id: Mapped[int] = mapped_column(
        ForeignKey("forecast_runs.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    yhat: Mapped[float] = mapped_column(Float)
    yhat_lower: Mapped[float] = mapped_column(Float)
    yhat_upper: Mapped[float] = mapped_column(Float)
    actual: Mapped[float | None] = mapped_column(Float)  # None: a forecast day
