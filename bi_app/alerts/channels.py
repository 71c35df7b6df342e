"""How a notification leaves the app: e-mail (SMTP), Slack incoming webhook, a signed JSON
webhook and SMS through an HTTP gateway. No database and no Dash here: :func:`send` takes a
:class:`ChannelConfig` (its secret already opened) and a :class:`Message`, and either returns
(the channel accepted the message) or raises :class:`TransientSendError` (worth retrying:
timeouts, refused connections, HTTP 5xx, 408 and 429, SMTP 4xx) or :class:`PermanentSendError`
(HTTP 4xx, SMTP 5xx, refused by the outbound policy, bad configuration). Error messages name at
most a host and port, never a URL path or query, nor a secret: they are stored and shown.

Every message carries its idempotency key (at-least-once delivery, like Alertmanager: a receiver
drops a key it has seen): HTTP channels send it as ``Idempotency-Key``; e-mail as
``X-BI-Idempotency-Key`` and in the ``Message-ID`` (``<key@domain-of-from>``).

Webhook signature (Stripe's scheme). Each webhook POST has the headers::

    Content-Type: application/json
    Idempotency-Key: <key>
    X-BI-Timestamp: <unix seconds>
    X-BI-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>

where the HMAC key is the channel's signing secret (UTF-8) and the signed bytes are the decimal
timestamp, a full stop, then the raw request body: ``hmac_sha256(secret, f"{t}." + body)``. A
receiver recomputes it over the body exactly as received, compares in constant time, and refuses
a timestamp more than five minutes from its clock (replays). :func:`sign` and :func:`verify` do
this; ``verify`` accepts several ``v1=`` values (a key rotation).

Outbound policy. HTTP channels go through :func:`bi_app.outbound.fetch` (resolved, every address
checked, the connection pinned to the checked address). SMTP has no URL, so its host is checked
with the same :meth:`~bi_app.outbound.OutboundPolicy.check_url` twice: first as
``http://host:443/`` (what the address may be: loopback, private, metadata... refused unless
``BI_OUTBOUND_ALLOW`` allows it), then, for a port other than the SMTP ports 25, 465, 587 and
2525, as ``http://host:port/`` (so any other port needs a host the allow list names, as for
HTTP). The SMTP connection then goes to the checked address while TLS checks the host name.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import hashlib
import hmac
import ipaddress
import json
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from bi_app import outbound
from bi_app.db.alert_models import CHANNEL_KINDS
from bi_app.i18n import _

SMS_MAX_CHARS = 480
SMTP_PORTS = frozenset({25, 465, 587, 2525})
SMTP_SECURITY = ("none", "starttls", "tls")
DEFAULT_SMTP_PORT = {"none": 25, "starttls": 587, "tls": 465}
SIGNATURE_TOLERANCE_S = 300
MIN_SIGNING_SECRET = 16
MAX_ANSWER_BYTES = 16 * 1024
_EMAIL_RE = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_PHONE_RE = re.compile(r"^\+?[0-9]{6,15}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]{0,251}[A-Za-z0-9])?$")
_KEY_CHARS = re.compile(r"[^A-Za-z0-9._\-]")


class SendError(Exception):
    """A channel did not accept a message; the text is safe to store and show."""


class TransientSendError(SendError):
    """Worth trying again later (timeout, connection refused, HTTP 5xx/408/429, SMTP 4xx)."""


class PermanentSendError(SendError):
    """Trying again will not help (HTTP 4xx, SMTP 5xx, refused by policy, bad configuration)."""


class ChannelInvalid(ValueError):
    """A channel form refused; ``message`` is translated and names the field (``field``)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class ChannelConfig:
    kind: str
    name: str
    config: Mapping[str, Any] = field(default_factory=dict)
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Attachment:
    file_name: str
    media_type: str  # "application/pdf"
    content: bytes = field(repr=False)


@dataclass(frozen=True)
class Message:
    subject: str
    text: str
    payload: Mapping[str, Any]
    idempotency_key: str
    # e-mail only: who gets it instead of the channel's own recipients (a report schedule's)
    recipients: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()


# --- signatures -----------------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.".encode() + body`` keyed with ``secret``."""
    signed = f"{int(timestamp)}.".encode("ascii") + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={int(timestamp)},v1={sign(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """Whether ``header`` (``t=<ts>,v1=<hex>[,v1=...]``) signs ``body`` with ``secret`` and its
    timestamp is within ``tolerance_s`` seconds of ``now`` (default: the clock)."""
    timestamp: int | None = None
    candidates: list[str] = []
    for part in (header or "").split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value.strip().lower())
    if timestamp is None or not candidates:
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)
    return any(hmac.compare_digest(expected, c) for c in candidates)


# --- sending --------------------------------------------------------------------------------


def send(
    channel: ChannelConfig,
    message: Message,
    *,
    timeout: float = 10.0,
    policy: outbound.OutboundPolicy | None = None,
) -> None:
    """Deliver ``message`` through ``channel``; returns when the channel accepted it."""
    timeout = min(float(timeout), outbound.MAX_TIMEOUT_S)
    if channel.kind == "email":
        _send_email(channel, message, timeout, policy)
    elif channel.kind == "slack":
        _send_slack(channel, message, timeout, policy)
    elif channel.kind == "webhook":
        _send_webhook(channel, message, timeout, policy)
    elif channel.kind == "sms":
        _send_sms(channel, message, timeout, policy)
    else:
        raise PermanentSendError(f"unknown channel kind {channel.kind!r}")


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def _post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    auth_headers: Mapping[str, str] | None,
    timeout: float,
    policy: outbound.OutboundPolicy | None,
) -> None:
    label = outbound.origin_label(url)
    try:
        response = outbound.fetch(
            url,
            method="POST",
            headers={"Content-Type": "application/json", **headers},
            auth_headers=auth_headers,
            content=body,
            timeout=timeout,
            max_bytes=MAX_ANSWER_BYTES,
            truncate=True,
            policy=policy,
        )
    except outbound.OutboundRefused as exc:
        raise PermanentSendError(str(exc)) from None
    except outbound.OutboundTimeout as exc:
        raise TransientSendError(f"{label}: {exc}") from None
    except outbound.OutboundError as exc:
        raise TransientSendError(str(exc)) from None
    status = response.status
    if 200 <= status < 300:
        return
    if status in (408, 429) or status >= 500:
        raise TransientSendError(f"{label} answered HTTP {status}")
    raise PermanentSendError(f"{label} answered HTTP {status}")


def _require(config: Mapping[str, Any], key: str, kind: str) -> Any:
    value = config.get(key)
    if not value:
        raise PermanentSendError(f"{kind} channel: {key} is not configured")
    return value


def _send_slack(channel: ChannelConfig, message: Message, timeout: float, policy: Any) -> None:
    if not channel.secret:
        raise PermanentSendError("slack channel: the webhook URL is not configured")
    text = f"*{message.subject}*\n{message.text}" if message.subject else message.text
    body: dict[str, Any] = {"text": text}
    blocks = message.payload.get("blocks") if isinstance(message.payload, Mapping) else None
    if isinstance(blocks, list):
        body["blocks"] = blocks
    _post(
        channel.secret,
        _json_bytes(body),
        {"Idempotency-Key": message.idempotency_key},
        None,
        timeout,
        policy,
    )


def _send_webhook(channel: ChannelConfig, message: Message, timeout: float, policy: Any) -> None:
    url = _require(channel.config, "url", "webhook")
    if not channel.secret:
        raise PermanentSendError("webhook channel: the signing secret is not configured")
    body = _json_bytes(dict(message.payload))
    timestamp = int(time.time())
    headers = {
        "Idempotency-Key": message.idempotency_key,
        "X-BI-Timestamp": str(timestamp),
        "X-BI-Signature": signature_header(channel.secret, timestamp, body),
    }
    _post(str(url), body, headers, None, timeout, policy)


def sms_text(message: Message) -> str:
    text = message.subject if message.subject else ""
    if message.text and message.text != message.subject:
        text = f"{text}\n{message.text}" if text else message.text
    if len(text) > SMS_MAX_CHARS:
        text = text[: SMS_MAX_CHARS - 1] + "…"
    return text


def _send_sms(channel: ChannelConfig, message: Message, timeout: float, policy: Any) -> None:
    url = _require(channel.config, "url", "sms")
    numbers = list(_require(channel.config, "to", "sms"))
    body = _json_bytes({"to": numbers, "message": sms_text(message)})
    auth = {"Authorization": f"Bearer {channel.secret}"} if channel.secret else None
    _post(str(url), body, {"Idempotency-Key": message.idempotency_key}, auth, timeout, policy)


# --- e-mail ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _default_tls() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def smtp_address(host: str, port: int, policy: outbound.OutboundPolicy | None = None) -> str:
    """The address to connect to for ``host:port`` after the outbound policy's checks (see the
    module docstring); raises :class:`PermanentSendError` when refused, :class:`TransientSendError`
    when the host cannot be resolved now."""
    policy = policy or outbound.current_policy()
    where = _url_host(host)
    try:
        target = policy.check_url(f"http://{where}:443/")
    except outbound.OutboundRefused as exc:
        raise PermanentSendError(f"SMTP host {host}: {exc}") from None
    except outbound.OutboundError as exc:
        raise TransientSendError(str(exc)) from None
    if port not in SMTP_PORTS:
        try:
            target = policy.check_url(f"http://{where}:{port}/")
        except outbound.OutboundRefused:
            raise PermanentSendError(
                f"port {port} of {host} is refused: public SMTP servers are reached on ports "
                f"25, 465, 587 and 2525 only (an operator can allow the host in "
                f"{outbound.ENV_VAR})"
            ) from None
        except outbound.OutboundError as exc:
            raise TransientSendError(str(exc)) from None
    return target.addresses[0]


class _PinnedSMTP(smtplib.SMTP):
    """SMTP to a checked address; ``_host`` (TLS server name) stays the configured host."""

    def __init__(self, address: str, timeout: float, context: ssl.SSLContext) -> None:
        self._address = address
        self.context = context
        super().__init__(local_hostname="bi-app.localdomain", timeout=timeout)

    def _get_socket(self, host, port, timeout):
        return socket.create_connection((self._address, port), timeout, self.source_address)


class _PinnedSMTPSSL(smtplib.SMTP_SSL):
    def __init__(self, address: str, timeout: float, context: ssl.SSLContext) -> None:
        self._address = address
        super().__init__(local_hostname="bi-app.localdomain", timeout=timeout, context=context)

    def _get_socket(self, host, port, timeout):
        sock = socket.create_connection((self._address, port), timeout, self.source_address)
        return self.context.wrap_socket(sock, server_hostname=self._host)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


def message_id(key: str, sender: str) -> str:
    """``<key@domain>``: the Message-ID a receiver can drop a repeat by."""
    domain = sender.rpartition("@")[2] or "bi-app.localdomain"
    return f"<{_KEY_CHARS.sub('-', key)}@{domain}>"


def build_email(channel: ChannelConfig, message: Message) -> EmailMessage:
    config = channel.config
    sender = str(_require(config, "from", "email"))
    recipients = list(message.recipients) or [str(r) for r in _require(config, "to", "email")]
    mail = EmailMessage()
    mail["Subject"] = _one_line(message.subject)[:250]
    mail["From"] = sender
    mail["To"] = ", ".join(recipients)
    mail["Date"] = email.utils.format_datetime(dt.datetime.now(dt.UTC))
    mail["Message-ID"] = message_id(message.idempotency_key, sender)
    mail["X-BI-Idempotency-Key"] = _one_line(message.idempotency_key)
    mail.set_content(message.text or message.subject)
    for item in message.attachments:
        main, _sep, sub = item.media_type.partition("/")
        mail.add_attachment(
            item.content, maintype=main, subtype=sub or "octet-stream", filename=item.file_name
        )
    return mail


def _smtp_failure(exc: smtplib.SMTPException, where: str) -> SendError:
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [c for c, _msg in exc.recipients.values()]
        code = max(codes) if codes else 550
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientSendError(f"SMTP server {where} closed the connection")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentSendError(f"SMTP server {where}: {_reason(exc)}")
    if isinstance(code, int):
        text = getattr(exc, "smtp_error", b"")
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        detail = _one_line(str(text))[:160]
        what = f"SMTP server {where} answered {code}" + (f" ({detail})" if detail else "")
        return TransientSendError(what) if 400 <= code < 500 else PermanentSendError(what)
    return TransientSendError(f"SMTP server {where}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    text = _one_line(str(exc))
    return (text or type(exc).__name__)[:160]


def _send_email(
    channel: ChannelConfig,
    message: Message,
    timeout: float,
    policy: outbound.OutboundPolicy | None,
) -> None:
    config = channel.config
    host = str(_require(config, "host", "email"))
    security = str(config.get("security") or "none")
    if security not in SMTP_SECURITY:
        raise PermanentSendError(f"email channel: security {security!r} is not known")
    port = int(config.get("port") or DEFAULT_SMTP_PORT[security])
    mail = build_email(channel, message)
    where = f"{_url_host(host)}:{port}"
    policy = policy or outbound.current_policy()
    address = smtp_address(host, port, policy)
    context = policy.verify if isinstance(policy.verify, ssl.SSLContext) else _default_tls()
    cls = _PinnedSMTPSSL if security == "tls" else _PinnedSMTP
    try:
        with cls(address, timeout, context) as smtp:
            smtp._host = host  # smtplib sets it only in __init__: the TLS server name
            smtp.connect(host, port)
            if security == "starttls":
                smtp.starttls(context=context)
            username = config.get("username")
            if username:
                smtp.login(str(username), channel.secret or "")
            smtp.send_message(mail)
    except smtplib.SMTPException as exc:
        raise _smtp_failure(exc, where) from None
    except ssl.SSLCertVerificationError:
        raise PermanentSendError(f"SMTP server {where}: TLS certificate not trusted") from None
    except TimeoutError:
        raise TransientSendError(f"SMTP server {where}: timed out after {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise TransientSendError(f"SMTP server {where}: TLS failed ({_reason(exc)})") from None
    except OSError as exc:
        raise TransientSendError(
            f"cannot reach SMTP server {where}: {exc.strerror or _reason(exc)}"
        ) from None


# --- validation -----------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _as_list(value: Any) -> list[str]:
    """A list from a list or from text separated by commas, semicolons or line breaks."""
    if isinstance(value, str):
        items = re.split(r"[,;\n]", value)
    elif isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = []
    return [i.strip() for i in items if i and i.strip()]


def _check_url(url: str, field: str) -> None:
    if not url:
        raise ChannelInvalid(_("%(field)s: a URL is required", field=field), field)
    shape = outbound.url_shape_error(url)
    if shape == "scheme":
        raise ChannelInvalid(_("%(field)s: must be an http:// or https:// URL", field=field), field)
    if shape is not None:
        raise ChannelInvalid(_("%(field)s: the URL %(problem)s", field=field, problem=shape), field)
    refused = outbound.refusal(url)
    if refused is not None:
        raise ChannelInvalid(
            _("%(field)s: refused by the outbound policy: %(reason)s", field=field, reason=refused),
            field,
        )


def validate_channel(
    raw: Mapping[str, Any], *, has_stored_secret: bool = False
) -> tuple[str, str, dict[str, Any], str | None]:
    """``(kind, name, config, secret)`` from a channel form; raises :class:`ChannelInvalid`
    naming the first bad field. Kind fields may sit at the top level of ``raw`` or under
    ``raw["config"]``. ``secret`` is None when the form left it blank (``has_stored_secret``:
    an edit that keeps the stored one, so a blank secret is accepted where one is required)."""
    fields: dict[str, Any] = {}
    if isinstance(raw.get("config"), Mapping):
        fields.update(raw["config"])
    fields.update({k: v for k, v in raw.items() if k != "config"})
    kind = _text(fields.get("kind"))
    if kind not in CHANNEL_KINDS:
        raise ChannelInvalid(
            _("kind: must be one of %(kinds)s", kinds=", ".join(CHANNEL_KINDS)), "kind"
        )
    name = _text(fields.get("name"))
    if not name:
        raise ChannelInvalid(_("name: a name is required"), "name")
    if len(name) > 64 or any(ord(c) < 32 for c in name):
        raise ChannelInvalid(_("name: at most 64 characters, without control characters"), "name")
    secret = fields.get("secret")
    secret = secret.strip() if isinstance(secret, str) and secret.strip() else None
    config: dict[str, Any]
    if kind == "email":
        config = _email_config(fields, secret, has_stored_secret)
    elif kind == "slack":
        if secret is None and "url" in fields and _text(fields.get("url")):
            secret = _text(fields.get("url"))
        if secret is None and not has_stored_secret:
            raise ChannelInvalid(_("secret: the Slack webhook URL is required"), "secret")
        if secret is not None:
            _check_url(secret, "secret")
        config = {"origin": outbound.origin_label(secret)} if secret else {}
    elif kind == "webhook":
        url = _text(fields.get("url"))
        _check_url(url, "url")
        if secret is None and not has_stored_secret:
            raise ChannelInvalid(_("secret: the signing secret is required"), "secret")
        if secret is not None and len(secret) < MIN_SIGNING_SECRET:
            raise ChannelInvalid(
                _("secret: at least %(n)s characters", n=MIN_SIGNING_SECRET), "secret"
            )
        config = {"url": url}
    else:  # sms
        url = _text(fields.get("url"))
        _check_url(url, "url")
        numbers = _as_list(fields.get("to"))
        if not numbers:
            raise ChannelInvalid(_("to: at least one phone number is required"), "to")
        bad = [n for n in numbers if not _PHONE_RE.match(n.replace(" ", "").replace("-", ""))]
        if bad:
            raise ChannelInvalid(
                _(
                    "to: %(value)s is not a phone number (digits, optionally a leading +)",
                    value=bad[0],
                ),
                "to",
            )
        config = {"url": url, "to": [n.replace(" ", "").replace("-", "") for n in numbers]}
    return kind, name, config, secret


def _email_config(
    fields: Mapping[str, Any], secret: str | None, has_stored_secret: bool
) -> dict[str, Any]:
    host = _text(fields.get("host")).lower().rstrip(".")
    if not host:
        raise ChannelInvalid(_("host: the SMTP server's host name is required"), "host")
    try:
        ipaddress.ip_address(host.strip("[]"))
        host = host.strip("[]")
    except ValueError:
        if not _HOST_RE.match(host):
            raise ChannelInvalid(_("host: not a valid host name"), "host") from None
    security = _text(fields.get("security")) or "starttls"
    if security not in SMTP_SECURITY:
        raise ChannelInvalid(
            _("security: must be one of %(values)s", values=", ".join(SMTP_SECURITY)), "security"
        )
    port_raw = fields.get("port")
    if port_raw in (None, ""):
        port = DEFAULT_SMTP_PORT[security]
    else:
        try:
            port = int(str(port_raw).strip())
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise ChannelInvalid(_("port: must be a whole number from 1 to 65535"), "port")
    try:
        smtp_address(host, port)
    except PermanentSendError as exc:
        raise ChannelInvalid(
            _("host: refused by the outbound policy: %(reason)s", reason=str(exc)), "host"
        ) from None
    except TransientSendError:
        pass  # not resolvable now: checked again at every send
    username = _text(fields.get("username")) or None
    if username and secret is None and not has_stored_secret:
        raise ChannelInvalid(_("secret: the SMTP password is required with a user name"), "secret")
    sender = _text(fields.get("from") or fields.get("from_addr"))
    if not _EMAIL_RE.match(sender):
        raise ChannelInvalid(_("from: not an e-mail address"), "from")
    recipients = _as_list(fields.get("to"))
    if not recipients:
        raise ChannelInvalid(_("to: at least one recipient is required"), "to")
    bad = [r for r in recipients if not _EMAIL_RE.match(r)]
    if bad:
        raise ChannelInvalid(_("to: %(value)s is not an e-mail address", value=bad[0]), "to")
    config: dict[str, Any] = {
        "host": host,
        "port": port,
        "security": security,
        "from": sender,
        "to": recipients,
    }
    if username:
        config["username"] = username
    return config
