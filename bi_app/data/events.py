"""Events and campaigns: the list with ROI, and everything the detail page shows.

Sums and counts happen in SQL; ratios go through :mod:`bi_app.analytics.roi` so every page
agrees on what ROI, attendance rate and cost per attendee mean. "Participants" are the people
who attended an event that has taken place (completed or running) and the registrations of one
that has not; attendance rates exist only for events that have taken place.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import case, func, or_, select

from bi_app.analytics import roi
from bi_app.analytics.event_suggestions import Suggestion, suggestions
from bi_app.data import settings
from bi_app.data._common import engine
from bi_app.data.cache import cached
from bi_app.db.models import (
    COST_CATEGORIES,
    REVENUE_STATUSES,
    Event,
    EventChannelStat,
    EventCost,
    EventRegistration,
    EventRevenue,
    Order,
)

log = logging.getLogger(__name__)

NAMESPACE = "events"
HELD_STATUSES = ("completed", "running")
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
THRESHOLD_DEFAULTS: dict[str, Any] = {
    "events.attendance_min": 0.70,
    "events.industry_avg_roi_pct": 25.0,
    "events.cost_benchmark_shares": {
        "venue": 0.30,
        "catering": 0.20,
        "technology": 0.12,
        "marketing": 0.18,
        "staff": 0.12,
        "materials": 0.05,
        "other": 0.03,
    },
}


def threshold(key: str) -> Any:
    """A business threshold from Admin → Settings, or its default when that is unreadable."""
    try:
        return settings.get(key)
    except Exception:
        log.warning("business setting %s unavailable; using its default", key, exc_info=True)
        return THRESHOLD_DEFAULTS[key]


def _held(status: str) -> bool:
    return status in HELD_STATUSES


def _participants(status: str, registered: int, attended: int) -> int:
    return attended if _held(status) else registered


def _totals_query() -> Any:
    """One row per event: its fields plus cost, revenue, ticket revenue,
    registrations, attendance."""
    costs = (
        select(EventCost.event_id, func.sum(EventCost.amount_cents).label("cost"))
        .group_by(EventCost.event_id)
        .subquery("costs")
    )
    revenues = (
        select(
            EventRevenue.event_id,
            func.sum(EventRevenue.amount_cents).label("revenue"),
            func.sum(
                case((EventRevenue.source == "tickets", EventRevenue.amount_cents), else_=0)
            ).label("tickets"),
        )
        .group_by(EventRevenue.event_id)
        .subquery("revenues")
    )
    regs = (
        select(
            EventRegistration.event_id,
            func.count().label("registered"),
            func.sum(case((EventRegistration.attended, 1), else_=0)).label("attended"),
        )
        .group_by(EventRegistration.event_id)
        .subquery("regs")
    )
    return (
        select(
            Event.id,
            Event.code,
            Event.name,
            Event.kind,
            Event.organizer,
            Event.status,
            Event.starts_at,
            Event.ends_at,
            Event.venue,
            Event.region,
            Event.budget_cents,
            Event.capacity,
            Event.target_participants,
            Event.ticket_price_cents,
            func.coalesce(costs.c.cost, 0),
            func.coalesce(revenues.c.revenue, 0),
            func.coalesce(revenues.c.tickets, 0),
            func.coalesce(regs.c.registered, 0),
            func.coalesce(regs.c.attended, 0),
        )
        .outerjoin(costs, costs.c.event_id == Event.id)
        .outerjoin(revenues, revenues.c.event_id == Event.id)
        .outerjoin(regs, regs.c.event_id == Event.id)
    )


_TOTAL_FIELDS = (
    "event_id",
    "code",
    "name",
    "kind",
    "organizer",
    "status",
    "starts_at",
    "ends_at",
    "venue",
    "region",
    "budget_cents",
    "capacity",
    "target_participants",
    "ticket_price_cents",
    "cost_cents",
    "revenue_cents",
    "ticket_revenue_cents",
    "registered",
    "attended",
)
_INT_FIELDS = (
    "cost_cents",
    "revenue_cents",
    "ticket_revenue_cents",
    "registered",
    "attended",
    "budget_cents",
    "ticket_price_cents",
)


def _row(values: Any) -> dict[str, Any]:
    row = dict(zip(_TOTAL_FIELDS, values))
    for name in _INT_FIELDS:
        row[name] = int(row[name] or 0)
    return row


def _as_float(value: Decimal | None, scale: int = 1) -> float | None:
    return None if value is None else float(value) / scale


LIST_COLUMNS = (
    "event_id",
    "code",
    "name",
    "kind",
    "organizer",
    "status",
    "starts_at",
    "cost_cents",
    "revenue_cents",
    "profit_cents",
    "roi",
    "registered",
    "attended",
    "attendance_rate",
    "cost_per_attendee_cents",
)


@cached(NAMESPACE)
def events_list() -> pd.DataFrame:
    """Every event, newest first: cost, revenue, profit, ROI and attendance rate (fractions,
    NaN for n/a), registrations, attendance and cost per attendee (cents)."""
    with engine().connect() as conn:
        rows = conn.execute(_totals_query().order_by(Event.starts_at.desc(), Event.id)).all()
    return _list_frame(rows)


def _list_frame(rows: list[Any]) -> pd.DataFrame:
    """:func:`events_list`'s columns for rows of :func:`_totals_query`."""
    out = []
    for r in map(_row, rows):
        held = _held(r["status"])
        out.append(
            {
                "event_id": r["event_id"],
                "code": r["code"],
                "name": r["name"],
                "kind": r["kind"],
                "organizer": r["organizer"],
                "status": r["status"],
                "starts_at": r["starts_at"],
                "cost_cents": r["cost_cents"],
                "revenue_cents": r["revenue_cents"],
                "profit_cents": roi.net_profit_cents(r["revenue_cents"], r["cost_cents"]),
                "roi": _as_float(roi.roi_pct(r["revenue_cents"], r["cost_cents"]), 100),
                "registered": r["registered"],
                "attended": r["attended"],
                "attendance_rate": _as_float(roi.rate_pct(r["attended"], r["registered"]), 100)
                if held
                else None,
                "cost_per_attendee_cents": _as_float(
                    roi.cost_per_attendee_cents(r["cost_cents"], r["attended"])
                ),
            }
        )
    df = pd.DataFrame(out, columns=list(LIST_COLUMNS))
    for name in ("roi", "attendance_rate", "cost_per_attendee_cents"):
        df[name] = pd.array(df[name].tolist(), dtype="Float64")
    for name in (
        "event_id",
        "cost_cents",
        "revenue_cents",
        "profit_cents",
        "registered",
        "attended",
    ):
        df[name] = df[name].astype("int64")
    return df


def _event_totals(event_id: int) -> dict[str, Any] | None:
    with engine().connect() as conn:
        found = conn.execute(_totals_query().where(Event.id == event_id)).first()
    return None if found is None else _row(found)


@dataclass(frozen=True)
class EventSummary:
    event_id: int
    code: str
    name: str
    kind: str
    organizer: str
    status: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    venue: str | None
    budget_cents: int
    target_participants: int | None
    ticket_price_cents: int
    registered: int
    attended: int
    participants: int
    participants_basis: str  # "attended" or "registered"
    goal_pct: Decimal | None
    attendance_rate_pct: Decimal | None
    ticket_revenue_cents: int
    figures: roi.RoiFigures
    industry_avg_roi_pct: float
    sales_cents: int
    previous_sales_cents: int
    sales_growth_pct: Decimal | None


@cached(NAMESPACE)
def event_summary(event_id: int) -> EventSummary | None:
    """The summary cards of one event; None when there is no such event."""
    r = _event_totals(event_id)
    if r is None:
        return None
    held = _held(r["status"])
    participants = _participants(r["status"], r["registered"], r["attended"])
    sales, previous = _sales_around(r["starts_at"], r["ends_at"])
    target = r["target_participants"]
    return EventSummary(
        event_id=r["event_id"],
        code=r["code"],
        name=r["name"],
        kind=r["kind"],
        organizer=r["organizer"],
        status=r["status"],
        starts_at=r["starts_at"],
        ends_at=r["ends_at"],
        venue=r["venue"],
        budget_cents=r["budget_cents"],
        target_participants=target,
        ticket_price_cents=r["ticket_price_cents"],
        registered=r["registered"],
        attended=r["attended"],
        participants=participants,
        participants_basis="attended" if held else "registered",
        goal_pct=roi.rate_pct(participants, target or 0),
        attendance_rate_pct=roi.rate_pct(r["attended"], r["registered"]) if held else None,
        ticket_revenue_cents=r["ticket_revenue_cents"],
        figures=roi.roi_figures(
            r["cost_cents"],
            r["revenue_cents"],
            r["attended"],
            r["ticket_price_cents"],
            r["ticket_revenue_cents"],
        ),
        industry_avg_roi_pct=float(threshold("events.industry_avg_roi_pct")),
        sales_cents=sales,
        previous_sales_cents=previous,
        sales_growth_pct=roi.change_pct(sales, previous),
    )


def _sales_around(starts: dt.datetime, ends: dt.datetime) -> tuple[int, int]:
    """Order revenue during the event, and during the equal window right before it."""
    before = starts - (ends - starts)
    window = case((Order.ordered_at >= starts, Order.total_cents), else_=0)
    earlier = case((Order.ordered_at < starts, Order.total_cents), else_=0)
    query = select(func.coalesce(func.sum(window), 0), func.coalesce(func.sum(earlier), 0)).where(
        Order.ordered_at >= before, Order.ordered_at < ends, Order.status.in_(REVENUE_STATUSES)
    )
    with engine().connect() as conn:
        current, previous = conn.execute(query).one()
    return int(current), int(previous)


@cached(NAMESPACE)
def what_if_base(event_id: int) -> roi.WhatIfBase | None:
    r = _event_totals(event_id)
    if r is None:
        return None
    return roi.WhatIfBase(
        cost_cents=r["cost_cents"],
        ticket_revenue_cents=r["ticket_revenue_cents"],
        other_revenue_cents=r["revenue_cents"] - r["ticket_revenue_cents"],
        attendees=r["attended"],
        ticket_price_cents=r["ticket_price_cents"],
    )


@cached(NAMESPACE)
def costs_by_category(event_id: int) -> pd.DataFrame:
    """Columns ``category``, ``cost_cents``, ``share`` (fraction): categories with costs, in the
    canonical category order."""
    query = (
        select(EventCost.category, func.sum(EventCost.amount_cents))
        .where(EventCost.event_id == event_id)
        .group_by(EventCost.category)
    )
    with engine().connect() as conn:
        found = {c: int(v) for c, v in conn.execute(query)}
    total = sum(found.values())
    order = [c for c in COST_CATEGORIES if c in found] + sorted(set(found) - set(COST_CATEGORIES))
    return pd.DataFrame(
        {
            "category": order,
            "cost_cents": pd.array([found[c] for c in order], dtype="int64"),
            "share": pd.array([found[c] / total if total else 0.0 for c in order], dtype="float64"),
        }
    )


@cached(NAMESPACE)
def table_channel_stats(event_id: int) -> dict[str, tuple[int, int, int]]:
    """``{channel: (views, clicks, conversions)}`` from
    ``event_channel_stats`` (the demo source)."""
    t = EventChannelStat
    query = (
        select(t.channel, func.sum(t.views), func.sum(t.clicks), func.sum(t.conversions))
        .where(t.event_id == event_id)
        .group_by(t.channel)
    )
    with engine().connect() as conn:
        return {c: (int(v), int(k), int(n)) for c, v, k, n in conn.execute(query)}


def _hour_bucket(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


@cached(NAMESPACE, keep_case=("timezone",))
def checkins_by_hour(event_id: int, timezone: str = "UTC") -> pd.DataFrame:
    """Columns ``hour`` (local start of the hour in ``timezone``), ``checkins``: hours with
    check-ins, in order."""
    bucket = _hour_bucket(EventRegistration.checked_in_at, engine().dialect.name).label("hour")
    query = (
        select(bucket, func.count())
        .where(EventRegistration.event_id == event_id, EventRegistration.checked_in_at.is_not(None))
        .group_by(bucket)
        .order_by(bucket)
    )
    with engine().connect() as conn:
        rows = conn.execute(query).all()
    zone = ZoneInfo(timezone)
    hours = [
        (h if isinstance(h, dt.datetime) else dt.datetime.fromisoformat(str(h)))
        .replace(tzinfo=dt.UTC)
        .astimezone(zone)
        .replace(tzinfo=None)
        for h, _ in rows
    ]
    return pd.DataFrame(
        {
            "hour": pd.Series(hours, dtype="datetime64[us]"),
            "checkins": pd.array([int(n) for _, n in rows], dtype="int64"),
        }
    )


@cached(NAMESPACE)
def participant_profile(event_id: int) -> pd.DataFrame:
    """Columns ``dimension`` (age_band, gender, region, returning), ``value``, ``participants``:
    the registered participants by each profile field ("unknown" where it is missing)."""
    r = EventRegistration
    returning = case((r.is_returning, "returning"), else_="new")
    frames = []
    with engine().connect() as conn:
        for dimension, column in (
            ("age_band", r.age_band),
            ("gender", r.gender),
            ("region", r.region),
            ("returning", returning),
        ):
            value = func.coalesce(column, "unknown").label("value")
            rows = conn.execute(
                select(value, func.count()).where(r.event_id == event_id).group_by(value)
            ).all()
            if dimension == "age_band":
                rank = {band: i for i, band in enumerate(AGE_BANDS)}
                rows.sort(key=lambda x: (rank.get(x[0], len(rank)), x[0]))
            else:
                rows.sort(key=lambda x: (-int(x[1]), x[0]))
            frames.extend(
                {"dimension": dimension, "value": v, "participants": int(n)} for v, n in rows
            )
    df = pd.DataFrame(frames, columns=["dimension", "value", "participants"])
    df["participants"] = df["participants"].astype("int64")
    return df


def _previous_query(event_id: int, *columns: Any) -> Any:
    """``columns`` of the same organizer's latest earlier event that was not cancelled."""
    current = select(Event.organizer, Event.starts_at).where(Event.id == event_id).subquery()
    return (
        select(*columns)
        .join(current, Event.organizer == current.c.organizer)
        .where(Event.starts_at < current.c.starts_at, Event.status != "cancelled")
        .order_by(Event.starts_at.desc(), Event.id.desc())
        .limit(1)
    )


@cached(NAMESPACE)
def previous_event_id(event_id: int) -> int | None:
    """The same organizer's latest earlier event that was not cancelled."""
    with engine().connect() as conn:
        return conn.execute(_previous_query(event_id, Event.id)).scalar()


@cached(NAMESPACE)
def previous_event(event_id: int) -> tuple[int, str, str] | None:
    """``(id, code, name)`` of the event :func:`previous_event_id` finds, in one query."""
    with engine().connect() as conn:
        found = conn.execute(_previous_query(event_id, Event.id, Event.code, Event.name)).first()
    return None if found is None else (int(found[0]), found[1], found[2])


@cached(NAMESPACE)
def organizer_comparison(event_id: int, limit: int = 5) -> pd.DataFrame:
    """This event and up to ``limit`` earlier, not cancelled events of the same organizer
    (oldest first), with ROI, attendance rate and cost per attendee like :func:`events_list`."""
    this = (
        select(Event.organizer, Event.starts_at).where(Event.id == event_id).subquery("this_event")
    )
    earlier = (
        select(Event.id)
        .join(this, Event.organizer == this.c.organizer)
        .where(Event.starts_at < this.c.starts_at, Event.status != "cancelled")
        .order_by(Event.starts_at.desc(), Event.id)
        .limit(int(limit))
    )
    query = (
        _totals_query()
        .where(or_(Event.id == event_id, Event.id.in_(earlier)))
        .order_by(Event.starts_at, Event.id)
    )
    with engine().connect() as conn:
        rows = conn.execute(query).all()
    return _list_frame(rows)


@cached(NAMESPACE)
def event_ref(event_id: int) -> tuple[int, str] | None:
    """``(id, code)`` of an event, for the channel sources; None when there is none."""
    with engine().connect() as conn:
        code = conn.execute(select(Event.code).where(Event.id == event_id)).scalar()
    return None if code is None else (event_id, code)


@dataclass(frozen=True)
class EventAdvice:
    costs: pd.DataFrame  # as costs_by_category
    benchmarks: dict[str, float]
    suggestions: list[Suggestion]


@cached(NAMESPACE)
def event_advice(event_id: int) -> EventAdvice | None:
    """Cost shares with their benchmarks and the optimization suggestions; attendance is judged
    only for events that have taken place."""
    r = _event_totals(event_id)
    if r is None:
        return None
    costs = costs_by_category(event_id)
    benchmarks = dict(threshold("events.cost_benchmark_shares"))
    held = _held(r["status"])
    found = suggestions(
        r["attended"] if held else 0,
        r["registered"] if held else 0,
        dict(zip(costs["category"], costs["cost_cents"].tolist())),
        attendance_min=float(threshold("events.attendance_min")),
        benchmark_shares=benchmarks,
    )
    return EventAdvice(costs, benchmarks, found)


@cached(NAMESPACE)
def forecast_inputs(event_id: int) -> dict[str, Any] | None:
    """What the attendance forecast reads of one event: its configuration, its first
    registration and first channel-statistics day (advance notice) and how many marketing
    channels promote it; None when there is no such event."""
    with engine().connect() as conn:
        row = conn.execute(
            select(
                Event.status,
                Event.kind,
                Event.organizer,
                Event.starts_at,
                Event.ends_at,
                Event.venue,
                Event.region,
                Event.capacity,
                Event.ticket_price_cents,
            ).where(Event.id == event_id)
        ).first()
        if row is None:
            return None
        first_registration = conn.scalar(
            select(func.min(EventRegistration.registered_at)).where(
                EventRegistration.event_id == event_id
            )
        )
        channels, first_day = conn.execute(
            select(
                func.count(func.distinct(EventChannelStat.channel)), func.min(EventChannelStat.day)
            ).where(EventChannelStat.event_id == event_id)
        ).one()
    return {
        **row._asdict(),
        "first_registration": first_registration,
        "channels": int(channels or 0),
        "first_channel_day": first_day,
    }


@cached(NAMESPACE)
def organizers() -> list[str]:
    """Every organizer with at least one event, sorted."""
    with engine().connect() as conn:
        return sorted(conn.scalars(select(Event.organizer).distinct()).all())
