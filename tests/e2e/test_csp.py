"""In the browser, under the app's Content-Security-Policy: an admin opens every registered page;
each renders, Dash's hashed inline script sets the page title, no callback fails and the console
stays clean (a blocked script or style would log "Refused to ..."). An inline script the policy
does not list is refused, so the policy really is in force."""

from __future__ import annotations

import dash
import flask
import pytest
from sqlalchemy import text

from bi_app.db.engine import make_engine
from tests.conftest import login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e
SCREENSHOT = "/tmp/csp-overview.png"
REVENUE_CELL = ".ag-center-cols-container .ag-row[row-index='0'] [col-id='revenue_cents']"
INJECTED = (
    "var s = document.createElement('script');"
    "s.textContent = 'window.__cspProbe = 1;';"
    "document.head.appendChild(s);"
)


def _an_event_id(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT min(id) FROM events")).scalar_one()
    finally:
        engine.dispose()


def _page_urls(event_id: int) -> list[tuple[str, str, object]]:
    """(name, path, title) of every registered page, a real event for the templated one."""
    pages = []
    for page in sorted(dash.page_registry.values(), key=lambda p: (p.get("order") or 0, p["path"])):
        path = page["path"]
        if page.get("path_template"):
            path = page["path_template"].replace("<event_id>", str(event_id))
        pages.append((page["name"], path, page.get("title")))
    return pages


def _record_callback_failures(app) -> list[tuple[str, int]]:
    failures: list[tuple[str, int]] = []

    def record(response: flask.Response) -> flask.Response:
        if flask.request.path.endswith("_dash-update-component") and response.status_code >= 400:
            body = flask.request.get_json(silent=True) or {}
            failures.append((str(body.get("output")), response.status_code))
        return response

    app.server.after_request(record)
    return failures


def test_every_page_renders_under_the_csp_with_a_clean_console(
    demo_app, demo_sqlite_url, start_app
):
    failures = _record_callback_failures(demo_app)
    dash_duo = start_app(demo_app)
    login(dash_duo)
    pages = _page_urls(_an_event_id(demo_sqlite_url))
    assert len(pages) == len(dash.page_registry) >= 10

    for name, path, title in pages:
        dash_duo.driver.get(dash_duo.server_url + path)
        wait_until(
            dash_duo,
            f"{name} ({path}) to render",
            lambda: dash_duo.find_element("#_pages_content").text.strip(),
        )
        wait_until(
            dash_duo, f"{name}'s callbacks to finish", lambda: dash_duo.redux_state_rqs == []
        )
        content = dash_duo.find_element("#_pages_content").text
        assert "Traceback" not in content, name
        if path != "/404":
            assert "Page not found" not in content, name
        if isinstance(title, str):
            # Dash pages set the title with an inline clientside callback: it ran, so its hash
            # is in the policy
            wait_until(dash_duo, f"the title {title!r}", lambda t=title: dash_duo.driver.title == t)
        if path == "/":
            dash_duo.wait_for_element(".app-kpi-value", timeout=20)
            dash_duo.wait_for_element(".js-plotly-plot .main-svg", timeout=20)
            # dash-ag-grid runs the columns' valueFormatter {"function": ...} strings without
            # 'unsafe-eval': the money column shows formatted amounts
            wait_until(
                dash_duo,
                "formatted revenue cells in the grid",
                lambda: dash_duo.find_element(REVENUE_CELL).text.startswith("€"),
            )
            dash_duo.driver.save_screenshot(SCREENSHOT)
        assert dash_duo.get_logs() == [], f"console errors on {name} ({path})"
    assert failures == []

    # The policy is enforced: an inline script it does not list never runs, and Chromium says so.
    dash_duo.driver.execute_script(INJECTED)
    refused = wait_until(dash_duo, "the CSP refusal in the console", dash_duo.get_logs)
    assert "Content Security Policy" in str(refused)
    assert dash_duo.driver.execute_script("return window.__cspProbe === undefined")
