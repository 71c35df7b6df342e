"""The Treasury figures alert rules can read (cold share, hot coverage of daily withdrawals), now
and as a daily series for the backtest, on SQLite and PostgreSQL, against a hand-made ledger."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from bi_app.alerts import rule_admin, sources
from bi_app.db.engine import make_engine
from bi_app.db.models import Account, Transaction
from tests.conftest import migrate

DAY = dt.timedelta(days=1)
NOW = dt.datetime(2026, 12, 5, 12, 0)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'treasury.sqlite'}"
    else:
        url = request.getfixturevalue("pg_url")
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def ledger(engine) -> None:
    """Hot 10,000.00, warm 20,000.00, cold 70,000.00 on the 1st; 300.00 withdrawn from hot on
    each of the 3rd and the 4th (and one 99.00 fee that is no withdrawal); a KRW account that
    must not count."""
    with Session(engine) as session:
        accounts = {
            tier: Account(code=f"{tier}-1", name=tier, tier=tier, currency="EUR")
            for tier in ("hot", "warm", "cold")
        }
        other = Account(code="krw-1", name="won", tier="cold", currency="KRW")
        session.add_all([*accounts.values(), other])
        session.flush()
        rows = [
            ("hot", 1_000_000, "deposit", dt.datetime(2026, 12, 1, 9)),
            ("warm", 2_000_000, "deposit", dt.datetime(2026, 12, 1, 9)),
            ("cold", 7_000_000, "deposit", dt.datetime(2026, 12, 1, 9)),
            ("hot", -30_000, "withdrawal", dt.datetime(2026, 12, 3, 10)),
            ("hot", -30_000, "withdrawal", dt.datetime(2026, 12, 4, 10)),
            ("hot", -9_900, "fee", dt.datetime(2026, 12, 4, 11)),
        ]
        for n, (tier, cents, kind, at) in enumerate(rows):
            session.add(
                Transaction(
                    reference=f"t{n}",
                    account_id=accounts[tier].id,
                    kind=kind,
                    amount_cents=cents,
                    occurred_at=at,
                )
            )
        session.add(
            Transaction(
                reference="krw",
                account_id=other.id,
                kind="deposit",
                amount_cents=10**12,
                occurred_at=dt.datetime(2026, 12, 2),
            )
        )
        session.commit()


def test_the_current_figures_match_the_ledger(engine):
    ledger(engine)
    (cold,) = sources.read_current("business", "treasury_cold_share", {}, engine, NOW)
    total = 1_000_000 + 2_000_000 + 7_000_000 - 60_000 - 9_900
    assert cold.value == pytest.approx(100 * 7_000_000 / total)
    (hot,) = sources.read_current("business", "treasury_hot_coverage", {}, engine, NOW)
    hot_balance = 1_000_000 - 60_000 - 9_900
    assert hot.value == pytest.approx(100 * hot_balance / (60_000 / 30))


def test_the_daily_series_carries_the_balances_forward(engine):
    ledger(engine)
    samples = sources.read_series(
        "business", "treasury_cold_share", {}, engine, dt.datetime(2026, 12, 2), NOW
    )
    assert [s.at for s in samples] == [
        dt.datetime(2026, 12, 3),
        dt.datetime(2026, 12, 4),
        dt.datetime(2026, 12, 5),
    ]
    totals = [10_000_000, 10_000_000 - 30_000, 10_000_000 - 60_000 - 9_900]
    assert [s.value for s in samples] == pytest.approx([100 * 7_000_000 / t for t in totals])
    coverage = sources.read_series(
        "business", "treasury_hot_coverage", {}, engine, dt.datetime(2026, 12, 2), NOW
    )
    # day ends: nothing withdrawn yet (no average: None), then 300.00, then 600.00 in 30 days
    assert coverage[0].value is None
    assert coverage[1].value == pytest.approx(100 * (1_000_000 - 30_000) / (30_000 / 30))
    assert coverage[2].value == pytest.approx(100 * (1_000_000 - 69_900) / (60_000 / 30))


def test_a_rule_on_the_cold_share_validates_and_backtests(engine):
    ledger(engine)
    raw = {
        "name": "Cold share below 70 %",
        "kind": "business",
        "metric": "treasury_cold_share",
        "params": {"operator": "<", "threshold": "70"},
        "severity": "warning",
        "for_seconds": "0",
        "cooldown_seconds": "0",
    }
    result = rule_admin.backtest_rule(raw, now=NOW, engine=engine)
    assert result["error"] is None and result["unit"] == "percent"
    assert result["fired_30d"] == []  # 70.0 % at the end of the 1st, then more: never below
    lowered = rule_admin.backtest_rule(
        {**raw, "params": {"operator": "<", "threshold": "70.1"}}, now=NOW, engine=engine
    )
    assert len(lowered["fired_30d"]) == 1  # below 70.1 % until the withdrawals (one firing)


def test_a_high_risk_finding_raises_its_own_alert_through_the_default_rule(engine):
    from sqlalchemy import select

    from bi_app.alerts.evaluate import evaluate_rules
    from bi_app.db.alert_models import Alert
    from bi_app.db.model_models import TransactionFinding

    ledger(engine)
    with Session(engine) as session:
        by_ref = {t.reference: t.id for t in session.scalars(select(Transaction))}
        for ref, level in (("t3", "high"), ("t4", "low"), ("t5", "critical")):
            session.add(
                TransactionFinding(
                    transaction_id=by_ref[ref],
                    scored_at=NOW - dt.timedelta(hours=1),
                    score=0.7,
                    level=level,
                    factors=["abnormal_amount"],
                    action="manual_approval",
                    large=False,
                )
            )
        session.commit()
    (sample,) = [
        s
        for s in sources.read_current("business", "transaction_risk", {}, engine, NOW)
        if s.labels["transaction"] == "t5"
    ]
    assert sample.value == 4 and sample.labels == {
        "transaction": "t5",
        "level": "critical",
        "account": "hot-1",
    }
    evaluate_rules(engine, now=NOW, dispatch=False)
    with Session(engine) as session:
        alerts = session.execute(
            select(Alert.name, Alert.state, Alert.labels).order_by(Alert.id)
        ).all()
    flagged = sorted(
        labels["transaction"]
        for name, state, labels in alerts
        if name == "High-risk transaction" and state == "firing"
    )
    assert flagged == ["t3", "t5"]  # the low one is recorded, not alerted
    # a day later the findings have left the rule's window: those alerts resolve
    evaluate_rules(engine, now=NOW + dt.timedelta(days=1, minutes=1), dispatch=False)
    with Session(engine) as session:
        states = session.scalars(
            select(Alert.state).where(Alert.name == "High-risk transaction")
        ).all()
    assert states == ["resolved", "resolved"]
