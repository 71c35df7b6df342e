"""In the browser: /customers loads after login; "Recompute tags" starts the job in the
background, shows its progress and then its result, and fills profiles, tags and the list; the
list is paged on the server (rows far down arrive as the grid scrolls, a header click sorts on
the server, the segment filter narrows it), each checked against SQL on the database; a viewer
sees the button disabled."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, text

from bi_app.analytics.churn import TAG_LABELS
from tests.conftest import VIEWER_PASSWORD, free_port, login
from tests.e2e.conftest import select_dropdown, wait_until

pytestmark = pytest.mark.e2e


def _count_text(dash_duo) -> str:
    return dash_duo.find_element("#customers-list-count-text").text


GRID_API = (
    "var api = window.dash_ag_grid.getApi("
    "JSON.stringify({name: 'customers-list', type: 'grid-table'}));"
)


def _row_ids(dash_duo, first: int, last: int) -> list[str]:
    """The ID cells of the grid's rows ``first..last-1`` (as loaded from the server)."""
    return dash_duo.driver.execute_script(
        GRID_API
        + "var out = [];"
        + f"for (var i = {first}; i < {last}; i++) {{"
        + "  var node = api.getDisplayedRowAtIndex(i);"
        + "  out.push(node && node.data ? node.data.external_id : null); }"
        + "return out;"
    )


def _show_list(dash_duo) -> None:
    """Scroll to the list: its grid is built only once its place comes into view."""
    slot = dash_duo.find_element("#customers-list-slot")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", slot)
    dash_duo.wait_for_element("#customers-list-slot .ag-root", timeout=20)


def _start(dash_duo, app):
    dash_duo.start_server(app, navigate=False, port=free_port())
    dash_duo._url = dash_duo.server.url


def test_customers_page_recompute_segment_click_and_viewer(demo_sqlite_url, app_factory, dash_duo):
    _start(dash_duo, app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/customers")
    dash_duo.driver.get(f"{dash_duo.server_url}/customers")
    dash_duo.wait_for_contains_text("#customers-kpi-row", "vs previous period", timeout=20)
    dash_duo.wait_for_contains_text("#customers-status-text", "not been computed", timeout=20)
    dash_duo.wait_for_contains_text(
        "#customers-churn-model-body", "No churn model has been trained yet", timeout=20
    )
    # the list lies below the charts: no grid is built until it comes into view
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, ".ag-root") == []
    assert "loads as it comes into view" in dash_duo.find_element("#customers-list-slot").text

    dash_duo.find_element("#customers-recompute-button").click()
    # the click only starts the job: its answer is the progress message, then the poll's result
    dash_duo.wait_for_contains_text("#customers-recompute-alert", "Recomputing", timeout=20)
    dash_duo.wait_for_contains_text("#customers-recompute-alert", "Recomputed", timeout=60)
    dash_duo.wait_for_contains_text("#customers-status-text", "as of", timeout=20)
    engine = create_engine(demo_sqlite_url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT COUNT(*) FROM customer_stats")).scalar_one()
        by_spend = (
            conn.execute(
                text(
                    "SELECT c.external_id FROM customer_stats s"
                    " JOIN customers c ON c.id = s.customer_id"
                    " ORDER BY s.spend_cents DESC, s.customer_id DESC"
                )
            )
            .scalars()
            .all()
        )
        by_visits = (
            conn.execute(
                text(
                    "SELECT c.external_id FROM customer_stats s"
                    " JOIN customers c ON c.id = s.customer_id"
                    " ORDER BY s.visits, s.customer_id LIMIT 3"
                )
            )
            .scalars()
            .all()
        )
        loyal = conn.execute(
            text("SELECT COUNT(*) FROM customer_stats WHERE segment = 'loyal'")
        ).scalar_one()
    assert total > 300
    _show_list(dash_duo)
    wait_until(
        dash_duo, "the list count", lambda: _count_text(dash_duo) == f"{total:,} matching customers"
    )
    everyone = _count_text(dash_duo)
    wait_until(
        dash_duo, "the first rows by spend", lambda: _row_ids(dash_duo, 0, 3) == by_spend[:3]
    )
    # far down: the grid asks the server for the block holding row 250 as it scrolls there
    dash_duo.driver.execute_script(GRID_API + "api.ensureIndexVisible(250, 'middle');")
    wait_until(dash_duo, "row 250", lambda: _row_ids(dash_duo, 250, 251) == [by_spend[250]])
    # a header click sorts on the server: fewest visits first
    dash_duo.driver.execute_script(GRID_API + "api.ensureIndexVisible(0, 'top');")
    header = dash_duo.find_element(".ag-header-cell[col-id='visits'] .ag-header-cell-label")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", header)
    time.sleep(0.3)
    header.click()
    wait_until(dash_duo, "the rows by visits", lambda: _row_ids(dash_duo, 0, 3) == by_visits)
    dash_duo.wait_for_element("#customers-segment-graph .bars path", timeout=15)
    dash_duo.wait_for_element(".ag-center-cols-container .ag-row", timeout=15)
    dash_duo.driver.save_screenshot("/tmp/customers-page.png")

    dropdown = dash_duo.find_element("#customers-segment-dropdown")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", dropdown)
    time.sleep(0.3)
    select_dropdown(dash_duo, "#customers-segment-dropdown", "Loyal")
    wait_until(
        dash_duo,
        f"the list to narrow to one segment ({everyone})",
        lambda: _count_text(dash_duo) != everyone,
    )
    assert _count_text(dash_duo) == f"{loyal:,} matching customers"
    wait_until(
        dash_duo,
        "loyal rows only",
        lambda: (
            {
                c.text
                for c in dash_duo.driver.find_elements(
                    By.CSS_SELECTOR, ".ag-center-cols-container [col-id='segment']"
                )
            }
            == {"Loyal"}  # the segment's name, in the page's language
        ),
    )
    assert dash_duo.get_logs() == []


def test_viewer_sees_no_recompute_and_admin_settings_validate(
    demo_sqlite_url, app_factory, dash_duo
):
    _start(dash_duo, app_factory(demo_sqlite_url))
    login(dash_duo, "viewer", VIEWER_PASSWORD, next_path="/customers")
    dash_duo.driver.get(f"{dash_duo.server_url}/customers")
    dash_duo.wait_for_contains_text("#customers-kpi-row", "vs previous period", timeout=20)
    assert (
        dash_duo.find_element("#customers-recompute-button").get_attribute("disabled") is not None
    )
    assert dash_duo.get_logs() == []


def test_at_risk_view_lists_every_tagged_customer_by_name_and_since(
    demo_sqlite_url, app_factory, dash_duo
):
    from bi_app import customer_tags
    from bi_app.db.engine import make_engine

    engine = make_engine(demo_sqlite_url)
    customer_tags.recompute(engine, dt.date.today())
    with engine.connect() as conn:
        tagged = conn.execute(text("SELECT COUNT(*) FROM customer_tags")).scalar_one()
        first = conn.execute(
            text(
                "SELECT c.external_id, t.tag, t.as_of FROM customer_stats s"
                " JOIN customers c ON c.id = s.customer_id"
                " JOIN customer_tags t ON t.customer_id = s.customer_id"
                " ORDER BY s.spend_cents DESC, s.customer_id DESC LIMIT 1"
            )
        ).one()
    engine.dispose()
    assert tagged > 0
    _start(dash_duo, app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/customers")
    dash_duo.driver.get(f"{dash_duo.server_url}/customers?tag=at-risk")
    assert "At risk (any tag)" in dash_duo.wait_for_element("#customers-tag-dropdown").text
    _show_list(dash_duo)
    wait_until(
        dash_duo,
        f"{tagged:,} customers at risk",
        lambda: _count_text(dash_duo) == f"{tagged:,} matching customers",
    )
    wait_until(dash_duo, "the first row", lambda: _row_ids(dash_duo, 0, 1) == [first.external_id])
    row = dash_duo.driver.execute_script(
        GRID_API + "var d = api.getDisplayedRowAtIndex(0).data; return [d.tags, d.tag_since];"
    )
    assert row == [TAG_LABELS[first.tag], str(first.as_of)[:10]]
    headers = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#customers-list-slot .ag-header-cell-text'),"
        " e => e.textContent);"
    )
    assert "Churn risk" in headers and "Since" in headers
    dash_duo.driver.save_screenshot("/tmp/customers-at-risk.png")

    # another tag from the dropdown: the URL follows, so the view can be shared
    select_dropdown(dash_duo, "#customers-tag-dropdown", "Reactivation needed")
    wait_until(
        dash_duo,
        "the URL to name the tag",
        lambda: "tag=reactivation_needed" in dash_duo.driver.current_url,
    )
    assert dash_duo.get_logs() == []


def test_churn_model_card_and_probability_column(demo_sqlite_url, app_factory, dash_duo):
    """After the nightly churn job: the card shows the hold-out figures stored with the active
    version, and the list a churn probability per customer (sorted on the server)."""
    from bi_app import customer_tags
    from bi_app.db.engine import make_engine
    from bi_app.models import churn, registry

    engine = make_engine(demo_sqlite_url)
    registry.clear_cache()
    job = churn.training_job(engine)
    customer_tags.recompute(engine, dt.date.today())
    info = registry.list_versions(engine, churn.MODEL_NAME)[0]
    with engine.connect() as conn:
        top = conn.execute(
            text(
                "SELECT c.external_id, p.probability FROM customer_stats s"
                " JOIN customers c ON c.id = s.customer_id"
                " LEFT JOIN churn_scores p ON p.customer_id = s.customer_id"
                " ORDER BY COALESCE(p.probability_ppm, -1) DESC, s.customer_id DESC LIMIT 3"
            )
        ).all()
    engine.dispose()
    assert job["status"] == "good" and job["scored"] > 100
    _start(dash_duo, app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/customers")
    dash_duo.driver.get(f"{dash_duo.server_url}/customers")
    card = "#customers-churn-model-body"
    dash_duo.wait_for_contains_text(card, "ROC AUC", timeout=20)
    text_shown = dash_duo.find_element(card).text
    assert f"{info.metrics['auc']:.3f}" in text_shown
    assert f"{info.metrics['top_decile_precision']:.1%}" in text_shown
    assert f"Model version {info.version}" in text_shown

    _show_list(dash_duo)
    headers = dash_duo.driver.execute_script(
        "return Array.from(document.querySelectorAll('#customers-list-slot .ag-header-cell-text'),"
        " e => e.textContent);"
    )
    assert "Churn probability" in headers and "Next expected visit" in headers
    dash_duo.driver.execute_script(GRID_API + "api.ensureColumnVisible('churn_probability');")
    header = dash_duo.find_element(
        ".ag-header-cell[col-id='churn_probability'] .ag-header-cell-label"
    )
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", header)
    time.sleep(0.3)
    header.click()  # ascending first, then a second click: highest first
    time.sleep(0.5)
    header.click()
    wait_until(
        dash_duo,
        "the rows by churn probability",
        lambda: _row_ids(dash_duo, 0, 3) == [r.external_id for r in top],
    )
    value = dash_duo.driver.execute_script(
        GRID_API + "return api.getDisplayedRowAtIndex(0).data.churn_probability;"
    )
    assert value == pytest.approx(top[0].probability)
    shown = dash_duo.find_element(
        ".ag-center-cols-container .ag-row[row-index='0'] [col-id='churn_probability']"
    ).text
    assert shown == f"{top[0].probability:.1%}"
    assert dash_duo.get_logs() == []
