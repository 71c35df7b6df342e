"""A channel source that reads one JSON object over HTTP(S) and validates it strictly.

The URL may contain ``{event_id}``, ``{event_code}`` and ``{channel}`` placeholders (values are
URL-quoted). The answer must be ``application/json``, at most 64 KiB, one object with
non-negative integer ``views``, ``clicks`` and ``conversions`` (booleans, floats, NaN and
duplicate keys are rejected), a ``channel`` equal to the configured one and, when present, an
``event`` equal to the event's code. Other keys are ignored so a provider may add fields.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

from bi_app.channels.base import DEFAULT_TIMEOUT_S, ChannelSourceError, ChannelStats, EventRef

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


class HttpJsonSource:
    """Statistics of ``channel`` from an HTTP JSON endpoint, with an optional auth header."""

    kind = "http"

    def __init__(
        self,
        channel: str,
        url: str,
        *,
        auth_header_name: str | None = None,
        auth_header_value: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"channel {channel}: source URL must be http:// or https://")
        if bool(auth_header_name) != bool(auth_header_value):
            raise ValueError(
                f"channel {channel}: give both the auth header's name and value, or neither"
            )
        if auth_header_name and (
            not auth_header_name.replace("-", "").isalnum()
            or any(c in auth_header_value for c in "\r\n")
        ):
            raise ValueError(f"channel {channel}: invalid auth header")
        if not 0 < timeout <= 120:
            raise ValueError(f"channel {channel}: timeout must be between 0 and 120 seconds")
        self.channel = channel
        self.url = url
        self.timeout = float(timeout)
        self._headers = {"Accept": "application/json", "User-Agent": "bi-app channel source"}
        if auth_header_name:
            self._headers[auth_header_name] = auth_header_value  # type: ignore[assignment]

    def __repr__(self) -> str:  # never shows the auth header
        return f"HttpJsonSource(channel={self.channel!r}, url={self.url!r})"

    def target(self, event: EventRef) -> str:
        return self.url.format(
            event_id=event.event_id,
            event_code=quote(event.code, safe=""),
            channel=quote(self.channel, safe=""),
        )

    def fetch(self, event: EventRef) -> ChannelStats:
        deadline = time.monotonic() + self.timeout
        request = urllib.request.Request(self.target(event), headers=self._headers, method="GET")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                ctype = response.headers.get_content_type()
                if ctype != "application/json":
                    raise ChannelSourceError(f"expected application/json, got {ctype}")
                body = self._read(response, deadline)
        except urllib.error.HTTPError as exc:
            exc.close()  # an HTTPError holds the response's socket open until closed
            raise ChannelSourceError(f"HTTP {exc.code} from {urlsplit(self.url).netloc}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ChannelSourceError(
                f"cannot reach {urlsplit(self.url).netloc}: {reason}"
            ) from None
        return parse_stats(body, self.channel, event.code)

    def _read(self, response: Any, deadline: float) -> bytes:
        """Read the body in chunks, so a server trickling bytes cannot outlast the timeout."""
        chunks, size = [], 0
        while True:
            if time.monotonic() > deadline:
                raise ChannelSourceError(f"timed out after {self.timeout:g} s")
            chunk = response.read1(8192) if hasattr(response, "read1") else response.read(8192)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise ChannelSourceError(f"answer larger than {MAX_BODY_BYTES // 1024} KiB")
            chunks.append(chunk)
