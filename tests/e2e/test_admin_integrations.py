"""Admin → Integrations in a real browser: add a service pointing at a loopback server, check it
now, see it listed; an invalid URL is refused with a field message; delete asks first."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from bi_app import auth
from bi_app.db.models import Event, EventChannelStat
from bi_app.extensions import db
from bi_app.monitoring import services as monitored
from components.ids import AdminIntegrations as Ids
from tests.conftest import ADMIN_PASSWORD, login, migrate

pytestmark = pytest.mark.e2e


class Health(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def health_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/health"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def app(app_factory, sqlite_url, monkeypatch):
    monkeypatch.delenv(monitored.ENV_VAR, raising=False)
    migrate(sqlite_url)
    app = app_factory(sqlite_url, outbound_allow=("127.0.0.1/32",))  # the stand-in
    with db.session() as session:
        auth.create_user(session, "admin", ADMIN_PASSWORD, "admin", actor="tests")
        session.add(
            Event(
                code="EV-1",
                name="Spring fair",
                kind="event",
                organizer="Org",
                status="completed",
                starts_at=dt.datetime(2024, 4, 1, 9),
                ends_at=dt.datetime(2024, 4, 1, 17),
            )
        )
        session.flush()
        session.add(
            EventChannelStat(
                event_id=session.scalar(select(Event.id)),
                channel="email",
                day=dt.date(2024, 3, 30),
                views=1234,
                clicks=56,
                conversions=7,
            )
        )
        session.commit()
    return app


def by_id(duo, component_id: dict):
    """The element of a pattern-matching id (Dash renders it as sorted, compact JSON)."""
    return duo.driver.find_element(
        By.XPATH, f"//*[@id='{json.dumps(component_id, separators=(',', ':'), sort_keys=True)}']"
    )


def fill(duo, field: str, value: str) -> None:
    element = by_id(duo, Ids.service_field(field))
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(value)


def test_admin_adds_checks_and_deletes_a_service(app, start_app, health_server):
    duo = start_app(app)
    login(duo, next_path="/admin/integrations")
    duo.wait_for_text_to_equal(".app-page-title", "Integrations", timeout=15)

    fill(duo, "name", "e2e-svc")
    fill(duo, "url", health_server)
    fill(duo, "timeout_s", "2")
    duo.find_element(f"#{Ids.SERVICE_SAVE}").click()
    duo.wait_for_contains_text(f"#{Ids.SERVICE_MESSAGE}", "Saved service e2e-svc", timeout=10)
    duo.wait_for_contains_text('tr[data-service="e2e-svc"]', health_server, timeout=10)

    by_id(duo, Ids.service_check("e2e-svc")).click()
    result = 'tr[data-service="e2e-svc"] .admin-integrations-check-status'
    duo.wait_for_text_to_equal(result, "healthy", timeout=10)
    assert "HTTP 200" in duo.find_element('tr[data-service="e2e-svc"]').text

    fill(duo, "name", "broken")
    fill(duo, "url", "ftp://files.example/health")
    duo.find_element(f"#{Ids.SERVICE_SAVE}").click()
    duo.wait_for_contains_text(f"#{Ids.SERVICE_MESSAGE}", "Not saved", timeout=10)
    feedback = by_id(duo, Ids.service_feedback("url"))
    assert "http:// or https://" in feedback.text
    assert "is-invalid" in by_id(duo, Ids.service_field("url")).get_attribute("class")
    assert not duo.driver.find_elements(By.CSS_SELECTOR, 'tr[data-service="broken"]')
    # the outbound policy refuses a metadata (or private) host when saving, before any request
    fill(duo, "url", "http://169.254.169.254/latest/meta-data/")
    duo.find_element(f"#{Ids.SERVICE_SAVE}").click()
    until(lambda: "cloud metadata address" in by_id(duo, Ids.service_feedback("url")).text, 10)
    assert "BI_OUTBOUND_ALLOW" in by_id(duo, Ids.service_feedback("url")).text
    assert not duo.driver.find_elements(By.CSS_SELECTOR, 'tr[data-service="broken"]')
    duo.driver.save_screenshot("/tmp/admin_integrations.png")

    duo.driver.find_element(
        By.CSS_SELECTOR, 'tr[data-service="e2e-svc"] .btn-outline-danger'
    ).click()
    duo.wait_for_contains_text(f"#{Ids.DELETE_TEXT}", "Stop monitoring e2e-svc", timeout=10)
    duo.find_element(f"#{Ids.DELETE_CONFIRM}").click()
    duo.wait_for_contains_text(f"#{Ids.SERVICE_MESSAGE}", "Deleted service e2e-svc", timeout=10)
    duo.wait_for_no_elements('tr[data-service="e2e-svc"]', timeout=10)

    by_id(duo, Ids.channel_test("email")).click()  # the demo source, through the test fetch
    duo.wait_for_contains_text(
        'tr[data-channel="email"]', "views 1,234 · clicks 56 · conversions 7", timeout=10
    )
    duo.driver.set_window_size(1400, 1900)
    duo.driver.save_screenshot("/tmp/admin_integrations_full.png")
    assert duo.get_logs() == []
