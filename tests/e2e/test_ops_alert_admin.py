"""The alert admin pages in a real browser: an admin writes a rule, backtests it on the demo data,
is told what is wrong, saves it and finds it in the list; creates a silence and expires it; adds
a signed webhook channel pointing at a loopback receiver and sends a test notification through
it. Viewers and analysts are refused the pages."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import select

from bi_app.alerts import rule_admin
from bi_app.alerts.channels import verify
from bi_app.db.alert_models import AlertRule, NotificationChannel, Silence
from bi_app.db.models import utcnow
from bi_app.extensions import db
from components.ids import OpsAlertChannels, OpsAlertRules, OpsAlertSilences
from tests.conftest import ANALYST_PASSWORD, VIEWER_PASSWORD, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

SIGNING_SECRET = "e2e-signing-secret-0123456789"


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.received.append(
            {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
        )
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def app(app_factory, demo_sqlite_url):
    return app_factory(demo_sqlite_url, outbound_allow=("127.0.0.1/32",))  # the receiver


def by_id(duo, component_id: dict):
    """The element of a pattern-matching id (Dash renders it as sorted, compact JSON)."""
    return duo.driver.find_element(
        By.XPATH, f"//*[@id='{json.dumps(component_id, separators=(',', ':'), sort_keys=True)}']"
    )


def fill(duo, element, value: str) -> None:
    element.send_keys(Keys.CONTROL, "a")
    element.send_keys(Keys.DELETE)
    element.send_keys(value)


def press(duo, target) -> None:
    """Click a button after scrolling it to the middle of the window (the sticky header and
    open menus would otherwise take the click)."""
    element = duo.find_element(target) if isinstance(target, str) else target
    duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    element.click()


def choose(duo, component_id: dict, label: str) -> None:
    """Pick an option of a dropdown by its text, and check it took."""
    element = by_id(duo, component_id)
    duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    duo.select_dcc_dropdown(element, value=label)
    wait_until(duo, f"{label} chosen", lambda: label in by_id(duo, component_id).text)


def plot_modes(duo, graph_id: str) -> list:
    return duo.driver.execute_script(
        "var g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "return g && g.data ? g.data.map(function (t) { return t.mode || ''; }) : [];",
        f"#{graph_id}",
    )


def _rule(app, name: str) -> AlertRule | None:
    with app.server.app_context(), db.session() as session:
        return session.scalar(select(AlertRule).where(AlertRule.name == name))


def test_admin_edits_rules_silences_and_channels(app, start_app, receiver):
    duo = start_app(app)
    login(duo, next_path="/ops/alerts/rules")
    duo.wait_for_contains_text(f"#{OpsAlertRules.GRID}", "p95 latency above 1 s", timeout=20)
    tabs = duo.find_element(".alerts-nav").text
    assert "Rules" in tabs and "Silences" in tabs and "Channels" in tabs
    # the admin pages are reached through the tabs, not the sidebar
    assert "/ops/alerts/rules" not in duo.find_element("#app-sidebar").get_attribute("innerHTML")

    # a click on a rule opens it in the editor, with the fields of its type
    press(
        duo, duo.driver.find_element(By.XPATH, "//div[@role='gridcell'][.='p95 latency above 1 s']")
    )
    duo.wait_for_text_to_equal(
        f"#{OpsAlertRules.FORM_TITLE}", "Edit rule p95 latency above 1 s", timeout=15
    )
    assert by_id(duo, OpsAlertRules.field("threshold")).get_attribute("value") == "1000"
    assert not by_id(duo, OpsAlertRules.section("window")).get_attribute("style")
    assert "none" in by_id(duo, OpsAlertRules.section("deviation")).get_attribute("style")

    # a business threshold on the demo orders: the backtest draws them and counts the firings
    press(duo, f"#{OpsAlertRules.NEW}")
    choose(duo, OpsAlertRules.field("kind"), "business threshold")
    choose(duo, OpsAlertRules.field("metric"), "Orders of the day (count)")
    fill(duo, by_id(duo, OpsAlertRules.field("threshold")), "5")
    fill(duo, by_id(duo, OpsAlertRules.field("labels")), "team=ops")
    press(duo, f"#{OpsAlertRules.BACKTEST}")
    duo.wait_for_contains_text(f"#{OpsAlertRules.BACKTEST_TEXT}", "would have fired", timeout=20)
    raw = {
        "name": "E2E orders",
        "kind": "business",
        "metric": "orders_day",
        "params": {"operator": ">", "threshold": 5, "day": "yesterday"},
    }
    with app.server.app_context():
        expected = rule_admin.backtest_rule(raw)
    week, month = len(expected["fired_7d"]), len(expected["fired_30d"])
    assert month > 0
    times = {1: "time"}
    assert duo.find_element(f"#{OpsAlertRules.BACKTEST_TEXT}").text == (
        f"This rule would have fired {week} {times.get(week, 'times')} in the last 7 days and "
        f"{month} {times.get(month, 'times')} in the last 30 days."
    )
    wait_until(
        duo,
        "the firing markers",
        lambda: "markers" in plot_modes(duo, OpsAlertRules.BACKTEST_GRAPH),
    )

    # without a name: told next to the field, and nothing typed is lost
    press(duo, f"#{OpsAlertRules.SAVE}")
    wait_until(
        duo,
        "the name's message",
        lambda: "Give the rule a name." in by_id(duo, OpsAlertRules.feedback("name")).text,
    )
    assert by_id(duo, OpsAlertRules.field("threshold")).get_attribute("value") == "5"
    assert _rule(app, "E2E orders") is None

    fill(duo, by_id(duo, OpsAlertRules.field("name")), "E2E orders")
    press(duo, f"#{OpsAlertRules.SAVE}")
    duo.wait_for_contains_text(
        f"#{OpsAlertRules.FORM_MESSAGE}", "Saved rule E2E orders", timeout=15
    )
    duo.wait_for_contains_text(f"#{OpsAlertRules.GRID}", "E2E orders", timeout=15)
    stored = _rule(app, "E2E orders")
    assert stored.kind == "business" and stored.metric == "orders_day"
    assert stored.params["threshold"] == 5 and stored.labels == {"team": "ops"}
    duo.driver.set_window_size(1400, 1900)
    duo.driver.save_screenshot("/tmp/alert_rules.png")

    # ?rule=<id> opens a rule in the editor
    duo.driver.get(f"{duo.server_url}/ops/alerts/rules?rule={stored.id}")
    duo.wait_for_contains_text(f"#{OpsAlertRules.FORM_TITLE}", "Edit rule E2E orders", timeout=20)
    assert by_id(duo, OpsAlertRules.field("labels")).get_attribute("value") == "team=ops"
    press(duo, f"#{OpsAlertRules.DELETE}")  # asks first
    duo.wait_for_contains_text(f"#{OpsAlertRules.DELETE_TEXT}", "Delete the rule E2E orders?", 15)
    press(duo, f"#{OpsAlertRules.DELETE_CONFIRM}")
    duo.wait_for_contains_text(f"#{OpsAlertRules.FORM_MESSAGE}", "Rule deleted.", timeout=15)
    wait_until(
        duo,
        "the rule to leave the list",
        lambda: "E2E orders" not in duo.find_element(f"#{OpsAlertRules.GRID}").text,
    )
    assert _rule(app, "E2E orders") is None
    duo.driver.get(f"{duo.server_url}/ops/alerts/rules?rule={stored.id}")  # gone: said so
    duo.wait_for_contains_text(f"#{OpsAlertRules.MESSAGE}", f"There is no rule {stored.id}", 20)
    assert duo.find_element(f"#{OpsAlertRules.FORM_TITLE}").text == "New rule"

    # silences: create one (times in the business's zone), then expire it
    duo.driver.get(f"{duo.server_url}/ops/alerts/silences")
    duo.wait_for_element(f"#{OpsAlertSilences.MATCHERS}", timeout=20)
    fill(
        duo,
        duo.find_element(f"#{OpsAlertSilences.MATCHERS}"),
        "team=ops, severity=~critical|emergency",
    )
    fill(duo, duo.find_element(f"#{OpsAlertSilences.REASON}"), "database migration")
    press(duo, f"#{OpsAlertSilences.CREATE}")
    duo.wait_for_contains_text(f"#{OpsAlertSilences.MESSAGE}", "Silence created", timeout=15)
    row = 'tr.ops-alert-silence[data-state="active"]'
    duo.wait_for_contains_text(row, "severity=~critical|emergency", timeout=15)
    assert "database migration" in duo.find_element(row).text
    duo.driver.save_screenshot("/tmp/alert_silences.png")
    press(duo, f"{row} button")
    duo.wait_for_contains_text(f"#{OpsAlertSilences.MESSAGE}", "Silence expired", timeout=15)
    duo.wait_for_element('tr.ops-alert-silence[data-state="ended"]', timeout=15)
    with app.server.app_context(), db.session() as session:
        silence = session.scalar(select(Silence))
        assert silence.reason == "database migration" and silence.created_by == "admin"
        assert silence.ends_at <= utcnow()

    # channels: a signed webhook to the loopback receiver, and a test notification through it
    duo.driver.get(f"{duo.server_url}/ops/alerts/channels")
    duo.wait_for_element(f"#{OpsAlertChannels.SAVE}", timeout=20)
    fill(duo, by_id(duo, OpsAlertChannels.field("name")), "e2e-hook")
    fill(duo, by_id(duo, OpsAlertChannels.field("url")), receiver)
    secret = by_id(duo, OpsAlertChannels.field("secret"))
    assert secret.get_attribute("type") == "password"
    fill(duo, secret, "too-short")  # refused next to the field
    press(duo, f"#{OpsAlertChannels.SAVE}")
    wait_until(
        duo,
        "the secret's message",
        lambda: "at least 16" in by_id(duo, OpsAlertChannels.feedback("secret")).text,
    )
    assert by_id(duo, OpsAlertChannels.field("url")).get_attribute("value") == receiver
    fill(duo, by_id(duo, OpsAlertChannels.field("secret")), SIGNING_SECRET)
    press(duo, f"#{OpsAlertChannels.SAVE}")
    duo.wait_for_contains_text(f"#{OpsAlertChannels.MESSAGE}", "Saved channel e2e-hook", timeout=15)
    assert by_id(duo, OpsAlertChannels.field("secret")).get_attribute("value") == ""
    row = 'tr.ops-alert-channel[data-channel="e2e-hook"]'
    duo.wait_for_contains_text(row, receiver, timeout=15)
    with app.server.app_context(), db.session() as session:
        channel = session.scalar(select(NotificationChannel))
        assert SIGNING_SECRET not in (channel.secret or "")  # sealed
    press(duo, f"{row} .btn-outline-primary")
    duo.wait_for_text_to_equal(f"{row} .ops-alert-channel-test-status", "sent", timeout=20)
    duo.wait_for_contains_text(f"{row} .ops-alert-channel-failures", "no failures", timeout=15)
    assert "last success" in duo.find_element(row).text
    assert len(Receiver.received) == 1
    request = Receiver.received[0]
    assert verify(SIGNING_SECRET, request["headers"]["x-bi-signature"], request["body"])
    duo.wait_for_contains_text(f"#{OpsAlertChannels.LOG_GRID}", "test", timeout=15)
    duo.driver.save_screenshot("/tmp/alert_channels.png")
    assert duo.get_logs() == []


@pytest.mark.parametrize(
    ("username", "password"), [("viewer", VIEWER_PASSWORD), ("analyst", ANALYST_PASSWORD)]
)
def test_viewers_and_analysts_cannot_open_the_admin_pages(app, start_app, username, password):
    duo = start_app(app)
    login(duo, username, password, next_path="/ops/alerts")
    for path in ("/ops/alerts/rules", "/ops/alerts/silences", "/ops/alerts/channels"):
        duo.driver.get(f"{duo.server_url}{path}")
        duo.wait_for_contains_text("body", "Your role does not give access to this page.", 15)
        assert "Not allowed" in duo.find_element("body").text
        assert not duo.driver.find_elements(By.CSS_SELECTOR, f"#{OpsAlertRules.SAVE}")
        # the refusal is an HTTP 403 document, which the browser reports as such; nothing else
        logs = duo.get_logs()
        assert all(
            entry["source"] == "network"
            and f"{path} - " in entry["message"]
            and "403" in entry["message"]
            for entry in logs
        ), logs
