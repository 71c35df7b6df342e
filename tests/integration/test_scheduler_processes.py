"""Proof with real processes: ``gunicorn -w 3`` with the scheduler on runs each tick of a 1 s job
exactly once, and after SIGKILL of the leader another worker takes over and ticks continue once."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bi_app.config import PROJECT_ROOT
from tests.conftest import TEST_SECRET, free_port, migrate

pytestmark = pytest.mark.integration
TAKEOVER_BOUND_S = 10.0

APP_MODULE = textwrap.dedent("""
    import os
    from dataclasses import replace

    from sqlalchemy import text

    from bi_app import create_app, jobs
    from bi_app.config import Settings


    def insert_tick(engine, scheduled_for):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO test_ticks (scheduled_for, pid) VALUES (:t, :p)"),
                         {"t": scheduled_for.replace(tzinfo=None), "p": os.getpid()})


    settings = Settings.from_env()
    app = create_app(replace(settings, scheduler=False))
    jobs.init_app(app, settings, [jobs.JobSpec("test_tick", "tick_app:insert_tick", seconds=1,
    timeout=5)],
                  tick_seconds=0.5)
    server = app.server
""")


def wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(
                f"gunicorn exited ({proc.returncode}) while waiting for "
                f"{what}:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout} s waiting for {what}:\n{log.read_text()[-3000:]}")


def test_gunicorn_workers_run_each_tick_once_and_survive_the_leader_being_killed(pg_url, tmp_path):
    migrate(pg_url)
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE test_ticks (id serial PRIMARY KEY, scheduled_for timestamp NOT NULL,"
                " pid integer NOT NULL, at timestamp NOT NULL DEFAULT clock_timestamp())"
            )
        )
    (tmp_path / "tick_app.py").write_text(APP_MODULE)
    env = {
        **os.environ,
        "BI_DATABASE_URL": pg_url,
        "BI_SECRET_KEY": TEST_SECRET,
        "BI_ENV": "test",
        "BI_SCHEDULER": "on",
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{PROJECT_ROOT}",
    }
    log = tmp_path / "gunicorn.log"
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                gunicorn,
                "-w",
                "3",
                "-b",
                f"127.0.0.1:{free_port()}",
                "--chdir",
                str(tmp_path),
                "--graceful-timeout",
                "2",
                "tick_app:server",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def leader_pid() -> int | None:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT pid FROM scheduler_nodes WHERE is_leader AND heartbeat_at > (now() at "
                    "time zone 'utc')"
                    " - interval '2 seconds' ORDER BY heartbeat_at DESC LIMIT 1"
                )
            ).scalar()

    def ticks() -> list[tuple]:
        with engine.connect() as conn:
            return conn.execute(
                text("SELECT scheduled_for, pid, at FROM test_ticks ORDER BY id")
            ).all()

    def leader_since(pid: int):
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT leader_since FROM scheduler_nodes WHERE pid = :pid AND is_leader"
                    " ORDER BY heartbeat_at DESC LIMIT 1"
                ),
                {"pid": pid},
            ).scalar_one()

    def live_nodes() -> int:
        with engine.connect() as conn:
            return conn.execute(
                text(
                    "SELECT count(*) FROM scheduler_nodes WHERE heartbeat_at > "
                    "(now() at time zone 'utc') - interval '2 seconds'"
                )
            ).scalar()

    try:
        # Boot time depends on machine load (three workers import the whole app); not a bound under
        # test.
        wait_for(lambda: live_nodes() == 3, 60, "three scheduler processes", proc, log)
        first = wait_for(leader_pid, 5, "a leader", proc, log)
        wait_for(lambda: len(ticks()) >= 4, 10, "four ticks", proc, log)

        before = ticks()
        assert {pid for _, pid, _ in before} == {first}, "only the leader executes jobs"
        first_since = leader_since(first)
        os.kill(first, signal.SIGKILL)
        count_at_kill = len(before)

        def successor_ticks(n: int):
            rows = [r for r in ticks()[count_at_kill:] if r[1] != first]
            return rows if len(rows) >= n else None

        # The bound is the assertion: no tick from a new leader within it fails the test.
        wait_for(
            lambda: successor_ticks(1),
            TAKEOVER_BOUND_S,
            "the first tick of a new leader",
            proc,
            log,
        )
        after = wait_for(lambda: successor_ticks(3), 8, "three ticks of the new leader", proc, log)
        successor = {pid for _, pid, _ in after}
        assert len(successor) == 1, f"exactly one successor executes jobs, saw {successor}"
        assert leader_pid() in successor
        assert leader_since(leader_pid()) > first_since, "a new election has a new leader_since"

        rows = ticks()
        per_tick: dict = {}
        for scheduled_for, _, _ in rows:
            per_tick[scheduled_for] = per_tick.get(scheduled_for, 0) + 1
        assert all(n == 1 for n in per_tick.values()), (
            f"duplicated ticks: {[t for t, n in per_tick.items() if n > 1]}"
        )
        assert all(t.microsecond == 0 for t in per_tick), (
            "ticks are aligned to whole seconds in every worker"
        )
        with engine.connect() as conn:
            statuses = dict(
                conn.execute(
                    text(
                        "SELECT status, count(*) FROM job_runs WHERE job_name = 'test_tick' GROUP "
                        "BY status"
                    )
                ).all()
            )
        assert statuses.get("failed", 0) == 0 and statuses.get("skipped", 0) == 0, statuses
        assert (
            statuses.get("succeeded", 0) >= len(rows) - 1
        )  # the killed worker's last run may be open
        # Every slot since the first leader started has exactly one record: a run, or "missed"
        # for the slots nobody ran between the kill and the takeover.
        with engine.connect() as conn:
            recorded = (
                conn.execute(
                    text(
                        "SELECT scheduled_for FROM job_runs WHERE job_name = 'test_tick'"
                        " AND run_trigger = 'scheduled' ORDER BY scheduled_for"
                    )
                )
                .scalars()
                .all()
            )
        assert len(recorded) == len(set(recorded)), "a slot recorded twice"
        holes = [(a, b) for a, b in itertools.pairwise(recorded) if b - a != dt.timedelta(0, 1)]
        assert holes == [], f"slots without a record between {holes}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=8)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=5)
        engine.dispose()
