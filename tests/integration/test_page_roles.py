"""Page roles are enforced where Dash produces a page's layout, however the request is shaped.

Each registered page of the real app is routed for each role with the request shapes a client can
send: the renderer's own body, spoofed input ids, the real ids in swapped positions, an app
served under a ``requests_pathname_prefix``; and the app layout read directly. A role that may
not open a page gets 403 and none of the page's content; a role that may gets the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import dash
import pytest

from bi_app.auth.pages import can_view
from tests.conftest import TEST_PASSWORDS, signed_in_client

OUTPUT = ".._pages_content.children..._pages_store.data.."
OUTPUTS = [
    {"id": "_pages_content", "property": "children"},
    {"id": "_pages_store", "property": "data"},
]


def well_formed(pathname: str) -> dict:
    return {
        "output": OUTPUT,
        "outputs": OUTPUTS,
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


def spoofed_ids(pathname: str) -> dict:
    """Dash passes inputs by position, so any id reaches the router as the pathname."""
    body = well_formed(pathname)
    body["inputs"] = [
        {"id": "x", "property": "pathname", "value": pathname},
        {"id": "x", "property": "search", "value": ""},
    ]
    body["changedPropIds"] = ["x.pathname"]
    return body


def swapped_positions(pathname: str) -> dict:
    """The real ids, but the pathname declared as the second input: Dash reads the first."""
    body = well_formed(pathname)
    body["inputs"] = [
        {"id": "_pages_location", "property": "search", "value": pathname},
        {"id": "_pages_location", "property": "pathname", "value": "/"},
    ]
    return body


SHAPES: dict[str, Callable[[str], dict]] = {
    "well-formed": well_formed,
    "spoofed ids": spoofed_ids,
    "swapped positions": swapped_positions,
}


def page_path(page: dict) -> str:
    template = page.get("path_template")
    return re.sub("<[^>]+>", "1", template) if template else page["path"]


def routed(client, body: dict):
    return client.post("/_dash-update-component", json=body)


def content_ids(response) -> set[str]:
    """Every component id in a routed layout: what a page's content gives away."""
    return set(re.findall(r'"id":\s*"([^"]+)"', response.get_data(as_text=True)))


@pytest.fixture
def clients(demo_app):
    return {role: signed_in_client(demo_app, role) for role in TEST_PASSWORDS}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_role_gets_exactly_the_pages_it_may_open(demo_app, clients, shape):
    pages = list(dash.page_registry.values())
    assert len(pages) >= 12  # the real app's pages, not a stand-in registry
    refused = 0
    for page in pages:
        for role, client in clients.items():
            response = routed(client, SHAPES[shape](page_path(page)))
            if can_view(page, role):
                assert response.status_code == 200, (shape, role, page["path"])
            else:
                refused += 1
                assert response.status_code == 403, (shape, role, page["path"])
                assert "_pages_content" not in response.get_data(as_text=True)
    assert refused >= 8  # viewers and analysts are refused the admin and operations pages


def test_a_refused_layout_gives_away_none_of_the_page(demo_app, clients):
    for page in dash.page_registry.values():
        if can_view(page, "viewer"):
            continue
        shown = content_ids(routed(clients["admin"], well_formed(page_path(page))))
        assert shown, page["path"]
        for shape in SHAPES.values():
            response = routed(clients["viewer"], shape(page_path(page)))
            assert response.status_code == 403
            assert not shown & content_ids(response), page["path"]


def test_the_app_layout_read_directly_holds_no_page_a_role_may_not_open(demo_app, clients):
    shell_ids = content_ids(clients["admin"].get("/_dash-layout"))
    for role, client in clients.items():
        layout = client.get("/_dash-layout")
        assert layout.status_code == 200
        text = layout.get_data(as_text=True)
        ids = content_ids(layout)
        for page in dash.page_registry.values():
            if can_view(page, role):
                continue
            page_only = content_ids(routed(clients["admin"], well_formed(page_path(page))))
            assert not (page_only - shell_ids) & ids, (role, page["path"])
            assert f'"href": "{page["path"]}"' not in text, (role, page["path"])


def test_a_requests_pathname_prefix_does_not_open_a_second_way_in(
    app_factory, demo_sqlite_url, monkeypatch
):
    monkeypatch.setenv("DASH_REQUESTS_PATHNAME_PREFIX", "/app/")
    app = app_factory(demo_sqlite_url)
    assert app.config.requests_pathname_prefix == "/app/"
    viewer, admin = signed_in_client(app, "viewer"), signed_in_client(app, "admin")
    # Dash strips the prefix without its slash, so "/appadmin/settings" is admin/settings to it
    for pathname in ("/app/admin/settings", "/appadmin/settings", "/app/ops/health"):
        for shape in SHAPES.values():
            assert routed(viewer, shape(pathname)).status_code == 403, pathname
            assert routed(admin, shape(pathname)).status_code == 200, pathname
    assert routed(viewer, well_formed("/app/")).status_code == 200  # Overview: every role


def test_a_page_registered_after_the_app_was_built_is_guarded_too(demo_app, clients):
    dash.page_registry["late_admin_page"] = {
        "module": "late_admin_page",
        "path": "/late-admin",
        "path_template": None,
        "name": "Late",
        "title": "Late",
        "roles": ("admin",),
        "layout": "late secret",  # a static layout, not a function
        "relative_path": "/late-admin",
        "order": None,
    }
    refused = routed(clients["viewer"], spoofed_ids("/late-admin"))
    assert refused.status_code == 403 and "late secret" not in refused.get_data(as_text=True)
    allowed = routed(clients["admin"], spoofed_ids("/late-admin"))
    assert allowed.status_code == 200
    assert json.loads(allowed.get_data())["response"]["_pages_content"]["children"] == (
        "late secret"
    )
