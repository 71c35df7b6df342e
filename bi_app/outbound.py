"""The one HTTP client every outbound call goes through, and the policy it applies.

Health checks, channel sources and notification channels call :func:`fetch` (or, to validate a
URL an admin is saving, :meth:`OutboundPolicy.check_url` / :func:`refusal`). The policy:

* ``http`` and ``https`` only; no user name or password in the URL.
* The host is resolved and **every** address must be public: loopback, private, link-local,
  multicast, reserved, unspecified and shared (CGNAT) addresses are refused, also when they hide
  inside IPv4-mapped, 6to4, Teredo or NAT64 IPv6 addresses. ``BI_OUTBOUND_ALLOW`` lists networks
  (CIDRs) and host names an operator allows anyway. Cloud metadata endpoints (169.254.169.254,
  fd00:ec2::254, metadata.google.internal, ...) are refused even inside an allowed network: only
  an entry naming exactly that address opens one.
* Public hosts are reached on ports 80 and 443 only (no port scans of the internet through the
  app, no Redis or SMTP on a public address); a host the allow list names, or whose addresses all
  sit in allowed networks, may use any port.
* The connection goes to the address that was checked (the URL's host stays in the ``Host``
  header and in TLS SNI/certificate checks), so a DNS answer that changes between the check and
  the connection (DNS rebinding) cannot redirect it.
* Redirects are followed (at most :data:`MAX_REDIRECTS`, GET/HEAD only) to the same origin only
  (scheme, host, port), each hop checked again; caller auth headers, ``Authorization`` and cookies
  are never sent after a redirect. A redirect elsewhere is refused.
* No proxy or ``.netrc`` from the environment; a timeout of at most :data:`MAX_TIMEOUT_S`
  (below gunicorn's 60 s worker timeout) over the whole call; the body is read as a stream and cut
  at ``max_bytes``.

Error messages name the origin (scheme, host, port), never the path or query, which may hold a
key; they are safe to show an admin.

Residual: ``getaddrinfo`` itself has no timeout (the system resolver's applies), and a server
trickling its status line and headers can hold the calling thread for one read timeout per chunk
(h11 caps the header block at 100 KB); the callers (health checks, channel service) keep their
own deadlines and never wait for such a thread.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpcore  # noqa: F401  (httpx imports it on a first call; here it loads with the app)
import httpx

if TYPE_CHECKING:
    from bi_app.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_TIMEOUT_S = 20.0  # gunicorn kills a worker after 60 s; a page may wait for several calls
DEFAULT_MAX_BYTES = 64 * 1024
MAX_REDIRECTS = 3
PUBLIC_PORTS = frozenset({80, 443})
SCHEMES = ("http", "https")
ENV_VAR = "BI_OUTBOUND_ALLOW"

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, ...
        "169.254.170.2",  # AWS ECS task metadata
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
    )
)
METADATA_HOSTS = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Headers that carry a credential: never sent after a redirect, whatever the caller passed.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_KIND_PHRASES = {
    "cloud metadata": "a cloud metadata address",
    "unspecified": "an unspecified address",
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "multicast": "a multicast address",
    "reserved": "a reserved address",
    "private": "a private address",
    "not publicly routable": "not a publicly routable address",
}


class OutboundError(Exception):
    """An outbound call failed; the message is safe to show an admin (no path, query or secret)."""


class OutboundRefused(OutboundError):
    """The outbound policy refused the URL (or a redirect) before any connection to it."""


class OutboundTimeout(OutboundError):
    """The call did not finish within its timeout."""


class OutboundTooLarge(OutboundError):
    """The answer is larger than the caller's cap."""


@dataclass(frozen=True)
class Target:
    """A URL the policy accepted, with the checked addresses the connection must go to."""

    url: httpx.URL
    addresses: tuple[str, ...]

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.url.scheme, self.url.raw_host.decode("ascii"), _port(self.url))

    @property
    def label(self) -> str:
        """``scheme://host:port``, the part of the URL a message may show."""
        return origin_label(self.url)


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str  # the URL finally answered (after same-origin redirects)
    truncated: bool = False  # the body was cut at max_bytes (only with truncate=True)

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``""`` when absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def origin_label(url: httpx.URL | str) -> str:
    """``scheme://host:port`` of a URL (for messages); ``"the URL"`` when it cannot be parsed."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
        if ":" in host:
            host = f"[{host}]"
        return f"{parsed.scheme}://{host}:{_port(parsed)}"
    except (httpx.InvalidURL, UnicodeError, TypeError, ValueError):
        return "the URL"


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (mapped, NAT64, 6to4, Teredo client)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.append(ip.teredo[1])
    return found


def address_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (``"loopback"``, ``"private"``, ...); None if it is."""
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    embedded = _embedded_ipv4(ip)
    if isinstance(ip, ipaddress.IPv6Address) and (ip.ipv4_mapped is not None or ip in _NAT64):
        # The IPv6 form only carries the IPv4 address: judge that one.
        return address_kind(embedded[0])
    for inner in embedded:
        if (kind := address_kind(inner)) is not None:
            return kind
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local):
        return "private"
    if not ip.is_global:
        return "not publicly routable"
    return None


def _plain(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address as its IPv4 address (so IPv4 CIDRs match it)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _resolve(host: str, port: int) -> list[IPAddress]:
    """The host's addresses: a numeric host (also ``2130706433``, ``0x7f000001``, ``127.1``) is
    parsed without any lookup; a name is resolved by the system resolver."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError, OSError) as exc:
            raise OutboundError(f"cannot resolve {host}: {exc}") from None
    except (UnicodeError, OSError) as exc:
        raise OutboundError(f"cannot resolve {host}: {exc}") from None
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise OutboundError(f"cannot resolve {host}: no address")
    return found


def url_shape_error(url: str) -> str | None:
    """What is wrong with ``url`` before any policy or lookup: ``"scheme"`` when it is not an
    http(s) URL with a host, else a phrase ("must not contain a user name or password"); None
    when its shape is acceptable. For validating configuration without resolving hosts."""
    try:
        parsed = httpx.URL(url)
        host = parsed.raw_host.decode("ascii")
    except (httpx.InvalidURL, TypeError, UnicodeError):
        return "scheme" if not url.lower().startswith(("http://", "https://")) else "is not valid"
    if parsed.scheme not in SCHEMES or not host:
        return "scheme"
    if parsed.userinfo:
        return "must not contain a user name or password (send credentials in an auth header)"
    if parsed.port is not None and not 0 < parsed.port < 65536:
        return "has an invalid port"
    return None


@dataclass(frozen=True)
class OutboundPolicy:
    """Which hosts outbound calls may reach: public ones, plus what ``BI_OUTBOUND_ALLOW`` lists."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()
    # TLS verification: True (system CA bundle via certifi) or a context (tests with their own CA)
    verify: ssl.SSLContext | bool = field(default=True, compare=False)

    @classmethod
    def from_allow(cls, items: Iterable[str]) -> OutboundPolicy:
        """From ``BI_OUTBOUND_ALLOW`` entries: CIDRs (``10.1.2.0/24``) and host names."""
        networks, hosts = [], set()
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboundPolicy:
        return _policy_for(tuple(settings.outbound_allow))

    def _allowed_by_network(self, ip: IPAddress) -> bool:
        plain = _plain(ip)
        if ip in METADATA_ADDRESSES or plain in METADATA_ADDRESSES:
            # only an entry naming exactly this address opens a metadata endpoint
            return any(
                n.num_addresses == 1 and n.network_address in (ip, plain) for n in self.networks
            )
        return any(
            candidate.version == n.version and candidate in n
            for n in self.networks
            for candidate in {ip, plain}
        )

    def check_url(self, url: str | httpx.URL) -> Target:
        """Parse, resolve and check ``url``; raises :class:`OutboundRefused` saying why, or
        :class:`OutboundError` when the host cannot be resolved. Nothing is connected to."""
        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        except (httpx.InvalidURL, TypeError):
            raise OutboundRefused("not a valid URL") from None  # its text may echo a secret
        if parsed.scheme not in SCHEMES:
            shown = f"{parsed.scheme}://" if parsed.scheme else "a relative URL"
            raise OutboundRefused(f"only http:// and https:// URLs are allowed, not {shown}")
        if parsed.userinfo:
            raise OutboundRefused(
                "a user name or password in the URL is not accepted: use an auth header"
            )
        if parsed.port is not None and not 0 < parsed.port < 65536:
            raise OutboundRefused("the URL's port is not valid")
        try:
            host = parsed.raw_host.decode("ascii").lower().rstrip(".")
        except UnicodeError:
            raise OutboundRefused("the host name is not valid") from None
        if not host:
            raise OutboundRefused("the URL has no host")
        port = _port(parsed)
        label = origin_label(parsed)
        by_name = host in self.hosts
        if host in METADATA_HOSTS and not by_name:
            raise OutboundRefused(f"{host} is a cloud metadata endpoint: refused")
        addresses = _resolve(host, port)
        all_listed = True
        for ip in addresses:
            if self._allowed_by_network(ip):
                continue
            all_listed = False
            kind = address_kind(ip)
            if kind == "cloud metadata" or (kind is not None and not by_name):
                subject = host if host == str(ip) else f"{host} resolves to {ip}, which"
                how = (
                    f"only an {ENV_VAR} entry naming exactly this address opens it"
                    if kind == "cloud metadata"
                    else f"an operator can allow it in {ENV_VAR}"
                )
                raise OutboundRefused(f"{subject} is {_KIND_PHRASES[kind]}: refused ({how})")
        if not (by_name or all_listed) and port not in PUBLIC_PORTS:
            raise OutboundRefused(
                f"port {port} of {label} is refused: public hosts are reached on ports 80 and "
                f"443 only (an operator can allow the host in {ENV_VAR})"
            )
        return Target(parsed, tuple(str(ip) for ip in addresses))


@functools.lru_cache(maxsize=32)
def _policy_for(allow: tuple[str, ...]) -> OutboundPolicy:
    return OutboundPolicy.from_allow(allow)


def current_policy() -> OutboundPolicy:
    """The policy of the app serving this request or job; outside an app, ``BI_OUTBOUND_ALLOW``
    from the environment (parsed as the settings parse it)."""
    import os

    import flask

    if flask.has_app_context():
        settings = flask.current_app.config.get("BI_SETTINGS")
        if settings is not None:
            return OutboundPolicy.from_settings(settings)
    from bi_app.config import _parse_outbound_allow

    return _policy_for(_parse_outbound_allow(ENV_VAR, os.environ.get(ENV_VAR, "")))


def refusal(url: str, policy: OutboundPolicy | None = None) -> str | None:
    """The policy's reason to refuse ``url`` (for a form), None when it is acceptable or its host
    cannot be resolved now (that is checked again, and reported, at every call)."""
    try:
        (policy or current_policy()).check_url(url)
    except OutboundRefused as exc:
        return str(exc)
    except OutboundError:
        return None
    return None


@functools.lru_cache(maxsize=1)
def _default_ssl_context() -> ssl.SSLContext:
    import certifi

    return ssl.create_default_context(cafile=certifi.where())


@functools.lru_cache(maxsize=1)
def _no_tls_context() -> ssl.SSLContext:
    """For clients that only speak plain HTTP (redirects never change the scheme): it trusts no
    certificate, so it could not complete a TLS handshake anyway, and costs no CA bundle load."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _ssl_context(policy: OutboundPolicy, target: Target) -> ssl.SSLContext:
    if isinstance(policy.verify, ssl.SSLContext):
        return policy.verify
    return _default_ssl_context() if target.url.scheme == "https" else _no_tls_context()


def _pinned(target: Target) -> tuple[httpx.URL, dict[str, str], dict[str, Any]]:
    """The URL with the checked address as host, and the Host header and TLS server name that
    keep the original host for the server and the certificate check."""
    host = target.url.raw_host.decode("ascii")
    url = target.url.copy_with(host=target.addresses[0])
    extensions: dict[str, Any] = {}
    try:
        ipaddress.ip_address(host)
    except ValueError:
        extensions["sni_hostname"] = host
    return url, {"Host": target.url.netloc.decode("ascii")}, extensions


def _same_origin(a: Target, b: httpx.URL) -> bool:
    try:
        host = b.raw_host.decode("ascii")
    except UnicodeError:
        return False
    return a.origin == (b.scheme, host, _port(b))


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    auth_headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    timeout: float = 10.0,
    max_bytes: int = DEFAULT_MAX_BYTES,
    truncate: bool = False,
    policy: OutboundPolicy | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> OutboundResponse:
    """One HTTP call under the outbound policy.

    ``auth_headers`` go to the first request only. The whole call, redirects included, ends
    within ``timeout`` seconds (capped at :data:`MAX_TIMEOUT_S`). A body larger than
    ``max_bytes`` raises :class:`OutboundTooLarge`, or is cut there with ``truncate=True``.
    Every failure raises an :class:`OutboundError`; any HTTP status is an answer, not an error.
    """
    policy = policy or current_policy()
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    timeout = min(float(timeout), MAX_TIMEOUT_S)
    deadline = time.monotonic() + timeout
    target = policy.check_url(url)
    plain = {k: v for k, v in (headers or {}).items() if k.lower() != "host"}
    plain.setdefault("User-Agent", "bi-app")
    plain.setdefault("Accept-Encoding", "identity")  # max_bytes counts what arrives, unexpanded
    secret = dict(auth_headers or {})
    verify = _ssl_context(policy, target)
    with httpx.Client(trust_env=False, follow_redirects=False, verify=verify) as client:
        for hop in range(max_redirects + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise OutboundTimeout(f"timed out after {timeout:g} s")
            pinned, host_header, extensions = _pinned(target)
            client.cookies.clear()
            request = client.build_request(
                method,
                pinned,
                headers={**plain, **secret, **host_header},
                content=content,
                timeout=httpx.Timeout(remaining),
                extensions=extensions,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException:
                raise OutboundTimeout(f"timed out after {timeout:g} s") from None
            except httpx.HTTPError as exc:
                raise OutboundError(f"cannot reach {target.label}: {_reason(exc)}") from None
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location is not None:
                    target = _follow(target, location, method, hop, max_redirects, policy)
                    secret = {}
                    plain = {k: v for k, v in plain.items() if k.lower() not in _CREDENTIAL_HEADERS}
                    if response.status_code == 303:
                        method, content = "GET", None
                    continue
                body, truncated = _read(response, deadline, timeout, max_bytes, truncate)
                return OutboundResponse(
                    response.status_code,
                    httpx.Headers(response.headers),
                    body,
                    str(target.url),
                    truncated,
                )
            finally:
                response.close()
    raise AssertionError("unreachable")  # the loop returns or raises


def _follow(
    current: Target, location: str, method: str, hop: int, limit: int, policy: OutboundPolicy
) -> Target:
    """The next hop of a redirect, or :class:`OutboundRefused` when it may not be followed."""
    if hop >= limit:
        raise OutboundRefused(f"{current.label} redirected more than {limit} times")
    if method not in ("GET", "HEAD"):
        raise OutboundRefused(f"{current.label} redirected a {method} request: not followed")
    try:
        next_url = current.url.join(location)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise OutboundRefused(f"{current.label} redirected to an invalid URL") from None
    if not _same_origin(current, next_url):
        raise OutboundRefused(
            f"{current.label} redirected to another origin ({origin_label(next_url)}): not followed"
        )
    return policy.check_url(next_url)


def _read(
    response: httpx.Response, deadline: float, timeout: float, max_bytes: int, truncate: bool
) -> tuple[bytes, bool]:
    """The body, read as it arrives: never more than ``max_bytes`` kept, never past the deadline."""
    declared = response.headers.get("content-length", "")
    if not truncate and declared.isdigit() and int(declared) > max_bytes:
        raise OutboundTooLarge(f"answer larger than {_size(max_bytes)} ({declared} bytes)")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_raw():
            if time.monotonic() > deadline:
                raise OutboundTimeout(f"timed out after {timeout:g} s")
            if size + len(chunk) > max_bytes:
                if not truncate:
                    raise OutboundTooLarge(f"answer larger than {_size(max_bytes)}")
                chunks.append(chunk[: max_bytes - size])
                return b"".join(chunks), True
            size += len(chunk)
            chunks.append(chunk)
    except httpx.TimeoutException:
        raise OutboundTimeout(f"timed out after {timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise OutboundError(f"answer broken off: {_reason(exc)}") from None
    return b"".join(chunks), False


def _size(n: int) -> str:
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} bytes"


def _reason(exc: BaseException) -> str:
    """A one-line reason from an httpx error (its first line, or its type)."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return (text or type(exc).__name__)[:200]
