"""Login, logout, the request guard and role checks through the real Flask server of the app."""

from __future__ import annotations

import json
import logging
import re

import pytest
from dash import Input, Output
from sqlalchemy import select

from bi_app import auth
from bi_app.db.models import AuditLog, User
from bi_app.extensions import db
from tests.conftest import migrate

PASSWORDS = {
    "admin": "admin-password-1",
    "analyst": "analyst-password-1",
    "viewer": "viewer-password-1",
}
ADMIN_ONLY_PAGE = "/auth-test-admin-only"


def _seed(url: str) -> None:
    with db.session() as session:
        for name, password in PASSWORDS.items():
            auth.create_user(session, name, password, name, actor="tests")
        session.commit()


def _build(app_factory, url: str, **overrides):
    import dash

    app = app_factory(url, **overrides)
    # A page as a module in pages/ would declare it; registering it here keeps the test
    # independent of what other pages exist.
    dash.page_registry["auth_test_admin_only"] = {
        "module": "auth_test_admin_only",
        "path": ADMIN_ONLY_PAGE,
        "name": "Admin only",
        "path_template": None,
        "roles": ("admin",),
        "layout": lambda **_: "secret page",
        "title": "Admin only",
        "relative_path": ADMIN_ONLY_PAGE,
        "order": None,
    }
    _seed(url)
    return app


@pytest.fixture
def app(app_factory, sqlite_url):
    migrate(sqlite_url)
    return _build(app_factory, sqlite_url)


@pytest.fixture
def client(app):
    return app.server.test_client()


def csrf_of(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def login(client, username: str, password: str | None = None, next_path: str = "/", csrf=None):
    token = csrf_of(client) if csrf is None else csrf
    return client.post(
        "/login",
        data={
            "username": username,
            "password": PASSWORDS.get(username, "") if password is None else password,
            "next": next_path,
            "csrf_token": token,
        },
    )


def audit_rows(action: str) -> list[AuditLog]:
    with db.session() as session:
        return list(
            session.scalars(select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id))
        )


def routing_request(pathname: str) -> dict:
    """The body Dash's renderer posts when dcc.Location changes (page routing)."""
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }


# --- the guard -------------------------------------------------------------------------------


def test_unauthenticated_page_get_redirects_to_login_with_next(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/"
    response = client.get("/sales?start=2024-01-01")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/sales%3Fstart%3D2024-01-01")


def test_unauthenticated_dash_requests_get_401_and_no_data(client):
    for method, path in (
        ("get", "/_dash-layout"),
        ("get", "/_dash-dependencies"),
        ("post", "/_dash-update-component"),
    ):
        response = getattr(client, method)(
            path, json=routing_request("/") if method == "post" else None
        )
        assert response.status_code == 401, path
        assert response.get_json() == {"error": "authentication required", "status": 401}


def test_head_of_the_login_page_is_the_page_without_a_body(client):
    response = client.head("/login")
    assert response.status_code == 200 and response.get_data() == b""


def test_an_unknown_component_suite_file_is_a_404_without_a_traceback(client, caplog):
    with caplog.at_level(logging.WARNING):
        for path in ("/_dash-component-suites/nope/x.js", "/_dash-component-suites/dash/no.js"):
            assert client.get(path).status_code == 404, path
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_public_paths_need_no_login(client):
    assert client.get("/login").status_code == 200
    with client.get("/assets/vendor/bootstrap.min.css") as response:
        assert response.status_code == 200
    assert client.get("/_favicon.ico").status_code == 200


def test_logged_in_user_gets_layout_and_pages(client):
    assert login(client, "viewer").status_code == 302
    assert client.get("/").status_code == 200
    layout = client.get("/_dash-layout")
    assert layout.status_code == 200 and "_pages_content" in layout.get_data(as_text=True)


def test_viewer_is_refused_an_admin_only_page_on_get_and_through_dash_routing(client):
    login(client, "viewer")
    response = client.get(ADMIN_ONLY_PAGE)
    assert response.status_code == 403
    assert "Not allowed" in response.get_data(as_text=True)
    routed = client.post("/_dash-update-component", json=routing_request(ADMIN_ONLY_PAGE))
    assert routed.status_code == 403
    assert "secret page" not in routed.get_data(as_text=True)


def test_admin_opens_the_admin_only_page_through_dash_routing(client):
    login(client, "admin")
    assert client.get(ADMIN_ONLY_PAGE).status_code == 200
    routed = client.post("/_dash-update-component", json=routing_request(ADMIN_ONLY_PAGE))
    assert routed.status_code == 200
    assert "secret page" in routed.get_data(as_text=True)


# --- callback roles --------------------------------------------------------------------------


def _admin_only_callback(value):
    return f"secret:{value}"


def _swallow(_err):
    return None


@pytest.fixture
def callback_app(app_factory, sqlite_url, monkeypatch):
    """An app with one admin-only callback added to the registry for this test only."""
    from callbacks import _registry

    _registry._import_all()  # real modules register into the real list, not our copy
    entries = [
        _registry.RegisteredCallback(
            _admin_only_callback,
            (Output("auth-test-out", "children"), Input("auth-test-in", "value")),
            {},
            ("admin",),
        ),
        # on_error swallows exceptions in Dash: the 403 must survive it.
        _registry.RegisteredCallback(
            _admin_only_callback,
            (Output("auth-test-out2", "children"), Input("auth-test-in2", "value")),
            {"on_error": _swallow},
            ("admin",),
        ),
    ]
    monkeypatch.setattr(_registry, "_REGISTRY", [*_registry._REGISTRY, *entries])
    migrate(sqlite_url)
    return _build(app_factory, sqlite_url)


@pytest.fixture
def callback_client(callback_app):
    return callback_app.server.test_client()


def _callback_body(suffix: str = "") -> dict:
    return {
        "output": f"auth-test-out{suffix}.children",
        "outputs": {"id": f"auth-test-out{suffix}", "property": "children"},
        "inputs": [{"id": f"auth-test-in{suffix}", "property": "value", "value": "x"}],
        "changedPropIds": [f"auth-test-in{suffix}.value"],
        "state": [],
    }


@pytest.mark.parametrize("suffix", ["", "2"])
def test_callback_role_check_gives_403_to_a_viewer_and_runs_for_an_admin(callback_client, suffix):
    login(callback_client, "viewer")
    refused = callback_client.post("/_dash-update-component", json=_callback_body(suffix))
    assert refused.status_code == 403
    assert "secret:" not in refused.get_data(as_text=True)

    with callback_client.session_transaction() as sess:
        token = sess["_csrf_token"]
    assert callback_client.post("/logout", data={"csrf_token": token}).status_code == 302
    login(callback_client, "admin")
    allowed = callback_client.post("/_dash-update-component", json=_callback_body(suffix))
    assert allowed.status_code == 200
    payload = json.loads(allowed.get_data(as_text=True))
    assert payload["response"][f"auth-test-out{suffix}"]["children"] == "secret:x"


def test_dash_turns_require_role_into_http_401_without_a_session(callback_app):
    """With the guard out of the way, Dash 4.4.1's dispatch must still answer 401, not 500."""
    from bi_app.auth.views import guard

    callback_app.server.before_request_funcs[None].remove(guard)
    client = callback_app.server.test_client()
    for suffix in ("", "2"):
        response = client.post("/_dash-update-component", json=_callback_body(suffix))
        assert response.status_code == 401
        assert "secret:" not in response.get_data(as_text=True)


# --- login -----------------------------------------------------------------------------------


def test_login_page_has_the_form_ids_and_local_bootstrap(client):
    page = client.get("/login?next=/sales").get_data(as_text=True)
    for element_id in ("login-username", "login-password", "login-submit"):
        assert f'id="{element_id}"' in page
    assert 'href="/assets/vendor/bootstrap.min.css"' in page
    assert "http" not in page.split("<body", 1)[0].replace("http-equiv", "")
    assert 'name="next" value="/sales"' in page


def test_wrong_password_shows_an_error_and_is_audited(client):
    response = login(client, "viewer", "not-the-password")
    assert response.status_code == 200
    assert "Invalid username or password." in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still logged out
    (row,) = audit_rows("login.failure")
    assert row.target == "viewer" and row.detail == {"reason": "bad_password"}
    assert row.ip == "127.0.0.1" and row.user_id is None


def test_successful_login_redirects_to_next_updates_last_login_and_audits(client):
    response = login(client, "analyst", next_path="/sales?start=2024-01-01")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sales?start=2024-01-01"
    with db.session() as session:
        user = session.scalar(select(User).where(User.username == "analyst"))
        assert user.last_login_at is not None
    (row,) = audit_rows("login.success")
    assert row.username == "analyst" and row.user_id == user.id and row.ip == "127.0.0.1"


def test_disabled_user_cannot_log_in(client):
    with db.session() as session:
        auth.disable_user(session, "analyst", actor="tests")
        session.commit()
    assert login(client, "analyst").status_code == 200
    assert audit_rows("login.failure")[-1].detail == {"reason": "disabled"}


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "http://evil.example/x", "/\\evil.example", "https:/\\evil.example"],
)
def test_open_redirect_attempts_land_on_home(client, target):
    response = login(client, "viewer", next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_login_without_a_valid_csrf_token_is_400(client, token):
    client.get("/login")  # the session has a token; the form does not send it
    data = {"username": "viewer", "password": PASSWORDS["viewer"], "next": "/"}
    if token is not None:
        data["csrf_token"] = token
    response = client.post("/login", data=data)
    assert response.status_code == 400
    assert client.get("/").status_code == 302
    assert audit_rows("login.success") == []


def test_csrf_token_is_per_session(app):
    first, second = app.server.test_client(), app.server.test_client()
    token = csrf_of(first)
    assert token != csrf_of(second)
    assert login(second, "viewer", csrf=token).status_code == 400


def test_rate_limit_gives_429_with_retry_after_once_a_name_is_over_its_limit(
    app_factory, sqlite_url
):
    migrate(sqlite_url)
    app = _build(app_factory, sqlite_url, login_rate_limit=3, login_rate_window=60)
    client = app.server.test_client()
    for _ in range(3):
        assert login(client, "viewer", "wrong-password").status_code == 200
    blocked = login(client, "viewer")  # even the right password waits for the back-off
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    assert 'id="login-username"' in blocked.get_data(as_text=True)  # the login page, as before
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert login(app.server.test_client(), "analyst").status_code == 302  # other users are not
    assert len(audit_rows("login.failure")) == 3


# --- logout and the session cookie -----------------------------------------------------------


def test_logout_by_get_is_405(client):
    login(client, "viewer")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200  # still logged in


def test_logout_by_post_with_csrf_logs_out_and_audits(client):
    login(client, "viewer")
    assert client.post("/logout", data={}).status_code == 400
    assert client.get("/").status_code == 200
    with client.session_transaction() as sess:
        token = sess["_csrf_token"]
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302
    (row,) = audit_rows("logout")
    assert row.username == "viewer"


def test_session_cookie_is_httponly_and_samesite_lax(client):
    response = login(client, "viewer")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_change_ends_other_sessions(client):
    login(client, "viewer")
    assert client.get("/").status_code == 200
    with db.session() as session:
        auth.set_password(session, "viewer", "a-brand-new-password", actor="tests")
        session.commit()
    assert client.get("/").status_code == 302


def test_current_user_helpers_inside_a_request(app, client):
    login(client, "analyst")
    with client:
        client.get("/_dash-layout")
        assert auth.current_username() == "analyst" and auth.current_role() == "analyst"
    assert auth.current_username() is None


# --- the functions behind the CLI ------------------------------------------------------------


def test_cli_functions_manage_users_and_write_audit_rows(sqlite_url):
    migrate(sqlite_url)
    db.init(sqlite_url)
    with db.session() as session:
        generated = auth.ensure_admin(session, "root", None)
        assert generated and len(generated) >= 16
        assert auth.ensure_admin(session, "root", "another-password") is None
        auth.create_user(session, "Carol", "carol-password", "analyst", actor="cli")
        with pytest.raises(auth.UserError, match="already exists"):
            auth.create_user(session, "carol", "carol-password", "viewer", actor="cli")
        with pytest.raises(auth.UserError, match="at least 8"):
            auth.create_user(session, "dave", "short", "viewer", actor="cli")
        auth.set_password(session, "carol", "carol-new-password", actor="cli")
        with pytest.raises(auth.UserError, match="no user"):
            auth.set_password(session, "nobody", "whatever-password", actor="cli")
        with pytest.raises(auth.UserError, match="last active admin"):
            auth.disable_user(session, "root", actor="cli")
        session.commit()

        users = {u.username: u for u in auth.list_users(session)}
        assert sorted(users) == ["carol", "root"] and users["root"].role == "admin"
        assert auth.verify_password(users["root"], generated)
        assert auth.verify_password(users["carol"], "carol-new-password")
        rows = [
            (r.action, r.target, r.username)
            for r in session.scalars(select(AuditLog).order_by(AuditLog.id))
        ]
    assert rows == [
        ("user.create", "root", "setup"),
        ("user.create", "carol", "cli"),
        ("user.set_password", "carol", "cli"),
    ]
    assert all(row[0] != "user.create" or "password" not in str(row) for row in rows)


def test_ensure_admin_restores_a_disabled_admin(sqlite_url):
    migrate(sqlite_url)
    db.init(sqlite_url)
    with db.session() as session:
        auth.create_user(session, "admin", "first-password", "admin", actor="tests")
        auth.create_user(session, "ops", "ops-password", "admin", actor="tests")
        auth.disable_user(session, "admin", actor="tests")
        session.commit()
        assert auth.ensure_admin(session, "admin", "restored-password") is None  # ops is active
        ops = auth.get_user(session, "ops")
        ops.role = "viewer"
        session.commit()
        assert auth.ensure_admin(session, "admin", "restored-password") == "restored-password"
        session.commit()
        admin = auth.get_user(session, "admin")
        assert admin.active and admin.role == "admin"
        assert auth.verify_password(admin, "restored-password")


# --- PostgreSQL and Redis --------------------------------------------------------------------


@pytest.mark.integration
def test_user_creation_and_login_on_postgresql(app_factory, pg_url):
    migrate(pg_url)
    app = _build(app_factory, pg_url)
    client = app.server.test_client()
    assert login(client, "viewer", "wrong-password").status_code == 200
    assert login(client, "viewer").status_code == 302
    assert client.get("/_dash-layout").status_code == 200
    assert [r.action for r in audit_rows("login.success")] == ["login.success"]
    assert audit_rows("login.failure")[0].ip == "127.0.0.1"


def test_no_mcp_endpoint_even_when_the_environment_asks_for_it(
    app_factory, sqlite_url, monkeypatch
):
    monkeypatch.setenv("DASH_MCP_ENABLED", "true")
    migrate(sqlite_url)
    app = _build(app_factory, sqlite_url)
    rules = [r.rule for r in app.server.url_map.iter_rules()]
    assert not any("mcp" in rule for rule in rules), rules
