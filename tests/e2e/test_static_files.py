"""In the browser: the lazily loaded chunks every page needs (graph, dropdown, date picker,
plotly.js, AG Grid's community grid) arrive as fingerprinted page scripts, cacheable for a year;
the unfingerprinted copies are never fetched, and the page with graphs, filters and a grid works."""

from __future__ import annotations

import re

import pytest

from bi_app.serving import PRELOADED_CHUNKS
from tests.conftest import login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

FINGERPRINT = re.compile(r"\.v[\w]+m\d{8,}\.")


def _fetched(dash_duo) -> list[str]:
    return dash_duo.driver.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; });"
    )


def test_every_preloaded_chunk_arrives_fingerprinted_and_never_bare(
    demo_sqlite_url, app_factory, start_app
):
    dash_duo = start_app(app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/")
    for path in ("/", "/customers"):
        dash_duo.driver.get(f"{dash_duo.server_url}{path}")
        dash_duo.wait_for_element(".js-plotly-plot .main-svg", timeout=20)
        if path == "/customers":  # the list's grid is built once it comes into view
            slot = dash_duo.find_element("#customers-list-slot")
            dash_duo.driver.execute_script("arguments[0].scrollIntoView();", slot)
            dash_duo.wait_for_element(".ag-root", timeout=20)
        urls = wait_until(dash_duo, "resources listed", lambda: _fetched(dash_duo) or None)
        suites = [u.split("?")[0] for u in urls if "/_dash-component-suites/" in u]
        for namespace, chunk in PRELOADED_CHUNKS:
            stem = chunk.rpartition("/")[2].partition(".")[0]
            mine = [u for u in suites if f"/{namespace}/" in u and f"/{stem}." in u]
            assert mine, f"{chunk} was not loaded on {path}"
            assert all(FINGERPRINT.search(u) for u in mine), (path, mine)
        for entry in dash_duo.get_logs() or []:
            assert entry["level"] != "SEVERE", entry
