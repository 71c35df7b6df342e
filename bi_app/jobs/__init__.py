"""Background jobs as data, the in-process scheduler, and the record of every run.

Every process with ``BI_SCHEDULER=on`` runs an APScheduler ``BackgroundScheduler`` whose only
permanent job is a leader tick; the process holding the leader lock (see :mod:`bi_app.jobs.leader`)
adds the real jobs, the others keep retrying the lock. Each run — scheduled or "run now" — takes
a per-job cross-process lock first, so a job never runs twice at once anywhere, and is recorded
in ``job_runs``.

Schedules are deliberate about lateness: interval triggers are aligned to a fixed epoch (so a new
leader keeps the same tick times), ``coalesce=True`` merges a backlog into one run (recorded as a
``skipped`` marker naming how many runs were merged), and ``misfire_grace_time`` is one period, so
a late run still happens (its ``late_ms`` is recorded) instead of being silently dropped.
"""
from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import importlib
import inspect
import logging
import re
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import flask
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bi_app.jobs import leader
from bi_app.config import Settings
from bi_app.db.job_models import JobRun
from bi_app.db.models import utcnow

log = logging.getLogger(__name__)

UTC = dt.timezone.utc
ALIGN_EPOCH = dt.datetime(2000, 1, 1, tzinfo=UTC)
DEFAULT_TICK_SECONDS = 5.0
CRON_GRACE_SECONDS = 300
LATE_MS = 2000
ERROR_MAX_CHARS = 4000
REAP_EVERY_SECONDS = 60.0
TICK_JOB_ID = "_leader_tick"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FUNC_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


class UnknownJob(KeyError):
    """No job of that name is registered."""


class JobFunctionNotFound(LookupError):
    """A job's dotted function path does not resolve (module or attribute missing)."""


@dataclass(frozen=True)
class JobSpec:
    """One background job: ``func`` is ``"package.module:function"``, resolved at run time.

    Give exactly one of ``seconds`` (interval) or ``cron`` (five crontab fields, UTC). The function
    is called inside an app context with whichever of ``app``, ``settings``, ``engine`` and
    ``scheduled_for`` (UTC datetime, None for a manual run) its signature names.

    ``per_process`` jobs handle state private to each process (e.g. flushing its in-memory
    metrics): every scheduler process runs them, leader or not, each under its own lock.
    """

    name: str
    func: str
    seconds: int | None = None
    cron: str | None = None
    timeout: float = 60.0
    description: str = ""
    per_process: bool = False

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name or ""):
            raise ValueError(f"job name {self.name!r}: use 1-64 lowercase letters, digits, underscores")
        if not _FUNC_RE.match(self.func or ""):
            raise ValueError(f"job {self.name}: func {self.func!r} must look like 'package.module:function'")
        if (self.seconds is None) == (self.cron is None):
            raise ValueError(f"job {self.name}: give exactly one of seconds= or cron=")
        if self.seconds is not None and (not isinstance(self.seconds, int) or self.seconds < 1):
            raise ValueError(f"job {self.name}: seconds must be a whole number >= 1, got {self.seconds!r}")
        if self.cron is not None:
            try:
                CronTrigger.from_crontab(self.cron, timezone=UTC)
            except ValueError as exc:
                raise ValueError(f"job {self.name}: invalid cron {self.cron!r}: {exc}") from None
        if not self.timeout > 0:
            raise ValueError(f"job {self.name}: timeout must be positive, got {self.timeout!r}")

    def trigger(self) -> BaseTrigger:
        if self.seconds is not None:
            return IntervalTrigger(seconds=self.seconds, start_date=ALIGN_EPOCH, timezone=UTC)
        return CronTrigger.from_crontab(self.cron, timezone=UTC)

    @property
    def trigger_text(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron} (UTC)"
        seconds = self.seconds or 0
        if seconds % 3600 == 0:
            return "every hour" if seconds == 3600 else f"every {seconds // 3600} h"
        if seconds % 60 == 0:
            return "every minute" if seconds == 60 else f"every {seconds // 60} min"
        return f"every {seconds} s"

    @property
    def misfire_grace_time(self) -> int:
        """One period: a run delayed by less still happens (late); longer delays coalesce."""
        return self.seconds if self.seconds is not None else CRON_GRACE_SECONDS


def refresh_recent_rollups(engine: Engine) -> dict:
    """Rebuild the sales roll-ups for the last three days (today included, UTC)."""
    from bi_app.db.rollups import refresh_rollups

    end = utcnow().date()
    return refresh_rollups(engine, end - dt.timedelta(days=2), end)


JOBS: list[JobSpec] = [
    JobSpec("refresh_rollups", "bi_app.jobs:refresh_recent_rollups", seconds=900, timeout=600,
            description="Rebuild the daily sales roll-ups for the last 3 days"),
    JobSpec("health_checks", "bi_app.monitoring.health:run_health_checks", seconds=30, timeout=25,
            description="Check the database, cache and monitored services"),
    JobSpec("resource_sample", "bi_app.monitoring.resources:sample_resources", seconds=15,
            timeout=10, description="Sample CPU, memory and disk of this host"),
    JobSpec("metrics_rollup", "bi_app.monitoring.metrics:rollup_minute", seconds=60, timeout=50,
            per_process=True, description="Flush each worker's request and callback metrics per minute"),
    JobSpec("retention", "bi_app.monitoring.metrics:purge_old", cron="7 * * * *", timeout=600,
            description="Delete monitoring data past its retention period"),
    JobSpec("log_retention", "bi_app.monitoring.logs:purge_logs", cron="17 * * * *", timeout=600,
            description="Delete stored application logs older than 14 days"),
    JobSpec("customer_tags", "bi_app.customer_tags:recompute_tags", cron="30 2 * * *", timeout=1800,
            description="Recompute customer stats, monthly segment snapshots and churn-risk tags"),
]


# --- running one job ---------------------------------------------------------------------------

def resolve(path: str) -> Callable[..., Any]:
    """Import ``module:attr.attr`` lazily; raise :class:`JobFunctionNotFound` when it is missing."""
    module_name, _, attr_path = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr_path.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise JobFunctionNotFound(f"function not found: {path} ({type(exc).__name__}: {exc})") from None
    if not callable(target):
        raise JobFunctionNotFound(f"function not found: {path} is not callable")
    return target


def call_job(func: Callable[..., Any], context: dict[str, Any]) -> Any:
    """Call ``func`` with the context values its signature asks for by name."""
    params = inspect.signature(func).parameters
    return func(**{name: context[name] for name in params if name in context})


def format_error(exc: BaseException) -> str:
    """``Type: message`` first (what the UI shows), then the innermost frames."""
    head = f"{type(exc).__name__}: {exc}".strip()
    frames = "".join(traceback.format_tb(exc.__traceback__)[-4:])
    return (f"{head}\n{frames}" if frames else head)[:ERROR_MAX_CHARS]


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


class JobRunner:
    """Runs jobs under their cross-process lock, with a timeout, and records each run."""

    def __init__(self, specs: Iterable[JobSpec], engine: Engine, database_url: str, *,
                 app: flask.Flask | None = None, settings: Settings | None = None,
                 node: leader.NodeInfo | None = None) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.engine = engine
        self.database_url = database_url
        self.app = app
        self.settings = settings
        self.node = node or leader.NodeInfo()
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def spec(self, name: str) -> JobSpec:
        try:
            return self.specs[name]
        except KeyError:
            raise UnknownJob(name) from None

    def lock_name(self, spec: JobSpec) -> str:
        return f"job-{spec.name}-{self.node.host}-{self.node.pid}" if spec.per_process else f"job-{spec.name}"

    def start(self, name: str, *, trigger: str = "scheduled", actor: str | None = None,
              scheduled_for: dt.datetime | None = None, wait: bool = True) -> dict[str, Any]:
        """Run ``name`` now; with ``wait=False`` return once its row exists, finish in a thread."""
        spec = self.spec(name)
        started = utcnow()
        late_ms = None
        if scheduled_for is not None:
            late_ms = max(0, _ms((started - scheduled_for.astimezone(UTC).replace(tzinfo=None)).total_seconds()))
        fields = dict(job_name=name, run_trigger=trigger, actor=actor, host=self.node.host,
                      pid=self.node.pid, started_at=started, late_ms=late_ms,
                      scheduled_for=scheduled_for.astimezone(UTC).replace(tzinfo=None) if scheduled_for else None)
        guard = leader.make_lock(self.database_url, self.lock_name(spec))
        try:
            acquired, reason = guard.try_acquire(), "already running: another run of this job holds its lock"
        except Exception as exc:  # noqa: BLE001 - recorded, never raised into the scheduler
            acquired, reason = False, f"could not take the job lock: {type(exc).__name__}: {exc}"
        if not acquired:
            run_id = self._insert(status="skipped", error=reason, finished_at=started, duration_ms=0, **fields)
            return {"run_id": run_id, "status": "skipped", "error": reason}
        try:
            run_id = self._insert(status="running", **fields)
        except BaseException:
            guard.release()
            raise
        args = (spec, run_id, guard, fields["scheduled_for"])
        if not wait:
            threading.Thread(target=self._supervise, args=args, daemon=True, name=f"job-supervisor:{name}").start()
            return {"run_id": run_id, "status": "running", "error": None}
        status, error, duration_ms = self._supervise(*args)
        return {"run_id": run_id, "status": status, "error": error, "duration_ms": duration_ms}

    def _supervise(self, spec: JobSpec, run_id: int, guard: leader.ProcessLock,
                   scheduled_for: dt.datetime | None) -> tuple[str, str | None, int]:
        outcome: dict[str, Any] = {}
        began = time.perf_counter()
        body = threading.Thread(target=self._body, args=(spec, scheduled_for, outcome, guard),
                                daemon=True, name=f"job:{spec.name}")
        body.start()
        body.join(spec.timeout)
        duration_ms = _ms(time.perf_counter() - began)
        if body.is_alive():
            # Python cannot kill a thread: the run is abandoned, and keeps the job's lock until it
            # returns, so the next tick is recorded as skipped rather than run concurrently.
            status = "timed_out"
            error = f"timed out after {spec.timeout:g} s (still running in the background; holds the job lock)"
            log.error("job %s (run %s) %s", spec.name, run_id, error)
        else:
            status, error = outcome.get("status", "failed"), outcome.get("error")
        try:
            self._finish(run_id, status, error, duration_ms)
        except Exception:  # noqa: BLE001 - the database may be down; the scheduler keeps going
            log.exception("job %s: could not record the end of run %s", spec.name, run_id)
        return status, error, duration_ms

    def _body(self, spec: JobSpec, scheduled_for: dt.datetime | None, outcome: dict[str, Any],
              guard: leader.ProcessLock) -> None:
        try:
            target = resolve(spec.func)
            context = {"app": self.app, "settings": self.settings, "engine": self.engine,
                       "scheduled_for": scheduled_for.replace(tzinfo=UTC) if scheduled_for else None}
            with self.app.app_context() if self.app is not None else contextlib.nullcontext():
                call_job(target, context)
            outcome.update(status="succeeded")
        except JobFunctionNotFound as exc:
            log.error("job %s: %s", spec.name, exc)
            outcome.update(status="failed", error=str(exc))
        except BaseException as exc:  # noqa: BLE001 - a failing job must not stop the scheduler
            log.exception("job %s failed", spec.name)
            outcome.update(status="failed", error=format_error(exc))
        finally:
            guard.release()

    def _insert(self, **values: Any) -> int:
        with self._sessions() as session:
            row = JobRun(**values)
            session.add(row)
            session.commit()
            return row.id

    def _finish(self, run_id: int, status: str, error: str | None, duration_ms: int) -> None:
        with self._sessions() as session:
            session.execute(update(JobRun).where(JobRun.id == run_id).values(
                status=status, error=error, duration_ms=duration_ms, finished_at=utcnow()))
            session.commit()

    def record_skip(self, name: str, scheduled_for: dt.datetime | None, reason: str) -> None:
        """Record a run that did not happen (missed, coalesced, still running)."""
        now = utcnow()
        try:
            self._insert(job_name=name, run_trigger="scheduled", host=self.node.host, pid=self.node.pid,
                         scheduled_for=scheduled_for.astimezone(UTC).replace(tzinfo=None) if scheduled_for else None,
                         started_at=now, finished_at=now, status="skipped", error=reason, duration_ms=0)
        except Exception:  # noqa: BLE001
            log.exception("job %s: could not record a skipped run", name)

    def reap_abandoned(self, live: set[tuple[str, int]]) -> int:
        """Mark 'running' rows of processes that are gone, and long past their timeout, failed."""
        count = 0
        with self._sessions() as session:
            for spec in self.specs.values():
                cutoff = utcnow() - dt.timedelta(seconds=spec.timeout + 60)
                rows = session.scalars(select(JobRun).where(
                    JobRun.job_name == spec.name, JobRun.status == "running", JobRun.started_at < cutoff)).all()
                for row in rows:
                    if (row.host, row.pid) in live:
                        continue
                    row.status, row.finished_at = "failed", utcnow()
                    row.error = f"abandoned: process {row.host}:{row.pid} stopped during the run"
                    count += 1
            session.commit()
        return count


# --- the scheduler process -----------------------------------------------------------------------

def coalesced_between(trigger: BaseTrigger, previous: dt.datetime, current: dt.datetime,
                      cap: int = 10_000) -> int:
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

    def __init__(self, on_submit: Callable[[str, BaseTrigger, dt.datetime], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_submit = on_submit

    def _do_submit_job(self, job, run_times):  # noqa: ANN001 - APScheduler's signature
        self._on_submit(job.id, job.trigger, run_times[-1])
        super()._do_submit_job(job, run_times)


class SchedulerRuntime:
    def __init__(self, app: flask.Flask, settings: Settings, specs: Sequence[JobSpec], *,
                 tick_seconds: float, lock_name: str) -> None:
        from bi_app.db.engine import make_engine

        self.node = leader.NodeInfo()
        self.tick_seconds = tick_seconds
        self.specs = list(specs)
        self.engine = make_engine(settings.database_url)
        self.runner = JobRunner(self.specs, self.engine, settings.database_url, app=app,
                                settings=settings, node=self.node)
        self.elector = leader.LeaderElector(leader.make_lock(settings.database_url, lock_name))
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._submitted: dict[str, tuple[dt.datetime, BaseTrigger]] = {}
        self._last_run: dict[str, dt.datetime] = {}
        self._last_reap = 0.0
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": _SubmitHookExecutor(self._on_submit, max_workers=len(self.specs) + 2),
                       "control": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    def start(self) -> None:
        self.scheduler.start()
        self.scheduler.add_job(self.tick, IntervalTrigger(seconds=self.tick_seconds, timezone=UTC),
                               id=TICK_JOB_ID, executor="control", misfire_grace_time=None,
                               next_run_time=dt.datetime.now(UTC))
        self._schedule_jobs(per_process=True)

    @property
    def is_leader(self) -> bool:
        return self.elector.is_leader

    def tick(self) -> None:
        """Re-check (or try to take) leadership, then publish this process's heartbeat."""
        change = self.elector.tick()
        if change == "promoted":
            log.info("scheduler: %s is now the leader; scheduling %d jobs", self.node.id, len(self.specs))
            self._schedule_jobs(per_process=False)
        elif change == "demoted":
            log.warning("scheduler: %s lost the leader lock; unscheduling jobs", self.node.id)
            self._unschedule_jobs()
        self._heartbeat()

    def _schedule_jobs(self, *, per_process: bool) -> None:
        for spec in self.specs:
            if spec.per_process != per_process:
                continue
            self._last_run.pop(spec.name, None)
            self.scheduler.add_job(self._run_scheduled, spec.trigger(), args=(spec.name,), id=spec.name,
                                   name=spec.name, misfire_grace_time=spec.misfire_grace_time,
                                   coalesce=True, max_instances=1, replace_existing=True)

    def _unschedule_jobs(self) -> None:
        for spec in self.specs:
            if spec.per_process:
                continue
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(spec.name)

    def next_runs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for job in self.scheduler.get_jobs():
            if job.id != TICK_JOB_ID and job.next_run_time is not None:
                out[job.id] = job.next_run_time.astimezone(UTC).replace(tzinfo=None).isoformat()
        return out

    def _heartbeat(self) -> None:
        try:
            with self._sessions() as session:
                leader.heartbeat(session, self.node, is_leader=self.is_leader,
                                 tick_seconds=self.tick_seconds,
                                 next_runs=self.next_runs() if self.is_leader else None)
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

    def _run_scheduled(self, name: str) -> None:
        scheduled_for, trigger = self._submitted.pop(name, (None, None))
        previous = self._last_run.get(name)
        if scheduled_for is not None:
            self._last_run[name] = scheduled_for
        if previous is not None and scheduled_for is not None and trigger is not None:
            merged = coalesced_between(trigger, previous, scheduled_for)
            if merged:
                self.runner.record_skip(name, scheduled_for, f"coalesced: {merged} late run(s) after "
                                        f"{previous:%Y-%m-%d %H:%M:%S} UTC merged into this one")
        if not self.is_leader and not self.runner.spec(name).per_process:
            return  # lost the lock between submission and execution
        self.runner.start(name, trigger="scheduled", scheduled_for=scheduled_for, wait=True)

    def _on_event(self, event: JobEvent) -> None:
        if event.job_id == TICK_JOB_ID:
            return
        if event.code == EVENT_JOB_MISSED:
            spec = self.runner.specs.get(event.job_id)
            grace = spec.misfire_grace_time if spec else 0
            self.runner.record_skip(event.job_id, event.scheduled_run_time,
                                    f"missed: not started within the {grace} s grace time")
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            times = getattr(event, "scheduled_run_times", None) or [None]
            self.runner.record_skip(event.job_id, times[-1], "skipped: the previous run is still in progress")

    def shutdown(self) -> None:
        with contextlib.suppress(Exception):
            self.scheduler.shutdown(wait=False)
        self.elector.release()
        try:
            with self._sessions() as session:
                leader.forget_node(session, self.node)
                session.commit()
        except Exception:  # noqa: BLE001 - shutting down; the row goes stale and is pruned
            pass
        self.engine.dispose()


_runtime: SchedulerRuntime | None = None
_runtime_lock = threading.Lock()
EXTENSION_KEY = "bi_jobs"


def init_app(app: Any, settings: Settings, jobs: Sequence[JobSpec] | None = None, *,
             tick_seconds: float | None = None, lock_name: str | None = None) -> None:
    """Register the job list on ``app`` and, when ``settings.scheduler`` is on, start this
    process's scheduler (once per process; a second call leaves the first one running)."""
    global _runtime
    specs = list(JOBS if jobs is None else jobs)
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
        tick = tick_seconds or getattr(settings, "scheduler_tick_seconds", None) or DEFAULT_TICK_SECONDS
        name = lock_name or getattr(settings, "scheduler_lock_name", None) or leader.DEFAULT_LEADER_LOCK
        runtime = SchedulerRuntime(server, settings, specs, tick_seconds=float(tick), lock_name=name)
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


# --- read and act API (called in an app context) ------------------------------------------------

def _specs() -> dict[str, JobSpec]:
    specs = flask.current_app.extensions.get(EXTENSION_KEY, JOBS)
    return {spec.name: spec for spec in specs}


def _session() -> Session:
    from bi_app.extensions import db

    return db.session()


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def _parse_iso(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _run_dict(row: JobRun) -> dict[str, Any]:
    return {"id": row.id, "job_name": row.job_name, "trigger": row.run_trigger, "actor": row.actor,
            "host": row.host, "pid": row.pid, "scheduled_for": row.scheduled_for,
            "started_at": row.started_at, "finished_at": row.finished_at, "status": row.status,
            "error": row.error, "duration_ms": row.duration_ms, "late_ms": row.late_ms}


def scheduler_status() -> dict[str, Any]:
    """Who leads, this process's role, heartbeats, late jobs and each job's next run."""
    specs = _specs()
    now = utcnow()
    with _session() as session:
        lead = leader.current_leader(session)
        nodes = leader.live_nodes(session)
        recent = session.scalars(select(JobRun).where(
            JobRun.started_at >= now - dt.timedelta(hours=1),
            (JobRun.status == "skipped") | (JobRun.late_ms > LATE_MS)).order_by(JobRun.id.desc()).limit(50)).all()
    next_runs = {name: _parse_iso(lead.next_runs.get(name)) if lead and lead.next_runs else None
                 for name in specs}
    late: list[dict[str, Any]] = []
    for name, when in next_runs.items():
        if when is not None and (now - when).total_seconds() > specs[name].misfire_grace_time:
            late.append({"name": name, "reason": f"overdue since {when:%H:%M:%S} UTC", "at": when})
    for row in recent:
        if row.job_name in specs:
            reason = row.error if row.status == "skipped" else f"started {row.late_ms / 1000:.1f} s late"
            late.append({"name": row.job_name, "reason": (reason or "").splitlines()[0], "at": row.started_at})
    rt = _runtime
    return {
        "enabled": rt is not None,
        "this_process": {"host": rt.node.host if rt else leader.NodeInfo().host,
                         "pid": rt.node.pid if rt else leader.NodeInfo().pid,
                         "is_leader": bool(rt and rt.is_leader)},
        "leader": None if lead is None else {"host": lead.host, "pid": lead.pid, "since": lead.leader_since,
                                             "heartbeat_at": lead.heartbeat_at},
        "last_heartbeat": lead.heartbeat_at if lead else (nodes[0].heartbeat_at if nodes else None),
        "nodes": [{"host": n.host, "pid": n.pid, "is_leader": n.is_leader, "heartbeat_at": n.heartbeat_at}
                  for n in nodes],
        "late_jobs": late,
        "jobs": [{"name": name, "next_run": when} for name, when in next_runs.items()],
    }


def jobs_overview(limit: int = 50) -> dict[str, Any]:
    """Everything the Admin → Jobs page shows: scheduler status, jobs and recent runs."""
    return {"status": scheduler_status(), "jobs": list_jobs(), "runs": recent_runs(limit=limit)}


def list_jobs() -> list[dict[str, Any]]:
    """Every registered job with its schedule, last run and next run time."""
    specs = _specs()
    with _session() as session:
        latest_ids = select(func.max(JobRun.id)).where(JobRun.job_name.in_(specs)).group_by(JobRun.job_name)
        last = {row.job_name: row for row in session.scalars(select(JobRun).where(JobRun.id.in_(latest_ids)))}
        lead = leader.current_leader(session)
    next_runs = (lead.next_runs or {}) if lead else {}
    out = []
    for spec in specs.values():
        run = last.get(spec.name)
        out.append({
            "name": spec.name, "description": spec.description, "trigger": spec.trigger_text,
            "timeout": spec.timeout, "func": spec.func,
            "last_run_id": run.id if run else None,
            "last_status": run.status if run else None,
            "last_started_at": run.started_at if run else None,
            "last_finished_at": run.finished_at if run else None,
            "last_duration_ms": run.duration_ms if run else None,
            "last_error": run.error if run else None,
            "next_run": _parse_iso(next_runs.get(spec.name)),
        })
    return out


def recent_runs(name: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The newest runs first, of one job or of all."""
    limit = max(1, min(int(limit), 500))
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if name is not None:
        query = query.where(JobRun.job_name == name)
    with _session() as session:
        return [_run_dict(row) for row in session.scalars(query)]


def _actor_name(actor: Any) -> str | None:
    name = getattr(actor, "username", actor)
    if name is None:
        from bi_app import auth

        name = auth.current_username()
    return str(name)[:64] if name is not None else None


def _runner() -> JobRunner:
    from bi_app.extensions import db

    settings: Settings = flask.current_app.config["BI_SETTINGS"]
    return JobRunner(_specs().values(), db.require_engine(), settings.database_url,
                     app=flask.current_app._get_current_object(), settings=settings)


def run_job_now(name: str, actor: Any, *, wait: bool = False) -> dict[str, Any]:
    """Start ``name`` in this process, through the same per-job lock as scheduled runs, and audit
    it (``actor`` None means the logged-in user of the request). Returns ``{"ok", "run_id", "status", "error", "message"}``; the run finishes in the
    background unless ``wait``."""
    from bi_app import auth

    if name not in _specs():
        return {"ok": False, "run_id": None, "status": None, "error": None, "message": f"Unknown job {name!r}."}
    result = _runner().start(name, trigger="manual", actor=_actor_name(actor), wait=wait)
    with _session() as session:
        auth.audit(session, "job.run", target=name, actor=actor,
                   detail={"run_id": result["run_id"], "status": result["status"]})
        session.commit()
    ok = result["status"] != "skipped"
    message = (f"Started {name} (run {result['run_id']})." if result["status"] == "running"
               else f"{name}: {result['status']}" + (f" — {result['error'].splitlines()[0]}" if result["error"] else ""))
    return {"ok": ok, **result, "message": message}


# --- CLI helpers (wired as `bi-app jobs list|run NAME`) ---------------------------------------------

def _cli_app() -> Any:
    from dataclasses import replace

    from dotenv import load_dotenv

    from bi_app import create_app

    load_dotenv(override=False)
    return create_app(replace(Settings.from_env(), scheduler=False))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def cli_list() -> int:
    """Print every job with its schedule, last result and next run; and who leads."""
    app = _cli_app()
    with app.server.app_context():
        jobs, status = list_jobs(), scheduler_status()
    lead = status["leader"]
    print(f"leader: {lead['host']}:{lead['pid']} (heartbeat {_fmt(lead['heartbeat_at'])} UTC)" if lead
          else "leader: none (no scheduler process is running)")
    print(f"{'JOB':<18} {'SCHEDULE':<22} {'LAST':<10} {'FINISHED (UTC)':<20} {'MS':>7}  {'NEXT (UTC)':<20} ERROR")
    for job in jobs:
        error = (job["last_error"] or "").splitlines()[0][:60] if job["last_error"] else ""
        print(f"{job['name']:<18} {job['trigger']:<22} {_fmt(job['last_status']):<10} "
              f"{_fmt(job['last_finished_at']):<20} {_fmt(job['last_duration_ms']):>7}  "
              f"{_fmt(job['next_run']):<20} {error}")
    return 0


def cli_run(name: str) -> int:
    """Run one job in this process and wait; exit status 0 only when it succeeded."""
    app = _cli_app()
    with app.server.app_context():
        if name not in _specs():
            print(f"bi-app: unknown job {name!r} (known: {', '.join(_specs())})", file=sys.stderr)
            return 2
        result = run_job_now(name, "cli", wait=True)
    print(f"{name}: {result['status']} in {_fmt(result.get('duration_ms'))} ms (run {result['run_id']})")
    if result["error"]:
        print(result["error"], file=sys.stderr)
    return 0 if result["status"] == "succeeded" else 1
