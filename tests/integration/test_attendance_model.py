"""The attendance forecast on SQLite and PostgreSQL: training on completed events stores a
good version with its features, params and hold-out metrics (skops), a forecast loads it back;
too few events are stored as a failed training that keeps the previous version."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, delete, insert, select

from bi_app.db.engine import make_engine
from bi_app.db.model_models import ModelVersion
from bi_app.db.models import Event, EventChannelStat, EventRegistration
from bi_app.models import attendance, registry
from tests.conftest import migrate

pytestmark = pytest.mark.integration
START = dt.datetime(2025, 1, 6, 9, 0)  # a Monday, naive UTC as stored


def seed_events(engine: Engine, completed: int = 24, planned: int = 1) -> list[int]:
    """Completed events whose attendance rate grows with their advance notice (and planned ones
    with registrations so far); returns the planned events' ids."""
    kinds = ("conference", "workshop", "webinar")
    with engine.begin() as conn:
        first_id = int(conn.scalar(select(Event.id).order_by(Event.id.desc()).limit(1)) or 0) + 1
        planned_ids = []
        for i in range(completed + planned):
            event_id = first_id + i
            is_planned = i >= completed
            kind = kinds[i % 3]
            starts = START + dt.timedelta(days=9 * i)
            if is_planned:
                starts = dt.datetime(2099, 6, 1, 9, 0) + dt.timedelta(days=i)
            capacity = 100 + 10 * (i % 5)
            notice = 10 + 5 * (i % 8)  # 10..45 days
            rate = 0.35 + 0.012 * notice  # 0.47..0.89: longer notice, more people
            conn.execute(
                insert(Event).values(
                    id=event_id,
                    code=f"ATT-{event_id}",
                    name=f"Attendance test {event_id}",
                    kind=kind,
                    organizer="Team A" if i % 2 else "Team B",
                    status="planned" if is_planned else "completed",
                    starts_at=starts,
                    ends_at=starts + dt.timedelta(hours=3),
                    venue="Online" if kind == "webinar" else "Hall 1",
                    region=None if kind == "webinar" else "DACH",
                    budget_cents=100_000,
                    capacity=capacity,
                    target_participants=capacity,
                    ticket_price_cents=0 if kind == "webinar" else 5_000,
                )
            )
            registered = int(capacity * 0.95)
            attended = 0 if is_planned else round(capacity * rate)
            conn.execute(
                insert(EventRegistration),
                [
                    {
                        "event_id": event_id,
                        "registered_at": starts - dt.timedelta(days=notice - (r % notice)),
                        "attended": r < attended,
                        "checked_in_at": starts - dt.timedelta(minutes=10 - r % 3)
                        if r < attended
                        else None,
                        "channel": "email",
                    }
                    for r in range(registered)
                ],
            )
            conn.execute(
                insert(EventChannelStat),
                [
                    {
                        "event_id": event_id,
                        "channel": channel,
                        "day": (starts - dt.timedelta(days=notice)).date(),
                        "views": 100,
                        "clicks": 10,
                        "conversions": 1,
                    }
                    for channel in ("email", "social", "search")[: 1 + i % 3]
                ],
            )
            if is_planned:
                planned_ids.append(event_id)
    return planned_ids


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request) -> Iterator[Engine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    migrate(url)
    eng = make_engine(url)
    registry.clear_cache()
    try:
        yield eng
    finally:
        registry.clear_cache()
        eng.dispose()


def test_train_store_and_forecast(engine):
    planned = seed_events(engine)
    info = attendance.train(engine, trained_by="tests")
    assert (info.status, info.active, info.version, info.error) == ("good", True, 1, None)
    assert info.metrics["rows"] == 24
    assert info.metrics["holdout_events"] == 5 and info.metrics["train_events"] == 19
    assert 0 <= info.metrics["mae"] < 25  # people; the rates lie 0.47..0.89 of 100-140 seats
    assert 0 <= info.metrics["coverage"] <= 1
    assert info.params["kinds"] == ["conference", "webinar", "workshop"]
    assert info.features == attendance.feature_names(info.params["kinds"])
    assert info.data_from == START and info.data_to == START + dt.timedelta(days=9 * 23)
    assert info.params["organizers"]["Team A"][1] == 12
    # check-ins 8-10 minutes before the start: all in the slot [-15, 0)
    assert info.params["peak_checkin"]["conference"] == [[-15, 1.0]]
    with engine.connect() as conn:
        fmt, artifact = conn.execute(
            select(ModelVersion.format, ModelVersion.artifact).where(ModelVersion.id == info.id)
        ).one()
    assert fmt == "skops" and artifact[:2] == b"PK"  # a skops zip, never a pickle

    registry.clear_cache()
    model, loaded = registry.load_active(engine, attendance.MODEL_NAME)
    base = attendance.EventConfig(
        dt.datetime(2099, 3, 2, 9, 0), "conference", 3, 120, 5_000, False, 3, (), "Team A", 10
    )
    short = attendance.predict(base, model, loaded)
    long = attendance.predict(
        attendance.EventConfig(**{**base.__dict__, "advance_days": 45}), model, loaded
    )
    assert 0 < short.point < long.point <= 120  # longer notice: more people, as in the data
    assert short.lower <= short.point <= short.upper
    notice = {f.key: f for f in short.factors}["advance_days"]
    assert notice.direction == "negative"
    assert "announce_earlier" in [r.code for r in short.recommendations]
    assert short.peak_checkin[0].starts == dt.datetime(2099, 3, 2, 8, 45)

    # a planned event's page: its stored configuration through the app's engine
    from bi_app.extensions import db

    db.init(str(engine.url.render_as_string(hide_password=False)))
    try:
        forecast = attendance.forecast_for_event(planned[0])
        # the 25th event: 140 seats, one channel, announced (channel statistics) 10 days and
        # 9 hours before its 09:00 start
        assert forecast is not None and forecast.capacity == 140
        assert forecast.config.channels == 1 and forecast.config.kind == "conference"
        assert forecast.config.advance_days == pytest.approx(10.375)
        assert "add_channel" in [r.code for r in forecast.recommendations]
        assert attendance.forecast_for_event(planned[0] - 1) is None  # completed: no forecast
    finally:
        db.engine.dispose()


def test_too_few_events_fail_and_keep_the_previous_version(engine):
    seed_events(engine, completed=attendance.MIN_TRAIN_EVENTS, planned=0)
    first = attendance.train(engine)
    assert first.status == "good" and first.active
    with engine.begin() as conn:  # events lost (say, an import undone): too few to train
        keep = conn.scalars(select(Event.id).order_by(Event.id).limit(5)).all()
        conn.execute(delete(Event).where(Event.id.not_in(keep)))
    second = attendance.train(engine)
    assert second.status == "failed" and not second.active
    assert "Too few completed events" in second.error and "5" in second.error
    assert registry.active_version_id(engine, attendance.MODEL_NAME) == first.id
    job = attendance.training_job(engine)
    assert job["status"] == "failed" and job["version"] == 3
