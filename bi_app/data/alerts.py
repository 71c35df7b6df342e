"""Reading the alert center's tables for the /ops/alerts page and the header badge.

Alert lists, an alert's detail and the history are live data: nothing here goes through the
shared data cache. Only :func:`open_critical_count` (the badge every page polls) keeps its answer
for :data:`BADGE_TTL_S` seconds in this process; :func:`forget_badge_count` drops it after an
action so the person who acted sees the change at once. Every query is bounded (a row cap or a
time range). Days are business-local days (``BI_TIMEZONE``, :mod:`bi_app.db.periods`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select

from bi_app.data._common import as_date
from bi_app.db.alert_models import OPEN_STATES, SEVERITIES, Alert, AlertEvent, AlertRule
from bi_app.db.periods import business_timezone, day_of
from bi_app.errors import ServiceUnavailable, unavailable_on_database_error
from bi_app.i18n import N_

WHAT = N_("Alerts")
BADGE_SEVERITIES = ("critical", "emergency")
BADGE_TTL_S = 5.0
DEFAULT_LIMIT = 500
RECENT_RESOLVED = 20
MAX_EVENTS = 200
ALERT_COLUMNS = (
    "id",
    "fingerprint",
    "rule_id",
    "source",
    "name",
    "severity",
    "labels",
    "annotations",
    "state",
    "value",
    "started_at",
    "fired_at",
    "acknowledged_at",
    "acknowledged_by",
    "resolved_at",
    "resolved_by",
    "escalated_at",
    "silence_id",
    "last_seen_at",
)
RULE_COLUMNS = (
    "id",
    "name",
    "description",
    "kind",
    "metric",
    "params",
    "severity",
    "labels",
    "for_seconds",
    "cooldown_seconds",
    "recommended_action",
    "enabled",
    "status",
    "last_error",
    "last_value",
    "evaluated_at",
)
_A = Alert.__table__
_R = AlertRule.__table__
_E = AlertEvent.__table__
_badge_lock = threading.Lock()
_badge_cache: dict[str, tuple[float, int | None]] = {}  # None: the count failed


def _engine(engine: Engine | None) -> Engine:
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def _severity_rank() -> Any:
    return case({name: rank for rank, name in enumerate(SEVERITIES)}, value=_A.c.severity, else_=-1)


def _alert_dict(row: Any) -> dict[str, Any]:
    item = {name: row._mapping[name] for name in ALERT_COLUMNS}
    item["labels"] = dict(item["labels"] or {})
    item["annotations"] = dict(item["annotations"] or {})
    item["rule_name"] = row._mapping.get("rule_name")
    item["silenced"] = item["silence_id"] is not None
    return item


def _normalized(values: Iterable[str] | None, allowed: Iterable[str]) -> tuple[str, ...] | None:
    if values is None:
        return None
    known = tuple(allowed)
    return tuple(v for v in values if v in known)


@unavailable_on_database_error(WHAT)
def list_alerts(
    severities: Iterable[str] | None = None,
    states: Iterable[str] | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = DEFAULT_LIMIT,
    *,
    engine: Engine | None = None,
) -> list[dict[str, Any]]:
    """Alerts of the given severities and states (None: any) that were active between ``start``
    and ``end`` (naive UTC; an alert still open is active now), most severe first, then newest.
    Each row carries ``rule_name`` and ``silenced``."""
    wanted_severities = _normalized(severities, SEVERITIES)
    wanted_states = _normalized(states, (*OPEN_STATES, "resolved", "ignored"))
    where = []
    if wanted_severities is not None:
        where.append(_A.c.severity.in_(wanted_severities))
    if wanted_states is not None:
        where.append(_A.c.state.in_(wanted_states))
    if end is not None:
        where.append(_A.c.started_at <= end)
    if start is not None:
        where.append(or_(_A.c.resolved_at.is_(None), _A.c.resolved_at >= start))
    query = (
        select(*(_A.c[name] for name in ALERT_COLUMNS), _R.c.name.label("rule_name"))
        .select_from(_A.outerjoin(_R, _R.c.id == _A.c.rule_id))
        .where(*where)
        .order_by(_severity_rank().desc(), _A.c.started_at.desc(), _A.c.id.desc())
        .limit(max(1, min(int(limit), 5_000)))
    )
    with _engine(engine).connect() as conn:
        return [_alert_dict(row) for row in conn.execute(query)]


@unavailable_on_database_error(WHAT)
def alert_detail(alert_id: int, *, engine: Engine | None = None) -> dict[str, Any] | None:
    """One alert with its ``events`` (oldest first) and its ``rule`` (None for an alert from
    Alertmanager or the system, or when the rule was deleted); None when there is no such alert."""
    query = (
        select(*(_A.c[name] for name in ALERT_COLUMNS), _R.c.name.label("rule_name"))
        .select_from(_A.outerjoin(_R, _R.c.id == _A.c.rule_id))
        .where(_A.c.id == int(alert_id))
    )
    with _engine(engine).connect() as conn:
        row = conn.execute(query).first()
        if row is None:
            return None
        alert = _alert_dict(row)
        events = conn.execute(
            select(_E.c.id, _E.c.at, _E.c.kind, _E.c.actor, _E.c.comment, _E.c.detail)
            .where(_E.c.alert_id == alert["id"])
            .order_by(_E.c.at, _E.c.id)
            .limit(MAX_EVENTS)
        )
        alert["events"] = [dict(event._mapping) for event in events]
        _with_response_outcomes(conn, alert["events"])
        rule = None
        if alert["rule_id"] is not None:
            found = conn.execute(
                select(*(_R.c[name] for name in RULE_COLUMNS)).where(_R.c.id == alert["rule_id"])
            ).first()
            rule = dict(found._mapping) if found is not None else None
        alert["rule"] = rule
    return alert


def _with_response_outcomes(conn: Any, events: list[dict[str, Any]]) -> None:
    """An automatic response's event records the job run it started; its outcome is that run's
    (status, error, finished_at), read now."""
    from bi_app.db.job_models import JobRun

    run_ids = [
        e["detail"]["run_id"]
        for e in events
        if e["kind"] == "response"
        and isinstance(e.get("detail"), dict)
        and e["detail"].get("run_id")
    ]
    if not run_ids:
        return
    runs = {
        row.id: row
        for row in conn.execute(
            select(JobRun.id, JobRun.status, JobRun.error, JobRun.finished_at).where(
                JobRun.id.in_(run_ids)
            )
        )
    }
    for event in events:
        detail = event.get("detail")
        if event["kind"] != "response" or not isinstance(detail, dict):
            continue
        run = runs.get(detail.get("run_id"))
        if run is not None:
            event["detail"] = {
                **detail,
                "status": run.status,
                "error": run.error,
                "finished_at": run.finished_at,
            }


def _mean_seconds(pairs: Iterable[tuple[dt.datetime | None, dt.datetime | None]]) -> float | None:
    spans = [(later - earlier).total_seconds() for earlier, later in pairs if earlier and later]
    return sum(spans) / len(spans) if spans else None


@unavailable_on_database_error(WHAT)
def history(
    start: dt.datetime, end: dt.datetime, *, engine: Engine | None = None, tz: str | None = None
) -> dict[str, Any]:
    """What fired between ``start`` and ``end`` (naive UTC): ``per_rule_day`` [(local day, rule
    name, count)], ``by_severity`` {severity: count}, ``fired`` (total), ``mtta_seconds`` and
    ``mttr_seconds`` (means over the alerts fired in the range that were acknowledged / resolved;
    None when there are none) and ``recent_resolved`` (the newest resolved alerts of the range)."""
    tz = tz or business_timezone()
    fired = and_(_A.c.fired_at.is_not(None), _A.c.fired_at >= start, _A.c.fired_at <= end)
    rule_name = func.coalesce(_R.c.name, _A.c.name)
    day = day_of(_A.c.fired_at, tz)
    per_day = (
        select(day.label("day"), rule_name.label("rule"), func.count().label("n"))
        .select_from(_A.outerjoin(_R, _R.c.id == _A.c.rule_id))
        .where(fired)
        .group_by(day, rule_name)
        .order_by(day, rule_name)
    )
    by_severity = select(_A.c.severity, func.count()).where(fired).group_by(_A.c.severity)
    times = select(_A.c.fired_at, _A.c.acknowledged_at, _A.c.resolved_at, _A.c.state).where(fired)
    with _engine(engine).connect() as conn:
        per_rule_day = [
            (as_date(row.day, "day"), str(row.rule), int(row.n)) for row in conn.execute(per_day)
        ]
        severities = {str(name): int(n) for name, n in conn.execute(by_severity)}
        spans = list(conn.execute(times))
    resolved = list_alerts(
        states=("resolved",), start=start, end=end, limit=RECENT_RESOLVED * 5, engine=engine
    )
    resolved.sort(key=lambda a: a["resolved_at"] or dt.datetime.min, reverse=True)
    return {
        "per_rule_day": per_rule_day,
        "by_severity": severities,
        "fired": sum(severities.values()),
        "mtta_seconds": _mean_seconds((r.fired_at, r.acknowledged_at) for r in spans),
        "mttr_seconds": _mean_seconds(
            (r.fired_at, r.resolved_at) for r in spans if r.state == "resolved"
        ),
        "recent_resolved": resolved[:RECENT_RESOLVED],
    }


@unavailable_on_database_error(WHAT)
def _count_open_critical(engine: Engine) -> int:
    query = (
        select(func.count())
        .select_from(_A)
        .where(
            _A.c.state.in_(OPEN_STATES),
            _A.c.severity.in_(BADGE_SEVERITIES),
            _A.c.silence_id.is_(None),
        )
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def open_critical_count(*, engine: Engine | None = None, now: float | None = None) -> int:
    """Open (pending, firing, acknowledged), not silenced, critical and emergency alerts: the
    header badge. One indexed COUNT, kept :data:`BADGE_TTL_S` seconds in this process (a
    failure too: while the database is down, each process asks at most every few seconds)."""
    engine = _engine(engine)
    key = str(id(engine))
    moment = time.monotonic() if now is None else now
    with _badge_lock:
        hit = _badge_cache.get(key)
    if hit is not None and moment - hit[0] < BADGE_TTL_S:
        if hit[1] is None:  # the database was down a moment ago: do not knock again yet
            raise ServiceUnavailable(WHAT)
        return hit[1]
    try:
        count = _count_open_critical(engine)
    except ServiceUnavailable:
        with _badge_lock:
            _badge_cache[key] = (moment, None)
        raise
    with _badge_lock:
        _badge_cache[key] = (moment, count)
    return count


def forget_badge_count() -> None:
    """Drop the kept badge count (after an acknowledge, resolve or ignore in this process)."""
    with _badge_lock:
        _badge_cache.clear()


@unavailable_on_database_error(WHAT)
def rules_in_error(*, engine: Engine | None = None) -> list[dict[str, Any]]:
    """Rules whose last evaluation could not read their data, with ``last_error``."""
    query = (
        select(_R.c.id, _R.c.name, _R.c.last_error, _R.c.evaluated_at, _R.c.enabled)
        .where(_R.c.status == "error")
        .order_by(_R.c.name)
    )
    with _engine(engine).connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def metric_series(
    kind: str, metric: str, params: Any, start: dt.datetime, end: dt.datetime
) -> list[Any]:
    """What a rule reads over ``[start, end)`` (:func:`bi_app.alerts.sources.read_series`) on
    the app's database, for an alert's chart; raises its ``SourceError`` (a readable message)."""
    from bi_app.alerts.sources import read_series

    return read_series(kind, metric, params, _engine(None), start, end)
