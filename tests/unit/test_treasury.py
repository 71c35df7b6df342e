"""Treasury: the pure flow-of-funds, recommendation and pattern functions
(bi_app/analytics/flow_pattern.py), the window parsing and the page builders
(components/treasury_*.py). Every expected value was worked out by hand."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pandas as pd
import plotly.graph_objects as go
import pytest
from dash.html import Div

from bi_app.analytics import flow_pattern as fp
from bi_app.analytics.flow_pattern import Edge, Pattern, Recommendation, Totals
from bi_app.data.treasury import Overview, Volume, grain_of, offset_segments
from components import treasury_figures as figs
from components.ids import Treasury
from components.treasury_view import parse_window, picked_window
from tests.ui_tree import by_id, texts

D = dt.date
T = dt.datetime

# --- flow edges and totals ------------------------------------------------------------------

# the demo's day in small: settlements on clearing, a fee, clearing -> operating, the evening
# sweep to the reserve, a top-up back, the weekly move to cold, suppliers, account fees
SUMS = {
    ("hot", "deposit"): (10_000, 0),
    ("hot", "fee"): (0, 140),
    ("hot", "sweep"): (9_000 + 500, 9_000 + 3_000),  # 9 000 clearing -> operating stays hot
    ("hot", "withdrawal"): (0, 4_000),
    ("warm", "sweep"): (3_000, 500),
    ("warm", "cold_storage"): (0, 2_000),
    ("warm", "fee"): (0, 35),
    ("cold", "cold_storage"): (2_000, 0),
    ("cold", "fee"): (0, 35),
}


def test_flow_edges_map_kinds_to_tiers():
    assert fp.flow_edges(SUMS) == [
        Edge("deposits", "hot", 10_000),
        Edge("hot", "warm", 3_000),
        Edge("hot", "withdrawals", 4_000),
        Edge("hot", "fees", 140),
        Edge("warm", "hot", 500),
        Edge("warm", "cold", 2_000),
        Edge("warm", "fees", 35),
        Edge("cold", "fees", 35),
    ]
    assert fp.flow_edges({}) == []


def test_flow_edges_of_opening_deposits_and_a_release_from_cold():
    sums = {("warm", "deposit"): (700, 0), ("warm", "cold_storage"): (300, 0)}
    sums[("cold", "cold_storage")] = (0, 300)
    assert fp.flow_edges(sums) == [Edge("deposits", "warm", 700), Edge("cold", "warm", 300)]


def test_flow_totals_leave_internal_transfers_out():
    totals = fp.flow_totals(SUMS)
    assert totals == Totals(10_000, 4_000 + 140 + 35 + 35)
    assert totals.net == 10_000 - 4_210
    # a refunded fee is inflow, a reversed deposit outflow
    assert fp.flow_totals({("hot", "fee"): (50, 10), ("hot", "deposit"): (0, 20)}) == Totals(50, 30)


# --- recommendations ------------------------------------------------------------------------


def test_cold_share_below_70_percent_says_how_much_to_move():
    # total 100 000, cold 60 000 (60 %): 70 000 − 60 000 = 10 000 brings it to exactly 70 %
    (rec,) = fp.recommendations({"hot": 10_000, "warm": 30_000, "cold": 60_000}, 1_000)
    assert rec == Recommendation("move_to_cold", 10_000, 0.6, 0.7)


def test_move_amount_rounds_up_to_a_whole_minor_unit():
    # total 3, cold 0: 0.7 * 3 = 2.1 -> 3 (2 would leave the share at 66.7 %)
    (rec,) = fp.recommendations({"hot": 0, "warm": 3, "cold": 0}, 0)
    assert (rec.kind, rec.amount) == ("move_to_cold", 3)


def test_hot_below_half_of_daily_withdrawals_says_how_much_to_top_up():
    # average 30 000 a day: hot needs 15 000, has 4 000 -> top up 11 000; cold 80 % is fine
    recs = fp.recommendations({"hot": 4_000, "warm": 16_000, "cold": 80_000}, Fraction(30_000))
    assert recs == [Recommendation("top_up_hot", 11_000, 4_000.0, 15_000.0)]


def test_both_recommendations_and_the_balanced_note():
    recs = fp.recommendations({"hot": 100, "warm": 900, "cold": 1_000}, 1_000)
    assert [(r.kind, r.amount) for r in recs] == [("move_to_cold", 400), ("top_up_hot", 400)]
    # exactly 70 % cold and exactly half a day of withdrawals: balanced
    assert fp.recommendations({"hot": 500, "warm": 2_500, "cold": 7_000}, 1_000) == [
        Recommendation("balanced")
    ]
    # no funds at all: no share to judge, nothing withdrawn: balanced
    assert fp.recommendations({}, 0) == [Recommendation("balanced")]


def test_shares():
    assert fp.shares({"hot": 1, "warm": 1, "cold": 2}) == {"hot": 0.25, "warm": 0.25, "cold": 0.5}
    assert fp.shares({}) == {"hot": None, "warm": None, "cold": None}


# --- the flow pattern -----------------------------------------------------------------------


def test_spike_one_bucket_far_above_the_rest():
    series = [10.0] * 23 + [200.0]
    p = fp.classify(series)
    # the rest: mean 10, std 0, median 10 -> the line is max(10 + 0, 3 * 10) = 30
    assert (p.kind, p.basis, p.index, p.peak, p.threshold, p.median) == (
        "spike",
        "peak",
        23,
        200.0,
        30.0,
        10.0,
    )


def test_two_high_buckets_are_not_a_spike():
    p = fp.classify([10.0] * 22 + [200.0, 190.0])
    assert p.kind != "spike"


def test_burst_several_consecutive_high_buckets():
    series = [10, 12, 9, 11, 10, 50, 60, 55, 10, 11, 9, 10, 12, 10, 11, 9, 10, 10]
    p = fp.classify(series)
    # median of the buckets with movement: 10 -> line 30; 50, 60, 55 are above it, in a row
    assert (p.kind, p.index, p.length, p.peak, p.threshold) == ("burst", 5, 3, 60.0, 30.0)


def test_two_bursts_are_a_rhythm_not_a_burst():
    series = [10, 12, 9, 11, 10, 50, 60, 55, 10, 11, 9, 10, 12, 10, 50, 60, 55, 9, 10, 10]
    assert fp.classify(series).kind == "normal"


def test_regular_by_low_coefficient_of_variation():
    p = fp.classify([10, 12, 9, 11, 10, 11, 10, 12])
    # mean 10.625, population std 0.992 -> cv 0.0934
    assert (p.kind, p.basis) == ("regular", "cv")
    assert p.cv == pytest.approx(0.0934, abs=1e-4)


def test_regular_by_a_daily_rhythm():
    day = [0] * 6 + [100, 120, 90] + [0] * 15
    p = fp.classify(day * 3, period=24)
    assert (p.kind, p.basis, p.autocorr) == ("regular", "daily", pytest.approx(1.0))
    # without the period the same series is just uneven
    assert fp.classify(day * 3).kind == "normal"


def test_normal_and_too_few():
    p = fp.classify([0, 5, 30, 2, 0, 40, 1, 0, 25, 3, 0, 12])
    assert (p.kind, p.basis, p.index, p.peak, p.median) == ("normal", "none", 5, 40.0, 8.5)
    assert fp.classify([0, 0, 0, 0]) == Pattern("normal", "too_few")
    assert fp.classify([5, 5]).basis == "too_few"


# --- window and buckets ---------------------------------------------------------------------


def test_parse_window_defaults_and_notices():
    latest = D(2024, 3, 31)
    w = parse_window({}, latest)
    assert (w.start, w.end, w.notices) == (D(2024, 3, 25), latest, [])
    w = parse_window({"start": "2024-03-01", "end": "2024-03-05"}, latest)
    assert (w.start, w.end, w.notices) == (D(2024, 3, 1), D(2024, 3, 5), [])
    w = parse_window({"start": "yesterday", "end": "2024-03-05"}, latest)
    assert (w.start, w.end) == (D(2024, 3, 25), latest)
    assert w.notices == ["Invalid date 'yesterday'; showing the last 7 days."]
    w = parse_window({"start": "2024-03-05", "end": "2024-03-01"}, latest)
    assert (w.start, w.end) == (D(2024, 3, 1), D(2024, 3, 5)) and len(w.notices) == 1
    w = parse_window({"start": "2020-01-01", "end": "2024-03-31"}, latest)
    assert (w.start, w.end) == (D(2023, 4, 1), latest)  # 366 days up to the end
    assert "366" in w.notices[0]
    w = parse_window({"end": "2024-02-10"}, latest)
    assert (w.start, w.end) == (D(2024, 2, 4), D(2024, 2, 10))
    w = parse_window({"start": "0001-01-01"}, latest)
    assert (w.start, w.end) == (D(2024, 3, 25), latest) and w.notices
    assert picked_window(None, "2024-03-01") is None
    assert picked_window("2024-03-01T00:00:00", "2024-03-02").end == D(2024, 3, 2)


def test_grain_and_offset_segments():
    assert grain_of(D(2024, 3, 1), D(2024, 3, 1)) == "minute"
    assert grain_of(D(2024, 3, 1), D(2024, 3, 2)) == "hour"
    assert offset_segments(T(2024, 3, 9, 15), T(2024, 3, 11, 15), "Asia/Seoul") == [
        (T(2024, 3, 9, 15), 9 * 3600)
    ]
    # Berlin springs forward at 01:00 UTC on 2024-03-31 and falls back at 01:00 UTC on 10-27
    assert offset_segments(T(2024, 3, 30, 23), T(2024, 3, 31, 22), "Europe/Berlin") == [
        (T(2024, 3, 30, 23), 3600),
        (T(2024, 3, 31, 1), 7200),
    ]
    assert offset_segments(T(2024, 10, 26, 22), T(2024, 10, 27, 23), "Europe/Berlin") == [
        (T(2024, 10, 26, 22), 7200),
        (T(2024, 10, 27, 1), 3600),
    ]


# --- builders -------------------------------------------------------------------------------


def _overview(balances=None, sums=SUMS, average=Fraction(3_000)) -> Overview:
    balances = balances or {"hot": 2_000, "warm": 28_000, "cold": 70_000}
    return Overview(
        currency="EUR",
        start=D(2024, 3, 4),
        end=D(2024, 3, 10),
        balances=balances,
        sums=sums,
        average_daily_withdrawals=average,
        totals=fp.flow_totals(sums),
        edges=fp.flow_edges(sums),
        recommendations=fp.recommendations(balances, average),
        shares=fp.shares(balances),
    )


def test_kpi_cards_show_balances_shares_and_flows():
    cards = figs.kpi_cards(_overview())
    shown = {str(k): texts(v) for k, v in by_id(Div(cards)).items()}
    assert shown[str(Treasury.kpi_card("total"))][:2] == ["Total balance", "€1,000.00"]
    assert shown[str(Treasury.kpi_card("hot"))] == ["Hot", "€20.00", "2.0% of the total"]
    assert shown[str(Treasury.kpi_card("cold"))] == [
        "Cold storage",
        "€700.00",
        "70.0% of the total",
    ]
    assert shown[str(Treasury.kpi_card("inflow"))][:2] == ["Inflow", "€100.00"]
    assert shown[str(Treasury.kpi_card("outflow"))][:2] == ["Outflow", "€42.10"]
    assert shown[str(Treasury.kpi_card("net"))][:2] == ["Net flow", "€57.90"]
    assert shown[str(Treasury.kpi_card("withdrawals"))][:2] == [
        "Average daily withdrawals",
        "€30.00",
    ]


def test_kpi_cards_in_won_have_no_decimals():
    o = _overview()
    o = Overview(**{**o.__dict__, "currency": "KRW"})
    shown = {str(k): texts(v) for k, v in by_id(Div(figs.kpi_cards(o))).items()}
    assert shown[str(Treasury.kpi_card("total"))][1] == "₩100,000"


def test_recommendation_texts():
    move = Recommendation("move_to_cold", 10_000, 0.6, 0.7)
    assert figs.recommendation_text(move, "EUR") == (
        "Cold storage holds 60.0% of the funds, below the 70.0% minimum: move €100.00 to cold "
        "storage to reach 70.0%."
    )
    top = Recommendation("top_up_hot", 11_000, 4_000.0, 15_000.0)
    assert figs.recommendation_text(top, "KRW") == (
        "The hot balance of ₩4,000 is below 50% of the average daily withdrawals (₩15,000): "
        "top up hot by ₩11,000."
    )
    assert figs.recommendation_text(Recommendation("balanced"), "EUR").startswith(
        "Balanced: cold storage holds at least 70% of the funds"
    )
    # 2 000 hot < half of 30 000... no: the average is 3 000 a day, half is 1 500: balanced
    items = texts(figs.recommendation_list(_overview()))
    assert len(items) == 1 and items[0].startswith("Balanced")


def test_sankey_figure():
    fig = figs.sankey_figure(_overview())
    assert isinstance(fig, go.Figure)
    (sankey,) = fig.data
    assert sankey.type == "sankey"
    labels = list(sankey.node.label)
    assert labels == [
        "External deposits",
        "Hot",
        "Warm",
        "Cold storage",
        "External withdrawals",
        "Fees",
    ]
    links = list(
        zip(
            [labels[i] for i in sankey.link.source],
            [labels[i] for i in sankey.link.target],
            sankey.link.value,
        )
    )
    # hot -> warm 3 000 and warm -> hot 500 are drawn as one edge of 2 500
    assert links == [
        ("External deposits", "Hot", 100.0),
        ("Hot", "Warm", 25.0),
        ("Hot", "External withdrawals", 40.0),
        ("Hot", "Fees", 1.4),
        ("Warm", "Cold storage", 20.0),
        ("Warm", "Fees", 0.35),
        ("Cold storage", "Fees", 0.35),
    ]
    assert sankey.link.customdata[0] == "External deposits → Hot: €100.00"
    assert sankey.link.customdata[1] == "Hot → Warm: €25.00 net (€30.00 there, €5.00 back)"
    # transfers that cancel out are not drawn
    assert figs.net_edges([Edge("hot", "warm", 5), Edge("warm", "hot", 5)]) == []
    empty = figs.sankey_figure(_overview(sums={}))
    assert empty["layout"]["annotations"][0]["text"] == "No money moved in the selected window"


def _volume(values_in, values_out, grain="hour", pattern=None) -> Volume:
    step = dt.timedelta(hours=1) if grain == "hour" else dt.timedelta(minutes=1)
    buckets = [T(2024, 3, 10) + i * step for i in range(len(values_in))]
    frame = pd.DataFrame(
        {
            "bucket": pd.Series(buckets, dtype="datetime64[us]"),
            "inflow": pd.array(values_in, dtype="int64"),
            "outflow": pd.array(values_out, dtype="int64"),
        }
    )
    totals = [i + o for i, o in zip(values_in, values_out)]
    period = 24 if grain == "hour" else None
    return Volume("EUR", grain, frame, pattern or fp.classify(totals, period=period))


def test_volume_figure_draws_inflow_up_and_outflow_down():
    v = _volume([0, 1_000, 0, 500], [0, 0, 250, 0])
    fig = figs.volume_figure(v)
    inflow, outflow = fig.data
    assert (inflow.type, inflow.name, outflow.name) == ("bar", "Inflow", "Outflow")
    assert list(inflow.x) == ["2024-03-10T01:00:00", "2024-03-10T02:00:00", "2024-03-10T03:00:00"]
    assert list(inflow.y) == [10.0, 0.0, 5.0] and list(outflow.y) == [0.0, -2.5, 0.0]
    assert fig.layout.barmode == "relative"
    empty = figs.volume_figure(_volume([0, 0], [0, 0]))
    assert empty["layout"]["annotations"][0]["text"] == "No money moved in the selected window"


def test_pattern_reasons_cite_the_numbers():
    spike = _volume([1_000] * 23 + [20_000], [0] * 24)
    assert spike.pattern.kind == "spike"
    reason = figs.pattern_reason(spike)
    assert "€200.00" in reason and "23:00" in reason and "€30.00" in reason
    assert "€10.00" in reason  # the median of the others
    view = figs.pattern_view(spike)
    assert texts(view)[0] == "Spike"

    burst = _volume([1_000] * 5 + [5_000, 6_000, 5_500] + [1_000] * 10, [0] * 18, grain="minute")
    assert burst.pattern.kind == "burst"
    reason = figs.pattern_reason(burst)
    assert reason.startswith("3 busy minutes in a row from") and "00:05" in reason
    assert "€60.00" in reason and "€30.00" in reason

    even = _volume([1_000, 1_200, 900, 1_100, 1_000, 1_100, 1_000, 1_200], [0] * 8)
    assert (
        figs.pattern_reason(even) == "Even flow: the coefficient of variation is 0.09 (below 0.50)."
    )
    daily = _volume(([0] * 6 + [100, 120, 90] + [0] * 15) * 3, [0] * 72)
    assert daily.pattern.basis == "daily"
    assert "autocorrelation at one day 1.00" in figs.pattern_reason(daily)
    quiet = _volume([0] * 5, [0] * 5)
    assert figs.pattern_reason(quiet) == "Too few movements in the window to judge a pattern."


def test_counterparty_columns_and_rows():
    columns = figs.counterparty_columns()
    assert [(c.field, c.kind) for c in columns] == [
        ("name", "text"),
        ("kind", "text"),
        ("transactions", "int"),
        ("inflow", "money"),
        ("outflow", "money"),
        ("volume", "money"),
        ("share", "percent"),
    ]
    df = pd.DataFrame(
        {
            "name": ["Bank A", ""],
            "kind": ["bank", "unknown"],
            "transactions": [2, 1],
            "inflow": [0, 3_000],
            "outflow": [95, 0],
            "volume": [95, 3_000],
            "share": [0.03, 0.97],
        }
    )
    rows = figs.counterparty_rows(df)
    assert rows[["name", "kind"]].values.tolist() == [
        ["Bank A", "Bank"],
        ["Not on file", "Not on file"],
    ]


def test_no_accounts():
    cards, _recs, sankey = figs.position_view(None)
    assert texts(cards) == ["No treasury accounts yet."]
    assert sankey["layout"]["annotations"][0]["text"] == "No treasury accounts yet."
    assert figs.volume_view(None)[1] is None


# --- callbacks (called as plain functions, the data module stubbed) ---------------------------


def test_callbacks_hand_the_window_to_the_data_layer(monkeypatch):
    from dash.exceptions import PreventUpdate

    from bi_app.data import treasury as data
    from callbacks import treasury as cb
    from callbacks._registry import call

    seen = []

    def overview(start, end, currency):
        seen.append((start, end, currency))
        return _overview()

    monkeypatch.setattr(data, "overview", overview)
    cards, recs, sankey, message = call(cb.show_position, "2024-03-04", "2024-03-10", "EUR")
    assert seen == [("2024-03-04", "2024-03-10", "EUR")]
    assert len(cards) == 8 and isinstance(sankey, go.Figure) and message is None
    assert texts(recs)[0].startswith("Balanced")
    # swapped dates are put in order; a missing one or a foreign currency value changes nothing
    call(cb.show_position, "2024-03-10", "2024-03-04", "EUR")
    assert seen[-1] == ("2024-03-04", "2024-03-10", "EUR")
    for start, end, currency in (
        (None, "2024-03-10", "EUR"),
        ("x", "y", "EUR"),
        ("2024-03-04", "2024-03-10", 5),
    ):
        with pytest.raises(PreventUpdate):
            call(cb.show_position, start, end, currency)
    notices, is_open = call(cb.show_window_notice, "2024-03-10", "2024-03-04")
    assert is_open and texts(notices[0]) == [
        "The start date was after the end date; the two were swapped."
    ]


def test_a_failing_service_shows_a_readable_message(monkeypatch):
    from bi_app.data import treasury as data
    from callbacks import treasury as cb
    from callbacks._registry import call

    def broken(*_args):
        raise RuntimeError("could not connect to server at 10.0.0.5")

    monkeypatch.setattr(data, "volume", broken)
    figure, pattern, message = call(cb.show_volume, "2024-03-04", "2024-03-10", "EUR")
    assert pattern is None
    assert "10.0.0.5" not in str(message) and "Volume over time" in texts(message)[0]
    assert figure["layout"]["annotations"][0]["text"] == "Volume over time is unavailable right now"


# --- unusual transactions -------------------------------------------------------------------


def _findings_frame() -> pd.DataFrame:
    from bi_app.data.treasury import FINDING_COLUMNS

    return pd.DataFrame(
        [
            (T(2024, 3, 9, 15), "TX-7", "HOT-2", "hot", "Customer C", "deposit", 5_000, 0.8123,
             "critical", ["abnormal_amount", "unusual_hour"], "block_and_review", False, 41),
            (T(2024, 3, 11, 2), "TX-18", "HOT-1", "hot", "", "withdrawal", -3_000, 0.05,
             None, [], "log", True, None),
        ],
        columns=list(FINDING_COLUMNS),
    )  # fmt: skip


def test_finding_rows_translate_codes_and_link_the_alert():
    rows = figs.finding_rows(_findings_frame(), "Asia/Seoul")
    first, second = rows.to_dict("records")
    assert first == {
        "time": "2024-03-10 00:00:00",  # UTC+9
        "reference": "TX-7",
        "account": "HOT-2",
        "counterparty": "Customer C",
        "kind": "Deposit",
        "amount": 5_000,
        "level": "Critical",
        "level_class": "alert-sev alert-sev-emergency",
        "score": 0.812,
        "factors": "Abnormal amount, Unusual hour",
        "action": "Block and review",
        "large": "No",
        "alert": "[#41](/ops/alerts?alert=41)",
    }
    assert (second["level"], second["level_class"], second["large"]) == (
        "Large transaction",
        "",
        "Yes",
    )
    assert (second["counterparty"], second["factors"], second["alert"]) == ("Not on file", "", "")
    assert second["action"] == "Log" and second["kind"] == "Withdrawal"


def test_finding_rows_go_through_the_translation(monkeypatch):
    monkeypatch.setattr(figs, "_", lambda text, **_kw: f"<{text}>")
    (first, second) = figs.finding_rows(_findings_frame(), "UTC").to_dict("records")
    assert (first["level"], first["factors"], first["action"], first["large"]) == (
        "<Critical>",
        "<Abnormal amount>, <Unusual hour>",
        "<Block and review>",
        "<No>",
    )
    assert (second["level"], second["kind"]) == ("<Large transaction>", "<Withdrawal>")


def test_findings_grid_and_messages():
    from bi_app.data.treasury import Findings
    from components.ids import Grid

    card = figs.findings_grid("EUR", "UTC", can_download=True)
    grid = by_id(card)[str(Grid.grid(Treasury.FINDINGS_GRID_NAME))]
    defs = {d["field"]: d for d in grid.columnDefs}
    assert defs["alert"]["cellRenderer"] == "markdown"
    assert defs["level"]["cellClass"] == {"function": "params.data.level_class"}
    assert "biNumber" in defs["amount"]["valueFormatter"]["function"]
    assert "Unusual transactions" in texts(card)
    assert texts(figs.findings_message(Findings("EUR", False, _findings_frame().head(0)))) == [
        "The transaction scoring job has not run yet."
    ]
    assert texts(figs.findings_message(Findings("EUR", True, _findings_frame().head(0)))) == [
        "No unusual transactions in this window."
    ]
    assert figs.findings_message(Findings("EUR", True, _findings_frame())) is None


def test_findings_callback_rows_in_major_units(monkeypatch):
    from bi_app.data import treasury as data
    from bi_app.data.treasury import Findings
    from callbacks import treasury as cb
    from callbacks._registry import call
    from components.data_grid import column_spec

    seen = []

    def findings(start, end, currency):
        seen.append((start, end, currency))
        return Findings("EUR", True, _findings_frame())

    monkeypatch.setattr(data, "findings", findings)
    spec = column_spec(figs.finding_columns("UTC"))
    rows, message = call(cb.show_findings, "2024-03-10", "2024-03-11", "EUR", spec)
    assert seen == [("2024-03-10", "2024-03-11", "EUR")] and message is None
    assert [r["amount"] for r in rows] == [50.0, -30.0]
    assert rows[0]["alert"] == "[#41](/ops/alerts?alert=41)"

    # downloadable like every grid: the rows as the browser sends them back, in each format
    from bi_app.export import columns_from_spec, export_rows

    for fmt in ("csv", "xlsx", "json"):
        file = export_rows(rows, columns_from_spec(spec), fmt, name="findings", now=T(2024, 3, 12))
        assert file.content
    csv = export_rows(rows, columns_from_spec(spec), "csv", name="f", now=T(2024, 3, 12))
    text = csv.content.decode("utf-8-sig")
    assert "Risk level" in text and "TX-7" in text and "Block and review" in text
