"""The chart browser's life: started by the first chart, replaced after CHARTS_PER_BROWSER charts
when none is being drawn, closed when the last report leaves :func:`charts.in_use` (real
kaleido and the system's Chromium headless shell)."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from bi_app.reports import charts


@pytest.fixture(autouse=True)
def fresh_browser():
    charts.stop()
    yield
    charts.stop()


def _figure(n: int) -> go.Figure:
    return go.Figure(go.Bar(x=["a", "b", "c"], y=[n, n + 1, n + 2]))


def _browser():
    return charts._server._kaleido


def test_a_browser_draws_a_few_charts_then_a_fresh_one_takes_over():
    first_svg = charts.figure_to_svg(_figure(1))
    assert first_svg.lstrip().startswith("<svg")
    first = _browser()
    for n in range(2, charts.CHARTS_PER_BROWSER + 1):
        charts.figure_to_svg(_figure(n))
        assert _browser() is first
    charts.figure_to_svg(_figure(99))
    assert _browser() is not None and _browser() is not first


def test_the_last_report_out_closes_the_browser_and_the_next_chart_starts_one():
    with charts.in_use():
        with charts.in_use():  # a second report at the same time
            charts.figure_to_svg(_figure(1))
        assert _browser() is not None  # the first report is still drawing
    assert _browser() is None
    with charts.in_use():
        assert "<svg" in charts.figure_to_svg(_figure(2))
    assert _browser() is None
