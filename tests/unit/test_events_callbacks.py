"""Events list callbacks (callbacks/events.py) called as plain functions, with the events
service stubbed on ``bi_app.data.events`` (the callback imports that module when it runs)."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import pytest
from dash.exceptions import PreventUpdate

from bi_app.data import events as data
from callbacks import events as cb
from callbacks._registry import call
from components.event_figures import list_columns

SPEC = [{"field": c.field, "header": c.header, "kind": c.kind} for c in list_columns()]


def _events_list() -> pd.DataFrame:
    """events_list()'s columns: money in cents, ROI and attendance as fractions (NA for n/a)."""
    return pd.DataFrame(
        {
            "event_id": [9, 4],
            "code": ["EV-9", "EV-4"],
            "name": ["Summer fair", "Launch"],
            "kind": ["fair", "launch"],
            "organizer": ["Acme", "Acme"],
            "status": ["planned", "completed"],
            "starts_at": [dt.datetime(2024, 6, 1, 9), dt.datetime(2024, 2, 3, 18, 30)],
            "cost_cents": [0, 1_000_000],
            "revenue_cents": [0, 1_250_050],
            "profit_cents": [0, 250_050],
            "roi": pd.array([None, 0.250005], dtype="Float64"),
            "registered": [40, 120],
            "attended": [0, 90],
            "attendance_rate": pd.array([None, 0.75], dtype="Float64"),
            "cost_per_attendee_cents": pd.array([None, 11111.0], dtype="Float64"),
        }
    )


def test_show_events_turns_the_list_into_grid_rows(monkeypatch):
    monkeypatch.setattr(data, "events_list", _events_list)
    rows, message = call(cb.show_events, SPEC)
    assert message is None
    assert [r["event_id"] for r in rows] == [9, 4]  # kept for open_event, though not a column
    assert rows[1] == {
        "event_id": 4,
        "code": "EV-4",
        "name": "Launch",
        "kind": "launch",  # a kind without a name stays the code
        "organizer": "Acme",
        "status": "Completed",
        "starts_at": "2024-02-03",
        "cost_cents": 10_000.0,
        "revenue_cents": 12_500.5,
        "profit_cents": 250_050,
        "roi": 0.250005,
        "registered": 120,
        "attended": 90,
        "attendance_rate": 0.75,
        "cost_per_attendee_cents": 111.11,
    }
    assert (rows[0]["roi"], rows[0]["attendance_rate"], rows[0]["cost_per_attendee_cents"]) == (
        None,
        None,
        None,
    )


def test_show_events_failing_service_shows_a_readable_message_and_logs(monkeypatch, caplog):
    def boom():
        raise RuntimeError("could not connect to server at 10.0.0.5")

    monkeypatch.setattr(data, "events_list", boom)
    with caplog.at_level(logging.ERROR, logger="callbacks.events"):
        rows, message = call(cb.show_events, SPEC)
    assert rows == []
    assert message.color == "danger"
    assert message.children == (
        "The event list is unavailable right now. The rest of the page still works; "
        "try again in a moment."
    )
    (record,) = [r for r in caplog.records if r.name == "callbacks.events"]
    assert record.getMessage().startswith("show_events failed for inputs")
    assert isinstance(record.exc_info[1], RuntimeError)


def test_show_events_without_a_column_spec_shows_the_message(monkeypatch, caplog):
    monkeypatch.setattr(data, "events_list", _events_list)
    with caplog.at_level(logging.ERROR, logger="callbacks.events"):
        rows, message = call(cb.show_events, None)
    assert rows == [] and message.children.startswith("The event list is unavailable right now.")


ROWS = [{"event_id": 9, "code": "EV-9"}, {"event_id": 4, "code": "EV-4"}]


def test_open_event_goes_to_the_clicked_rows_event():
    assert call(cb.open_event, {"rowId": "1", "colId": "name"}, ROWS) == "/events/4"
    assert call(cb.open_event, {"rowId": 0}, ROWS) == "/events/9"


@pytest.mark.parametrize(
    ("cell", "rows"),
    [
        (None, ROWS),
        ({}, ROWS),
        ({"rowId": "7"}, ROWS),  # a row that is not there
        ({"rowId": "x"}, ROWS),
        ({"rowId": "0"}, None),
        ({"rowId": "0"}, [{"code": "EV-9"}]),
        ({"rowId": "0"}, [{"event_id": "abc"}]),
    ],
)
def test_open_event_ignores_clicks_it_cannot_resolve(cell, rows):
    with pytest.raises(PreventUpdate):
        call(cb.open_event, cell, rows)
