"""In the browser: /forecasts before any fit says the job has not run; after the forecast job ran
on the demo data it shows the chart with its band, the quality card beside the baseline and the
insights; a new horizon reaches the chart and the URL; a platform or a category picks its stored
forecast (one at a time, in the URL); "Recent deviations" lists the days outside the band of the
forecast made before them; Refit now runs the job in the background and reports its outcome."""

from __future__ import annotations

import datetime as dt

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import insert

from bi_app import forecasting as fc
from bi_app.db.forecast_models import ForecastPoint, ForecastRun
from bi_app.extensions import db
from components.ids import Forecasts
from tests.conftest import login
from tests.e2e.conftest import select_dropdown, wait_until

pytestmark = pytest.mark.e2e


def _forecast_points(dash_duo) -> int:
    """How many forecast days the chart draws (the dotted trace's points)."""
    return dash_duo.driver.execute_script(
        "var g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "if (!g || !g.data) { return -1; }"
        "var f = g.data.filter(function (t) { return t.line && t.line.dash === 'dot'; });"
        "return f.length ? f[0].x.length : -1;",
        f"#{Forecasts.GRAPH}",
    )


def _old_orders_run(engine, end: dt.date) -> None:
    """An earlier nightly run of orders (history to ``end`` - 3) whose forecast of the last three
    days (1 to 2 orders) the demo's actuals are far above: three deviations."""
    runs = ForecastRun.__table__
    with engine.begin() as conn:
        run_id = conn.execute(
            insert(runs)
            .values(
                series="orders",
                filter_key="",
                status="ok",
                fitted_at=dt.datetime.combine(end - dt.timedelta(days=2), dt.time(3)),
                history_end=end - dt.timedelta(days=3),
                horizon_days=90,
                params={},
                quality={},
            )
            .returning(runs.c.id)
        ).scalar_one()
        conn.execute(
            insert(ForecastPoint.__table__),
            [
                {
                    "run_id": run_id,
                    "day": end - dt.timedelta(days=k),
                    "yhat": 1.5,
                    "yhat_lower": 1.0,
                    "yhat_upper": 2.0,
                    "actual": None,
                }
                for k in range(3)
            ],
        )


def _picked(dash_duo, component_id: str) -> str:
    return dash_duo.find_element(f"#{component_id}").text


def test_forecasts_page(demo_app, start_app):
    dash_duo = start_app(demo_app)
    login(dash_duo, next_path="/forecasts")
    dash_duo.driver.set_window_size(1400, 1300)
    wait_until(
        dash_duo,
        "the no-forecast notice",
        lambda: "has not run yet" in dash_duo.find_element(f"#{Forecasts.FITTED}").text,
    )
    assert "Forecasts" in dash_duo.find_element("#app-sidebar").text

    with demo_app.server.app_context():
        from bi_app.filters import local_today

        end = local_today() - dt.timedelta(days=1)
        _old_orders_run(db.require_engine(), end)
        results = fc.fit_all(db.require_engine())
    totals = [r for r in results if not r["filter_key"]]
    status = {r["series"]: r["status"] for r in totals}
    assert status["revenue"] == status["orders"] == "ok"
    # new customers come from the customer stats, which the customer_tags job computes
    assert status["new_customers"] in ("ok", "insufficient_history")

    dash_duo.driver.get(f"{dash_duo.server_url}/forecasts?series=orders&horizon=7")
    wait_until(dash_duo, "the 7-day forecast", lambda: _forecast_points(dash_duo) == 7)
    quality = dash_duo.find_element(f"#{Forecasts.QUALITY}").text
    assert "Backtest MAPE" in quality and "Seasonal-naive MAPE" in quality
    assert "seasonal-naive baseline" in quality
    orders = results[1]["quality"]
    shown = fc.format_percent(orders["mape"], digits=1)
    assert shown in quality
    insights = dash_duo.find_element(f"#{Forecasts.INSIGHTS}").text
    assert "over the next 7 days" in insights and "The weekly peak is" in insights
    assert "Fitted" in dash_duo.find_element(f"#{Forecasts.FITTED}").text

    labels = dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{Forecasts.HORIZON} label")
    next(label for label in labels if label.text.startswith("90")).click()
    wait_until(dash_duo, "the 90-day forecast", lambda: _forecast_points(dash_duo) == 90)
    wait_until(dash_duo, "the URL", lambda: "horizon=90" in dash_duo.driver.current_url)
    assert "series=orders" in dash_duo.driver.current_url
    assert "over the next 90 days" in dash_duo.find_element(f"#{Forecasts.INSIGHTS}").text
    dash_duo.driver.save_screenshot("/tmp/forecasts.png")

    # "Recent deviations": the three days the earlier run forecast far too low, newest first
    table = dash_duo.find_element(f"#{Forecasts.DEVIATIONS}")
    rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 3, table.text
    first = rows[0].find_elements(By.TAG_NAME, "td")
    assert first[0].text == "Daily orders"
    assert str(end.year) in first[1].text and str(end.day) in first[1].text
    assert first[5].text.startswith("+")  # far above the expected 1.5 orders

    # a platform, then a category: each shows its own stored forecast, one at a time
    fitted = [r for r in results if r["filter_key"] and r["status"] == "ok"]
    platform = next(r for r in fitted if r["filter_key"].startswith("platform:"))
    category = next(r for r in fitted if r["filter_key"].startswith("category:"))
    stored = {r["filter_key"] for r in fitted}
    platform_code = platform["filter_key"].split(":", 1)[1]
    category_code = category["filter_key"].split(":", 1)[1]
    with demo_app.server.app_context():
        from bi_app.data import forecasts

        names = {f["key"]: f["label"] for f in forecasts.forecast_filters("orders")}
    assert set(names) == stored
    dash_duo.driver.get(f"{dash_duo.server_url}/forecasts?series=orders&platform={platform_code}")
    wait_until(
        dash_duo,
        "the platform's forecast",
        lambda: (
            f"Platform {names[platform['filter_key']]} only." in _picked(dash_duo, Forecasts.FITTED)
        ),
    )
    select_dropdown(dash_duo, f"#{Forecasts.CATEGORY}", names[category["filter_key"]])
    wait_until(
        dash_duo,
        "the category's forecast",
        lambda: (
            f"Category {names[category['filter_key']]} only." in _picked(dash_duo, Forecasts.FITTED)
        ),
    )
    wait_until(
        dash_duo, "the URL", lambda: f"category={category_code}" in dash_duo.driver.current_url
    )
    assert "platform=" not in dash_duo.driver.current_url  # the platform was cleared
    radios = dash_duo.driver.find_elements(By.CSS_SELECTOR, f"#{Forecasts.SERIES} label")
    next(label for label in radios if label.text == "New customers").click()
    wait_until(
        dash_duo, "the URL without a filter", lambda: "category=" not in dash_duo.driver.current_url
    )
    assert "only." not in _picked(dash_duo, Forecasts.FITTED)

    dash_duo.find_element(f"#{Forecasts.REFIT}").click()
    wait_until(
        dash_duo,
        "the refit's outcome",
        lambda: "were refitted" in dash_duo.find_element(f"#{Forecasts.REFIT_MESSAGE}").text,
        timeout=300,  # the totals, then each platform's and category's revenue and orders
    )
    assert dash_duo.get_logs() == []
