"""Capacity of consumable resources: a wallet's transaction energy, an API quota.

A resource (:class:`bi_app.db.capacity_models.CapacityResource`) holds at most ``capacity``
units, regains ``refill_per_hour`` units an hour and loses ``cost_per_transaction`` units for
each outgoing transaction (a debit, ``amount_cents < 0``) booked on the accounts of its tier
(and currency, when set). Operators may also top it up (:func:`top_up`).

**Sampling** (:func:`record_sample`, every 5 minutes through :func:`sample_job`): the new level
is the previous sample's level, plus the refill of the time in between, plus any top-up, minus
the cost of the debits booked after the previous sample up to now, clipped to
``[0, capacity]`` (:func:`next_level`). The debits are counted in SQL through the
``(account_id, occurred_at)`` index, so a sample costs one index range scan whatever the size of
the ledger. A resource's first sample starts full. A debit booked with a time before the latest
sample (back-dated) is not counted.

**Usage rate** (:func:`usage_rates`): what the samples of the last :data:`USAGE_WINDOW` used,
per hour, and the net change per hour (refill minus usage; negative: the level is falling).

**Depletion forecast** (:func:`project`): usage follows the business's day (payments in office
hours, sweeps in the evening), so a straight line through the last hours misleads. The forecast
takes the *hour-of-day profile* of the last :data:`PROFILE_DAYS` days' usage (the mean usage of
each local hour, :func:`hourly_profile`) and projects it forward hour by hour from the latest
sample, adding the refill and clipping at the capacity, until the level reaches zero (the
predicted depletion time, interpolated within its hour) or :data:`HORIZON` has passed (None:
not depleting, which is always the case when the refill outpaces the usage).

**State** (:func:`state_of`): ``emergency`` at or below :data:`EMERGENCY_PCT` percent,
``warning`` at or below :data:`WARNING_PCT`, else ``ok``; :func:`levels_pct` gives the alert
rules their metric (resource name -> current percent).

This module knows nothing of Dash; times are naive UTC, as stored.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, select, update

from bi_app.db.capacity_models import CapacityResource, CapacitySample
from bi_app.db.models import Account, Transaction, utcnow
from bi_app.db.periods import business_timezone

log = logging.getLogger(__name__)

WARNING_PCT = 20.0  # at or below: warning (the default alert rule's threshold)
EMERGENCY_PCT = 10.0  # at or below: emergency
STATES = ("ok", "warning", "emergency")
METRIC = "capacity_level_pct"  # the alert metric: one value per resource (label "resource")
SAMPLE_SECONDS = 300  # the sampling job's period
USAGE_WINDOW = dt.timedelta(hours=24)
PROFILE_DAYS = 7
HORIZON = dt.timedelta(days=30)
CHART_HISTORY = dt.timedelta(days=3)
CHART_PROJECTION = dt.timedelta(days=3)
MAX_HISTORY_POINTS = 600
CACHE_NAMESPACE = "capacity"  # bi_app.data.treasury caches the status under this namespace


class CapacityError(Exception):
    """A capacity request that cannot be served; ``str(exc)`` is safe to show."""


# --- pure computations -----------------------------------------------------------------------


def next_level(
    level: float, capacity: float, used: float, refilled: float, topped_up: float = 0.0
) -> float:
    """The level after ``used`` units were consumed and ``refilled`` + ``topped_up`` regained,
    clipped to ``[0, capacity]``."""
    return min(float(capacity), max(0.0, float(level) + refilled + topped_up - used))


def state_of(percent: float | None) -> str | None:
    """``emergency`` at or below 10 %, ``warning`` at or below 20 %, else ``ok`` (None: no
    level)."""
    if percent is None:
        return None
    if percent <= EMERGENCY_PCT:
        return "emergency"
    if percent <= WARNING_PCT:
        return "warning"
    return "ok"


def usage_rates(
    samples: Sequence[tuple[dt.datetime, float, float]],
) -> tuple[float | None, float | None]:
    """``(usage per hour, net change per hour)`` over consecutive ``(sampled_at, used,
    refilled)`` samples, oldest first: the first sample only marks where the span begins (its
    own usage happened before). None, None with fewer than two samples."""
    if len(samples) < 2:
        return None, None
    hours = (samples[-1][0] - samples[0][0]).total_seconds() / 3600
    if hours <= 0:
        return None, None
    used = sum(s[1] for s in samples[1:])
    refilled = sum(s[2] for s in samples[1:])
    return used / hours, (refilled - used) / hours


def hourly_profile(samples: Sequence[tuple[dt.datetime, float]]) -> list[float]:
    """The expected usage of each local hour of the day (24 values) from ``(local sampled_at,
    used)`` samples: per hour of the day, the usage summed per date, averaged over the dates
    observed in that hour; an hour never observed gets the mean hourly usage of all samples."""
    per_hour: list[dict[dt.date, float]] = [{} for _ in range(24)]
    for moment, used in samples:
        bucket = per_hour[moment.hour]
        bucket[moment.date()] = bucket.get(moment.date(), 0.0) + float(used)
    observed = [(sum(b.values()), len(b)) for b in per_hour if b]
    if not observed:
        return [0.0] * 24
    overall = sum(total for total, _n in observed) / sum(n for _t, n in observed)
    return [sum(b.values()) / len(b) if b else overall for b in per_hour]


@dataclass(frozen=True)
class Projection:
    depletes_at: dt.datetime | None  # naive UTC; None: not within the horizon
    path: list[tuple[dt.datetime, float]]  # (naive UTC, level) for the chart


def project(
    level: float,
    capacity: float,
    start: dt.datetime,
    profile: Sequence[float],
    refill_per_hour: float,
    tz: str = "UTC",
    horizon: dt.timedelta = HORIZON,
    chart: dt.timedelta = CHART_PROJECTION,
) -> Projection:
    """The level projected from ``start`` (naive UTC) hour by hour with the usage of
    ``profile`` (by local hour in ``tz``) and the refill, clipped at ``capacity``: when it first
    reaches zero (linear within its hour), and the path up to then (at most ``chart`` long)."""
    zone = ZoneInfo(tz)
    moment, current = start, float(level)
    path = [(moment, current)]
    end = start + horizon
    if current <= 0:
        return Projection(start, path)
    while moment < end:
        following = min(
            moment.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1), end
        )
        hours = (following - moment).total_seconds() / 3600
        local_hour = moment.replace(tzinfo=dt.UTC).astimezone(zone).hour
        change = (refill_per_hour - float(profile[local_hour])) * hours
        unclipped = current + change
        if unclipped <= 0:
            fraction = current / (current - unclipped)
            depleted = moment + dt.timedelta(seconds=round(hours * fraction * 3600))
            if depleted - start <= chart:
                path.append((depleted, 0.0))
            return Projection(depleted, path)
        current = min(float(capacity), unclipped)
        moment = following
        if moment - start <= chart:
            path.append((moment, current))
    return Projection(None, path)


# --- the database ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CapacityStatus:
    """One resource now: its latest level, rates, forecast and the chart's points.

    ``level``/``percent``/``state`` are None before the first sample. Times are naive UTC."""

    name: str
    label: str
    unit: str
    capacity: float
    refill_per_hour: float
    cost_per_transaction: float
    level: float | None = None
    percent: float | None = None
    state: str | None = None
    sampled_at: dt.datetime | None = None
    usage_per_hour: float | None = None
    net_per_hour: float | None = None
    depletes_at: dt.datetime | None = None
    history: list[tuple[dt.datetime, float]] = field(default_factory=list)
    projection: list[tuple[dt.datetime, float]] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)  # every configured resource's name

    @property
    def falling(self) -> bool:
        return self.depletes_at is not None


def _naive(moment: Any) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        moment = dt.datetime.fromisoformat(str(moment))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


def ensure_resource(
    engine: Engine,
    name: str,
    *,
    label: str,
    unit: str,
    capacity: float,
    refill_per_hour: float,
    cost_per_transaction: float,
    tier: str = "hot",
    currency: str | None = None,
) -> int:
    """Create the resource ``name`` or update its settings; its id."""
    if not name or capacity <= 0 or refill_per_hour < 0 or cost_per_transaction < 0:
        raise CapacityError("A resource needs a name, a positive capacity and no negative rates.")
    values = {
        "label": label,
        "unit": unit,
        "capacity": float(capacity),
        "refill_per_hour": float(refill_per_hour),
        "cost_per_transaction": float(cost_per_transaction),
        "tier": tier,
        "currency": currency.upper() if currency else None,
    }
    t = CapacityResource.__table__
    with engine.begin() as conn:
        found = conn.execute(select(t.c.id).where(t.c.name == name)).scalar()
        if found is not None:
            conn.execute(update(t).where(t.c.id == found).values(**values))
            return int(found)
        return int(
            conn.execute(
                insert(t).values(name=name, created_at=utcnow(), **values).returning(t.c.id)
            ).scalar_one()
        )


def _resource(conn: Any, name: str | None) -> Any:
    t = CapacityResource.__table__
    query = select(t).order_by(t.c.id).limit(1)
    if name is not None:
        query = select(t).where(t.c.name == name)
    return conn.execute(query).first()


def _debits(conn: Any, resource: Any, after: dt.datetime | None, until: dt.datetime) -> int:
    """How many debits the resource's accounts booked in ``(after, until]``."""
    accounts = select(Account.id).where(Account.tier == resource.tier)
    if resource.currency:
        accounts = accounts.where(Account.currency == resource.currency)
    where = [
        Transaction.account_id.in_(accounts),
        Transaction.amount_cents < 0,
        Transaction.occurred_at <= until,
    ]
    if after is not None:
        where.append(Transaction.occurred_at > after)
    return int(conn.execute(select(func.count()).where(*where)).scalar() or 0)


def _latest(conn: Any, resource_id: int, until: dt.datetime | None = None) -> Any:
    s = CapacitySample.__table__
    query = select(s).where(s.c.resource_id == resource_id)
    if until is not None:
        query = query.where(s.c.sampled_at <= until)
    return conn.execute(query.order_by(s.c.sampled_at.desc()).limit(1)).first()


def _record(conn: Any, resource: Any, at: dt.datetime, topped_up: float = 0.0) -> dict | None:
    s = CapacitySample.__table__
    previous = _latest(conn, resource.id, at)
    if previous is not None and _naive(previous.sampled_at) >= at:
        return None  # already sampled at this instant
    if previous is None:
        level, count, used, refilled = float(resource.capacity), 0, 0.0, 0.0
        level = next_level(level, resource.capacity, 0.0, 0.0, topped_up)
    else:
        count = _debits(conn, resource, _naive(previous.sampled_at), at)
        used = count * float(resource.cost_per_transaction)
        hours = (at - _naive(previous.sampled_at)).total_seconds() / 3600
        refilled = hours * float(resource.refill_per_hour)
        level = next_level(previous.level, resource.capacity, used, refilled, topped_up)
    row = {
        "resource_id": resource.id,
        "sampled_at": at,
        "level": level,
        "used": used,
        "refilled": refilled,
        "topped_up": float(topped_up),
        "transactions": count,
    }
    conn.execute(insert(s).values(**row))
    return row


def record_sample(
    engine: Engine, resource: str | None = None, at: dt.datetime | None = None
) -> dict | None:
    """Sample ``resource`` (default: the first configured) at ``at`` (default: now, naive
    UTC): the stored row, or None when there is no such resource or a sample at that instant
    exists already."""
    moment = _naive(at) if at is not None else utcnow()
    with engine.begin() as conn:
        found = _resource(conn, resource)
        if found is None:
            return None
        return _record(conn, found, moment)


def top_up(engine: Engine, resource: str, amount: float, at: dt.datetime | None = None) -> dict:
    """Record a top-up of ``amount`` units (an operator bought energy or raised a quota) as a
    sample at ``at`` (default: now); the level stays clipped at the capacity."""
    if amount <= 0:
        raise CapacityError("A top-up must be a positive amount.")
    moment = _naive(at) if at is not None else utcnow()
    with engine.begin() as conn:
        found = _resource(conn, resource)
        if found is None:
            raise CapacityError("No such resource.")
        row = _record(conn, found, moment, topped_up=amount)
    if row is None:
        raise CapacityError("A sample exists at that instant already; try again.")
    return row


def sample_job(engine: Engine) -> dict:
    """The ``capacity_sample`` job (every 5 minutes): one sample per resource; its summary."""
    moment = utcnow()
    t = CapacityResource.__table__
    levels: dict[str, float] = {}
    with engine.begin() as conn:
        resources = conn.execute(select(t).order_by(t.c.id)).all()
        for resource in resources:
            row = _record(conn, resource, moment)
            if row is not None:
                levels[resource.name] = round(100.0 * row["level"] / resource.capacity, 2)
    _invalidate_cache()
    return {"resources": len(resources), "samples": len(levels), "levels": levels}


def _invalidate_cache() -> None:
    try:
        from bi_app.data.cache import invalidate

        invalidate(CACHE_NAMESPACE)
    except Exception:  # no app context (CLI, tests): the entries expire with their TTL
        log.debug("capacity cache not invalidated", exc_info=True)


def current_levels(
    conn: Any, now: dt.datetime | None = None
) -> list[tuple[str, float, dt.datetime]]:
    """``(resource name, level percent, sampled_at)`` of each resource's latest sample at or
    before ``now`` (default: the latest), on an open connection (the alert source's)."""
    t, s = CapacityResource.__table__, CapacitySample.__table__
    latest = select(s.c.resource_id, func.max(s.c.sampled_at).label("at"))
    if now is not None:
        latest = latest.where(s.c.sampled_at <= now)
    latest = latest.group_by(s.c.resource_id).subquery()
    query = (
        select(t.c.name, t.c.capacity, s.c.level, s.c.sampled_at)
        .join(latest, latest.c.resource_id == t.c.id)
        .join(s, (s.c.resource_id == t.c.id) & (s.c.sampled_at == latest.c.at))
        .order_by(t.c.id)
    )
    return [
        (str(name), 100.0 * float(level) / float(cap), _naive(at))
        for name, cap, level, at in conn.execute(query).all()
    ]


def level_series(
    conn: Any, start: dt.datetime, end: dt.datetime
) -> list[tuple[str, dt.datetime, float]]:
    """``(resource name, sampled_at, level percent)`` of the samples in ``[start, end)``, oldest
    first (an alert's chart; bounded by the window: 288 samples a day per resource)."""
    t, s = CapacityResource.__table__, CapacitySample.__table__
    rows = conn.execute(
        select(t.c.name, s.c.sampled_at, s.c.level, t.c.capacity)
        .join(t, t.c.id == s.c.resource_id)
        .where(s.c.sampled_at >= start, s.c.sampled_at < end)
        .order_by(s.c.sampled_at, t.c.id)
    ).all()
    return [(str(n), _naive(at), 100.0 * float(lv) / float(cap)) for n, at, lv, cap in rows]


def levels_pct(engine: Engine) -> dict[str, float]:
    """Resource name -> its latest level in percent of its capacity (resources not sampled yet
    are left out): the alert rules' :data:`METRIC`."""
    with engine.connect() as conn:
        return {name: pct for name, pct, _at in current_levels(conn)}


def _thin(points: list[tuple[dt.datetime, float]], limit: int) -> list[tuple[dt.datetime, float]]:
    if len(points) <= limit:
        return points
    step = math.ceil(len(points) / limit)
    return points[::step] + ([points[-1]] if (len(points) - 1) % step else [])


def status(
    engine: Engine, resource: str | None = None, tz: str | None = None
) -> CapacityStatus | None:
    """``resource`` (default: the first configured) now, from its samples: None when no
    resource is configured (or none of that name)."""
    tz = tz or business_timezone()
    zone = ZoneInfo(tz)
    s = CapacitySample.__table__
    t = CapacityResource.__table__
    with engine.connect() as conn:
        found = _resource(conn, resource)
        if found is None:
            return None
        names = [str(n) for n in conn.execute(select(t.c.name).order_by(t.c.id)).scalars()]
        base = CapacityStatus(
            name=found.name,
            label=found.label,
            unit=found.unit,
            capacity=float(found.capacity),
            refill_per_hour=float(found.refill_per_hour),
            cost_per_transaction=float(found.cost_per_transaction),
            resources=names,
        )
        last = _latest(conn, found.id)
        if last is None:
            return base
        now = _naive(last.sampled_at)
        since = now - max(dt.timedelta(days=PROFILE_DAYS), USAGE_WINDOW, CHART_HISTORY)
        rows = conn.execute(
            select(s.c.sampled_at, s.c.level, s.c.used, s.c.refilled)
            .where(s.c.resource_id == found.id, s.c.sampled_at >= since)
            .order_by(s.c.sampled_at)
        ).all()
    samples = [
        (_naive(r.sampled_at), float(r.level), float(r.used), float(r.refilled)) for r in rows
    ]
    # from the last sample at or before the window's start, so a gap in the sampling still
    # gives a rate (over the longer span)
    first = max(
        (i for i, (at, *_rest) in enumerate(samples) if at <= now - USAGE_WINDOW), default=0
    )
    recent = [(at, used, refilled) for at, _lv, used, refilled in samples[first:]]
    usage, net = usage_rates(recent)
    profile = hourly_profile(
        [
            (at.replace(tzinfo=dt.UTC).astimezone(zone).replace(tzinfo=None), used)
            for at, _lv, used, _r in samples[1:]
        ]
    )
    level = float(last.level)
    projection = project(level, found.capacity, now, profile, float(found.refill_per_hour), tz)
    history = [(at, lv) for at, lv, _u, _r in samples if at >= now - CHART_HISTORY]
    percent = 100.0 * level / float(found.capacity)
    return CapacityStatus(
        **{
            **base.__dict__,
            "level": level,
            "percent": percent,
            "state": state_of(percent),
            "sampled_at": now,
            "usage_per_hour": usage,
            "net_per_hour": net,
            "depletes_at": projection.depletes_at,
            "history": _thin(history, MAX_HISTORY_POINTS),
            "projection": projection.path,
        }
    )
