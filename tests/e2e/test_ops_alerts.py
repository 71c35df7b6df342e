"""In the browser: the header badge counts an open critical alert; /ops/alerts lists it, opens
its detail, acknowledges it with a comment (the history shows it) and resolves it (it leaves the
open list and the badge disappears); a viewer sees the alert but no action buttons."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import insert, select, update

from bi_app.db.alert_models import Alert, AlertEvent, AlertRule
from bi_app.db.monitoring_models import ResourceSample
from bi_app.extensions import db
from components.ids import App, OpsAlerts
from tests.conftest import VIEWER_PASSWORD, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e
NAME = "E2E disk almost full"


def _seed(engine) -> int:
    """An open critical alert of the built-in disk rule (with the host's disk samples around it),
    and another rule in the error state."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    with engine.begin() as conn:
        rule_id = conn.execute(
            select(AlertRule.id).where(AlertRule.metric == "disk_free_percent")
        ).scalar_one()
        conn.execute(
            update(AlertRule.__table__)
            .where(AlertRule.metric == "http_p95_ms")
            .values(status="error", last_error="E2E: the metrics table cannot be read")
        )
        conn.execute(
            insert(ResourceSample.__table__),
            [
                {
                    "at": now - dt.timedelta(minutes=5 * i),
                    "source": "db1",
                    "cpu_percent": 20.0,
                    "memory_percent": 40.0,
                    "memory_used_bytes": 1,
                    "disk_percent": 80.0 + min(16.0, (60 - i) * 0.3),
                    "disk_used_bytes": 1,
                    "net_sent_bps": 0.0,
                    "net_recv_bps": 0.0,
                }
                for i in range(60)
            ],
        )
        alert_id = conn.execute(
            insert(Alert.__table__).returning(Alert.__table__.c.id),
            {
                "fingerprint": "e2e-disk",
                "rule_id": rule_id,
                "source": "rule",
                "name": NAME,
                "severity": "critical",
                "labels": {"host": "db1"},
                "annotations": {"summary": NAME},
                "state": "firing",
                "value": 4.0,
                "started_at": now - dt.timedelta(minutes=20),
                "fired_at": now - dt.timedelta(minutes=15),
                "last_seen_at": now,
            },
        ).scalar_one()
        conn.execute(
            insert(AlertEvent.__table__),
            {"alert_id": alert_id, "at": now - dt.timedelta(minutes=15), "kind": "fired"},
        )
    return alert_id


def _badge(dash_duo) -> str | None:
    badge = dash_duo.find_element(f"#{App.ALERT_BADGE}")
    if not badge.is_displayed():
        return None
    return dash_duo.find_element(f"#{App.ALERT_BADGE_COUNT}").text.strip()


def _grid_names(dash_duo) -> list[str]:
    cells = dash_duo.driver.find_elements(
        By.CSS_SELECTOR, f"#{OpsAlerts.GRID} .ag-center-cols-container [col-id='name']"
    )
    return [cell.text for cell in cells]


def _click(dash_duo, target) -> None:
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", target
    )
    target.click()


def _button(dash_duo, action: str):
    """An action button, or None (pattern-matching ids are JSON: found by getElementById)."""
    ident = json.dumps(OpsAlerts.action(action), sort_keys=True, separators=(",", ":"))
    return dash_duo.driver.execute_script("return document.getElementById(arguments[0]);", ident)


def _act(dash_duo, action: str, comment: str | None = None) -> None:
    if comment is not None:
        box = dash_duo.find_element(f"#{OpsAlerts.COMMENT}")
        box.clear()
        box.send_keys(comment)
    button = wait_until(dash_duo, f"{action} to be possible", lambda: _enabled(dash_duo, action))
    _click(dash_duo, button)


def _enabled(dash_duo, action: str):
    button = _button(dash_duo, action)
    return button if button is not None and button.is_enabled() else None


def test_acknowledge_and_resolve_an_alert_and_the_badge_follows(start_app, demo_app, app_factory):
    alert_id = _seed(db.require_engine())
    dash_duo = start_app(demo_app)
    login(dash_duo, "admin")
    wait_until(dash_duo, "the badge to count the alert", lambda: _badge(dash_duo) == "1")

    dash_duo.driver.get(f"{dash_duo.server_url}/ops/alerts")
    wait_until(dash_duo, "the alert in the list", lambda: NAME in _grid_names(dash_duo))
    assert dash_duo.find_element("#alerts-nav-rules").is_displayed()  # admins see every tab
    _click(
        dash_duo,
        dash_duo.driver.find_element(
            By.CSS_SELECTOR, f"#{OpsAlerts.GRID} .ag-center-cols-container [col-id='name']"
        ),
    )
    dash_duo.wait_for_contains_text(f"#{OpsAlerts.DETAIL}", "Disk free below 10 %", timeout=15)
    dash_duo.wait_for_element(f"#{OpsAlerts.METRIC_GRAPH} .main-svg", timeout=15)
    assert "cannot be read" in dash_duo.find_element(f"#{OpsAlerts.RULE_ERRORS}").text
    assert "host=db1" in dash_duo.find_element(f"#{OpsAlerts.DETAIL}").text
    assert f"alert={alert_id}" in dash_duo.driver.current_url
    dash_duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    dash_duo.driver.save_screenshot("/tmp/ops_alerts_top.png")

    _act(dash_duo, "acknowledge", "Looking at it")
    dash_duo.wait_for_contains_text(f"#{OpsAlerts.DETAIL_STATE}", "acknowledged", timeout=15)
    dash_duo.wait_for_contains_text(f"#{OpsAlerts.EVENTS}", "Looking at it", timeout=15)
    dash_duo.wait_for_contains_text(f"#{OpsAlerts.GRID}", "acknowledged", timeout=15)
    assert _badge(dash_duo) == "1"  # acknowledged is still open
    wait_until(
        dash_duo, "acknowledge to be off", lambda: not _button(dash_duo, "acknowledge").is_enabled()
    )
    dash_duo.driver.save_screenshot("/tmp/ops_alerts.png")

    _act(dash_duo, "resolve", "Freed 20 GB")
    dash_duo.wait_for_contains_text(f"#{OpsAlerts.DETAIL_STATE}", "resolved", timeout=15)
    wait_until(dash_duo, "the alert to leave the list", lambda: NAME not in _grid_names(dash_duo))
    wait_until(dash_duo, "the badge to disappear", lambda: _badge(dash_duo) is None)
    with db.require_engine().connect() as conn:
        kinds = conn.execute(
            select(AlertEvent.kind, AlertEvent.comment).where(AlertEvent.alert_id == alert_id)
        ).all()
    assert ("acknowledged", "Looking at it") in kinds
    dash_duo.wait_for_contains_text(f"#{OpsAlerts.RESOLVED_TABLE}", NAME, timeout=15)
    dash_duo.driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'});")
    dash_duo.driver.save_screenshot("/tmp/ops_alerts_resolved.png")
    assert dash_duo.get_logs() == []


def test_a_viewer_sees_alerts_but_cannot_act(start_app, demo_app):
    alert_id = _seed(db.require_engine())
    dash_duo = start_app(demo_app)
    login(dash_duo, "viewer", VIEWER_PASSWORD)
    wait_until(dash_duo, "the badge", lambda: _badge(dash_duo) == "1")
    dash_duo.driver.get(f"{dash_duo.server_url}/ops/alerts?alert={alert_id}&severity=critical")
    dash_duo.wait_for_contains_text(f"#{OpsAlerts.DETAIL}", NAME, timeout=15)
    wait_until(dash_duo, "the alert in the list", lambda: NAME in _grid_names(dash_duo))
    assert all(_button(dash_duo, name) is None for name in ("acknowledge", "resolve", "ignore"))
    assert not dash_duo.driver.find_elements(By.ID, OpsAlerts.COMMENT)
    assert not dash_duo.driver.find_elements(By.ID, "alerts-nav-rules")
    dash_duo.driver.save_screenshot("/tmp/ops_alerts_viewer.png")
    assert dash_duo.get_logs() == []
