"""Forecast filters and deviations on SQLite and PostgreSQL: the job fits each platform's and
category's revenue and orders from the roll-ups (skipping too short or sparse ones with the
reason), the data layer lists and reads them; a day is a deviation against the forecast made
before it, with the actual of the latest run; old runs keep the forecast days deviations need."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sqlalchemy import Engine, func, insert, select

from bi_app import forecasting as fc
from bi_app.db.forecast_models import ForecastPoint, ForecastRun
from bi_app.db.models import Category, DailyCategorySales, DailyOrders, SalesPlatform

pytestmark = pytest.mark.integration

END = dt.date(2026, 6, 30)
DAYS = 120
D0 = dt.date(2026, 5, 1)


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


def _roll_up_row(day: dt.date, status: str, orders: int, **keys) -> dict:
    return {
        "day": day,
        "status": status,
        "week": day - dt.timedelta(days=day.weekday()),
        "month": day.replace(day=1),
        "orders": orders,
        "revenue_cents": orders * 1000,
        "units": orders,
        **keys,
    }


def load_slices(engine: Engine) -> dict[tuple[str, dt.date], float]:
    """Two platforms (web: every day, kiosk: every fourth day) and two categories (toys: every
    day, garden: only the last 30 days), with cancelled orders that must not count. Returns the
    expected orders per (filter key, day)."""
    rng = np.random.default_rng(5)
    orders, categories, expected = [], [], {}
    for i in range(DAYS):
        day = END - dt.timedelta(days=DAYS - 1 - i)
        web = int(30 + (12 if day.weekday() == 5 else 0) + rng.normal(0, 2))
        kiosk = 6 if i % 4 == 0 else 0
        toys = int(20 + (8 if day.weekday() == 5 else 0) + rng.normal(0, 2))
        garden = 5 if i >= DAYS - 30 else 0
        for platform_id, n in ((1, web), (2, kiosk)):
            if n:
                orders.append(_roll_up_row(day, "delivered", n, platform_id=platform_id))
                orders.append(_roll_up_row(day, "cancelled", 50, platform_id=platform_id))
        for category_id, n in ((1, toys), (2, garden)):
            if n:
                for status, count in (("delivered", n - 2), ("shipped", 2), ("cancelled", 40)):
                    categories.append(
                        _roll_up_row(day, status, count, platform_id=1, category_id=category_id)
                    )
        expected[("platform:web", day)] = web
        expected[("category:toys", day)] = toys
        expected[("", day)] = web + kiosk
    with engine.begin() as conn:
        conn.execute(
            insert(SalesPlatform.__table__),
            [
                {"id": 1, "code": "web", "name": "Web shop"},
                {"id": 2, "code": "kiosk", "name": "Kiosk"},
            ],
        )
        conn.execute(
            insert(Category.__table__),
            [
                {"id": 1, "code": "toys", "name": "Toys"},
                {"id": 2, "code": "garden", "name": "Garden"},
            ],
        )
        conn.execute(insert(DailyOrders.__table__), orders)
        conn.execute(insert(DailyCategorySales.__table__), categories)
    return expected


def test_the_job_fits_each_platform_and_category(forecast_db):
    from bi_app.data import forecasts

    expected = load_slices(forecast_db)
    results = fc.fit_all(forecast_db, series=("orders",), end=END, currency="EUR", country="US")
    outcome = {r["filter_key"]: (r["status"], r["error"]) for r in results}
    assert outcome == {
        "": ("ok", None),
        "platform:web": ("ok", None),
        "platform:kiosk": ("skipped", "sales on 24% of the last 90 days, 50% needed"),
        "category:toys": ("ok", None),
        "category:garden": ("skipped", "30 days of history, 60 needed"),
    }
    with forecast_db.connect() as conn:
        runs = conn.execute(select(ForecastRun.filter_key, ForecastRun.params)).all()
    assert sorted(key for key, _params in runs) == ["", "category:toys", "platform:web"]
    assert {key: params.get("filter_label") for key, params in runs}["platform:web"] == "Web shop"

    # each stored run carries its own slice's actuals, read from the roll-ups
    for key in ("", "platform:web", "category:toys"):
        found = forecasts.latest_forecast("orders", key or None)
        assert found["run"]["filter_key"] == key
        history = found["points"].dropna(subset=["actual"])
        assert len(history) == DAYS
        for day, actual in zip(history["day"], history["actual"], strict=True):
            assert actual == expected[(key, day)], (key, day)
    # the data layer lists the stored slices (not the skipped ones), platforms first
    assert [(f["key"], f["label"]) for f in forecasts.forecast_filters("orders")] == [
        ("platform:web", "Web shop"),
        ("category:toys", "Toys"),
    ]
    assert forecasts.forecast_filters("revenue") == []
    assert forecasts.latest_forecast("orders", "platform:kiosk") is None
    # new customers (and attendance) have no platform split
    with pytest.raises(ValueError):
        fc.read_series(forecast_db, "new_customers", END, "EUR", "platform:web")


def _run(conn, series: str, history_end: dt.date, key: str = "", status: str = "ok") -> int:
    runs = ForecastRun.__table__
    return int(
        conn.execute(
            insert(runs)
            .values(
                series=series,
                filter_key=key,
                status=status,
                fitted_at=dt.datetime.combine(history_end + dt.timedelta(days=1), dt.time(3)),
                history_start=history_end - dt.timedelta(days=90),
                history_end=history_end,
                horizon_days=90,
                params={},
                quality={},
            )
            .returning(runs.c.id)
        ).scalar_one()
    )


def _points(conn, run_id: int, rows: list[tuple]) -> None:
    """``(day offset from D0, yhat, lower, upper, actual or None)``."""
    conn.execute(
        insert(ForecastPoint.__table__),
        [
            {
                "run_id": run_id,
                "day": D0 + dt.timedelta(days=offset),
                "yhat": yhat,
                "yhat_lower": lower,
                "yhat_upper": upper,
                "actual": actual,
            }
            for offset, yhat, lower, upper, actual in rows
        ],
    )


def load_runs(engine: Engine) -> dict[str, int]:
    """Three nightly runs of orders (A saw up to D0, B up to D0+2, C up to D0+4), a platform's
    run, and a revenue run whose band holds every day."""
    with engine.begin() as conn:
        a = _run(conn, "orders", D0)
        _points(
            conn, a, [(0, 100, 90, 110, 100)] + [(k, 100, 90, 110, None) for k in (1, 2, 3, 4, 5)]
        )
        b = _run(conn, "orders", D0 + dt.timedelta(days=2))
        # B saw day 1 as 108; a later import revised it to 120, which C saw
        _points(conn, b, [(1, 100, 90, 110, 108), (2, 100, 90, 110, 105)])
        _points(conn, b, [(k, 200, 190, 210, None) for k in (3, 4, 5)])
        c = _run(conn, "orders", D0 + dt.timedelta(days=4))
        _points(
            conn, c, [(1, 0, 0, 0, 120), (2, 0, 0, 0, 105), (3, 0, 0, 0, 150), (4, 0, 0, 0, 200)]
        )
        _points(conn, c, [(5, 300, 280, 320, None)])
        # a later failed run stores no points and changes nothing
        _run(conn, "orders", D0 + dt.timedelta(days=5), status="failed")
        web = _run(conn, "orders", D0, key="platform:web")
        _points(conn, web, [(1, 10, 8, 12, None), (2, 10, 8, 12, None)])
        web2 = _run(conn, "orders", D0 + dt.timedelta(days=2), key="platform:web")
        _points(conn, web2, [(1, 0, 0, 0, 20), (2, 0, 0, 0, 11)])
        rev = _run(conn, "revenue", D0)
        _points(conn, rev, [(1, 50, 0, 1000, None)])
        rev2 = _run(conn, "revenue", D0 + dt.timedelta(days=1))
        _points(conn, rev2, [(1, 0, 0, 0, 700)])
    return {"a": a, "b": b, "c": c, "web": web}


def test_each_day_is_compared_with_the_forecast_made_before_it(forecast_db):
    from bi_app.data import forecasts
    from bi_app.db.periods import use_timezone

    ids = load_runs(forecast_db)
    found = fc.deviations(forecast_db, D0)
    # day 1: A's forecast (100, 90-110) against the revised actual 120 -> 10 above the band;
    # day 2: 105 inside A's band; day 3: B's forecast (200, 190-210), actual 150 -> 40 below;
    # day 4: 200 inside B's band (A's band would have flagged it); day 5 has no actual yet
    assert [(d.day, d.actual, d.expected, d.lower, d.upper, d.run_id) for d in found] == [
        (D0 + dt.timedelta(days=3), 150.0, 200.0, 190.0, 210.0, ids["b"]),
        (D0 + dt.timedelta(days=1), 120.0, 100.0, 90.0, 110.0, ids["a"]),
    ]
    assert [d.outside for d in found] == [-40.0, 10.0]
    assert found[0].off_pct == pytest.approx(-0.25) and found[1].off_pct == pytest.approx(0.2)
    assert {d.series for d in found} == {"orders"} and {d.filter_key for d in found} == {""}

    assert [d.day for d in fc.deviations(forecast_db, D0, D0 + dt.timedelta(days=2))] == [
        D0 + dt.timedelta(days=1)
    ]
    assert fc.deviations(forecast_db, D0, series="revenue") == []
    assert [d.day for d in fc.deviations(forecast_db, D0, series=["orders", "revenue"])] == [
        D0 + dt.timedelta(days=3),
        D0 + dt.timedelta(days=1),
    ]
    # one platform's slice: 20 against 8-12 on day 1; day 2's 11 is inside
    web = fc.deviations(forecast_db, D0, filter_key="platform:web")
    assert [(d.filter_key, d.day, d.actual, d.run_id) for d in web] == [
        ("platform:web", D0 + dt.timedelta(days=1), 20.0, ids["web"])
    ]
    assert len(fc.deviations(forecast_db, D0, filter_key=None)) == 3
    # far outside: beyond half the band's width (10) -> only day 3 (40 below) is left
    assert [d.day for d in fc.deviations(forecast_db, D0, tolerance=0.5)] == [
        D0 + dt.timedelta(days=3)
    ]

    with use_timezone("UTC"):
        since = dt.datetime.combine(D0 + dt.timedelta(days=2), dt.time(12), tzinfo=dt.UTC)
        assert fc.count_deviations(forecast_db, since) == 1
        assert fc.count_deviations(forecast_db, since - dt.timedelta(days=2)) == 2
        assert fc.count_deviations(forecast_db, since - dt.timedelta(days=2), filter_key=None) == 3
    with use_timezone("Asia/Seoul"):  # 23:00 UTC on day 0 is day 1 in Seoul
        late = dt.datetime.combine(D0, dt.time(23))
        assert fc.count_deviations(forecast_db, late) == 2
        assert fc.count_deviations(forecast_db, late + dt.timedelta(days=1, hours=2)) == 1

    rows = forecasts.recent_deviations(D0)
    assert [(r["series"], r["day"], r["outside"]) for r in rows] == [
        ("orders", D0 + dt.timedelta(days=3), -40.0),
        ("orders", D0 + dt.timedelta(days=1), 10.0),
    ]


def test_old_runs_keep_their_forecast_days_a_while(forecast_db, monkeypatch):
    monkeypatch.setattr(fc, "KEEP_RUNS", 2)
    now = dt.datetime(2026, 6, 1, 3)
    points = [
        {"day": D0, "yhat": 1.0, "yhat_lower": 0.0, "yhat_upper": 2.0, "actual": 1.0},
        {
            "day": D0 + dt.timedelta(days=1),
            "yhat": 1.0,
            "yhat_lower": 0.0,
            "yhat_upper": 2.0,
            "actual": None,
        },
    ]

    def store(days_ago: int, key: str = "") -> int:
        row = {
            "series": "orders",
            "filter_key": key,
            "status": "ok",
            "fitted_at": now - dt.timedelta(days=days_ago),
            "horizon_days": 90,
            "params": {},
            "quality": {},
        }
        return fc._store(forecast_db, row, points)

    old = store(fc.DEVIATION_KEEP_DAYS + 5)
    mid = store(10)
    other = store(fc.DEVIATION_KEEP_DAYS + 5, key="platform:web")  # another slice: untouched
    newer = [store(2), store(1)]
    with forecast_db.connect() as conn:
        runs = [r for (r,) in conn.execute(select(ForecastRun.id).order_by(ForecastRun.id))]
        kept = dict(
            conn.execute(
                select(ForecastPoint.run_id, func.count()).group_by(ForecastPoint.run_id)
            ).all()
        )
        trimmed = conn.execute(
            select(ForecastPoint.actual).where(ForecastPoint.run_id == mid)
        ).all()
    assert old not in runs and runs == [mid, other, *newer]
    assert kept == {mid: 1, other: 2, newer[0]: 2, newer[1]: 2}
    assert trimmed == [(None,)]  # the forecast day stays, the history goes
