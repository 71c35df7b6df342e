"""Events data functions against a small hand-made dataset, on SQLite and PostgreSQL.

Every expected number below was worked out by hand from the rows in this file.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from bi_app.db.models import (
    Customer,
    Event,
    EventChannelStat,
    EventCost,
    EventRegistration,
    EventRevenue,
    Order,
    SalesPlatform,
)

pytestmark = pytest.mark.integration

T = dt.datetime
D = dt.date

# id, code, name, organizer, status, starts, ends, target, ticket cents
EVENTS = [
    (
        1,
        "E1",
        "Spring Conference",
        "Team A",
        "completed",
        T(2024, 3, 10, 9),
        T(2024, 3, 10, 17),
        4,
        5000,
    ),
    (
        2,
        "E2",
        "Summer Workshop",
        "Team A",
        "completed",
        T(2024, 6, 1, 10),
        T(2024, 6, 1, 12),
        5,
        2000,
    ),
    (3, "E3", "Autumn Webinar", "Team B", "planned", T(2024, 9, 1, 15), T(2024, 9, 1, 16), None, 0),
    (
        4,
        "E4",
        "Winter Meetup",
        "Team A",
        "cancelled",
        T(2024, 1, 5, 18),
        T(2024, 1, 5, 20),
        10,
        1000,
    ),
]
COSTS = [
    (1, "venue", 60_000),
    (1, "catering", 20_000),
    (1, "marketing", 15_000),
    (1, "marketing", 5_000),
    (2, "venue", 10_000),
    (4, "other", 500),
]
REVENUES = [(1, "tickets", 15_000), (1, "sponsorship", 110_000)]
# event, attended, checked in (UTC), age band, gender, region, returning
REGISTRATIONS = [
    (1, True, T(2024, 3, 10, 9, 5), "25-34", "female", "DACH", True),
    (1, True, T(2024, 3, 10, 9, 40), "25-34", "male", "DACH", False),
    (1, True, T(2024, 3, 10, 10, 10), "35-44", "female", "DACH", True),
    (1, False, None, None, "female", "DACH", False),
    (1, False, None, None, "male", None, False),
    (2, False, None, "18-24", "male", "France", False),
    (2, False, None, "65+", "female", "France", False),
    (3, False, None, "45-54", "female", "Nordics", False),
]
# status, ordered_at, total: event 1's window is [09:00, 17:00), the one before [01:00, 09:00)
ORDERS = [
    ("paid", T(2024, 3, 10, 10), 1000),
    ("delivered", T(2024, 3, 10, 16, 59, 59), 2000),
    ("cancelled", T(2024, 3, 10, 12), 3000),  # not revenue
    ("paid", T(2024, 3, 10, 17), 900),  # after the event
    ("paid", T(2024, 3, 10, 8, 59), 1500),  # window before
    ("shipped", T(2024, 3, 10, 1), 700),  # window before (inclusive start)
    ("paid", T(2024, 3, 10, 0, 59), 400),  # too early
]
CHANNEL_STATS = [
    (1, "email", D(2024, 3, 1), 100, 10, 2),
    (1, "email", D(2024, 3, 2), 50, 5, 1),
    (1, "social", D(2024, 3, 1), 200, 4, 0),
]


def load_events(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Event),
            [
                {
                    "id": i,
                    "code": c,
                    "name": n,
                    "kind": "conference",
                    "organizer": o,
                    "status": s,
                    "starts_at": st,
                    "ends_at": en,
                    "venue": "Hall",
                    "region": "DACH",
                    "budget_cents": 100_000,
                    "capacity": 10,
                    "target_participants": tg,
                    "ticket_price_cents": tp,
                }
                for i, c, n, o, s, st, en, tg, tp in EVENTS
            ],
        )
        conn.execute(
            insert(EventCost),
            [{"event_id": e, "category": c, "amount_cents": a} for e, c, a in COSTS],
        )
        conn.execute(
            insert(EventRevenue),
            [{"event_id": e, "source": s, "amount_cents": a} for e, s, a in REVENUES],
        )
        conn.execute(
            insert(EventRegistration),
            [
                {
                    "event_id": e,
                    "registered_at": T(2024, 1, 1),
                    "attended": a,
                    "checked_in_at": ci,
                    "age_band": ab,
                    "gender": g,
                    "region": r,
                    "is_returning": ret,
                    "channel": "email",
                }
                for e, a, ci, ab, g, r, ret in REGISTRATIONS
            ],
        )
        conn.execute(insert(SalesPlatform), [{"id": 1, "code": "web", "name": "Web"}])
        conn.execute(
            insert(Customer),
            [{"id": 1, "external_id": "C1", "name": "C", "created_at": T(2023, 1, 1)}],
        )
        conn.execute(
            insert(Order),
            [
                {
                    "id": i,
                    "order_number": f"O{i}",
                    "customer_id": 1,
                    "platform_id": 1,
                    "status": s,
                    "ordered_at": at,
                    "total_cents": tot,
                }
                for i, (s, at, tot) in enumerate(ORDERS, start=1)
            ],
        )
        conn.execute(
            insert(EventChannelStat),
            [
                {"event_id": e, "channel": c, "day": d, "views": v, "clicks": k, "conversions": n}
                for e, c, d, v, k, n in CHANNEL_STATS
            ],
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def events_db(request, tmp_path):
    from bi_app.extensions import db
    from tests.conftest import migrate

    url = (
        f"sqlite:///{tmp_path / 'events.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    db.init(url)
    load_events(db.require_engine())
    yield db.require_engine()
    db.engine.dispose()


def test_events_list(events_db):
    from bi_app.data.events import events_list

    df = events_list()
    assert df["event_id"].tolist() == [3, 2, 1, 4]  # newest first
    e1 = df.set_index("event_id").loc[1]
    assert (e1["cost_cents"], e1["revenue_cents"], e1["profit_cents"]) == (100_000, 125_000, 25_000)
    assert e1["roi"] == pytest.approx(0.25)  # (125 000 − 100 000) / 100 000
    assert (e1["registered"], e1["attended"]) == (5, 3)
    assert e1["attendance_rate"] == pytest.approx(0.60)
    assert e1["cost_per_attendee_cents"] == 33_333  # 100 000 / 3, rounded
    e2 = df.set_index("event_id").loc[2]
    assert e2["roi"] == pytest.approx(-1.0) and e2["attendance_rate"] == 0.0
    assert pd.isna(e2["cost_per_attendee_cents"])  # nobody attended: n/a
    e3 = df.set_index("event_id").loc[3]
    assert (
        e3["cost_cents"] == 0 and pd.isna(e3["roi"]) and pd.isna(e3["attendance_rate"])
    )  # planned, no cost


def test_event_summary(events_db):
    from bi_app.data.events import event_summary

    s = event_summary(1)
    assert (s.participants, s.participants_basis, s.goal_pct) == (3, "attended", Decimal("75.00"))
    assert s.attendance_rate_pct == Decimal("60.00")
    assert s.figures.roi_pct == Decimal("25.00")
    assert s.figures.net_profit_cents == 25_000
    assert s.figures.cost_per_attendee_cents == Decimal(33_333)
    assert s.figures.revenue_per_attendee_cents == Decimal(41_667)  # 125 000 / 3
    assert s.figures.break_even_attendees == 0  # sponsorship alone covers the cost
    # orders during the event: 1000 + 2000; in the 8 hours before: 1500 + 700
    assert (s.sales_cents, s.previous_sales_cents) == (3000, 2200)
    assert s.sales_growth_pct == Decimal("36.36")
    assert s.industry_avg_roi_pct == 25.0

    planned = event_summary(3)
    assert (planned.participants, planned.participants_basis, planned.goal_pct) == (
        1,
        "registered",
        None,
    )
    assert planned.figures.roi_pct is None and planned.attendance_rate_pct is None
    assert event_summary(99) is None


def test_what_if_base(events_db):
    from bi_app.data.events import what_if_base

    base = what_if_base(1)
    assert (
        base.cost_cents,
        base.ticket_revenue_cents,
        base.other_revenue_cents,
        base.attendees,
        base.ticket_price_cents,
    ) == (100_000, 15_000, 110_000, 3, 5000)
    assert what_if_base(404) is None


def test_costs_by_category(events_db):
    from bi_app.data.events import costs_by_category

    df = costs_by_category(1)
    assert df["category"].tolist() == ["venue", "catering", "marketing"]
    assert df["cost_cents"].tolist() == [60_000, 20_000, 20_000]
    assert df["share"].tolist() == pytest.approx([0.6, 0.2, 0.2])
    assert costs_by_category(3).empty


def test_channel_stats_from_table(events_db):
    from bi_app.data.events import table_channel_stats

    assert table_channel_stats(1) == {"email": (150, 15, 3), "social": (200, 4, 0)}
    assert table_channel_stats(2) == {}


def test_checkins_by_hour(events_db):
    from bi_app.data.events import checkins_by_hour

    utc = checkins_by_hour(1)
    assert utc["hour"].tolist() == [
        pd.Timestamp("2024-03-10 09:00"),
        pd.Timestamp("2024-03-10 10:00"),
    ]
    assert utc["checkins"].tolist() == [2, 1]
    berlin = checkins_by_hour(1, "Europe/Berlin")  # CET, UTC+1 in March before the switch
    assert berlin["hour"].tolist() == [
        pd.Timestamp("2024-03-10 10:00"),
        pd.Timestamp("2024-03-10 11:00"),
    ]
    assert checkins_by_hour(2).empty


def test_participant_profile(events_db):
    from bi_app.data.events import participant_profile

    df = participant_profile(1)
    got = {
        d: list(zip(g["value"], g["participants"])) for d, g in df.groupby("dimension", sort=False)
    }
    assert got == {
        "age_band": [("25-34", 2), ("35-44", 1), ("unknown", 2)],
        "gender": [("female", 3), ("male", 2)],
        "region": [("DACH", 4), ("unknown", 1)],
        "returning": [("new", 3), ("returning", 2)],
    }


def test_previous_event_and_comparison(events_db):
    from bi_app.data.events import organizer_comparison, previous_event_id

    assert previous_event_id(2) == 1
    assert previous_event_id(1) is None  # the earlier Team A event was cancelled
    assert previous_event_id(3) is None
    assert organizer_comparison(2)["event_id"].tolist() == [1, 2]
    assert organizer_comparison(1)["event_id"].tolist() == [1]
    assert organizer_comparison(77).empty


def test_event_advice(events_db):
    from bi_app.data.events import event_advice

    advice = event_advice(1)
    assert advice.costs["category"].tolist() == ["venue", "catering", "marketing"]
    # attendance 3 / 5 = 60 % < 70 %; venue 60 % vs 30 % → +30 points, saving 60 000 − 30 000;
    # marketing 20 % vs 18 % → +2 points, saving 20 000 − 18 000; catering 20 % is at its benchmark
    assert [(s.kind, s.category, s.saving_cents) for s in advice.suggestions] == [
        ("attendance", None, None),
        ("cost", "venue", 30_000),
        ("cost", "marketing", 2_000),
    ]
    # a planned event is not judged on attendance, and without costs nothing is suggested
    assert event_advice(3).suggestions == []
    assert event_advice(404) is None


def _comparison_from_the_list(events: pd.DataFrame, event_id: int, limit: int) -> pd.DataFrame:
    """The comparison derived from the whole list in pandas: the reference for the SQL one."""
    this = events[events["event_id"] == event_id]
    if this.empty:
        return events.iloc[0:0]
    row = this.iloc[0]
    earlier = events[
        (events["organizer"] == row["organizer"])
        & (events["starts_at"] < row["starts_at"])
        & (events["status"] != "cancelled")
    ].head(limit)
    return pd.concat([earlier, this]).sort_values(["starts_at", "event_id"]).reset_index(drop=True)


def test_comparison_in_sql_equals_the_list_filtered_in_pandas(events_db):
    from bi_app.data.events import (
        events_list,
        organizer_comparison,
        previous_event,
        previous_event_id,
    )

    # Team A gets a longer history: three more held events, a cancelled one and a tie in time
    more = [
        (10, "E10", "Kick-off", "completed", T(2023, 2, 1, 9)),
        (11, "E11", "Offsite", "completed", T(2023, 5, 1, 9)),
        (12, "E12", "Retreat", "cancelled", T(2023, 9, 1, 9)),
        (13, "E13", "Hackday", "running", T(2023, 11, 1, 9)),
        (14, "E14", "Twin", "completed", T(2024, 6, 1, 10)),
    ]
    with events_db.begin() as conn:
        conn.execute(
            insert(Event),
            [
                {
                    "id": i,
                    "code": c,
                    "name": n,
                    "kind": "meetup",
                    "organizer": "Team A",
                    "status": s,
                    "starts_at": st,
                    "ends_at": st + dt.timedelta(hours=2),
                    "venue": None,
                    "region": "DACH",
                    "budget_cents": 1000,
                    "capacity": 5,
                    "target_participants": None,
                    "ticket_price_cents": 0,
                }
                for i, c, n, s, st in more
            ],
        )
        conn.execute(
            insert(EventCost), [{"event_id": 13, "category": "venue", "amount_cents": 800}]
        )
        conn.execute(
            insert(EventRegistration),
            [
                {
                    "event_id": 13,
                    "registered_at": T(2023, 10, 1),
                    "attended": True,
                    "checked_in_at": None,
                    "age_band": None,
                    "gender": None,
                    "region": None,
                    "is_returning": False,
                    "channel": "email",
                }
            ],
        )
    listed = events_list()
    for event_id in [1, 2, 3, 4, 10, 11, 12, 13, 14, 77]:
        for limit in (1, 2, 5):
            got = organizer_comparison(event_id, limit)
            expected = _comparison_from_the_list(listed, event_id, limit)
            pd.testing.assert_frame_equal(got, expected, check_dtype=not expected.empty)
    # E2 and E14 start at the same time: neither is earlier than the other
    assert organizer_comparison(2)["event_id"].tolist() == [10, 11, 13, 1, 2]
    assert organizer_comparison(2, 2)["event_id"].tolist() == [13, 1, 2]
    for event_id in [1, 2, 3, 4, 10, 12, 14, 77]:
        found = previous_event(event_id)
        assert (found[0] if found else None) == previous_event_id(event_id)
        if found:
            assert found[1:] == tuple(listed.set_index("event_id").loc[found[0], ["code", "name"]])
    assert previous_event(2) == (1, "E1", "Spring Conference")
