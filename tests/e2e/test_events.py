"""In the browser: /events lists every event; a row click opens its page with summary cards,
charts and suggestions; the what-if calculator changes the ROI; a bad id shows a message."""

from __future__ import annotations

import time

import pytest
from selenium.common.exceptions import ElementClickInterceptedException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import text

from bi_app.db.engine import make_engine
from bi_app.models import attendance
from tests.conftest import login
from tests.e2e.conftest import wait_until
from tests.integration.test_attendance_model import seed_events

pytestmark = pytest.mark.e2e

FIRST_CODE = ".ag-pinned-left-cols-container .ag-row[row-index='0'] [col-id='code']"


def _events_newest_first(url: str) -> list:
    """``(id, code, name, status)`` of every event in the list's order (newest first)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            codes = conn.execute(
                text("SELECT id, code, name, status FROM events ORDER BY starts_at DESC, id")
            ).all()
    finally:
        engine.dispose()
    return codes


def _click(dash_duo, selector: str) -> None:
    """Click a button after scrolling it to the middle of the window: at the bottom edge the
    click can land on whatever else is drawn there (an intercepted click)."""
    button = dash_duo.find_element(selector)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    try:
        button.click()
    except ElementClickInterceptedException:  # the events grid above it was still growing
        dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
        time.sleep(0.5)
        button.click()


def _set(dash_duo, selector: str, value: str) -> None:
    field = dash_duo.find_element(selector)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    field.send_keys(value)


def test_events_list_detail_what_if_and_bad_id(demo_sqlite_url, app_factory, start_app):
    dash_duo = start_app(app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/events")
    dash_duo.driver.get(f"{dash_duo.server_url}/events")

    events = _events_newest_first(demo_sqlite_url)
    newest_code = events[0][1]
    wait_until(
        dash_duo,
        f"the grid to list {newest_code} first",
        lambda: dash_duo.find_element(FIRST_CODE).text == newest_code,
    )
    rows = dash_duo.driver.find_elements(By.CSS_SELECTOR, ".ag-center-cols-container .ag-row")
    assert len(rows) == min(len(events), 20)  # first page of the grid
    dash_duo.driver.save_screenshot("/tmp/events-list.png")

    # open the first completed event with costs and attendance from the list
    held = next(e for e in events if e[3] == "completed")
    index = [e[0] for e in events].index(held[0])
    dash_duo.find_element(
        f".ag-center-cols-container .ag-row[row-index='{index}'] [col-id='name']"
    ).click()
    wait_until(
        dash_duo,
        "the event page's URL",
        lambda: dash_duo.driver.current_url.endswith(f"/events/{held[0]}"),
    )
    dash_duo.wait_for_text_to_equal(".app-event-detail h1", held[2], timeout=15)
    dash_duo.wait_for_contains_text("#event-detail-summary-row", "Industry average", timeout=20)
    dash_duo.wait_for_element("#event-detail-channel-graph .bars path", timeout=15)
    dash_duo.wait_for_element("#event-detail-checkins-graph .bars path", timeout=15)
    dash_duo.wait_for_element("#event-detail-costs-graph .bars path", timeout=15)
    dash_duo.wait_for_contains_text("#event-detail-channel-table", "email", timeout=10)
    dash_duo.wait_for_contains_text("#event-detail-whatif-result", "New ROI", timeout=10)
    current_roi = dash_duo.find_element(".app-whatif-roi").text
    roi_card = dash_duo.find_element(".app-event-card-roi").text.split("\n")
    assert roi_card[1] == current_roi  # unchanged inputs: same ROI
    dash_duo.driver.set_window_size(1400, 2700)  # the whole page in one screenshot
    dash_duo.driver.save_screenshot("/tmp/event-detail.png")

    # costs −50 %: the ROI goes up; then an invalid price is refused with a message
    _set(dash_duo, "#event-detail-whatif-cost-input", "-50")
    wait_until(
        dash_duo,
        "the what-if ROI to change",
        lambda: dash_duo.find_element(".app-whatif-roi").text != current_roi,
    )
    new_roi = float(dash_duo.find_element(".app-whatif-roi").text.rstrip("%"))
    assert current_roi == "n/a" or new_roi > float(current_roi.rstrip("%"))
    _set(dash_duo, "#event-detail-whatif-price-input", "-5")
    dash_duo.wait_for_contains_text(
        "#event-detail-whatif-result", "Ticket price: 0 or more", timeout=10
    )
    dash_duo.driver.save_screenshot("/tmp/event-detail-whatif.png")

    # unknown and malformed ids: a message, not a traceback
    for bad in ("999999", "abc", "-1"):
        dash_duo.driver.get(f"{dash_duo.server_url}/events/{bad}")
        dash_duo.wait_for_text_to_equal(".app-event-not-found h1", "Event not found", timeout=15)
        assert bad in dash_duo.find_element("#event-detail-not-found-alert").text
    dash_duo.driver.save_screenshot("/tmp/event-not-found.png")

    assert dash_duo.get_logs() == []


def test_attendance_forecast_form_and_planned_event(demo_sqlite_url, app_factory, start_app):
    # the small test demo has too few completed events: add some, then train as the job does
    engine = make_engine(demo_sqlite_url)
    try:
        planned = seed_events(engine)[0]
        info = attendance.train(engine, trained_by="tests")
    finally:
        engine.dispose()
    assert info.status == "good" and info.active
    dash_duo = start_app(app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/events")
    dash_duo.driver.get(f"{dash_duo.server_url}/events")
    dash_duo.wait_for_element("#events-forecast-submit-button", timeout=15)
    dash_duo.wait_for_element(".ag-row", timeout=15)  # the grid above has its rows: no more shifts
    organizers = [
        o.get_attribute("value")
        for o in dash_duo.find_elements("#events-forecast-organizer-select option")
    ]
    assert "Team A" in organizers and "" in organizers

    # a negative capacity is refused with a message naming the field
    _set(dash_duo, "#events-forecast-capacity-input", "-5")
    _click(dash_duo, "#events-forecast-submit-button")
    dash_duo.wait_for_contains_text(
        "#events-forecast-result", "Capacity: a whole number of 1 or more.", timeout=15
    )
    assert not dash_duo.find_elements(".app-forecast-point")

    # a valid configuration: the forecast, its interval, factors, peaks, advice and quality
    _set(dash_duo, "#events-forecast-capacity-input", "150")
    _click(dash_duo, "#events-forecast-submit-button")
    dash_duo.wait_for_element(".app-forecast-point", timeout=15)
    point = int(dash_duo.find_element(".app-forecast-point").text.split()[0].replace(",", ""))
    assert 0 < point <= 150
    interval = dash_duo.find_element(".app-forecast-interval").text
    assert "of 150 seats" in interval
    lower, upper = (int(v) for v in interval.split(": ")[1].split(" people")[0].split(" – "))
    assert lower <= point <= upper
    factors = dash_duo.find_elements(".app-forecast-factors li")
    assert len(factors) == len(attendance.FACTOR_INPUTS)
    assert "Capacity: 150 seats" in dash_duo.find_element(".app-forecast-factors").text
    assert "of check-ins" in dash_duo.find_element(".app-forecast-peaks").text
    assert dash_duo.find_elements(".app-forecast-recommendations li")
    assert f"Model version {info.version}" in dash_duo.find_element(".app-forecast-quality").text
    dash_duo.driver.save_screenshot("/tmp/events-forecast.png")

    # a planned event's page shows the forecast of its stored configuration
    dash_duo.driver.get(f"{dash_duo.server_url}/events/{planned}")
    dash_duo.wait_for_contains_text(
        "#event-detail-forecast-result", "Expected attendance", timeout=20
    )
    assert "of 140 seats" in dash_duo.find_element(".app-forecast-interval").text
    dash_duo.driver.save_screenshot("/tmp/event-detail-forecast.png")

    assert dash_duo.get_logs() == []
