"""In the browser: /forecasts before any fit says the job has not run; after the forecast job ran
on the demo data it shows the chart with its band, the quality card beside the baseline and the
insights; a new horizon reaches the chart and the URL; Refit now runs the job in the background
and reports its outcome."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from bi_app import forecasting as fc
from bi_app.extensions import db
from components.ids import Forecasts
from tests.conftest import login
from tests.e2e.conftest import wait_until

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
        results = fc.fit_all(db.require_engine())
    status = {r["series"]: r["status"] for r in results}
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

    dash_duo.find_element(f"#{Forecasts.REFIT}").click()
    wait_until(
        dash_duo,
        "the refit's outcome",
        lambda: "were refitted" in dash_duo.find_element(f"#{Forecasts.REFIT_MESSAGE}").text,
        timeout=60,
    )
    assert dash_duo.get_logs() == []
