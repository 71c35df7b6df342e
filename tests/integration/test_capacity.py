"""The capacity gauge's service against a small hand-made ledger, on SQLite and PostgreSQL:
samples count the hot accounts' debits between two samples (and nothing else), add the refill,
clip, persist; the status reads them back; levels_pct feeds the alert rules; the demo's
capacity tables load and read back.

Resource: capacity 1,000 energy, refill 10 an hour, 100 per debit of a hot EUR account.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, insert, select

from bi_app import capacity as cap
from bi_app.db.capacity_models import CapacityResource, CapacitySample
from bi_app.db.models import Account, Transaction
from bi_app.db.periods import use_timezone

pytestmark = pytest.mark.integration

T = dt.datetime
ACCOUNTS = [
    (1, "HOT-1", "Operating", "hot", "EUR"),
    (2, "HOT-2", "Clearing", "hot", "EUR"),
    (3, "WARM-1", "Reserve", "warm", "EUR"),
    (4, "HOT-KRW", "Won account", "hot", "KRW"),
]
# account, amount, occurred_at (UTC); samples at 00:00, 06:00 and 12:00 on 2026-01-10
LEDGER = [
    (1, -500, T(2026, 1, 10, 0)),  # at the first sample: before it, never counted
    (1, -100, T(2026, 1, 10, 1)),  # (00:00, 06:00]: debit, counted
    (2, -70, T(2026, 1, 10, 2)),  # counted (the other hot account)
    (1, 900, T(2026, 1, 10, 3)),  # a credit: not counted
    (3, -800, T(2026, 1, 10, 4)),  # warm: not counted
    (4, -100, T(2026, 1, 10, 5)),  # hot but KRW: not counted (the resource is EUR's)
    (1, -250, T(2026, 1, 10, 6)),  # exactly at the second sample: counted in the first interval
    (1, -1, T(2026, 1, 10, 7)),  # (06:00, 12:00]: 10 debits in all
    *[(2, -5, T(2026, 1, 10, 8, m)) for m in range(9)],
]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    from bi_app.db.engine import make_engine
    from tests.conftest import migrate

    url = (
        f"sqlite:///{tmp_path / 'capacity.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    migrate(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            insert(Account),
            [dict(zip(("id", "code", "name", "tier", "currency"), a)) for a in ACCOUNTS],
        )
        conn.execute(
            insert(Transaction),
            [
                {
                    "id": i,
                    "reference": f"TX-{i}",
                    "account_id": a,
                    "kind": "withdrawal" if amount < 0 else "deposit",
                    "amount_cents": amount,
                    "occurred_at": at,
                }
                for i, (a, amount, at) in enumerate(LEDGER, start=1)
            ],
        )
    with use_timezone("UTC"):
        yield engine
    engine.dispose()


def _resource(engine, **overrides) -> int:
    values = {
        "label": "Hot wallet energy",
        "unit": "energy",
        "capacity": 1000,
        "refill_per_hour": 10,
        "cost_per_transaction": 100,
        "currency": "EUR",
    }
    values.update(overrides)
    return cap.ensure_resource(engine, "energy", **values)


def test_samples_count_the_hot_debits_since_the_previous_sample(engine):
    assert cap.status(engine) is None  # nothing configured yet
    assert cap.record_sample(engine, at=T(2026, 1, 10)) is None
    _resource(engine)
    first = cap.record_sample(engine, at=T(2026, 1, 10))
    assert first["level"] == 1000 and first["transactions"] == 0  # starts full
    second = cap.record_sample(engine, at=T(2026, 1, 10, 6))
    # 3 debits (01:00, 02:00, 06:00) = 300 used, 6 h * 10 = 60 refilled: 1000 - 300 + 60, clipped
    assert second["transactions"] == 3
    assert second["used"] == 300 and second["refilled"] == 60
    assert second["level"] == 760
    third = cap.record_sample(engine, at=T(2026, 1, 10, 12))
    assert third["transactions"] == 10
    assert third["level"] == 0  # 760 - 1000 + 60 = -180, clipped at zero
    assert cap.record_sample(engine, at=T(2026, 1, 10, 12)) is None  # same instant: skipped
    with engine.connect() as conn:
        stored = conn.execute(
            select(CapacitySample.sampled_at, CapacitySample.level).order_by(
                CapacitySample.sampled_at
            )
        ).all()
    assert [(at, level) for at, level in stored] == [
        (T(2026, 1, 10), 1000),
        (T(2026, 1, 10, 6), 760),
        (T(2026, 1, 10, 12), 0),
    ]
    assert cap.levels_pct(engine) == {"energy": 0.0}
    with engine.connect() as conn:
        assert cap.current_levels(conn, T(2026, 1, 10, 7)) == [("energy", 76.0, T(2026, 1, 10, 6))]
        assert cap.level_series(conn, T(2026, 1, 10, 1), T(2026, 1, 10, 12)) == [
            ("energy", T(2026, 1, 10, 6), 76.0)
        ]
    status = cap.status(engine)
    assert status.state == "emergency" and status.percent == 0
    assert status.depletes_at == T(2026, 1, 10, 12)  # empty already


def test_status_reads_the_rates_and_a_top_up_moves_the_level(engine):
    _resource(engine, refill_per_hour=100)
    cap.record_sample(engine, at=T(2026, 1, 10))
    cap.record_sample(engine, at=T(2026, 1, 10, 6))  # 1000 - 300 + 600 -> clipped at 1000
    cap.record_sample(engine, at=T(2026, 1, 10, 12))  # 1000 - 1000 + 600 = 600
    status = cap.status(engine)
    assert (status.level, status.percent, status.state) == (600, 60, "ok")
    assert status.sampled_at == T(2026, 1, 10, 12)
    # over the 12 hours: 1300 used, 1200 refilled
    assert status.usage_per_hour == pytest.approx(1300 / 12)
    assert status.net_per_hour == pytest.approx(-100 / 12)
    assert [level for _at, level in status.history] == [1000, 1000, 600]
    assert status.projection[0] == (T(2026, 1, 10, 12), 600)
    assert status.resources == ["energy"]
    row = cap.top_up(engine, "energy", 250, at=T(2026, 1, 10, 13))
    assert row["level"] == 600 + 100 + 250 and row["topped_up"] == 250
    assert cap.levels_pct(engine) == {"energy": pytest.approx(95.0)}
    with pytest.raises(cap.CapacityError):
        cap.top_up(engine, "energy", -5)


def test_ensure_resource_updates_in_place_and_the_job_samples_every_resource(engine):
    first = _resource(engine)
    assert _resource(engine, capacity=2000) == first
    cap.ensure_resource(
        engine,
        "api_quota",
        label="API quota",
        unit="calls",
        capacity=50,
        refill_per_hour=5,
        cost_per_transaction=0,
    )
    summary = cap.sample_job(engine)
    assert summary["resources"] == 2 and summary["samples"] == 2
    assert summary["levels"] == {"energy": 100.0, "api_quota": 100.0}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CapacitySample)).scalar() == 2
        assert (
            conn.execute(
                select(CapacityResource.capacity).where(CapacityResource.name == "energy")
            ).scalar()
            == 2000
        )
    assert cap.status(engine, "api_quota").label == "API quota"
    assert cap.status(engine, "missing") is None


def test_the_demo_capacity_tables_load_and_read_back(engine):
    from bi_app.db.demo import generate_demo
    from bi_app.db.demo_sink import fix_sequences, make_sink
    from bi_app.db.demo_treasury import make_capacity, make_treasury

    data = generate_demo(scale=0.2, seed=3, today=dt.date(2026, 1, 20))
    tables, _ = make_treasury(data.scale, data.calendar, data.seed, data.market.treasury)
    with engine.begin() as conn:
        conn.execute(Transaction.__table__.delete())
        conn.execute(Account.__table__.delete())
        sink = make_sink(conn)
        for name in ("accounts", "counterparties", "transactions"):
            sink.write(name, tables[name])
        capacity = make_capacity(tables, data.calendar)
        for name, columns in capacity.items():
            sink.write(name, columns)
        fix_sequences(conn, tuple(capacity))  # as load_demo does for its tables
    status = cap.status(engine)
    assert status.name == "hot_wallet_energy"
    assert status.sampled_at == T(2026, 1, 20)
    assert status.percent == pytest.approx(35, abs=1)
    assert status.state == "ok"
    assert status.history[0][0] == T(2026, 1, 17)  # three days, thinned for the chart
    assert status.history[-1] == (T(2026, 1, 20), status.level)
    assert 400 <= len(status.history) <= cap.MAX_HISTORY_POINTS
    assert status.depletes_at is not None and status.depletes_at > status.sampled_at  # falling
    # one more sample counts the ledger's debits after the demo's last sample: none
    row = cap.record_sample(engine, at=T(2026, 1, 20, 1))
    assert row["transactions"] == 0
    assert row["level"] == pytest.approx(status.level + status.refill_per_hour)
