"""In the browser: the sidebar (groups, roles, active link, every page loads, filters carried),
the remembered light/dark theme, the 404 page and logging out."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.conftest import VIEWER_PASSWORD, free_port, login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e
GROUP_ORDER = ["Business", "Operations", "Admin"]


def _start(dash_duo, app) -> None:
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url  # "/" is the login form until we log in


def _theme(dash_duo) -> str:
    return dash_duo.driver.execute_script(
        "return document.documentElement.getAttribute('data-bs-theme')"
    )


def _links(dash_duo) -> list[tuple[str, str]]:
    return [
        (a.text, a.get_attribute("href")) for a in dash_duo.find_elements("#app-sidebar a.nav-link")
    ]


def _groups(dash_duo) -> list[str]:
    return [g.text.title() for g in dash_duo.find_elements("#app-sidebar .app-nav-group")]


def test_every_sidebar_page_loads_and_business_links_carry_the_filters(demo_app, dash_duo):
    _start(dash_duo, demo_app)
    login(dash_duo)
    dash_duo.wait_for_element(".app-kpi-value", timeout=20)
    groups = _groups(dash_duo)
    assert groups == [g for g in GROUP_ORDER if g in groups] and groups[0] == "Business"
    assert "admin" in dash_duo.find_element("#app-user-badge").text

    links = _links(dash_duo)
    assert links[0][0] == "Overview" and len(links) == len({href for _, href in links})
    for name, href in links:
        path = urlsplit(href).path
        dash_duo.find_element(f"#app-sidebar a.nav-link[href='{path}']").click()
        wait_until(
            dash_duo,
            f"{name} to be the active link",
            lambda p=path: (
                "active"
                in dash_duo.find_element(f"#app-sidebar a.nav-link[href^='{p}']").get_attribute(
                    "class"
                )
            ),
        )
        wait_until(
            dash_duo,
            f"{name} to render",
            lambda: dash_duo.find_element("#_pages_content").text.strip(),
        )
        assert urlsplit(dash_duo.driver.current_url).path == path
        text = dash_duo.find_element("#_pages_content").text
        assert "Page not found" not in text and "Traceback" not in text, name
        active = [a.text for a in dash_duo.find_elements("#app-sidebar a.nav-link.active")]
        assert active == [name]
    assert dash_duo.get_logs() == []

    query = "?start=2024-02-01&end=2024-02-29"
    dash_duo.driver.get(dash_duo.server_url + "/" + query)
    dash_duo.wait_for_element(".app-kpi-value", timeout=20)
    # dict ids are rendered as JSON in the id attribute
    business = '#app-sidebar a.nav-link[id*=\'"group":"business"\']'
    others = '#app-sidebar a.nav-link:not([id*=\'"group":"business"\'])'
    wait_until(
        dash_duo,
        "business links to carry the filters",
        lambda: all(
            a.get_attribute("href").endswith(query) for a in dash_duo.find_elements(business)
        ),
    )
    assert "Overview" in [a.text for a in dash_duo.find_elements(business)]
    assert all("?" not in a.get_attribute("href") for a in dash_duo.find_elements(others))
    assert dash_duo.get_logs() == []


def test_theme_switch_is_remembered(demo_app, dash_duo):
    _start(dash_duo, demo_app)
    login(dash_duo)
    dash_duo.wait_for_element(".app-kpi-value", timeout=20)
    assert _theme(dash_duo) == "light"
    body_light = dash_duo.driver.execute_script(
        "return getComputedStyle(document.body).backgroundColor"
    )
    dash_duo.find_element("#app-theme-switch").click()
    wait_until(dash_duo, "the dark theme", lambda: _theme(dash_duo) == "dark")
    body_dark = dash_duo.driver.execute_script(
        "return getComputedStyle(document.body).backgroundColor"
    )
    assert body_dark != body_light

    dash_duo.driver.refresh()
    dash_duo.wait_for_element("#app-sidebar", timeout=15)
    assert _theme(dash_duo) == "dark"
    wait_until(
        dash_duo,
        "the switch to show dark",
        lambda: dash_duo.find_element("#app-theme-switch").is_selected(),
    )
    dash_duo.find_element("#app-theme-switch").click()
    wait_until(dash_duo, "the light theme", lambda: _theme(dash_duo) == "light")
    assert dash_duo.get_logs() == []


def test_unknown_url_role_sidebar_and_logout(demo_app, dash_duo):
    _start(dash_duo, demo_app)
    login(dash_duo, "viewer", VIEWER_PASSWORD)
    dash_duo.wait_for_element(".app-kpi-value", timeout=20)
    assert "Admin" not in _groups(dash_duo)
    assert all("/admin" not in href for _, href in _links(dash_duo))
    badge = dash_duo.find_element("#app-user-badge").text
    assert "viewer" in badge

    dash_duo.driver.get(dash_duo.server_url + "/no/such/page")
    dash_duo.wait_for_contains_text("#_pages_content", "Page not found", timeout=15)
    dash_duo.find_element("#_pages_content a").click()
    dash_duo.wait_for_element(".app-kpi-value", timeout=20)
    assert urlsplit(dash_duo.driver.current_url).path == "/"

    dash_duo.find_element("#app-user-badge button[type=submit]").click()
    dash_duo.wait_for_element("#login-username", timeout=15)
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_element("#login-username", timeout=15)  # the session is really gone
    assert dash_duo.get_logs() == []
