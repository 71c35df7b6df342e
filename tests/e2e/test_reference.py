"""Admin → Reference data in a real browser: a bad code is refused with a message and the form
keeps what was typed; a platform is added, then renamed; the sidebar links the page."""

from __future__ import annotations

import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from bi_app import reference
from bi_app.extensions import db
from components.ids import AdminReference
from tests.conftest import login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e
KIND = "platforms"


def element(dash_duo, component: dict):
    """A pattern-matching component: Dash renders its id as JSON with sorted keys (which CSS
    selectors cannot quote, hence getElementById)."""
    ident = json.dumps(component, sort_keys=True, separators=(",", ":"))
    found = dash_duo.driver.execute_script("return document.getElementById(arguments[0]);", ident)
    if found is None:
        raise AssertionError(f"no element with the id {ident}")
    return found


def click(dash_duo, target) -> None:
    dash_duo.driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", target
    )
    target.click()


def type_into(target, text: str) -> None:
    target.clear()
    target.send_keys(text)


def message_text(dash_duo) -> str:
    """The kind's message, or "" while it is closed: a closed dbc.Alert is not in the page, so a
    poll that comes before the callback's answer must read "not yet", not fail."""
    ident = json.dumps(AdminReference.message(KIND), sort_keys=True, separators=(",", ":"))
    found = dash_duo.driver.execute_script("return document.getElementById(arguments[0]);", ident)
    return "" if found is None else found.text


def listed(dash_duo) -> dict[str, str]:
    rows = element(dash_duo, AdminReference.table(KIND)).find_elements(By.CSS_SELECTOR, "tbody tr")
    return {
        r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
        for r in rows
    }


def test_admin_adds_and_renames_a_platform(demo_app, start_app):
    dash_duo = start_app(demo_app)
    login(dash_duo, next_path="/admin/reference")
    dash_duo.wait_for_element(f"#{AdminReference.PAGE} .admin-reference-platforms tbody tr")
    assert "Reference data" in dash_duo.find_element("#app-sidebar").text
    before = listed(dash_duo)
    assert "web" in before and "kiosk" not in before

    code = element(dash_duo, AdminReference.add_code(KIND))
    name = element(dash_duo, AdminReference.add_name(KIND))
    type_into(code, "Kiosk Stand!")
    type_into(name, "Kiosk")
    click(dash_duo, element(dash_duo, AdminReference.add_button(KIND)))
    wait_until(dash_duo, "the refusal", lambda: "is not valid" in message_text(dash_duo))
    assert message_text(dash_duo).startswith("The code 'Kiosk Stand!' is not valid: use 1 to 64")
    assert code.get_attribute("value") == "Kiosk Stand!"  # nothing typed is lost
    assert name.get_attribute("value") == "Kiosk"
    assert listed(dash_duo) == before

    type_into(code, "kiosk")
    click(dash_duo, element(dash_duo, AdminReference.add_button(KIND)))
    wait_until(dash_duo, "the new row", lambda: listed(dash_duo).get("kiosk") == "Kiosk")
    assert message_text(dash_duo) == "Added platform kiosk “Kiosk”."
    assert code.get_attribute("value") == "" and name.get_attribute("value") == ""

    Select(element(dash_duo, AdminReference.rename_code(KIND))).select_by_value("kiosk")
    new_name = element(dash_duo, AdminReference.rename_name(KIND))
    wait_until(dash_duo, "the current name", lambda: new_name.get_attribute("value") == "Kiosk")
    type_into(new_name, "Kiosk stand")
    click(dash_duo, element(dash_duo, AdminReference.rename_button(KIND)))
    wait_until(dash_duo, "the new name", lambda: listed(dash_duo).get("kiosk") == "Kiosk stand")
    assert message_text(dash_duo) == "Renamed platform kiosk: “Kiosk” → “Kiosk stand”."
    assert reference.name_of(KIND, "kiosk", db.require_engine()) == "Kiosk stand"
    assert listed(dash_duo) == {**before, "kiosk": "Kiosk stand"}

    dash_duo.driver.execute_script("window.scrollTo(0, 0);")
    dash_duo.driver.save_screenshot("/tmp/reference.png")
    assert dash_duo.get_logs() == []
