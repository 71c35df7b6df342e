"""The capacity gauge's pure parts: levels, thresholds, usage rates, the hour-of-day profile and
the depletion forecast on hand-made cases; the demo's samples against its own ledger; the
gauge's builders."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from bi_app import capacity as cap
from bi_app.db.demo import generate_demo
from bi_app.db.demo_treasury import (
    COST_PER_TRANSACTION,
    make_capacity,
    make_treasury,
)
from components import treasury_figures as tf

T = dt.datetime


# --- level and state ----------------------------------------------------------------------------


def test_next_level_adds_refill_and_top_up_and_subtracts_usage():
    assert cap.next_level(500, 1000, used=300, refilled=50) == 250
    assert cap.next_level(500, 1000, used=0, refilled=0, topped_up=200) == 700


def test_next_level_is_clipped_to_zero_and_to_the_capacity():
    assert cap.next_level(100, 1000, used=400, refilled=10) == 0.0
    assert cap.next_level(950, 1000, used=0, refilled=80) == 1000.0
    assert cap.next_level(100, 1000, used=0, refilled=0, topped_up=5000) == 1000.0


@pytest.mark.parametrize(
    ("percent", "state"),
    [
        (100.0, "ok"),
        (20.01, "ok"),
        (20.0, "warning"),
        (10.01, "warning"),
        (10.0, "emergency"),
        (0.0, "emergency"),
        (None, None),
    ],
)
def test_state_thresholds_are_inclusive(percent, state):
    assert cap.state_of(percent) == state


def test_thresholds_are_twenty_and_ten_percent():
    assert (cap.WARNING_PCT, cap.EMERGENCY_PCT) == (20.0, 10.0)


# --- usage rate -----------------------------------------------------------------------------


def test_usage_rates_skip_the_first_samples_usage():
    samples = [
        (T(2026, 1, 1, 0), 999.0, 999.0),  # before the span: ignored
        (T(2026, 1, 1, 1), 300.0, 50.0),
        (T(2026, 1, 1, 2), 100.0, 50.0),
        (T(2026, 1, 1, 4), 0.0, 100.0),
    ]
    usage, net = cap.usage_rates(samples)
    assert usage == pytest.approx(400 / 4)
    assert net == pytest.approx((200 - 400) / 4)


def test_usage_rates_need_two_samples():
    assert cap.usage_rates([]) == (None, None)
    assert cap.usage_rates([(T(2026, 1, 1), 5.0, 1.0)]) == (None, None)


# --- hour-of-day profile --------------------------------------------------------------------


def test_hourly_profile_averages_each_hour_over_its_dates():
    samples = [
        (T(2026, 1, 1, 9, 5), 100.0),
        (T(2026, 1, 1, 9, 10), 100.0),  # day 1, 09h: 200
        (T(2026, 1, 2, 9, 30), 400.0),  # day 2, 09h: 400 -> mean 300
        (T(2026, 1, 1, 21, 0), 60.0),
        (T(2026, 1, 2, 21, 0), 0.0),  # 21h: mean 30
    ]
    profile = cap.hourly_profile(samples)
    assert profile[9] == pytest.approx(300)
    assert profile[21] == pytest.approx(30)
    # hours never observed get the mean of the observed hour-dates: (200+400+60+0) / 4
    assert profile[3] == pytest.approx(165)
    assert len(profile) == 24


def test_hourly_profile_of_nothing_is_zero():
    assert cap.hourly_profile([]) == [0.0] * 24


# --- depletion forecast ---------------------------------------------------------------------


def test_constant_usage_depletes_when_the_hand_computed_time_comes():
    # 1000 units, 100 used and 20 refilled an hour: -80/h -> empty after 12.5 hours
    result = cap.project(1000, 2000, T(2026, 1, 1, 0), [100.0] * 24, 20.0)
    assert result.depletes_at == T(2026, 1, 1, 12, 30)
    assert result.path[0] == (T(2026, 1, 1, 0), 1000)
    assert result.path[1] == (T(2026, 1, 1, 1), 920)
    assert result.path[-1] == (T(2026, 1, 1, 12, 30), 0.0)


def test_a_start_inside_an_hour_steps_to_the_next_whole_hour():
    # 30 minutes at -80/h = -40, then 80 per hour: 500 -> 460 at 01:00, empty 5.75 h later
    result = cap.project(500, 1000, T(2026, 1, 1, 0, 30), [100.0] * 24, 20.0)
    assert result.path[1] == (T(2026, 1, 1, 1), pytest.approx(460))
    assert result.depletes_at == T(2026, 1, 1, 6, 45)


def test_the_profile_is_read_in_local_hours():
    # usage only at local 09h (Seoul = UTC+9 -> 00h UTC): 1000 at 09h local, no refill
    profile = [0.0] * 24
    profile[9] = 1000.0
    result = cap.project(500, 1000, T(2026, 1, 1, 12), profile, 0.0, tz="Asia/Seoul")
    # next local 09:00 is 2026-01-02 00:00 UTC; 500 of the hour's 1000 -> half an hour in
    assert result.depletes_at == T(2026, 1, 2, 0, 30)


def test_refill_outpacing_usage_is_not_depleting():
    result = cap.project(300, 1000, T(2026, 1, 1), [50.0] * 24, 60.0)
    assert result.depletes_at is None
    assert max(level for _at, level in result.path) == 1000  # clipped at the capacity


def test_a_refill_that_covers_the_day_survives_a_burst_when_the_level_is_high():
    profile = [0.0] * 24
    profile[10] = 480.0  # 480 a day, refill 20/h = 480 a day: level returns each day
    result = cap.project(600, 1000, T(2026, 1, 1), profile, 20.0)
    assert result.depletes_at is None
    low = cap.project(100, 1000, T(2026, 1, 1), profile, 20.0)
    # 100 + 10 h * 20 = 300 at 10:00, then -460/h: empty 300/460 h later
    assert low.depletes_at == T(2026, 1, 1, 10) + dt.timedelta(seconds=round(300 / 460 * 3600))


def test_an_empty_level_is_depleted_now():
    assert cap.project(0, 1000, T(2026, 1, 1), [1.0] * 24, 0.0).depletes_at == T(2026, 1, 1)


def test_the_chart_path_stops_at_its_length_but_the_forecast_goes_on():
    result = cap.project(100, 1000, T(2026, 1, 1), [11.0] * 24, 10.0, chart=dt.timedelta(hours=5))
    assert len(result.path) == 6  # start + 5 hours
    assert result.depletes_at == T(2026, 1, 1) + dt.timedelta(hours=100)


def test_a_depletion_beyond_the_horizon_is_not_predicted():
    # -1 per hour from 1000: 1000 hours, past the 30-day horizon
    assert cap.HORIZON == dt.timedelta(days=30)
    assert cap.project(1000, 1000, T(2026, 1, 1), [11.0] * 24, 10.0).depletes_at is None


# --- the demo's samples ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_capacity():
    data = generate_demo(scale=0.5, seed=7, today=dt.date(2026, 3, 18))
    tables, _ = make_treasury(data.scale, data.calendar, data.seed, data.market.treasury)
    return tables, make_capacity(tables, data.calendar), data.calendar


def test_demo_samples_count_the_hot_debits_of_each_interval(demo_capacity):
    tables, capacity, calendar = demo_capacity
    samples = pd.DataFrame(capacity["capacity_samples"])
    tx = pd.DataFrame({k: tables["transactions"][k] for k in ("account_id", "amount_cents")})
    tx["occurred_at"] = pd.to_datetime(tables["transactions"]["occurred_at"])
    hot = [i for i, t in zip(tables["accounts"]["id"], tables["accounts"]["tier"]) if t == "hot"]
    debits = tx[tx.account_id.isin(hot) & (tx.amount_cents < 0)].occurred_at
    times = pd.to_datetime(samples.sampled_at)
    assert times.iloc[-1] == pd.Timestamp(calendar.end + dt.timedelta(days=1))
    assert (times.diff().dropna() == pd.Timedelta(minutes=5)).all()
    for i in range(1, len(samples), 97):  # a spread of intervals, counted independently
        n = int(((debits > times.iloc[i - 1]) & (debits <= times.iloc[i])).sum())
        assert samples.transactions.iloc[i] == n
        assert samples.used.iloc[i] == n * COST_PER_TRANSACTION
    assert samples.transactions.sum() > 0


def test_demo_levels_follow_the_sampling_rule_and_end_falling_near_a_third(demo_capacity):
    _tables, capacity, _calendar = demo_capacity
    resource = capacity["capacity_resources"]
    size = resource["capacity"][0]
    s = capacity["capacity_samples"]
    for i in range(1, len(s["level"])):
        expected = cap.next_level(
            s["level"][i - 1], size, s["used"][i], s["refilled"][i], s["topped_up"][i]
        )
        assert s["level"][i] == pytest.approx(expected)
    assert np.all((s["level"] >= 0) & (s["level"] <= size))
    assert 30 <= 100 * s["level"][-1] / size <= 40
    refill_per_day = resource["refill_per_hour"][0] * 24
    usage_per_day = s["used"].sum() / 14
    assert refill_per_day < usage_per_day  # falling on average


# --- the gauge's builders -------------------------------------------------------------------


def _status(**overrides) -> cap.CapacityStatus:
    values = {
        "name": "energy",
        "label": "Hot wallet energy",
        "unit": "energy",
        "capacity": 1000.0,
        "refill_per_hour": 10.0,
        "cost_per_transaction": 100.0,
        "level": 150.0,
        "percent": 15.0,
        "state": "warning",
        "sampled_at": T(2026, 1, 1, 12),
        "usage_per_hour": 30.0,
        "net_per_hour": -20.0,
        "depletes_at": T(2026, 1, 1, 19, 30),
        "history": [(T(2026, 1, 1, 11), 200.0), (T(2026, 1, 1, 12), 150.0)],
        "projection": [(T(2026, 1, 1, 12), 150.0), (T(2026, 1, 1, 19, 30), 0.0)],
    }
    values.update(overrides)
    return cap.CapacityStatus(**values)


def _texts(component) -> list[str]:
    found = []

    def walk(node):
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, (list, tuple)):
            for child in node:
                walk(child)
        elif hasattr(node, "children"):
            walk(node.children)

    walk(component)
    return found


def test_gauge_colours_the_warning_and_emergency_bands():
    gauge, facts, chart, message = tf.capacity_view(_status(), "Asia/Seoul")
    go.Figure(gauge)
    go.Figure(chart)
    indicator = gauge["data"][0]
    assert indicator["value"] == 15.0
    assert [s["range"] for s in indicator["gauge"]["steps"]] == [[0, 10.0], [10.0, 20.0]]
    assert indicator["gauge"]["threshold"]["value"] == 20.0
    assert indicator["gauge"]["bar"]["color"] == tf.CAPACITY_BAR_COLORS["warning"]
    assert message is None
    # the chart: history and forecast in percent, in Seoul time, with both threshold lines
    history, forecast = chart["data"]
    assert history["x"] == ["2026-01-01T20:00:00", "2026-01-01T21:00:00"]
    assert history["y"] == [20.0, 15.0]
    assert forecast["y"] == [15.0, 0.0]
    assert sorted(s["y0"] for s in chart["layout"]["shapes"]) == [10.0, 20.0]
    texts = _texts(facts)
    assert "Warning" in texts
    assert "150 energy of 1,000 energy" in texts
    assert "30.0 energy per hour" in texts
    assert "-20.0 energy per hour" in texts
    assert "Jan 2, 2026, 4:30:00\u202fAM" in texts  # 19:30 UTC in Seoul


def test_a_level_that_is_not_falling_says_so():
    _g, facts, _c, _m = tf.capacity_view(
        _status(depletes_at=None, net_per_hour=5.0, state="ok"), "UTC"
    )
    texts = _texts(facts)
    assert "Not depleting" in texts
    assert "+5.0 energy per hour" in texts


def test_without_a_resource_or_samples_the_card_explains():
    gauge, facts, _chart, message = tf.capacity_view(None, "UTC")
    assert facts is None
    assert "No consumable resource is configured" in message.children
    assert "No consumable resource" in gauge["layout"]["annotations"][0]["text"]
    _g, _f, _c, message = tf.capacity_view(_status(level=None, percent=None, state=None), "UTC")
    assert "has no samples yet" in message.children


def test_the_callback_hands_the_status_to_the_builder(monkeypatch):
    from callbacks import treasury as callbacks

    monkeypatch.setattr(callbacks.treasury, "capacity", lambda: _status())
    monkeypatch.setattr(callbacks, "business_timezone", lambda: "UTC")
    gauge, _facts, chart, message = callbacks.show_capacity(None)
    assert gauge["data"][0]["value"] == 15.0
    assert chart["data"][0]["x"][0] == "2026-01-01T11:00:00"
    assert message is None
