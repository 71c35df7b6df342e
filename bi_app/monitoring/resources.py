"""Host resource sampling (every 15 s as a job): CPU, memory, disk and network throughput.

Network throughput is the byte-counter delta since the previous sample of this process; the
last samples are also kept in memory so the health page can draw them with the database down.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import Engine, insert, select

from bi_app.db.monitoring_models import ResourceSample
from bi_app.monitoring.metrics import source

log = logging.getLogger(__name__)

MEMORY_SAMPLES = 240  # one hour at the 15-second cadence
_lock = threading.Lock()
_recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=MEMORY_SAMPLES)
_previous_net: tuple[float, int, int] | None = None


def _net_rates() -> tuple[float, float]:
    global _previous_net
    counters = psutil.net_io_counters()
    now = time.monotonic()
    with _lock:
        previous, _previous_net = _previous_net, (now, counters.bytes_sent, counters.bytes_recv)
    if previous is None or now <= previous[0]:
        return 0.0, 0.0
    elapsed = now - previous[0]
    # Counters can wrap or reset (interface restart); a negative delta is not traffic.
    return (
        max(0, counters.bytes_sent - previous[1]) / elapsed,
        max(0, counters.bytes_recv - previous[2]) / elapsed,
    )


def measure(disk_path: str | Path = "/") -> dict[str, Any]:
    """One sample, without storing it."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(str(disk_path))
    sent, recv = _net_rates()
    return {
        "at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
        "source": source(),
        # cpu_percent(None) compares with the previous call: the job's cadence is the window.
        "cpu_percent": float(psutil.cpu_percent(interval=None)),
        "memory_percent": float(memory.percent),
        "memory_used_bytes": int(memory.total - memory.available),
        "disk_percent": float(disk.percent),
        "disk_used_bytes": int(disk.used),
        "net_sent_bps": float(sent),
        "net_recv_bps": float(recv),
    }


def sample_resources(engine: Engine | None = None, disk_path: str | Path = "/") -> dict[str, Any]:
    """Measure, keep in memory and store one sample; a storage failure is logged, not raised."""
    sample = measure(disk_path)
    with _lock:
        _recent.append(sample)
    if engine is None:
        from bi_app.extensions import db

        engine = db.engine
    if engine is not None:
        try:
            with engine.begin() as conn:
                conn.execute(insert(ResourceSample), [sample])
        except Exception:
            log.warning("resource sample not stored", exc_info=True)
    return sample


def recent_samples() -> list[dict[str, Any]]:
    with _lock:
        return list(_recent)


def stored_samples(engine: Engine, since: dt.datetime) -> list[dict[str, Any]]:
    """Stored samples since ``since`` (all sources), oldest first."""
    cols = [
        ResourceSample.at,
        ResourceSample.source,
        ResourceSample.cpu_percent,
        ResourceSample.memory_percent,
        ResourceSample.memory_used_bytes,
        ResourceSample.disk_percent,
        ResourceSample.disk_used_bytes,
        ResourceSample.net_sent_bps,
        ResourceSample.net_recv_bps,
    ]
    with engine.connect() as conn:
        rows = conn.execute(
            select(*cols).where(ResourceSample.at >= since).order_by(ResourceSample.at)
        ).all()
    return [dict(row._mapping) for row in rows]
