"""In the browser: sort and filter a grid, download CSV / Excel / JSON, get exactly those rows."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import dash
import openpyxl
import pandas as pd
import pytest
from dash import html
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from bi_app.config import PROJECT_ROOT
from callbacks import grid_downloads
from callbacks._registry import registered
from components.data_grid import GridColumn, data_grid, grid_rows
from tests.conftest import make_settings
from tests.e2e.conftest import wait_for_download

pytestmark = pytest.mark.e2e

COLUMNS = [
    GridColumn("order", "Order", width=110, pinned="left"),
    GridColumn("region", "Region"),
    GridColumn("qty", "Qty", "int"),
    GridColumn("amount", "Amount", "money"),
    GridColumn("share", "Share", "percent"),
    GridColumn("day", "Day", "date"),
    GridColumn("note", "Note"),
]
REGIONS = ["North", "South", "Northwest", "East"]
# Records the browser's console warnings: get_logs() only sees SEVERE entries.
WARN_HOOK = """
window.__consoleWarnings = [];
(function () {
  var original = console.warn;
  console.warn = function () {
    window.__consoleWarnings.push(Array.prototype.map.call(arguments, String).join(' '));
    return original.apply(console, arguments);
  };
})();
"""


def sample_frame() -> pd.DataFrame:
    n = 26
    return pd.DataFrame(
        {
            "order": [f"O-{i:03d}" for i in range(n)],
            "region": [REGIONS[i % 4] for i in range(n)],
            "qty": [(i * 37) % 1500 for i in range(n)],
            "amount": [
                (i * 7919) % 200_000 - 30_000 for i in range(n)
            ],  # cents, unique, some negative
            "share": [round(i / n, 4) for i in range(n)],
            "day": [pd.Timestamp("2024-01-01") + pd.Timedelta(days=i) for i in range(n)],
            "note": [
                '=HYPERLINK("http://127.0.0.1/","x")' if i % 5 == 0 else f"note {i}"
                for i in range(n)
            ],
        }
    )


def expected_rows(df: pd.DataFrame) -> list[dict]:
    """What the grid shows after 'north' in the Region filter and Amount sorted descending."""
    shown = df[df["region"].str.lower().str.contains("north")].sort_values(
        "amount", ascending=False
    )
    return grid_rows(shown, COLUMNS)


def build_app(assets: Path) -> dash.Dash:
    assets.mkdir()
    shutil.copy(
        PROJECT_ROOT / "assets" / "vendor" / "bootstrap.min.css", assets / "bootstrap.min.css"
    )
    # the grid's number and money formatter (biNumber) lives there
    shutil.copy(PROJECT_ROOT / "assets" / "locale.js", assets / "locale.js")
    (assets / "warn_hook.js").write_text(WARN_HOOK)
    app = dash.Dash(__name__, assets_folder=str(assets), serve_locally=True)
    app.server.config["BI_SETTINGS"] = make_settings("sqlite://", currency="EUR")
    rows = grid_rows(sample_frame(), COLUMNS)
    app.layout = html.Div(
        [
            html.Div(
                data_grid(
                    "orders",
                    COLUMNS,
                    rows,
                    title="Orders",
                    page_size=10,
                    currency="EUR",
                    can_download=True,
                ),
                id="orders-card",
            ),
            html.Div(
                data_grid(
                    "viewer-orders",
                    COLUMNS,
                    rows,
                    title="Read only",
                    currency="EUR",
                    can_download=False,
                ),
                id="viewer-card",
            ),
        ],
        className="container-fluid p-3",
    )
    # attach just this feature's callback, the way register_all does (role guard aside)
    entry = next(e for e in registered() if e.func is grid_downloads.download_grid)
    app.callback(*entry.args, **entry.kwargs)(entry.func)
    return app


def click_download(dash_duo, label: str) -> None:
    dash_duo.find_element("#orders-card .bi-grid-download .dropdown-toggle").click()
    menu = dash_duo.wait_for_element("#orders-card .bi-grid-download .dropdown-menu.show")
    menu.find_element(By.XPATH, f".//*[normalize-space(text())='{label}']").click()


def header_cell(dash_duo, col_id: str):
    return dash_duo.find_element(
        f"#orders-card .ag-header-cell[col-id='{col_id}'] .ag-header-cell-label"
    )


def test_sorted_filtered_grid_downloads_as_csv_xlsx_json(dash_duo, start_app, tmp_path):
    app = build_app(tmp_path / "assets")
    start_app(app)
    # start_app does not navigate (a real app's "/" is the login redirect); this bare app has
    # no login, so open its page and let Dash render it
    dash_duo.wait_for_page(timeout=20)
    dash_duo.wait_for_element("#orders-card .ag-row", timeout=15)

    # a viewer's grid has no download menu at all
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, "#viewer-card .bi-grid-download") == []
    assert dash_duo.find_elements("#orders-card .bi-grid-download")

    # formatted display: money from cents with the currency symbol, ints with separators
    first_amount = dash_duo.find_element(
        "#orders-card .ag-center-cols-container .ag-row[row-index='0'] [col-id='amount']"
    ).text
    assert first_amount == "-€300.00"

    # filter Region by typing into its floating filter, then sort Amount descending
    region_filter = dash_duo.find_element(
        "#orders-card .ag-floating-filter[aria-colindex='2'] input"
    )
    region_filter.send_keys("north")
    region_filter.send_keys(Keys.TAB)
    expected = expected_rows(sample_frame())
    dash_duo.wait_for_text_to_equal(
        "#orders-card .ag-paging-row-summary-panel", f"1 to 10 of {len(expected)}", timeout=10
    )
    header_cell(dash_duo, "amount").click()  # ascending
    header_cell(dash_duo, "amount").click()  # descending
    top = f"{expected[0]['amount']:,.2f}"
    dash_duo.wait_for_text_to_equal(
        "#orders-card .ag-center-cols-container .ag-row[row-index='0'] [col-id='amount']",
        f"€{top}",
        timeout=10,
    )
    assert len(expected) > 10  # the download must include rows beyond the visible page

    click_download(dash_duo, "CSV")
    csv_file = wait_for_download(dash_duo, "orders-*.csv")
    parsed = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    assert [r["Order"] for r in parsed] == [r["order"] for r in expected]
    assert [float(r["Amount"]) for r in parsed] == [r["amount"] for r in expected]
    assert [r["Day"] for r in parsed] == [r["day"] for r in expected]
    assert parsed[0].keys() == {c.header for c in COLUMNS}
    for got, want in zip(parsed, expected):
        assert got["Note"] == (
            ("'" + want["note"]) if want["note"].startswith("=") else want["note"]
        )

    click_download(dash_duo, "Excel")
    xlsx_file = wait_for_download(dash_duo, "orders-*.xlsx")
    sheet = openpyxl.load_workbook(xlsx_file).active
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [v[0] for v in values] == [r["order"] for r in expected]
    assert [v[3] for v in values] == pytest.approx([r["amount"] for r in expected])
    assert [v[5].date().isoformat() for v in values] == [r["day"] for r in expected]
    assert sheet.freeze_panes == "A2" and "€" in sheet["D2"].number_format

    click_download(dash_duo, "JSON")
    json_file = wait_for_download(dash_duo, "orders-*.json")
    assert json.loads(json_file.read_text()) == expected

    assert dash_duo.find_element("#orders-card [role='status']").text == ""
    assert dash_duo.driver.execute_script("return window.__consoleWarnings") == []
    assert dash_duo.get_logs() == []
