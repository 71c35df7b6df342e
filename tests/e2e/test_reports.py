"""Reports in a real browser: an analyst generates a weekly PDF of two sections, follows it to the
end, sees its first page and downloads it with the session's cookies; bad input shows a message
and creates nothing; an admin deletes the report after confirming."""

from __future__ import annotations

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bi_app.db.report_models import ReportRun
from bi_app.extensions import db
from bi_app.reports.model import SECTIONS
from components.ids import Reports
from components.reports_view import KIND_LABELS
from tests.conftest import ANALYST_PASSWORD, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

KEEP = ("kpis", "trend")


def _runs() -> list[tuple[int, str, list]]:
    with db.session() as session:
        return [
            (r.id, r.status, r.sections)
            for r in session.query(ReportRun).order_by(ReportRun.id).all()
        ]


def _choose_sections(duo, keep: tuple[str, ...]) -> None:
    """Uncheck every section whose value is not in ``keep`` (all are checked at first)."""
    boxes = duo.driver.find_elements(By.CSS_SELECTOR, f"#{Reports.SECTIONS} input[type=checkbox]")
    assert len(boxes) == 12
    for key, box in zip(SECTIONS, boxes, strict=True):  # the checklist lists them in order
        if (key in keep) != box.is_selected():
            duo.driver.execute_script("arguments[0].click();", box)
    wait_until(
        duo,
        "the chosen sections",
        lambda: sum(b.is_selected() for b in boxes) == len(keep),
    )


def _choose_kind(duo, kind: str) -> None:
    radio = duo.driver.find_elements(By.CSS_SELECTOR, f"#{Reports.KIND} input[type=radio]")[
        list(KIND_LABELS).index(kind)
    ]
    duo.driver.execute_script("arguments[0].click();", radio)


def _type_date(duo, index: int, value: str) -> None:
    field = duo.driver.find_elements(By.CSS_SELECTOR, f"#{Reports.RANGE}-wrapper input")[index]
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    field.send_keys(value)
    field.send_keys(Keys.TAB)


def _message(duo) -> str:
    return duo.find_element(f"#{Reports.MESSAGE}").text


@pytest.fixture
def duo(demo_app, start_app):
    """The browser on a fresh app; the PDF chart renderer's browser thread is stopped before the
    test server's teardown kills every thread the test started (and leaves a dead renderer to
    the next test of this process)."""
    from bi_app.reports import charts

    yield start_app(demo_app)
    charts.stop()


def test_an_analyst_generates_previews_and_downloads_an_admin_deletes(duo):
    login(duo, "analyst", ANALYST_PASSWORD, next_path="/reports")
    duo.wait_for_element(f"#{Reports.GENERATE}", timeout=15)
    duo.wait_for_contains_text(f"#{Reports.HISTORY}", "No reports generated yet", timeout=10)

    # bad input: no section at all, then a custom range longer than a report may cover
    _choose_sections(duo, ())
    duo.find_element(f"#{Reports.GENERATE}").click()
    duo.wait_for_contains_text(f"#{Reports.MESSAGE}", "Choose at least one section", timeout=10)
    _choose_sections(duo, KEEP)
    _choose_kind(duo, "custom")
    _type_date(duo, 0, "2024-01-01")
    duo.find_element(f"#{Reports.GENERATE}").click()
    duo.wait_for_contains_text(f"#{Reports.MESSAGE}", "A report covers at most 366 days", 10)
    assert _runs() == []

    # a weekly PDF with two sections, generated in the background
    _choose_kind(duo, "weekly")
    duo.find_element(f"#{Reports.GENERATE}").click()
    duo.wait_for_contains_text(f"#{Reports.MESSAGE}", "has started", timeout=10)
    row = 'tr.reports-row[data-status="succeeded"]'
    duo.wait_for_element(row, timeout=120)
    [(run_id, status, sections)] = _runs()
    assert status == "succeeded" and sections == list(KEEP)
    # the progress bar is hidden once nothing runs; the poll stopped
    wait_until(
        duo,
        "the progress row to hide",
        lambda: not duo.find_element(f"#{Reports.PROGRESS_ROW}").is_displayed(),
    )
    cells = duo.find_element(row).text
    assert "analyst" in cells and "Week of" in cells and "PDF" in cells and "KB" in cells

    # the first page, drawn
    image = duo.wait_for_element("img.reports-preview-image", timeout=15)
    wait_until(
        duo,
        "the preview image to load",
        lambda: duo.driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", image
        ),
    )
    duo.driver.save_screenshot("/tmp/reports_page.png")

    # the history's link downloads the PDF with the browser session
    link = duo.find_element(f"{row} a.reports-download").get_attribute("href")
    assert link.endswith(f"/reports/{run_id}/download")
    cookies = {c["name"]: c["value"] for c in duo.driver.get_cookies()}
    response = requests.get(link, cookies=cookies, timeout=30)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert "attachment" in response.headers["Content-Disposition"]
    assert requests.get(link, timeout=30, allow_redirects=False).status_code in (302, 401)
    # an analyst has no delete button
    assert not duo.driver.find_elements(By.CSS_SELECTOR, ".reports-delete")
    assert duo.get_logs() == []

    # an admin deletes it after confirming
    duo.driver.delete_all_cookies()
    login(duo, next_path="/reports")
    duo.wait_for_element(f"{row} .reports-delete", timeout=15).click()
    duo.wait_for_contains_text(f"#{Reports.DELETE_TEXT}", "requested by analyst", timeout=10)
    duo.find_element(f"#{Reports.DELETE_CONFIRM}").click()
    duo.wait_for_contains_text(f"#{Reports.MESSAGE}", "The report was deleted", timeout=10)
    duo.wait_for_contains_text(f"#{Reports.HISTORY}", "No reports generated yet", timeout=10)
    assert _runs() == []
    assert requests.get(link, cookies=cookies, timeout=30).status_code != 200
    assert duo.get_logs() == []
