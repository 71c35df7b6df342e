"""The built-in source: a channel's statistics from the ``event_channel_stats`` table."""

from __future__ import annotations

from bi_app.channels.base import DEFAULT_TIMEOUT_S, ChannelStats, EventRef


class DemoChannelSource:
    """Sums of the daily rows of one channel for one event (zeros when it has none)."""

    kind = "demo"

    def __init__(self, channel: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.channel = channel
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"DemoChannelSource(channel={self.channel!r})"

    def fetch(self, event: EventRef) -> ChannelStats:
        from bi_app.data.events import table_channel_stats  # late: keeps the package light

        row = table_channel_stats(event.event_id).get(self.channel, (0, 0, 0))
        return ChannelStats(self.channel, *row)
