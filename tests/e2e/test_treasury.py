"""In the browser: /treasury shows the balances and the window's flows (checked against sums
of the raw ledger), the Sankey, the volume chart with its pattern and the counterparties; a new
window from the date picker reaches the cards and the URL; a bad date in the URL is explained."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import text

from bi_app.db.engine import make_engine
from bi_app.i18n import format_money
from tests.conftest import login
from tests.e2e.conftest import wait_until

pytestmark = pytest.mark.e2e

START_INPUT = "#treasury-window-daterange"
END_INPUT = "#treasury-window-daterange-end-date"


def _ledger(url: str, start: dt.date, end: dt.date) -> tuple[int, int, dt.date]:
    """``(total balance at the end of end, inflow of start..end, last day)`` from the raw
    transactions of the EUR accounts (the tests run in UTC)."""
    engine = make_engine(url)
    lo = dt.datetime.combine(start, dt.time.min)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min)
    eur = "account_id IN (SELECT id FROM accounts WHERE currency = 'EUR')"
    try:
        with engine.connect() as conn:
            balance = conn.execute(
                text(
                    f"SELECT SUM(amount_cents) FROM transactions WHERE {eur} AND occurred_at < :hi"
                ),
                {"hi": hi},
            ).scalar()
            inflow = conn.execute(
                text(
                    "SELECT SUM(amount_cents) FROM transactions WHERE "
                    f"{eur} AND amount_cents > 0 AND kind IN ('deposit', 'withdrawal', 'fee') "
                    "AND occurred_at >= :lo AND occurred_at < :hi"
                ),
                {"lo": lo, "hi": hi},
            ).scalar()
            last = conn.execute(text(f"SELECT MAX(occurred_at) FROM transactions WHERE {eur}"))
            last_day = dt.datetime.fromisoformat(str(last.scalar())).date()
    finally:
        engine.dispose()
    return int(balance or 0), int(inflow or 0), last_day


def _card(dash_duo, index: str) -> str:
    return dash_duo.find_element(f".app-treasury-card-{index} .app-kpi-value").text


def _set_date(dash_duo, selector: str, day: dt.date) -> None:
    field = dash_duo.find_element(selector)
    field.click()
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(day.isoformat(), Keys.ENTER)
    dash_duo.find_element("h1").click()  # close the calendar


def test_treasury_page_window_and_bad_date(demo_sqlite_url, app_factory, start_app):
    dash_duo = start_app(app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/treasury")
    dash_duo.driver.set_window_size(1400, 2400)
    dash_duo.driver.get(f"{dash_duo.server_url}/treasury")

    _, _, last = _ledger(demo_sqlite_url, dt.date(2000, 1, 1), dt.date(2000, 1, 1))
    first = last - dt.timedelta(days=6)
    balance, inflow, _ = _ledger(demo_sqlite_url, first, last)
    assert inflow > 0
    wait_until(
        dash_duo,
        "the total balance card",
        lambda: _card(dash_duo, "total") == format_money(balance, "EUR", "en"),
    )
    assert _card(dash_duo, "inflow") == format_money(inflow, "EUR", "en")
    shares = [
        dash_duo.find_element(f".app-treasury-card-{t} .app-kpi-value + div").text
        for t in ("hot", "warm", "cold")
    ]
    assert all(s.endswith("of the total") for s in shares)
    assert dash_duo.find_element(START_INPUT).get_attribute("value") == first.isoformat()
    assert dash_duo.find_element(END_INPUT).get_attribute("value") == last.isoformat()

    # the Sankey with its nodes, the volume bars, the pattern, recommendations, counterparties
    wait_until(
        dash_duo,
        "the Sankey's nodes",
        lambda: len(dash_duo.find_elements("#treasury-flow-graph .sankey-node")) >= 4,
    )
    labels = [
        e.text for e in dash_duo.find_elements("#treasury-flow-graph .sankey-node .node-label")
    ]
    assert "External deposits" in labels and "Hot" in labels
    dash_duo.wait_for_element("#treasury-volume-graph .bars path", timeout=15)
    pattern = dash_duo.wait_for_element("#treasury-pattern-text .badge", timeout=15).text
    assert pattern in {"Spike", "Burst", "Regular", "Normal"}
    assert dash_duo.find_elements(".app-treasury-recommendation")
    wait_until(
        dash_duo,
        "counterparty rows",
        lambda: dash_duo.find_elements(".bi-data-grid .ag-center-cols-container .ag-row"),
    )
    dash_duo.driver.save_screenshot("/tmp/treasury.png")

    # one day: the cards follow, the volume is drawn per minute, the URL keeps the window
    _set_date(dash_duo, START_INPUT, last)
    _, day_inflow, _ = _ledger(demo_sqlite_url, last, last)
    wait_until(
        dash_duo,
        "the inflow of one day",
        lambda: _card(dash_duo, "inflow") == format_money(day_inflow, "EUR", "en"),
    )
    wait_until(
        dash_duo,
        "the window in the URL",
        lambda: f"start={last.isoformat()}&end={last.isoformat()}" in dash_duo.driver.current_url,
    )
    wait_until(
        dash_duo,
        "the pattern per minute",
        lambda: "minute" in dash_duo.find_element("#treasury-pattern-text").text,
    )
    dash_duo.driver.save_screenshot("/tmp/treasury-day.png")

    # a hand-edited URL: a visible notice and the default window
    dash_duo.driver.get(f"{dash_duo.server_url}/treasury?start=nope")
    notice = dash_duo.wait_for_element("#treasury-window-notice", timeout=15)
    assert "Invalid date 'nope'; showing the last 7 days." in notice.text
    assert dash_duo.find_element(START_INPUT).get_attribute("value") == first.isoformat()
    wait_until(
        dash_duo,
        "the cards of the default window",
        lambda: _card(dash_duo, "inflow") == format_money(inflow, "EUR", "en"),
    )
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, ".app-treasury-card-net")
    assert dash_duo.get_logs() == []


def _score_demo(url: str) -> tuple[str, dt.date, str, int]:
    """Train the transaction detector on the demo ledger and score it (as the jobs would), then
    raise the risk rule's alert for the most severe EUR finding: ``(reference, local day,
    level, alert id)`` of that finding."""
    from sqlalchemy import insert, select

    from bi_app.db.alert_models import Alert, AlertRule
    from bi_app.db.model_models import TransactionFinding
    from bi_app.db.models import Account, Transaction
    from bi_app.models import transactions as tx

    engine = make_engine(url)
    try:
        assert tx.train(engine, days=None).active
        assert tx.score_new(engine, 10**12, budget_seconds=None)["findings"] > 0
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        with engine.begin() as conn:
            rows = conn.execute(
                select(Transaction.reference, Transaction.occurred_at, TransactionFinding.level)
                .join(Transaction, Transaction.id == TransactionFinding.transaction_id)
                .join(Account, Account.id == Transaction.account_id)
                .where(Account.currency == "EUR", TransactionFinding.level.is_not(None))
            ).all()
            reference, at, level = min(rows, key=lambda r: (rank[r.level], r.occurred_at))
            rule = conn.execute(
                select(AlertRule.id).where(AlertRule.metric == "transaction_risk")
            ).scalar_one()
            now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            alert_id = conn.execute(
                insert(Alert)
                .values(
                    fingerprint=f"e2e-{reference}",
                    rule_id=rule,
                    name="High-risk transaction",
                    severity="critical",
                    labels={"transaction": reference, "level": level, "account": "x"},
                    state="firing",
                    started_at=now,
                    last_seen_at=now,
                )
                .returning(Alert.id)
            ).scalar_one()
    finally:
        engine.dispose()
    return reference, at.date(), level, alert_id


def test_unusual_transactions_grid_links_each_alert(demo_sqlite_url, app_factory, start_app):
    reference, day, level, alert_id = _score_demo(demo_sqlite_url)
    dash_duo = start_app(app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/treasury")
    dash_duo.driver.set_window_size(1400, 2600)
    dash_duo.driver.get(f"{dash_duo.server_url}/treasury?start={day}&end={day}")

    rows = ".app-treasury-findings .ag-center-cols-container .ag-row"
    wait_until(dash_duo, "rows of unusual transactions", lambda: dash_duo.find_elements(rows))
    first = dash_duo.find_element(f"{rows}[row-index='0']")
    pinned = dash_duo.find_element(
        ".app-treasury-findings .ag-pinned-left-cols-container .ag-row[row-index='0']"
    )
    assert pinned.text.startswith(day.isoformat())
    assert first.find_element(By.CSS_SELECTOR, "[col-id='reference']").text == reference
    level_cell = first.find_element(By.CSS_SELECTOR, "[col-id='level']")
    assert level_cell.text == level.capitalize() and "alert-sev" in level_cell.get_attribute(
        "class"
    )
    dash_duo.find_element(".app-treasury-findings").location_once_scrolled_into_view  # noqa: B018
    dash_duo.driver.save_screenshot("/tmp/treasury-findings.png")
    # the last columns: scrolled into view as a person would
    grid_id = json.dumps({"name": "treasury-findings", "type": "grid-table"}, separators=(",", ":"))
    dash_duo.driver.execute_script(
        f"window.dash_ag_grid.getApi({json.dumps(grid_id)}).ensureColumnVisible('alert');"
    )
    wait_until(
        dash_duo,
        "the alert column",
        lambda: first.find_elements(By.CSS_SELECTOR, "[col-id='alert'] a"),
    )
    assert first.find_element(By.CSS_SELECTOR, "[col-id='action']").text
    link = first.find_element(By.CSS_SELECTOR, "[col-id='alert'] a")
    assert link.get_attribute("href").endswith(f"/ops/alerts?alert={alert_id}")
    assert link.text == f"#{alert_id}"
    dash_duo.driver.save_screenshot("/tmp/treasury-findings-right.png")
    assert dash_duo.get_logs() == []


def test_capacity_gauge_shows_the_level_from_the_ledger(demo_sqlite_url, app_factory, start_app):
    """The transaction energy of the hot accounts, sampled over the ledger's last week: the
    gauge, the level counted independently from the raw debits, the warning state and the
    predicted depletion; the level chart with its forecast line."""
    from bi_app import capacity
    from bi_app.i18n import format_number

    _, _, last = _ledger(demo_sqlite_url, dt.date(2000, 1, 1), dt.date(2000, 1, 1))
    t0 = dt.datetime.combine(last - dt.timedelta(days=6), dt.time.min)
    t1 = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min)
    engine = make_engine(demo_sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM capacity_samples"))
            conn.execute(text("DELETE FROM capacity_resources"))
            debits = conn.execute(
                text(
                    "SELECT COUNT(*) FROM transactions WHERE amount_cents < 0 AND occurred_at > :lo"
                    " AND occurred_at <= :hi AND account_id IN "
                    "(SELECT id FROM accounts WHERE tier = 'hot')"
                ),
                {"lo": t0, "hi": t1},
            ).scalar()
        assert debits > 0
        size = -(-debits * 100 * 100 // 85)  # the debits use 85 %: 15 % is left (warning)
        capacity.ensure_resource(
            engine,
            "energy",
            label="Hot wallet energy",
            unit="energy",
            capacity=size,
            refill_per_hour=0,
            cost_per_transaction=100,
        )
        for hours in range(0, 7 * 24 + 1, 6):
            capacity.record_sample(engine, at=t0 + dt.timedelta(hours=hours))
    finally:
        engine.dispose()
    level = size - debits * 100

    dash_duo = start_app(app_factory(demo_sqlite_url))
    login(dash_duo, next_path="/treasury")
    dash_duo.driver.set_window_size(1400, 2400)
    dash_duo.driver.get(f"{dash_duo.server_url}/treasury")
    expected = f"{format_number(level, 'en')} energy of {format_number(size, 'en')} energy"
    wait_until(
        dash_duo,
        "the capacity level",
        lambda: dash_duo.find_element(".app-capacity-level").text == expected,
    )
    assert dash_duo.find_element(".app-capacity-state").text == "Warning"
    assert dash_duo.find_element(".app-capacity-net").text.startswith("-")
    assert dash_duo.find_element(".app-capacity-depletion").text != "Not depleting"
    number = dash_duo.wait_for_element("#treasury-capacity-gauge .indicatorlayer .number")
    assert number.text == f"{100 * level / size:.1f}%"
    wait_until(
        dash_duo,
        "the level and forecast lines",
        lambda: len(dash_duo.find_elements("#treasury-capacity-graph .scatterlayer .trace")) == 2,
    )
    dash_duo.find_element("#treasury-capacity-card").location_once_scrolled_into_view  # noqa: B018
    dash_duo.driver.save_screenshot("/tmp/treasury-capacity.png")
    assert dash_duo.get_logs() == []
