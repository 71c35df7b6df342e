"""The Admin → Jobs read model (who leads, every job's last and next run, recent runs) and
"run now"; called in an app context.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bi_app import auth, current_settings
from bi_app.db.job_models import JobRun
from bi_app.db.models import utcnow
from bi_app.i18n import N_, _
from bi_app.jobs import leader
from bi_app.jobs.definitions import JOBS, JobSpec
from bi_app.jobs.runner import LOCK_HELD, JobRunner
from bi_app.jobs.scheduler import EXTENSION_KEY, runtime

LATE_MS = 2000
SLOT_HISTORY = 24  # slots per job the Jobs page draws
SLOT_WINDOW = dt.timedelta(hours=24)  # the page counts missed/skipped/failed slots over this
SLOT_STATES = {
    "succeeded": "ok",
    "failed": "failed",
    "timed_out": "failed",
    "running": "running",
    "skipped": "skipped",
    "missed": "missed",
}
# what "run now" says per outcome (marked only: filled in and translated in run_job_now)
RUN_MESSAGES = {
    "running": N_("Started %(name)s (run %(run_id)s)."),
    "succeeded": N_("%(name)s: succeeded"),
    "failed": N_("%(name)s: failed"),
    "timed_out": N_("%(name)s: timed_out"),
    "skipped": N_("%(name)s: skipped"),
}
RUN_ERROR_MESSAGES = {
    "succeeded": N_("%(name)s: succeeded — %(error)s"),
    "failed": N_("%(name)s: failed — %(error)s"),
    "timed_out": N_("%(name)s: timed_out — %(error)s"),
    "skipped": N_("%(name)s: skipped — %(error)s"),
}


def job_specs() -> dict[str, JobSpec]:
    """The jobs registered on the current app (by ``init_app``), by name."""
    specs = flask.current_app.extensions.get(EXTENSION_KEY, JOBS)
    return {spec.name: spec for spec in specs}


def _session() -> Session:
    from bi_app.extensions import db

    return db.session()


def _parse_iso(value: object) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _run_dict(row: JobRun) -> dict[str, Any]:
    return {
        "id": row.id,
        "job_name": row.job_name,
        "trigger": row.run_trigger,
        "actor": row.actor,
        "host": row.host,
        "pid": row.pid,
        "scheduled_for": row.scheduled_for,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "status": row.status,
        "error": row.error,
        "duration_ms": row.duration_ms,
        "late_ms": row.late_ms,
    }


def scheduler_status() -> dict[str, Any]:
    """Who leads, this process's role, heartbeats, late jobs and each job's next run."""
    specs = job_specs()
    now = utcnow()
    with _session() as session:
        lead = leader.current_leader(session)
        nodes = leader.live_nodes(session)
        recent = session.scalars(
            select(JobRun)
            .where(
                JobRun.started_at >= now - dt.timedelta(hours=1),
                JobRun.status.in_(("skipped", "missed")) | (JobRun.late_ms > LATE_MS),
            )
            .order_by(JobRun.id.desc())
            .limit(50)
        ).all()
    next_runs = {
        name: _parse_iso(lead.next_runs.get(name)) if lead and lead.next_runs else None
        for name in specs
    }
    late: list[dict[str, Any]] = []
    for name, when in next_runs.items():
        if when is not None and (now - when).total_seconds() > specs[name].misfire_grace_time:
            reason = _("overdue since %(time)s UTC", time=format(when, "%H:%M:%S"))
            late.append({"name": name, "reason": reason, "at": when})
    repeated: dict[tuple[str, str], dict[str, Any]] = {}
    for row in recent:  # newest first
        if row.job_name in specs:
            reason = (
                row.error  # stored by the scheduler, which speaks no one's language: English
                if row.status in ("skipped", "missed")
                else _("started %(seconds)s s late", seconds=format(row.late_ms / 1000, ".1f"))
            )
            first_line = next(iter((reason or "").splitlines()), "") or row.status
            key = (row.job_name, first_line)
            if key in repeated:  # one line per job and reason, with how many slots it hit
                repeated[key]["slots"] += 1
                continue
            repeated[key] = {"name": key[0], "reason": key[1], "at": row.started_at, "slots": 1}
    for entry in repeated.values():
        if entry["slots"] > 1:
            entry["reason"] = _(
                "%(reason)s (%(count)s slots)", reason=entry["reason"], count=entry["slots"]
            )
        late.append(entry)
    rt = runtime()
    return {
        "enabled": rt is not None,
        "this_process": {
            "host": rt.node.host if rt else leader.NodeInfo().host,
            "pid": rt.node.pid if rt else leader.NodeInfo().pid,
            "is_leader": bool(rt and rt.is_leader),
        },
        "leader": None
        if lead is None
        else {
            "host": lead.host,
            "pid": lead.pid,
            "since": lead.leader_since,
            "heartbeat_at": lead.heartbeat_at,
        },
        "last_heartbeat": lead.heartbeat_at if lead else (nodes[0].heartbeat_at if nodes else None),
        "nodes": [
            {"host": n.host, "pid": n.pid, "is_leader": n.is_leader, "heartbeat_at": n.heartbeat_at}
            for n in nodes
        ],
        "late_jobs": late,
        "jobs": [{"name": name, "next_run": when} for name, when in next_runs.items()],
    }


def jobs_overview(limit: int = 50) -> dict[str, Any]:
    """Everything the Admin → Jobs page shows: scheduler status, jobs and recent runs."""
    return {"status": scheduler_status(), "jobs": list_jobs(), "runs": recent_runs(limit=limit)}


def list_jobs() -> list[dict[str, Any]]:
    """Every registered job with its schedule, last run and next run time."""
    specs = job_specs()
    with _session() as session:
        latest_ids = (
            select(func.max(JobRun.id)).where(JobRun.job_name.in_(specs)).group_by(JobRun.job_name)
        )
        last = {
            row.job_name: row
            for row in session.scalars(select(JobRun).where(JobRun.id.in_(latest_ids)))
        }
        lead = leader.current_leader(session)
        history = slot_history(session, list(specs))
        counts = slot_counts(session, list(specs), utcnow() - SLOT_WINDOW)
    next_runs = (lead.next_runs or {}) if lead else {}
    out = []
    for spec in specs.values():
        run = last.get(spec.name)
        out.append(
            {
                "name": spec.name,
                "description": spec.description_text,
                "trigger": spec.trigger_text,
                "timeout": spec.timeout,
                "func": spec.func,
                "last_run_id": run.id if run else None,
                "last_status": run.status if run else None,
                "last_started_at": run.started_at if run else None,
                "last_finished_at": run.finished_at if run else None,
                "last_duration_ms": run.duration_ms if run else None,
                "last_error": run.error if run else None,
                "next_run": _parse_iso(next_runs.get(spec.name)),
                "slots": history.get(spec.name, []),
                "slot_counts": counts.get(spec.name, {}),
            }
        )
    return out


def slot_history(
    session: Session, names: list[str], limit: int = SLOT_HISTORY
) -> dict[str, list[dict[str, Any]]]:
    """Per job, its newest scheduled slots (oldest first) with their state: ok, failed,
    running, skipped or missed; ``slots`` > 1 marks a summarized gap."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        rows = session.execute(
            select(JobRun.scheduled_for, JobRun.status, JobRun.slots, JobRun.error)
            .where(
                JobRun.job_name == name,
                JobRun.run_trigger == "scheduled",
                JobRun.scheduled_for.is_not(None),
            )
            .order_by(JobRun.scheduled_for.desc(), JobRun.id.desc())
            .limit(limit)
        ).all()
        out[name] = [
            {
                "at": at,
                "status": status,
                "state": SLOT_STATES.get(status, status),
                "slots": slots or 1,
                "reason": (error or "").splitlines()[0] if error else None,
            }
            for at, status, slots, error in reversed(rows)
        ]
    return out


def slot_counts(
    session: Session, names: list[str], since: dt.datetime
) -> dict[str, dict[str, int]]:
    """Per job, how many of its scheduled slots since ``since`` ended in each state."""
    rows = session.execute(
        select(JobRun.job_name, JobRun.status, func.sum(func.coalesce(JobRun.slots, 1)))
        .where(
            JobRun.job_name.in_(names),
            JobRun.run_trigger == "scheduled",
            JobRun.scheduled_for >= since,
        )
        .group_by(JobRun.job_name, JobRun.status)
    ).all()
    out: dict[str, dict[str, int]] = {}
    for name, status, count in rows:
        state = SLOT_STATES.get(status, status)
        out.setdefault(name, {})
        out[name][state] = out[name].get(state, 0) + int(count or 0)
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
        name = auth.current_username()
    return str(name)[:64] if name is not None else None


def _runner() -> JobRunner:
    from bi_app.extensions import db

    settings = current_settings()
    return JobRunner(
        job_specs().values(),
        db.require_engine(),
        settings.database_url,
        app=flask.current_app._get_current_object(),
        settings=settings,
    )


def run_job_now(name: str, actor: Any, *, wait: bool = False) -> dict[str, Any]:
    """Start ``name`` in this process, through the same per-job lock as scheduled runs, and audit
    it (``actor`` None means the logged-in user of the request).

    Returns ``{"ok", "run_id", "status", "error", "message"}``; the run finishes in the
    background unless ``wait``."""
    if name not in job_specs():
        return {
            "ok": False,
            "run_id": None,
            "status": None,
            "error": None,
            "message": _("Unknown job %(name)s.", name=repr(name)),
        }
    result = _runner().start(name, trigger="manual", actor=_actor_name(actor), wait=wait)
    with _session() as session:
        auth.audit(
            session,
            "job.run",
            target=name,
            actor=actor,
            detail={"run_id": result["run_id"], "status": result["status"]},
        )
        session.commit()
    ok = result["status"] != "skipped"
    return {"ok": ok, **result, "message": run_message(name, result)}


def run_message(name: str, result: dict[str, Any]) -> str:
    """What "run now" tells the person who clicked it, in the request's locale: started, or
    the outcome with the first line of its error (a lock held by another run is translated;
    an exception's own text is not)."""
    status, error = result["status"], result.get("error")
    if status == "running":
        return _(RUN_MESSAGES["running"], name=name, run_id=result["run_id"])
    first = error.splitlines()[0] if error else ""
    if first == LOCK_HELD:
        first = _(LOCK_HELD)
    if error and status in RUN_ERROR_MESSAGES:
        return _(RUN_ERROR_MESSAGES[status], name=name, error=first)
    if not error and status in RUN_MESSAGES:
        return _(RUN_MESSAGES[status], name=name)
    return f"{name}: {status}" + (f" — {first}" if error else "")
