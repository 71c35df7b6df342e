"""The outbound client against real HTTP(S) stand-ins on 127.0.0.1 (allowed as an operator would
with BI_OUTBOUND_ALLOW): same-origin redirects, cross-origin redirects refused without the auth
header ever arriving, size caps, timeouts, no environment proxy, connections pinned to the
checked address (also over TLS with SNI). Nothing here leaves loopback."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bi_app import outbound
from bi_app.channels.base import ChannelSourceError, EventRef
from bi_app.channels.http_source import HttpJsonSource
from bi_app.monitoring import health
from bi_app.monitoring.services import ServiceSpec
from bi_app.outbound import (
    OutboundPolicy,
    OutboundRefused,
    OutboundTimeout,
    OutboundTooLarge,
)
from tests.alert_standins import self_signed

pytestmark = pytest.mark.integration

LOOPBACK = OutboundPolicy.from_allow(["127.0.0.1/32"])
KEY = "k-very-secret"
BIG = 100_000


class StandIn:
    """A loopback server whose paths do one thing each; it records every request it gets."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.other = ""  # base URL another stand-in: the target of /elsewhere
        self.release = threading.Event()
        self.sni: list[str | None] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.requests.append({"path": self.path, "headers": dict(self.headers)})
                path = self.path.split("?", 1)[0]
                if path == "/hop":
                    return self._redirect("/final")
                if path == "/hop-absolute":
                    return self._redirect(f"{outer.base}/final", 301)
                if path == "/elsewhere":
                    return self._redirect(f"{outer.other}/steal", 307)
                if path == "/to-metadata":
                    return self._redirect("http://169.254.169.254/latest/meta-data/")
                if path == "/to-ftp":
                    return self._redirect("ftp://127.0.0.1/file")
                if path == "/loop":
                    return self._redirect("/loop")
                if path == "/big":
                    return self._send(200, b"x" * BIG)
                if path == "/big-unsized":  # no Content-Length: read until the server closes
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for _ in range(BIG // 1000):
                        self.wfile.write(b"y" * 1000)
                    return None
                if path == "/hang":
                    outer.release.wait(10)
                    return self._send(200, b"late")
                if path == "/trickle":  # headers at once, then a byte every 0.2 s
                    self.send_response(200)
                    self.send_header("Content-Length", "100")
                    self.end_headers()
                    for _ in range(100):
                        if outer.release.wait(0.2):
                            return None
                        self.wfile.write(b"z")
                        self.wfile.flush()
                    return None
                if path.startswith("/stats"):  # a channel source's answer
                    body = {"channel": "email", "views": 10, "clicks": 2, "conversions": 1}
                    return self._send(200, json.dumps(body).encode(), "application/json")
                return self._send(200, json.dumps({"path": self.path}).encode())

            def _redirect(self, location: str, status: int = 302) -> None:
                self.send_response(status)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
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
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.sni.append(name)
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def paths(self) -> list[str]:
        return [r["path"] for r in self.requests]

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stand_ins() -> Iterator[Callable[..., StandIn]]:
    started: list[StandIn] = []

    def start(**kw: Any) -> StandIn:
        started.append(StandIn(**kw))
        return started[-1]

    yield start
    for server in started:
        server.close()


@pytest.fixture
def pair(stand_ins) -> tuple[StandIn, StandIn]:
    """Two stand-ins: another port is another origin; /elsewhere on the first points at the
    second."""
    first, second = stand_ins(), stand_ins()
    first.other = second.base
    return first, second


def test_a_same_origin_redirect_is_followed_without_the_auth_headers(pair):
    server, _ = pair
    answer = outbound.fetch(
        f"{server.base}/hop",
        headers={"Authorization": "Bearer plain", "Cookie": "s=1", "Accept": "*/*"},
        auth_headers={"X-Api-Key": KEY},
        policy=LOOPBACK,
    )
    assert (answer.status, json.loads(answer.body)) == (200, {"path": "/final"})
    assert answer.url == f"{server.base}/final"
    first, second = server.requests
    assert first["headers"]["X-Api-Key"] == KEY and first["headers"]["Authorization"]
    assert {k.lower() for k in second["headers"]}.isdisjoint(
        {"x-api-key", "authorization", "cookie"}
    )
    assert second["headers"]["Accept"] == "*/*"
    # an absolute Location on the same origin is the same origin
    again = outbound.fetch(f"{server.base}/hop-absolute", policy=LOOPBACK)
    assert json.loads(again.body) == {"path": "/final"}


def test_a_redirect_to_another_origin_is_refused_and_nothing_reaches_it(pair):
    server, other = pair
    with pytest.raises(OutboundRefused, match=r"another origin \(http://127.0.0.1:\d+\)"):
        outbound.fetch(
            f"{server.base}/elsewhere",
            headers={"Authorization": "Bearer plain"},
            auth_headers={"X-Api-Key": KEY},
            policy=LOOPBACK,
        )
    assert server.paths() == ["/elsewhere"] and other.requests == []


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("/to-metadata", "another origin"),
        ("/to-ftp", "another origin"),
        ("/loop", "more than 3 times"),
    ],
)
def test_redirects_elsewhere_or_in_circles_are_refused(
    pair, path, why, no_network_off_this_machine
):
    server, _ = pair
    with pytest.raises(OutboundRefused, match=why):
        outbound.fetch(f"{server.base}{path}", policy=LOOPBACK)
    assert no_network_off_this_machine == []  # not even an attempt to connect elsewhere
    assert len(server.requests) == (4 if path == "/loop" else 1)


def test_the_health_check_never_sends_its_auth_header_across_a_redirect(pair, monkeypatch):
    server, other = pair
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")  # check_http without a policy
    spec = ServiceSpec("svc", f"{server.base}/elsewhere", auth_header=("Authorization", KEY))
    result = health.check_http(spec)
    assert result.status == "unhealthy" and "another origin" in result.error
    assert other.requests == [] and server.requests[0]["headers"]["Authorization"] == KEY


def test_the_channel_source_never_sends_its_key_across_a_redirect(pair, monkeypatch):
    server, other = pair
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "127.0.0.1/32")
    source = HttpJsonSource(
        "email",
        f"{server.base}/elsewhere?e={{event_code}}",
        auth_header_name="X-Api-Key",
        auth_header_value=KEY,
        timeout=2,
    )
    with pytest.raises(ChannelSourceError, match="another origin"):
        source.fetch(EventRef(1, "E1"))
    assert other.requests == [] and server.paths() == ["/elsewhere?e=E1"]
    good = HttpJsonSource("email", f"{server.base}/stats/{{event_code}}", timeout=2)
    assert good.fetch(EventRef(1, "E1")).views == 10


def test_answers_larger_than_the_cap_are_refused_or_cut(stand_ins):
    server = stand_ins()
    for path in ("/big", "/big-unsized"):
        with pytest.raises(OutboundTooLarge, match="larger than 64 KiB"):
            outbound.fetch(f"{server.base}{path}", policy=LOOPBACK)
        cut = outbound.fetch(f"{server.base}{path}", policy=LOOPBACK, max_bytes=1000, truncate=True)
        assert (len(cut.body), cut.truncated, cut.status) == (1000, True, 200)
    whole = outbound.fetch(f"{server.base}/big", policy=LOOPBACK, max_bytes=BIG)
    assert len(whole.body) == BIG and not whole.truncated


def test_a_hanging_or_trickling_server_times_out(stand_ins, monkeypatch):
    server = stand_ins()
    with pytest.raises(OutboundTimeout, match=r"timed out after 0\.5 s"):
        outbound.fetch(f"{server.base}/hang", policy=LOOPBACK, timeout=0.5)
    # a byte every 0.2 s keeps every single read alive: the whole call still ends at its timeout
    with pytest.raises(OutboundTimeout, match="timed out after 1 s"):
        outbound.fetch(f"{server.base}/trickle", policy=LOOPBACK, timeout=1)
    # a caller's timeout above the cap is cut to the cap (made short here to keep the test short)
    monkeypatch.setattr(outbound, "MAX_TIMEOUT_S", 0.5)
    with pytest.raises(OutboundTimeout, match=r"timed out after 0\.5 s"):
        outbound.fetch(f"{server.base}/hang", policy=LOOPBACK, timeout=120)


def test_proxies_from_the_environment_are_ignored(pair, monkeypatch):
    server, proxy = pair
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy.base)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    answer = outbound.fetch(f"{server.base}/direct", policy=LOOPBACK)
    assert json.loads(answer.body) == {"path": "/direct"} and proxy.requests == []


def _rebinding_dns(monkeypatch, name: str, answers: list[str]) -> list[str]:
    """``name`` resolves to each of ``answers`` in turn (the last one for ever after)."""
    asked: list[str] = []
    guarded = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return guarded(host, port, *args, **kwargs)
        asked.append(host)
        address = answers[min(len(asked), len(answers)) - 1]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def test_the_connection_goes_to_the_checked_address_not_a_second_answer(
    stand_ins, monkeypatch, no_network_off_this_machine
):
    """DNS rebinding: the name answers 127.0.0.1 when checked, then 10.0.0.1. The request goes
    to the checked address with the name in Host; the name is looked up once per hop."""
    server = stand_ins()
    asked = _rebinding_dns(monkeypatch, "stand-in.test", ["127.0.0.1", "10.0.0.1"])
    answer = outbound.fetch(f"http://stand-in.test:{server.port}/pinned", policy=LOOPBACK)
    assert json.loads(answer.body) == {"path": "/pinned"} and asked == ["stand-in.test"]
    assert server.requests[0]["headers"]["Host"] == f"stand-in.test:{server.port}"
    # the next call asks again, gets the private answer and is refused before connecting
    with pytest.raises(OutboundRefused, match="resolves to 10.0.0.1, which is a private"):
        outbound.fetch(f"http://stand-in.test:{server.port}/pinned", policy=LOOPBACK)
    assert len(server.requests) == 1 and no_network_off_this_machine == []


def test_tls_to_the_checked_address_keeps_the_name_for_sni_and_the_certificate(
    stand_ins, monkeypatch, tmp_path
):
    server_tls, client_tls = self_signed(tmp_path, "stand-in.test")
    server = stand_ins(tls=server_tls)
    _rebinding_dns(monkeypatch, "stand-in.test", ["127.0.0.1", "10.0.0.1"])
    policy = OutboundPolicy(LOOPBACK.networks, LOOPBACK.hosts, verify=client_tls)
    answer = outbound.fetch(f"https://stand-in.test:{server.port}/tls", policy=policy)
    assert json.loads(answer.body) == {"path": "/tls"}
    assert server.sni == ["stand-in.test"]
    assert server.requests[0]["headers"]["Host"] == f"stand-in.test:{server.port}"
    # the certificate is checked against the name: by address, it does not match
    with pytest.raises(outbound.OutboundError, match="cannot reach"):
        outbound.fetch(f"https://127.0.0.1:{server.port}/tls", policy=policy)
