"""L3: names that come from users or data reach Plotly figures escaped, so Plotly's pseudo-HTML
(``<a href>``, ``<b>``, ``<span style>``) shows as text instead of a link or styling."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
from plotly.io.json import to_json_plotly

from bi_app.channels.base import ChannelStats
from bi_app.channels.service import ChannelReport, ChannelResult
from components import event_figures, figures, ops_performance_view, sales_figures
from components.format import plain_label

EVIL = '<a href="https://evil.tld">Session expired</a>'
SHOWN = '&lt;a href="https://evil.tld"&gt;Session expired&lt;/a&gt;'


def _strings(node: object) -> list[str]:
    """Every string anywhere in a figure's dict."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, (list, tuple)) or hasattr(node, "tolist"):
        items = node.tolist() if hasattr(node, "tolist") else node
        return [s for item in items for s in _strings(item)]
    return []


def test_plain_label_escapes_markup_and_ampersands_only():
    assert plain_label(EVIL) == SHOWN
    assert plain_label("Home & Garden") == "Home &amp; Garden"
    assert plain_label("Café 'Ü' \"x\"") == "Café 'Ü' \"x\""
    assert plain_label(None) == "" and plain_label(42) == "42"


def _channel_report() -> ChannelReport:
    stats = ChannelStats(EVIL, 100, 10, 1)
    result = ChannelResult(EVIL, stats, "live", dt.datetime(2024, 3, 1, 11), "demo")
    return ChannelReport(event_id=7, results=(result,), fetched_at=dt.datetime(2024, 3, 1, 12))


FIGURES = {
    "performance callbacks": lambda: ops_performance_view.latency_bars(
        [{"method": "POST", "name": EVIL, "count": 3, "errors": 1, "p50_ms": 2.0, "p95_ms": 9.0}],
        "callbacks",
    ),
    "performance endpoints": lambda: ops_performance_view.latency_bars(
        [{"method": "GET", "name": EVIL, "count": 3, "errors": 0, "p50_ms": 2.0, "p95_ms": 9.0}],
        "requests",
    ),
    "sales categories": lambda: sales_figures.category_figure(
        pd.DataFrame(
            {
                "category": ["c1"],
                "category_name": [EVIL],
                "revenue_cents": [12_345],
                "share": [1.0],
                "units": [3],
            }
        ),
        "EUR",
    ),
    "sales ranking": lambda: sales_figures.ranking_figure(
        pd.DataFrame(
            {
                "rank": [1],
                "product": [EVIL],
                "sku": ["<b>SKU</b>"],
                "revenue_cents": [500],
                "units": [2],
                "share": [1.0],
            }
        ),
        "revenue",
        "EUR",
    ),
    "platforms": lambda: figures.platform_status_figure(
        pd.DataFrame(
            {"platform": ["web"], "platform_name": [EVIL], "status": ["paid"], "orders": [4]}
        ),
        clickable=True,
    ),
    "event channels": lambda: event_figures.channel_figure(_channel_report()),
    "event profile": lambda: event_figures.profile_figure(
        pd.DataFrame({"dimension": ["region"], "value": [EVIL], "participants": [5]})
    ),
    "event comparison": lambda: event_figures.comparison_figure(
        pd.DataFrame(
            {
                "event_id": [1],
                "code": [EVIL],
                "name": [EVIL],
                "starts_at": [dt.datetime(2024, 3, 1)],
                "roi": [0.25],
            }
        ),
        1,
        12.0,
    ),
    "event costs": lambda: event_figures.costs_figure(
        pd.DataFrame({"category": [EVIL], "share": [1.0], "cost_cents": [1000]}),
        {EVIL: 0.5},
        "EUR",
    ),
}


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_user_derived_names_are_escaped_in_the_figure(name):
    # what Dash sends, whether the builder returns a go.Figure or a plain dict
    texts = _strings(json.loads(to_json_plotly(FIGURES[name]())))
    assert not [t for t in texts if "<a " in t or "<b>" in t], "markup reached the figure"
    assert any(SHOWN in t for t in texts), "the name is shown, escaped"


def test_escaping_does_not_change_what_a_click_or_benchmark_reads():
    platforms = FIGURES["platforms"]()
    assert list(platforms["data"][0]["customdata"]) == ["web"]  # the code a click filters by
    costs = FIGURES["event costs"]()
    assert list(costs["data"][1]["x"]) == [50.0]  # the benchmark was found under the real name


def test_a_long_callback_name_is_cut_before_it_is_escaped():
    fig = ops_performance_view.latency_bars(
        [
            {
                "method": "POST",
                "name": "x" * 56 + "&" * 10,
                "count": 1,
                "errors": 0,
                "p50_ms": 1.0,
                "p95_ms": 1.0,
            }
        ],
        "callbacks",
    )
    assert list(fig.data[0].y) == ["x" * 56 + "&amp;" + "…"]
