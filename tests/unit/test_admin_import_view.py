"""Admin → Import builders (components/import_view.py): run dicts shaped like
bi_app.importing.runs' views in, component trees out; assertions walk the tree."""

from __future__ import annotations

import datetime as dt

import pytest

from bi_app.viewer import Viewer
from components import admin_import_view as view
from components.ids import AdminImport, Grid
from tests.ui_tree import by_id as _by_id
from tests.ui_tree import texts as _texts
from tests.ui_tree import walk as _walk


def _run(**overrides) -> dict:
    """A run as ``importing.get_run`` / ``recent_runs`` return it (``_view`` adds ``finished``)."""
    run = {
        "id": 12,
        "file_name": "orders.csv",
        "kind": "orders",
        "dry_run": False,
        "status": "running",
        "phase": "validating rows",
        "progress": 0.4567,
        "rows_total": 0,
        "rows_ok": 0,
        "rows_failed": 0,
        "inserted": 0,
        "updated": 0,
        "message": None,
        "actor": "admin",
        "started_at": dt.datetime(2024, 3, 1, 12, 0, 5),
        "finished": False,
        "errors": [],
    }
    run.update(overrides)
    return run


# --- progress ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (None, (0, "", "")),
        (_run(), (46, "46 %", "orders.csv: validating rows …")),  # 45.67 % rounds to 46
        (
            _run(status="queued", phase=None, progress=0.0),
            (0, "0 %", "orders.csv: waiting for another import to finish …"),
        ),
        (_run(phase=None, progress=None), (0, "0 %", "orders.csv: starting …")),
        (
            _run(status="succeeded", finished=True, progress=1.0, phase=None),
            (100, "done", "Import #12 finished."),
        ),
        (
            _run(status="rejected", dry_run=True, finished=True, progress=0.3),
            (100, "done", "Validation #12 finished."),
        ),
    ],
)
def test_progress_state(run, expected):
    assert view.progress_state(run) == expected


# --- result --------------------------------------------------------------------------------------


def test_result_view_is_nothing_until_the_run_finished():
    assert view.result_view(None) is None
    assert view.result_view(_run()) is None


def test_result_view_of_a_successful_import_counts_new_and_updated_records():
    run = _run(
        status="succeeded",
        finished=True,
        rows_total=1234,
        rows_ok=1234,
        rows_failed=0,
        inserted=1000,
        updated=234,
        message="Imported 1,234 rows.",
    )
    alert = view.result_view(run)
    assert alert.color == "success"
    assert alert.className == "admin-import-result"
    assert _texts(alert) == [
        "Import of orders.csv (orders): succeeded. ",
        "Imported 1,234 rows.",
        "1,234 rows · 1,234 valid · 0 with errors · 1,000 new · 234 updated",
    ]


def test_result_view_of_a_rejected_validation_leaves_out_new_and_updated():
    run = _run(
        file_name="people.xlsx",
        kind="customers",
        dry_run=True,
        status="rejected",
        finished=True,
        rows_total=2500,
        rows_ok=2497,
        rows_failed=3,
        message=None,
    )
    alert = view.result_view(run)
    assert alert.color == "warning"
    assert _texts(alert) == [
        "Validation of people.xlsx (customers): rejected. ",
        "",
        "2,500 rows · 2,497 valid · 3 with errors",
    ]


@pytest.mark.parametrize(
    ("status", "color"),
    [("validated", "info"), ("failed", "danger"), ("something new", "secondary")],
)
def test_result_view_colour_follows_the_status(status, color):
    assert view.result_view(_run(status=status, finished=True)).color == color


# --- error table ---------------------------------------------------------------------------------


def test_error_rows_are_the_run_errors_or_nothing():
    errors = [
        {"row": 3, "column": "amount", "value": "x", "message": "not a number"},
        {"row": 7, "column": "email", "value": "=1+1", "message": "formulas are refused"},
    ]
    rows = view.error_rows(_run(errors=errors))
    assert rows == errors
    assert rows is not errors  # a copy: the grid may not mutate the run
    assert view.error_rows(_run(errors=None)) == []
    assert view.error_rows({}) == []
    assert view.error_rows(None) == []


def test_error_columns_describe_the_error_grid():
    assert [(c.field, c.header, c.kind, c.width) for c in view.ERROR_COLUMNS] == [
        ("row", "Row", "int", 90),
        ("column", "Column", "text", 190),
        ("value", "Value", "text", 240),
        ("message", "Problem", "text", None),
    ]


# --- recent imports ------------------------------------------------------------------------------


def test_recent_table_without_runs_says_so():
    empty = view.recent_table([], "UTC")
    assert empty.children == "No imports yet."


def test_recent_table_has_a_row_per_run_in_local_time():
    runs = [
        _run(
            id=5,
            status="succeeded",
            finished=True,
            rows_total=12345,
            rows_failed=0,
            inserted=12000,
            updated=345,
            source="sync",
            finished_at=dt.datetime(2024, 3, 1, 12, 1, 17, 500000),
        ),
        _run(
            id=4,
            actor=None,
            source="web",
            file_name="bad.csv",
            dry_run=True,
            status="rejected",
            finished=True,
            rows_total=10,
            rows_failed=2,
            started_at=dt.datetime(2024, 7, 1, 23, 30),
        ),
    ]
    table = view.recent_table(runs, "Europe/Berlin")
    head, body = table.children
    assert [th.children for th in head.children.children] == [
        "Started",
        "By",
        "Source",
        "File",
        "Kind",
        "Mode",
        "Status",
        "Rows",
        "Errors",
        "New",
        "Updated",
        "Took",
    ]
    first, second = body.children
    # 12:00:05 UTC is 13:00:05 CET in March; 23:30 UTC is 01:30 CEST the next day in July
    assert _texts(first) == [
        "2024-03-01 13:00:05",
        "admin",
        "database sync",
        "orders.csv",
        "orders",
        "import",
        "succeeded",
        "12,345",
        "0",
        "12,000",
        "345",
        "1 min 12 s",
    ]
    assert _texts(second) == [
        "2024-07-02 01:30:00",
        "—",
        "upload",
        "bad.csv",
        "orders",
        "validate",
        "rejected",
        "10",
        "2",
        "0",
        "0",
        "—",
    ]
    badges = [n for n in _walk(table) if type(n).__name__ == "Badge"]
    assert [b.color for b in badges] == ["success", "warning"]
    assert [tr.to_plotly_json()["props"]["data-run"] for tr in body.children] == ["5", "4"]


# --- file info and column help -------------------------------------------------------------------


def test_file_info_shows_the_name_and_size_in_kilobytes():
    assert view.file_info(None, 0) is None
    assert view.file_info("", 10) is None
    info = view.file_info("orders.csv", 2560)
    assert _texts(info) == ["Selected: ", "orders.csv", " (2.5 KB)"]
    assert type(info.children[1]).__name__ == "Strong"
    assert _texts(view.file_info("big.parquet", 5 * 1024 * 1024))[-1] == " (5,120.0 KB)"


def test_kind_help_lists_each_column_with_format_note_and_example():
    columns = [
        {
            "column": "order_id",
            "required": True,
            "format": "text, up to 64 characters",
            "note": None,
            "example": "A-1001",
        },
        {
            "column": "amount",
            "required": False,
            "format": "number",
            "note": "in the currency's units",
            "example": "12.50",
        },
    ]
    out = view.kind_help(columns, "One row per order.")
    description, table = out.children
    assert description.children == "One row per order."
    head, body = table.children
    assert [th.children for th in head.children.children] == ["Column", "", "Format", "Example"]
    assert [_texts(tr) for tr in body.children] == [
        ["order_id", "required", "text, up to 64 characters", "A-1001"],
        ["amount", "optional", "number", "in the currency's units", "12.50"],
    ]
    codes = [n.children for n in _walk(table) if type(n).__name__ == "Code"]
    assert codes == ["order_id", "A-1001", "amount", "12.50"]


# --- the page ------------------------------------------------------------------------------------


def test_import_page_has_every_control_the_callbacks_use():
    page = view.layout(
        [("orders", "Orders"), ("customers", "Customers")], 25, Viewer("admin", "KRW", "Asia/Seoul")
    )
    ids = _by_id(page)
    for component_id in (
        AdminImport.KIND,
        AdminImport.TEMPLATE_CSV,
        AdminImport.TEMPLATE_XLSX,
        AdminImport.TEMPLATE_DOWNLOAD,
        AdminImport.UPLOAD,
        AdminImport.FILE_INFO,
        AdminImport.VALIDATE,
        AdminImport.IMPORT,
        AdminImport.MESSAGE,
        AdminImport.PROGRESS,
        AdminImport.STATUS,
        AdminImport.RESULT,
        AdminImport.HELP,
        AdminImport.ERRORS,
        AdminImport.RECENT,
        AdminImport.RUN_STORE,
        AdminImport.INTERVAL,
    ):
        assert component_id in ids, component_id
    kind = ids[AdminImport.KIND]
    assert kind.options == [
        {"value": "orders", "label": "Orders"},
        {"value": "customers", "label": "Customers"},
    ]
    assert kind.value == "orders" and kind.clearable is False
    assert "CSV (UTF-8), Excel .xlsx or Parquet — up to 25 MB" in _texts(ids[AdminImport.UPLOAD])
    assert ids[AdminImport.MESSAGE].is_open is False
    assert ids[AdminImport.PROGRESS].value == 0
    assert ids[AdminImport.ERRORS].style == {"display": "none"}  # shown only when a run has errors
    interval = ids[AdminImport.INTERVAL]
    assert (interval.interval, interval.disabled) == (view.POLL_MS, True)
    grid = ids[str(Grid.grid(AdminImport.GRID_NAME))]
    assert [c["field"] for c in grid.columnDefs] == ["row", "column", "value", "message"]
    assert (
        str(Grid.download_item(AdminImport.GRID_NAME, "csv")) in ids
    )  # the error report can be downloaded
