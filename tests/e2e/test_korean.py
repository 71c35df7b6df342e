"""In the browser, in Korean: a user switches the language in the sidebar (stored on the user, the
URL unchanged), and every page speaks Korean: <html lang>, navigation and page texts, won amounts
without decimals, AG Grid's own texts, Plotly's and the date picker's locale, no console errors."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select

from bi_app.db.models import User
from tests.conftest import free_port, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e
HANGUL = re.compile(r"[\uac00-\ud7a3]")
WON = re.compile(r"₩\d{1,3}(,\d{3})*(?![.\d])")


def _lang(dash_duo) -> str:
    return dash_duo.driver.execute_script("return document.documentElement.lang")


def _switch_to_korean(dash_duo) -> None:
    button = dash_duo.find_element("#app-language-ko")
    dash_duo.driver.execute_script("arguments[0].click()", button)
    wait_until(dash_duo, "the page to reload in Korean", lambda: _lang(dash_duo) == "ko")
    dash_duo.wait_for_element("#app-sidebar", timeout=15)


def test_a_korean_user_reads_every_page_in_korean(app_factory, demo_sqlite_url, dash_duo):
    app = app_factory(demo_sqlite_url, currency="KRW")
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url
    login(dash_duo, next_path="/sales?start=2024-02-01&end=2024-02-29")
    assert _lang(dash_duo) == "en"
    assert "Sales" in dash_duo.find_element("#app-sidebar").text

    _switch_to_korean(dash_duo)
    # back on the page it was on, filters and all
    assert urlsplit(dash_duo.driver.current_url).path == "/sales"
    assert "start=2024-02-01" in dash_duo.driver.current_url
    engine = create_engine(demo_sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(select(User.locale).where(User.username == "admin")).scalar() == "ko"
    engine.dispose()

    sidebar = dash_duo.find_element("#app-sidebar").text
    assert "매출" in sidebar and "Sales" not in sidebar
    assert dash_duo.find_element("#app-language-ko").get_attribute("aria-pressed") == "true"

    links = [
        (a.text, urlsplit(a.get_attribute("href")).path)
        for a in dash_duo.find_elements("#app-sidebar a.nav-link")
    ]
    assert len(links) >= 10
    for name, path in links:
        assert HANGUL.search(name), f"navigation entry {name!r} is not Korean"
        dash_duo.driver.get(f"{dash_duo.server_url}{path}")
        dash_duo.wait_for_element("#app-sidebar", timeout=15)
        content = wait_until(
            dash_duo,
            f"{path} to render",
            lambda: dash_duo.find_element("#_pages_content").text.strip(),
        )
        assert _lang(dash_duo) == "ko", path
        assert HANGUL.search(content), f"{path} shows no Korean: {content[:200]!r}"
        assert "Traceback" not in content, path
        assert dash_duo.get_logs() == [], path

    dash_duo.driver.get(f"{dash_duo.server_url}/?start=2024-02-01&end=2024-02-29")
    value = wait_until(
        dash_duo,
        "a won KPI",
        lambda: next(
            (e.text for e in dash_duo.find_elements(".app-kpi-value") if e.text.startswith("₩")),
            None,
        ),
    )
    assert WON.fullmatch(value), value

    dash_duo.driver.get(f"{dash_duo.server_url}/sales?start=2024-02-01&end=2024-02-29")
    wait_until(dash_duo, "a chart", lambda: dash_duo.find_elements(".js-plotly-plot"))
    wait_until(
        dash_duo,
        "Plotly's Korean locale",
        lambda: (
            dash_duo.driver.execute_script(
                "var g = document.querySelector('.js-plotly-plot');"
                "return g && g._context ? g._context.locale : null"
            )
            == "ko"
        ),
    )
    pager = wait_until(
        dash_duo,
        "AG Grid's Korean paging text",
        lambda: " ".join(e.text for e in dash_duo.find_elements(".ag-paging-panel")),
    )
    assert "페이지" in pager, pager
    assert dash_duo.driver.execute_script("return Object.keys(window.dateFns.locale)") == ["ko"]
    assert dash_duo.get_logs() == []
