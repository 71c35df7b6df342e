"""Shared fixtures: settings, isolated databases (SQLite file, PostgreSQL schema), Redis, apps.

Integration tests use the real servers at BI_TEST_DATABASE_URL / BI_TEST_REDIS_URL. Each
PostgreSQL test gets its own schema (so parallel runs never see each other's rows) and each Redis
test its own key prefix. With CI=true a missing server FAILS the test instead of skipping it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from bi_app.config import Settings
from tests.isolation import (  # noqa: F401  (autouse: private copies of process-global state)
    isolated_breaker_registry,
    isolated_import_executor,
    isolated_request_metrics,
)
from tests.network_guard import no_network_off_this_machine  # noqa: F401  (autouse)

PG_URL = os.environ.get("BI_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_SECRET = "test-secret-key-0123456789abcdef"
ADMIN_PASSWORD = "admin-test-password"
ANALYST_PASSWORD = "analyst-test-password"
VIEWER_PASSWORD = "viewer-test-password"


TESTS_DIR = Path(__file__).resolve().parent
DIRECTORY_MARKERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test by its directory, so ``-m "not e2e"`` selects exactly what it says."""
    for item in items:
        try:
            top = Path(item.path).resolve().relative_to(TESTS_DIR).parts[0]
        except ValueError:  # collected from outside tests/
            continue
        if top in DIRECTORY_MARKERS:
            item.add_marker(getattr(pytest.mark, top))


def pytest_setup_options():
    """Headless Debian Chromium for dash_duo (see shared/RECIPES.md)."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in (
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={tempfile.mkdtemp(prefix='chrome-')}",
    ):
        options.add_argument(arg)
    return options


def unavailable(what: str) -> None:
    """Fail under CI (a missing server or tool is a broken CI), skip on a developer machine."""
    if IN_CI:
        pytest.fail(
            f"{what} is not available and CI=true: the servers and tools tests use are required"
        )
    pytest.skip(f"{what} is not available")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_settings(database_url: str, **overrides) -> Settings:
    values = {
        "env": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "scheduler": False,
        "cache_ttl": 300,
        "cache_dir": "",
        "timezone": "UTC",
        "currency": "EUR",
    }
    values.update(overrides)
    return Settings(**values)


# --- databases ------------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bi.sqlite'}"


def _schema_url(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh, empty schema dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means "no server"
        unavailable(f"PostgreSQL at {PG_URL} ({type(exc).__name__})")
    try:
        yield _schema_url(PG_URL, schema)
    finally:
        _drop_schema(admin, schema)
        admin.dispose()


def _drop_schema(admin, schema: str, attempts: int = 5) -> None:
    """DROP SCHEMA ... CASCADE, again when it lost a deadlock: a background writer of the test's
    app (the log handler's thread, a job started by a click) may still be at work in the schema
    when the test ends; once its transaction is done the drop goes through."""
    from sqlalchemy.exc import OperationalError

    for attempt in range(attempts):
        try:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            return
        except OperationalError as exc:
            if attempt == attempts - 1 or "deadlock detected" not in str(exc):
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
    except Exception as exc:  # noqa: BLE001
        unavailable(f"Redis at {REDIS_URL} ({type(exc).__name__})")
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A unique key prefix; its keys are deleted after the test."""
    import redis

    prefix = f"bitest-{uuid.uuid4().hex[:10]}-"
    yield prefix
    with contextlib.suppress(Exception):  # cleanup only: a test without Redis has no keys
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def migrate(url: str) -> None:
    from bi_app.db.migrate import upgrade

    upgrade(url)


# --- a demo database built once per session and copied per test -------------------------------

DEMO_SCALE = float(os.environ.get("BI_TEST_DEMO_SCALE", "0.1"))


def _seed_users(url: str) -> None:
    from bi_app import auth
    from bi_app.db.engine import make_engine, make_session_factory

    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        auth.create_user(session, "admin", ADMIN_PASSWORD, "admin", actor="tests")
        auth.create_user(session, "analyst", ANALYST_PASSWORD, "analyst", actor="tests")
        auth.create_user(session, "viewer", VIEWER_PASSWORD, "viewer", actor="tests")
        session.commit()
    engine.dispose()


@pytest.fixture(scope="session")
def demo_sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file with demo data (seed 42) and three users, built once."""
    from bi_app.db import demo
    from bi_app.db.engine import make_engine

    path = tmp_path_factory.mktemp("demo") / "template.sqlite"
    url = f"sqlite:///{path}"
    migrate(url)
    engine = make_engine(url)
    demo.load_demo(engine, scale=DEMO_SCALE, seed=42, progress=False)
    engine.dispose()
    _seed_users(url)
    return path


@pytest.fixture
def demo_sqlite_url(demo_sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "demo.sqlite"
    shutil.copy(demo_sqlite_template, path)
    return f"sqlite:///{path}"


def reset_pages_state() -> None:
    """Forget Dash's process-global pages state: the page registry and the pages config.

    The same state Dash's own test suite clears (its ``clear_pages_state`` fixture). The config
    is replaced rather than cleared in place: ``Dash()`` binds it to the app's own ``config``,
    and an app built earlier in the same test must keep its settings.
    """
    from dash import _pages
    from dash._utils import AttributeDict

    _pages.PAGE_REGISTRY.clear()
    _pages.CONFIG = AttributeDict()


@pytest.fixture
def app_factory() -> Iterator[Callable[..., object]]:
    """Build a fresh Dash app from settings; Dash's global pages state is reset first."""

    def build(database_url: str, **overrides):
        from bi_app import create_app

        reset_pages_state()
        return create_app(make_settings(database_url, **overrides))

    yield build
    reset_pages_state()


@pytest.fixture
def demo_app(app_factory, demo_sqlite_url):
    return app_factory(demo_sqlite_url)


# --- private servers for fault tests (tests/fault_servers.py) -------------------------------


@pytest.fixture
def private_pg():
    """A PostgreSQL cluster of the test's own, running; the test may stop and start it."""
    from tests.fault_servers import PrivatePostgres

    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


@pytest.fixture
def outage_app(app_factory, private_pg):
    """A demo app on a private PostgreSQL cluster (small demo data, an ``admin`` user)."""
    from bi_app import auth
    from bi_app.db import demo
    from bi_app.extensions import db

    migrate(private_pg.url)
    app = app_factory(private_pg.url)
    demo.load_demo(db.require_engine(), scale=0.02, seed=7, progress=False)
    with db.session() as session:
        auth.create_user(session, "admin", ADMIN_PASSWORD, "admin", actor="tests")
        session.commit()
    return app


# --- HTTP helpers ---------------------------------------------------------------------------

TEST_PASSWORDS = {"admin": ADMIN_PASSWORD, "analyst": ANALYST_PASSWORD, "viewer": VIEWER_PASSWORD}


def signed_in_client(app, username: str, password: str | None = None):
    """A Flask test client of ``app`` signed in through the real login form (CSRF included);
    ``password`` defaults to the seeded user's."""
    import re

    client = app.server.test_client()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/login",
        data={
            "username": username,
            "password": TEST_PASSWORDS[username] if password is None else password,
            "next": "/",
            "csrf_token": csrf,
        },
    )
    assert response.status_code == 302, f"{username} could not sign in"
    return client


# --- browser helpers ------------------------------------------------------------------------


def login(
    dash_duo, username: str = "admin", password: str = ADMIN_PASSWORD, next_path: str = "/"
) -> None:
    """Log in through the real login form and wait for the app shell."""
    dash_duo.driver.get(f"{dash_duo.server_url}/login?next={quote(next_path)}")
    dash_duo.wait_for_element("#login-username", timeout=10).send_keys(username)
    dash_duo.find_element("#login-password").send_keys(password)
    dash_duo.find_element("#login-submit").click()
    dash_duo.wait_for_element("#app-sidebar", timeout=15)


@pytest.fixture
def start_app(dash_duo):
    """Start an app on a free port (several test runs may share this machine)."""

    def start(app):
        # navigate=False: "/" answers with the login redirect, not a Dash page to wait for.
        dash_duo.start_server(app, navigate=False, port=free_port())
        dash_duo._url = dash_duo.server.url  # base URL without waiting for a page
        return dash_duo

    return start
