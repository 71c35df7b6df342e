"""Sales and Overview callbacks called as plain functions: the cross-filter state machine, the
filter chips, services handed the validated filters, and the registry's fallbacks.

Services are stubbed on the module attribute the callback reads; ``ctx`` is Dash's own callback
context, set the way Dash sets it for a request. No database, no browser.
"""

from __future__ import annotations

import datetime as dt
import logging

import flask
import pandas as pd
import pytest
from dash import no_update
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate

from bi_app.filters import Filters
from callbacks import overview as ov
from callbacks import sales as cb
from callbacks._registry import call
from components.ids import Sales
from tests.conftest import make_settings

START, END = dt.date(2024, 1, 1), dt.date(2024, 3, 31)
PLATFORM_CLICK = {"points": [{"customdata": "web", "x": "Web"}]}


@pytest.fixture(autouse=True)
def app_context():
    app = flask.Flask(__name__)
    app.config["BI_SETTINGS"] = make_settings("sqlite://", currency="KRW", timezone="Asia/Seoul")
    with app.app_context():
        yield app


@pytest.fixture
def trigger():
    """Set what Dash would report as the triggering input, as it does for a real request."""

    def set_trigger(component_id, prop: str, value) -> None:
        key = component_id if isinstance(component_id, str) else _json_id(component_id)
        context_value.set(
            AttributeDict(triggered_inputs=[{"prop_id": f"{key}.{prop}", "value": value}])
        )

    yield set_trigger
    context_value.set({})


def _json_id(component_id: dict) -> str:
    import json

    return json.dumps(component_id, sort_keys=True, separators=(",", ":"))


@pytest.fixture
def resolved(monkeypatch):
    """resolve_filters stubbed to fixed, valid filters; records what the browser sent."""
    received = []
    filters = Filters(START, END, ("web",), None)

    def fake(start, end, platforms, categories):
        received.append((start, end, platforms, categories))
        return filters

    monkeypatch.setattr(cb, "resolve_filters", fake)
    monkeypatch.setattr(ov, "resolve_filters", fake)
    return received


# --- cross-filter: clicks on charts and chips ---------------------------------------------------


def test_a_platform_click_selects_that_platform_and_leaves_the_rest(trigger):
    trigger(Sales.PLATFORM_GRAPH, "clickData", PLATFORM_CLICK)
    out = cb.cross_filter(PLATFORM_CLICK, None, None, [], None, ["food"], ["paid"])
    assert out == (["web"], no_update, no_update)


def test_clicking_the_only_selected_platform_again_clears_it(trigger):
    trigger(Sales.PLATFORM_GRAPH, "clickData", PLATFORM_CLICK)
    assert cb.cross_filter(PLATFORM_CLICK, None, None, [], ["web"], None, None) == (
        [],
        no_update,
        no_update,
    )


def test_a_status_click_writes_the_page_status_store(trigger):
    click = {"points": [{"customdata": ["refunded"]}]}
    trigger(Sales.STATUS_GRAPH, "clickData", click)
    assert cb.cross_filter(None, click, None, [], ["web"], None, ["paid", "shipped"]) == (
        no_update,
        no_update,
        ["refunded"],
    )


def test_a_chip_cross_removes_its_dimension_only(trigger):
    chip = Sales.chip_clear("category")
    trigger(chip, "n_clicks", 1)
    assert cb.cross_filter(None, None, None, [1], ["web"], ["food", "toys"], ["paid"]) == (
        no_update,
        [],
        no_update,
    )


def test_a_redrawn_chip_is_not_a_click(trigger):
    trigger(Sales.chip_clear("platform"), "n_clicks", None)
    with pytest.raises(PreventUpdate):
        cb.cross_filter(None, None, None, [None], ["web"], None, None)


@pytest.mark.parametrize("click", [None, {"points": []}, {"points": [{"customdata": ""}]}])
def test_a_click_beside_the_bars_changes_nothing(trigger, click):
    trigger(Sales.CATEGORY_GRAPH, "clickData", click)
    with pytest.raises(PreventUpdate):
        cb.cross_filter(None, None, click, [], ["web"], None, None)


# --- chips --------------------------------------------------------------------------------------


def _chips(children) -> dict[str, str]:
    """``{dimension: shown names}`` of the chip buttons (after the "Filtered by" label)."""
    buttons = [c for c in children if type(c).__name__ == "Button"]
    return {b.id["dimension"]: b.children[1].children for b in buttons}


def test_chips_name_each_active_filter_from_the_catalogue(monkeypatch, resolved):
    monkeypatch.setattr(
        cb.catalog, "display_names", lambda: {"platform": {"web": "Own web shop"}, "category": {}}
    )
    chips = cb.show_chips(["web"], None, ["refunded", "bogus"])
    # an unknown status from the browser never becomes a chip
    assert _chips(chips) == {"platform": "Own web shop", "status": "Refunded"}
    assert resolved == [(None, None, ["web"], None)]


def test_chips_fall_back_to_codes_when_the_catalogue_is_down(monkeypatch, resolved, caplog):
    def down():
        raise RuntimeError("catalogue unreachable")

    monkeypatch.setattr(cb.catalog, "display_names", down)
    with caplog.at_level(logging.ERROR, logger="callbacks.sales"):
        chips = cb.show_chips(["web"], None, None)
    assert _chips(chips) == {"platform": "Web"}
    assert "catalogue names unavailable" in caplog.text


# --- services get the validated filters; failures become the card's message --------------------


def test_platforms_chart_asks_for_the_validated_filters_and_statuses(monkeypatch, resolved):
    calls = []

    def fake(*args):
        calls.append(args)
        return pd.DataFrame(
            {
                "platform": ["web"],
                "platform_name": ["Web"],
                "status": ["paid"],
                "orders": [3],
                "revenue_cents": [4500],
            }
        )

    monkeypatch.setattr(cb.sales, "orders_by_platform_status", fake)
    fig = cb.show_platforms("2024-01-01", "2024-03-31", ["web", "evil"], None, ["paid", "nonsense"])
    assert calls == [(START, END, ("web",), None, ("paid",))]
    assert resolved == [("2024-01-01", "2024-03-31", ["web", "evil"], None)]
    assert fig["layout"]["clickmode"] == "event"  # the Sales chart is the clickable one
    drawn = {t["name"]: list(t["y"]) for t in fig["data"] if any(t["y"])}
    assert drawn == {"Paid": [3]}


def test_a_failing_sales_service_shows_its_card_message(monkeypatch, resolved, caplog):
    def boom(*_args):
        raise RuntimeError("server closed the connection unexpectedly (10.1.2.3)")

    monkeypatch.setattr(cb.sales_growth, "revenue_growth", boom)
    with caplog.at_level(logging.ERROR, logger="callbacks.sales"):
        figures = call(cb.show_trends, None, None, None, None, None, "week")
    assert len(figures) == 3
    for fig in figures:
        assert [a["text"] for a in fig["layout"]["annotations"]] == [
            "Revenue is unavailable right now"
        ]
    assert "10.1.2.3" in caplog.text  # the operator sees the cause, the page does not
    assert "show_trends failed for inputs" in caplog.text


def test_overview_kpis_fallback_keeps_the_row_layout(monkeypatch, resolved):
    def boom(*_args):
        raise RuntimeError("timeout")

    monkeypatch.setattr(ov.sales, "overview_kpis", boom)
    col = call(ov.show_kpis, None, None, None, None)
    assert type(col).__name__ == "Col" and "mb-3" in col.className
    assert col.children.children.startswith("Key figures is unavailable right now")


def test_overview_top_products_rows_and_no_message(monkeypatch, resolved):
    df = pd.DataFrame({"product": ["Kimchi"], "revenue_cents": [120000], "units": [4]})
    monkeypatch.setattr(ov.sales, "top_products", lambda *a, **k: df)
    spec = [{"field": "product", "header": "Product", "kind": "text"}]
    rows, message = ov.show_top_products(None, None, None, None, spec)
    assert message is None
    assert rows == [{"product": "Kimchi", "revenue_cents": 120000, "units": 4}]
