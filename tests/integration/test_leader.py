"""Leader election on a real PostgreSQL: one leader among candidates, takeover after its
connection dies (``pg_terminate_backend`` stands in for a server restart)."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import create_engine, text

from bi_app.jobs import leader
from tests.conftest import PG_URL

pytestmark = pytest.mark.integration
TAKEOVER_BOUND_S = 5.0


def tick_all(*electors: leader.LeaderElector) -> list[bool]:
    for elector in electors:
        elector.tick()
    return [e.is_leader for e in electors]


def terminate_backend(pid: int) -> None:
    engine = create_engine(PG_URL)
    with engine.begin() as conn:
        assert (
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar() is True
        )
    engine.dispose()


@pytest.fixture
def candidates(pg_url):
    made: list[leader.LeaderElector] = []

    def make(name: str = "leader-test") -> leader.LeaderElector:
        elector = leader.LeaderElector(leader.make_lock(pg_url, name))
        made.append(elector)
        return elector

    yield make
    for elector in made:
        elector.release()


def test_two_candidates_with_their_own_connections_elect_exactly_one(candidates):
    a, b = candidates(), candidates()
    assert isinstance(a.lock, leader.AdvisoryLock)
    for _ in range(3):
        assert sorted(tick_all(a, b)) == [False, True]
    assert a.is_leader  # the first to try wins and keeps it
    assert a.lock.backend_pid != b.lock.backend_pid


def test_lock_names_and_schemas_are_independent(candidates, pg_url):
    a, other = candidates("leader-a"), candidates("leader-b")
    assert tick_all(a, other) == [True, True]
    assert leader.advisory_key(pg_url, "leader-a") != leader.advisory_key(PG_URL, "leader-a")


def test_the_leader_stepping_down_hands_over(candidates):
    a, b = candidates(), candidates()
    tick_all(a, b)
    a.release()
    assert tick_all(b) == [True]
    assert tick_all(a, b) == [False, True]


def test_terminated_lock_connection_triggers_a_new_election_within_the_bound(candidates):
    a, b = candidates(), candidates()
    assert tick_all(a, b) == [True, False]
    terminate_backend(a.lock.backend_pid)
    began = time.monotonic()
    while time.monotonic() - began < TAKEOVER_BOUND_S:
        states = tick_all(a, b)
        if states == [False, True]:
            break
        time.sleep(0.2)
    assert tick_all(a, b) == [False, True], (
        "the follower did not take over after the leader's session died"
    )
    # the old leader keeps retrying and gets the lock back once the new one lets go
    b.release()
    assert tick_all(a) == [True]


def test_the_lock_check_reads_the_server_state(candidates, pg_url):
    a = candidates()
    assert tick_all(a) == [True]
    with psycopg.connect(leader._libpq_conninfo(pg_url), autocommit=True) as conn:
        unsigned = a.lock.key & 0xFFFFFFFFFFFFFFFF
        holders = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
            " AND classid = %s::bigint::oid AND objid = %s::bigint::oid",
            (unsigned >> 32, unsigned & 0xFFFFFFFF),
        ).fetchall()
    assert holders == [(a.lock.backend_pid,)]
