"""Segment rules at their boundaries, summaries, movement tables and cohorts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from bi_app.analytics.cohorts import retention_table
from bi_app.analytics.segmentation import (
    SegmentThresholds,
    movement_matrix,
    segment_of,
    summarize,
)

T = SegmentThresholds()


@pytest.mark.parametrize(
    ("visits", "spend", "expected"),
    [
        (0, 0, "new"),
        (3, 0, "new"),
        (4, 0, "growing"),
        (10, 0, "growing"),
        (11, 0, "loyal"),
        (11, 99_999_999, "loyal"),  # 999,999.99
        (11, 100_000_000, "vip"),  # 1,000,000.00
        (1, 100_000_000, "vip"),  # VIP whatever the visits
        (3, 99_999_999, "new"),
    ],
)
def test_segment_boundaries(visits, spend, expected):
    assert segment_of(visits, spend, T) == expected


def test_changed_thresholds_move_the_boundaries():
    t = SegmentThresholds(new_max_visits=1, growing_max_visits=2, vip_min_spend_cents=500)
    pairs = [(0, 0), (1, 0), (2, 0), (3, 0), (3, 500), (50, 499)]
    assert [segment_of(v, s, t) for v, s in pairs] == [
        "new",
        "new",
        "growing",
        "loyal",
        "vip",
        "loyal",
    ]


def test_summarize_fills_missing_segments_and_shares():
    out = summarize(
        pd.DataFrame({"segment": ["vip", "new"], "customers": [1, 3], "revenue_cents": [900, 100]})
    )
    assert out["segment"].tolist() == ["new", "growing", "loyal", "vip"]
    assert out["customers"].tolist() == [3, 0, 0, 1]
    assert out["customer_share"].tolist() == [0.75, 0, 0, 0.25]
    assert out["revenue_share"].tolist() == [0.1, 0, 0, 0.9]
    empty = summarize(pd.DataFrame(columns=["segment", "customers", "revenue_cents"]))
    assert empty["revenue_share"].sum() == 0


def test_movement_matrix_is_square_with_none_first():
    moves = pd.DataFrame(
        {
            "from_segment": ["none", "new", "new"],
            "to_segment": ["new", "growing", "new"],
            "customers": [2, 1, 4],
        }
    )
    m = movement_matrix(moves)
    assert m.index.tolist() == ["none", "new", "growing", "loyal", "vip"]
    assert m.loc["none", "new"] == 2 and m.loc["new", "growing"] == 1 and m.loc["new", "new"] == 4
    assert int(m.to_numpy().sum()) == 7


def test_retention_table_by_hand():
    jan, feb, mar = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)
    active = pd.DataFrame(
        {"cohort": [jan, jan, jan, feb], "month": [jan, feb, mar, mar], "customers": [4, 2, 1, 5]}
    )
    table = retention_table(active)
    rows = [
        (r.cohort, r.months_since, r.customers, r.cohort_size, r.retention)
        for r in table.itertuples()
    ]
    # February's cohort has no row for its own month, so its size is unknown: it is left out
    assert rows == [(jan, 0, 4, 4, 1.0), (jan, 1, 2, 4, 0.5), (jan, 2, 1, 4, 0.25)]
    assert retention_table(pd.DataFrame(columns=["cohort", "month", "customers"])).empty
