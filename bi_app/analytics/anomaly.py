"""Transaction anomaly findings as pure decisions: the level of a detector score, the risk factors
of a transaction's features against its account's norms, and the recommended action.

Nothing here reads the database or knows the model: :mod:`bi_app.models.transactions` computes
the features and the score, these functions turn them into what a person reads. Codes are stored;
the labels (``N_``-marked) are translated where they are shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bi_app.i18n import N_

LEVELS = ("critical", "high", "medium", "low")  # most severe first
LEVEL_LABELS = {
    "critical": N_("Critical"),
    "high": N_("High"),
    "medium": N_("Medium"),
    "low": N_("Low"),
}
FACTORS = (
    "abnormal_amount",
    "unusual_hour",
    "high_frequency",
    "new_counterparty",
    "large_share_of_balance",
)
FACTOR_LABELS = {
    "abnormal_amount": N_("Abnormal amount"),
    "unusual_hour": N_("Unusual hour"),
    "high_frequency": N_("High frequency"),
    "new_counterparty": N_("New counterparty"),
    "large_share_of_balance": N_("Large share of balance"),
}
ACTIONS = ("block_and_review", "manual_approval", "extra_verification", "monitor_closely", "log")
ACTION_LABELS = {
    "block_and_review": N_("Block and review"),
    "manual_approval": N_("Manual approval"),
    "extra_verification": N_("Extra verification"),
    "monitor_closely": N_("Monitor closely"),
    "log": N_("Log"),
}
LARGE_LABEL = N_("Large transaction")


@dataclass(frozen=True)
class FactorRules:
    """When a feature value counts as a risk factor (see :func:`risk_factors`)."""

    amount_z: float = 3.0  # |log-amount z-score| against the account's usual amount
    hour_share: float = 0.01  # share of the account's recent transactions in this hour (+-1 h)
    velocity_1h: int = 5  # the account's transactions in the previous hour
    velocity_24h_ratio: float = 3.0  # previous 24 h against the account's usual day
    balance_share: float = 0.5  # |amount| / the account's balance before it


def level_for(score: float, thresholds: Mapping[str, float]) -> str | None:
    """The most severe level whose threshold ``score`` reaches (higher score = more anomalous),
    or None when it is below ``thresholds["low"]``. ``thresholds`` maps each level to a score."""
    for level in LEVELS:
        if level in thresholds and score >= thresholds[level]:
            return level
    return None


def risk_factors(features: Mapping[str, float], rules: FactorRules = FactorRules()) -> list[str]:
    """The codes of :data:`FACTORS` that ``features`` show, in that order.

    ``features`` holds (missing keys count as normal): ``amount_z``, ``hour_share``,
    ``velocity_1h``, ``velocity_24h``, ``daily_rate`` (the account's usual transactions a day),
    ``counterparty_count`` (the counterparty's transactions before this one; 0 or None for an
    unknown one) and ``balance_share``.
    """
    found: list[str] = []
    if abs(_num(features.get("amount_z"))) >= rules.amount_z:
        found.append("abnormal_amount")
    hour_share = features.get("hour_share")
    if hour_share is not None and hour_share < rules.hour_share:
        found.append("unusual_hour")
    rate = _num(features.get("daily_rate"))
    if _num(features.get("velocity_1h")) >= rules.velocity_1h or (
        rate > 0 and _num(features.get("velocity_24h")) >= rules.velocity_24h_ratio * max(rate, 1)
    ):
        found.append("high_frequency")
    if not _num(features.get("counterparty_count")):
        found.append("new_counterparty")
    if _num(features.get("balance_share")) >= rules.balance_share:
        found.append("large_share_of_balance")
    return found


def recommended_action(level: str | None, factors: Sequence[str]) -> str:
    """What to do about a finding: block critical ones, approve high ones by hand, verify a
    medium one when its counterparty or its size is the concern, else watch or just log."""
    if level == "critical":
        return "block_and_review"
    if level == "high":
        return "manual_approval"
    if level == "medium":
        if "new_counterparty" in factors or "large_share_of_balance" in factors:
            return "extra_verification"
        return "monitor_closely"
    if level == "low" and factors:
        return "monitor_closely"
    return "log"


def _num(value: float | None) -> float:
    return 0.0 if value is None else float(value)
