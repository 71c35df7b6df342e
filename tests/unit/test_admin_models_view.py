"""Admin → Models builders (components/admin_models_view.py): versions as the registry lists them
in, a component tree out; assertions walk the tree."""

from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
import pytest
from dash import html

from components import admin_models_view as view
from components.ids import AdminModels as Ids

TZ = "Asia/Seoul"


def _walk(node):
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from _walk(child)
    elif children is not None:
        yield from _walk(children)


def _texts(node) -> list[str]:
    return [n for n in _walk(node) if isinstance(n, str)]


def _rows(node) -> list[html.Tr]:
    return [n for n in _walk(node) if isinstance(n, html.Tr) and hasattr(n, "data-version")]


def _version(version: int, status: str = "good", active: bool = False, **extra) -> dict:
    return {
        "id": version,
        "name": "transactions_iforest",
        "version": version,
        "status": status,
        "active": active,
        "trained_at": dt.datetime(2026, 12, 4, 18, 45),
        "data_from": dt.datetime(2026, 9, 1),
        "data_to": dt.datetime(2026, 12, 1),
        "features": ["amount"],
        "params": {},
        "metrics": {},
        "format": "skops",
        "error": None,
        "trained_by": "job",
        **extra,
    }


@pytest.mark.parametrize(
    ("status", "color", "label"),
    [
        ("good", "success", "good"),
        ("failed", "danger", "failed"),
        ("rejected", "warning", "rejected"),
    ],
)
def test_each_status_has_its_colour(status, color, label):
    badge = view.status_badge(status)
    assert isinstance(badge, dbc.Badge)
    assert (badge.color, badge.children) == (color, label)


def test_an_unknown_status_is_shown_as_stored_in_grey():
    badge = view.status_badge("archived")
    assert (badge.color, badge.children) == ("secondary", "archived")


def test_every_metric_is_shown_with_its_number_formatted():
    metrics = {"rows": 1234567, "anomaly_rate": 0.0123456, "fit_seconds": 12.3456, "ok": True}
    tree = view.metrics_list(metrics)
    lines = {
        getattr(n, "data-metric"): [c.children for c in n.children]
        for n in _walk(tree)
        if hasattr(n, "data-metric")
    }
    assert lines == {
        "anomaly_rate": ["anomaly_rate", "0.0123"],
        "fit_seconds": ["fit_seconds", "12.35"],
        "ok": ["ok", "true"],
        "rows": ["rows", "1,234,567"],
    }
    assert view.metric_value(12345.6) == "12,346"
    assert view.metric_value({"a": 1}) == '{"a":1}'
    assert _texts(view.metrics_list({})) == ["—"]


def test_rollback_is_offered_only_on_good_versions_that_are_not_active():
    versions = [
        _version(4, "failed", error="ValueError: no data"),
        _version(3, "rejected"),
        _version(2, "good", active=True),
        _version(1, "good"),
    ]
    table = view.versions_table(versions, TZ, can_act=True)
    buttons = [n.id for n in _walk(table) if isinstance(n, dbc.Button)]
    assert buttons == [Ids.rollback_button("transactions_iforest", 1)]
    # without the right to act nothing is offered
    readonly = view.versions_table(versions, TZ, can_act=False)
    assert not [n for n in _walk(readonly) if isinstance(n, dbc.Button)]


def test_a_version_row_shows_its_time_window_active_marker_and_error():
    versions = [
        _version(2, "failed", error="ValueError: no data\n  frame 1"),
        _version(1, active=True),
    ]
    rows = _rows(view.versions_table(versions, TZ, can_act=True))
    assert [getattr(r, "data-active") for r in rows] == ["false", "true"]
    failed, active = (_texts(r) for r in rows)
    assert "v2" in failed and "failed" in failed and "ValueError: no data" in failed
    assert "in use" in active and "in use" not in failed
    # trained at 18:45 UTC is 03:45 the next day in Seoul; the window is shown in Seoul too
    assert any("12/5/26" in t and "3:45" in t for t in active), active
    assert any(t.startswith("9/1/26") and "12/1/26" in t for t in active), active


def test_a_model_card_offers_retrain_and_the_last_run():
    model = {
        "name": "transactions_iforest",
        "job": "model_training",
        "run": {"status": "running", "started_at": dt.datetime(2026, 12, 5, 0, 0), "error": None},
        "versions": [],
    }
    card = view.model_card(model, TZ, can_act=True)
    assert Ids.retrain_button("transactions_iforest") in [
        getattr(n, "id", None) for n in _walk(card)
    ]
    texts = _texts(card)
    assert "running" in texts and "No version trained yet." in texts
    assert not [
        n for n in _walk(view.model_card(model, TZ, can_act=False)) if isinstance(n, dbc.Button)
    ]


def test_confirm_text_names_both_versions():
    assert "version 1" in view.confirm_text("m", 1, 3) and "version 3" in view.confirm_text(
        "m", 1, 3
    )
    assert view.models_content([], TZ, can_act=True).children == "No models are registered yet."


def test_nested_metrics_read_as_dotted_keys():
    from components.admin_models_view import flat_metrics

    nested = {"rows": 5, "evaluation": {"detectors": {"iforest": {"precision": 0.5, "f1": 0.7}}}}
    assert flat_metrics(nested) == {
        "rows": 5,
        "evaluation.detectors.iforest.precision": 0.5,
        "evaluation.detectors.iforest.f1": 0.7,
    }
