"""Pure status rules: measurements in, healthy/degraded/unhealthy out. No I/O here.

The thresholds are data so operators can read them in one place; each ``*_status`` function
returns ``(status, reason)`` where ``reason`` is a short phrase for the tile ("" when healthy).

Reasons are built in English (the checks run as a job, in no one's language, and their report is
stored and shared by every request); each is an ``N_``-marked template of :data:`REASONS`, and
:func:`localized_reason` translates a finished reason where a page shows it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bi_app.i18n import N_, _

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

# every reason a check gives (English, marked for translation where it is shown)
DATABASE_UNREACHABLE = N_("database unreachable")
DATABASE_UNREACHABLE_ERROR = N_("database unreachable: %(error)s")
CONNECTIONS_IN_USE = N_("%(connections)s/%(max_connections)s connections in use")
SLOW = N_("slow: %(ms)s ms")
REDIS_UNREACHABLE = N_("Redis unreachable: serving from the database")
REDIS_UNREACHABLE_ERROR = N_("Redis unreachable: serving from the database (%(error)s)")
NO_LEADER = N_("no scheduler leader")
NO_LEADER_HERE = N_("no scheduler leader (scheduler off in this process)")
HEARTBEAT_OLD = N_("leader heartbeat %(seconds)s s old")
LATE_JOB = N_("%(count)s late job")
LATE_JOBS = N_("%(count)s late jobs")
DISK_LOW = N_("only %(free)s %% free")
HTTP_UNEXPECTED = N_("HTTP %(code)s, expected %(expected)s")
TIMED_OUT = N_("timed out after %(seconds)s s")
OUTBOUND_REFUSED = N_("refused by the outbound policy: %(error)s")
REASONS = (
    DATABASE_UNREACHABLE,
    DATABASE_UNREACHABLE_ERROR,
    CONNECTIONS_IN_USE,
    SLOW,
    REDIS_UNREACHABLE,
    REDIS_UNREACHABLE_ERROR,
    NO_LEADER,
    NO_LEADER_HERE,
    HEARTBEAT_OLD,
    LATE_JOB,
    LATE_JOBS,
    DISK_LOW,
    HTTP_UNEXPECTED,
    TIMED_OUT,
    OUTBOUND_REFUSED,
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def reason(template: str, **values: object) -> str:
    """A reason in English: ``template`` (one of :data:`REASONS`) filled in."""
    return template % values


def _pattern(template: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(template)  # literal, name, literal, name, ..., literal
    regex = "".join(
        f"(?P<{part}>.*?)" if i % 2 else re.escape(part.replace("%%", "%"))
        for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$", re.DOTALL)


_PATTERNS = tuple((template, _pattern(template)) for template in REASONS)


def localized_reason(text: str | None) -> str | None:
    """A stored English reason in the current locale (what a page shows); a text that is no
    reason of :data:`REASONS` (an exception's own message) stays as it is."""
    if not text:
        return text
    for template, pattern in _PATTERNS:
        match = pattern.match(text)
        if match:
            return _(template, **match.groupdict()) if match.groupdict() else _(template)
    return text


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
        return UNHEALTHY, DATABASE_UNREACHABLE
    if connections is not None and max_connections:
        share = connections / max_connections
        if share >= t.db_connections_unhealthy:
            return UNHEALTHY, reason(
                CONNECTIONS_IN_USE, connections=connections, max_connections=max_connections
            )
        if share >= t.db_connections_degraded:
            return DEGRADED, reason(
                CONNECTIONS_IN_USE, connections=connections, max_connections=max_connections
            )
    if latency_ms > t.db_latency_degraded_ms:
        return DEGRADED, reason(SLOW, ms=format(latency_ms, ".0f"))
    return HEALTHY, ""


def cache_status(
    configured: bool, latency_ms: float | None, error: str | None = None, t: Thresholds = DEFAULT
) -> Result:
    """A Redis outage degrades (the data layer falls back to the
    database); it never fails the app."""
    if not configured:
        return HEALTHY, ""
    if error or latency_ms is None:
        return DEGRADED, REDIS_UNREACHABLE
    if latency_ms > t.cache_latency_degraded_ms:
        return DEGRADED, reason(SLOW, ms=format(latency_ms, ".0f"))
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
            return UNHEALTHY, NO_LEADER
        return DEGRADED, NO_LEADER_HERE
    if heartbeat_age_s is not None and heartbeat_age_s >= t.heartbeat_unhealthy_s:
        return UNHEALTHY, reason(HEARTBEAT_OLD, seconds=format(heartbeat_age_s, ".0f"))
    if heartbeat_age_s is not None and heartbeat_age_s >= t.heartbeat_degraded_s:
        return DEGRADED, reason(HEARTBEAT_OLD, seconds=format(heartbeat_age_s, ".0f"))
    if late_jobs > 0:
        return DEGRADED, reason(LATE_JOB if late_jobs == 1 else LATE_JOBS, count=late_jobs)
    return HEALTHY, ""


def disk_status(free_pct: float, t: Thresholds = DEFAULT) -> Result:
    if free_pct < t.disk_free_unhealthy_pct:
        return UNHEALTHY, reason(DISK_LOW, free=format(free_pct, ".1f"))
    if free_pct < t.disk_free_degraded_pct:
        return DEGRADED, reason(DISK_LOW, free=format(free_pct, ".1f"))
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
        return UNHEALTHY, reason(HTTP_UNEXPECTED, code=status_code, expected=expected)
    if latency_ms is not None and latency_ms > t.http_latency_degraded_ms:
        return DEGRADED, reason(SLOW, ms=format(latency_ms, ".0f"))
    return HEALTHY, ""
