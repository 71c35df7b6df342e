"""Admin → Integrations against real databases (SQLite and PostgreSQL) and real loopback HTTP
servers: CRUD with audit rows, "Check now", channel test fetches, cache effect, role checks."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dash
import pytest
from sqlalchemy import select

from bi_app import auth, integrations
from bi_app.channels.base import EventRef
from bi_app.channels.config import load_configs
from bi_app.db.channel_models import ChannelSourceConfig
from bi_app.db.models import AuditLog, Event
from bi_app.extensions import db
from bi_app.integrations import IntegrationError
from bi_app.integrations import channels as channel_admin
from bi_app.integrations import services as service_admin
from bi_app.integrations.services import ServiceInput
from bi_app.monitoring import services as monitored
from bi_app.monitoring.breakers import breaker_states
from tests.conftest import migrate

pytestmark = pytest.mark.integration

TOKEN = "Bearer very-secret-token-42"
LOOPBACK = ("127.0.0.1/32",)  # BI_OUTBOUND_ALLOW: the stand-ins are on loopback
PASSWORDS = {
    "admin": "admin-password-1",
    "analyst": "analyst-password-1",
    "viewer": "viewer-password-1",
}


class Loopback:
    """A loopback HTTP server: ``ok`` answers 200 with channel JSON, ``fail`` 500, ``hang``
    accepts and never answers, ``auth`` wants the TOKEN in Authorization."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.requests: list[dict] = []
        self.release = threading.Event()
        self.holding = 0  # ``hang`` requests received and not answered yet
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(
                    {"path": self.path, "auth": self.headers.get("Authorization")}
                )
                if outer.behaviour == "hang":
                    outer.holding += 1
                    outer.release.wait(10)
                    outer.holding -= 1
                    return
                if outer.behaviour == "fail":
                    return self._send(500, b'{"error": "boom"}')
                if outer.behaviour == "auth" and self.headers.get("Authorization") != TOKEN:
                    return self._send(401, b'{"error": "unauthorized"}')
                channel = self.path.rsplit("channel=", 1)[-1]
                return self._send(
                    200,
                    json.dumps(
                        {"channel": channel, "views": 1000, "clicks": 50, "conversions": 5}
                    ).encode(),
                )

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def loopback(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], Loopback]]:
    # sources built outside the app (try_channel_source without an app context) read the
    # operator's BI_OUTBOUND_ALLOW from the environment
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")
    started: list[Loopback] = []

    def start(behaviour: str) -> Loopback:
        started.append(Loopback(behaviour))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, app_factory):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate(url)
    app = app_factory(url, outbound_allow=LOOPBACK)
    with db.session() as session:
        for name, password in PASSWORDS.items():
            auth.create_user(session, name, password, name, actor="tests")
        session.add(
            Event(
                code="EV-1",
                name="Spring fair",
                kind="event",
                organizer="Org",
                status="completed",
                starts_at=dt.datetime(2024, 4, 1, 9),
                ends_at=dt.datetime(2024, 4, 1, 17),
            )
        )
        session.commit()
    return app


def settings_of(app):
    return app.server.config["BI_SETTINGS"]


def with_services(settings, services: list[dict]):
    """``settings`` as if BI_HEALTH_SERVICES held ``services``."""
    return replace(settings, health_services=monitored.parse_services(json.dumps(services)))


def audit_rows(prefix: str = "integration.") -> list[AuditLog]:
    with db.session() as session:
        return list(
            session.scalars(
                select(AuditLog).where(AuditLog.action.startswith(prefix)).order_by(AuditLog.id)
            )
        )


def event_id() -> int:
    with db.session() as session:
        return session.scalar(select(Event.id).where(Event.code == "EV-1"))


def test_service_crud_is_validated_audited_and_seen_by_the_health_job(app):
    engine = db.require_engine()
    settings = with_services(
        settings_of(app), [{"name": "core", "url": "https://core.example/health"}]
    )
    form = service_admin.parse_service_form(
        {
            "name": "payments",
            "url": "https://pay.example/health",
            "expected_status": "204",
            "timeout_s": "2.5",
            "auth_env": "BI_SECRET_PAY_AUTH",
        }
    )
    service_id = service_admin.create_service(form, actor="alice", engine=engine, settings=settings)
    with pytest.raises(IntegrationError) as clash:
        service_admin.create_service(form, actor="alice", engine=engine, settings=settings)
    assert clash.value.errors == {"name": "a service named payments already exists"}
    with pytest.raises(IntegrationError, match="configured in settings"):
        service_admin.create_service(
            ServiceInput("core", "http://x.example/", 200, 5.0, None),
            engine=engine,
            settings=settings,
        )

    rows = service_admin.list_services(
        environ={"BI_SECRET_PAY_AUTH": "Authorization: Bearer x"}, engine=engine, settings=settings
    )
    assert [(r.name, r.source, r.read_only) for r in rows] == [
        ("core", "settings", True),
        ("payments", "admin", False),
    ]
    assert (rows[1].expected_status, rows[1].timeout_s, rows[1].auth_env, rows[1].auth_env_set) == (
        204,
        2.5,
        "BI_SECRET_PAY_AUTH",
        True,
    )
    assert (
        service_admin.list_services(environ={}, engine=engine, settings=settings)[1].auth_env_set
        is False
    )

    service_admin.update_service(
        service_id,
        ServiceInput("payments", "https://pay2.example/health", 200, 2.5, None),
        actor="alice",
        engine=engine,
        settings=settings,
    )
    assert [s.url for s in monitored.table_services(engine, environ={})] == [
        "https://pay2.example/health"
    ]
    assert service_admin.toggle_service(service_id, actor="alice", engine=engine) == (
        "payments",
        False,
    )
    assert monitored.table_services(engine, environ={}) == ()  # the health job no longer checks it
    assert service_admin.delete_service(service_id, actor="alice", engine=engine) == "payments"
    assert [r.name for r in service_admin.list_services(engine=engine, settings=settings)] == [
        "core"
    ]
    with pytest.raises(integrations.NotFound):
        service_admin.delete_service(service_id, engine=engine)

    audited = audit_rows()
    assert [(a.action, a.target, a.username) for a in audited] == [
        ("integration.service.create", "payments", "alice"),
        ("integration.service.update", "payments", "alice"),
        ("integration.service.disable", "payments", "alice"),
        ("integration.service.delete", "payments", "alice"),
    ]
    assert audited[0].detail["auth_env"] == "BI_SECRET_PAY_AUTH"
    assert audited[1].detail == {
        "url": {"old": "https://pay.example/health", "new": "https://pay2.example/health"},
        "expected_status": {"old": 204, "new": 200},
        "auth_env": {"old": "BI_SECRET_PAY_AUTH", "new": None},
    }


def test_channel_source_secret_is_write_only_and_never_audited(app):
    engine = db.require_engine()
    channels = channel_admin.channel_names(engine=engine)
    raw = {
        "channel": "email",
        "kind": "http",
        "url": "https://stats.example/{event_code}?channel={channel}",
        "auth_header_name": "Authorization",
        "auth_header_value": TOKEN,
        "timeout_s": "3",
        "enabled": True,
    }
    channel_admin.save_channel_source(
        channel_admin.parse_channel_form(raw, channels), actor="alice", engine=engine
    )
    row = next(r for r in channel_admin.list_channel_sources(engine=engine) if r.channel == "email")
    assert (row.serving, row.auth_display, row.timeout_s) == (
        "http",
        "Authorization: ••••••••",
        3.0,
    )

    # an empty value keeps the stored secret for the same origin; a changed URL is saved
    kept = {
        **raw,
        "auth_header_value": "",
        "url": "https://stats.example/v2/{event_code}?channel={channel}",
    }
    channel_admin.save_channel_source(
        channel_admin.parse_channel_form(kept, channels), actor="alice", engine=engine
    )
    stored = {c.channel: c for c in load_configs(engine)}["email"]
    assert (stored.url, stored.auth_header_value) == (kept["url"], TOKEN)

    with pytest.raises(IntegrationError) as missing:  # a new name with no value and none stored
        form = channel_admin.parse_channel_form(
            {**raw, "channel": "social", "auth_header_value": ""}, channels
        )
        channel_admin.save_channel_source(form, engine=engine)
    assert missing.value.errors == {
        "auth_header_value": "give both the auth header's name and value, or neither"
    }

    disabled = {**kept, "enabled": False, "clear_auth": True}
    channel_admin.save_channel_source(
        channel_admin.parse_channel_form(disabled, channels), actor="alice", engine=engine
    )
    row = next(r for r in channel_admin.list_channel_sources(engine=engine) if r.channel == "email")
    assert (row.serving, row.configured, row.enabled, row.auth_display) == (
        "demo",
        True,
        False,
        "—",
    )
    channel_admin.save_channel_source(
        channel_admin.parse_channel_form({"channel": "email", "kind": "demo"}, channels),
        actor="alice",
        engine=engine,
    )
    assert not any(r.configured for r in channel_admin.list_channel_sources(engine=engine))

    audited = audit_rows()
    assert [a.action for a in audited] == ["integration.channel.save"] * 3 + [
        "integration.channel.remove"
    ]
    assert [a.detail["auth_header"] for a in audited[:3]] == ["changed", "unchanged", "removed"]
    assert "very-secret" not in json.dumps([a.detail for a in audited])


def test_check_now_runs_the_real_http_check(app, loopback):
    engine, settings = db.require_engine(), settings_of(app)
    ok, failing, hanging, guarded = (
        loopback("ok"),
        loopback("fail"),
        loopback("hang"),
        loopback("auth"),
    )
    for name, server, timeout, env in (
        ("ok", ok, 2, None),
        ("failing", failing, 2, None),
        ("hanging", hanging, 0.5, None),
        ("guarded", guarded, 2, "BI_SECRET_GUARD_AUTH"),
    ):
        service_admin.create_service(
            ServiceInput(name, f"{server.base}/health", 200, timeout, env),
            actor="tests",
            engine=engine,
            settings=settings,
        )
    healthy = service_admin.check_service("ok", engine=engine, settings=settings)
    assert (healthy.status, healthy.detail["status_code"], healthy.error) == ("healthy", 200, None)
    assert healthy.latency_ms is not None and len(ok.requests) == 1

    broken = service_admin.check_service("failing", engine=engine, settings=settings)
    assert (broken.status, broken.error) == ("unhealthy", "HTTP 500, expected 200")

    hung = service_admin.check_service("hanging", engine=engine, settings=settings)
    assert (hung.status, hung.error) == ("unhealthy", "timed out after 0.5 s")
    # the short timeout applied: the check returned while the server still held its request
    assert (len(hanging.requests), hanging.holding) == (1, 1)

    unset = service_admin.check_service("guarded", environ={}, engine=engine, settings=settings)
    assert (
        unset.status == "unhealthy"
        and "BI_SECRET_GUARD_AUTH is not set" in unset.error
        and guarded.requests == []
    )
    authed = service_admin.check_service(
        "guarded",
        environ={"BI_SECRET_GUARD_AUTH": f"Authorization: {TOKEN}"},
        engine=engine,
        settings=settings,
    )
    assert authed.status == "healthy" and guarded.requests[-1]["auth"] == TOKEN

    settings = with_services(settings, [{"name": "core", "url": f"{failing.base}/x"}])
    assert (
        service_admin.check_service("core", engine=engine, settings=settings).error
        == "HTTP 500, expected 200"
    )
    with pytest.raises(integrations.NotFound):
        service_admin.check_service("nobody", engine=engine, settings=settings)


def test_channel_test_fetch_uses_the_source_without_touching_live_breakers(app, loopback):
    engine = db.require_engine()
    ok, failing = loopback("ok"), loopback("fail")
    before = breaker_states()
    with app.server.app_context():
        demo = channel_admin.try_channel_source("email", event_id(), engine=engine)
    assert (demo.ok, demo.kind, demo.views, demo.event_code) == (True, "demo", 0, "EV-1")

    for channel, server in (("email", ok), ("social", failing)):
        channel_admin.save_channel_source(
            channel_admin.ChannelInput(
                channel,
                "http",
                f"{server.base}/s/{{event_code}}?channel={{channel}}",
                "Authorization",
                TOKEN,
                timeout_s=2,
                enabled=False,
            ),
            actor="tests",
            engine=engine,
        )
    good = channel_admin.try_channel_source("email", event_id(), engine=engine)
    assert (good.ok, good.kind, good.views, good.clicks, good.conversions) == (
        True,
        "http",
        1000,
        50,
        5,
    )
    assert ok.requests[-1] == {"path": "/s/EV-1?channel=email", "auth": TOKEN}
    bad = channel_admin.try_channel_source("social", event_id(), engine=engine)
    assert not bad.ok and "HTTP 500" in bad.error
    assert breaker_states() == before
    with pytest.raises(integrations.NotFound):
        channel_admin.try_channel_source("email", 999_999, engine=engine)


def test_a_saved_source_is_fetched_at_once_despite_a_cached_report(app, loopback):
    from bi_app.channels.report import channel_report

    engine, server = db.require_engine(), loopback("ok")
    ref = EventRef(event_id(), "EV-1")
    with app.server.test_request_context("/"):
        first = channel_report(ref)
        assert {r.channel: r.source for r in first.results}["email"] == "demo"
        assert channel_report(ref) is not None and server.requests == []
        channel_admin.save_channel_source(
            channel_admin.ChannelInput(
                "email", "http", f"{server.base}/s/{{event_code}}?channel={{channel}}", timeout_s=2
            ),
            actor="tests",
            engine=engine,
        )
        after = {r.channel: r for r in channel_report(ref).results}["email"]
    assert (after.source, after.stats.views) == ("http", 1000) and len(server.requests) == 1


# --- role checks over HTTP, for every callback of the page ----------------------------------


def _login(client, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert (
        client.post(
            "/login",
            data={
                "username": username,
                "password": PASSWORDS[username],
                "next": "/",
                "csrf_token": token,
            },
        ).status_code
        == 302
    )


def _wire(ident: object, prop: str, value: object = None) -> object:
    """One input/output as the renderer sends it; ALL wildcards match nothing, MATCH gets "x"."""
    if isinstance(ident, str) and ident.startswith("{"):
        ident = json.loads(ident)
    if isinstance(ident, dict):
        if ["ALL"] in ident.values():
            return []
        ident = {k: ("x" if isinstance(v, list) else v) for k, v in ident.items()}
    return {"id": ident, "property": prop.split("@")[0], "value": value}


def _body(key: str, spec: dict) -> dict:
    parts = key[2:-2].split("...") if key.startswith("..") else [key]
    outputs = []
    for part in parts:
        split = part.rindex("}") + 1 if part.startswith("{") else part.rindex(".")
        out = _wire(part[:split], part[split + 1 :])
        outputs.append(
            {k: v for k, v in out.items() if k != "value"} if isinstance(out, dict) else out
        )
    inputs = [_wire(i["id"], i["property"], 1) for i in spec["inputs"]]
    changed = [
        (
            json.dumps(i["id"], separators=(",", ":"), sort_keys=True)
            if isinstance(i["id"], dict)
            else str(i["id"])
        )
        + f".{i['property']}"
        for i in inputs
        if isinstance(i, dict)
    ][:1]
    return {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": inputs,
        "state": [_wire(s["id"], s["property"]) for s in spec["state"]],
        "changedPropIds": changed,
    }


@pytest.fixture
def sqlite_app(app_factory, sqlite_url):
    migrate(sqlite_url)
    app = app_factory(sqlite_url, outbound_allow=LOOPBACK)
    with db.session() as session:
        for name, password in PASSWORDS.items():
            auth.create_user(session, name, password, name, actor="tests")
        session.commit()
    return app


def test_every_integrations_callback_refuses_viewers_and_analysts(sqlite_app):
    page_callbacks = {
        k: spec
        for k, spec in sqlite_app.callback_map.items()
        if getattr(spec.get("callback"), "__module__", None) == "callbacks.admin_integrations"
    }
    assert len(page_callbacks) == 11
    clients = {}
    for user in PASSWORDS:
        clients[user] = sqlite_app.server.test_client()
        _login(clients[user], user)
    for key, spec in page_callbacks.items():
        body = _body(key, spec)
        for user in ("viewer", "analyst"):
            assert clients[user].post("/_dash-update-component", json=body).status_code == 403, (
                user,
                key,
            )
        assert clients["admin"].post("/_dash-update-component", json=body).status_code in (
            200,
            204,
        ), key


def test_the_save_callback_creates_a_service_for_an_admin_and_audits_the_user(sqlite_app):
    admin = sqlite_app.server.test_client()
    _login(admin, "admin")
    key, spec = next(
        (k, s)
        for k, s in sqlite_app.callback_map.items()
        if getattr(s.get("callback"), "__name__", None) == "save_service"
    )
    body = _body(key, spec)
    values = {
        "name": "billing",
        "url": "http://127.0.0.1:9/health",
        "expected_status": 200,
        "timeout_s": 1,
        "auth_env": "",
    }
    body["state"][1] = [
        {
            "id": {"type": "admin-integrations-service-input", "field": f},
            "property": "value",
            "value": v,
        }
        for f, v in values.items()
    ]
    body["state"][2] = [
        {
            "id": {"type": "admin-integrations-service-input", "field": f},
            "property": "id",
            "value": {"type": "admin-integrations-service-input", "field": f},
        }
        for f in values
    ]
    body["outputs"][3] = [
        {"id": {"type": "admin-integrations-service-input", "field": f}, "property": "invalid"}
        for f in values
    ]
    body["outputs"][4] = [
        {"id": {"type": "admin-integrations-service-feedback", "field": f}, "property": "children"}
        for f in values
    ]
    answer = admin.post("/_dash-update-component", json=body)
    assert answer.status_code == 200 and "Saved service billing" in answer.get_data(as_text=True)
    row = audit_rows()[-1]
    assert (row.action, row.target, row.username) == (
        "integration.service.create",
        "billing",
        "admin",
    )


def test_the_channel_save_callback_marks_fields_and_never_echoes_the_secret(sqlite_app):
    from callbacks.admin_integrations import save_channel
    from components.admin_integrations_view import CHANNEL_FIELDS

    ids = [{"type": "admin-integrations-channel-input", "field": f} for f in CHANNEL_FIELDS]
    good = {
        "channel": "email",
        "kind": "http",
        "url": "https://stats.example/{event_code}",
        "auth_header_name": "X-Api-Key",
        "auth_header_value": "k-123",
        "clear_auth": False,
        "timeout_s": 4,
        "enabled": True,
    }
    with sqlite_app.server.test_request_context("/"):
        bad = save_channel(
            1, [{**good, "url": "gopher://x", "timeout_s": 500}[f] for f in CHANNEL_FIELDS], ids, 0
        )
        message, color, _, feedback, values, version = bad
        assert color == "danger" and "Not saved" in message and version is dash.no_update
        marked = {f: m for f, m in zip(CHANNEL_FIELDS, feedback) if m}
        assert set(marked) == {"url", "timeout_s"}
        message, color, _, feedback, values, version = save_channel(
            1, [good[f] for f in CHANNEL_FIELDS], ids, 3
        )
    assert (color, version, feedback) == ("success", 4, [""] * len(CHANNEL_FIELDS))
    assert "k-123" not in json.dumps(values) and values[CHANNEL_FIELDS.index("url")] == good["url"]
    assert {c.channel: c for c in load_configs(db.require_engine())}["email"].auth_header_value == (
        "k-123"
    )
    with db.session() as session:  # stored encrypted
        assert "k-123" not in session.get(ChannelSourceConfig, "email").auth_header_value


def _page_texts(node) -> list[str]:
    children = getattr(node, "children", None)
    if isinstance(node, str):
        return [node]
    if isinstance(children, (list, tuple)):
        return [t for child in children for t in _page_texts(child)]
    return _page_texts(children) if children is not None else []


def test_a_database_failure_reaches_the_page_and_its_tables_as_a_readable_message(
    sqlite_app, tmp_path, monkeypatch
):
    from sqlalchemy import create_engine

    from callbacks._registry import call
    from callbacks.admin_integrations import refresh_channels, refresh_services

    page = next(p for p in dash.page_registry.values() if p["path"] == "/admin/integrations")
    with sqlite_app.server.test_request_context("/"):
        assert "Monitored services" in _page_texts(page["layout"]())  # the page works first
        unreachable = create_engine(
            f"sqlite:///{tmp_path / 'gone' / 'bi.sqlite'}"
        )  # cannot be opened
        monkeypatch.setattr(db, "require_engine", lambda: unreachable)
        shown = {
            "page": " ".join(_page_texts(page["layout"]())),
            "services": " ".join(_page_texts(call(refresh_services, 1))),
            "channels": " ".join(_page_texts(call(refresh_channels, 1))),
        }
    assert shown["page"].startswith("Integrations Integrations is unavailable right now.")
    assert "The list of monitored services is unavailable right now." in shown["services"]
    assert "The list of channel sources is unavailable right now." in shown["channels"]
    for text in shown.values():
        for driver_text in ("unable to open", "sqlite", "OperationalError", "gone", "SELECT"):
            assert driver_text not in text, (driver_text, text)
