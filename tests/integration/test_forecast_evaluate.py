"""``evaluate`` (for ``bi-app evaluate``): the quality targets from the latest stored run of the
totals, or from a backtest run now when none is stored, with nothing stored by it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select

from bi_app import forecasting as fc
from bi_app.db.forecast_models import ForecastRun
from tests.integration.test_forecast_filters import forecast_db  # noqa: F401 - the fixture
from tests.integration.test_forecasts_data import END, load_history

pytestmark = pytest.mark.integration


def _stored(conn, series: str, quality: dict, key: str = "", status: str = "ok") -> int:
    runs = ForecastRun.__table__
    return int(
        conn.execute(
            insert(runs)
            .values(
                series=series,
                filter_key=key,
                status=status,
                fitted_at=dt.datetime(2026, 7, 1, 3),
                horizon_days=90,
                params={},
                quality=quality,
            )
            .returning(runs.c.id)
        ).scalar_one()
    )


def _quality(model: float, base: float, cover: float) -> dict:
    """A stored run's backtest quality, as :func:`fc.quality_summary` writes it."""
    return {
        "mape": model,
        "baseline_mape": base,
        "coverage": cover,
        "beats_baseline": model <= fc.BEAT_RATIO * base,
        "coverage_ok": fc.COVERAGE_TARGET[0] <= cover <= fc.COVERAGE_TARGET[1],
        "days": 120,
    }


def test_evaluate_reads_the_latest_stored_runs(forecast_db):  # noqa: F811
    with forecast_db.begin() as conn:
        _stored(conn, "revenue", _quality(0.30, 0.31, 0.5))  # an older run
        revenue = _stored(conn, "revenue", _quality(0.135, 0.19, 0.79))
        _stored(conn, "revenue", {}, status="failed")  # a later failure changes nothing
        _stored(conn, "revenue", _quality(0.9, 0.1, 0.1), key="platform:web")  # a slice
        orders = _stored(conn, "orders", _quality(0.14, 0.16, 0.90))
    found = fc.evaluate(forecast_db)
    assert found["targets"] == {"ratio_max": 0.8, "coverage": [0.75, 0.85]}
    rev, order = found["series"]["revenue"], found["series"]["orders"]
    assert rev["run_id"] == revenue and rev["source"] == "stored"
    assert rev["mape"] == 0.135 and rev["baseline_mape"] == 0.19
    assert rev["ratio"] == pytest.approx(0.135 / 0.19) and rev["coverage"] == 0.79
    assert rev["beats_baseline"] and rev["coverage_ok"] and rev["met"]
    # 0.14 / 0.16 = 0.875 > 0.8 and 90 % coverage: neither target met
    assert order["run_id"] == orders and order["ratio"] == pytest.approx(0.875)
    assert not order["beats_baseline"] and not order["coverage_ok"] and not order["met"]
    assert found["met"] is False


def test_evaluate_backtests_when_nothing_is_stored(forecast_db):  # noqa: F811
    load_history(forecast_db, 120)
    found = fc.evaluate(forecast_db, series=("orders",), end=END, currency="EUR", country="US")
    orders = found["series"]["orders"]
    history = fc.read_series(forecast_db, "orders", END, "EUR")
    expected = fc.backtest(history, "US")
    assert orders["source"] == "fitted" and orders["run_id"] is None
    assert orders["mape"] == pytest.approx(expected["mape"])
    assert orders["coverage"] == pytest.approx(expected["coverage"])
    assert orders["ratio"] == pytest.approx(expected["mape"] / expected["baseline_mape"])
    assert orders["met"] == (expected["beats_baseline"] and expected["coverage_ok"])
    assert orders["days"] == 2 * fc.BACKTEST_HORIZON
    with forecast_db.connect() as conn:  # evaluating stores nothing
        assert conn.execute(select(func.count()).select_from(ForecastRun)).scalar_one() == 0


def test_evaluate_says_when_history_is_too_short(forecast_db):  # noqa: F811
    load_history(forecast_db, 50)
    found = fc.evaluate(forecast_db, series=("revenue",), end=END, currency="EUR", country="US")
    assert found["series"]["revenue"] == {
        "met": False,
        "source": "fitted",
        "run_id": None,
        "error": "50 days of history, 90 needed",
    }
    assert found["met"] is False
