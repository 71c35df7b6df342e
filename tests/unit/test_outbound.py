"""The outbound policy refuses before anything is connected to.

No test here sends a packet anywhere: host names are answered by a fake resolver, and every
socket connection is recorded and stopped (``no_connections``), so each refusal is shown to
happen before a connection is even attempted. Loopback stand-ins for redirects, header
stripping, size caps and timeouts are in tests/integration/test_outbound_http.py.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from bi_app import outbound
from bi_app.channels.base import ChannelSourceError, EventRef
from bi_app.channels.http_source import HttpJsonSource
from bi_app.config import ConfigError
from bi_app.integrations import IntegrationError
from bi_app.integrations.channels import parse_channel_form
from bi_app.integrations.services import parse_service_form
from bi_app.monitoring import health
from bi_app.monitoring.services import ServiceSpec, validate_service
from bi_app.outbound import OutboundPolicy, OutboundRefused

# Names the fake resolver knows; 93.184.216.34 stands for any public address (never contacted).
DNS = {
    "public.example": ["93.184.216.34"],
    "internal.example": ["10.1.2.3"],
    "mixed.example": ["93.184.216.34", "127.0.0.1"],
    "rebind.example": ["169.254.169.254"],
    "payments.internal": ["10.9.9.9"],
    "metadata-alias.internal": ["169.254.169.254"],
    "v6-private.example": ["fd12:3456::1"],
}


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """Fake DNS for the names above, and every connection attempt recorded and refused."""
    seen: dict[str, list[Any]] = {"lookups": [], "connections": []}
    numeric = socket.getaddrinfo  # the test guard's: numeric hosts only

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list:
        seen["lookups"].append(host)
        if host in DNS:
            return [
                (
                    socket.AF_INET6 if ":" in a else socket.AF_INET,
                    socket.SOCK_STREAM,
                    6,
                    "",
                    (a, port, 0, 0) if ":" in a else (a, port),
                )
                for a in DNS[host]
            ]
        return numeric(host, port, *args, **kwargs)

    def connect(*args: Any, **kwargs: Any) -> None:
        seen["connections"].append(args)
        raise AssertionError(f"a connection was attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", connect)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect)
    monkeypatch.delenv("BI_OUTBOUND_ALLOW", raising=False)
    return seen


REFUSED = [
    ("http://169.254.169.254/latest/meta-data/iam/", "cloud metadata"),
    ("http://[fd00:ec2::254]/latest/", "cloud metadata"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://0xa9fea9fe/", "cloud metadata"),  # 169.254.169.254 in hex
    ("http://10.0.0.5/", "private"),
    ("http://172.16.3.4/", "private"),
    ("http://192.168.1.1/admin", "private"),
    ("http://127.0.0.1:6379/", "loopback"),
    ("http://127.0.0.1/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://2130706433/", "loopback"),  # 127.0.0.1 as one decimal number
    ("http://0x7f000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://[fe80::1]/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://100.64.0.1/", "not a publicly routable"),
    ("http://240.0.0.1/", "reserved"),
    ("http://[64:ff9b::a00:5]/", "private"),  # NAT64 form of 10.0.0.5
    ("http://[2002:a00:5::]/", "private"),  # 6to4 form of 10.0.0.5
    ("http://internal.example/", "internal.example resolves to 10.1.2.3, which is a private"),
    ("http://mixed.example/", "loopback"),  # one public and one loopback address: refused
    ("http://v6-private.example/", "private"),
    ("http://rebind.example/", "cloud metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata endpoint"),
    ("http://public.example:6379/", "port 6379"),
    ("http://public.example:22/", "port 22"),
    ("ftp://public.example/file", "only http:// and https://"),
    ("file:///etc/passwd", "only http:// and https://"),
    ("gopher://public.example:70/_", "only http:// and https://"),
    ("http://user:pw@public.example/", "user name or password"),
    ("http://public.example@127.0.0.1/", "user name or password"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_refused_before_any_connection(attempts, url, why):
    with pytest.raises(OutboundRefused, match=why):
        outbound.fetch(url, policy=OutboundPolicy(), auth_headers={"Authorization": "Bearer x"})
    assert attempts["connections"] == []


def test_a_metadata_name_is_refused_without_even_a_lookup(attempts):
    with pytest.raises(OutboundRefused):
        OutboundPolicy().check_url("http://metadata.google.internal/")
    assert attempts["lookups"] == []


def test_public_hosts_pass_on_web_ports_and_the_connection_is_pinned(attempts):
    target = OutboundPolicy().check_url("https://public.example/stats?k=1")
    assert target.addresses == ("93.184.216.34",) and target.origin == (
        "https",
        "public.example",
        443,
    )
    url, headers, extensions = outbound._pinned(target)
    # the request goes to the checked address; the server and TLS still see the host name
    assert url.host == "93.184.216.34" and url.path == "/stats" and url.query == b"k=1"
    assert headers == {"Host": "public.example"}
    assert extensions == {"sni_hostname": "public.example"}
    assert OutboundPolicy().check_url("http://public.example:443/").addresses
    assert attempts["connections"] == []


def test_the_allow_list_opens_networks_and_names_any_port(attempts):
    networks = OutboundPolicy.from_allow(["10.1.2.0/24"])
    assert networks.check_url("http://internal.example:8443/").addresses == ("10.1.2.3",)
    with pytest.raises(OutboundRefused, match="private"):
        networks.check_url("http://10.1.3.1/")  # outside the allowed network
    named = OutboundPolicy.from_allow(["payments.internal"])
    assert named.check_url("http://payments.internal:9000/health").addresses == ("10.9.9.9",)
    loopback = OutboundPolicy.from_allow(["127.0.0.1/32"])
    assert loopback.check_url("http://127.0.0.1:6379/").addresses == ("127.0.0.1",)
    assert loopback.check_url("http://[::ffff:127.0.0.1]:80/").addresses
    with pytest.raises(OutboundRefused, match="loopback"):
        loopback.check_url("http://[::1]/")  # ::1 is not in 127.0.0.1/32
    with pytest.raises(OutboundRefused, match="port 25"):
        loopback.check_url("http://public.example:25/")  # allowing loopback opens no port
    assert attempts["connections"] == []


def test_metadata_needs_an_entry_naming_exactly_that_address(attempts):
    for allow in (["169.254.0.0/16"], ["0.0.0.0/0"], ["metadata-alias.internal"]):
        with pytest.raises(OutboundRefused, match="cloud metadata"):
            OutboundPolicy.from_allow(allow).check_url("http://metadata-alias.internal/")
    assert OutboundPolicy.from_allow(["169.254.1.0/24"]).check_url("http://169.254.1.9/")
    exact = OutboundPolicy.from_allow(["169.254.169.254/32"])
    assert exact.check_url("http://169.254.169.254/").addresses == ("169.254.169.254",)
    assert attempts["connections"] == []


def test_the_policy_comes_from_settings_or_the_environment(attempts, monkeypatch):
    from tests.conftest import make_settings

    settings = make_settings("sqlite://", outbound_allow=("10.1.2.0/24", "payments.internal"))
    policy = OutboundPolicy.from_settings(settings)
    assert policy.check_url("http://internal.example/") and policy.hosts == {"payments.internal"}
    assert outbound.refusal("http://internal.example/") is not None  # no app, no env entry
    monkeypatch.setenv("BI_OUTBOUND_ALLOW", "10.1.2.0/24")
    assert outbound.refusal("http://internal.example/") is None
    assert outbound.refusal("http://unknown-name.example/") is None  # unresolvable: not refused


def test_a_refused_health_check_is_unhealthy_and_says_why(attempts):
    spec = ServiceSpec("meta", "http://169.254.169.254/latest/", auth_header=("X-Key", "k"))
    result = health.check_http(spec)  # no app: the environment's policy (nothing allowed)
    assert result.status == "unhealthy" and result.detail["status_code"] is None
    assert result.error.startswith("refused by the outbound policy: 169.254.169.254 is a cloud")
    assert attempts["connections"] == []


def test_a_refused_channel_source_fails_its_fetch_with_the_reason(attempts):
    source = HttpJsonSource(
        "email",
        "http://internal.example/stats/{event_code}",
        auth_header_name="X-Api-Key",
        auth_header_value="k",
    )
    with pytest.raises(ChannelSourceError, match="refused: internal.example resolves to 10.1"):
        source.fetch(EventRef(1, "E1"))
    assert attempts["connections"] == []


def test_saving_a_refused_url_is_a_form_error(attempts):
    service = {"name": "meta", "url": "http://169.254.169.254/latest", "expected_status": 200}
    with pytest.raises(IntegrationError) as refused:
        parse_service_form({**service, "timeout_s": 5})
    assert "cloud metadata" in refused.value.errors["url"]
    channel = {"channel": "email", "kind": "http", "timeout_s": 5, "enabled": True}
    with pytest.raises(IntegrationError) as refused:
        parse_channel_form({**channel, "url": "http://internal.example/{event_code}"}, ["email"])
    assert "10.1.2.3, which is a private address" in refused.value.errors["url"]
    with pytest.raises(IntegrationError) as refused:
        parse_channel_form({**channel, "url": "http://127.0.0.1:8080/x"}, ["email"])
    assert "loopback" in refused.value.errors["url"]
    ok = parse_channel_form({**channel, "url": "https://public.example/{event_code}"}, ["email"])
    assert ok.url == "https://public.example/{event_code}"
    assert attempts["connections"] == []


def test_a_service_url_with_credentials_is_refused_by_the_validator():
    with pytest.raises(ConfigError, match="user name or password") as refused:
        validate_service("entry 0", "pay", "https://me:secret@pay.example/h", 200, 5, None)
    assert "secret" not in str(refused.value)


@pytest.mark.parametrize(
    "template",
    [
        "http://stats.example/{event_id:>999999999}",  # str.format would allocate ~1 GB
        "http://stats.example/{event_code.__class__}",
        "http://stats.example/{event_code.__class__.__mro__}",
        "http://stats.example/{event_id!r}",
        "http://stats.example/{0}",
        "http://stats.example/{}",
        "http://stats.example/{{event_id}}",
        "http://stats.example/{event}",
        "http://stats.example/x}",
    ],
)
def test_url_templates_know_their_three_placeholders_only(template):
    with pytest.raises(ValueError, match="unknown placeholder"):
        HttpJsonSource("email", template)
    with pytest.raises(IntegrationError) as refused:
        parse_channel_form(
            {"channel": "email", "kind": "http", "url": template, "timeout_s": 5}, ["email"]
        )
    assert "placeholder" in refused.value.errors["url"]


def test_placeholders_are_substituted_quoted_and_never_in_the_host():
    source = HttpJsonSource(
        "email", "https://stats.example/e/{event_id}/{event_code}?c={channel}&again={event_code}"
    )
    assert (
        source.target(EventRef(42, "A/B {channel}"))
        == "https://stats.example/e/42/A%2FB%20%7Bchannel%7D?c=email&again=A%2FB%20%7Bchannel%7D"
    )
    with pytest.raises(ValueError, match="not in the host"):
        HttpJsonSource("email", "https://{channel}.stats.example/x")
