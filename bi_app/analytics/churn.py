"""Churn-risk tags: pure rules on one customer's visit figures and a given "today".

Escalation, most urgent first (a customer carries at most one of these):

* ``reactivation_needed`` — any customer with ``reactivation_days`` or more without a visit;
* ``new_customer_at_risk`` — a *new* customer with ``new_at_risk_days`` or more without a visit;
* ``new_customer_followup`` — a *new* customer whose first visit was ``followup_days`` or more ago;
* ``growing_delayed`` / ``loyal_delayed`` — days since the last visit exceed the customer's own
  average interval between visits by more than ``delay_tolerance`` (0.5 = 50 % over it).

VIP customers get only ``reactivation_needed``. Days are whole calendar days between dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bi_app.i18n import N_

TAG_LABELS = {
    "new_customer_followup": N_("Follow up (new)"),
    "new_customer_at_risk": N_("New, at risk"),
    "reactivation_needed": N_("Reactivation needed"),
    "growing_delayed": N_("Growing, delayed"),
    "loyal_delayed": N_("Loyal, delayed"),
}


@dataclass(frozen=True)
class ChurnThresholds:
    followup_days: int = 7
    new_at_risk_days: int = 20
    reactivation_days: int = 30
    delay_tolerance: float = 0.5

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> ChurnThresholds:
        return cls(
            int(values["churn.followup_days"]),
            int(values["churn.new_at_risk_days"]),
            int(values["churn.reactivation_days"]),
            float(values["churn.delay_tolerance"]),
        )


def _day(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def churn_tag(
    segment: str,
    first_visit: dt.date | dt.datetime | None,
    last_visit: dt.date | dt.datetime | None,
    avg_interval_days: float | None,
    today: dt.date,
    t: ChurnThresholds,
) -> str | None:
    """The one tag a customer should carry on ``today``, or None."""
    if first_visit is None or last_visit is None:
        return None  # never visited: nothing to measure a silence against
    since_last = (today - _day(last_visit)).days
    since_first = (today - _day(first_visit)).days
    if since_last >= t.reactivation_days:
        return "reactivation_needed"
    if segment == "new":
        if since_last >= t.new_at_risk_days:
            return "new_customer_at_risk"
        if since_first >= t.followup_days:
            return "new_customer_followup"
        return None
    overdue = bool(avg_interval_days) and since_last > avg_interval_days * (1.0 + t.delay_tolerance)
    if segment in ("growing", "loyal") and overdue:
        return f"{segment}_delayed"
    return None


def next_expected_visit(
    last_visit: dt.date | dt.datetime | None, avg_interval_days: float | None
) -> dt.date | None:
    """The last visit plus the customer's average interval (None with fewer than two visits)."""
    if last_visit is None or not avg_interval_days or pd.isna(avg_interval_days):
        return None
    return _day(last_visit) + dt.timedelta(days=round(float(avg_interval_days)))


def tag_frame(stats: pd.DataFrame, today: dt.date, t: ChurnThresholds) -> pd.DataFrame:
    """Columns ``customer_id``, ``tag`` for every customer of ``stats`` (columns
    ``customer_id``, ``segment``, ``first_visit``, ``last_visit``, ``avg_interval_days``)
    who should carry a tag."""
    rows = []
    for cid, segment, first, last, interval in zip(
        stats["customer_id"],
        stats["segment"],
        stats["first_visit"],
        stats["last_visit"],
        stats["avg_interval_days"],
    ):
        tag = churn_tag(
            segment,
            None if pd.isna(first) else first,
            None if pd.isna(last) else last,
            None if pd.isna(interval) else float(interval),
            today,
            t,
        )
        if tag is not None:
            rows.append((int(cid), tag))
    return pd.DataFrame(rows, columns=["customer_id", "tag"]).astype({"customer_id": "int64"})
