"""Report schedules in a real browser: an admin creates a schedule through the form (with a
preview of its next sends), sees it in the table with its next run, is told what is wrong with
a bad recipient without losing the form, edits, pauses and resumes it, runs it now and deletes
it after confirming; an analyst sees the schedules without any control. The report form's
custom date range shows only for a custom period."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bi_app.db.alert_models import NotificationChannel
from bi_app.db.report_models import ReportSchedule
from bi_app.extensions import db
from components.ids import Reports, ReportSchedules
from components.reports_view import KIND_LABELS
from tests.conftest import ANALYST_PASSWORD, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

ROW = "tr.report-schedules-row"


def _schedules() -> list[tuple]:
    with db.session() as session:
        return [
            (s.name, s.cron, s.kind, s.format, s.sections, s.recipients, s.enabled)
            for s in session.query(ReportSchedule).order_by(ReportSchedule.id).all()
        ]


def _click(duo, selector: str) -> None:
    element = duo.wait_for_element(selector, timeout=10)
    duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    element.click()


def _type(duo, component_id: str, value: str) -> None:
    field = duo.find_element(f"#{component_id}")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    field.send_keys(value)


def _choose(duo, component_id: str, label: str) -> None:
    element = duo.find_element(f"#{component_id}")
    duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    duo.select_dcc_dropdown(element, value=label)
    wait_until(duo, f"{label} chosen", lambda: label in duo.find_element(f"#{component_id}").text)


def _radio(duo, component_id: str, index: int) -> None:
    radio = duo.driver.find_elements(By.CSS_SELECTOR, f"#{component_id} input[type=radio]")[index]
    duo.driver.execute_script("arguments[0].click();", radio)


def _only_sections(duo, keep: tuple[str, ...]) -> None:
    boxes = duo.driver.find_elements(
        By.CSS_SELECTOR, f"#{ReportSchedules.SECTIONS} input[type=checkbox]"
    )
    values = [b.get_attribute("value") for b in boxes]
    for value, box in zip(values, boxes, strict=True):
        if (value in keep) != box.is_selected():
            duo.driver.execute_script("arguments[0].click();", box)
    wait_until(duo, "the sections", lambda: sum(b.is_selected() for b in boxes) == len(keep))


def _preview_items(duo) -> list[str]:
    items = duo.driver.find_elements(By.CSS_SELECTOR, ".report-schedules-preview-list li")
    return [i.text for i in items]


def _modal_open(duo, component_id: str) -> bool:
    found = duo.driver.find_elements(By.CSS_SELECTOR, f"#{component_id}")
    return bool(found) and found[0].is_displayed()


@pytest.fixture
def duo(demo_app, start_app):
    """The browser on a fresh app with one e-mail channel; the PDF chart renderer's browser
    thread is stopped before the test server's teardown kills every thread the test started."""
    from bi_app.reports import charts

    with db.session() as session:
        session.add(
            NotificationChannel(
                name="Reports mail",
                kind="email",
                config={"host": "127.0.0.1", "port": 2525, "sender": "bi@example.com"},
                severities=[],
            )
        )
        session.commit()
    yield start_app(demo_app)
    charts.stop()


def test_an_admin_schedules_a_report_and_an_analyst_only_sees_it(duo):
    login(duo, next_path="/reports")
    duo.wait_for_element(f"#{ReportSchedules.NEW}", timeout=15)
    duo.wait_for_contains_text(f"#{ReportSchedules.TABLE}", "No report is scheduled yet", 10)

    # the report form's custom range shows only for a custom period
    assert not duo.find_element(f"#{Reports.RANGE_ROW}").is_displayed()
    _radio(duo, Reports.KIND, list(KIND_LABELS).index("custom"))
    wait_until(
        duo, "the range row", lambda: duo.find_element(f"#{Reports.RANGE_ROW}").is_displayed()
    )
    _radio(duo, Reports.KIND, list(KIND_LABELS).index("weekly"))
    wait_until(
        duo,
        "the range row hidden",
        lambda: not duo.find_element(f"#{Reports.RANGE_ROW}").is_displayed(),
    )

    # a new schedule: the Monday preset previews three Mondays at 08:00
    _click(duo, f"#{ReportSchedules.NEW}")
    wait_until(duo, "the form", lambda: _modal_open(duo, ReportSchedules.FORM_MODAL))
    wait_until(duo, "the preview", lambda: len(_preview_items(duo)) == 3)
    assert all(t.startswith("Mon,") and t.endswith("08:00") for t in _preview_items(duo))
    assert "Reports mail" in duo.find_element(f"#{ReportSchedules.CHANNEL}").text
    assert not duo.find_element(f"#{ReportSchedules.CRON}").is_displayed()

    # a custom cron: its input shows and the preview follows it
    _choose(duo, ReportSchedules.PRESET, "Custom (cron expression)")
    wait_until(
        duo, "the cron input", lambda: duo.find_element(f"#{ReportSchedules.CRON}").is_displayed()
    )
    _type(duo, ReportSchedules.CRON, "30 6 * * *")
    duo.find_element(f"#{ReportSchedules.CRON}").send_keys(Keys.TAB)
    wait_until(
        duo,
        "the custom preview",
        lambda: (
            len(_preview_items(duo)) == 3 and all(t.endswith("06:30") for t in _preview_items(duo))
        ),
    )
    _type(duo, ReportSchedules.CRON, "61 6 * * *")
    duo.find_element(f"#{ReportSchedules.CRON}").send_keys(Keys.TAB)
    duo.wait_for_contains_text(".report-schedules-preview-error", "not a cron expression", 10)
    _type(duo, ReportSchedules.CRON, "30 6 * * *")
    duo.find_element(f"#{ReportSchedules.CRON}").send_keys(Keys.TAB)
    wait_until(duo, "the preview again", lambda: len(_preview_items(duo)) == 3)

    _type(duo, ReportSchedules.NAME, "Daily mail")
    _radio(duo, ReportSchedules.KIND, 0)  # daily
    _radio(duo, ReportSchedules.FORMAT, 1)  # xlsx
    _only_sections(duo, ("kpis",))
    # a bad recipient: the message names the field, nothing is saved, the form keeps its values
    _type(duo, ReportSchedules.RECIPIENTS, "boss@example.com, not-an-address")
    _click(duo, f"#{ReportSchedules.SAVE}")
    duo.wait_for_contains_text(
        f"#{ReportSchedules.FORM_ERROR}", "Recipients: not-an-address is not an e-mail address", 10
    )
    assert _schedules() == []
    assert _modal_open(duo, ReportSchedules.FORM_MODAL)
    assert "is-invalid" in duo.find_element(f"#{ReportSchedules.RECIPIENTS}").get_attribute("class")
    duo.driver.save_screenshot("/tmp/schedules_form.png")
    assert duo.find_element(f"#{ReportSchedules.NAME}").get_attribute("value") == "Daily mail"
    assert duo.find_element(f"#{ReportSchedules.CRON}").get_attribute("value") == "30 6 * * *"

    _type(duo, ReportSchedules.RECIPIENTS, "boss@example.com, cfo@example.com")
    _click(duo, f"#{ReportSchedules.SAVE}")
    duo.wait_for_contains_text(
        f"#{ReportSchedules.MESSAGE}", "The schedule Daily mail was created", 10
    )
    wait_until(duo, "the form to close", lambda: not _modal_open(duo, ReportSchedules.FORM_MODAL))
    assert _schedules() == [
        (
            "Daily mail",
            "30 6 * * *",
            "daily",
            "xlsx",
            ["kpis"],
            ["boss@example.com", "cfo@example.com"],
            True,
        )
    ]
    row = duo.wait_for_element(f'{ROW}[data-enabled="true"]', timeout=10)
    text = row.text
    assert "Daily mail" in text and "30 6 * * *" in text and "2 recipients" in text
    assert "Next:" in text and "06:30" in text and "Reports mail" in text
    assert "Never run" in text and "Active" in text
    duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'start', behavior: 'instant'});",
        duo.find_element(f"#{ReportSchedules.CARD}"),
    )
    duo.driver.save_screenshot("/tmp/schedules.png")

    # edit: the Monday preset; the table says so
    _click(duo, f"{ROW} .report-schedules-edit")
    wait_until(duo, "the form", lambda: _modal_open(duo, ReportSchedules.FORM_MODAL))
    wait_until(
        duo,
        "the schedule's values",
        lambda: duo.find_element(f"#{ReportSchedules.NAME}").get_attribute("value") == "Daily mail",
    )
    assert duo.find_element(f"#{ReportSchedules.CRON}").get_attribute("value") == "30 6 * * *"
    _choose(duo, ReportSchedules.PRESET, "Mondays at 08:00")
    _click(duo, f"#{ReportSchedules.SAVE}")
    duo.wait_for_contains_text(f"#{ReportSchedules.MESSAGE}", "was saved", 10)
    duo.wait_for_contains_text(ROW, "Mondays at 08:00", 10)
    assert _schedules()[0][1] == "0 8 * * mon"

    # pause, then resume
    _click(duo, f"{ROW} .report-schedules-toggle")
    duo.wait_for_contains_text(f"#{ReportSchedules.MESSAGE}", "was paused", 10)
    duo.wait_for_element(f'{ROW}[data-enabled="false"]', timeout=10)
    duo.wait_for_contains_text(ROW, "Next: none (paused)", 10)
    assert _schedules()[0][-1] is False
    _click(duo, f"{ROW} .report-schedules-toggle")
    duo.wait_for_contains_text(f"#{ReportSchedules.MESSAGE}", "was resumed", 10)
    duo.wait_for_element(f'{ROW}[data-enabled="true"]', timeout=10)
    assert _schedules()[0][-1] is True

    # run now: the report is made in the background; the table follows it to the end
    _click(duo, f"{ROW} .report-schedules-run")
    duo.wait_for_contains_text(f"#{ReportSchedules.MESSAGE}", "is being made", 10)
    duo.wait_for_contains_text(f"{ROW} .report-schedules-status", "succeeded", 120)
    assert duo.get_logs() == []

    # an analyst sees the schedule, without any control
    duo.driver.delete_all_cookies()
    login(duo, "analyst", ANALYST_PASSWORD, next_path="/reports")
    duo.wait_for_contains_text(ROW, "Daily mail", 15)
    assert not duo.driver.find_elements(By.CSS_SELECTOR, f"#{ReportSchedules.NEW}")
    assert not duo.driver.find_elements(By.CSS_SELECTOR, f"{ROW} button")
    assert duo.get_logs() == []

    # the admin deletes it after confirming
    duo.driver.delete_all_cookies()
    login(duo, next_path="/reports")
    _click(duo, f"{ROW} .report-schedules-delete")
    duo.wait_for_contains_text(f"#{ReportSchedules.DELETE_TEXT}", "Daily mail", 10)
    _click(duo, f"#{ReportSchedules.DELETE_CONFIRM}")
    duo.wait_for_contains_text(f"#{ReportSchedules.MESSAGE}", "was deleted", 10)
    duo.wait_for_contains_text(f"#{ReportSchedules.TABLE}", "No report is scheduled yet", 10)
    assert _schedules() == []
    assert duo.get_logs() == []
