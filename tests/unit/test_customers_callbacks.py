"""Customers page callbacks (callbacks/customers.py) called as plain functions.

The services they call are stubbed on the module attribute the callback reads
(``bi_app.data.customers.<function>``, ``callbacks.customers.resolve_filters``, ...); a bare
Flask app carries the settings ``current_settings()`` reads. No database, no browser.
"""

from __future__ import annotations

import datetime as dt
import logging

import flask
import pandas as pd
import pytest
from dash import no_update
from dash.exceptions import PreventUpdate

from bi_app.analytics.kpi import Kpi
from bi_app.data import catalog
from bi_app.data import customers as data
from bi_app.filters import Filters
from callbacks import customers as cb
from callbacks._registry import call
from tests.conftest import make_settings

START, END = dt.date(2024, 1, 1), dt.date(2024, 3, 31)


@pytest.fixture(autouse=True)
def app_context():
    app = flask.Flask(__name__)
    app.config["BI_SETTINGS"] = make_settings("sqlite://", currency="EUR", timezone="Europe/Berlin")
    with app.app_context():
        yield app


@pytest.fixture
def filters(monkeypatch):
    """resolve_filters stubbed: records what the browser sent, returns fixed valid filters."""
    received = []
    resolved = Filters(START, END, ("web",), None)

    def fake(start, end, platforms, categories):
        received.append((start, end, platforms, categories))
        return resolved

    monkeypatch.setattr(cb, "resolve_filters", fake)
    return received


def _recorder(monkeypatch, name, result):
    calls = []

    def fake(*args, **kwargs):
        calls.append((args, kwargs))
        return result

    monkeypatch.setattr(data, name, fake)
    return calls


def _failing(monkeypatch, *names):
    def boom(*args, **kwargs):
        raise RuntimeError("connection refused by 10.0.0.5")  # driver text: must not reach the page

    for name in names:
        monkeypatch.setattr(data, name, boom)


def _error_text(what: str) -> str:
    return (
        f"{what} is unavailable right now. The rest of the page still works; try again in a moment."
    )


def _assert_error_alert(alert, what: str) -> None:
    assert type(alert).__name__ == "Alert"
    assert alert.color == "danger"
    assert alert.children == _error_text(what)
    assert "10.0.0.5" not in alert.children


def _message(fig) -> str:
    assert len(fig["data"]) == 0
    (annotation,) = fig["layout"]["annotations"]
    return annotation["text"]


def _logged(caplog, text: str) -> logging.LogRecord:
    found = [
        r for r in caplog.records if r.name == "callbacks.customers" and text in r.getMessage()
    ]
    assert found, f"nothing logged with {text!r}"
    record = found[0]
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None and "10.0.0.5" in str(record.exc_info[1])
    return record


# --- KPIs ----------------------------------------------------------------------------------------


def test_show_kpis_hands_the_resolved_filters_to_the_service_and_its_kpis_to_the_cards(
    monkeypatch, filters
):
    kpis = [
        Kpi("buyers", "Active customers", 1234, 1000, 23.4, "count"),
        Kpi("conversion", "Conversion rate", 0.25, None, None, "percent"),
        Kpi("clv", "Lifetime value per customer", 9950, 10000, -0.5, "money"),
    ]
    calls = _recorder(monkeypatch, "customer_kpis", kpis)
    cols = call(cb.show_kpis, "2024-01-01", "2024-03-31", ["web"], None)
    assert filters == [("2024-01-01", "2024-03-31", ["web"], None)]
    assert calls == [((START, END, ("web",), None), {})]
    values = [c.children.children.children[1].children for c in cols]
    assert values == ["1,234", "25.0%", "€99.50"]  # the app's currency is EUR


def test_show_kpis_with_invalid_filters_queries_the_safe_default(monkeypatch):
    """Real resolve_filters over a stubbed catalogue: bad dates -> the last 90 days of data,
    unknown platform codes dropped."""
    monkeypatch.setattr(
        catalog,
        "platforms",
        lambda: [{"code": "web", "name": "Web"}, {"code": "app", "name": "App"}],
    )
    monkeypatch.setattr(catalog, "categories", lambda: [{"code": "shoes", "name": "Shoes"}])
    monkeypatch.setattr(catalog, "data_bounds", lambda: (dt.date(2023, 1, 1), dt.date(2024, 6, 30)))
    calls = _recorder(monkeypatch, "customer_kpis", [])
    assert call(cb.show_kpis, "2024-13-45", "not a date", ["app", "<script>"], ["bogus"]) == []
    # 2024-06-30 minus 89 days is 2024-04-02
    assert calls == [((dt.date(2024, 4, 2), dt.date(2024, 6, 30), ("app",), None), {})]


def test_show_kpis_failing_service_shows_a_readable_message_and_logs(monkeypatch, filters, caplog):
    _failing(monkeypatch, "customer_kpis")
    with caplog.at_level(logging.ERROR, logger="callbacks.customers"):
        alert = call(cb.show_kpis, None, None, None, None)
    _assert_error_alert(alert, "Key figures")
    # logged with the filters it was asked for
    _logged(caplog, "show_kpis failed for inputs")


# --- cohorts -------------------------------------------------------------------------------------


def test_show_cohorts_draws_the_service_table(monkeypatch, filters):
    table = pd.DataFrame(
        [(dt.date(2024, 1, 1), 0, 20, 20, 1.0), (dt.date(2024, 1, 1), 1, 5, 20, 0.25)],
        columns=["cohort", "months_since", "customers", "cohort_size", "retention"],
    )
    calls = _recorder(monkeypatch, "cohort_retention", table)
    fig = call(cb.show_cohorts, "2024-01-01", "2024-03-31", ["web"], None)
    assert calls == [((START, END, ("web",), None), {})]
    assert list(fig.data[0].y) == ["Jan 2024 (20)"]
    assert [list(r) for r in fig.data[0].text] == [["100%", "25%"]]


def test_show_cohorts_failing_service(monkeypatch, filters, caplog):
    _failing(monkeypatch, "cohort_retention")
    with caplog.at_level(logging.ERROR, logger="callbacks.customers"):
        fig = call(cb.show_cohorts, None, None, None, None)
    assert _message(fig) == "Cohort retention is unavailable right now"
    _logged(caplog, "show_cohorts failed for inputs")


# --- segment trend and movement ------------------------------------------------------------------


def _matrix(first_row) -> pd.DataFrame:
    rows = [first_row] + [[0, 0, 0, 0]] * 4
    return pd.DataFrame(
        rows,
        index=["none", "new", "growing", "loyal", "vip"],
        columns=["new", "growing", "loyal", "vip"],
        dtype="int64",
    )


def test_show_movement_ignores_platforms_and_labels_the_period(monkeypatch, filters):
    trend = pd.DataFrame(
        [
            (dt.date(2024, 1, 1), s, n)
            for s, n in (("new", 4), ("growing", 3), ("loyal", 2), ("vip", 1))
        ],
        columns=["month", "segment", "customers"],
    )
    trend_calls = _recorder(monkeypatch, "segment_trend", trend)
    move_calls = _recorder(monkeypatch, "segment_movement", _matrix([8, 1, 0, 0]))
    trend_fig, move_fig = call(cb.show_movement, "2024-01-01", "2024-03-31", 1)
    assert filters == [("2024-01-01", "2024-03-31", None, None)]  # segments have no platform
    assert trend_calls == move_calls == [((START, END), {})]
    assert [list(t.y) for t in trend_fig.data] == [[4], [3], [2], [1]]
    assert list(move_fig.data[0].z[0]) == [8, 1, 0, 0]
    assert move_fig.layout.xaxis.title.text == "Segment at the end of Mar 2024"
    assert move_fig.layout.yaxis.title.text == "Before Jan 2024"


def test_show_movement_failing_service_blanks_both_figures(monkeypatch, filters, caplog):
    _recorder(monkeypatch, "segment_trend", pd.DataFrame(columns=["month", "segment", "customers"]))
    _failing(monkeypatch, "segment_movement")
    with caplog.at_level(logging.ERROR, logger="callbacks.customers"):
        figs = call(cb.show_movement, None, None, None)
    assert [_message(f) for f in figs] == ["Segment movement is unavailable right now"] * 2
    _logged(caplog, "show_movement failed for inputs")


# --- profiles ------------------------------------------------------------------------------------


def _profile_stubs(monkeypatch):
    summary = pd.DataFrame(
        {
            "segment": ["new", "growing", "loyal", "vip"],
            "customers": [6, 2, 1, 1],
            "revenue_cents": [100, 200, 300, 400],
            "customer_share": [0.6, 0.2, 0.1, 0.1],
            "revenue_share": [0.1, 0.2, 0.3, 0.4],
        }
    )
    tags = pd.DataFrame(
        {
            "tag": [
                "new_customer_followup",
                "new_customer_at_risk",
                "reactivation_needed",
                "growing_delayed",
                "loyal_delayed",
            ],
            "customers": [1, 2, 3, 4, 5],
        }
    )
    rfm = pd.DataFrame(
        [(1, 1, 9, 1.5, 100)],
        columns=["recency", "frequency", "customers", "monetary_avg", "spend_cents"],
    )
    status = {
        "as_of": dt.date(2024, 3, 31),
        "computed_at": dt.datetime(2024, 3, 31, 23, 15),
        "customers": 10,
        "tagged": 15,
    }
    for name, value in (
        ("segment_summary", summary),
        ("tag_counts", tags),
        ("rfm_grid", rfm),
        ("stats_status", status),
    ):
        _recorder(monkeypatch, name, value)


def test_show_profiles_highlights_the_chosen_segment_and_dates_the_stats_locally(monkeypatch):
    _profile_stubs(monkeypatch)
    segments, tags, rfm, status = call(cb.show_profiles, None, "growing")
    grey = "rgba(128,128,128,0.35)"
    assert list(segments.data[0].marker.color) == [grey, "#20c997", grey, grey]
    assert list(segments.data[0].y) == [6, 2, 1, 1]
    assert list(tags.data[0].x) == [1, 2, 3, 4, 5]
    assert rfm.data[0].z[0][0] == 9
    # 23:15 UTC on 31 March is 01:15 CEST on 1 April in Berlin (the app's time zone)
    assert status == (
        "Profiles, segments and tags as of 2024-03-31, computed 2024-04-01 01:15: "
        "10 customers, 15 tagged."
    )


@pytest.mark.parametrize("broken", ["segment_summary", "tag_counts", "rfm_grid", "stats_status"])
def test_show_profiles_any_failing_service_blanks_the_profile_cards(monkeypatch, caplog, broken):
    _profile_stubs(monkeypatch)
    _failing(monkeypatch, broken)
    with caplog.at_level(logging.ERROR, logger="callbacks.customers"):
        *figs, status = call(cb.show_profiles, None, None)
    assert [_message(f) for f in figs] == ["Customer profiles is unavailable right now"] * 3
    _assert_error_alert(status, "Customer profiles")
    _logged(caplog, "show_profiles failed for inputs")


# --- the list ------------------------------------------------------------------------------------


def _page_rows():
    return pd.DataFrame(
        {
            "customer_id": [4, 9],
            "customer": ["Ann", "Bo"],
            "tags": ["loyal_delayed", ""],
            "tag_since": [dt.date(2024, 3, 10), None],
            "spend_cents": [123_456, 50],
            "last_visit": [dt.date(2024, 3, 2), None],
        }
    )


def _request(start=0, end=100, sort=None):
    return {"startRow": start, "endRow": end, "sortModel": sort or [], "filterModel": {}}


QUERY = {"segment": "vip", "tag": "loyal_delayed", "search": "ann", "refreshed": 3}


def test_list_query_drops_unknown_segments_and_tags_and_caps_the_search():
    assert call(cb.list_query, "vip", "loyal_delayed", "  ANN ", 3) == QUERY
    assert call(cb.list_query, "gold", "'; drop table", "x" * 250, None) == {
        "segment": None,
        "tag": None,
        "search": "x" * 100,
        "refreshed": None,
    }
    assert call(cb.list_query, ["vip"], 5, "  ", 0)["search"] is None
    assert call(cb.list_query, None, "at-risk", None, 0)["tag"] == "at-risk"  # any tag


def test_serve_rows_answers_the_block_with_its_rows_and_the_total(monkeypatch):
    pages = _recorder(monkeypatch, "customer_page", _page_rows())
    counts = _recorder(monkeypatch, "customer_count", 7)
    response, count, total, keys, message = call(cb.serve_rows, _request(), QUERY, None, None)
    assert pages == [
        (
            (),
            {
                "start": 0,
                "end": 100,
                "segment": "vip",
                "tag": "loyal_delayed",
                "search": "ann",
                "sort": "spend_cents",
                "descending": True,
                "after": None,
            },
        )
    ]
    # the block's last key is kept for the next block of the same list
    assert keys == {"query": QUERY, "ends": {"spend_cents:1:0:100": [50, 9]}}
    assert counts == [(("vip", "loyal_delayed", "ann"), {})]
    assert response == {
        "rowData": [
            {
                "customer_id": 4,
                "customer": "Ann",
                "tags": "Loyal, delayed",  # tags by the names people read
                "tag_since": "2024-03-10",
                "spend_cents": 1234.56,
                "last_visit": "2024-03-02",
            },
            {
                "customer_id": 9,
                "customer": "Bo",
                "tags": "",
                "tag_since": None,
                "spend_cents": 0.5,
                "last_visit": None,
            },
        ],
        "rowCount": 7,
    }
    assert (count, total, message) == ("7 matching customers", 7, None)


def test_serve_rows_later_blocks_reuse_the_total_and_follow_the_header_sort(monkeypatch):
    pages = _recorder(monkeypatch, "customer_page", _page_rows())
    counts = _recorder(monkeypatch, "customer_count", 7)
    sort = [{"colId": "last_visit", "sort": "asc"}]
    keys = {"query": QUERY, "ends": {"last_visit:0:100:200": [19784, 3]}}
    response, _, total, kept, _ = call(cb.serve_rows, _request(200, 300, sort), QUERY, 7, keys)
    assert counts == [] and response["rowCount"] == 7 and total == 7
    assert pages[0][1]["sort"] == "last_visit" and pages[0][1]["descending"] is False
    assert pages[0][1]["start"] == 200 and pages[0][1]["end"] == 300
    assert pages[0][1]["after"] == [19784, 3]  # keyset: starts after the block before
    assert kept["ends"]["last_visit:0:200:300"] == [-1, 9]  # Bo never visited
    # keys of another list (other filters) are not used, and are dropped
    _, _, _, kept, _ = call(
        cb.serve_rows, _request(200, 300, sort), {**QUERY, "tag": None}, 7, keys
    )
    assert pages[1][1]["after"] is None and "last_visit:0:100:200" not in kept["ends"]
    # a column the list cannot sort on (no index) falls back to spend, highest first
    call(cb.serve_rows, _request(0, 100, [{"colId": "customer", "sort": "asc"}]), {}, None, None)
    assert pages[2][1]["sort"] == "spend_cents" and pages[2][1]["descending"] is True


@pytest.mark.parametrize("request_", [None, {}, {"startRow": 5, "endRow": 5}, {"startRow": "0"}])
def test_serve_rows_ignores_requests_without_a_row_range(request_):
    with pytest.raises(PreventUpdate):
        call(cb.serve_rows, request_, QUERY, None, None)


def test_serve_rows_failing_service(monkeypatch, caplog):
    _failing(monkeypatch, "customer_page")
    with caplog.at_level(logging.ERROR, logger="callbacks.customers"):
        response, count, total, keys, message = call(cb.serve_rows, _request(), QUERY, None, None)
    assert (response, count, total, keys) == ({"rowData": [], "rowCount": 0}, None, None, None)
    _assert_error_alert(message, "The customer list")
    _logged(caplog, "serve_rows failed for inputs")


# --- clicks on the segment chart -----------------------------------------------------------------


def test_select_segment_selects_then_clears():
    click = {"points": [{"customdata": "loyal", "x": "Loyal"}]}
    assert call(cb.select_segment, click, None) == "loyal"
    assert call(cb.select_segment, click, "vip") == "loyal"
    assert call(cb.select_segment, click, "loyal") is None


@pytest.mark.parametrize("click", [None, {}, {"points": []}, {"points": [{"customdata": "gold"}]}])
def test_select_segment_ignores_clicks_off_a_segment(click):
    with pytest.raises(PreventUpdate):
        call(cb.select_segment, click, "vip")


# --- recompute -----------------------------------------------------------------------------------


@pytest.fixture
def recompute_env(monkeypatch):
    engine = object()
    monkeypatch.setattr(cb.customer_tags.db, "require_engine", lambda: engine)
    monkeypatch.setattr(cb.auth, "request_user", lambda: "alice")
    return engine


@pytest.mark.parametrize("clicks", [None, 0])
def test_recompute_without_a_click_does_nothing(clicks):
    with pytest.raises(PreventUpdate):
        call(cb.recompute, clicks)


def test_recompute_starts_the_job_and_polls_it(monkeypatch, recompute_env):
    calls = []

    def fake(actor):
        calls.append(actor)
        return {"ok": True, "job_run_id": 41, "message": "Recomputing…"}

    monkeypatch.setattr(cb.customer_tags, "start_recompute", fake)
    assert call(cb.recompute, 3) == (41, False, "Recomputing…", "info", True)
    assert calls == ["alice"]


def test_recompute_already_running_says_so(monkeypatch, recompute_env):
    monkeypatch.setattr(
        cb.customer_tags,
        "start_recompute",
        lambda actor: {"ok": False, "job_run_id": 5, "message": "already running"},
    )
    assert call(cb.recompute, 1) == (no_update, True, "already running", "warning", True)


def test_follow_recompute_shows_progress_then_the_result(monkeypatch):
    states = iter(
        [
            {
                "state": "running",
                "phase": "stats",
                "done": 400_000,
                "total": 1_000_000,
                "percent": 40,
                "summary": None,
                "error": None,
            },
            {
                "state": "succeeded",
                "phase": "done",
                "done": 5,
                "total": 5,
                "percent": 100,
                "summary": {
                    "mode": "incremental",
                    "recomputed": 1234,
                    "customers": 12345,
                    "added": 1200,
                    "removed": 7,
                    "tagged": 890,
                    "seconds": 2.34,
                },
                "error": None,
            },
        ]
    )
    monkeypatch.setattr(cb.customer_tags, "recompute_status", lambda run: next(states))
    assert call(cb.follow_recompute, 1, 41, 2) == (
        no_update,
        False,
        "Recomputing… 40 % (400,000 of 1,000,000 customers)",
        "info",
    )
    assert call(cb.follow_recompute, 2, 41, 2) == (
        3,
        True,
        (
            "Recomputed 1,234 customers (changed customers only) of 12,345: 1,200 tags added, "
            "7 removed, 890 tagged (2.3 s)."
        ),
        "success",
    )
    with pytest.raises(PreventUpdate):
        call(cb.follow_recompute, 3, None, 2)


def test_recompute_failure_keeps_the_old_tags_and_logs(monkeypatch, recompute_env, caplog):
    def boom(*args, **kwargs):
        raise RuntimeError("connection refused by 10.0.0.5")

    monkeypatch.setattr(cb.customer_tags, "start_recompute", boom)
    with caplog.at_level(logging.ERROR, logger="callbacks.customers"):
        out = call(cb.recompute, 1)
    assert out == (
        no_update,
        True,
        "Recomputing failed; the previous tags are still in place.",
        "danger",
        True,
    )
    _logged(caplog, "recompute failed for inputs")


def test_show_list_builds_the_grid_only_once_its_place_is_in_view(monkeypatch):
    from bi_app.viewer import Viewer
    from components.ids import Customers, Grid
    from tests.unit.test_page_views import _by_id, _has_customer_download

    with pytest.raises(PreventUpdate):
        cb.show_list(False)
    for role, downloads in (("analyst", True), ("viewer", False)):
        monkeypatch.setattr(cb, "current_viewer", lambda role=role: Viewer(role, "EUR", "UTC"))
        ids = _by_id(cb.show_list(True))
        assert str(Grid.grid(Customers.GRID_NAME)) in ids
        assert _has_customer_download(ids) is downloads
