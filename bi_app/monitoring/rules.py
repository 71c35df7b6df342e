"""Pure status rules: measurements in, healthy/degraded/unhealthy out. No I/O here.

The thresholds are data so operators can read them in one place; each ``*_status`` function
returns ``(status, reason)`` where ``reason`` is a short phrase for the tile ("" when healthy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
STATUSES = (HEALTHY, DEGRADED, UNHEALTHY)
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}

# Only these take the whole app out of a load balancer: without its database (or with a full
# disk) the app cannot serve; a down cache, late job or external service degrades it.
CRITICAL_CHECKS = frozenset({"database", "disk"})


@dataclass(frozen=True)
class Thresholds:
    db_latency_degraded_ms: float = 250.0
    db_connections_degraded: float = 0.80  # share of max_connections
    db_connections_unhealthy: float = 0.95
    cache_latency_degraded_ms: float = 50.0
    heartbeat_degraded_s: float = 90.0
    heartbeat_unhealthy_s: float = 300.0
    disk_free_degraded_pct: float = 10.0
    disk_free_unhealthy_pct: float = 3.0
    http_latency_degraded_ms: float = 2000.0


DEFAULT = Thresholds()
Result = tuple[str, str]


def rank(status: str) -> int:
    return _RANK[status]


def worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=rank, default=HEALTHY)


def overall_status(checks: Mapping[str, str]) -> str:
    """Worst of the checks, but non-critical checks can only degrade the whole."""
    capped = (
        s if name in CRITICAL_CHECKS or s != UNHEALTHY else DEGRADED for name, s in checks.items()
    )
    return worst(capped)


def database_status(
    latency_ms: float | None,
    error: str | None = None,
    connections: int | None = None,
    max_connections: int | None = None,
    t: Thresholds = DEFAULT,
) -> Result:
    if error or latency_ms is None:
        return UNHEALTHY, "database unreachable"
    if connections is not None and max_connections:
        share = connections / max_connections
        if share >= t.db_connections_unhealthy:
            return UNHEALTHY, f"{connections}/{max_connections} connections in use"
        if share >= t.db_connections_degraded:
            return DEGRADED, f"{connections}/{max_connections} connections in use"
    if latency_ms > t.db_latency_degraded_ms:
        return DEGRADED, f"slow: {latency_ms:.0f} ms"
    return HEALTHY, ""


def cache_status(
    configured: bool, latency_ms: float | None, error: str | None = None, t: Thresholds = DEFAULT
) -> Result:
    """A Redis outage degrades (the data layer falls back to the
    database); it never fails the app."""
    if not configured:
        return HEALTHY, ""
    if error or latency_ms is None:
        return DEGRADED, "Redis unreachable: serving from the database"
    if latency_ms > t.cache_latency_degraded_ms:
        return DEGRADED, f"slow: {latency_ms:.0f} ms"
    return HEALTHY, ""


def scheduler_status(
    enabled: bool,
    has_leader: bool,
    heartbeat_age_s: float | None,
    late_jobs: int,
    t: Thresholds = DEFAULT,
) -> Result:
    """``enabled`` is whether this process runs a scheduler; the leader may be another process."""
    if not has_leader:
        if enabled:
            return UNHEALTHY, "no scheduler leader"
        return DEGRADED, "no scheduler leader (scheduler off in this process)"
    if heartbeat_age_s is not None and heartbeat_age_s >= t.heartbeat_unhealthy_s:
        return UNHEALTHY, f"leader heartbeat {heartbeat_age_s:.0f} s old"
    if heartbeat_age_s is not None and heartbeat_age_s >= t.heartbeat_degraded_s:
        return DEGRADED, f"leader heartbeat {heartbeat_age_s:.0f} s old"
    if late_jobs > 0:
        return DEGRADED, f"{late_jobs} late job{'s' if late_jobs != 1 else ''}"
    return HEALTHY, ""


def disk_status(free_pct: float, t: Thresholds = DEFAULT) -> Result:
    if free_pct < t.disk_free_unhealthy_pct:
        return UNHEALTHY, f"only {free_pct:.1f} % free"
    if free_pct < t.disk_free_degraded_pct:
        return DEGRADED, f"only {free_pct:.1f} % free"
    return HEALTHY, ""


def http_status(
    status_code: int | None,
    expected: int,
    latency_ms: float | None,
    error: str | None = None,
    t: Thresholds = DEFAULT,
) -> Result:
    if error:
        return UNHEALTHY, error
    if status_code != expected:
        return UNHEALTHY, f"HTTP {status_code}, expected {expected}"
    if latency_ms is not None and latency_ms > t.http_latency_degraded_ms:
        return DEGRADED, f"slow: {latency_ms:.0f} ms"
    return HEALTHY, ""
