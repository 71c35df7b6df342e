"""Job specs, triggers, and the recording of runs (SQLite, no network)."""

from __future__ import annotations

import datetime as dt
import threading

import flask
import pytest
from sqlalchemy import select

from bi_app import jobs
from bi_app.db.engine import make_engine, make_session_factory
from bi_app.db.job_models import JobRun, SchedulerNode
from bi_app.db.models import AuditLog, utcnow
from bi_app.jobs import leader, slots
from tests.conftest import make_settings, migrate

RELEASE = threading.Event()
CALLS: list[dict] = []


def failing_job() -> None:
    raise ValueError("boom: the upstream returned 503")


def blocking_job() -> None:
    RELEASE.wait(10)


def recording_job(engine, scheduled_for) -> None:
    CALLS.append({"engine": engine, "scheduled_for": scheduled_for, "app": flask.current_app.name})


def spec(name: str, func: str, timeout: float = 5.0) -> jobs.JobSpec:
    return jobs.JobSpec(
        name,
        f"tests.unit.test_jobs:{func}" if ":" not in func else func,
        seconds=60,
        timeout=timeout,
    )


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    migrate(sqlite_url)
    return sqlite_url


@pytest.fixture
def engine(db_url: str):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def runner_for(engine, db_url: str, *specs: jobs.JobSpec) -> jobs.JobRunner:
    app = flask.Flask("jobs-test")
    return jobs.JobRunner(specs, engine, db_url, app=app, settings=make_settings(db_url))


def stored_run(engine, run_id: int) -> JobRun:
    with make_session_factory(engine)() as session:
        return session.get(JobRun, run_id)


# --- specs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "Bad Name", "func": "a.b:c", "seconds": 5}, "job name"),
        ({"name": "ok", "func": "a.b.c", "seconds": 5}, "package.module:function"),
        ({"name": "ok", "func": "a.b:c; rm", "seconds": 5}, "package.module:function"),
        ({"name": "ok", "func": "a.b:c"}, "exactly one"),
        ({"name": "ok", "func": "a.b:c", "seconds": 5, "cron": "* * * * *"}, "exactly one"),
        ({"name": "ok", "func": "a.b:c", "seconds": 0}, "seconds"),
        ({"name": "ok", "func": "a.b:c", "cron": "61 * * * *"}, "invalid cron"),
        ({"name": "ok", "func": "a.b:c", "seconds": 5, "timeout": 0}, "timeout"),
    ],
)
def test_invalid_specs_are_rejected_with_the_reason(kwargs, message):
    with pytest.raises(ValueError, match=message):
        jobs.JobSpec(**kwargs)


def test_builtin_jobs_are_valid_and_named_once():
    names = [s.name for s in jobs.JOBS]
    assert names == [
        "refresh_rollups",
        "health_checks",
        "resource_sample",
        "metrics_rollup",
        "retention",
        "log_retention",
        "source_sync",
        "alert_evaluation",
        "alert_dispatch",
        "customer_tags",
        "model_training",
        "transaction_scoring",
        "capacity_sample",
        "attendance_training",
        "churn_training",
        "forecast_fit",
        "report_schedules",
    ]
    assert {s.name: s.seconds for s in jobs.JOBS if s.seconds} == {
        "refresh_rollups": 900,
        "health_checks": 30,
        "resource_sample": 15,
        "metrics_rollup": 60,
        "source_sync": 900,
        "alert_evaluation": 60,
        "alert_dispatch": 5,
        "transaction_scoring": 300,
        "capacity_sample": 300,
        "report_schedules": 60,
    }


def test_the_alert_jobs_run_at_the_intervals_the_settings_choose():
    from bi_app.jobs.definitions import jobs_for
    from tests.conftest import make_settings

    settings = make_settings("sqlite://", alert_eval_seconds=30, alert_dispatch_seconds=2)
    chosen = {s.name: s.seconds for s in jobs_for(settings)}
    assert chosen["alert_evaluation"] == 30 and chosen["alert_dispatch"] == 2
    assert chosen["health_checks"] == 30  # others keep their own
    assert {s.name: s.seconds for s in jobs_for(make_settings("sqlite://"))} == {
        s.name: s.seconds for s in jobs.JOBS
    }


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"seconds": 15}, "every 15 s"),
        ({"seconds": 60}, "every minute"),
        ({"seconds": 900}, "every 15 min"),
        ({"seconds": 3600}, "every hour"),
        ({"seconds": 7200}, "every 2 h"),
        ({"seconds": 90}, "every 90 s"),
        ({"cron": "7 * * * *"}, "cron 7 * * * * (UTC)"),
    ],
)
def test_trigger_text(kwargs, text):
    assert jobs.JobSpec("x", "a:b", **kwargs).trigger_text == text


def test_interval_triggers_are_aligned_so_every_process_agrees_on_tick_times():
    s = jobs.JobSpec("x", "a:b", seconds=30)
    now = dt.datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    first, second = (
        s.trigger().get_next_fire_time(None, now),
        s.trigger().get_next_fire_time(None, now),
    )
    assert first == second == dt.datetime(2031, 5, 6, 7, 8, 30, tzinfo=dt.UTC)
    assert s.misfire_grace_time == 30
    assert jobs.JobSpec("y", "a:b", cron="0 3 * * *").misfire_grace_time == jobs.CRON_GRACE_SECONDS


def test_coalesced_between_counts_fire_times_strictly_between_two_runs():
    trig = jobs.JobSpec("x", "a:b", seconds=10).trigger()
    t0 = dt.datetime(2030, 1, 1, 0, 0, 0, tzinfo=dt.UTC)
    assert jobs.coalesced_between(trig, t0, t0 + dt.timedelta(seconds=10)) == 0
    assert jobs.coalesced_between(trig, t0, t0 + dt.timedelta(seconds=50)) == 4


def test_resolve_reports_missing_modules_and_functions():
    assert jobs.resolve("tests.unit.test_jobs:failing_job") is failing_job
    with pytest.raises(
        jobs.JobFunctionNotFound, match="function not found: bi_app.no_such_module:run"
    ):
        jobs.resolve("bi_app.no_such_module:run")
    with pytest.raises(jobs.JobFunctionNotFound, match="AttributeError"):
        jobs.resolve("bi_app.jobs:no_such_function")


# --- running and recording
# ---------------------------------------------------------------------------


def test_failing_job_is_recorded_as_failed_with_its_error(engine, db_url):
    result = runner_for(engine, db_url, spec("bad", "failing_job")).start("bad")
    row = stored_run(engine, result["run_id"])
    assert (result["status"], row.status) == ("failed", "failed")
    assert row.error.startswith("ValueError: boom: the upstream returned 503")
    assert row.finished_at is not None and row.duration_ms is not None and row.duration_ms >= 0


def test_missing_function_is_recorded_as_failed_not_raised(engine, db_url):
    runner = runner_for(engine, db_url, spec("ghost", "bi_app.monitoring.no_such_module:run"))
    result = runner.start("ghost")
    row = stored_run(engine, result["run_id"])
    assert row.status == "failed"
    assert row.error.startswith("function not found: bi_app.monitoring.no_such_module:run")


def test_timeout_is_recorded_and_the_abandoned_run_still_blocks_a_second_run(engine, db_url):
    RELEASE.clear()
    runner = runner_for(engine, db_url, spec("slow", "blocking_job", timeout=0.3))
    first = runner.start("slow")
    assert first["status"] == "timed_out"
    assert stored_run(engine, first["run_id"]).status == "timed_out"
    second = runner.start("slow")
    assert second["status"] == "skipped"
    assert "already running" in stored_run(engine, second["run_id"]).error
    RELEASE.set()
    for _ in range(50):  # the abandoned thread releases the job lock as it returns
        if leader.make_lock(db_url, "job-slow").try_acquire():
            break
        threading.Event().wait(0.05)
    else:
        pytest.fail("the job lock was not released after the abandoned run returned")


def test_job_gets_app_context_and_named_arguments_and_lateness_is_recorded(engine, db_url):
    CALLS.clear()
    runner = runner_for(engine, db_url, spec("rec", "recording_job"))
    due = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3)
    result = runner.start("rec", scheduled_for=due)
    assert result["status"] == "succeeded"
    assert CALLS == [
        {
            "engine": engine,
            "scheduled_for": due.replace(microsecond=due.microsecond),
            "app": "jobs-test",
        }
    ]
    assert stored_run(engine, result["run_id"]).late_ms >= 3000


def test_a_run_is_skipped_while_another_process_holds_the_job_lock(engine, db_url):
    held = leader.make_lock(db_url, "job-rec")
    assert held.try_acquire()
    try:
        result = runner_for(engine, db_url, spec("rec", "recording_job")).start("rec")
    finally:
        held.release()
    assert result["status"] == "skipped"
    assert stored_run(engine, result["run_id"]).status == "skipped"


def test_abandoned_runs_of_dead_processes_are_reaped(engine, db_url):
    runner = runner_for(engine, db_url, spec("rec", "recording_job", timeout=1))
    old = utcnow() - dt.timedelta(minutes=5)
    with make_session_factory(engine)() as session:
        dead = JobRun(
            job_name="rec",
            run_trigger="scheduled",
            host="gone",
            pid=1,
            started_at=old,
            status="running",
        )
        alive = JobRun(
            job_name="rec",
            run_trigger="scheduled",
            host="here",
            pid=2,
            started_at=old,
            status="running",
        )
        session.add_all([dead, alive])
        session.commit()
    assert runner.reap_abandoned({("here", 2)}) == 1
    assert stored_run(engine, dead.id).status == "failed"
    assert stored_run(engine, alive.id).status == "running"


# --- app wiring and the read API ------------------------------------------------------------------


@pytest.fixture
def api_app(db_url):
    from bi_app.extensions import db

    app = flask.Flask("jobs-api")
    settings = make_settings(db_url)
    app.config["BI_SETTINGS"] = settings
    db.init(db_url)
    jobs.init_app(app, settings, [spec("bad", "failing_job"), spec("rec", "recording_job")])
    return app


def test_init_app_with_scheduler_off_starts_nothing(api_app):
    assert jobs.runtime() is None
    assert [s.name for s in api_app.extensions[jobs.EXTENSION_KEY]] == ["bad", "rec"]


def test_list_jobs_status_and_runs_reflect_the_database(api_app, engine):
    with api_app.app_context():
        result = jobs.run_job_now("bad", "tester", wait=True)
        assert result["ok"] and result["status"] == "failed"
        assert jobs.run_job_now("nope", "tester")["ok"] is False
        now = utcnow()
        with make_session_factory(engine)() as session:
            session.add(
                SchedulerNode(
                    id="h1:10:a",
                    host="h1",
                    pid=10,
                    is_leader=True,
                    started_at=now,
                    leader_since=now,
                    heartbeat_at=now,
                    tick_seconds=5,
                    next_runs={"rec": "2031-01-01T00:00:00"},
                )
            )
            session.add(
                SchedulerNode(
                    id="h0:9:a",
                    host="h0",
                    pid=9,
                    is_leader=True,
                    started_at=now,
                    heartbeat_at=now - dt.timedelta(minutes=5),
                    tick_seconds=5,
                )
            )
            session.commit()
        listed = {j["name"]: j for j in jobs.list_jobs()}
        status = jobs.scheduler_status()
        runs = jobs.recent_runs()
    assert listed["bad"]["last_status"] == "failed"
    assert listed["bad"]["last_error"].startswith("ValueError: boom")
    assert listed["bad"]["trigger"] == "every minute"
    assert listed["rec"]["last_status"] is None
    assert listed["rec"]["next_run"] == dt.datetime(2031, 1, 1)
    assert (
        status["leader"]["host"] == "h1" and status["leader"]["pid"] == 10
    )  # h0's heartbeat is stale
    assert status["this_process"]["is_leader"] is False
    assert [r["job_name"] for r in runs] == ["bad"] and runs[0]["trigger"] == "manual"
    assert runs[0]["actor"] == "tester"
    with make_session_factory(engine)() as session:
        audits = session.scalars(select(AuditLog).where(AuditLog.action == "job.run")).all()
    assert [(a.target, a.username) for a in audits] == [("bad", "tester")]


# --- the page's building blocks ----------------------------------------------------------------


def test_run_now_is_registered_for_admins_only_and_hidden_from_others():
    from callbacks._registry import registered
    from components.admin_jobs_view import jobs_table

    by_name = {
        entry.func.__name__: entry
        for entry in registered()
        if entry.func is not None and entry.func.__module__ == "callbacks.admin_jobs"
    }
    assert by_name["run_now"].roles == ("admin",)
    assert by_name["refresh"].roles == ("admin", "analyst")
    row = {
        "name": "rec",
        "description": "d",
        "trigger": "every minute",
        "last_started_at": None,
        "last_status": "failed",
        "last_duration_ms": 12,
        "next_run": None,
        "last_error": "ValueError: boom\n  File x, line 1",
    }
    assert "Run now" in str(jobs_table([row], "UTC", can_run=True).to_plotly_json())
    assert "Run now" not in str(jobs_table([row], "UTC", can_run=False).to_plotly_json())


# --- slots: every scheduled slot leaves a record -------------------------------------------------

UTC = dt.UTC


def hourly(name: str = "hourly") -> jobs.JobSpec:
    return jobs.JobSpec(name, "tests.unit.test_jobs:recording_job", seconds=3600, timeout=5)


def test_slots_between_lists_each_fire_time_and_summarizes_past_the_cap():
    start = dt.datetime(2026, 1, 1, tzinfo=UTC)
    minutely = spec("m", "recording_job")
    gap = slots.between(minutely, start, start + dt.timedelta(minutes=5))
    assert gap.recent == [start + dt.timedelta(minutes=k) for k in range(1, 5)]  # ends excluded
    assert gap.older_count == 0 and gap.total == 4
    three_days = slots.between(minutely, start, start + dt.timedelta(days=3))
    assert three_days.total == 3 * 1440 - 1 and len(three_days.recent) == slots.MAX_SLOTS
    assert three_days.older_first == start + dt.timedelta(minutes=1)
    assert three_days.older_last + dt.timedelta(minutes=1) == three_days.recent[0]
    cron = jobs.JobSpec("c", "a.b:c", cron="7 * * * *")
    assert slots.between(cron, start, start + dt.timedelta(hours=2, minutes=7)) == slots.Gap(
        [start + dt.timedelta(minutes=7), start + dt.timedelta(hours=1, minutes=7)]
    )
    forty_days = slots.between(cron, start, start + dt.timedelta(days=40))
    assert forty_days.total == 40 * 24 and len(forty_days.recent) == 24  # only the last 24 h


def slot_rows(engine, name: str) -> list[JobRun]:
    with make_session_factory(engine)() as session:
        return list(
            session.scalars(
                select(JobRun)
                .where(JobRun.job_name == name, JobRun.run_trigger == "scheduled")
                .order_by(JobRun.scheduled_for)
            )
        )


def add_slot(engine, name: str, when: dt.datetime, status: str = "succeeded") -> None:
    with make_session_factory(engine)() as session:
        session.add(
            JobRun(
                job_name=name,
                run_trigger="scheduled",
                host="old-leader",
                pid=1,
                scheduled_for=when.replace(tzinfo=None),
                started_at=when.replace(tzinfo=None),
                finished_at=when.replace(tzinfo=None),
                status=status,
            )
        )
        session.commit()


def new_leader(db_url: str, *specs: jobs.JobSpec) -> jobs.SchedulerRuntime:
    return jobs.SchedulerRuntime(
        flask.Flask("jobs-leader"),
        make_settings(db_url),
        list(specs),
        tick_seconds=5,
        lock_name="slots-test",
    )


def test_a_new_leader_records_the_slots_nobody_ran_as_missed(engine, db_url):
    now = dt.datetime.now(UTC)
    last_hour = now.replace(minute=0, second=0, microsecond=0)
    k = 3  # the old leader stopped after this slot, k intervals ago
    add_slot(engine, "hourly", last_hour - dt.timedelta(hours=k))
    runtime = new_leader(db_url, hourly())
    try:
        runtime.tick()
        assert runtime.is_leader
        runtime.elector.release()
        runtime.tick()  # elected again at once: no slot passed, nothing more is recorded
    finally:
        runtime.shutdown()
    rows = slot_rows(engine, "hourly")
    missed = [r for r in rows if r.status == "missed"]
    assert [r.scheduled_for for r in missed] == [
        (last_hour - dt.timedelta(hours=n)).replace(tzinfo=None) for n in range(k - 1, -1, -1)
    ]
    assert all(r.error == "missed: no scheduler leader was running" for r in missed)


def test_a_long_outage_is_recorded_slot_by_slot_for_a_day_and_summarized_before(engine, db_url):
    minutely = spec("m", "recording_job")
    add_slot(engine, "m", dt.datetime.now(UTC) - dt.timedelta(days=3))
    runtime = new_leader(db_url, minutely)
    try:
        runtime.tick()
    finally:
        runtime.shutdown()
    missed = [r for r in slot_rows(engine, "m") if r.status == "missed"]
    summary = [r for r in missed if r.slots]
    assert len(missed) == slots.MAX_SLOTS + 1 and len(summary) == 1
    assert summary[0].slots + slots.MAX_SLOTS in (3 * 1440 - 1, 3 * 1440)  # a minute may pass
    assert "(summarized)" in summary[0].error
    assert summary[0].scheduled_for < min(r.scheduled_for for r in missed if not r.slots)


def test_slots_merged_by_a_late_scheduler_are_recorded_as_missed(engine, db_url):
    runtime = new_leader(db_url, hourly())
    first = dt.datetime(2026, 1, 1, tzinfo=UTC)
    try:
        runtime._slot_seen("hourly", first)  # what the executor hook reports on submission
        runtime._slot_seen("hourly", first + dt.timedelta(hours=4))  # three slots coalesced
        runtime._flush_missed()
    finally:
        runtime.shutdown()
    assert [r.scheduled_for.hour for r in slot_rows(engine, "hourly")] == [1, 2, 3]


def test_the_jobs_page_shows_each_jobs_last_slots_and_its_gaps(api_app, engine):
    now = utcnow().replace(second=0, microsecond=0)
    for minutes, status in [(4, "succeeded"), (3, "missed"), (2, "missed"), (1, "skipped")]:
        add_slot(engine, "rec", now - dt.timedelta(minutes=minutes), status)
    add_slot(engine, "rec", now - dt.timedelta(days=2), "missed")  # outside the 24 h count
    with api_app.app_context():
        listed = {j["name"]: j for j in jobs.list_jobs()}
    rec = listed["rec"]
    assert [s["state"] for s in rec["slots"]] == ["missed", "ok", "missed", "missed", "skipped"]
    assert rec["slot_counts"] == {"ok": 1, "missed": 2, "skipped": 1}
    assert listed["bad"]["slots"] == [] and listed["bad"]["slot_counts"] == {}

    from components.admin_jobs_view import jobs_table, slot_timeline

    table = str(jobs_table([rec], "UTC", can_run=False).to_plotly_json())
    assert "2 missed · 1 skipped" in table and "Gaps (24 h)" in table
    marks = slot_timeline(rec["slots"], "UTC").children
    assert [m.to_plotly_json()["props"]["data-state"] for m in marks] == [
        "missed",
        "ok",
        "missed",
        "missed",
        "skipped",
    ]


def test_slots_missed_for_one_reason_are_one_late_line_with_their_count(api_app, engine):
    now = dt.datetime.now(UTC)
    for n in range(1, 6):
        add_slot(engine, "rec", now - dt.timedelta(minutes=n), status="missed")
    with make_session_factory(engine)() as session:
        for row in session.scalars(select(JobRun).where(JobRun.status == "missed")):
            row.error = "missed: no scheduler leader was running"
        session.commit()
    add_slot(engine, "bad", now - dt.timedelta(minutes=2), status="skipped")
    with api_app.app_context():
        late = jobs.scheduler_status()["late_jobs"]
    assert sorted((entry["name"], entry["reason"]) for entry in late) == [
        ("bad", "skipped"),  # a record without an error says what happened to the slot
        ("rec", "missed: no scheduler leader was running (5 slots)"),
    ]
