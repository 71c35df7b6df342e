"""Health checks: database, cache, scheduler, disk and external HTTP services, run in parallel.

``run_health_checks`` is the 30-second job. Every check runs in its own thread with its own
deadline, so one hung service delays nothing else; the report is kept in memory (the health page
and ``/api/health`` still answer when the database is down) and stored as a time series.
Status decisions live in :mod:`bi_app.monitoring.rules`.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bi_app import current_settings, outbound
from bi_app.config import Settings
from bi_app.db.monitoring_models import OVERALL_CHECK, HealthResult
from bi_app.jobs.definitions import JOBS
from bi_app.jobs.status import scheduler_status
from bi_app.monitoring import rules
from bi_app.monitoring.services import ServiceSpec, settings_services, table_services
from bi_app.outbound import OutboundPolicy

log = logging.getLogger(__name__)

DB_TIMEOUT_S = 5.0
CACHE_TIMEOUT_S = 2.0
SCHEDULER_TIMEOUT_S = 3.0
DISK_TIMEOUT_S = 2.0
SERVICES_LOAD_TIMEOUT_S = 2.0
CHEAP_TIMEOUT_S = 2.0  # /api/health runs the cheap checks live with this deadline
STORED_READ_TIMEOUT_S = 2.0  # reading the newest stored report, so a hung database holds nobody


def _check_interval_s() -> float:
    """How often the ``run_health_checks`` job runs."""
    seconds = [s.seconds for s in JOBS if s.func.endswith(":run_health_checks") and s.seconds]
    return float(seconds[0]) if seconds else 30.0


CHECK_INTERVAL_S = _check_interval_s()
# No report older than this is ever served: past it, the checks run again.
STALE_AFTER_S = 2 * CHECK_INTERVAL_S


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass
class CheckResult:
    name: str
    status: str
    latency_ms: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    at: dt.datetime = field(default_factory=utcnow)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat() + "Z"
        return out


@dataclass
class HealthReport:
    status: str
    checks: list[CheckResult]
    at: dt.datetime
    duration_ms: float = 0.0
    stored: bool = False
    store_error: str | None = None
    origin: str = "live"  # live | memory | database

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def age_s(self, now: dt.datetime | None = None) -> float:
        return ((now or utcnow()) - self.at).total_seconds()

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "at": self.at.isoformat() + "Z",
            "duration_ms": round(self.duration_ms, 1),
            "stored": self.stored,
            "store_error": self.store_error,
            "origin": self.origin,
            "checks": {c.name: c.to_dict() for c in self.checks},
        }


# --- individual checks (each returns a CheckResult; exceptions become unhealthy results) ------


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def check_database(engine: Engine, thresholds: rules.Thresholds = rules.DEFAULT) -> CheckResult:
    start = time.perf_counter()
    detail: dict[str, Any] = {"backend": engine.dialect.name}
    connections = max_connections = None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            latency = _ms(start)
            if engine.dialect.name == "postgresql":
                row = conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = "
                        "'client backend'),"
                        " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        "   AND state = 'active' AND pid <> pg_backend_pid()),"
                        " current_setting('max_connections')::int"
                    )
                ).one()
                connections, active, max_connections = int(row[0]), int(row[1]), int(row[2])
                detail.update(
                    connections=connections, active_queries=active, max_connections=max_connections
                )
    except Exception as exc:  # noqa: BLE001 - any failure is the check's answer
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        status, _reason = rules.database_status(None, reason)
        return CheckResult(
            "database",
            status,
            _ms(start),
            detail,
            rules.reason(rules.DATABASE_UNREACHABLE_ERROR, error=reason),
        )
    status, reason = rules.database_status(latency, None, connections, max_connections, thresholds)
    return CheckResult("database", status, latency, detail, reason or None)


def check_cache(settings: Settings, thresholds: rules.Thresholds = rules.DEFAULT) -> CheckResult:
    detail: dict[str, Any] = {"backend": "redis" if settings.redis_url else "in-process"}
    detail.update(cache_hit_rate())
    if not settings.redis_url:
        return CheckResult("cache", rules.HEALTHY, None, detail)
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    start = time.perf_counter()
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
        latency, error = _ms(start), None
    except Exception as exc:  # noqa: BLE001
        latency, error = None, f"{type(exc).__name__}: {exc}"[:300]
    finally:
        client.close()
    status, reason = rules.cache_status(True, latency, error, thresholds)
    return CheckResult(
        "cache",
        status,
        latency if latency is not None else _ms(start),
        detail,
        rules.reason(rules.REDIS_UNREACHABLE_ERROR, error=error) if error else (reason or None),
    )


def cache_hit_rate() -> dict[str, Any]:
    """The data cache's hits, misses and hit rate since start (``{}`` when unavailable)."""
    try:
        from bi_app.data.cache import cache_stats  # the data layer's counters; optional

        stats = cache_stats()
        hits, misses = int(stats["hits"]), int(stats["misses"])
    except Exception:  # noqa: BLE001 - hit rate is informational
        return {}
    total = hits + misses
    return {"hits": hits, "misses": misses, "hit_rate": round(hits / total, 4) if total else None}


def check_scheduler(thresholds: rules.Thresholds = rules.DEFAULT) -> CheckResult:
    """Reads ``bi_app.jobs.scheduler_status()``: enabled, leader, heartbeat age, late jobs."""
    start = time.perf_counter()
    raw = dict(scheduler_status())
    late = raw.get("late_jobs") or []
    late_count = late if isinstance(late, int) else len(late)
    age = raw.get("heartbeat_age_s")
    if age is None and isinstance(raw.get("last_heartbeat"), dt.datetime):
        age = (utcnow() - raw["last_heartbeat"].replace(tzinfo=None)).total_seconds()
    leader = raw.get("leader")
    if isinstance(leader, dict):
        leader = f"{leader.get('host')}:{leader.get('pid')}"
    enabled = bool(raw.get("enabled", True))
    status, reason = rules.scheduler_status(enabled, bool(leader), age, late_count, thresholds)
    detail = {
        "enabled": enabled,
        "leader": str(leader) if leader else None,
        "heartbeat_age_s": round(age, 1) if age is not None else None,
        "late_jobs": late if isinstance(late, list) else late_count,
    }
    return CheckResult("scheduler", status, _ms(start), _jsonable(detail), reason or None)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def disk_path(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    instance = Path(settings.instance_dir)
    return instance if instance.exists() else Path("/")


def check_disk(path: Path, thresholds: rules.Thresholds = rules.DEFAULT) -> CheckResult:
    start = time.perf_counter()
    usage = shutil.disk_usage(path)
    free_pct = usage.free / usage.total * 100.0 if usage.total else 0.0
    status, reason = rules.disk_status(free_pct, thresholds)
    detail = {
        "path": str(path),
        "total_bytes": usage.total,
        "free_bytes": usage.free,
        "free_percent": round(free_pct, 2),
    }
    return CheckResult("disk", status, _ms(start), detail, reason or None)


HEALTH_MAX_BYTES = 64 * 1024  # the body is not judged; reading stops here


def check_http(
    spec: ServiceSpec,
    thresholds: rules.Thresholds = rules.DEFAULT,
    policy: OutboundPolicy | None = None,
) -> CheckResult:
    """GET the service's URL through :mod:`bi_app.outbound` (``policy``, else the current app's);
    a URL the policy refuses is an unhealthy check saying why, and nothing is sent."""
    start = time.perf_counter()
    headers = {"User-Agent": "bi-app-health/1", "Accept": "*/*"}
    auth = dict([spec.auth_header]) if spec.auth_header else None
    code: int | None = None
    error: str | None = None
    try:
        response = outbound.fetch(
            spec.url,
            headers=headers,
            auth_headers=auth,
            timeout=spec.timeout_s,
            max_bytes=HEALTH_MAX_BYTES,
            truncate=True,
            policy=policy,
        )
        code = response.status
    except outbound.OutboundTimeout:
        error = rules.reason(rules.TIMED_OUT, seconds=format(spec.timeout_s, "g"))
    except outbound.OutboundRefused as exc:
        error = rules.reason(rules.OUTBOUND_REFUSED, error=exc)[:300]
    except outbound.OutboundError as exc:
        error = str(exc)[:300]
    latency = _ms(start)
    status, reason = rules.http_status(code, spec.expected_status, latency, error, thresholds)
    detail = {
        "url": spec.url,
        "status_code": code,
        "expected_status": spec.expected_status,
        "timeout_s": spec.timeout_s,
    }
    return CheckResult(spec.check_name, status, latency, detail, reason or None)


# --- running them --------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedCheck:
    name: str
    func: Callable[[], CheckResult]
    timeout_s: float


def run_parallel(planned: list[PlannedCheck]) -> list[CheckResult]:
    """Run every check in its own thread; one past its deadline becomes an unhealthy result.

    The pool is not waited for on exit: a hung check's thread ends on its own socket timeout
    while this report is already out.
    """
    if not planned:
        return []
    planned = [PlannedCheck(p.name, _in_app_context(p.func), p.timeout_s) for p in planned]
    pool = ThreadPoolExecutor(max_workers=len(planned), thread_name_prefix="health")
    start = time.monotonic()
    futures: list[tuple[PlannedCheck, Future[CheckResult]]] = [
        (p, pool.submit(p.func)) for p in planned
    ]
    results = []
    try:
        for p, future in futures:
            remaining = max(0.0, start + p.timeout_s - time.monotonic())
            try:
                results.append(future.result(timeout=remaining))
            except TimeoutError:
                future.cancel()
                results.append(
                    CheckResult(
                        p.name,
                        rules.UNHEALTHY,
                        p.timeout_s * 1000.0,
                        error=rules.reason(rules.TIMED_OUT, seconds=format(p.timeout_s, "g")),
                    )
                )
            except Exception as exc:
                log.warning("health check %s failed", p.name, exc_info=True)
                results.append(
                    CheckResult(
                        p.name,
                        rules.UNHEALTHY,
                        (time.monotonic() - start) * 1000.0,
                        error=f"{type(exc).__name__}: {exc}"[:300],
                    )
                )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _in_app_context(func: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
    """Carry the caller's Flask app context into the check's thread (jobs read app config)."""
    import flask

    if not flask.has_app_context():
        return func
    app = flask.current_app._get_current_object()

    def run() -> CheckResult:
        with app.app_context():
            return func()

    return run


def _services(settings: Settings, engine: Engine | None) -> tuple[list[ServiceSpec], str | None]:
    """Configured plus table services; the table is read with a deadline so a down database
    cannot hold the whole run."""
    specs = list(settings_services(settings))
    if engine is None:
        return specs, None
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-services")
    try:
        extra = pool.submit(table_services, engine).result(timeout=SERVICES_LOAD_TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001
        first_line = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return specs, f"monitored_services not read: {type(exc).__name__}: {first_line}"[:300]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    known = {s.name for s in specs}
    return specs + [s for s in extra if s.name not in known], None


def plan_checks(
    settings: Settings,
    engine: Engine | None,
    *,
    cheap_only: bool = False,
    timeout_s: float | None = None,
    services: list[ServiceSpec] | None = None,
    thresholds: rules.Thresholds = rules.DEFAULT,
) -> list[PlannedCheck]:
    def cap(seconds: float) -> float:
        return min(seconds, timeout_s) if timeout_s else seconds

    planned = [
        PlannedCheck("cache", lambda: check_cache(settings, thresholds), cap(CACHE_TIMEOUT_S)),
        PlannedCheck("scheduler", lambda: check_scheduler(thresholds), cap(SCHEDULER_TIMEOUT_S)),
        PlannedCheck(
            "disk", lambda: check_disk(disk_path(settings), thresholds), cap(DISK_TIMEOUT_S)
        ),
    ]
    if engine is not None:
        planned.insert(
            0,
            PlannedCheck("database", lambda: check_database(engine, thresholds), cap(DB_TIMEOUT_S)),
        )
    if not cheap_only:
        policy = OutboundPolicy.from_settings(settings)
        for spec in services or []:
            # The deadline sits just past the socket timeout so the check reports its own timeout.
            planned.append(
                PlannedCheck(
                    spec.check_name,
                    lambda s=spec: check_http(s, thresholds, policy),
                    spec.timeout_s + 0.5,
                )
            )
    return planned


# --- the last report, in memory --------------------------------------------------------------

_lock = threading.Lock()
_last: HealthReport | None = None


def last_report() -> HealthReport | None:
    with _lock:
        return _last


def remember(report: HealthReport) -> None:
    global _last
    with _lock:
        if _last is None or report.at >= _last.at:
            _last = report


def forget() -> None:
    """Drop the in-memory report (tests, or after a configuration change)."""
    global _last
    with _lock:
        _last = None


def store_report(report: HealthReport, engine: Engine) -> None:
    rows = [
        {
            "check_name": c.name[:128],
            "status": c.status,
            "latency_ms": c.latency_ms,
            "detail": _jsonable(c.detail),
            "error": c.error,
            "at": report.at,
        }
        for c in report.checks
    ]
    rows.append(
        {
            "check_name": OVERALL_CHECK,
            "status": report.status,
            "latency_ms": report.duration_ms,
            "detail": {"checks": len(report.checks)},
            "error": None,
            "at": report.at,
        }
    )
    with engine.begin() as conn:
        conn.execute(insert(HealthResult), rows)


def _settings(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    import flask

    if flask.has_app_context():
        return current_settings()
    # No app to ask: run_health_checks() called as a plain function without settings (a script,
    # a JobRunner built without an app), so read the environment as the CLI does.
    return Settings.from_env()


def _default_engine() -> Engine | None:
    from bi_app.extensions import db

    return db.engine


def run_health_checks(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    store: bool = True,
    cheap_only: bool = False,
    timeout_s: float | None = None,
    keep: bool = True,
) -> HealthReport:
    """Run the checks in parallel and build the report; stores it unless ``store`` is False and
    keeps it in memory unless ``keep`` is False (partial, cheap-only runs should not replace a
    full report)."""
    settings = _settings(settings)
    engine = engine or _default_engine()
    started = time.perf_counter()
    at = utcnow()
    services, services_error = ([], None) if cheap_only else _services(settings, engine)
    results = run_parallel(
        plan_checks(settings, engine, cheap_only=cheap_only, timeout_s=timeout_s, services=services)
    )
    if services_error:
        for r in results:
            if r.name == "database":
                r.detail["services_error"] = services_error
    overall = rules.overall_status({r.name: r.status for r in results})
    report = HealthReport(overall, results, at, _ms(started))
    if store and engine is not None:
        try:
            store_report(report, engine)
            report.stored = True
        except Exception as exc:  # noqa: BLE001 - the in-memory report still serves the page
            report.store_error = (
                f"{type(exc).__name__}: {str(getattr(exc, 'orig', None) or exc).splitlines()[0]}"[
                    :300
                ]
            )
            log.warning("health report not stored: %s", report.store_error)
    if keep:
        remember(report)
    return report


def latest_stored_report(engine: Engine) -> HealthReport | None:
    """The newest complete report from ``health_results`` (written by any process)."""
    with Session(engine) as session:
        newest = session.scalar(
            select(func.max(HealthResult.at)).where(HealthResult.check_name == OVERALL_CHECK)
        )
        if newest is None:
            return None
        rows = session.scalars(
            select(HealthResult).where(HealthResult.at == newest).order_by(HealthResult.check_name)
        ).all()
    overall = next((r for r in rows if r.check_name == OVERALL_CHECK), None)
    checks = [
        CheckResult(r.check_name, r.status, r.latency_ms, dict(r.detail or {}), r.error, r.at)
        for r in rows
        if r.check_name != OVERALL_CHECK
    ]
    return HealthReport(
        overall.status if overall else rules.worst(c.status for c in checks),
        checks,
        newest,
        (overall.latency_ms or 0.0) if overall else 0.0,
        stored=True,
        origin="database",
    )


def fresh_report(max_age_s: float = CHECK_INTERVAL_S) -> HealthReport | None:
    """The report in memory if it is at most ``max_age_s`` old (never past STALE_AFTER_S)."""
    report = last_report()
    if report is not None and report.age_s() <= min(max_age_s, STALE_AFTER_S):
        return report
    return None


def _stored_report_within(engine: Engine, timeout_s: float) -> HealthReport | None:
    """:func:`latest_stored_report` with a deadline; None when the database does not answer."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-stored")
    try:
        return pool.submit(latest_stored_report, engine).result(timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - timed out or database down: run the checks instead
        log.info("stored health report not read (%s)", type(exc).__name__)
        return None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def current_report(
    settings: Settings | None = None, max_age_s: float = 45.0, engine: Engine | None = None
) -> HealthReport:
    """A report for the page at most ``max_age_s`` old (capped at two check intervals): the one
    in memory, else the newest stored one, else the checks run now."""
    max_age_s = min(max_age_s, STALE_AFTER_S)
    mine = fresh_report(max_age_s)
    if mine is not None:
        return mine
    engine = engine or _default_engine()
    if engine is not None:
        stored = _stored_report_within(engine, STORED_READ_TIMEOUT_S)
        if stored is not None and stored.age_s() <= max_age_s:
            remember(stored)
            return stored
    return run_health_checks(settings, engine=engine, store=False)
