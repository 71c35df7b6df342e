"""Security headers on every kind of response, one CSP that lists Dash's inline scripts by hash,
cross-site writes refused, HTTPS and HSTS in production only, the session cookie left alone."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from bi_app import auth
from bi_app.extensions import db
from tests.conftest import migrate

ADMIN_PASSWORD = "admin-password-1"
HOST_URL = "http://localhost"  # the Flask test client's default host


def _seed() -> None:
    with db.session() as session:
        auth.create_user(session, "admin", ADMIN_PASSWORD, "admin", actor="tests")
        session.commit()


@pytest.fixture
def app(app_factory, sqlite_url):
    migrate(sqlite_url)
    app = app_factory(sqlite_url)
    _seed()
    return app


@pytest.fixture
def prod_app(app_factory, sqlite_url):
    migrate(sqlite_url)
    return app_factory(sqlite_url, env="production")


def _csrf(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _login(client, **headers):
    return client.post(
        "/login",
        data={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "next": "/",
            "csrf_token": _csrf(client),
        },
        headers=headers,
    )


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def admin(client):
    assert _login(client).status_code == 302
    return client


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


def directives(csp: str) -> dict[str, list[str]]:
    parts = [part.split() for part in csp.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def assert_security_headers(response) -> None:
    headers = response.headers
    policy = directives(headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"] and policy["form-action"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    script = policy["script-src"]
    assert script[0] == "'self'" and all(s.startswith("'sha256-") for s in script[1:])
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in headers  # not outside production


def test_every_kind_of_response_carries_the_headers_and_one_policy(app, admin):
    anonymous = app.server.test_client()
    responses = {
        "page": admin.get("/sales"),
        "login page": anonymous.get("/login"),
        "layout": admin.get("/_dash-layout"),
        "callback": admin.post("/_dash-update-component", json=routing_request("/")),
        "asset": anonymous.get("/assets/app.js"),
        "health": anonymous.get("/api/health"),
        "404": anonymous.get("/assets/no-such-file.js"),
        "401": anonymous.get("/_dash-layout"),
        "cross-site 403": admin.post(
            "/_dash-update-component",
            json=routing_request("/"),
            headers={"Sec-Fetch-Site": "cross-site"},
        ),
    }
    expected = {"404": 404, "401": 401, "cross-site 403": 403, "health": (200, 503)}
    for kind, response in responses.items():
        status = expected.get(kind, 200)
        assert response.status_code in (status if isinstance(status, tuple) else (status,)), kind
        assert_security_headers(response)
        response.close()  # the asset is a streamed file
    policies = {r.headers["Content-Security-Policy"] for r in responses.values()}
    assert len(policies) == 1, "the login page and the app must send the same policy"


def _inline_scripts(page: str) -> list[str]:
    """The scripts a browser would run from the page's own text (not src=, not JSON data)."""
    page = re.sub(r"<!--.*?-->", "", page, flags=re.DOTALL)  # the IE notice is a comment
    scripts = []
    for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.DOTALL):
        if "src=" in attrs or "application/json" in attrs:
            continue
        scripts.append(body)
    return scripts


def test_the_policy_lists_the_hash_of_every_inline_script_dash_serves(admin):
    response = admin.get("/")
    scripts = _inline_scripts(response.get_data(as_text=True))
    # Dash's renderer start-up line and the pages' document-title callback (registered by Dash
    # on the first request, after the app was built)
    assert len(scripts) >= 2 and any("document.title" in s for s in scripts)
    allowed = directives(response.headers["Content-Security-Policy"])["script-src"]
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in allowed, script[:80]


# --- cross-site requests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
        {"Sec-Fetch-Site": "cross-site", "Origin": HOST_URL},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "https://localhost"},  # another scheme is another origin
    ],
)
def test_cross_site_writes_are_refused(app, admin, headers):
    anonymous = app.server.test_client()
    refused = _login(anonymous, **headers)
    assert refused.status_code == 403
    assert refused.get_json() == {"error": "cross-site request refused", "status": 403}
    assert anonymous.get("/_dash-layout").status_code == 401  # not signed in

    callback = admin.post("/_dash-update-component", json=routing_request("/"), headers=headers)
    assert callback.status_code == 403

    with admin.session_transaction() as session:
        token = session["_csrf_token"]
    logout = admin.post("/logout", data={"csrf_token": token}, headers=headers)
    assert logout.status_code == 403
    assert admin.get("/_dash-layout").status_code == 200  # still signed in


@pytest.mark.parametrize(
    "headers",
    [
        {},  # no browser: curl, scripts, the test client
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "same-origin", "Origin": HOST_URL},
        {"Sec-Fetch-Site": "none"},  # typed into the address bar
        {"Origin": HOST_URL},  # a browser without Fetch Metadata
        {"Origin": HOST_URL + "/"},
    ],
)
def test_same_origin_writes_pass(app, headers):
    client = app.server.test_client()
    response = _login(client, **headers)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/_dash-layout").status_code == 200
    callback = client.post("/_dash-update-component", json=routing_request("/"), headers=headers)
    assert callback.status_code == 200


def test_safe_methods_are_never_refused(client):
    response = client.get("/login", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 200  # a link from another site to the login page
    with client.head("/assets/app.js", headers={"Origin": "http://evil.example"}) as asset:
        assert asset.status_code == 200


# --- HTTPS, HSTS and the session cookie -------------------------------------------------------


def test_outside_production_http_is_served_and_the_cookie_is_not_secure(app, client):
    response = _login(client)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    config = app.server.config
    assert (config["SESSION_COOKIE_SECURE"], config["SESSION_COOKIE_SAMESITE"]) == (False, "Lax")
    assert config["SESSION_COOKIE_HTTPONLY"] is True


def test_production_redirects_http_to_https_and_sends_hsts(prod_app):
    client = prod_app.server.test_client()
    plain = client.get("/login?next=/sales")
    assert plain.status_code == 308
    assert plain.headers["Location"] == "https://localhost/login?next=/sales"
    assert "Strict-Transport-Security" not in plain.headers  # never over plain HTTP

    secure = client.get("/login", base_url="https://localhost")
    assert secure.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    proxied = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200 and "Strict-Transport-Security" in proxied.headers

    # load balancer probes over plain HTTP are answered, not redirected
    assert client.get("/api/health").status_code in (200, 503)
    assert client.get("/metrics").status_code == 401

    config = prod_app.server.config
    assert (config["SESSION_COOKIE_SECURE"], config["SESSION_COOKIE_SAMESITE"]) == (True, "Lax")
    assert config["SESSION_COOKIE_HTTPONLY"] is True
