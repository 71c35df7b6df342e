"""Pure parts of auth: redirects, validation, page permissions, the rate limiter, session ids."""

from __future__ import annotations

import pytest

from bi_app.auth import pages as auth_pages
from bi_app.auth.context import SessionUser, password_fingerprint
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


# --- sign-in throttle ------------------------------------------------------------------------


def _throttle(primary=None, **kwargs):
    from limits.storage import MemoryStorage

    from bi_app.auth.ratelimit import FailoverStorage, LoginThrottle

    values = {"name_limit": 3, "address_limit": 10, "window": 300}
    values.update(kwargs)
    return LoginThrottle(FailoverStorage(primary or MemoryStorage()), **values)


def test_throttle_counts_before_the_check_and_then_gates_each_name():
    throttle = _throttle()
    assert [throttle.attempt("bob", "10.0.0.1").allowed for _ in range(4)] == [
        True,
        True,
        True,  # the third opens the gate for the next attempts
        False,
    ]
    refused = throttle.attempt("BOB ", "10.0.0.2")  # same name, any case, any address
    assert not refused.allowed and 1 <= refused.retry_after <= 2
    assert throttle.attempt("alice", "10.0.0.1").allowed  # another name


def test_throttle_backoff_grows_and_is_bounded():
    throttle = _throttle(cap=60)
    assert [throttle.delay(n, 3) for n in (3, 4, 5, 6, 7, 8, 50, 10**6)] == [
        2,
        4,
        8,
        16,
        32,
        60,
        60,
        60,
    ]


def test_throttle_limits_an_address_across_names_and_a_success_resets_the_name():
    throttle = _throttle(name_limit=3, address_limit=4)
    results = [throttle.attempt(f"user{i}", "10.0.0.9").allowed for i in range(6)]
    assert results == [True, True, True, True, False, False]
    assert throttle.attempt("user0", "10.0.0.8").allowed  # other address

    ok = [throttle.attempt("carol", "10.0.1.1") for _ in range(2)]
    throttle.succeeded(ok[-1])
    assert all(throttle.attempt("carol", "10.0.1.1").allowed for _ in range(2))


def test_a_known_device_has_its_own_count_and_skips_the_address_limit():
    throttle = _throttle(name_limit=2, address_limit=2)
    for _ in range(5):
        throttle.attempt("bob", "10.0.0.1")
    assert not throttle.attempt("bob", "10.0.0.1").allowed
    assert throttle.attempt("bob", "10.0.0.1", device="owner-device").allowed


class BrokenStorage:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("storage down")

        return fail


def test_throttle_never_fails_open_when_its_storage_breaks(caplog):
    throttle = _throttle(primary=BrokenStorage())
    assert [throttle.attempt("bob", "ip").allowed for _ in range(4)] == [True, True, True, False]
    assert throttle.storage.using_fallback
    assert "counting in-process" in caplog.text


# --- session ids -----------------------------------------------------------------------------


def test_session_id_changes_with_the_password_hash():
    user = User(id=7, username="u", password_hash="scrypt:a", role="viewer", active=True)
    first = SessionUser.from_model(user, "k" * 32)
    user.password_hash = "scrypt:b"
    second = SessionUser.from_model(user, "k" * 32)
    assert first.get_id().startswith("7:") and first.get_id() != second.get_id()
    assert password_fingerprint("scrypt:a", "k" * 32) != password_fingerprint("scrypt:a", "j" * 32)
    assert first.is_authenticated and first.is_active and not first.is_anonymous
