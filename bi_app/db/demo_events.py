"""Marketing events and campaigns: budgets, cost and revenue lines, registrations with
attendance and profiles, and per-channel daily promotion statistics.

Channel conversions are the registrations that came through that channel on that day, so
the funnel, the attendance and the ROI pages all tell the same story.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from bi_app.db.demo_calendar import Calendar
from bi_app.db.demo_catalog import GENDER_SHARES, GENDERS, REGION_SHARES, REGIONS, Customers
from bi_app.db.models import COST_CATEGORIES

EVENTS_STREAM = 202
CHANNELS = ("email", "social", "search", "display", "partner")
CHANNEL_CTR = np.array([0.045, 0.012, 0.035, 0.004, 0.02])
CHANNEL_CVR = np.array([0.09, 0.03, 0.05, 0.015, 0.07])
AGE_BANDS = ("18-24", "25-34", "35-44", "45-54", "55-64", "65+")
AGE_EDGES = np.array([25, 35, 45, 55, 65])


@dataclass(frozen=True)
class Kind:
    name: str
    days: tuple[int, int]  # duration range in days (0: a few hours)
    capacity: tuple[int, int] | None
    ticket_eur: tuple[int, int]
    budget_eur: tuple[int, int]
    attendance: tuple[float, float]  # beta(a, b) of the attendance rate
    promotion_days: int
    start_hour: int
    online: bool


KINDS = {
    "conference": Kind(
        "conference", (1, 2), (250, 900), (99, 399), (40_000, 140_000), (8, 2.4), 50, 8, False
    ),
    "trade_show": Kind(
        "trade_show", (2, 3), (400, 1500), (0, 49), (60_000, 220_000), (7, 2.5), 45, 8, False
    ),
    "workshop": Kind(
        "workshop", (0, 1), (20, 60), (149, 499), (3_000, 12_000), (14, 1.5), 30, 9, False
    ),
    "product_launch": Kind(
        "product_launch", (0, 0), (120, 400), (0, 0), (20_000, 60_000), (6, 2.5), 30, 17, False
    ),
    "webinar": Kind("webinar", (0, 0), (300, 1500), (0, 0), (2_000, 8_000), (4.5, 5), 21, 15, True),
    "campaign": Kind("campaign", (14, 35), None, (0, 0), (10_000, 80_000), (1, 1), 7, 6, True),
}
KIND_SHARES = {
    "conference": 0.24,
    "trade_show": 0.1,
    "workshop": 0.2,
    "product_launch": 0.1,
    "webinar": 0.2,
    "campaign": 0.16,
}
VENUES = {
    "DACH": "Berlin — Station Convention Hall",
    "France": "Paris — Palais des Congrès",
    "Benelux": "Amsterdam — RAI Forum",
    "Iberia": "Madrid — IFEMA Pavilion 4",
    "Italy": "Milan — MiCo Centre",
    "Nordics": "Stockholm — Waterfront Congress",
    "UK & Ireland": "London — ExCeL Suite",
    "CEE": "Warsaw — EXPO XXI",
}
ORGANIZERS = (
    "Marketing team",
    "Sales EMEA",
    "Product team",
    "Community team",
    "Partner: Nordic Retail Group",
    "Partner: Lumen Media",
)
TOPICS = (
    "Spring Collection",
    "Smart Home",
    "Outdoor Season",
    "Holiday Gifting",
    "Retail Summit",
    "Customer Day",
    "Sustainability Forum",
    "Partner Summit",
    "Loyalty Programme",
    "Back to School",
    "Kitchen Masterclass",
    "Fitness Week",
    "Creator Meetup",
    "Black Week",
)
COST_LINES = {
    "venue": ("Hall rental", "Venue deposit", "Room set-up"),
    "catering": ("Coffee breaks", "Lunch buffet", "Evening reception"),
    "technology": ("AV equipment", "Streaming platform", "Registration app licence"),
    "marketing": ("Paid social ads", "Search ads", "Printed flyers", "Email platform"),
    "staff": ("Event staff", "Speaker fees", "Travel and hotels"),
    "materials": ("Badges and lanyards", "Signage", "Giveaways"),
    "other": ("Insurance", "Permits", "Contingency"),
}
COST_SHARES = {
    False: (0.3, 0.2, 0.12, 0.15, 0.13, 0.06, 0.04),
    True: (0.0, 0.0, 0.22, 0.5, 0.18, 0.05, 0.05),
}
SPONSORS = (
    "Helio Payments",
    "Northwind Logistics",
    "Brightline Bank",
    "Orbit Cloud",
    "Greenleaf Packaging",
    "Vertex Analytics",
)


def _english_name(topic: str, kind: str, city: str | None, year: int) -> str:
    place = f" {city}" if city else ""
    return f"{topic} {kind.replace('_', ' ').title()}{place} {year}"


@dataclass(frozen=True)
class EventsProfile:
    """A market's event marketing: its promotion channels, places, people and wording.

    ``money_unit`` is the minor units of one price point of :data:`KINDS` (100 cents a euro);
    tickets, budgets, sponsorships and merchandise scale with it.
    """

    channels: tuple[str, ...]  # five promotion channels
    channel_ctr: np.ndarray
    channel_cvr: np.ndarray
    direct: str  # registrations that came through no channel
    regions: tuple[str, ...]
    region_shares: np.ndarray
    venues: Mapping[str, str]  # region -> "City — Venue"
    online_venue: str
    organizers: tuple[str, ...]
    topics: tuple[str, ...]
    cost_lines: Mapping[str, tuple[str, ...]]
    sponsors: tuple[str, ...]
    sponsor_levels: tuple[str, str, str]  # gold, silver, bronze
    money_unit: int
    event_name: Callable[[str, str, str | None, int], str]  # (topic, kind, city, year)
    tickets_text: Callable[[int, int], str]  # (sold, early-bird)
    sponsor_text: Callable[[str, str], str]  # (level, sponsor)
    sales_text: str
    merchandise_text: str


ENGLISH_EVENTS = EventsProfile(
    channels=CHANNELS,
    channel_ctr=CHANNEL_CTR,
    channel_cvr=CHANNEL_CVR,
    direct="direct",
    regions=REGIONS,
    region_shares=REGION_SHARES,
    venues=VENUES,
    online_venue="Online",
    organizers=ORGANIZERS,
    topics=TOPICS,
    cost_lines=COST_LINES,
    sponsors=SPONSORS,
    sponsor_levels=("Gold", "Silver", "Bronze"),
    money_unit=100,
    event_name=_english_name,
    tickets_text=lambda sold, early: f"{sold} tickets ({early} early-bird at -20%)",
    sponsor_text=lambda level, sponsor: f"{level} sponsor: {sponsor}",
    sales_text="Attributed orders within 14 days",
    merchandise_text="Merchandise",
)


def event_count(scale: float) -> int:
    """About 30 events at scale 1, never fewer than 8 (small test data) or more than 60."""
    return int(np.clip(round(30 * np.sqrt(scale)), 8, 60))


def make_events(
    scale: float,
    calendar: Calendar,
    customers: Customers,
    customer_rows: dict,
    seed: int,
    today: dt.date,
    profile: EventsProfile = ENGLISH_EVENTS,
) -> dict[str, dict]:
    """All event tables as column dicts keyed by table name."""
    rng = np.random.default_rng([seed, EVENTS_STREAM])
    count = event_count(scale)
    kinds = list(rng.choice(list(KIND_SHARES), count, p=list(KIND_SHARES.values())))
    kinds[:4] = ["conference", "webinar", "workshop", "campaign"]  # every kind of cost appears
    span_days = (today - calendar.start).days
    offsets = np.sort(rng.integers(25, span_days + 60, count))
    offsets[-1] = max(offsets[-1], span_days + 20)  # at least one planned event
    order = rng.permutation(count)
    kinds = [kinds[i] for i in order]
    if kinds[-2] != "campaign":  # a campaign running right now
        kinds[kinds.index("campaign")], kinds[-2] = kinds[-2], "campaign"
        offsets[-2] = span_days - 10
    chronological = np.argsort(offsets, kind="stable")
    kinds, offsets = [kinds[i] for i in chronological], offsets[chronological]

    now = dt.datetime.combine(today, dt.time())
    tables: dict[str, dict[str, list]] = {
        name: {}
        for name in (
            "events",
            "event_costs",
            "event_revenues",
            "event_registrations",
            "event_channel_stats",
        )
    }
    builder = _Builder(rng, calendar, customers, customer_rows, now, tables, profile)
    for index, (kind_name, offset) in enumerate(zip(kinds, offsets.tolist()), start=1):
        builder.event(index, KINDS[kind_name], calendar.start + dt.timedelta(days=offset))
    return {name: cols for name, cols in tables.items()}


class _Builder:
    def __init__(
        self,
        rng: np.random.Generator,
        calendar: Calendar,
        customers: Customers,
        customer_rows: dict,
        now: dt.datetime,
        tables: dict[str, dict[str, list]],
        profile: EventsProfile,
    ):
        self.rng, self.calendar, self.customers, self.now = rng, calendar, customers, now
        self.profile = profile
        self.unit = profile.money_unit
        self.customer_gender = customer_rows["gender"]
        self.customer_region = customer_rows["region"]
        self.customer_birth = customer_rows["birth_year"]
        self.tables = tables
        self.ids = {name: 1 for name in tables}

    def add(self, table: str, **values) -> int:
        cols = self.tables[table]
        row_id = self.ids[table]
        self.ids[table] += 1
        cols.setdefault("id", []).append(row_id)
        for key, value in values.items():
            cols.setdefault(key, []).append(value)
        return row_id

    def add_many(self, table: str, columns: dict[str, list]) -> None:
        n = len(next(iter(columns.values())))
        cols = self.tables[table]
        cols.setdefault("id", []).extend(range(self.ids[table], self.ids[table] + n))
        self.ids[table] += n
        for key, values in columns.items():
            cols.setdefault(key, []).extend(values)

    def event(self, event_id: int, kind: Kind, day: dt.date) -> None:
        rng = self.rng
        starts = dt.datetime.combine(day, dt.time(kind.start_hour))
        if kind.days[1] == 0:
            ends = starts + dt.timedelta(hours=int(rng.integers(2, 5)))
        else:
            ends = starts + dt.timedelta(days=int(rng.integers(*kind.days, endpoint=True)), hours=9)
        p = self.profile
        region = None if kind.online else str(rng.choice(p.regions, p=p.region_shares))
        cancelled = ends < self.now and rng.random() < 0.07
        status = (
            "cancelled"
            if cancelled
            else "planned"
            if starts > self.now
            else "running"
            if ends > self.now
            else "completed"
        )
        capacity = None if kind.capacity is None else int(rng.integers(*kind.capacity) // 10 * 10)
        target = None if capacity is None else int(capacity * rng.uniform(0.7, 0.95))
        ticket = (
            int(rng.integers(kind.ticket_eur[0], kind.ticket_eur[1] + 1)) // 10 * 10 * self.unit
            - self.unit
            if kind.ticket_eur[1]
            else 0
        )
        budget = int(rng.integers(*kind.budget_eur)) // 500 * 500 * self.unit
        topic = str(rng.choice(p.topics))
        city = p.venues[region].split(" — ")[0] if region else None
        self.add(
            "events",
            code=f"EVT-{day.year}-{event_id:03d}",
            name=p.event_name(topic, kind.name, city, day.year),
            kind=kind.name,
            organizer=str(rng.choice(p.organizers)),
            status=status,
            starts_at=starts,
            ends_at=ends,
            venue=p.online_venue if kind.online else p.venues[region],
            region=region,
            budget_cents=budget,
            capacity=capacity,
            target_participants=target,
            ticket_price_cents=max(ticket, 0),
        )
        registrations = self._registrations(event_id, kind, starts, capacity, status)
        self._costs(event_id, kind, budget, status)
        self._revenues(event_id, kind, budget, max(ticket, 0), registrations, status)
        self._channel_stats(event_id, kind, starts, ends, registrations, budget, status)

    def _costs(self, event_id: int, kind: Kind, budget: int, status: str) -> None:
        rng = self.rng
        if status == "planned":
            spent_share = 0.35  # deposits and early marketing only
        elif status == "cancelled":
            spent_share = 0.25
        else:
            spent_share = float(np.clip(rng.normal(0.97, 0.12), 0.7, 1.35))
        shares = np.array(COST_SHARES[kind.online])
        weights = rng.dirichlet(shares * 40 + 1e-3) * (shares > 0)
        weights /= weights.sum()
        for category, weight in zip(COST_CATEGORIES, weights.tolist()):
            if weight <= 0:
                continue
            amount = budget * spent_share * weight
            lines = 1 + int(rng.integers(0, 3)) if amount > 2_000 * self.unit else 1
            split = (rng.dirichlet(np.ones(lines)) * amount).tolist()
            for text, part in zip(rng.permutation(self.profile.cost_lines[category]), split):
                self.add(
                    "event_costs",
                    event_id=event_id,
                    category=category,
                    description=str(text),
                    amount_cents=round(part),
                )

    def _registrations(
        self, event_id: int, kind: Kind, starts: dt.datetime, capacity: int | None, status: str
    ) -> dict[str, np.ndarray]:
        rng = self.rng
        if capacity is None:
            return {
                "day": np.array([], dtype="datetime64[D]"),
                "channel": np.array([], dtype=object),
                "early": np.array([], dtype=bool),
            }
        n = int(min(capacity, capacity * rng.uniform(0.6, 1.02)))
        days_before = kind.promotion_days * rng.beta(1.3, 2.2, n)
        registered = np.datetime64(starts, "s") - (days_before * 86400).astype("timedelta64[s]")
        keep = registered < np.datetime64(self.now, "s")
        registered, days_before = np.sort(registered[keep]), days_before[keep]
        n = len(registered)
        p = self.profile
        mix = rng.dirichlet([6, 5, 4, 2, 2, 3])
        channel = rng.choice(np.array([*p.channels, p.direct], dtype=object), n, p=mix)

        start_index = (starts.date() - self.calendar.start).days
        pool = int(np.searchsorted(self.customers.created_day, start_index - 1))
        linked = (rng.random(n) < 0.55) & (pool > 0)
        customer = np.where(linked, rng.integers(0, max(pool, 1), n), -1)
        gender = rng.choice(GENDERS, n, p=GENDER_SHARES)
        region = rng.choice(np.array(p.regions, dtype=object), n, p=p.region_shares)
        age = np.clip(np.round(rng.gamma(6.0, 5.5, n) + 18), 18, 80)
        cust = customer[linked]
        gender[linked] = self.customer_gender[cust]
        region[linked] = self.customer_region[cust]
        age[linked] = starts.year - self.customer_birth[cust]
        age_band = np.array(AGE_BANDS, dtype=object)[np.searchsorted(AGE_EDGES, age, side="right")]
        returning = rng.random(n) < np.where(linked, 0.45, 0.15)

        happened = status in ("completed", "running") and starts < self.now
        rate = rng.beta(*kind.attendance)
        attended = (rng.random(n) < rate) & happened
        offset_min = np.clip(rng.normal(-8 if not kind.online else 2, 14, n), -60, 95)
        checked_in = np.datetime64(starts, "s") + (offset_min * 60).astype("timedelta64[s]")
        self.add_many(
            "event_registrations",
            {
                "event_id": [event_id] * n,
                "customer_id": [int(c) + 1 if c >= 0 else None for c in customer.tolist()],
                "registered_at": registered.astype("datetime64[us]").tolist(),
                "attended": attended.tolist(),
                "checked_in_at": [
                    t if a else None
                    for t, a in zip(checked_in.astype("datetime64[us]").tolist(), attended.tolist())
                ],
                "channel": channel.tolist(),
                "age_band": age_band.tolist(),
                "gender": gender.tolist(),
                "region": region.tolist(),
                "is_returning": returning.tolist(),
            },
        )
        return {
            "day": registered.astype("datetime64[D]"),
            "channel": channel,
            "early": days_before > 30,
        }

    def _revenues(
        self, event_id: int, kind: Kind, budget: int, ticket: int, registrations: dict, status: str
    ) -> None:
        rng, p = self.rng, self.profile
        if status == "cancelled":
            return
        sold = len(registrations["day"])
        if ticket and sold:
            early = int(registrations["early"].sum())
            self.add(
                "event_revenues",
                event_id=event_id,
                source="tickets",
                description=p.tickets_text(sold, early),
                amount_cents=int(ticket * (sold - early) + ticket * 0.8 * early),
            )
        if status == "planned":
            return
        if kind.name in ("conference", "trade_show"):
            for sponsor in rng.choice(p.sponsors, int(rng.integers(1, 4)), replace=False):
                level = int(rng.integers(0, 3))
                self.add(
                    "event_revenues",
                    event_id=event_id,
                    source="sponsorship",
                    description=p.sponsor_text(p.sponsor_levels[level], str(sponsor)),
                    amount_cents=(25_000, 12_000, 5_000)[level] * self.unit,
                )
        if kind.name in ("product_launch", "trade_show", "campaign", "webinar", "conference"):
            self.add(
                "event_revenues",
                event_id=event_id,
                source="sales",
                description=p.sales_text,
                amount_cents=int(budget * rng.lognormal(-0.1, 0.55)),
            )
        if not kind.online and rng.random() < 0.5:
            self.add(
                "event_revenues",
                event_id=event_id,
                source="other",
                description=p.merchandise_text,
                amount_cents=int(rng.integers(300, 4000)) * self.unit,
            )

    def _channel_stats(
        self,
        event_id: int,
        kind: Kind,
        starts: dt.datetime,
        ends: dt.datetime,
        registrations: dict,
        budget: int,
        status: str,
    ) -> None:
        rng, p = self.rng, self.profile
        first = starts.date() - dt.timedelta(days=kind.promotion_days)
        last = min(
            (ends if kind.name == "campaign" else starts).date(),
            self.now.date() - dt.timedelta(days=1),
        )
        if last < first or status == "cancelled":
            return
        days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
        # daily interested people: one per 20 price points of budget
        reach = rng.dirichlet([5, 5, 3, 2, 2]) * budget / (20 * self.unit)
        for c, channel in enumerate(p.channels):
            if kind.name == "campaign":
                conversions = rng.poisson(reach[c] * p.channel_cvr[c] * 0.2, len(days))
            else:
                mine = registrations["day"][registrations["channel"] == channel]
                conversions = np.searchsorted(np.sort(mine), days, side="right") - np.searchsorted(
                    np.sort(mine), days, side="left"
                )
            interest = np.maximum(conversions / p.channel_cvr[c], reach[c] * 0.02)
            clicks = conversions + rng.poisson(interest * (1 - p.channel_cvr[c]))
            views = clicks + rng.poisson(clicks / p.channel_ctr[c] * (1 - p.channel_ctr[c]) + 5)
            self.add_many(
                "event_channel_stats",
                {
                    "event_id": [event_id] * len(days),
                    "channel": [channel] * len(days),
                    "day": days.tolist(),
                    "views": views.tolist(),
                    "clicks": clicks.tolist(),
                    "conversions": conversions.tolist(),
                },
            )
