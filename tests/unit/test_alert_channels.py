"""The alert channels without a database or a receiver: the webhook signature against an
implementation written here from the documented scheme, the failure classes of HTTP answers,
the SMTP host policy, message building, grouping, backoff and lease bounds, form validation."""

from __future__ import annotations

import hashlib
import hmac
import json
import random

import pytest

from bi_app import outbound
from bi_app.alerts import channels, dispatch
from bi_app.alerts.channels import (
    ChannelConfig,
    ChannelInvalid,
    Message,
    PermanentSendError,
    TransientSendError,
)
from bi_app.db.alert_models import OutboxMessage

SECRET = "whsec-0123456789abcdef"
BODY = json.dumps({"alert": {"name": "Error rate", "value": 0.07}}).encode()


def independent_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The documented scheme, written from the docstring: HMAC-SHA256 keyed with the secret
    over ``<timestamp>.<body>``, hex."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    mac.update(str(timestamp).encode())
    mac.update(b".")
    mac.update(body)
    return mac.hexdigest()


def test_the_webhook_signature_matches_an_independent_implementation():
    ts = 1_767_614_400
    assert channels.sign(SECRET, ts, BODY) == independent_signature(SECRET, ts, BODY)
    header = channels.signature_header(SECRET, ts, BODY)
    assert header == f"t={ts},v1={independent_signature(SECRET, ts, BODY)}"
    assert channels.verify(SECRET, header, BODY, now=ts + 10)


def test_verify_refuses_a_tampered_body_a_wrong_key_a_stale_timestamp_and_garbage():
    ts = 1_767_614_400
    header = channels.signature_header(SECRET, ts, BODY)
    assert not channels.verify(SECRET, header, BODY + b" ", now=ts)
    assert not channels.verify("another-secret-0123", header, BODY, now=ts)
    assert not channels.verify(SECRET, header, BODY, now=ts + 301)
    assert not channels.verify(SECRET, header, BODY, now=ts - 301)
    assert channels.verify(SECRET, header, BODY, tolerance_s=600, now=ts + 301)
    for bad in ("", "t=abc,v1=00", f"v1={channels.sign(SECRET, ts, BODY)}", f"t={ts}"):
        assert not channels.verify(SECRET, bad, BODY, now=ts)
    # a rotation: the receiver accepts any of several v1 values
    rotated = f"t={ts},v1={'0' * 64},v1={channels.sign(SECRET, ts, BODY)}"
    assert channels.verify(SECRET, rotated, BODY, now=ts)


def _answer(status: int):
    def fake_fetch(url, **kwargs):
        return outbound.OutboundResponse(status, {}, b"", url)

    return fake_fetch


MESSAGE = Message("[CRITICAL] Error rate", "The error rate is 7 %", {"subject": "x"}, "alert-1")
WEBHOOK = ChannelConfig("webhook", "hook", {"url": "https://hooks.example/h?token=zzz"}, SECRET)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (200, None),
        (204, None),
        (503, TransientSendError),
        (500, TransientSendError),
        (429, TransientSendError),
        (408, TransientSendError),
        (400, PermanentSendError),
        (401, PermanentSendError),
        (404, PermanentSendError),
    ],
)
def test_http_answers_are_sorted_into_transient_and_permanent(monkeypatch, status, error):
    monkeypatch.setattr(outbound, "fetch", _answer(status))
    if error is None:
        channels.send(WEBHOOK, MESSAGE)
        return
    with pytest.raises(error) as failure:
        channels.send(WEBHOOK, MESSAGE)
    text = str(failure.value)
    assert f"HTTP {status}" in text
    assert "token" not in text and "/h" not in text.replace("https://", "")  # no path, no query


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (outbound.OutboundRefused("10.0.0.1 is a private address: refused"), PermanentSendError),
        (outbound.OutboundTimeout("timed out after 10 s"), TransientSendError),
        (outbound.OutboundError("cannot reach https://hooks.example:443"), TransientSendError),
    ],
)
def test_outbound_failures_are_sorted_too(monkeypatch, raised, error):
    def fake_fetch(url, **kwargs):
        raise raised

    monkeypatch.setattr(outbound, "fetch", fake_fetch)
    with pytest.raises(error):
        channels.send(WEBHOOK, MESSAGE)


def test_smtp_hosts_pass_the_outbound_policy_with_smtp_ports_open_to_public_hosts():
    public = outbound.OutboundPolicy()
    assert channels.smtp_address("8.8.8.8", 587, public) == "8.8.8.8"
    assert channels.smtp_address("8.8.8.8", 465, public) == "8.8.8.8"
    with pytest.raises(PermanentSendError, match="port 2526 of 8.8.8.8 is refused"):
        channels.smtp_address("8.8.8.8", 2526, public)
    with pytest.raises(PermanentSendError, match="loopback"):
        channels.smtp_address("127.0.0.1", 25, public)
    with pytest.raises(PermanentSendError, match="metadata"):
        channels.smtp_address("169.254.169.254", 25, public)
    allowed = outbound.OutboundPolicy.from_allow(["127.0.0.1/32"])
    assert channels.smtp_address("127.0.0.1", 2526, allowed) == "127.0.0.1"


def test_an_email_carries_its_idempotency_key_in_the_message_id_and_a_header():
    channel = ChannelConfig(
        "email",
        "ops-mail",
        {"host": "mail.example", "from": "bi@shop.example", "to": ["a@x.example", "b@x.example"]},
    )
    mail = channels.build_email(
        channel, Message("line one\r\nBcc: evil@x.example", "body", {}, "alert-7-firing-2")
    )
    assert mail["Message-ID"] == "<alert-7-firing-2@shop.example>"
    assert mail["X-BI-Idempotency-Key"] == "alert-7-firing-2"
    assert mail["Subject"] == "line one Bcc: evil@x.example"  # no header injection
    assert mail["Bcc"] is None
    assert mail["To"] == "a@x.example, b@x.example"
    assert mail.get_content().strip() == "body"


def test_an_sms_is_cut_at_480_characters():
    text = channels.sms_text(Message("Subject", "x" * 1000, {}, "k"))
    assert len(text) == channels.SMS_MAX_CHARS and text.endswith("…")
    assert text.startswith("Subject\n")


def _row(i: int, group: str | None = "rule-3-firing", severity: str = "warning") -> OutboxMessage:
    return OutboxMessage(
        id=i,
        idempotency_key=f"alert-{i}-firing-1",
        channel_id=1,
        kind="firing",
        group_key=group,
        payload={
            "subject": f"[WARNING] Error rate #{i}",
            "text": f"alert {i}",
            "severity": severity,
            "kind": "firing",
            "alert": {"id": i, "name": "Error rate"},
        },
        attempts=1,
    )


def test_a_group_is_one_message_listing_every_alert():
    rows = [_row(1), _row(2, severity="critical"), _row(3)]
    message = dispatch._message(rows)
    assert message.subject == "3 alerts: Error rate"
    assert [a["id"] for a in message.payload["alerts"]] == [1, 2, 3]
    assert message.payload["count"] == 3 and message.payload["severity"] == "critical"
    assert all(f"alert {i}" in message.text for i in (1, 2, 3))
    # the key is the composition's: the same rows give the same key, other rows another
    assert message.idempotency_key == dispatch._message(list(reversed(rows))).idempotency_key
    assert message.idempotency_key != dispatch._message(rows[:2]).idempotency_key
    assert dispatch._message(rows[:1]).idempotency_key == "alert-1-firing-1"


def test_backoff_is_bounded_exponential_with_full_jitter():
    rng = random.Random(7)
    for attempt in range(1, 30):
        ceiling = min(600.0, 5.0 * 2 ** (attempt - 1))
        for _ in range(20):
            assert 1.0 <= dispatch.backoff(attempt) <= max(1.0, ceiling)
    from bi_app.alerts.rules import backoff_seconds

    assert backoff_seconds(1, rand=lambda: 1.0) == 5.0
    assert backoff_seconds(4, rand=lambda: 1.0) == 40.0
    assert backoff_seconds(50, rand=lambda: 1.0) == 600.0
    assert backoff_seconds(50, rand=rng.random) <= 600.0


def test_the_lease_outlasts_the_pass_budget_plus_one_send_timeout():
    assert dispatch.lease_seconds(10.0) == 35 + 10 + 30
    assert dispatch.lease_seconds(20.0) > dispatch.PASS_BUDGET_S + 20
    assert dispatch.lease_seconds(1.0, budget=1.0) == dispatch.MIN_LEASE_S


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"kind": "pager", "name": "x"}, "kind", "kind: must be one of email, slack, webhook, sms"),
        ({"kind": "webhook", "name": " "}, "name", "name: a name is required"),
        ({"kind": "webhook", "name": "n" * 65}, "name", "name: at most 64 characters"),
        (
            {"kind": "webhook", "name": "h", "url": "ftp://x.example/", "secret": SECRET},
            "url",
            "url: must be an http:// or https:// URL",
        ),
        (
            {"kind": "webhook", "name": "h", "url": "https://u:p@x.example/", "secret": SECRET},
            "url",
            "url: the URL must not contain a user name or password",
        ),
        (
            {"kind": "webhook", "name": "h", "url": "http://10.1.2.3/hook", "secret": SECRET},
            "url",
            "url: refused by the outbound policy: 10.1.2.3 is a private address",
        ),
        (
            {"kind": "webhook", "name": "h", "url": "https://x.example/"},
            "secret",
            "secret: the signing secret is required",
        ),
        (
            {"kind": "webhook", "name": "h", "url": "https://x.example/", "secret": "short"},
            "secret",
            "secret: at least 16 characters",
        ),
        ({"kind": "slack", "name": "s"}, "secret", "secret: the Slack webhook URL is required"),
        (
            {"kind": "sms", "name": "s", "url": "https://sms.example/send", "to": "+49 151 2, abc"},
            "to",
            "to: abc is not a phone number",
        ),
        (
            {"kind": "sms", "name": "s", "url": "https://sms.example/send", "to": ""},
            "to",
            "to: at least one phone number is required",
        ),
        ({"kind": "email", "name": "m"}, "host", "host: the SMTP server's host name is required"),
        (
            {"kind": "email", "name": "m", "host": "mail.example", "port": "99999"},
            "port",
            "port: must be a whole number from 1 to 65535",
        ),
        (
            {"kind": "email", "name": "m", "host": "mail.example", "security": "ssl"},
            "security",
            "security: must be one of none, starttls, tls",
        ),
        (
            {"kind": "email", "name": "m", "host": "127.0.0.1"},
            "host",
            "host: refused by the outbound policy",
        ),
        (
            {"kind": "email", "name": "m", "host": "mail.example", "username": "bi"},
            "secret",
            "secret: the SMTP password is required with a user name",
        ),
        (
            {"kind": "email", "name": "m", "host": "mail.example", "from": "nobody"},
            "from",
            "from: not an e-mail address",
        ),
        (
            {
                "kind": "email",
                "name": "m",
                "host": "mail.example",
                "from": "bi@shop.example",
                "to": "ops@shop.example; oops",
            },
            "to",
            "to: oops is not an e-mail address",
        ),
    ],
)
def test_validation_names_the_field_and_says_what_is_wrong(raw, field, message):
    with pytest.raises(ChannelInvalid) as refused:
        channels.validate_channel(raw)
    assert refused.value.field == field
    assert str(refused.value).startswith(message)


def test_valid_forms_give_kind_name_config_and_secret():
    assert channels.validate_channel(
        {
            "kind": "email",
            "name": " ops mail ",
            "host": "Mail.Example",
            "security": "tls",
            "username": "bi",
            "secret": "pw",
            "from": "bi@shop.example",
            "to": "a@shop.example,\nb@shop.example",
        }
    ) == (
        "email",
        "ops mail",
        {
            "host": "mail.example",
            "port": 465,
            "security": "tls",
            "from": "bi@shop.example",
            "to": ["a@shop.example", "b@shop.example"],
            "username": "bi",
        },
        "pw",
    )
    kind, _name, config, secret = channels.validate_channel(
        {"kind": "slack", "name": "s", "secret": "https://hooks.slack.com/services/T/B/xyz"}
    )
    assert (kind, config, secret) == (
        "slack",
        {"origin": "https://hooks.slack.com:443"},
        "https://hooks.slack.com/services/T/B/xyz",
    )
    assert channels.validate_channel(
        {
            "kind": "sms",
            "name": "p",
            "config": {"url": "https://sms.example/s", "to": ["+49-151 1"]},
        }
    ) == ("sms", "p", {"url": "https://sms.example/s", "to": ["+491511"]}, None)
    # an edit that keeps the stored secret
    assert channels.validate_channel(
        {"kind": "webhook", "name": "h", "url": "https://x.example/"}, has_stored_secret=True
    ) == ("webhook", "h", {"url": "https://x.example/"}, None)
