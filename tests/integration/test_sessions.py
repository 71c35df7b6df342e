"""Sessions end: lifetime, idle timeout, logout on the server, sign out everywhere, password
change; through the real app with a controlled clock instead of waiting."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from sqlalchemy import event, select, update

from bi_app import auth
from bi_app.auth import sessions as auth_sessions
from bi_app.db.models import UserSession
from bi_app.extensions import db
from tests.conftest import migrate
from tests.integration.test_auth_http import _build, audit_rows, login

RECHECK = 5  # BI_SESSION_RECHECK's default


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 5, 9, 0, 0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(auth_sessions, "now", clock)
    return clock


@pytest.fixture
def app(app_factory, sqlite_url):
    migrate(sqlite_url)
    return _build(app_factory, sqlite_url, session_lifetime=300, session_idle_timeout=60)


def _copy_of(app, client):
    """Another browser holding a copy of ``client``'s session cookie."""
    thief = app.server.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def _logout(client, everywhere: bool = False):
    with client.session_transaction() as sess:
        token = sess["_csrf_token"]
    path = "/logout?everywhere=1" if everywhere else "/logout"
    return client.post(path, data={"csrf_token": token})


def test_an_idle_session_ends(app, clock):
    client = app.server.test_client()
    assert login(client, "viewer").status_code == 302
    clock.advance(40)
    assert client.get("/").status_code == 200  # activity moves last_seen
    clock.advance(50)
    assert client.get("/").status_code == 200  # 50 s idle < 60
    clock.advance(61)
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.get("/_dash-layout").status_code == 401


def test_an_active_session_ends_at_its_lifetime(app, clock):
    client = app.server.test_client()
    login(client, "viewer")
    for _ in range(6):  # active every 50 s, never idle
        clock.advance(50)
        assert client.get("/").status_code == 200
    clock.advance(1)  # 301 s after sign-in
    assert client.get("/").status_code == 302


def test_the_cookie_is_permanent_with_the_lifetime(app):
    client = app.server.test_client()
    response = login(client, "viewer")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" in cookie
    assert app.server.permanent_session_lifetime == dt.timedelta(seconds=300)


def test_logout_revokes_the_session_on_the_server(app, clock):
    client = app.server.test_client()
    login(client, "viewer")
    copy = _copy_of(app, client)
    assert copy.get("/").status_code == 200
    assert _logout(client).status_code == 302
    assert copy.get("/").status_code == 302  # the copied cookie stopped working
    assert copy.get("/_dash-layout").status_code == 401
    with db.session() as session:
        (row,) = session.scalars(select(UserSession))
        assert row.revoked_at is not None


def test_logout_leaves_the_users_other_browsers_signed_in(app, clock):
    laptop, phone = app.server.test_client(), app.server.test_client()
    login(laptop, "viewer")
    login(phone, "viewer")
    _logout(laptop)
    assert phone.get("/").status_code == 200


def test_sign_out_everywhere_ends_every_session_of_the_user(app, clock):
    laptop, phone, other = (app.server.test_client() for _ in range(3))
    login(laptop, "viewer")
    login(phone, "viewer")
    login(other, "analyst")
    assert _logout(laptop, everywhere=True).status_code == 302
    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302
    assert other.get("/").status_code == 200  # only that user's sessions
    (row,) = audit_rows("logout.everywhere")
    assert row.username == "viewer" and row.detail == {"sessions": 2}


def test_sign_out_everywhere_needs_the_csrf_token(app, clock):
    client = app.server.test_client()
    login(client, "viewer")
    assert client.post("/logout?everywhere=1", data={}).status_code == 400
    assert client.get("/").status_code == 200


def test_a_password_change_ends_another_clients_session(app, clock):
    client = app.server.test_client()
    login(client, "viewer")
    with db.session() as session:
        auth.set_password(session, "viewer", "a-brand-new-password", actor="tests")
        session.commit()
        rows = list(session.scalars(select(UserSession)))
        assert rows and all(r.revoked_at is not None for r in rows)  # revoked on the server
    assert client.get("/").status_code == 302


def test_cli_sign_out_ends_the_users_sessions(app, sqlite_url, tmp_path, clock):
    client = app.server.test_client()
    login(client, "viewer")
    env = {
        "BI_DATABASE_URL": sqlite_url,
        "BI_SECRET_KEY": "cli-test-secret-0123456789",
        "BI_INSTANCE_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    import os

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-m", "bi_app.cli", "users", "sign-out", "viewer"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "1 session(s) ended" in result.stdout
    clock.advance(RECHECK)  # another process revoked it: this worker rereads within the interval
    assert client.get("/").status_code == 302


def _session_reads(app, client, path: str, times: int) -> int:
    statements: list[str] = []

    def record(conn, cursor, statement, *_args) -> None:
        if "user_sessions" in statement:
            statements.append(statement)

    engine = db.require_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        for _ in range(times):
            assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_a_worker_rereads_a_session_only_after_the_recheck_interval(app, clock):
    client = app.server.test_client()
    login(client, "viewer")
    assert _session_reads(app, client, "/", 1) == 1
    assert _session_reads(app, client, "/", 5) == 0  # verified a moment ago in this worker
    clock.advance(RECHECK)
    assert _session_reads(app, client, "/", 3) == 1


def test_a_sign_out_on_another_worker_takes_effect_within_the_recheck_interval(app, clock):
    client = app.server.test_client()
    login(client, "viewer")
    assert client.get("/").status_code == 200
    with db.session() as session:  # what another worker's logout writes; this one is not told
        session.execute(update(UserSession).values(revoked_at=clock.now))
        session.commit()
    clock.advance(RECHECK - 1)
    assert client.get("/").status_code == 200  # the documented lag: at most the interval
    clock.advance(1)
    assert client.get("/").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_with_no_recheck_interval_every_request_reads_the_session(app_factory, sqlite_url, clock):
    migrate(sqlite_url)
    app = _build(app_factory, sqlite_url, session_recheck=0)
    client = app.server.test_client()
    login(client, "viewer")
    assert _session_reads(app, client, "/", 3) == 3


def test_old_sessions_are_pruned_at_sign_in(app, clock):
    client = app.server.test_client()
    login(client, "viewer")
    _logout(client)
    clock.advance(10)
    login(client, "viewer")
    with db.session() as session:
        rows = list(session.scalars(select(UserSession)))
    assert len(rows) == 1 and rows[0].revoked_at is None


def test_cli_reads_a_new_password_from_stdin_never_from_argv(app, sqlite_url, tmp_path):
    import os

    env = {
        "BI_DATABASE_URL": sqlite_url,
        "BI_SECRET_KEY": "cli-test-secret-0123456789",
        "BI_INSTANCE_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
    }
    result = subprocess.run(
        [sys.executable, "-m", "bi_app.cli", "users", "set-password", "viewer", "--password-stdin"],
        input="typed-on-stdin-123\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "typed-on-stdin-123" not in result.stdout  # not echoed like a generated one
    assert login(app.server.test_client(), "viewer", "typed-on-stdin-123").status_code == 302
