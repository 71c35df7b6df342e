"""Transaction findings on hand-made cases: levels, risk factors, recommended actions; the
registry refuses a stored model naming a type outside its allow-list."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from bi_app.analytics.anomaly import (
    ACTION_LABELS,
    ACTIONS,
    FACTOR_LABELS,
    FACTORS,
    LEVEL_LABELS,
    LEVELS,
    FactorRules,
    level_for,
    recommended_action,
    risk_factors,
)
from bi_app.models import registry

THRESHOLDS = {"low": 0.60, "medium": 0.65, "high": 0.70, "critical": 0.80}
USUAL = {
    "amount_z": 0.4,
    "hour_share": 0.3,
    "velocity_1h": 0,
    "velocity_24h": 4,
    "daily_rate": 4.0,
    "counterparty_count": 57,
    "balance_share": 0.05,
}


@pytest.mark.parametrize(
    "score, level",
    [
        (0.10, None),
        (0.5999, None),
        (0.60, "low"),
        (0.64, "low"),
        (0.65, "medium"),
        (0.70, "high"),
        (0.79, "high"),
        (0.80, "critical"),
        (1.50, "critical"),
    ],
)
def test_the_level_is_the_most_severe_threshold_the_score_reaches(score, level):
    assert level_for(score, THRESHOLDS) == level


def test_a_level_missing_from_the_thresholds_is_skipped():
    assert level_for(0.9, {"low": 0.6, "high": 0.7}) == "high"
    assert level_for(0.65, {"low": 0.6, "high": 0.7}) == "low"


def test_a_usual_transaction_has_no_risk_factor():
    assert risk_factors(USUAL) == []


@pytest.mark.parametrize(
    "change, factors",
    [
        ({"amount_z": 3.0}, ["abnormal_amount"]),
        ({"amount_z": -3.5}, ["abnormal_amount"]),  # far below the usual is abnormal too
        ({"amount_z": 2.99}, []),
        ({"hour_share": 0.0}, ["unusual_hour"]),
        ({"hour_share": 0.0099}, ["unusual_hour"]),
        ({"hour_share": 0.01}, []),
        ({"hour_share": None}, []),  # no history: not unusual
        ({"velocity_1h": 5}, ["high_frequency"]),
        ({"velocity_24h": 12}, ["high_frequency"]),  # 3x the usual 4 a day
        ({"velocity_24h": 11}, []),
        ({"counterparty_count": 0}, ["new_counterparty"]),
        ({"counterparty_count": None}, ["new_counterparty"]),  # an unknown beneficiary
        ({"balance_share": 0.5}, ["large_share_of_balance"]),
        ({"balance_share": 0.49}, []),
        (
            {"amount_z": 6, "hour_share": 0, "counterparty_count": 0, "balance_share": 0.9},
            ["abnormal_amount", "unusual_hour", "new_counterparty", "large_share_of_balance"],
        ),
    ],
)
def test_risk_factors_compare_the_features_with_the_accounts_norms(change, factors):
    assert risk_factors({**USUAL, **change}) == factors


def test_risk_factor_rules_are_adjustable():
    assert risk_factors({**USUAL, "amount_z": 2.0}, FactorRules(amount_z=2.0)) == [
        "abnormal_amount"
    ]


@pytest.mark.parametrize(
    "level, factors, action",
    [
        ("critical", [], "block_and_review"),
        ("critical", ["unusual_hour"], "block_and_review"),
        ("high", ["abnormal_amount"], "manual_approval"),
        ("medium", ["new_counterparty"], "extra_verification"),
        ("medium", ["large_share_of_balance", "unusual_hour"], "extra_verification"),
        ("medium", ["unusual_hour"], "monitor_closely"),
        ("medium", [], "monitor_closely"),
        ("low", ["abnormal_amount"], "monitor_closely"),
        ("low", [], "log"),
        (None, ["abnormal_amount"], "log"),  # large but not anomalous
    ],
)
def test_the_recommended_action_follows_the_level_and_the_factors(level, factors, action):
    assert recommended_action(level, factors) == action


def test_every_code_has_a_label():
    assert set(LEVEL_LABELS) == set(LEVELS)
    assert set(FACTOR_LABELS) == set(FACTORS)
    assert set(ACTION_LABELS) == set(ACTIONS)


def test_the_registry_round_trips_a_forest_and_refuses_an_untrusted_type():
    from sklearn.ensemble import IsolationForest

    rng = np.random.default_rng(0)
    data = rng.normal(size=(200, 3))
    forest = IsolationForest(n_estimators=10, random_state=0).fit(data)
    loaded = registry.deserialize(registry.serialize(forest, "skops"), "skops")
    assert np.array_equal(loaded.score_samples(data), forest.score_samples(data))

    # a Counter is harmless, but it is not on the allow-list: the file must not load
    sneaky = registry.serialize({"model": forest, "extra": collections.Counter("ab")}, "skops")
    with pytest.raises(registry.ModelError, match="collections.Counter"):
        registry.deserialize(sneaky, "skops")


def test_an_unknown_format_is_refused():
    with pytest.raises(registry.ModelError):
        registry.serialize(object(), "pickle")
    with pytest.raises(registry.ModelError):
        registry.deserialize(b"\x80\x04", "pickle")
