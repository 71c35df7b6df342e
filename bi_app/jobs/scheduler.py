"""The in-process scheduler: one APScheduler per process, jobs executed only by the leader.

Every process with ``BI_SCHEDULER=on`` runs an APScheduler ``BackgroundScheduler`` whose only
permanent job is a leader tick; the process holding the leader lock (see :mod:`bi_app.jobs.leader`)
adds the real jobs, the others keep retrying the lock.

Every scheduled slot leaves a row in ``job_runs``: the run itself; ``skipped`` when the previous
run was still going (APScheduler's max-instances event, or the job lock held elsewhere);
``missed`` when it was not started in time (a misfire, or a backlog ``coalesce=True`` merged into
one run) or when no leader was running at all: a new leader records every slot since the last
recorded one (:mod:`bi_app.jobs.slots` caps how many one by one).
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import flask
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.orm import sessionmaker

from bi_app.config import Settings
from bi_app.jobs import leader, slots
from bi_app.jobs.definitions import UTC, JobSpec, jobs_for
from bi_app.jobs.runner import JobRunner

log = logging.getLogger(__name__)

DEFAULT_TICK_SECONDS = 5.0
REAP_EVERY_SECONDS = 60.0
TICK_JOB_ID = "_leader_tick"


def coalesced_between(
    trigger: BaseTrigger, previous: dt.datetime, current: dt.datetime, cap: int = 10_000
) -> int:
    """How many fire times of ``trigger`` lie strictly between two runs (merged by coalescing)."""
    count = 0
    nxt = trigger.get_next_fire_time(previous, previous)
    while nxt is not None and nxt < current and count < cap:
        count += 1
        nxt = trigger.get_next_fire_time(nxt, nxt)
    return count


class _SubmitHookExecutor(ThreadPoolExecutor):
    """Tells the runtime which run time it is submitting; APScheduler does not pass it to jobs.

    With ``max_instances=1`` at most one submission per job is in flight, so a per-job slot is
    enough and race-free."""

    def __init__(
        self, on_submit: Callable[[str, BaseTrigger, dt.datetime], None], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._on_submit = on_submit

    def _do_submit_job(self, job, run_times):
        self._on_submit(job.id, job.trigger, run_times[-1])
        super()._do_submit_job(job, run_times)


class SchedulerRuntime:
    def __init__(
        self,
        app: flask.Flask,
        settings: Settings,
        specs: Sequence[JobSpec],
        *,
        tick_seconds: float,
        lock_name: str,
    ) -> None:
        from bi_app.db.engine import make_engine

        self.node = leader.NodeInfo()
        self.tick_seconds = tick_seconds
        # cron hours are the business's (this thread has no app context to read them from)
        self.timezone = settings.timezone
        self.specs = list(specs)
        self.engine = make_engine(settings.database_url)
        self.runner = JobRunner(
            self.specs,
            self.engine,
            settings.database_url,
            app=app,
            settings=settings,
            node=self.node,
        )
        self.elector = leader.LeaderElector(leader.make_lock(settings.database_url, lock_name))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._submitted: dict[str, tuple[dt.datetime, BaseTrigger]] = {}
        # Per job, the newest slot accounted for, and gaps found but not yet recorded (recorded
        # off the scheduler's own thread, by the next run or tick).
        self._slot_lock = threading.Lock()
        self._last_slot: dict[str, dt.datetime] = {}
        self._pending_missed: list[tuple[str, slots.Gap, str]] = []
        self._last_reap = 0.0
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={
                "default": _SubmitHookExecutor(self._on_submit, max_workers=len(self.specs) + 2),
                "control": ThreadPoolExecutor(max_workers=1),
            },
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.tick_seconds, timezone=UTC),
            id=TICK_JOB_ID,
            executor="control",
            misfire_grace_time=None,
            next_run_time=dt.datetime.now(UTC),
        )
        self._schedule_jobs(per_process=True)

    @property
    def is_leader(self) -> bool:
        return self.elector.is_leader

    def tick(self) -> None:
        """Re-check (or try to take) leadership, then publish this process's heartbeat."""
        change = self.elector.tick()
        if change == "promoted":
            log.info(
                "scheduler: %s is now the leader; scheduling %d jobs", self.node.id, len(self.specs)
            )
            self._record_leaderless_gap()
            self._schedule_jobs(per_process=False)
        elif change == "demoted":
            log.warning("scheduler: %s lost the leader lock; unscheduling jobs", self.node.id)
            self._unschedule_jobs()
        self._heartbeat()
        self._flush_missed()

    def _record_leaderless_gap(self) -> None:
        """On election: every slot since the newest recorded one, up to now, was missed."""
        now = dt.datetime.now(UTC)
        try:
            last = self.runner.last_slots()
        except Exception as exc:  # noqa: BLE001 - the database is down: nothing can be recorded
            log.warning("scheduler: missed slots not checked (%s: %s)", type(exc).__name__, exc)
            last = {}
        for spec in self.specs:
            if spec.per_process:
                continue  # each process's own work; another process's gap is not a missed slot
            previous = last.get(spec.name)
            with self._slot_lock:
                self._last_slot.pop(spec.name, None)
            if previous is None:
                continue  # never ran: nothing was expected yet
            gap = slots.between(spec, previous, now, tz=self.timezone)
            self.runner.record_missed(spec.name, gap, "missed: no scheduler leader was running")
            with self._slot_lock:
                self._last_slot[spec.name] = gap.newest or previous

    def _slot_seen(self, name: str, slot: dt.datetime | None) -> None:
        """Note that ``slot`` of ``name`` gets a record; slots skipped over since the previous
        one (a backlog merged by coalescing) become a pending missed gap."""
        spec = self.runner.specs.get(name)
        if slot is None or spec is None:
            return
        slot = slots.aware(slot)
        with self._slot_lock:
            previous = self._last_slot.get(name)
            if previous is not None and slot <= previous:
                return
            self._last_slot[name] = slot
            if previous is not None:
                gap = slots.between(spec, previous, slot, tz=self.timezone)
                if gap:
                    self._pending_missed.append(
                        (name, gap, "missed: not started on time (merged into a later run)")
                    )

    def _flush_missed(self) -> None:
        with self._slot_lock:
            pending, self._pending_missed = self._pending_missed, []
        for name, gap, reason in pending:
            self.runner.record_missed(name, gap, reason)

    def _schedule_jobs(self, *, per_process: bool) -> None:
        for spec in self.specs:
            if spec.per_process != per_process:
                continue
            self.scheduler.add_job(
                self._run_scheduled,
                spec.trigger(self.timezone),
                args=(spec.name,),
                id=spec.name,
                name=spec.name,
                misfire_grace_time=spec.misfire_grace_time,
                coalesce=True,
                max_instances=1,
                replace_existing=True,
            )

    def _unschedule_jobs(self) -> None:
        for spec in self.specs:
            if spec.per_process:
                continue
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(spec.name)
            with self._slot_lock:
                self._last_slot.pop(spec.name, None)

    def next_runs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for job in self.scheduler.get_jobs():
            # a job added before the scheduler started has no next_run_time attribute yet
            when = getattr(job, "next_run_time", None)
            if job.id != TICK_JOB_ID and when is not None:
                out[job.id] = when.astimezone(UTC).replace(tzinfo=None).isoformat()
        return out

    def _heartbeat(self) -> None:
        try:
            with self._sessions() as session:
                leader.heartbeat(
                    session,
                    self.node,
                    is_leader=self.is_leader,
                    tick_seconds=self.tick_seconds,
                    next_runs=self.next_runs() if self.is_leader else None,
                    leader_since=self.elector.elected_at,
                )
                if self.is_leader:
                    leader.prune_nodes(session)
                session.commit()
                live = {(n.host, n.pid) for n in leader.live_nodes(session)}
            if self.is_leader and time.monotonic() - self._last_reap > REAP_EVERY_SECONDS:
                self._last_reap = time.monotonic()
                self.runner.reap_abandoned(live)
        except Exception as exc:  # noqa: BLE001 - a database outage must not kill the tick
            log.warning("scheduler heartbeat failed (%s: %s)", type(exc).__name__, exc)

    def _on_submit(self, job_id: str, trigger: BaseTrigger, run_time: dt.datetime) -> None:
        self._submitted[job_id] = (run_time, trigger)
        self._slot_seen(job_id, run_time)

    def _run_scheduled(self, name: str) -> None:
        scheduled_for, _trigger = self._submitted.pop(name, (None, None))
        self._flush_missed()
        if not self.is_leader and not self.runner.spec(name).per_process:
            return  # lost the lock between submission and execution
        self.runner.start(name, trigger="scheduled", scheduled_for=scheduled_for, wait=True)

    def _on_event(self, event: JobEvent) -> None:
        if event.job_id == TICK_JOB_ID:
            return
        if event.code == EVENT_JOB_MISSED:
            spec = self.runner.specs.get(event.job_id)
            grace = spec.misfire_grace_time if spec else 0
            self._slot_seen(event.job_id, event.scheduled_run_time)
            self.runner.record_skip(
                event.job_id,
                event.scheduled_run_time,
                f"missed: not started within the {grace} s grace time",
                status="missed",
            )
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            times = getattr(event, "scheduled_run_times", None) or [None]
            self._slot_seen(event.job_id, times[-1])
            self.runner.record_skip(
                event.job_id, times[-1], "skipped: the previous run is still in progress"
            )

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        self.elector.release()
        # shutting down: if this fails, the row goes stale and is pruned
        with contextlib.suppress(Exception), self._sessions() as session:
            leader.forget_node(session, self.node)
            session.commit()
        self.engine.dispose()


_runtime: SchedulerRuntime | None = None
_runtime_lock = threading.Lock()
EXTENSION_KEY = "bi_jobs"


def init_app(
    app: Any,
    settings: Settings,
    jobs: Sequence[JobSpec] | None = None,
    *,
    tick_seconds: float | None = None,
    lock_name: str | None = None,
) -> None:
    """Register the job list on ``app`` and, when ``settings.scheduler`` is on, start this
    process's scheduler (once per process; a second call leaves the first one running)."""
    global _runtime
    specs = list(jobs_for(settings) if jobs is None else jobs)
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate job names in {names}")
    server: flask.Flask = getattr(app, "server", app)
    server.extensions[EXTENSION_KEY] = specs
    if not settings.scheduler:
        return
    # APScheduler logs two INFO lines per run (every few seconds); every run is already recorded
    # in job_runs, so keep only its warnings in the log store.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    with _runtime_lock:
        if _runtime is not None:
            log.warning("scheduler already running in this process; not starting a second one")
            return
        tick = (
            tick_seconds
            or getattr(settings, "scheduler_tick_seconds", None)
            or DEFAULT_TICK_SECONDS
        )
        name = (
            lock_name
            or getattr(settings, "scheduler_lock_name", None)
            or leader.DEFAULT_LEADER_LOCK
        )
        runtime = SchedulerRuntime(
            server, settings, specs, tick_seconds=float(tick), lock_name=name
        )
        runtime.start()
        _runtime = runtime
    atexit.register(shutdown)
    log.info("scheduler started on %s (tick %.1f s)", runtime.node.id, runtime.tick_seconds)


def shutdown() -> None:
    """Stop this process's scheduler and give up leadership (atexit, tests)."""
    global _runtime
    with _runtime_lock:
        runtime, _runtime = _runtime, None
    if runtime is not None:
        runtime.shutdown()


def runtime() -> SchedulerRuntime | None:
    return _runtime
