"""The churn classifier's pure parts on hand-made cases: features from aggregated rows, labels,
the hold-out's cutoffs, the quality figures, a worse AUC being rejected, and the Customers page's
model card and list column."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bi_app.analytics.segmentation import SegmentThresholds
from bi_app.models import churn, registry

CUTOFF = dt.datetime(2026, 6, 1)


def _raw(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(churn._RAW))


def _row(cid: int, **values) -> dict:
    base = {
        "customer_id": cid,
        "created_at": dt.datetime(2026, 1, 1),
        "visits": 1,
        "first_visit": dt.datetime(2026, 5, 1),
        "last_visit": dt.datetime(2026, 5, 1),
        "visits_30": 0,
        "visits_90": 1,
        "visits_365": 1,
        "orders": 0,
        "spend_cents": 0,
        "orders_90": 0,
        "spend_90_cents": 0,
        "last_order": None,
    }
    return {**base, **values}


def test_derive_turns_aggregates_into_the_model_features():
    raw = _raw(
        [
            _row(
                1,
                visits=5,
                first_visit=dt.datetime(2026, 3, 2),
                last_visit=dt.datetime(2026, 5, 22),
                orders=3,
                spend_cents=99_999,
                orders_90=2,
                spend_90_cents=50_000,
                last_order=dt.datetime(2026, 5, 2),
            ),
            _row(2),  # one visit: no interval, no order
            _row(3, visits=12, spend_cents=200_000_000),  # VIP by spend, whatever the visits
        ]
    )
    f = churn.derive(raw, CUTOFF, SegmentThresholds())
    assert f.index.tolist() == [1, 2, 3]
    assert f.loc[1, "recency_days"] == pytest.approx(10.0)
    assert f.loc[1, "active_span_days"] == pytest.approx(81.0)
    assert f.loc[1, "avg_interval_days"] == pytest.approx(81.0 / 4)
    assert f.loc[1, "recency_ratio"] == pytest.approx(10.0 / (81.0 / 4))
    assert f.loc[1, "tenure_days"] == pytest.approx(151.0)
    assert f.loc[1, "log_spend"] == pytest.approx(np.log1p(99_999))
    assert f.loc[1, "log_spend_90"] == pytest.approx(np.log1p(50_000))
    assert f.loc[1, "order_recency_days"] == pytest.approx(30.0)
    assert f.loc[1, "segment"] == churn.SEGMENT_CODES["growing"]  # 5 visits: 4..10
    assert np.isnan(f.loc[2, "avg_interval_days"]) and np.isnan(f.loc[2, "recency_ratio"])
    assert np.isnan(f.loc[2, "order_recency_days"])
    assert f.loc[2, "segment"] == churn.SEGMENT_CODES["new"]
    assert f.loc[3, "segment"] == churn.SEGMENT_CODES["vip"]
    assert churn.matrix(f).shape == (3, len(churn.MODEL_FEATURES))


def test_derive_of_no_rows_is_an_empty_frame_with_the_features():
    f = churn.derive(_raw([]), CUTOFF, SegmentThresholds())
    assert f.empty and set(churn.MODEL_FEATURES) <= set(f.columns)


def test_labels_mark_who_did_not_come_back_and_active_keeps_the_last_year():
    raw = _raw(
        [
            _row(1, first_visit=dt.datetime(2026, 5, 31), last_visit=dt.datetime(2026, 5, 31)),
            _row(2, first_visit=dt.datetime(2025, 1, 1), last_visit=dt.datetime(2025, 1, 1)),
            _row(3),
        ]
    )
    f = churn.derive(raw, CUTOFF, SegmentThresholds())
    assert churn.label(f, {1, 99}).tolist() == [0, 1, 1]
    assert churn.active(f).index.tolist() == [1, 3]  # 2 last came 516 days before


def test_the_hold_out_never_lets_a_training_label_see_the_test_window():
    end = dt.datetime(2026, 12, 1)
    cuts = churn.holdout_cutoffs(end, days=60)
    assert cuts["test"] == dt.datetime(2026, 10, 2)
    assert cuts["train"][0] == dt.datetime(2026, 8, 3)  # T1 = T2 - 60 days
    assert len(cuts["train"]) == churn.EXTRA_CUTOFFS + 1
    # every training cutoff's labels end by the test cutoff
    assert all(c + dt.timedelta(days=60) <= cuts["test"] for c in cuts["train"])
    assert cuts["train"] == sorted(cuts["train"], reverse=True)
    # the stored model is refit on the latest labelled cutoff (labels end with the data)
    assert cuts["final"][0] == cuts["test"]
    assert all(c + dt.timedelta(days=60) <= end for c in cuts["final"])


def test_quality_figures_computed_by_hand():
    y = np.array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.2, 0.8, 0.7, 0.1, 0.1, 0.3, 0.2, 0.05, 0.4])
    q = churn.quality(y, p)
    # positives 0.9, 0.7, 0.2 against 7 negatives: 0.9 outranks all 7, 0.7 all but 0.8 (6),
    # 0.2 outranks 0.1, 0.1, 0.05 and ties 0.2 (3.5)
    assert q["auc"] == pytest.approx((7 + 6 + 3.5) / 21, abs=1e-4)
    assert q["top_decile_precision"] == 1.0  # the top 1 of 10 (0.9) churned
    assert q["base_rate"] == pytest.approx(0.3)
    assert churn.top_precision(y, p, share=0.3) == pytest.approx(2 / 3)  # 0.9, 0.8, 0.7


def test_a_worse_auc_is_rejected_and_a_close_one_kept():
    training = registry.Training(quality_metric="auc")
    assert registry._worse({"auc": 0.6}, {"auc": 0.9}, training)
    assert not registry._worse({"auc": 0.85}, {"auc": 0.9}, training)


def test_a_fitted_classifier_round_trips_through_skops_and_orders_as_expected():
    rng = np.random.default_rng(0)
    x = rng.random((400, len(churn.MODEL_FEATURES)))
    y = (x[:, 0] > 0.5).astype(int)  # recency alone decides
    model = churn.fit(x, y)
    loaded = registry.deserialize(registry.serialize(model, "skops"), "skops")
    probe = np.array([[0.9] + [0.5] * (x.shape[1] - 1), [0.1] + [0.5] * (x.shape[1] - 1)])
    p = loaded.predict_proba(probe)[:, 1]
    assert p[0] > 0.8 and p[1] < 0.2
    assert np.allclose(p, model.predict_proba(probe)[:, 1])


# --- the page -----------------------------------------------------------------------------------


def _text(component) -> str:
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    if isinstance(component, str):
        return component
    children = getattr(component, "children", None)
    return "" if children is None else _text(children)


def test_the_model_card_without_a_model_says_so():
    from components.customer_figures import churn_model_body

    text = _text(churn_model_body({"trained": False, "scored": 0, "latest_problem": None}, "UTC"))
    assert "No churn model has been trained yet" in text


def test_the_model_card_shows_the_hold_out_figures_and_a_rejected_training():
    from components.customer_figures import churn_model_body

    summary = {
        "trained": True,
        "version": 3,
        "trained_at": dt.datetime(2026, 12, 5, 2, 0),
        "auc": 0.9406,
        "top_decile_precision": 0.975,
        "base_rate": 0.4501,
        "holdout_from": dt.date(2026, 10, 5),
        "holdout_to": dt.date(2026, 12, 4),
        "churn_days": 60,
        "rows_test": 3066,
        "scored": 4081,
        "latest_problem": "rejected",
    }
    text = _text(churn_model_body(summary, "UTC"))
    for expected in ("0.941", "97.5%", "45.0%", "4,081", "3,066", "version 3", "60 days"):
        assert expected in text
    assert "was not activated" in text


def test_the_list_has_a_sortable_churn_probability_column_in_percent():
    from bi_app.data.customers import LIST_COLUMNS, SORT_KEYS
    from components import customers_view as view

    column = next(c for c in view.list_columns() if c.field == "churn_probability")
    assert column.kind == "percent" and column.header == "Churn probability"
    assert "churn_probability" in SORT_KEYS and "churn_probability" in LIST_COLUMNS
    page = view.list_page_request(
        {
            "startRow": 0,
            "endRow": 100,
            "sortModel": [{"colId": "churn_probability", "sort": "asc"}],
        },
        {},
    )
    assert page["sort"] == "churn_probability" and page["descending"] is False
