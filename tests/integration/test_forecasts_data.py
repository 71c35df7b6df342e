"""The forecast job on a small synthetic roll-up history, on SQLite and PostgreSQL: runs and
points are stored with their quality, the model JSON loads back, too little history is said so,
and the data layer reads the latest good run."""

from __future__ import annotations

import datetime as dt
import math
import time

import numpy as np
import pytest
from sqlalchemy import Engine, delete, func, insert, select

from bi_app import forecasting as fc
from bi_app.db.analytics_models import CustomerStats
from bi_app.db.forecast_models import ForecastPoint, ForecastRun
from bi_app.db.models import DailyOrders

pytestmark = pytest.mark.integration

END = dt.date(2026, 6, 30)
DAYS = 120


def load_history(engine: Engine, days: int) -> None:
    """``days`` days ending :data:`END`: orders with a weekly cycle (Saturday peak) and noise,
    split over two statuses, plus cancelled orders that must not count."""
    rng = np.random.default_rng(3)
    rows = []
    for i in range(days):
        day = END - dt.timedelta(days=days - 1 - i)
        base = 40 + 0.05 * i + (18 if day.weekday() == 5 else 0)
        orders = int(base + rng.normal(0, 3))
        for status, share in (("delivered", 0.8), ("shipped", 0.2), ("cancelled", 0.3)):
            n = max(int(orders * share), 0)
            rows.append(
                {
                    "day": day,
                    "platform_id": 1,
                    "status": status,
                    "week": day - dt.timedelta(days=day.weekday()),
                    "month": day.replace(day=1),
                    "orders": n,
                    "revenue_cents": n * 2500,
                    "units": n,
                }
            )
    customers = []
    for i in range(days):
        day = END - dt.timedelta(days=days - 1 - i)
        for _k in range(2 + (2 if day.weekday() == 5 else 0) + int(rng.integers(0, 3))):
            customers.append(_customer(len(customers) + 1, dt.datetime.combine(day, dt.time(10))))
    with engine.begin() as conn:
        conn.execute(delete(DailyOrders.__table__))
        conn.execute(insert(DailyOrders.__table__), rows)
        conn.execute(delete(CustomerStats.__table__))
        conn.execute(insert(CustomerStats.__table__), customers)


def _customer(customer_id: int, first_order: dt.datetime) -> dict:
    """A ``customer_stats`` row whose first order was at ``first_order`` (naive UTC)."""
    return {
        "customer_id": customer_id,
        "as_of": END,
        "visits": 1,
        "orders": 1,
        "spend_cents": 100,
        "first_order": first_order,
        "last_order": first_order,
        "segment": "new",
        "first_month": first_order.date().replace(day=1),
        "last_visit_day": -1,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def forecast_db(request, tmp_path):
    from bi_app.extensions import db
    from tests.conftest import migrate

    url = (
        f"sqlite:///{tmp_path / 'forecasts.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    db.init(url)
    yield db.require_engine()
    db.engine.dispose()


def test_fit_all_stores_runs_points_and_quality(forecast_db):
    from bi_app.data import forecasts

    load_history(forecast_db, DAYS)
    results = fc.fit_all(forecast_db, end=END, currency="EUR", country="KR")
    assert [(r["series"], r["status"]) for r in results] == [
        ("revenue", "ok"),
        ("orders", "ok"),
        ("new_customers", "ok"),
        ("attendance", "insufficient_history"),  # no event check-ins
    ]

    with forecast_db.connect() as conn:
        runs = conn.execute(select(ForecastRun.__table__).order_by(ForecastRun.id)).all()
        orders_run = runs[1]
        points = conn.execute(
            select(ForecastPoint.__table__)
            .where(ForecastPoint.run_id == orders_run.id)
            .order_by(ForecastPoint.day)
        ).all()
    assert orders_run.history_end == END
    assert orders_run.history_start == END - dt.timedelta(days=DAYS - 1)
    assert orders_run.horizon_days == fc.HORIZON
    assert orders_run.params["country"] == "KR"
    quality = orders_run.quality
    assert set(quality) >= {"mape", "coverage", "baseline_mape", "beats_baseline", "coverage_ok"}
    assert 0 < quality["mape"] < 1 and 0 <= quality["coverage"] <= 1
    assert quality["days"] == 2 * fc.BACKTEST_HORIZON  # origins at days 70 and 90 of 120
    # history days carry the actual (delivered + shipped only), forecast days none
    assert len(points) == DAYS + fc.HORIZON
    history = [p for p in points if p.actual is not None]
    assert len(history) == DAYS
    assert points[DAYS].day == END + dt.timedelta(days=1) and points[DAYS].actual is None
    last = history[-1]
    assert all(p.yhat_lower <= p.yhat <= p.yhat_upper for p in points)
    # the synthetic last day, recomputed: delivered int(0.8 n) + shipped int(0.2 n)
    assert last.actual > 0 and last.actual == float(int(last.actual))
    revenue_points = forecasts.latest_forecast("revenue")["points"]
    assert revenue_points["actual"].dropna().iloc[-1] == pytest.approx(last.actual * 25)

    model = fc.load_model(orders_run.model_json)  # prophet.serialize.model_from_json
    future = model.make_future_dataframe(periods=3, include_history=False)
    assert len(fc.predict(model, future)) == 3

    found = forecasts.latest_forecast("orders")
    assert found["run"]["id"] == orders_run.id and found["latest"]["status"] == "ok"
    assert len(found["points"]) == DAYS + fc.HORIZON
    assert not math.isnan(found["run"]["quality"]["coverage"])
    new = forecasts.latest_forecast("new_customers")["points"]["actual"].dropna()
    with forecast_db.connect() as conn:
        customers = conn.execute(select(func.count()).select_from(CustomerStats)).scalar_one()
    assert len(new) == DAYS and new.sum() == customers  # each on the day of its first order


def test_new_customers_are_counted_on_the_business_day(forecast_db):
    from bi_app.db.periods import use_timezone

    late = dt.datetime.combine(END - dt.timedelta(days=1), dt.time(23, 30))  # UTC
    with forecast_db.begin() as conn:
        conn.execute(insert(CustomerStats.__table__), [_customer(1, late), _customer(2, late)])
    utc = fc.read_series(forecast_db, "new_customers", END, "EUR")
    assert utc.index[0].date() == END - dt.timedelta(days=1) and list(utc) == [2.0, 0.0]
    with use_timezone("Asia/Seoul"):  # 08:30 the next morning in Seoul
        seoul = fc.read_series(forecast_db, "new_customers", END, "EUR")
    assert seoul.index[0].date() == END and list(seoul) == [2.0]


def test_attendance_counts_check_ins_per_business_day(forecast_db):
    from bi_app.db.models import Event, EventRegistration
    from bi_app.db.periods import use_timezone

    day = END - dt.timedelta(days=1)
    late = dt.datetime.combine(day, dt.time(23, 30))  # UTC: the next morning in Seoul
    noon = dt.datetime.combine(day, dt.time(12))
    rows = [
        (True, noon),
        (True, noon),
        (True, late),
        (False, None),  # registered, never came
        (False, noon),  # scanned but not marked attended: not counted
        (True, dt.datetime.combine(END + dt.timedelta(days=1), dt.time(9))),  # after the end
    ]
    with forecast_db.begin() as conn:
        event_id = conn.execute(
            insert(Event.__table__).values(**_event_row(day)).returning(Event.__table__.c.id)
        ).scalar_one()
        conn.execute(
            insert(EventRegistration.__table__),
            [
                {
                    "event_id": event_id,
                    "registered_at": noon - dt.timedelta(days=3),
                    "attended": attended,
                    "checked_in_at": checked_in,
                    "is_returning": False,
                }
                for attended, checked_in in rows
            ],
        )
    utc = fc.read_series(forecast_db, "attendance", END, "EUR")
    assert utc.index[0].date() == day and list(utc) == [3.0, 0.0]
    with use_timezone("Asia/Seoul"):
        seoul = fc.read_series(forecast_db, "attendance", END, "EUR")
    assert list(seoul) == [2.0, 1.0]
    # two days are far from the history a fit needs: stored as such, with the clear message
    [result] = fc.fit_all(
        forecast_db, series=("attendance",), end=END, currency="EUR", country="US"
    )
    assert result["status"] == "insufficient_history"
    assert result["error"] == f"2 days of history, {fc.MIN_HISTORY_DAYS} needed"


def _event_row(day: dt.date) -> dict:
    start = dt.datetime.combine(day, dt.time(9))
    return {
        "code": "ev-1",
        "name": "Launch",
        "kind": "event",
        "organizer": "Marketing",
        "status": "completed",
        "starts_at": start,
        "ends_at": start + dt.timedelta(hours=8),
        "budget_cents": 0,
        "ticket_price_cents": 0,
    }


def test_too_little_history_is_stored_as_such(forecast_db):
    from bi_app.data import forecasts

    assert forecasts.latest_forecast("orders") is None
    load_history(forecast_db, 30)
    results = fc.fit_all(forecast_db, series=("orders",), end=END, currency="EUR", country="US")
    assert results[0]["status"] == "insufficient_history"
    found = forecasts.latest_forecast("orders")
    assert found["run"] is None and found["latest"]["status"] == "insufficient_history"
    assert found["points"].empty
    with forecast_db.connect() as conn:
        assert conn.execute(select(ForecastPoint.__table__)).all() == []


def _refit_body(app) -> dict:
    """The request Dash's renderer sends when "Refit now" is clicked."""
    from components.ids import Forecasts

    [key] = [k for k in app.callback_map if f"{Forecasts.REFIT_RUN_STORE}.data" in k]
    outputs = [
        {"id": Forecasts.REFIT_RUN_STORE, "property": "data"},
        {"id": Forecasts.REFIT_POLL, "property": "disabled"},
        {"id": Forecasts.REFIT_MESSAGE, "property": "children"},
        {"id": Forecasts.REFIT_MESSAGE, "property": "color"},
        {"id": Forecasts.REFIT_MESSAGE, "property": "is_open"},
    ]
    return {
        "output": key,
        "outputs": outputs,
        "inputs": [{"id": Forecasts.REFIT, "property": "n_clicks", "value": 1}],
        "changedPropIds": [f"{Forecasts.REFIT}.n_clicks"],
        "state": [],
    }


def test_only_analysts_and_admins_may_refit(demo_app):
    from bi_app.data import forecasts
    from bi_app.db.job_models import JobRun
    from bi_app.extensions import db
    from components.ids import Forecasts
    from tests.conftest import signed_in_client
    from tests.integration.test_page_roles import routed, well_formed

    viewer = signed_in_client(demo_app, "viewer")
    page = routed(viewer, well_formed("/forecasts"))
    assert page.status_code == 200 and Forecasts.GRAPH in page.get_data(as_text=True)
    assert Forecasts.REFIT not in page.get_data(as_text=True)  # no button to see
    refused = viewer.post("/_dash-update-component", json=_refit_body(demo_app))
    assert refused.status_code == 403  # and the server refuses the forged click
    with db.require_engine().connect() as conn:
        assert conn.execute(select(JobRun.id).where(JobRun.job_name == "forecast_fit")).all() == []

    analyst = signed_in_client(demo_app, "analyst")
    assert Forecasts.REFIT in routed(analyst, well_formed("/forecasts")).get_data(as_text=True)
    started = analyst.post("/_dash-update-component", json=_refit_body(demo_app))
    assert started.status_code == 200, started.get_data(as_text=True)
    run_id = started.get_json()["response"][Forecasts.REFIT_RUN_STORE]["data"]
    assert isinstance(run_id, int)
    # the click returned at once; the fit runs in the background
    deadline = time.monotonic() + 600  # the totals, then each platform's and category's
    while (progress := forecasts.refit_progress(run_id, len(fc.SERIES)))["state"] == "running":
        assert time.monotonic() < deadline, progress
        time.sleep(0.2)
    assert progress == {"state": "succeeded", "done": 4, "total": 4, "error": None}
    assert forecasts.latest_forecast("orders")["run"]["status"] == "ok"
