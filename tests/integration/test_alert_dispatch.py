"""The notification dispatcher against real databases (SQLite and PostgreSQL) and real receivers
on loopback (tests/alert_standins.py): an aiosmtpd SMTP server and an HTTP receiver that record
what they get. Time is injected (``now``), never slept on."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bi_app import outbound, secret_box
from bi_app.alerts import channel_admin, channels, dispatch
from bi_app.alerts.channels import ChannelConfig, ChannelInvalid, Message
from bi_app.config import Settings
from bi_app.db.alert_models import Alert, NotificationChannel, OutboxMessage
from bi_app.db.engine import make_engine
from bi_app.db.models import AuditLog
from tests.alert_standins import HttpReceiver, SmtpStandIn, self_signed
from tests.conftest import make_settings, migrate

pytestmark = pytest.mark.integration

LOOPBACK = ("127.0.0.1/32",)
T0 = dt.datetime(2026, 1, 5, 12, 0, 0)
SIGNING = "whsec-0123456789abcdef-signing"
SMS_TOKEN = "sms-gateway-token-42"
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Db:
    url: str
    engine: Engine
    settings: Settings
    backend: str


def _db(url: str, backend: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Db]:
    migrate(url)
    # forms validate outside an app: the policy comes from the operator's environment
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")
    settings = make_settings(url, outbound_allow=LOOPBACK)
    secret_box.init_app(settings)
    engine = make_engine(url)
    try:
        yield Db(url, engine, settings, backend)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, monkeypatch) -> Iterator[Db]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    yield from _db(url, request.param, monkeypatch)


@pytest.fixture
def pg(pg_url, monkeypatch) -> Iterator[Db]:
    yield from _db(pg_url, "postgresql", monkeypatch)


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    server = HttpReceiver()
    yield server
    server.close()


def add_channel(db: Db, raw: dict[str, Any]) -> int:
    raw = {"severities": ["critical", "emergency"], **raw}
    return channel_admin.save_channel(raw, "tests", engine=db.engine)["id"]


def webhook(db: Db, receiver: HttpReceiver, name: str = "hook", path: str = "/hook") -> int:
    return add_channel(
        db,
        {"kind": "webhook", "name": name, "url": receiver.base + path, "secret": SIGNING},
    )


def add_row(
    db: Db,
    channel_id: int,
    key: str,
    *,
    group: str | None = None,
    due: dt.datetime = T0,
    text: str = "The error rate is 7 %",
    **values: Any,
) -> int:
    with Session(db.engine) as session:
        fields: dict[str, Any] = {
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": due,
            "created_at": due - dt.timedelta(seconds=10),
            **values,
        }
        row = OutboxMessage(
            idempotency_key=key,
            channel_id=channel_id,
            kind="firing",
            group_key=group,
            payload={
                "subject": f"[CRITICAL] Error rate ({key})",
                "text": text,
                "severity": "critical",
                "kind": "firing",
                "alert": {"id": None, "name": "Error rate", "labels": {"shop": "main"}},
            },
            **fields,
        )
        session.add(row)
        session.commit()
        return row.id


def outbox(db: Db, row_id: int) -> OutboxMessage:
    with Session(db.engine) as session:
        return session.get(OutboxMessage, row_id)


def channel_row(db: Db, channel_id: int) -> NotificationChannel:
    with Session(db.engine) as session:
        return session.get(NotificationChannel, channel_id)


def run(db: Db, now: dt.datetime = T0, **kwargs: Any) -> dict[str, int]:
    return dispatch.dispatch_pending(db.engine, now=now, settings=db.settings, **kwargs)


def independent_verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver's side, written from the documented scheme."""
    parts = dict(p.split("=", 1) for p in headers["x-bi-signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return parts["t"] == headers["x-bi-timestamp"] and hmac.compare_digest(expected, parts["v1"])


# --- the channels ---------------------------------------------------------------------------


def test_an_email_reaches_the_smtp_server_with_subject_body_and_message_id(db):
    smtp = SmtpStandIn(user="bi", password="smtp-password-1")
    try:
        channel_id = add_channel(
            db,
            {
                "kind": "email",
                "name": "ops-mail",
                "host": "127.0.0.1",
                "port": smtp.port,
                "security": "none",
                "username": "bi",
                "secret": "smtp-password-1",
                "from": "bi@shop.example",
                "to": "ops@shop.example, oncall@shop.example",
            },
        )
        row_id = add_row(db, channel_id, "alert-1-firing-1", text="Überweisungen: 7 % Fehler")
        assert run(db)["sent"] == 1
    finally:
        smtp.close()
    assert len(smtp.messages) == 1
    got = smtp.messages[0]
    assert got["from"] == "bi@shop.example"
    assert got["to"] == ["ops@shop.example", "oncall@shop.example"]
    assert got["authenticated"] and smtp.logins == [("bi", True)]
    mail = got["message"]
    assert mail["Subject"] == "[CRITICAL] Error rate (alert-1-firing-1)"
    assert mail["Message-ID"] == "<alert-1-firing-1@shop.example>"
    assert mail["X-BI-Idempotency-Key"] == "alert-1-firing-1"
    assert mail.get_content().strip() == "Überweisungen: 7 % Fehler"
    row = outbox(db, row_id)
    assert (row.status, row.attempts, row.sent_at, row.lease_until) == ("sent", 1, T0, None)
    assert channel_row(db, channel_id).last_success_at == T0


def test_email_over_starttls_with_auth_and_the_smtp_failure_classes(tmp_path):
    server_tls, client_tls = self_signed(tmp_path)
    smtp = SmtpStandIn(user="bi", password="smtp-password-1", tls=server_tls)
    policy = outbound.OutboundPolicy.from_allow(LOOPBACK)
    trusting = outbound.OutboundPolicy(policy.networks, policy.hosts, verify=client_tls)
    config = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "starttls",
        "username": "bi",
        "from": "bi@shop.example",
        "to": ["ops@shop.example"],
    }
    message = Message("Subject", "Body", {}, "alert-9-firing-1")
    try:
        channels.send(
            ChannelConfig("email", "m", config, "smtp-password-1"), message, policy=trusting
        )
        assert smtp.messages[-1]["tls"] and smtp.messages[-1]["authenticated"]
        # an untrusted certificate, a wrong password: permanent
        with pytest.raises(channels.PermanentSendError, match="certificate not trusted"):
            channels.send(
                ChannelConfig("email", "m", config, "smtp-password-1"), message, policy=policy
            )
        with pytest.raises(channels.PermanentSendError, match="answered 535"):
            channels.send(ChannelConfig("email", "m", config, "wrong"), message, policy=trusting)
        # the server refuses the recipient for now (4xx), for good (5xx)
        smtp.reject_rcpt = "451 4.3.0 try again later"
        with pytest.raises(channels.TransientSendError, match="answered 451"):
            channels.send(
                ChannelConfig("email", "m", config, "smtp-password-1"), message, policy=trusting
            )
        smtp.reject_rcpt = "550 5.1.1 no such user"
        with pytest.raises(channels.PermanentSendError, match="answered 550"):
            channels.send(
                ChannelConfig("email", "m", config, "smtp-password-1"), message, policy=trusting
            )
    finally:
        smtp.close()
    assert len(smtp.messages) == 1
    # nobody listening: transient
    with pytest.raises(channels.TransientSendError, match="cannot reach SMTP server"):
        channels.send(ChannelConfig("email", "m", config, "x"), message, policy=trusting)


def test_email_over_implicit_tls(tmp_path):
    server_tls, client_tls = self_signed(tmp_path)
    smtp = SmtpStandIn(user="bi", password="smtp-password-1", implicit_tls=server_tls)
    policy = outbound.OutboundPolicy.from_allow(LOOPBACK)
    trusting = outbound.OutboundPolicy(policy.networks, policy.hosts, verify=client_tls)
    config = {
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "tls",
        "username": "bi",
        "from": "bi@shop.example",
        "to": ["ops@shop.example"],
    }
    try:
        channels.send(
            ChannelConfig("email", "m", config, "smtp-password-1"),
            Message("Subject", "Body", {}, "alert-10-firing-1"),
            policy=trusting,
        )
    finally:
        smtp.close()
    assert [(m["tls"], m["authenticated"]) for m in smtp.messages] == [(True, True)]
    assert smtp.messages[0]["message"]["Message-ID"] == "<alert-10-firing-1@shop.example>"


def test_slack_webhook_and_sms_reach_the_receiver_with_their_headers_and_bodies(db, receiver):
    slack_id = add_channel(
        db, {"kind": "slack", "name": "slack", "secret": receiver.base + "/services/T/B/secret"}
    )
    hook_id = webhook(db, receiver)
    sms_id = add_channel(
        db,
        {
            "kind": "sms",
            "name": "pager",
            "url": receiver.base + "/sms",
            "to": "+491511234567, +441632960961",
            "secret": SMS_TOKEN,
        },
    )
    for cid, key in ((slack_id, "k-slack"), (hook_id, "k-hook"), (sms_id, "k-sms")):
        add_row(db, cid, key)
    before = int(time.time())
    assert run(db)["sent"] == 3
    by_path = {r["path"]: r for r in receiver.requests}
    assert sorted(by_path) == ["/hook", "/services/T/B/secret", "/sms"]

    slack = by_path["/services/T/B/secret"]
    assert slack["json"] == {"text": "*[CRITICAL] Error rate (k-slack)*\nThe error rate is 7 %"}
    assert slack["headers"]["idempotency-key"] == "k-slack"

    hook = by_path["/hook"]
    assert hook["headers"]["content-type"] == "application/json"
    assert hook["headers"]["idempotency-key"] == "k-hook"
    assert int(hook["headers"]["x-bi-timestamp"]) >= before
    assert independent_verify(SIGNING, hook["headers"], hook["body"])
    assert not independent_verify("another-secret", hook["headers"], hook["body"])
    assert channels.verify(SIGNING, hook["headers"]["x-bi-signature"], hook["body"])
    assert hook["json"]["subject"] == "[CRITICAL] Error rate (k-hook)"
    assert hook["json"]["alert"]["labels"] == {"shop": "main"}

    sms = by_path["/sms"]
    assert sms["headers"]["authorization"] == f"Bearer {SMS_TOKEN}"
    assert sms["headers"]["idempotency-key"] == "k-sms"
    assert sms["json"] == {
        "to": ["+491511234567", "+441632960961"],
        "message": "[CRITICAL] Error rate (k-sms)\nThe error rate is 7 %",
    }
    # the secrets are sealed at rest and never listed
    with Session(db.engine) as session:
        stored = {c.name: c.secret for c in session.scalars(select(NotificationChannel))}
    assert all(s.startswith("fernet:") for s in stored.values())
    listed = channel_admin.list_channels(engine=db.engine, now=T0)
    assert all(c["has_secret"] and "secret" not in c for c in listed)
    assert SMS_TOKEN not in repr(listed) and "/services/T/B/secret" not in repr(listed)
    assert {c["name"]: c["stats"]["sent"] for c in listed} == {"hook": 1, "pager": 1, "slack": 1}


# --- retries, failures, grouping, leases ----------------------------------------------------


def test_retry_then_success_when_the_receiver_comes_back(db, receiver):
    channel_id = webhook(db, receiver)
    row_id = add_row(db, channel_id, "alert-5-firing-1")
    receiver.fail_next(2, 503)

    counts = run(db)
    assert (counts["claimed"], counts["messages"], counts["retry"], counts["sent"]) == (1, 1, 1, 0)
    first = outbox(db, row_id)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "HTTP 503" in first.last_error and "/hook" not in first.last_error
    # the first retry waits up to base (5 s) with full jitter, never less than a second
    assert T0 + dt.timedelta(seconds=1) <= first.next_attempt_at <= T0 + dt.timedelta(seconds=5)
    assert run(db, T0 + dt.timedelta(milliseconds=900))["claimed"] == 0  # not due yet

    second_at = first.next_attempt_at
    assert run(db, second_at)["retry"] == 1
    second = outbox(db, row_id)
    assert second.attempts == 2
    assert second_at + dt.timedelta(seconds=1) <= second.next_attempt_at
    assert second.next_attempt_at <= second_at + dt.timedelta(seconds=10)
    assert channel_row(db, channel_id).consecutive_failures == 2

    assert run(db, second.next_attempt_at)["sent"] == 1
    done = outbox(db, row_id)
    assert (done.status, done.attempts, done.last_error) == ("sent", 3, None)
    assert len(receiver.requests) == 3
    assert [r["headers"]["idempotency-key"] for r in receiver.delivered] == ["alert-5-firing-1"]
    channel = channel_row(db, channel_id)
    assert (channel.consecutive_failures, channel.last_error) == (0, None)


def test_the_last_attempt_fails_the_row(db, receiver):
    channel_id = webhook(db, receiver)
    row_id = add_row(db, channel_id, "k-last", attempts=db.settings.alert_max_attempts - 1)
    receiver.fail_next(1, 503)
    assert run(db)["failed"] == 1
    row = outbox(db, row_id)
    assert (row.status, row.attempts) == ("failed", db.settings.alert_max_attempts)


def test_a_permanent_failure_fails_the_row_and_raises_the_channels_own_alert(db, receiver):
    failing_id = webhook(db, receiver, "hook", "/hook")
    backup_id = webhook(db, receiver, "backup", "/backup")
    row_id = add_row(db, failing_id, "alert-6-firing-1")
    receiver.fail_next(1, 400)

    assert run(db)["failed"] == 1
    row = outbox(db, row_id)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.last_error.endswith("answered HTTP 400")
    with Session(db.engine) as session:
        alert = session.scalars(select(Alert).where(Alert.source == "system")).one()
        notices = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.alert_id == alert.id))
        )
    assert (alert.state, alert.severity, alert.labels["channel"]) == ("firing", "critical", "hook")
    # routed to the other channel, never to the failing one
    assert [n.channel_id for n in notices] == [backup_id]

    # the channel's next success resolves its alert
    result = channel_admin.send_test_notification(
        failing_id, "tests", engine=db.engine, settings=db.settings
    )
    assert result == {"status": "sent", "error": None}
    with Session(db.engine) as session:
        assert session.get(Alert, alert.id).state == "resolved"
    assert channel_row(db, failing_id).consecutive_failures == 0


def test_three_failures_in_a_row_raise_the_channels_alert_and_a_success_resolves_it(db, receiver):
    channel_id = webhook(db, receiver)
    row_id = add_row(db, channel_id, "alert-8-firing-1")
    receiver.fail_next(3, 503)

    def system_alerts() -> list[tuple[str, str]]:
        with Session(db.engine) as session:
            return [
                (a.state, a.labels["channel"])
                for a in session.scalars(select(Alert).where(Alert.source == "system"))
            ]

    now = T0
    for failures in (1, 2, 3):
        assert run(db, now)["retry"] == 1
        assert channel_row(db, channel_id).consecutive_failures == failures
        assert system_alerts() == ([("firing", "hook")] if failures == 3 else [])
        now = outbox(db, row_id).next_attempt_at
    assert run(db, now)["sent"] == 1
    assert system_alerts() == [("resolved", "hook")]
    assert outbox(db, row_id).attempts == 4


def test_three_alerts_of_one_rule_go_out_as_one_message(db, receiver):
    channel_id = webhook(db, receiver)
    ids = [add_row(db, channel_id, f"alert-{i}-firing-1", group="rule-3-firing") for i in (1, 2, 3)]
    other = add_row(db, channel_id, "alert-9-firing-1", group="rule-4-firing")

    counts = run(db)
    assert (counts["claimed"], counts["messages"], counts["sent"]) == (4, 2, 2)
    assert len(receiver.requests) == 2
    grouped = next(r for r in receiver.requests if r["json"].get("count") == 3)
    assert grouped["json"]["subject"] == "3 alerts: Error rate"
    assert len(grouped["json"]["alerts"]) == 3
    assert grouped["headers"]["idempotency-key"].startswith("group-")
    rows = [outbox(db, i) for i in ids]
    assert [r.status for r in rows] == ["sent"] * 3
    assert [r.sent_with for r in rows] == [None, ids[0], ids[0]]
    assert outbox(db, other).sent_with is None


def test_a_row_left_sending_with_an_expired_lease_is_claimed_again(db, receiver):
    channel_id = webhook(db, receiver)
    expired = add_row(
        db,
        channel_id,
        "k-expired",
        status="sending",
        attempts=1,
        lease_until=T0 - dt.timedelta(seconds=1),
        claimed_by="dead-host:1/abc",
    )
    held = add_row(
        db,
        channel_id,
        "k-held",
        status="sending",
        attempts=1,
        lease_until=T0 + dt.timedelta(seconds=30),
        claimed_by="live-host:2/def",
    )
    assert run(db)["sent"] == 1
    assert [r["headers"]["idempotency-key"] for r in receiver.requests] == ["k-expired"]
    assert (outbox(db, expired).status, outbox(db, expired).attempts) == ("sent", 2)
    assert outbox(db, held).status == "sending"


def test_rows_a_pass_has_no_time_left_for_go_back_without_an_attempt(db, receiver, monkeypatch):
    channel_id = webhook(db, receiver)
    row_id = add_row(db, channel_id, "k-deferred")
    monkeypatch.setattr(dispatch, "PASS_BUDGET_S", -1.0)  # the budget is spent before any send
    assert run(db)["deferred"] == 1
    row = outbox(db, row_id)
    assert (row.status, row.attempts, row.lease_until) == ("pending", 0, None)
    assert receiver.requests == []
    monkeypatch.setattr(dispatch, "PASS_BUDGET_S", 35.0)
    assert run(db)["sent"] == 1


def test_two_dispatchers_on_postgresql_never_send_a_row_twice(pg, receiver):
    channel_id = webhook(pg, receiver)
    for i in range(40):
        add_row(pg, channel_id, f"k-{i:02d}")
    both_started = threading.Barrier(2)

    def slow_send(channel, message, *, timeout):
        time.sleep(0.005)  # keep both passes busy at once; nothing asserts on time
        channels.send(
            channel, message, timeout=timeout, policy=outbound.OutboundPolicy.from_allow(LOOPBACK)
        )

    def worker(name: str, totals: list[int]) -> None:
        both_started.wait(10)
        while (counts := run(pg, limit=5, worker=name, send=slow_send, threads=1))["claimed"]:
            totals.append(counts["sent"])

    results: dict[str, list[int]] = {"a": [], "b": []}
    threads = [threading.Thread(target=worker, args=(n, results[n])) for n in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    keys = [r["headers"]["idempotency-key"] for r in receiver.requests]
    assert len(keys) == 40 and len(set(keys)) == 40
    assert sum(results["a"]) + sum(results["b"]) == 40
    with Session(pg.engine) as session:
        claimers = {r.claimed_by.split("/")[0] for r in session.scalars(select(OutboxMessage))}
        assert {r.status for r in session.scalars(select(OutboxMessage))} == {"sent"}
    assert claimers <= {"a", "b"}


CHILD = """
import datetime as dt, sys
from bi_app import secret_box
from bi_app.alerts import dispatch
from bi_app.db.engine import make_engine
from tests.conftest import make_settings

url, now = sys.argv[1], dt.datetime.fromisoformat(sys.argv[2])
settings = make_settings(url, outbound_allow=("127.0.0.1/32",))
secret_box.init_app(settings)
print("dispatching", flush=True)
dispatch.dispatch_pending(make_engine(url), now=now, settings=settings, worker="child")
print("finished", flush=True)
"""


def test_a_dispatcher_killed_mid_send_loses_nothing_and_a_deduplicating_receiver_sees_it_once(
    db, tmp_path
):
    receiver = HttpReceiver(dedup=True, hold=True)
    try:
        channel_id = webhook(db, receiver)
        row_id = add_row(db, channel_id, "alert-11-firing-1")
        log = (tmp_path / "child.log").open("w")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, db.url, T0.isoformat()],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            assert receiver.held.wait(60), (tmp_path / "child.log").read_text()
            os.kill(child.pid, signal.SIGKILL)  # mid-send: the receiver has the request
        finally:
            child.wait(30)
            log.close()
        assert child.returncode == -signal.SIGKILL
        assert "finished" not in (tmp_path / "child.log").read_text()
        claimed = outbox(db, row_id)
        assert (claimed.status, claimed.attempts) == ("sending", 1)
        assert claimed.claimed_by.startswith("child/")

        receiver.hold = False
        receiver.release.set()
        # a restarted dispatcher leaves the row alone while the dead one's lease runs...
        assert run(db, T0 + dt.timedelta(seconds=5))["claimed"] == 0
        # ...and sends it once the lease is over
        later = claimed.lease_until + dt.timedelta(seconds=1)
        assert run(db, later)["sent"] == 1
    finally:
        receiver.close()
    row = outbox(db, row_id)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 2, later)
    raw = [r["headers"]["idempotency-key"] for r in receiver.requests]
    assert raw == ["alert-11-firing-1", "alert-11-firing-1"]  # at least once on the wire
    assert [r["headers"]["idempotency-key"] for r in receiver.delivered] == ["alert-11-firing-1"]
    assert all(independent_verify(SIGNING, r["headers"], r["body"]) for r in receiver.requests)


# --- the admin services ---------------------------------------------------------------------


def test_channel_admin_saves_tests_logs_and_deletes_with_audit(db, receiver):
    saved = channel_admin.save_channel(
        {
            "kind": "webhook",
            "name": "hook",
            "url": receiver.base + "/hook",
            "secret": SIGNING,
            "severities": ["critical", "warning"],
        },
        "alice",
        engine=db.engine,
    )
    assert saved["severities"] == ["warning", "critical"] and saved["has_secret"]
    with pytest.raises(ChannelInvalid, match="a channel named hook already exists"):
        channel_admin.save_channel(
            {"kind": "webhook", "name": "hook", "url": receiver.base + "/x", "secret": SIGNING},
            "alice",
            engine=db.engine,
        )
    with pytest.raises(ChannelInvalid) as bad:
        channel_admin.save_channel(
            {
                "kind": "webhook",
                "name": "h2",
                "url": receiver.base,
                "secret": SIGNING,
                "severities": ["loud"],
            },
            "alice",
            engine=db.engine,
        )
    assert bad.value.field == "severities"
    # an edit with a blank secret keeps the stored one; what it leaves out stays as it was
    edited = channel_admin.save_channel(
        {"name": "hook", "url": receiver.base + "/hook2", "secret": "", "enabled": False},
        "alice",
        saved["id"],
        engine=db.engine,
    )
    assert (edited["severities"], edited["enabled"], edited["has_secret"]) == (
        ["warning", "critical"],
        False,
        True,
    )
    result = channel_admin.send_test_notification(
        saved["id"], "alice", engine=db.engine, settings=db.settings
    )
    assert result == {"status": "sent", "error": None}  # a disabled channel can be tested
    request = receiver.requests[-1]
    assert request["path"] == "/hook2"
    assert independent_verify(SIGNING, request["headers"], request["body"])
    assert request["json"]["kind"] == "test"

    receiver.fail_next(1, 502)
    failed = channel_admin.send_test_notification(
        saved["id"], "alice", engine=db.engine, settings=db.settings
    )
    assert failed["status"] == "pending" and "HTTP 502" in failed["error"]

    log = channel_admin.delivery_log(saved["id"], engine=db.engine)
    assert [(e["kind"], e["status"], e["attempts"]) for e in log] == [
        ("test", "pending", 1),
        ("test", "sent", 1),
    ]
    assert log[0]["last_error"].endswith("answered HTTP 502")
    assert log[1]["subject"] == "Test notification from bi-app"
    assert channel_admin.list_channels(engine=db.engine)[0]["stats"] == {
        "sent": 1,
        "failed": 0,
        "pending": 1,
    }

    with pytest.raises(channel_admin.ChannelNotFound):
        channel_admin.send_test_notification(9999, "alice", engine=db.engine)
    assert channel_admin.delete_channel(saved["id"], "alice", engine=db.engine) == "hook"
    assert channel_admin.list_channels(engine=db.engine) == []
    with Session(db.engine) as session:
        actions = [
            (a.action, a.username)
            for a in session.scalars(
                select(AuditLog)
                .where(AuditLog.action.startswith("alert.channel."))
                .order_by(AuditLog.id)
            )
        ]
        details = [a.detail for a in session.scalars(select(AuditLog))]
    assert actions == [
        ("alert.channel.create", "alice"),
        ("alert.channel.update", "alice"),
        ("alert.channel.test", "alice"),
        ("alert.channel.test", "alice"),
        ("alert.channel.delete", "alice"),
    ]
    assert SIGNING not in repr(details)
