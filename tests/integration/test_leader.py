"""Leader election on a real PostgreSQL: one leader among candidates, takeover after its
connection dies (``pg_terminate_backend`` stands in for a server restart)."""

from __future__ import annotations

import datetime as dt
import itertools
import time

import flask
import psycopg
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from bi_app import jobs
from bi_app.jobs import leader
from tests.conftest import PG_URL, free_port, make_settings, migrate

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


# --- scheduler runtimes: leader_since and a record for every slot ---------------------------------


def noop_job() -> None:
    pass


def overrunning_job() -> None:
    time.sleep(2.4)  # a 1 s job that overruns its next two slots


def runtime_for(pg_url: str, *specs: jobs.JobSpec) -> jobs.SchedulerRuntime:
    return jobs.SchedulerRuntime(
        flask.Flask("leader-test"),
        make_settings(pg_url),
        list(specs),
        tick_seconds=0.2,
        lock_name="runtime-test",
    )


def every_second(name: str, func: str) -> jobs.JobSpec:
    return jobs.JobSpec(name, f"tests.integration.test_leader:{func}", seconds=1, timeout=10)


def leader_since(engine, runtime: jobs.SchedulerRuntime):
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT is_leader, leader_since FROM scheduler_nodes WHERE id = :id"),
            {"id": runtime.node.id},
        ).one()


def slot_records(engine, name: str) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT scheduled_for, status FROM job_runs WHERE job_name = :n"
                " AND run_trigger = 'scheduled' ORDER BY scheduled_for"
            ),
            {"n": name},
        ).all()


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def assert_one_record_per_slot(records: list[tuple]) -> None:
    times = [when for when, _ in records]
    assert len(times) == len(set(times)), f"a slot recorded twice: {records}"
    gaps = [(a, b) for a, b in itertools.pairwise(times) if b - a != dt.timedelta(0, 1)]
    assert gaps == [], f"slots without a record between {gaps}"


def test_leader_since_is_new_on_every_election_even_after_a_failed_heartbeat(pg_url):
    migrate(pg_url)
    engine = create_engine(pg_url)
    a, b = runtime_for(pg_url), runtime_for(pg_url)
    try:
        a.tick()
        b.tick()
        first = leader_since(engine, a)
        assert first.is_leader and first.leader_since is not None
        assert leader_since(engine, b).is_leader is False

        # A's database goes away: its lock session dies and its heartbeats fail (a closed port),
        # so its row still says "leader" while B is elected.
        real_sessions = a._sessions
        a._sessions = sessionmaker(create_engine(f"postgresql+psycopg://127.0.0.1:{free_port()}/x"))
        terminate_backend(a.elector.lock.backend_pid)
        a.tick()
        assert not a.is_leader
        wait_until(lambda: b.tick() or b.is_leader, TAKEOVER_BOUND_S, "B to be elected")
        second = leader_since(engine, b)
        assert second.is_leader and second.leader_since > first.leader_since

        # A is back and elected again once B steps down: a new election, a new leader_since.
        a._sessions = real_sessions
        b.shutdown()
        a.tick()
        third = leader_since(engine, a)
        assert a.is_leader and third.is_leader
        assert third.leader_since > second.leader_since > first.leader_since
    finally:
        a.shutdown()
        b.shutdown()
        engine.dispose()


def test_a_run_overlapping_its_next_slots_leaves_skipped_records(pg_url):
    migrate(pg_url)
    engine = create_engine(pg_url)
    runtime = runtime_for(pg_url, every_second("overrun", "overrunning_job"))
    runtime.start()
    try:
        wait_until(
            lambda: [s for _, s in slot_records(engine, "overrun")].count("succeeded") >= 2,
            15,
            "two finished runs",
        )
    finally:
        runtime.shutdown()
    records = [r for r in slot_records(engine, "overrun") if r[1] != "running"]
    statuses = [s for _, s in records]
    assert statuses.count("skipped") >= 2 and "missed" not in statuses, records
    first_run = statuses.index("succeeded")
    assert statuses[first_run + 1 : first_run + 3] == ["skipped", "skipped"]
    assert_one_record_per_slot(records)
    engine.dispose()


def test_slots_without_a_leader_are_recorded_as_missed_by_the_next_leader(pg_url):
    migrate(pg_url)
    engine = create_engine(pg_url)
    tick = every_second("tick", "noop_job")
    old = runtime_for(pg_url, tick)
    old.start()
    try:
        wait_until(lambda: len(slot_records(engine, "tick")) >= 2, 10, "two runs of the old leader")
    finally:
        old.shutdown()
    last_of_old = slot_records(engine, "tick")[-1][0]
    k = 3
    time.sleep(k + 0.2)  # no leader for k intervals
    new = runtime_for(pg_url, tick)
    new.start()
    try:
        wait_until(
            lambda: [
                r for r in slot_records(engine, "tick") if r[0] > last_of_old and r[1] != "missed"
            ][1:],
            10,
            "two runs of the new leader",
        )
    finally:
        new.shutdown()
    records = [r for r in slot_records(engine, "tick") if r[1] != "running"]
    missed = [when for when, status in records if status == "missed"]
    assert len(missed) >= k and min(missed) == last_of_old + dt.timedelta(seconds=1)
    assert_one_record_per_slot([r for r in records if r[0] >= last_of_old])
    engine.dispose()
