"""Background jobs: what runs (:mod:`~bi_app.jobs.definitions`), how one run is executed and
recorded (:mod:`~bi_app.jobs.runner`), the in-process scheduler and its leader election
(:mod:`~bi_app.jobs.scheduler`, :mod:`~bi_app.jobs.leader`), the Admin → Jobs read model and
"run now" (:mod:`~bi_app.jobs.status`) and the ``bi-app jobs`` commands (:mod:`~bi_app.jobs.cli`).

Every process with ``BI_SCHEDULER=on`` runs a scheduler; only the holder of the leader lock
executes the jobs, each under a per-job cross-process lock, and every run is recorded in
``job_runs``.
"""

from __future__ import annotations

from bi_app.jobs.definitions import CRON_GRACE_SECONDS, JOBS, JobSpec
from bi_app.jobs.runner import (
    JobFunctionNotFound,
    JobRunner,
    UnknownJob,
    call_job,
    format_error,
    resolve,
)
from bi_app.jobs.scheduler import (
    EXTENSION_KEY,
    SchedulerRuntime,
    coalesced_between,
    init_app,
    runtime,
    shutdown,
)
from bi_app.jobs.status import (
    job_specs,
    jobs_overview,
    list_jobs,
    recent_runs,
    run_job_now,
    scheduler_status,
)

__all__ = [
    "CRON_GRACE_SECONDS",
    "EXTENSION_KEY",
    "JOBS",
    "JobFunctionNotFound",
    "JobRunner",
    "JobSpec",
    "SchedulerRuntime",
    "UnknownJob",
    "call_job",
    "coalesced_between",
    "format_error",
    "init_app",
    "job_specs",
    "jobs_overview",
    "list_jobs",
    "recent_runs",
    "resolve",
    "run_job_now",
    "runtime",
    "scheduler_status",
    "shutdown",
]
