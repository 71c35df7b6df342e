"""The business-settings store: validation, the form's text round trip, and the table."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bi_app import business_settings as bs
from bi_app.data import settings as settings_store
from bi_app.db.analytics_models import BusinessSetting
from bi_app.extensions import db
from tests.conftest import migrate

EVENT_KEYS = (
    "events.attendance_min",
    "events.industry_avg_roi_pct",
    "events.cost_benchmark_shares",
)


def test_every_key_of_the_brief_has_its_default():
    d = bs.defaults()
    assert d["customers.new_max_visits"] == 3 and d["customers.growing_max_visits"] == 10
    assert d["customers.vip_min_spend_cents"] == 100_000_000
    assert (
        d["churn.followup_days"],
        d["churn.new_at_risk_days"],
        d["churn.reactivation_days"],
    ) == (7, 20, 30)
    assert d["churn.delay_tolerance"] == 0.5 and d["events.attendance_min"] == 0.70
    assert d["events.industry_avg_roi_pct"] == 25.0
    assert sum(d["events.cost_benchmark_shares"].values()) == pytest.approx(1.0)
    for key, value in d.items():
        assert bs.validate(key, value) == value


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("customers.new_max_visits", 0, "at least 1"),
        ("customers.new_max_visits", 2.5, "whole number"),
        ("customers.new_max_visits", "3", "expected a number"),
        ("customers.new_max_visits", True, "expected a number"),
        ("events.attendance_min", 1.5, "at most 1"),
        ("churn.delay_tolerance", float("nan"), "finite"),
        ("events.cost_benchmark_shares", {"venue": 1.0}, "missing"),
        (
            "events.cost_benchmark_shares",
            {**bs.defaults()["events.cost_benchmark_shares"], "venue": 0.5},
            "add up to",
        ),
        (
            "events.cost_benchmark_shares",
            {**bs.defaults()["events.cost_benchmark_shares"], "bribes": 0},
            "unknown",
        ),
        ("no.such.key", 1, "Unknown setting"),
        # float() of it overflowed
        pytest.param("churn.delay_tolerance", 10**400, "at most 10", id="fraction-10**400"),
        pytest.param("customers.new_max_visits", 10**400, "at most 1000", id="count-10**400"),
        ("customers.new_max_visits", float("inf"), "finite"),
    ],
)
def test_validation_refuses_with_a_reason(key, value, message):
    with pytest.raises(bs.SettingError, match=message):
        bs.validate(key, value)


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("customers.vip_min_spend_cents", "1,000,000.00", 100_000_000),
        ("customers.vip_min_spend_cents", "999999.99", 99_999_999),
        ("churn.delay_tolerance", "0.75", 0.75),
        ("events.industry_avg_roi_pct", "30%", 30.0),
        (
            "events.cost_benchmark_shares",
            (
                "venue=0.3, catering=0.2, technology=0.1, marketing=0.2, staff=0.12, "
                "materials=0.05, other=0.03"
            ),
            {
                "venue": 0.3,
                "catering": 0.2,
                "technology": 0.1,
                "marketing": 0.2,
                "staff": 0.12,
                "materials": 0.05,
                "other": 0.03,
            },
        ),
    ],
)
def test_form_text_parses_and_round_trips(key, text, value):
    assert bs.parse_text(key, text) == value
    assert bs.parse_text(key, bs.format_text(key, value)) == value


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("customers.vip_min_spend_cents", "1.001", "at most 2 decimals"),
        ("churn.followup_days", "seven", "not a number"),
        ("churn.followup_days", "", "enter a value"),
        ("events.cost_benchmark_shares", "venue 0.3", "category=0.25"),
        # bounded before any arithmetic (int() of 1e999999999 took seconds and ~400 MB; money
        # raised decimal.Overflow, an error page)
        ("customers.vip_min_spend_cents", "1e999999999", "'1e999999999' is out of range"),
        ("customers.vip_min_spend_cents", "-1E+999999999", "out of range"),
        ("customers.vip_min_spend_cents", "1e-999999999", "out of range"),
        ("customers.new_max_visits", "1e999999999", "'1e999999999' is out of range"),
        ("churn.reactivation_days", "9" * 5000, "too long for a number"),
        ("churn.delay_tolerance", "1e999999999", "out of range"),
        ("events.industry_avg_roi_pct", "1e400%", "out of range"),
        ("events.cost_benchmark_shares", "venue=" + "9" * 3000, "too long"),
        ("events.cost_benchmark_shares", '{"venue":' + "[" * 990 + "]" * 990 + "}", "share"),
        ("events.cost_benchmark_shares", '{"venue": 1e999}', "missing"),
    ],
)
def test_form_text_errors(key, text, message):
    with pytest.raises(bs.SettingError, match=message):
        bs.parse_text(key, text)


def test_zero_with_any_exponent_is_zero():
    assert bs.parse_text("events.industry_avg_roi_pct", "0e999999999") == 0.0


def test_admin_settings_form_shows_the_reason_for_a_huge_number():
    """The Save callback answers with the marked field, not an error page."""
    from callbacks._registry import call
    from callbacks.admin_settings import save

    keys = ["customers.vip_min_spend_cents", "customers.new_max_visits", "churn.delay_tolerance"]
    ids = [{"type": "admin-settings-input", "key": k} for k in keys]
    message, color, is_open, invalid, feedback = call(save, 1, ["1e999999999"] * 3, ids)
    assert (message, color, is_open) == (
        "Nothing was saved: correct the marked fields.",
        "danger",
        True,
    )
    assert invalid == [True, True, True]
    assert all("'1e999999999' is out of range" in f for f in feedback)


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    migrate(url)
    db.init(url)
    yield settings_store
    db.engine.dispose()


def test_store_saves_validates_together_and_falls_back_to_defaults(store):
    assert store.all_settings() == bs.defaults()
    assert store.save_one("customers.growing_max_visits", 12, actor="tests") == 12
    with pytest.raises(bs.SettingError, match="below"):
        store.save({"customers.new_max_visits": 12}, actor="tests")
    with pytest.raises(bs.SettingError, match="before"):
        store.save({"churn.new_at_risk_days": 40, "churn.followup_days": 3}, actor="tests")
    assert store.get("customers.growing_max_visits") == 12
    assert store.get("churn.new_at_risk_days") == 20  # the refused batch wrote nothing
    rows = {r["key"]: r for r in store.describe()}
    assert rows["customers.growing_max_visits"]["updated_by"] == "tests"
    assert rows["customers.growing_max_visits"]["is_default"] is False
    assert all(rows[k]["is_default"] for k in EVENT_KEYS)
    with db.session() as session:  # a value corrupted in the table is ignored, not served
        session.get(BusinessSetting, "customers.growing_max_visits").value = "lots"
        session.commit()
        assert session.scalars(select(BusinessSetting.key)).all() == [
            "customers.growing_max_visits"
        ]
    assert store.get("customers.growing_max_visits") == 10


@pytest.mark.parametrize(
    "currency, text, stored, shown",
    [
        ("KRW", "1,000,000", 1_000_000, "1,000,000"),
        ("JPY", "250000", 250_000, "250,000"),
        ("EUR", "1,000,000.00", 100_000_000, "1,000,000.00"),
        ("BHD", "12.345", 12_345, "12.345"),
    ],
)
def test_money_settings_use_the_currency_minor_unit(currency, text, stored, shown):
    key = "customers.vip_min_spend_cents"
    assert bs.parse_text(key, text, currency) == stored
    assert bs.format_text(key, stored, currency) == shown


def test_won_settings_take_no_decimals():
    with pytest.raises(bs.SettingError, match="whole amounts only"):
        bs.parse_text("customers.vip_min_spend_cents", "1,000.5", "KRW")
