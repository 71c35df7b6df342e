"""A database outage on a private PostgreSQL: every page stays readable, nothing answers 500.

The cluster is the test's own (tests/fault_servers.py), so it can be stopped while a signed-in
client keeps using the app, then started again.
"""

from __future__ import annotations

import re

import dash

from bi_app.auth.pages import can_view
from tests.conftest import ADMIN_PASSWORD, signed_in_client
from tests.integration.test_page_roles import page_path, well_formed

NOTICE = "The data is temporarily unavailable"  # components.notice.page_unavailable


def route_every_page(client) -> dict[str, tuple[int, str]]:
    answers = {}
    for page in dash.page_registry.values():
        if not can_view(page, "admin"):
            continue
        response = client.post("/_dash-update-component", json=well_formed(page_path(page)))
        answers[page["path"]] = (response.status_code, response.get_data(as_text=True))
    return answers


def test_every_page_is_readable_during_a_database_outage_and_recovers(outage_app, private_pg):
    client = signed_in_client(outage_app, "admin")
    before = route_every_page(client)
    assert all(status == 200 for status, _ in before.values()), before.keys()

    private_pg.stop()
    during = route_every_page(client)
    assert all(status == 200 for status, _ in during.values()), {
        path: status for path, (status, _) in during.items()
    }
    # pages built from cached reference data look as before; their figures come from
    # callbacks (tests/e2e/test_outage.py); the Health page says what is down, in words
    assert "The database is unreachable." in during["/ops/health"][1]
    assert client.get("/").status_code == 200  # the shell itself still loads

    newcomer = outage_app.server.test_client()
    page = newcomer.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    refused = newcomer.post(
        "/login",
        data={"username": "admin", "password": ADMIN_PASSWORD, "next": "/", "csrf_token": csrf},
    )
    assert refused.status_code == 503
    assert "the database does not answer" in refused.get_data(as_text=True)

    with client.session_transaction() as cookie_session:
        csrf = cookie_session["_csrf_token"]
    signed_out = client.post("/logout", data={"csrf_token": csrf})
    assert signed_out.status_code == 503
    assert "Signed out in this browser only" in signed_out.get_data(as_text=True)
    assert client.post("/_dash-update-component", json=well_formed("/")).status_code == 401

    private_pg.start()
    after = route_every_page(signed_in_client(outage_app, "admin"))
    assert all(status == 200 and NOTICE not in body for status, body in after.values())
