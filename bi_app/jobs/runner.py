"""Running one job: resolve its function, take its cross-process lock, enforce the timeout and
record the run (start, end, status, error) in ``job_runs``.

Each run — scheduled or "run now" — takes a per-job lock first (see :mod:`bi_app.jobs.leader`),
so a job never runs twice at once anywhere; a run that cannot take it is recorded as skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import flask
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import sessionmaker

from bi_app.config import Settings
from bi_app.db.job_models import JobRun
from bi_app.db.models import utcnow
from bi_app.i18n import N_
from bi_app.jobs import leader, slots
from bi_app.jobs.definitions import UTC, JobSpec

log = logging.getLogger(__name__)

ERROR_MAX_CHARS = 4000
# stored as the error of a skipped run (English); "run now" shows it translated
LOCK_HELD = N_("already running: another run of this job holds its lock")


class UnknownJob(KeyError):
    """No job of that name is registered."""


class JobFunctionNotFound(LookupError):
    """A job's dotted function path does not resolve (module or attribute missing)."""


def resolve(path: str) -> Callable[..., Any]:
    """Import ``module:attr.attr`` lazily; raise :class:`JobFunctionNotFound` when it is missing."""
    module_name, _sep, attr_path = path.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr_path.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise JobFunctionNotFound(
            f"function not found: {path} ({type(exc).__name__}: {exc})"
        ) from None
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


def _naive_utc(value: dt.datetime | None) -> dt.datetime | None:
    """How the database stores times: naive UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


class JobRunner:
    """Runs jobs under their cross-process lock, with a timeout, and records each run."""

    def __init__(
        self,
        specs: Iterable[JobSpec],
        engine: Engine,
        database_url: str,
        *,
        app: flask.Flask | None = None,
        settings: Settings | None = None,
        node: leader.NodeInfo | None = None,
    ) -> None:
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
        return (
            f"job-{spec.name}-{self.node.host}-{self.node.pid}"
            if spec.per_process
            else f"job-{spec.name}"
        )

    def start(
        self,
        name: str,
        *,
        trigger: str = "scheduled",
        actor: str | None = None,
        scheduled_for: dt.datetime | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """Run ``name`` now; with ``wait=False`` return once its row exists, finish in a thread."""
        spec = self.spec(name)
        started = utcnow()
        late_ms = None
        if scheduled_for is not None:
            late_ms = max(
                0,
                _ms((started - scheduled_for.astimezone(UTC).replace(tzinfo=None)).total_seconds()),
            )
        fields = {
            "job_name": name,
            "run_trigger": trigger,
            "actor": actor,
            "host": self.node.host,
            "pid": self.node.pid,
            "started_at": started,
            "late_ms": late_ms,
            "scheduled_for": scheduled_for.astimezone(UTC).replace(tzinfo=None)
            if scheduled_for
            else None,
        }
        guard = leader.make_lock(self.database_url, self.lock_name(spec))
        try:
            acquired, reason = guard.try_acquire(), LOCK_HELD
        except Exception as exc:  # noqa: BLE001 - recorded, never raised into the scheduler
            acquired, reason = False, f"could not take the job lock: {type(exc).__name__}: {exc}"
        if not acquired:
            run_id = self._insert(
                status="skipped", error=reason, finished_at=started, duration_ms=0, **fields
            )
            return {"run_id": run_id, "status": "skipped", "error": reason}
        try:
            run_id = self._insert(status="running", **fields)
        except BaseException:
            guard.release()
            raise
        args = (spec, run_id, guard, fields["scheduled_for"])
        if not wait:
            threading.Thread(
                target=self._supervise, args=args, daemon=True, name=f"job-supervisor:{name}"
            ).start()
            return {"run_id": run_id, "status": "running", "error": None}
        status, error, duration_ms = self._supervise(*args)
        return {"run_id": run_id, "status": status, "error": error, "duration_ms": duration_ms}

    def _supervise(
        self,
        spec: JobSpec,
        run_id: int,
        guard: leader.ProcessLock,
        scheduled_for: dt.datetime | None,
    ) -> tuple[str, str | None, int]:
        outcome: dict[str, Any] = {}
        began = time.perf_counter()
        body = threading.Thread(
            target=self._body,
            args=(spec, scheduled_for, outcome, guard),
            daemon=True,
            name=f"job:{spec.name}",
        )
        body.start()
        body.join(spec.timeout)
        duration_ms = _ms(time.perf_counter() - began)
        if body.is_alive():
            # Python cannot kill a thread: the run is abandoned, and keeps the job's lock until it
            # returns, so the next tick is recorded as skipped rather than run concurrently.
            status = "timed_out"
            error = (
                f"timed out after {spec.timeout:g} s"
                " (still running in the background; holds the job lock)"
            )
            log.error("job %s (run %s) %s", spec.name, run_id, error)
        else:
            status, error = outcome.get("status", "failed"), outcome.get("error")
        try:
            self._finish(run_id, status, error, duration_ms)
        except Exception:
            log.exception("job %s: could not record the end of run %s", spec.name, run_id)
        return status, error, duration_ms

    def _body(
        self,
        spec: JobSpec,
        scheduled_for: dt.datetime | None,
        outcome: dict[str, Any],
        guard: leader.ProcessLock,
    ) -> None:
        try:
            target = resolve(spec.func)
            context = {
                "app": self.app,
                "settings": self.settings,
                "engine": self.engine,
                "scheduled_for": scheduled_for.replace(tzinfo=UTC) if scheduled_for else None,
            }
            with self.app.app_context() if self.app is not None else contextlib.nullcontext():
                call_job(target, context)
            outcome.update(status="succeeded")
        except JobFunctionNotFound as exc:
            log.error("job %s: %s", spec.name, exc)
            outcome.update(status="failed", error=str(exc))
        except BaseException as exc:
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
            session.execute(
                update(JobRun)
                .where(JobRun.id == run_id)
                .values(status=status, error=error, duration_ms=duration_ms, finished_at=utcnow())
            )
            session.commit()

    def record_skip(
        self, name: str, scheduled_for: dt.datetime | None, reason: str, *, status: str = "skipped"
    ) -> None:
        """Record a slot that did not run: ``skipped`` (another run of the job was still going)
        or ``missed`` (not started on time)."""
        now = utcnow()
        try:
            self._insert(
                job_name=name,
                run_trigger="scheduled",
                host=self.node.host,
                pid=self.node.pid,
                scheduled_for=_naive_utc(scheduled_for),
                started_at=now,
                finished_at=now,
                status=status,
                error=reason,
                duration_ms=0,
            )
        except Exception:
            log.exception("job %s: could not record a %s slot", name, status)

    def record_missed(self, name: str, gap: slots.Gap, reason: str) -> int:
        """Record every slot of ``gap`` as missed, its older part as one summary row; returns
        how many slots were recorded (0 when the database refused)."""
        if not gap:
            return 0
        now = utcnow()
        common = {
            "job_name": name,
            "run_trigger": "scheduled",
            "host": self.node.host,
            "pid": self.node.pid,
            "started_at": now,
            "finished_at": now,
            "status": "missed",
            "duration_ms": 0,
        }
        rows = []
        if gap.older_count:
            rows.append(
                {
                    **common,
                    "scheduled_for": _naive_utc(gap.older_last),
                    "slots": gap.older_count,
                    "error": f"{reason}: missed {gap.older_count} slot(s) from "
                    f"{gap.older_first:%Y-%m-%d %H:%M:%S} to {gap.older_last:%Y-%m-%d %H:%M:%S} UTC"
                    " (summarized)",
                }
            )
        rows += [
            {**common, "scheduled_for": _naive_utc(slot), "slots": None, "error": reason}
            for slot in gap.recent
        ]
        try:
            with self._sessions() as session:
                session.execute(insert(JobRun), rows)
                session.commit()
        except Exception:
            log.exception("job %s: could not record %d missed slot(s)", name, gap.total)
            return 0
        log.warning("job %s: %d slot(s) missed (%s)", name, gap.total, reason)
        return gap.total

    def last_slots(self) -> dict[str, dt.datetime]:
        """The newest scheduled slot with a record, per job (aware UTC)."""
        with self._sessions() as session:
            rows = session.execute(
                select(JobRun.job_name, func.max(JobRun.scheduled_for))
                .where(
                    JobRun.job_name.in_(list(self.specs)),
                    JobRun.run_trigger == "scheduled",
                    JobRun.scheduled_for.is_not(None),
                )
                .group_by(JobRun.job_name)
            ).all()
        return {name: slots.aware(when) for name, when in rows if when is not None}

    def reap_abandoned(self, live: set[tuple[str, int]]) -> int:
        """Mark 'running' rows of processes that are gone, and long past their timeout, failed."""
        count = 0
        with self._sessions() as session:
            for spec in self.specs.values():
                cutoff = utcnow() - dt.timedelta(seconds=spec.timeout + 60)
                rows = session.scalars(
                    select(JobRun).where(
                        JobRun.job_name == spec.name,
                        JobRun.status == "running",
                        JobRun.started_at < cutoff,
                    )
                ).all()
                for row in rows:
                    if (row.host, row.pid) in live:
                        continue
                    row.status, row.finished_at = "failed", utcnow()
                    row.error = f"abandoned: process {row.host}:{row.pid} stopped during the run"
                    count += 1
            session.commit()
        return count
