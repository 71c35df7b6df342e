"""A channel source that reads one JSON object over HTTP(S) and validates it strictly.

The URL may contain ``{event_id}``, ``{event_code}`` and ``{channel}`` placeholders in its path
and query, replaced by their URL-quoted values (plain substitution: no other brace is accepted,
so no format specs or attribute lookups). The call goes through :mod:`bi_app.outbound`. The
answer must be ``application/json``, uncompressed, at most 64 KiB, one object with non-negative
integer ``views``, ``clicks`` and ``conversions`` (booleans, floats, NaN and duplicate keys are
rejected), a ``channel`` equal to the configured one and, when present, an ``event`` equal to
the event's code. Other keys are ignored so a provider may add fields.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit

from bi_app.channels.base import DEFAULT_TIMEOUT_S, ChannelSourceError, ChannelStats, EventRef
from bi_app.outbound import (
    MAX_TIMEOUT_S,
    OutboundError,
    OutboundPolicy,
    OutboundRefused,
    OutboundTimeout,
    OutboundTooLarge,
    current_policy,
    fetch,
    origin_label,
    refusal,
)

MAX_BODY_BYTES = 64 * 1024
MAX_COUNT = 10**12
COUNT_FIELDS = ("views", "clicks", "conversions")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def parse_stats(body: bytes, channel: str, event_code: str) -> ChannelStats:
    """Decode and validate one answer; raises :class:`ChannelSourceError` saying what is wrong."""
    try:
        data = json.loads(
            body.decode("utf-8"), parse_constant=_reject_constant, object_pairs_hook=_no_duplicates
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChannelSourceError(f"invalid JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise ChannelSourceError(f"expected a JSON object, got {type(data).__name__}")
    if data.get("channel") != channel:
        raise ChannelSourceError(
            f"answer is for channel {str(data.get('channel'))[:40]!r}, not {channel!r}"
        )
    if "event" in data and data["event"] != event_code:
        raise ChannelSourceError(
            f"answer is for event {str(data['event'])[:40]!r}, not {event_code!r}"
        )
    counts = {}
    for name in COUNT_FIELDS:
        value = data.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ChannelSourceError(f"{name}: expected a whole number, got {type(value).__name__}")
        if not 0 <= value <= MAX_COUNT:
            raise ChannelSourceError(f"{name}: {value} is out of range")
        counts[name] = value
    return ChannelStats(channel, **counts)


PLACEHOLDERS = ("{event_id}", "{event_code}", "{channel}")


def check_url_template(url: str) -> None:
    """Raise ``ValueError`` unless ``url`` is an http(s) URL whose only braces are the known
    placeholders, in its path or query (the origin, and so the policy's verdict, is fixed)."""
    rest = url
    for placeholder in PLACEHOLDERS:
        rest = rest.replace(placeholder, "")
    if "{" in rest or "}" in rest:
        raise ValueError(
            "unknown placeholder in the URL: use {event_id}, {event_code} or {channel}"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("source URL must be http:// or https://")
    if "{" in parts.netloc:
        raise ValueError("placeholders belong in the path or query, not in the host")


class HttpJsonSource:
    """Statistics of ``channel`` from an HTTP JSON endpoint, with an optional auth header.

    Calls go through :mod:`bi_app.outbound` with the policy of the app that built the source
    (or ``policy``); the auth header is sent to the configured origin only, never after a
    redirect.
    """

    kind = "http"

    def __init__(
        self,
        channel: str,
        url: str,
        *,
        auth_header_name: str | None = None,
        auth_header_value: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        policy: OutboundPolicy | None = None,
    ) -> None:
        try:
            check_url_template(url)
        except ValueError as exc:
            raise ValueError(f"channel {channel}: {exc}") from None
        if bool(auth_header_name) != bool(auth_header_value):
            raise ValueError(
                f"channel {channel}: give both the auth header's name and value, or neither"
            )
        if auth_header_name and (
            not auth_header_name.replace("-", "").isalnum()
            or any(c in auth_header_value for c in "\r\n")
        ):
            raise ValueError(f"channel {channel}: invalid auth header")
        if not 0 < timeout <= MAX_TIMEOUT_S:
            raise ValueError(
                f"channel {channel}: timeout must be between 0 and {MAX_TIMEOUT_S:g} seconds"
            )
        self.channel = channel
        self.url = url
        self.timeout = float(timeout)
        # captured now: fetches run in pool threads without the app context
        self.policy = policy or current_policy()
        self._headers = {"Accept": "application/json", "User-Agent": "bi-app channel source"}
        self._auth: dict[str, str] = {}
        if auth_header_name:
            self._auth[auth_header_name] = auth_header_value  # type: ignore[assignment]

    def __repr__(self) -> str:  # never shows the auth header
        return f"HttpJsonSource(channel={self.channel!r}, url={self.url!r})"

    def target(self, event: EventRef) -> str:
        """The URL for ``event``: each known placeholder replaced by its URL-quoted value."""
        url = self.url
        for placeholder, value in (
            ("{event_id}", str(int(event.event_id))),
            ("{event_code}", quote(event.code, safe="")),
            ("{channel}", quote(self.channel, safe="")),
        ):
            url = url.replace(placeholder, value)
        return url

    def refusal(self) -> str | None:
        """The outbound policy's reason to refuse this source's host, None when accepted."""
        return refusal(self.target(EventRef(1, "E1")), self.policy)

    def fetch(self, event: EventRef) -> ChannelStats:
        try:
            response = fetch(
                self.target(event),
                headers=self._headers,
                auth_headers=self._auth,
                timeout=self.timeout,
                max_bytes=MAX_BODY_BYTES,
                policy=self.policy,
            )
        except OutboundTooLarge:
            raise ChannelSourceError(f"answer larger than {MAX_BODY_BYTES // 1024} KiB") from None
        except OutboundTimeout:
            raise ChannelSourceError(f"timed out after {self.timeout:g} s") from None
        except OutboundRefused as exc:
            raise ChannelSourceError(f"refused: {exc}") from None
        except OutboundError as exc:
            raise ChannelSourceError(str(exc)) from None
        if response.status >= 300:
            raise ChannelSourceError(f"HTTP {response.status} from {origin_label(self.url)}")
        if response.content_type != "application/json":
            raise ChannelSourceError(f"expected application/json, got {response.content_type}")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise ChannelSourceError(f"expected an uncompressed answer, got {encoding}")
        return parse_stats(response.body, self.channel, event.code)
