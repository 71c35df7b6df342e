"""Request bodies are bounded before anything parses them, and a hostile body is a 400, not a 500.

``BI_MAX_REQUEST_MB`` bounds every request; ``BI_MAX_CALLBACK_KB`` every Dash callback except
the ones that carry a file (the import upload), which only their roles may send.
"""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import signed_in_client

KB = 1024


@pytest.fixture
def app(app_factory, demo_sqlite_url):
    return app_factory(demo_sqlite_url, max_request_mb=2, max_callback_kb=64)


def callback_body(output: str, padding: int = 0) -> bytes:
    body = {
        "output": output,
        "outputs": {"id": output.split(".")[0], "property": output.split(".")[1]},
        "inputs": [{"id": "x", "property": "value", "value": "p" * padding}],
        "changedPropIds": ["x.value"],
        "state": [],
    }
    return json.dumps(body).encode()


def upload_body(app, padding: int) -> bytes:
    """The body the renderer posts when a file is chosen on the Import page."""
    output = next(o for o in large_outputs(app) if o.startswith("admin-import"))
    spec = app.callback_map[output]
    values = {"filename": "orders.csv", "contents": "data:text/csv;base64," + "A" * padding}
    body = {
        "output": output,
        "outputs": {"id": output.split(".")[0], "property": output.split(".")[1]},
        "inputs": [{**i, "value": values[i["property"]]} for i in spec["inputs"]],
        "changedPropIds": [f"{spec['inputs'][0]['id']}.filename"],
        "state": [{**s, "value": values[s["property"]]} for s in spec["state"]],
    }
    return json.dumps(body).encode()


def post(client, body: bytes, **headers):
    return client.post(
        "/_dash-update-component",
        data=body,
        headers={"Content-Type": "application/json", **headers},
    )


def large_outputs(app) -> list[str]:
    from bi_app.auth.views import LARGE_BODY_KEY

    return list(app.server.config[LARGE_BODY_KEY])


def test_only_the_upload_and_grid_download_callbacks_may_carry_a_large_body(app):
    outputs = large_outputs(app)
    assert len(outputs) == 3
    assert sum("admin-import" in output for output in outputs) == 2
    assert sum('"type":"grid-download"' in output for output in outputs) == 1


def test_a_viewer_cannot_send_a_large_callback_body(app):
    viewer = signed_in_client(app, "viewer")
    response = post(viewer, callback_body("x.children", padding=100 * KB))
    assert response.status_code == 413
    for output in large_outputs(app):  # not even to the callbacks that may be large
        if "admin-import" not in output:
            continue
        assert post(viewer, callback_body(output, padding=100 * KB)).status_code == 413
    assert post(viewer, callback_body("x.children", padding=10)).status_code != 413


def test_an_admin_may_send_a_large_body_only_to_the_upload(app):
    admin = signed_in_client(app, "admin")
    assert post(admin, callback_body("x.children", padding=100 * KB)).status_code == 413
    response = post(admin, upload_body(app, padding=100 * KB))
    assert response.status_code == 200
    assert "orders.csv" in response.get_data(as_text=True)
    # ... and nothing past the server-wide limit
    assert post(admin, upload_body(app, padding=3 * KB * KB)).status_code == 413


def test_an_unauthenticated_body_is_never_read(app, monkeypatch):
    from werkzeug.wrappers import Request

    read = []
    monkeypatch.setattr(Request, "get_data", lambda *a, **k: read.append(1) or b"")
    client = app.server.test_client()
    response = post(client, b"[" * 200_000 + b"]" * 200_000)
    assert response.status_code == 401
    assert read == []


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's recursion limit
        b'{"output": "x.children", "inputs": [' + b"1" * 5000 + b"]}",  # a 5,000-digit number
        b"{not json",
    ],
    ids=["deep nesting", "huge number", "malformed"],
)
def test_a_hostile_callback_body_is_a_400_and_no_stored_traceback(app, caplog, body):
    admin = signed_in_client(app, "admin")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        response = post(admin, body, **{"Content-Length": str(len(body))})
    assert response.status_code in (400, 413)  # the deep body is also past the callback limit
    assert response.get_json()["status"] == response.status_code
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_small_deep_body_is_a_400(app, caplog):
    viewer = signed_in_client(app, "viewer")
    body = b"[" * 20_000 + b"]" * 20_000  # 40 KB: under the callback limit, too deep to parse
    with caplog.at_level(logging.WARNING):
        response = post(viewer, body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "the request is nested too deeply", "status": 400}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_body_naming_no_callback_is_a_400(app, caplog):
    viewer = signed_in_client(app, "viewer")
    with caplog.at_level(logging.WARNING):
        response = post(viewer, callback_body("<b>no-such</b>.children"))
    assert response.status_code == 400
    assert response.get_json() == {"error": "no such callback", "status": 400}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_the_server_refuses_any_request_past_the_global_limit(app):
    client = app.server.test_client()
    response = client.post("/login", data={"username": "x" * (3 * KB * KB)})
    assert response.status_code == 413
