"""The attendance forecast's pure parts on hand-made cases: features, organizer history, factor
directions, recommendations, peak check-in slots, form validation and the forecast card."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from bi_app.models import attendance as A
from bi_app.models.registry import VersionInfo
from components import attendance_forecast_view as view

KINDS = ["conference", "workshop"]


def _config(**kw) -> A.EventConfig:
    values = {
        "starts_at": dt.datetime(2027, 7, 5, 9, 30),  # a Monday; July 5th 2027 is a US holiday
        "kind": "conference",
        "duration_hours": 4,
        "capacity": 200,
        "ticket_price": 5_000,
        "online": False,
        "channels": 3,
        "organizer": "Team A",
        "advance_days": 20,
    }
    return A.EventConfig(**{**values, **kw})


def test_features_of_a_configuration():
    row = A.features(_config(), KINDS, 0.7, "US")
    assert row["dow"] == 0 and row["hour"] == 9 and row["season"] == 2  # Monday, 09:xx, summer
    assert row["holiday"] == 1.0  # Independence Day observed on Monday 5 July 2027
    assert A.features(_config(), KINDS, 0.7, "KR")["holiday"] == 0.0
    assert (row["kind_conference"], row["kind_workshop"]) == (1.0, 0.0)
    assert row["capacity"] == 200 and row["ticket_price"] == 5_000 and row["online"] == 0.0
    assert row["advance_days"] == 20 and row["organizer_history"] == 0.7
    # without advance notice given: the days from today until the start
    fresh = A.features(_config(advance_days=None), KINDS, None, "US", today=dt.date(2027, 6, 5))
    assert fresh["advance_days"] == 30 and math.isnan(fresh["organizer_history"])
    assert [A.season_of(m) for m in (12, 1, 3, 6, 9, 11)] == [0, 0, 1, 2, 3, 3]
    x = A.matrix([fresh], KINDS, 0.55)
    assert x.shape == (1, len(A.feature_names(KINDS))) and x[0, 10] == 0.55


def test_stored_event_config_and_online():
    config = A.config_of(
        dt.datetime(2027, 1, 10, 8, 0),
        dt.datetime(2027, 1, 10, 11, 30),
        "webinar",
        500,
        None,
        "Online",
        None,
        4,
        dt.datetime(2026, 12, 20, 8, 0),
        dt.date(2026, 12, 25),
        "Team A",
        "Asia/Seoul",
    )
    assert config.starts_at == dt.datetime(2027, 1, 10, 17, 0)  # 08:00 UTC is 17:00 in Seoul
    assert config.duration_hours == 3.5 and config.online and config.ticket_price == 0
    assert config.advance_days == 21  # the first registration is earlier than the channel stats
    assert not A._is_online("Berlin — Hall", "DACH")


def test_organizer_history_uses_only_earlier_events():
    configs = [_config(capacity=100)] * 4
    events = pd.DataFrame(
        {"organizer": ["A", "B", "A", "A"], "attended": [50, 90, 70, 10], "config": configs}
    )
    assert A.organizer_histories(events) == [None, None, 0.5, pytest.approx(0.6)]


class _LinearModel:
    """rate = 0.5 + 0.01 * (advance_days - 20) - 0.001 * (hour - 9) on the model's matrix."""

    def predict(self, x):
        names = A.feature_names(KINDS)
        notice, hour = x[:, names.index("advance_days")], x[:, names.index("hour")]
        return 0.5 + 0.01 * (notice - 20) - 0.001 * (hour - 9)


def _info() -> VersionInfo:
    typical = {name: 0.0 for name in A.BASE_FEATURES}
    typical.update(
        {
            "hour": 9.0,
            "advance_days": 20.0,
            "capacity": 200.0,
            "ticket_price": 5000.0,
            "channels": 3.0,
            "duration_hours": 4.0,
            "season": 2.0,
            "organizer_history": 0.6,
            "kind": "conference",
        }
    )
    return VersionInfo(
        id=1,
        name=A.MODEL_NAME,
        version=3,
        status="good",
        active=True,
        trained_at=dt.datetime(2027, 1, 1),
        data_from=None,
        data_to=None,
        features=A.feature_names(KINDS),
        params={
            "kinds": KINDS,
            "typical": typical,
            "history_fill": 0.6,
            "residual_quantiles": [-0.1, 0.05],
            "organizers": {"Team A": [0.7, 4]},
            "peak_checkin": {"conference": [[-15, 0.5], [0, 0.3]], "*": [[0, 1.0]]},
            "holiday_country": "KR",
        },
        metrics={"mae": 12.5, "mape": 0.1, "coverage": 0.75, "holdout_events": 4, "rows": 20},
        format="skops",
        error=None,
        trained_by="tests",
    )


def test_predict_interval_factors_and_peaks():
    forecast = A.predict(
        _config(advance_days=5, starts_at=dt.datetime(2027, 7, 5, 12, 0)), _LinearModel(), _info()
    )
    rate = 0.5 + 0.01 * (5 - 20) - 0.001 * 3  # 0.347
    assert forecast.point == round(rate * 200)
    assert (forecast.lower, forecast.upper) == (
        round((rate - 0.1) * 200),
        round((rate + 0.05) * 200),
    )
    factors = {f.key: f for f in forecast.factors}
    assert factors["advance_days"].direction == "negative"  # 5 days vs typical 20: -43 %
    assert factors["advance_days"].effect == pytest.approx(rate / (rate + 0.15) - 1, abs=1e-4)
    assert factors["hour"].direction == "neutral"  # 12:00 vs 09:00: under 2 %
    assert factors["capacity"].direction == "neutral"  # the typical 200 seats
    assert factors["incentives"].direction == "neutral"
    assert [(s.starts, s.share) for s in forecast.peak_checkin] == [
        (dt.datetime(2027, 7, 5, 11, 45), 0.5),
        (dt.datetime(2027, 7, 5, 12, 0), 0.3),
    ]
    codes = [r.code for r in forecast.recommendations]
    assert codes == ["low_fill", "announce_earlier", "add_incentive"]
    bigger = A.predict(_config(capacity=400), _LinearModel(), _info())
    assert {f.key: f for f in bigger.factors}["capacity"].direction == "positive"


def test_predict_refuses_an_unknown_kind():
    with pytest.raises(A.AttendanceError, match="campaign"):
        A.predict(_config(kind="campaign"), _LinearModel(), _info())


def _factors(**directions) -> list[A.Factor]:
    return [A.Factor(k, 0, 0, directions.get(k, "neutral"), 0.0) for k in A.FACTOR_INPUTS]


def test_recommendations():
    config = _config(channels=5, incentives=("raffle",))
    assert [r.code for r in A.recommend(150, 180, config, _factors(), 30)] == ["on_track"]
    over = A.recommend(192, 230, config, _factors(), 30)
    assert over[0] == A.Recommendation("over_capacity", {"capacity": 200})
    codes = [
        r.code
        for r in A.recommend(
            80,
            100,
            _config(channels=1),
            _factors(ticket_price="negative", dow="negative", hour="negative"),
            7,
        )
    ]
    assert codes == [
        "low_fill",
        "announce_earlier",
        "add_channel",
        "review_fee",
        "other_day",
        "other_time",
        "add_incentive",
    ]
    holiday = [A.Factor(k, 1 if k == "holiday" else 0, 0, "neutral", 0) for k in A.FACTOR_INPUTS]
    assert "holiday" in [r.code for r in A.recommend(150, 180, config, holiday, 30)]


def _form(**kw):
    values = {
        "starts": "2027-03-10 09:00",
        "kind": "conference",
        "duration_hours": 3,
        "capacity": 200,
        "fee": 12.5,
        "online": True,
        "channels": 2,
        "incentives": ["raffle", "bogus"],
        "organizer": "Team A",
        "advance_days": None,
    }
    values.update(kw)
    return values


def test_parse_config_valid_and_currency():
    config = A.parse_config(**_form(), currency="EUR")
    assert config == A.EventConfig(
        dt.datetime(2027, 3, 10, 9, 0),
        "conference",
        3.0,
        200,
        1250,
        True,
        2,
        ("raffle",),
        "Team A",
        None,
    )
    assert A.parse_config(**_form(fee=15000), currency="KRW").ticket_price == 15000
    assert A.parse_config(**_form(organizer=""), currency="EUR").organizer is None


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("capacity", -5, "capacity"),
        ("capacity", 10.5, "capacity"),
        ("capacity", None, "capacity"),
        ("starts", "next week", "starts_at"),
        ("starts", "2027-02-30 09:00", "starts_at"),
        ("fee", -1, "ticket_price"),
        ("duration_hours", 0, "duration_hours"),
        ("channels", "many", "channels"),
        ("advance_days", -3, "advance_days"),
        ("kind", None, "kind"),
    ],
)
def test_parse_config_names_each_bad_field(field, value, key):
    with pytest.raises(A.ConfigError) as caught:
        A.parse_config(**_form(**{field: value}), currency="EUR")
    assert list(caught.value.problems) == [key]


def test_forecast_card_shows_interval_factors_peaks_and_quality():
    forecast = A.predict(_config(advance_days=5), _LinearModel(), _info())
    text = str(view.forecast_card(forecast, "EUR"))
    assert f"{forecast.point} people" in text
    assert f"{forecast.lower} – {forecast.upper} people, of 200 seats" in text
    assert "app-factor-negative" in text and "Advance notice: 5 days" in text
    assert "09:15–09:30: 50% of check-ins" in text
    assert "Announce earlier: 5 days of notice" in text
    assert "mean error 12 people" in text or "mean error 13 people" in text
    problems = str(view.input_problems({"capacity": "Capacity: a whole number of 1 or more."}))
    assert "Capacity: a whole number of 1 or more." in problems


def test_peak_profile_shape_is_json():
    # what training stores must survive the registry's JSON column
    import json

    info = _info()
    assert json.loads(json.dumps(info.params))["peak_checkin"]["conference"][0] == [-15, 0.5]
    assert np.isfinite(info.params["history_fill"])
