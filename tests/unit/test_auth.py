"""Pure parts of auth: redirects, validation, page permissions, the rate limiter, session ids."""

from __future__ import annotations

import pytest
from cachelib import SimpleCache

from bi_app.auth import pages as auth_pages
from bi_app.auth.context import SessionUser, password_fingerprint
from bi_app.auth.ratelimit import LoginRateLimiter
from bi_app.auth.users import (
    UserError,
    validate_password,
    validate_role,
    validate_username,
    verify_password,
)
from bi_app.auth.views import safe_next
from bi_app.db.models import User


@pytest.mark.parametrize(
    "raw",
    [
        "//evil.example/x",
        "http://evil.example/",
        "https://evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        None,
        "/ok\r\nSet-Cookie: x",
        "/login",
        "/logout",
        "///evil.example",
    ],
)
def test_safe_next_rejects_anything_that_could_leave_the_site(raw):
    assert safe_next(raw) == "/"


@pytest.mark.parametrize(
    "raw", ["/", "/sales", "/sales?start=2024-01-01&platform=web", "/events/e-1#top", "/login-help"]
)
def test_safe_next_keeps_local_paths(raw):
    assert safe_next(raw) == raw


def test_safe_next_uses_the_prefix_as_home():
    assert safe_next("//evil", "/bi/") == "/bi/"
    assert safe_next("/bi/login", "/bi/") == "/bi/"


@pytest.mark.parametrize("name", ["a", "", " ", "has space", "-dash-first", "x" * 65, "ünï", "a/b"])
def test_invalid_usernames_are_refused(name):
    with pytest.raises(UserError):
        validate_username(name)


def test_usernames_are_case_insensitive():
    assert validate_username("  Alice.Smith@Corp ") == "alice.smith@corp"


def test_passwords_need_eight_characters():
    with pytest.raises(UserError, match="at least 8"):
        validate_password("1234567")
    assert validate_password("12345678") == "12345678"
    with pytest.raises(UserError):
        validate_password("x" * 257)


def test_roles_are_checked():
    assert validate_role("analyst") == "analyst"
    with pytest.raises(UserError):
        validate_role("root")


def test_verify_password_is_false_for_unknown_users_and_empty_passwords():
    from werkzeug.security import generate_password_hash

    user = User(username="u", password_hash=generate_password_hash("right-password"), role="viewer")
    assert verify_password(user, "right-password")
    assert not verify_password(user, "wrong-password")
    assert not verify_password(user, "")
    assert not verify_password(None, "right-password")


# --- page permissions ------------------------------------------------------------------------

PAGES = {
    "pages.overview": {"path": "/", "name": "Overview", "path_template": None},
    "pages.users": {
        "path": "/admin/users",
        "name": "Users",
        "roles": ("admin",),
        "path_template": None,
    },
    "pages.reports": {
        "path": "/reports",
        "name": "Reports",
        "roles": ["analyst"],
        "path_template": None,
    },
    "pages.event": {
        "path": "/events/<code>",
        "name": "Event",
        "roles": ("analyst",),
        "path_template": "/events/<code>",
    },
}


@pytest.fixture
def registry():
    return PAGES


def test_can_view_defaults_to_every_role_and_admin_sees_everything(registry):
    assert all(
        auth_pages.can_view(PAGES["pages.overview"], r) for r in ("admin", "analyst", "viewer")
    )
    assert auth_pages.can_view(PAGES["pages.users"], "admin")
    assert not auth_pages.can_view(PAGES["pages.users"], "analyst")
    assert auth_pages.can_view(PAGES["pages.reports"], "admin")
    assert not auth_pages.can_view(PAGES["pages.reports"], "viewer")
    assert not auth_pages.can_view(PAGES["pages.overview"], None)


def test_visible_pages_per_role(registry):
    names = {
        role: [p["name"] for p in auth_pages.visible_pages(registry, role)]
        for role in ("admin", "analyst", "viewer")
    }
    assert names == {
        "admin": ["Overview", "Users", "Reports", "Event"],
        "analyst": ["Overview", "Reports", "Event"],
        "viewer": ["Overview"],
    }
    assert auth_pages.visible_pages(registry, None) == []


@pytest.mark.parametrize(
    "path,name",
    [
        ("/", "Overview"),
        ("", "Overview"),
        ("/admin/users", "Users"),
        ("/admin/users/", "Users"),
        ("/events/e-42", "Event"),
        ("/nope", None),
        ("/admin", None),
    ],
)
def test_page_for_path_matches_like_dash(registry, path, name):
    page = auth_pages.page_for_path(registry, path)
    assert (page or {}).get("name") == name


def test_page_for_path_strips_the_prefix(registry):
    assert auth_pages.page_for_path(registry, "/bi/admin/users", "/bi/")["name"] == "Users"


# --- rate limiter ----------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rate_limiter_blocks_after_limit_and_resets_after_window():
    clock = Clock()
    limiter = LoginRateLimiter(SimpleCache(default_timeout=0), limit=3, window=60, clock=clock)
    for expected in (1, 2, 3):
        assert not limiter.blocked("10.0.0.1", "bob")
        assert limiter.record_failure("10.0.0.1", "bob") == expected
    assert limiter.blocked("10.0.0.1", "Bob")  # same user, any case
    assert not limiter.blocked("10.0.0.2", "bob")  # another client
    assert not limiter.blocked("10.0.0.1", "alice")  # another user
    clock.now += 60
    assert not limiter.blocked("10.0.0.1", "bob")


def test_rate_limiter_reset_clears_the_count():
    limiter = LoginRateLimiter(SimpleCache(), limit=2, window=60, clock=Clock())
    limiter.record_failure("ip", "bob")
    limiter.record_failure("ip", "bob")
    assert limiter.blocked("ip", "bob")
    limiter.reset("ip", "bob")
    assert limiter.failures("ip", "bob") == 0


def test_rate_limiter_retry_after_counts_down_to_the_window_end():
    clock = Clock(600.0)
    limiter = LoginRateLimiter(SimpleCache(), limit=1, window=60, clock=clock)
    assert limiter.retry_after() == 60
    clock.now += 45
    assert limiter.retry_after() == 15


class BrokenCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache down")

        return fail


def test_rate_limiter_fails_open_when_the_cache_errors(caplog):
    limiter = LoginRateLimiter(BrokenCache(), limit=1, window=60)
    assert limiter.record_failure("ip", "bob") == 0
    assert not limiter.blocked("ip", "bob")
    limiter.reset("ip", "bob")
    assert "fail" in caplog.text or "allowing" in caplog.text


# --- session ids -----------------------------------------------------------------------------


def test_session_id_changes_with_the_password_hash():
    user = User(id=7, username="u", password_hash="scrypt:a", role="viewer", active=True)
    first = SessionUser.from_model(user, "k" * 32)
    user.password_hash = "scrypt:b"
    second = SessionUser.from_model(user, "k" * 32)
    assert first.get_id().startswith("7:") and first.get_id() != second.get_id()
    assert password_fingerprint("scrypt:a", "k" * 32) != password_fingerprint("scrypt:a", "j" * 32)
    assert first.is_authenticated and first.is_active and not first.is_anonymous
