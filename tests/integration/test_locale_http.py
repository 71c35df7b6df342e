"""Which language a request gets, and the language switch, through the real Flask server: the
signed-in user's choice, else the browser's Accept-Language, else BI_LOCALE; ``/language`` stores
the choice on the user and refuses what it should."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bi_app.auth.context import CSRF_SESSION_KEY
from bi_app.db.models import User
from bi_app.extensions import db
from tests.conftest import migrate
from tests.integration.test_auth_http import _build, login


@pytest.fixture
def korean_default(app_factory, sqlite_url):
    migrate(sqlite_url)
    return _build(app_factory, sqlite_url, locale="ko").server.test_client()


@pytest.fixture
def english_default(app_factory, sqlite_url):
    migrate(sqlite_url)
    return _build(app_factory, sqlite_url).server.test_client()


def _csrf(client) -> str:
    """The signed-in session's CSRF token (the shell's forms carry it)."""
    with client.session_transaction() as session:
        return session[CSRF_SESSION_KEY]


def _locale_of(username: str) -> str | None:
    with db.session() as session:
        return session.scalar(select(User.locale).where(User.username == username))


def test_the_login_page_speaks_bi_locale_without_a_browser_preference(korean_default):
    page = korean_default.get("/login").get_data(as_text=True)
    assert '<html lang="ko">' in page and "로그인" in page and "비밀번호" in page


def test_the_browser_preference_wins_over_bi_locale(korean_default):
    page = korean_default.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in page.get_data(as_text=True)


def test_a_korean_browser_reads_korean_under_an_english_default(english_default):
    page = english_default.get("/login", headers={"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.8"})
    assert "로그인" in page.get_data(as_text=True)
    page = english_default.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert '<html lang="en">' in page.get_data(as_text=True)  # neither: BI_LOCALE


def test_a_user_choice_is_stored_and_wins_over_the_browser(english_default):
    client = english_default
    login(client, "analyst")
    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    token = _csrf(client)
    answer = client.post(
        "/language", data={"locale": "ko", "csrf_token": token, "next": "/sales?start=2024-02-01"}
    )
    assert answer.status_code == 302 and answer.headers["Location"] == "/sales?start=2024-02-01"
    assert _locale_of("analyst") == "ko"
    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="ko">' in page
    # empty: back to the browser's language
    client.post("/language", data={"locale": "", "csrf_token": token, "next": "/"})
    assert _locale_of("analyst") is None
    page = client.get("/", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert '<html lang="en">' in page


def test_the_switch_refuses_bad_requests_and_changes_nothing(english_default):
    client = english_default
    assert client.post("/language", data={"locale": "ko"}).status_code == 401  # not signed in
    login(client, "viewer")
    token = _csrf(client)
    assert client.get("/language").status_code == 405
    expired = client.post("/language", data={"locale": "ko", "csrf_token": "forged"})
    assert expired.status_code == 400 and "reload the page" in expired.get_data(as_text=True)
    unknown = client.post("/language", data={"locale": "fr", "csrf_token": token})
    assert unknown.status_code == 400 and "not available" in unknown.get_data(as_text=True)
    away = client.post(
        "/language", data={"locale": "ko", "csrf_token": token, "next": "https://evil.example/"}
    )
    assert away.headers["Location"] == "/"  # never off the site
    assert _locale_of("viewer") == "ko"
