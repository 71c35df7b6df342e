"""The grid download callback: called directly, and through Dash's HTTP callback endpoint."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from contextvars import copy_context

import dash
import flask
import openpyxl
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

from callbacks import grid_downloads
from callbacks._registry import registered
from components.data_grid import GridColumn, data_grid
from components.ids import Grid
from tests.conftest import make_settings

COLUMNS = [
    GridColumn("order", "Order"),
    GridColumn("amount", "Amount", "money"),
    GridColumn("day", "Day", "date"),
]
SPEC = [{"field": c.field, "header": c.header, "kind": c.kind} for c in COLUMNS]
ROWS = [
    {"order": "A-2", "amount": 12.5, "day": "2024-02-01"},
    {"order": "=cmd|' /C calc'!A0", "amount": -3.25, "day": "2024-01-31"},
]


@pytest.fixture
def server():
    app = flask.Flask(__name__)
    app.config["BI_SETTINGS"] = make_settings("sqlite://", currency="GBP", timezone="Europe/London")
    return app


def call(server, fmt, rows=ROWS, spec=SPEC, name="orders", clicks=1):
    item = Grid.download_item(name, fmt)
    triggered = [{"prop_id": json.dumps(item) + ".n_clicks", "value": clicks}]

    def run():
        context_value.set(AttributeDict(triggered_inputs=triggered))
        with server.app_context():
            return grid_downloads.download_grid([clicks], rows, spec)

    return copy_context().run(run)


def decoded(download):
    assert download["base64"] is True
    return base64.b64decode(download["content"])


def test_csv_download_has_the_rows_in_grid_order(server):
    download, message = call(server, "csv")
    assert message is None
    assert re.fullmatch(r"orders-\d{8}-\d{4}\.csv", download["filename"])
    assert download["type"] == "text/csv"
    text = decoded(download).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["Order", "Amount", "Day"],
        ["A-2", "12.5", "2024-02-01"],
        ["'=cmd|' /C calc'!A0", "-3.25", "2024-01-31"],
    ]


def test_xlsx_download_uses_configured_currency(server):
    download, _ = call(server, "xlsx")
    assert download["filename"].endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(decoded(download))).active
    assert [[c.value for c in row] for row in sheet.iter_rows(max_col=2)] == [
        ["Order", "Amount"],
        ["A-2", 12.5],
        ["=cmd|' /C calc'!A0", -3.25],
    ]
    # shown as typed, no apostrophe, and kept as text by the cell's quote prefix
    assert sheet["A3"].data_type == "s" and sheet["A3"].quotePrefix is True
    assert "£" in sheet["B2"].number_format
    assert sheet.title == "orders"


def test_json_download_is_unneutralized_data(server):
    download, _ = call(server, "json")
    assert json.loads(decoded(download)) == ROWS
    assert download["type"] == "application/json"


@pytest.mark.parametrize(
    ("fmt", "rows", "spec", "expected"),
    [
        ("pdf", ROWS, SPEC, "unknown download format 'pdf'"),
        ("csv", {"order": "x"}, SPEC, "rows must be a list"),
        ("csv", None, SPEC, "rows must be a list"),
        ("csv", ROWS, None, "no column description"),
        ("csv", ROWS, [{"field": "a", "kind": "<script>"}], "unknown kind"),
        (["csv"], ROWS, SPEC, "unknown download format"),
    ],
)
def test_invalid_requests_explain_themselves(server, fmt, rows, spec, expected):
    download, message = call(server, fmt, rows=rows, spec=spec)
    assert download is dash.no_update
    assert message.color == "danger"
    assert expected in message.children


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_nested_or_oversized_requests_are_refused_with_a_message(server, fmt):
    deep: list = []
    for _ in range(300):  # deeper than orjson serializes: it raised TypeError (a 500) before
        deep = [deep]
    for rows, spec, expected in (
        ([{**ROWS[0], "order": deep}], SPEC, "cannot export: invalid data"),
        ([{**ROWS[0], "order": {"a": {"b": 1}}}], SPEC, "cannot export: invalid data"),
        ([{**ROWS[0], "amount": 10**40}], SPEC, "cannot export: invalid data"),
        (ROWS, [{"field": f"c{i}"} for i in range(201)], "too many columns"),
    ):
        download, message = call(server, fmt, rows=rows, spec=spec)
        assert download is dash.no_update
        assert message.color == "danger" and expected in message.children


def test_full_width_and_blank_prefixed_formulas_are_neutralized_in_csv(server):
    rows = [{"order": "\uff1dcmd|' /C calc'!A0"}, {"order": "  @SUM(A1)"}, {"order": "-3"}]
    download, _ = call(server, "csv", rows=rows, spec=SPEC[:1])
    text = decoded(download).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(text))) == [
        ["Order"],
        ["'\uff1dcmd|' /C calc'!A0"],
        ["'  @SUM(A1)"],
        ["'-3"],
    ]


def test_an_unexpected_failure_shows_a_message_not_an_error(server, monkeypatch):
    from callbacks._registry import call as registered_call

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(grid_downloads, "export_rows", broken)
    item = Grid.download_item("orders", "csv")
    triggered = [{"prop_id": json.dumps(item) + ".n_clicks", "value": 1}]

    def run():
        context_value.set(AttributeDict(triggered_inputs=triggered))
        with server.app_context():
            return registered_call(grid_downloads.download_grid, [1], ROWS, SPEC)

    download, message = copy_context().run(run)
    assert download is dash.no_update
    assert "The download" in str(message)


def test_too_many_rows_are_refused(server, monkeypatch):
    monkeypatch.setattr(grid_downloads, "MAX_DOWNLOAD_ROWS", 1)
    download, message = call(server, "csv")
    assert download is dash.no_update
    assert "too many rows" in message.children


def test_no_click_does_nothing(server):
    with pytest.raises(dash.exceptions.PreventUpdate):
        call(server, "csv", clicks=0)


def test_registered_for_analysts_and_admins_only():
    entries = [e for e in registered() if e.func is grid_downloads.download_grid]
    assert len(entries) == 1
    assert entries[0].roles == ("admin", "analyst")
    assert entries[0].kwargs.get("prevent_initial_call") is True


def test_through_the_dash_endpoint(server):
    """A real callback request: the pattern-matching wiring reaches the right grid."""
    app = dash.Dash(__name__, server=server)
    app.layout = dash.html.Div(
        [
            data_grid("orders", COLUMNS, ROWS, currency="GBP", can_download=True),
            data_grid("other", COLUMNS, [], currency="GBP", can_download=True),
        ]
    )
    entry = next(e for e in registered() if e.func is grid_downloads.download_grid)
    app.callback(*entry.args, **entry.kwargs)(entry.func)
    item = Grid.download_item("orders", "json")
    payload = {
        "output": next(iter(app.callback_map)),
        "outputs": [
            {"id": {"name": "orders", "type": "grid-download"}, "property": "data"},
            {"id": {"name": "orders", "type": "grid-download-message"}, "property": "children"},
        ],
        "inputs": [
            [
                {
                    "id": Grid.download_item("orders", f),
                    "property": "n_clicks",
                    "value": 1 if f == "json" else 0,
                }
                for f in ("csv", "xlsx", "json")
            ]
        ],
        "changedPropIds": [json.dumps(item, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
        "state": [
            {"id": Grid.grid("orders"), "property": "virtualRowData", "value": ROWS[::-1]},
            {"id": Grid.spec("orders"), "property": "data", "value": SPEC},
        ],
    }
    response = server.test_client().post("/_dash-update-component", json=payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()["response"]
    download = body['{"name":"orders","type":"grid-download"}']["data"]
    assert json.loads(decoded(download)) == ROWS[::-1]
    assert body['{"name":"orders","type":"grid-download-message"}']["children"] is None
    assert set(body) == {
        '{"name":"orders","type":"grid-download"}',
        '{"name":"orders","type":"grid-download-message"}',
    }


def _has_menu(component) -> bool:
    return "bi-grid-download" in str(component.to_plotly_json())


@pytest.mark.parametrize(
    ("role", "shown"), [("viewer", False), (None, False), ("analyst", True), ("admin", True)]
)
def test_download_menu_follows_the_role(server, monkeypatch, role, shown):
    import bi_app.auth
    from bi_app.viewer import current_viewer

    monkeypatch.setattr(bi_app.auth, "current_role", lambda: role, raising=False)
    with server.test_request_context("/"):
        viewer = current_viewer()
    assert viewer.can_download is shown
    card = data_grid(
        "orders", COLUMNS, ROWS, currency=viewer.currency, can_download=viewer.can_download
    )
    assert _has_menu(card) is shown
    assert (
        _has_menu(data_grid("orders", COLUMNS, ROWS, currency="EUR", can_download=False)) is False
    )
