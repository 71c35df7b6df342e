"""Admin → Import in a real browser: a file with errors gives a downloadable report and changes
nothing; a valid file imports; the history lists both. "Create missing" adds the platforms and
customers an orders file names."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import func, select

from bi_app.db.models import Customer, Product, SalesPlatform
from bi_app.extensions import db
from components.ids import AdminImport
from tests.conftest import login
from tests.e2e.conftest import select_dropdown, wait_for_download

pytestmark = pytest.mark.e2e
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"
SCREENSHOT = (
    Path(__file__).resolve().parent.parent.parent / "instance" / "screenshots" / "admin_import.png"
)


def upload_and_import(dash_duo, name: str) -> None:
    field = dash_duo.driver.find_element(By.CSS_SELECTOR, f"#{AdminImport.UPLOAD} input[type=file]")
    field.send_keys(str(FIXTURES / name))
    dash_duo.wait_for_contains_text(f"#{AdminImport.FILE_INFO}", name, timeout=10)
    click(dash_duo, dash_duo.find_element(f"#{AdminImport.IMPORT}"))


def click(dash_duo, element) -> None:
    """Scroll the element to the middle at once (Bootstrap's smooth scrolling would still be
    moving)."""
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    element.click()


def choose_kind(dash_duo, label: str) -> None:
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
        dash_duo.find_element(f"#{AdminImport.KIND}"),
    )
    select_dropdown(dash_duo, f"#{AdminImport.KIND}", label)


def customer_count() -> int:
    with db.require_engine().connect() as conn:
        return conn.scalar(select(func.count()).select_from(Customer))


def test_admin_imports_a_bad_then_a_good_customers_file(demo_app, start_app):
    dash_duo = start_app(demo_app)
    login(dash_duo, next_path="/admin/import")
    dash_duo.wait_for_contains_text(f"#{AdminImport.HELP}", "lower-case letters", timeout=15)
    assert "code" in dash_duo.find_element(f"#{AdminImport.HELP}").text  # platforms come first
    choose_kind(dash_duo, "Customers")
    dash_duo.wait_for_contains_text(f"#{AdminImport.HELP}", "external_id", timeout=15)
    before = customer_count()

    upload_and_import(dash_duo, "hostile.csv")
    dash_duo.wait_for_contains_text(".admin-import-result", "rejected", timeout=20)
    dash_duo.wait_for_contains_text(
        f"#{AdminImport.ERRORS} .ag-center-cols-container", "duplicate key", timeout=10
    )
    assert "5 of 5 row(s) have errors" in dash_duo.find_element(".admin-import-result").text
    assert customer_count() == before
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    dash_duo.driver.execute_script(
        "document.getElementById(arguments[0]).scrollIntoView({behavior: 'instant'});",
        AdminImport.RESULT,
    )
    dash_duo.driver.save_screenshot(str(SCREENSHOT.with_name("admin_import_errors.png")))

    click(
        dash_duo, dash_duo.find_element(f"#{AdminImport.ERRORS} .bi-grid-download .dropdown-toggle")
    )
    menu = dash_duo.wait_for_element(f"#{AdminImport.ERRORS} .bi-grid-download .dropdown-menu.show")
    click(dash_duo, menu.find_element(By.XPATH, ".//*[normalize-space(text())='CSV']"))
    report = wait_for_download(dash_duo, "admin-import-errors*.csv")
    with report.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["Row"], r["Column"]) for r in rows] == [
        ("2", "name"),
        ("3", "created_at"),
        ("4", "external_id"),
        ("5", "gender"),
        ("6", "birth_year"),
    ]
    assert rows[0]["Value"].startswith("'=HYPERLINK")  # neutralized for spreadsheets

    ActionChains(dash_duo.driver).send_keys(Keys.ESCAPE).perform()  # close the download menu
    upload_and_import(dash_duo, "customers.csv")
    dash_duo.wait_for_contains_text(".admin-import-result", "succeeded", timeout=20)
    assert "3 new, 0 updated" in dash_duo.find_element(".admin-import-result").text
    dash_duo.wait_for_style_to_equal(f"#{AdminImport.ERRORS}", "display", "none", timeout=10)
    assert customer_count() == before + 3
    history = dash_duo.find_element(".admin-import-recent").text
    assert "customers.csv" in history and "hostile.csv" in history and "rejected" in history

    dash_duo.driver.save_screenshot(str(SCREENSHOT))
    assert dash_duo.get_logs() == []


def test_create_missing_adds_the_platform_and_customer_an_orders_file_names(
    demo_app, start_app, tmp_path
):
    with db.require_engine().connect() as conn:
        sku = conn.scalar(select(Product.sku).order_by(Product.id).limit(1))
    orders = tmp_path / "new_orders.csv"
    orders.write_text(
        "order_number,customer_external_id,platform_code,status,ordered_at,sku,quantity,"
        f"unit_price\nE2E-O-1,E2E-C-1,Kiosk,paid,2024-05-01 10:00,{sku},2,12.50\n"
    )
    dash_duo = start_app(demo_app)
    login(dash_duo, next_path="/admin/import")
    dash_duo.wait_for_contains_text(f"#{AdminImport.HELP}", "code", timeout=15)
    choose_kind(dash_duo, "Orders with items")
    dash_duo.wait_for_contains_text(f"#{AdminImport.HELP}", "Create missing", timeout=15)

    field = dash_duo.driver.find_element(By.CSS_SELECTOR, f"#{AdminImport.UPLOAD} input[type=file]")
    field.send_keys(str(orders))
    dash_duo.wait_for_contains_text(f"#{AdminImport.FILE_INFO}", orders.name, timeout=10)
    click(dash_duo, dash_duo.find_element(f"#{AdminImport.IMPORT}"))
    dash_duo.wait_for_contains_text(".admin-import-result", "rejected", timeout=20)
    dash_duo.wait_for_contains_text(
        f"#{AdminImport.ERRORS} .ag-center-cols-container", "unknown platform", timeout=10
    )
    assert "--create-missing" in dash_duo.find_element(f"#{AdminImport.ERRORS}").text

    checkbox = dash_duo.find_element(f"#{AdminImport.CREATE_MISSING}")
    click(dash_duo, checkbox)
    assert checkbox.is_selected()
    click(dash_duo, dash_duo.find_element(f"#{AdminImport.VALIDATE}"))
    dash_duo.wait_for_contains_text(".admin-import-result", "validated", timeout=20)
    assert "Would create 1 platform: kiosk; 1 customer: E2E-C-1." in (
        dash_duo.find_element(".admin-import-result").text
    )
    with db.require_engine().connect() as conn:
        assert conn.scalar(select(SalesPlatform.id).where(SalesPlatform.code == "kiosk")) is None

    click(dash_duo, dash_duo.find_element(f"#{AdminImport.IMPORT}"))
    dash_duo.wait_for_contains_text(".admin-import-result", "succeeded", timeout=20)
    result = dash_duo.find_element(".admin-import-result").text
    assert "1 new, 0 updated. Created 1 platform: kiosk; 1 customer: E2E-C-1." in result
    with db.require_engine().connect() as conn:
        assert conn.scalar(select(SalesPlatform.name).where(SalesPlatform.code == "kiosk")) == (
            "kiosk"
        )
        assert conn.scalar(select(Customer.name).where(Customer.external_id == "E2E-C-1")) == (
            "E2E-C-1"
        )
    dash_duo.driver.save_screenshot(str(SCREENSHOT.with_name("admin_import_create_missing.png")))
    assert dash_duo.get_logs() == []
