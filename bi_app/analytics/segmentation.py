"""Customer segments: pure rules on per-customer figures.

A customer is VIP when the lifetime spend reaches the VIP threshold, whatever the visits;
otherwise *new* up to ``new_max_visits`` visits, *growing* up to ``growing_max_visits`` and
*loyal* beyond. The same rule runs in SQL (:func:`bi_app.data.customers.segment_sql`); tests
check the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bi_app.i18n import N_

SEGMENTS = ("new", "growing", "loyal", "vip")
SEGMENT_LABELS = {
    "new": N_("New"),
    "growing": N_("Growing"),
    "loyal": N_("Loyal"),
    "vip": N_("VIP"),
    "none": N_("Not yet a customer"),
}


@dataclass(frozen=True)
class SegmentThresholds:
    new_max_visits: int = 3
    growing_max_visits: int = 10
    vip_min_spend_cents: int = 100_000_000

    @classmethod
    def from_settings(cls, values: Mapping[str, Any]) -> SegmentThresholds:
        return cls(
            int(values["customers.new_max_visits"]),
            int(values["customers.growing_max_visits"]),
            int(values["customers.vip_min_spend_cents"]),
        )


def segment_of(visits: int, spend_cents: int, t: SegmentThresholds) -> str:
    """The segment of one customer."""
    if spend_cents >= t.vip_min_spend_cents:
        return "vip"
    if visits <= t.new_max_visits:
        return "new"
    if visits <= t.growing_max_visits:
        return "growing"
    return "loyal"


def summarize(counts: pd.DataFrame) -> pd.DataFrame:
    """From columns ``segment``, ``customers``, ``revenue_cents`` (any order, missing segments
    allowed) to one row per segment in :data:`SEGMENTS` order with ``customer_share`` and
    ``revenue_share`` (fractions; 0 when there is nothing to share)."""
    by = counts.set_index("segment").reindex(list(SEGMENTS)).fillna(0)
    customers = by["customers"].astype("int64")
    revenue = by["revenue_cents"].astype("int64")
    total_c, total_r = int(customers.sum()), int(revenue.sum())
    return pd.DataFrame(
        {
            "segment": list(SEGMENTS),
            "customers": customers.to_numpy(),
            "revenue_cents": revenue.to_numpy(),
            "customer_share": customers.to_numpy() / total_c
            if total_c
            else np.zeros(len(SEGMENTS)),
            "revenue_share": revenue.to_numpy() / total_r if total_r else np.zeros(len(SEGMENTS)),
        }
    )


def movement_matrix(moves: pd.DataFrame) -> pd.DataFrame:
    """From rows ``from_segment``, ``to_segment``, ``customers`` to a square table (rows: from,
    columns: to) with ``none`` first for customers who did not exist at the start."""
    order = ["none", *SEGMENTS]
    if moves.empty:
        return pd.DataFrame(0, index=order, columns=list(SEGMENTS), dtype="int64")
    table = moves.pivot_table(
        index="from_segment", columns="to_segment", values="customers", aggfunc="sum", fill_value=0
    )
    return table.reindex(index=order, columns=list(SEGMENTS), fill_value=0).astype("int64")
