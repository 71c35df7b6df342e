"""Loopback stand-ins for the alert channels' receivers, for any test to reuse:

* :class:`SmtpStandIn` — an aiosmtpd server on 127.0.0.1 that records every message (envelope and
  parsed e-mail); optionally AUTH (PLAIN/LOGIN against one user) and STARTTLS (a self-signed
  certificate for 127.0.0.1, see :func:`self_signed`); ``reject_rcpt`` answers RCPT with a code.
* :class:`HttpReceiver` — an HTTP server on 127.0.0.1 that records every request (path, headers,
  body); ``fail_next(n, status)`` answers ``status`` n times before 200; ``dedup=True`` drops an
  ``Idempotency-Key`` it has accepted before (``delivered`` then holds each key once, as a
  receiver honouring the key would process it); ``hold=True`` records a request, counts it as
  received, then holds the answer until ``release`` is set (a dispatcher killed mid-send).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import free_port


def self_signed(directory: Path, name: str = "127.0.0.1") -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for ``name`` (an IP address or a host name), and a
    client context that trusts it (and checks the name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    try:
        alt_name: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        alt_name = x509.DNSName(name)
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([alt_name]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


class SmtpStandIn:
    """An SMTP server on loopback that records what it is sent. ``user``/``password``: AUTH is
    offered and checked (required with TLS); ``tls``: STARTTLS is offered and required first;
    ``implicit_tls``: the whole connection is TLS (SMTPS)."""

    def __init__(
        self,
        user: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
    ) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[dict[str, Any]] = []
        self.logins: list[tuple[str, bool]] = []
        self.reject_rcpt: str | None = None  # e.g. "451 4.3.0 try later" or "550 5.1.1 no"
        outer = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if outer.reject_rcpt:
                    return outer.reject_rcpt
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
                outer.messages.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "message": parsed,
                        "tls": session.ssl is not None
                        or server.transport.get_extra_info("ssl_object") is not None,
                        "authenticated": bool(session.authenticated),
                    }
                )
                return "250 Message accepted"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and auth_data.login.decode() == user
                and auth_data.password.decode() == password
            )
            login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else ""
            outer.logins.append((login, ok))
            return AuthResult(success=ok, handled=False)

        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs.update(
                authenticator=authenticator,
                auth_required=tls is not None,  # without TLS aiosmtpd warns when required
                auth_require_tls=tls is not None,
            )
        if tls is not None:
            kwargs.update(tls_context=tls, require_starttls=True)
        if implicit_tls is not None:  # SMTPS (port 465 style): TLS from the first byte
            kwargs.update(ssl_context=implicit_tls)
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 drops connections from parallel senders


class HttpReceiver:
    """An HTTP receiver on loopback (see the module docstring)."""

    def __init__(self, dedup: bool = False, hold: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []  # accepted (deduplicated when dedup)
        self.dedup = dedup
        self.hold = hold
        self.held = threading.Event()  # a held request arrived
        self.release = threading.Event()
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per answer (benchmarks)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                record = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "json": parsed,
                }
                key = record["headers"].get("idempotency-key")
                with outer._lock:
                    outer.requests.append(record)
                    status = outer._failures.pop(0) if outer._failures else 200
                    if status == 200 and not (outer.dedup and key in outer._seen):
                        outer.delivered.append(record)
                        if key:
                            outer._seen.add(key)
                if outer.hold:
                    outer.held.set()
                    outer.release.wait(30)
                self._send(status, b'{"ok": true}' if status == 200 else b'{"error": "x"}')

            def _send(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def log_message(self, *args) -> None:
                pass

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def fail_next(self, n: int, status: int = 503) -> None:
        with self._lock:
            self._failures.extend([status] * n)

    def unique_keys(self) -> list[str]:
        return sorted({r["headers"].get("idempotency-key", "") for r in self.requests})

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
