"""Treasury data functions against a small hand-made ledger, on SQLite and PostgreSQL.

Business days are cut in Asia/Seoul (UTC+9): local 2024-03-10..11 is UTC 2024-03-09 15:00 up to
2024-03-11 15:00. Every expected number below was worked out by hand from the rows in this file
(the running balances are written out next to them).
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pandas as pd
import pytest
from sqlalchemy import insert, select

from bi_app.analytics.flow_pattern import Edge
from bi_app.db.models import Account, Counterparty, Transaction
from bi_app.db.periods import use_timezone

pytestmark = pytest.mark.integration

T = dt.datetime
D = dt.date
SEOUL = "Asia/Seoul"

ACCOUNTS = [
    (1, "HOT-1", "Operating", "hot", "EUR"),
    (2, "HOT-2", "Clearing", "hot", "EUR"),
    (3, "WARM-1", "Reserve", "warm", "EUR"),
    (4, "COLD-1", "Vault", "cold", "EUR"),
    (5, "HOT-KRW", "Won account", "hot", "KRW"),  # another currency: never summed with EUR
]
COUNTERPARTIES = [
    (1, "CP-INT", "Internal transfer", "internal"),
    (2, "CP-BANK", "Bank A", "bank"),
    (3, "CP-SUP", "Supplier S", "supplier"),
    (4, "CP-CUS", "Customer C", "customer"),
]
# account, counterparty, kind, amount, occurred_at (UTC); comments: local Seoul time
LEDGER = [
    (1, 2, "deposit", 10_000, T(2024, 1, 15)),
    (3, 2, "deposit", 20_000, T(2024, 1, 15)),
    (4, 2, "deposit", 50_000, T(2024, 1, 15)),
    (1, 3, "withdrawal", -4_000, T(2024, 2, 1)),  # 02-01 09:00, before the 30 days to 03-11
    (1, 3, "withdrawal", -3_000, T(2024, 2, 20, 10)),  # 02-20 19:00
    (1, 4, "deposit", 1_111, T(2024, 3, 9, 14, 59, 59)),  # 03-09 23:59:59: before the window
    (2, 4, "deposit", 5_000, T(2024, 3, 9, 15)),  # 03-10 00:00: the window's first instant
    (2, 2, "fee", -70, T(2024, 3, 9, 15, 30)),  # 03-10 00:30
    (2, 1, "sweep", -4_930, T(2024, 3, 10, 3)),  # 03-10 12:00 clearing -> operating (hot->hot)
    (1, 1, "sweep", 4_930, T(2024, 3, 10, 3)),
    (1, 1, "sweep", -6_000, T(2024, 3, 10, 12)),  # 03-10 21:00 hot -> warm
    (3, 1, "sweep", 6_000, T(2024, 3, 10, 12)),
    (1, 3, "withdrawal", -2_000, T(2024, 3, 10, 14, 59)),  # 03-10 23:59
    (3, 1, "cold_storage", -10_000, T(2024, 3, 10, 15)),  # 03-11 00:00 warm -> cold
    (4, 1, "cold_storage", 10_000, T(2024, 3, 10, 15)),
    (3, 1, "sweep", -1_500, T(2024, 3, 11, 1)),  # 03-11 10:00 warm -> hot
    (1, 1, "sweep", 1_500, T(2024, 3, 11, 1)),
    (1, None, "deposit", 3_000, T(2024, 3, 11, 2)),  # 03-11 11:00, no counterparty on file
    (1, 3, "withdrawal", -800, T(2024, 3, 11, 2, 20)),  # 03-11 11:20
    (4, 2, "fee", -25, T(2024, 3, 11, 14, 59, 59)),  # 03-11 23:59:59: the window's last second
    (1, 3, "withdrawal", -999, T(2024, 3, 11, 15)),  # 03-12 00:00: after the window
    (5, 2, "deposit", 1_000_000, T(2024, 3, 10)),  # KRW
    # Europe/Berlin's clock change on 2024-03-31 (02:00 CET -> 03:00 CEST)
    (1, 4, "deposit", 700, T(2024, 3, 31, 0, 30)),  # 01:30 CET
    (1, 4, "deposit", 300, T(2024, 3, 31, 1, 30)),  # 03:30 CEST
]


def load_ledger(engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [
                {"id": i, "code": c, "name": n, "tier": t, "currency": cur}
                for i, c, n, t, cur in ACCOUNTS
            ],
        )
        conn.execute(
            insert(Counterparty),
            [{"id": i, "code": c, "name": n, "kind": k} for i, c, n, k in COUNTERPARTIES],
        )
        conn.execute(
            insert(Transaction),
            [
                {
                    "id": i,
                    "reference": f"TX-{i}",
                    "account_id": a,
                    "counterparty_id": cp,
                    "kind": k,
                    "amount_cents": amount,
                    "occurred_at": at,
                    "note": None,
                }
                for i, (a, cp, k, amount, at) in enumerate(LEDGER, start=1)
            ],
        )


@pytest.fixture(params=["sqlite", "postgresql"])
def treasury_db(request, tmp_path):
    from bi_app.extensions import db
    from tests.conftest import migrate

    url = (
        f"sqlite:///{tmp_path / 'treasury.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    db.init(url)
    load_ledger(db.require_engine())
    with use_timezone(SEOUL):
        yield db.require_engine()
    db.engine.dispose()


def test_currency_and_last_day(treasury_db):
    from bi_app.data import treasury

    assert treasury.book_currency("eur") == "EUR"
    assert treasury.book_currency("KRW") == "KRW"
    assert treasury.book_currency("USD") == "EUR"  # none in USD: the currency of most accounts
    assert treasury.last_day("EUR") == D(2024, 3, 31)  # 2024-03-31 01:30 UTC is 10:30 in Seoul


def test_overview_balances_flows_and_recommendations(treasury_db):
    from bi_app.data import treasury

    o = treasury.overview(D(2024, 3, 10), D(2024, 3, 11), "EUR")
    assert o.currency == "EUR"
    # up to 2024-03-11 15:00 UTC; operating: 10 000 − 4 000 − 3 000 + 1 111 + 4 930 − 6 000
    # − 2 000 + 1 500 + 3 000 − 800 = 4 741; clearing: 5 000 − 70 − 4 930 = 0
    assert o.balances == {"hot": 4_741, "warm": 14_500, "cold": 59_975}
    assert o.total_balance == 79_216
    assert o.shares["cold"] == pytest.approx(59_975 / 79_216)
    assert o.sums == {
        ("hot", "deposit"): (8_000, 0),
        ("hot", "fee"): (0, 70),
        ("hot", "sweep"): (6_430, 10_930),
        ("hot", "withdrawal"): (0, 2_800),
        ("warm", "sweep"): (6_000, 1_500),
        ("warm", "cold_storage"): (0, 10_000),
        ("cold", "cold_storage"): (10_000, 0),
        ("cold", "fee"): (0, 25),
    }
    assert (o.totals.inflow, o.totals.outflow, o.totals.net) == (8_000, 2_895, 5_105)
    assert o.edges == [
        Edge("deposits", "hot", 8_000),
        Edge("hot", "warm", 6_000),
        Edge("hot", "withdrawals", 2_800),
        Edge("hot", "fees", 70),
        Edge("warm", "hot", 1_500),
        Edge("warm", "cold", 10_000),
        Edge("cold", "fees", 25),
    ]
    # withdrawals in the 30 local days 02-11..03-11: 3 000 + 2 000 + 800 (not the one on 02-01)
    assert o.average_daily_withdrawals == Fraction(5_800, 30)
    assert [r.kind for r in o.recommendations] == ["balanced"]

    # at the end of local 02-20: cold 50 000 of 73 000 = 68.5 % < 70 %: move 51 100 − 50 000
    early = treasury.overview(D(2024, 2, 20), D(2024, 2, 20), "EUR")
    assert early.balances == {"hot": 3_000, "warm": 20_000, "cold": 50_000}
    assert early.average_daily_withdrawals == Fraction(7_000, 30)
    (move,) = early.recommendations
    assert (move.kind, move.amount) == ("move_to_cold", 1_100)
    assert early.totals.outflow == 3_000 and early.totals.inflow == 0


def test_hourly_volume_across_midnight_in_seoul(treasury_db):
    from bi_app.data import treasury

    v = treasury.volume(D(2024, 3, 10), D(2024, 3, 11), "EUR")
    assert v.grain == "hour" and len(v.frame) == 48
    assert v.frame["bucket"].iloc[0] == T(2024, 3, 10, 0)
    assert v.frame["bucket"].iloc[-1] == T(2024, 3, 11, 23)
    moved = v.frame[(v.frame["inflow"] != 0) | (v.frame["outflow"] != 0)]
    assert [(b.to_pydatetime(), i, o) for b, i, o in moved.itertuples(index=False)] == [
        (T(2024, 3, 10, 0), 5_000, 70),
        (T(2024, 3, 10, 23), 0, 2_000),
        (T(2024, 3, 11, 11), 3_000, 800),
        (T(2024, 3, 11, 23), 0, 25),
    ]
    assert int(v.frame["inflow"].sum()) == 8_000 and int(v.frame["outflow"].sum()) == 2_895


def test_minute_volume_of_one_day(treasury_db):
    from bi_app.data import treasury

    v = treasury.volume(D(2024, 3, 11), D(2024, 3, 11), "EUR")
    assert v.grain == "minute" and len(v.frame) == 1440
    moved = v.frame[(v.frame["inflow"] != 0) | (v.frame["outflow"] != 0)]
    assert [(b.to_pydatetime(), i, o) for b, i, o in moved.itertuples(index=False)] == [
        (T(2024, 3, 11, 11, 0), 3_000, 0),
        (T(2024, 3, 11, 11, 20), 0, 800),
        (T(2024, 3, 11, 23, 59), 0, 25),
    ]
    assert v.pattern.kind in {"spike", "burst", "regular", "normal"}


def test_minute_volume_across_a_clock_change(treasury_db):
    from bi_app.data import treasury

    with use_timezone("Europe/Berlin"):
        v = treasury.volume(D(2024, 3, 31), D(2024, 3, 31), "EUR")
    moved = v.frame[v.frame["inflow"] != 0]
    assert [(b.to_pydatetime(), i) for b, i, _o in moved.itertuples(index=False)] == [
        (T(2024, 3, 31, 1, 30), 700),  # UTC+1 before the change
        (T(2024, 3, 31, 3, 30), 300),  # UTC+2 after it
    ]


def test_top_counterparties(treasury_db):
    from bi_app.data import treasury

    df = treasury.top_counterparties(D(2024, 3, 10), D(2024, 3, 11), "EUR")
    rows = [
        tuple(r)
        for r in df[["name", "kind", "transactions", "inflow", "outflow", "volume"]].itertuples(
            index=False
        )
    ]
    assert rows == [
        ("Customer C", "customer", 1, 5_000, 0, 5_000),
        ("", "unknown", 1, 3_000, 0, 3_000),
        ("Supplier S", "supplier", 2, 0, 2_800, 2_800),
        ("Bank A", "bank", 2, 0, 95, 95),
    ]
    assert df["share"].tolist() == pytest.approx(
        [5_000 / 10_895, 3_000 / 10_895, 2_800 / 10_895, 95 / 10_895]
    )
    assert treasury.top_counterparties(D(2024, 3, 10), D(2024, 3, 11), "EUR", limit=1)[
        "name"
    ].tolist() == ["Customer C"]


def test_krw_accounts_are_summed_apart(treasury_db):
    from bi_app.data import treasury

    o = treasury.overview(D(2024, 3, 10), D(2024, 3, 11), "KRW")
    assert o.currency == "KRW"
    assert o.balances == {"hot": 1_000_000, "warm": 0, "cold": 0}
    assert o.totals.inflow == 1_000_000 and o.edges == [Edge("deposits", "hot", 1_000_000)]


def test_window_longer_than_a_year_is_refused(treasury_db):
    from bi_app.data import treasury

    with pytest.raises(ValueError):
        treasury.overview(D(2023, 1, 1), D(2024, 3, 11), "EUR")


# --- unusual transactions (the scoring job's findings) -------------------------------------

SCORED = T(2024, 3, 12, 6)
# transaction id (see LEDGER, 1-based) -> level, score, factors, action, large
FINDINGS = {
    6: ("critical", 0.99, ["abnormal_amount"], "block_and_review", False),  # before the window
    7: ("high", 0.81, ["abnormal_amount", "unusual_hour"], "manual_approval", False),
    13: ("critical", 0.72, ["new_counterparty"], "block_and_review", False),
    18: (None, 0.05, [], "log", True),  # only large
    19: ("low", 0.93, ["high_frequency"], "monitor_closely", False),
    8: ("high", 0.60, [], "extra_verification", False),
    21: ("high", 0.95, [], "manual_approval", False),  # after the window
    22: ("critical", 0.99, [], "block_and_review", True),  # KRW
}


def load_findings(engine) -> dict[str, int]:
    """The findings above and three alerts: the risk rule's for TX-7 (two, the later wins) and
    another rule's labelled TX-13 (not the risk rule: not linked). Returns their ids."""
    from bi_app.db.alert_models import Alert, AlertRule
    from bi_app.db.model_models import TransactionFinding

    with engine.begin() as conn:
        conn.execute(
            insert(TransactionFinding),
            [
                {
                    "transaction_id": tx,
                    "scored_at": SCORED,
                    "score": score,
                    "level": level,
                    "factors": factors,
                    "action": action,
                    "large": large,
                }
                for tx, (level, score, factors, action, large) in FINDINGS.items()
            ],
        )
        risk_rule = conn.execute(
            select(AlertRule.id).where(AlertRule.metric == "transaction_risk")
        ).scalar_one()
        other_rule = conn.execute(
            select(AlertRule.id).where(AlertRule.metric != "transaction_risk").limit(1)
        ).scalar_one()
        ids = {}
        for key, rule, reference, minutes in (
            ("old", risk_rule, "TX-7", 1),
            ("risk", risk_rule, "TX-7", 2),
            ("other", other_rule, "TX-13", 1),
        ):
            ids[key] = conn.execute(
                insert(Alert)
                .values(
                    fingerprint=f"{key}-{reference}",
                    rule_id=rule,
                    name="High-risk transaction",
                    severity="critical",
                    labels={"transaction": reference, "level": "high", "account": "HOT-2"},
                    state="resolved" if key == "old" else "firing",
                    started_at=SCORED + dt.timedelta(minutes=minutes),
                    last_seen_at=SCORED + dt.timedelta(minutes=minutes),
                )
                .returning(Alert.id)
            ).scalar_one()
    return ids


def test_findings_of_the_window_most_severe_first_with_their_alerts(treasury_db):
    from bi_app.data import treasury

    empty = treasury.findings(D(2024, 3, 1), D(2024, 3, 1), "EUR")  # before any scoring
    assert not empty.scored and empty.frame.empty
    ids = load_findings(treasury_db)

    found = treasury.findings(D(2024, 3, 10), D(2024, 3, 11), "EUR")
    assert found.scored and found.currency == "EUR"
    df = found.frame
    assert list(df.columns) == list(treasury.FINDING_COLUMNS)
    # critical, high (by score), low, then only large; 6 and 21 are outside the local days,
    # 22 is on the KRW account
    assert df["reference"].tolist() == ["TX-13", "TX-7", "TX-8", "TX-19", "TX-18"]
    assert df["level"].tolist()[:4] == ["critical", "high", "high", "low"]
    assert pd.isna(df["level"].iloc[4])  # only large: no level
    first = df.iloc[1].to_dict()
    assert first["occurred_at"] == T(2024, 3, 9, 15)
    assert (first["account"], first["tier"], first["counterparty"], first["kind"]) == (
        "HOT-2",
        "hot",
        "Customer C",
        "deposit",
    )
    assert first["amount"] == 5_000 and first["score"] == pytest.approx(0.81)
    assert first["factors"] == ["abnormal_amount", "unusual_hour"]
    assert (first["action"], bool(first["large"])) == ("manual_approval", False)
    # the risk rule's latest alert of TX-7; TX-13's alert is another rule's; the rest have none
    alerts = dict(zip(df["reference"], df["alert_id"], strict=True))
    assert alerts["TX-7"] == ids["risk"]
    assert all(pd.isna(alerts[r]) for r in ("TX-13", "TX-8", "TX-19", "TX-18"))
    assert df.iloc[4]["counterparty"] == "" and bool(df.iloc[4]["large"])

    # one local day; the limit keeps the most severe
    day = treasury.findings(D(2024, 3, 11), D(2024, 3, 11), "EUR").frame
    assert day["reference"].tolist() == ["TX-19", "TX-18"]
    top = treasury.findings(D(2024, 3, 10), D(2024, 3, 11), "EUR", limit=2).frame
    assert top["reference"].tolist() == ["TX-13", "TX-7"]
    krw = treasury.findings(D(2024, 3, 10), D(2024, 3, 11), "KRW").frame
    assert krw["reference"].tolist() == ["TX-22"]
