"""Business days in SQL and as UTC bounds: local_day_bounds around midnight, month ends and
daylight saving time changes, day_of as SQL per dialect and zone, where the zone comes from, and
the cron schedules and customer tags that follow it."""

from __future__ import annotations

import datetime as dt
import sqlite3

import flask
import pytest
from sqlalchemy import column, select, table
from sqlalchemy.dialects import postgresql, sqlite

from bi_app.db import periods
from bi_app.db.periods import (
    business_timezone,
    day_of,
    local_date,
    local_day_bounds,
    local_midnight_utc,
    register_sqlite_functions,
    use_timezone,
)
from tests.conftest import make_settings

D, T = dt.date, dt.datetime
orders = table("orders", column("ordered_at"))


def test_utc_bounds_are_plain_midnights():
    assert local_day_bounds(D(2026, 1, 31), D(2026, 2, 1), "UTC") == (
        T(2026, 1, 31),
        T(2026, 2, 2),
    )
    assert local_day_bounds(None, None, "UTC") == (None, None)


def test_seoul_bounds_around_a_month_end():
    # 2026-02-01 00:00 in Seoul (UTC+9) is 2026-01-31 15:00 UTC
    assert local_day_bounds(D(2026, 2, 1), D(2026, 2, 28), "Asia/Seoul") == (
        T(2026, 1, 31, 15),
        T(2026, 2, 28, 15),
    )
    assert local_date(T(2026, 1, 31, 14, 30), "Asia/Seoul") == D(2026, 1, 31)
    assert local_date(T(2026, 1, 31, 15, 30), "Asia/Seoul") == D(2026, 2, 1)


def test_daylight_saving_days_are_23_and_25_hours():
    start, end = local_day_bounds(D(2026, 3, 8), D(2026, 3, 8), "America/New_York")
    assert (start, end) == (T(2026, 3, 8, 5), T(2026, 3, 9, 4))
    start, end = local_day_bounds(D(2026, 11, 1), D(2026, 11, 1), "America/New_York")
    assert end - start == dt.timedelta(hours=25)


def test_clock_changes_at_midnight():
    # Santiago skipped 00:00-01:00 on 2022-09-11: the day begins at the change (04:00 UTC)
    assert local_midnight_utc(D(2022, 9, 11), "America/Santiago") == T(2022, 9, 11, 4)
    # and repeated 23:00-24:00 on 2022-04-02: the 3rd begins at the second midnight
    assert local_midnight_utc(D(2022, 4, 3), "America/Santiago") == T(2022, 4, 3, 4)
    assert local_date(T(2022, 4, 3, 3, 30), "America/Santiago") == D(2022, 4, 2)


def test_day_of_sql_per_dialect_and_zone():
    utc = select(day_of(orders.c.ordered_at, "UTC"))
    seoul = select(day_of(orders.c.ordered_at, "Asia/Seoul"))
    assert "CAST(orders.ordered_at AS DATE)" in str(utc.compile(dialect=postgresql.dialect()))
    assert "date(orders.ordered_at)" in str(utc.compile(dialect=sqlite.dialect()))
    assert "CAST((orders.ordered_at AT TIME ZONE 'UTC') AT TIME ZONE 'Asia/Seoul' AS DATE)" in str(
        seoul.compile(dialect=postgresql.dialect())
    )
    assert "bi_local_date(orders.ordered_at, 'Asia/Seoul')" in str(
        seoul.compile(dialect=sqlite.dialect())
    )
    # the zone is part of the cache key: compiled SQL is never shared across zones
    assert utc._generate_cache_key() != seoul._generate_cache_key()
    with pytest.raises(Exception, match="No time zone"):
        day_of(orders.c.ordered_at, "Mars/Olympus")


def test_sqlite_function_gives_local_dates():
    conn = sqlite3.connect(":memory:")
    register_sqlite_functions(conn)
    values = [
        "2026-01-31 14:30:00.000000",  # 23:30 in Seoul
        "2026-01-31 15:30:00.000000",  # 00:30 on the 1st
        "2026-01-31 14:59:59.999999",  # the last instant of the 31st
        "2026-01-31T15:00:00",  # the first of the 1st
        None,
        "not a time",
    ]
    got = [
        conn.execute("SELECT bi_local_date(?, 'Asia/Seoul')", (v,)).fetchone()[0] for v in values
    ]
    assert got == ["2026-01-31", "2026-02-01", "2026-01-31", "2026-02-01", None, None]
    # India (UTC+5:30): the UTC hour 18:00-19:00 holds a local midnight, converted row by row
    india = [
        conn.execute("SELECT bi_local_date(?, 'Asia/Kolkata')", (v,)).fetchone()[0]
        for v in ("2026-01-31 18:29:59", "2026-01-31 18:30:00")
    ]
    assert india == ["2026-01-31", "2026-02-01"]
    # New York's clock change hour (2026-03-08 07:00 UTC = 03:00 EDT) stays on the 8th
    assert conn.execute(
        "SELECT bi_local_date('2026-03-08 06:59:59', 'America/New_York')"
    ).fetchone() == ("2026-03-08",)
    conn.close()


def test_the_zone_comes_from_the_app_then_the_environment(monkeypatch):
    monkeypatch.setenv("BI_TIMEZONE", "Europe/Berlin")
    periods.reset_timezone_cache()
    try:
        assert business_timezone() == "Europe/Berlin"
        app = flask.Flask("tz")
        app.config["BI_SETTINGS"] = make_settings("sqlite://", timezone="Asia/Seoul")
        with app.app_context():
            assert business_timezone() == "Asia/Seoul"
            with use_timezone("America/New_York"):
                assert business_timezone() == "America/New_York"
            assert business_timezone() == "Asia/Seoul"
    finally:
        monkeypatch.delenv("BI_TIMEZONE")
        periods.reset_timezone_cache()
    assert business_timezone() == "UTC"


def test_cron_hours_and_tag_cutoffs_are_local():
    from bi_app import customer_tags
    from bi_app.jobs.definitions import JobSpec

    spec = JobSpec("nightly", "bi_app.jobs.definitions:refresh_recent_rollups", cron="30 2 * * *")
    after = T(2026, 1, 1, tzinfo=dt.UTC)
    assert spec.trigger("UTC").get_next_fire_time(None, after) == T(
        2026, 1, 1, 2, 30, tzinfo=dt.UTC
    )
    fire = spec.trigger("Asia/Seoul").get_next_fire_time(None, after)
    assert fire.astimezone(dt.UTC) == T(2026, 1, 1, 17, 30, tzinfo=dt.UTC)
    with use_timezone("Asia/Seoul"):
        assert spec.trigger_text == "cron 30 2 * * * (Asia/Seoul)"
        assert customer_tags._cutoff(D(2026, 1, 31)) == T(2026, 1, 31, 15)
    assert customer_tags._cutoff(D(2026, 1, 31)) == T(2026, 2, 1)


def test_an_import_refreshes_the_business_days_of_its_times():
    """Orders at 23:30 and 00:30 Seoul time change the roll-ups of those local days, whatever
    form the database hands the times back in (SQLite: text)."""
    import datetime as dt

    from bi_app.db.periods import use_timezone
    from bi_app.importing.write import WriteResult

    with use_timezone("Asia/Seoul"):
        result = WriteResult()
        result.touch(dt.datetime(2026, 1, 31, 14, 30), "2026-01-31 15:30:00")
        assert (result.first_day, result.last_day) == (dt.date(2026, 1, 31), dt.date(2026, 2, 1))
        result.touch(dt.date(2026, 1, 30), None)  # a date stays the day it is
        assert result.first_day == dt.date(2026, 1, 30)
    utc = WriteResult()
    utc.touch("2026-01-31 15:30:00", None)
    assert utc.first_day == dt.date(2026, 1, 31)
