"""gunicorn settings for bi-app: ``gunicorn -c python:bi_app.gunicorn_conf bi_app.wsgi:server``.

Every serving setting lives here, so the Procfile and the README run that one command.
gunicorn's own order applies: this file, then ``GUNICORN_CMD_ARGS``, then the command line, each
overriding the one before (``GUNICORN_CMD_ARGS="--timeout 90 --workers 8"`` needs no edit here).

- ``bind``: ``0.0.0.0:$PORT`` (``PORT`` default 8050), as platforms that set ``PORT`` expect.
- ``workers``: ``$WEB_CONCURRENCY``, else ``2 × CPUs + 1`` (the CPUs this process may use),
  capped at :data:`MAX_DEFAULT_WORKERS`: each worker holds the whole app (Dash, pandas, plotly,
  its own database pool of up to 15 connections and the scheduler), so more workers cost memory
  and PostgreSQL connections before they add speed.
- ``worker_class = "sync"``: one request per process at a time. The work of a request is mostly
  CPU under the GIL (pandas, figure building, JSON, compression) or one blocking psycopg call;
  threads (``gthread``) would add no CPU, would make every worker's in-process state (request
  metrics, caches, Dash's callback context) concurrent, and a slow callback would hold up the
  others of its process. Several sync processes are the simple, safe choice with psycopg. Sync
  workers keep no connection alive and a slow client occupies a worker, so production puts a
  buffering reverse proxy or load balancer in front (nginx, a cloud load balancer). Measured
  here (8 signed-in clients routing five pages on PostgreSQL, 2 cores shared with other work at
  a load average of 8-12): sync ×5 17-24 req/s, sync ×3 28, gthread 2×4 29-59, gthread 3×4 13 —
  no difference that stands out of that noise, so no reason to give up one-request-per-process.
  To try threads: ``GUNICORN_CMD_ARGS="--worker-class gthread --threads 4"`` (the app's shared
  state is thread-safe; the statement timeout is decided per thread).
- ``timeout = 60``: a worker silent for longer is killed and replaced. Above it, no request may
  run: ``BI_STATEMENT_TIMEOUT_S`` (25) cancels a request's SQL well before, so the person reads
  "took too long" instead of losing the worker; start-up refuses a statement timeout that is not
  below this one (``0``, no statement timeout, is allowed as a deliberate choice).
- ``graceful_timeout = 30``: on a restart or deploy, requests in flight get this long to finish.
- ``keepalive = 5``: seconds an idle keep-alive connection is held (ignored by sync workers; used
  as soon as ``gthread`` is chosen; keep it above the proxy's idle timeout in that case).
- access log on stdout with the request duration in ms (``%(M)s``); errors on stderr.
- no ``preload_app``: every worker opens its own database pool, cache client and scheduler after
  the fork (connections opened before a fork would be shared between processes).

Several workers serve one ``/metrics``: prometheus-client's multi-process mode. Every worker
writes its counters and histograms to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and a
scrape on any worker sums them all (:mod:`bi_app.monitoring.prometheus`), so a counter is the same
whichever worker answers, and it never goes backwards when a worker is replaced: a dead worker's
counter files stay in the sum. The variable must be set before anything imports
``prometheus_client`` (it picks its mode at import), hence here, when gunicorn reads this file in
the master, before any worker loads the app.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
from typing import Any

_ENV = "PROMETHEUS_MULTIPROC_DIR"
_OWNED_ENV = "PROMETHEUS_MULTIPROC_DIR_CREATED_BY_BI_APP"  # this file made the directory

MAX_DEFAULT_WORKERS = 8
DEFAULT_PORT = 8050


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeError(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum:
        raise RuntimeError(f"{name}: expected at least {minimum}, got {value}")
    return value


def available_cpus() -> int:
    """The CPUs this process may run on (a container's or taskset's limit, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_workers(cpus: int) -> int:
    return max(2, min(2 * cpus + 1, MAX_DEFAULT_WORKERS))


bind = [f"0.0.0.0:{_env_int('PORT', DEFAULT_PORT)}"]
workers = _env_int("WEB_CONCURRENCY", default_workers(available_cpus()))
worker_class = "sync"
timeout = 60
graceful_timeout = 30
keepalive = 5
accesslog = "-"
errorlog = "-"
access_log_format = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms "%(f)s" "%(a)s"'
preload_app = False
# the workers' heartbeat files: on a RAM disk, so a slow or full disk cannot stall them
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None


if not os.environ.get(_ENV):
    # A private directory per master (mode 0700); gunicorn re-reads this file on HUP, and the
    # environment then already names it, so the workers keep counting into the same files.
    os.environ[_ENV] = tempfile.mkdtemp(prefix="bi-prometheus-")
    os.environ[_OWNED_ENV] = os.environ[_ENV]

if "prometheus_client.values" in sys.modules:  # imported before this file ran: too late
    from prometheus_client import values

    if values.ValueClass is values.MutexValue:
        raise RuntimeError(
            "prometheus_client was imported before bi_app.gunicorn_conf set "
            f"{_ENV}: /metrics would count per worker"
        )


def statement_timeout_s() -> int:
    """``BI_STATEMENT_TIMEOUT_S`` as the app will read it (``.env`` included)."""
    from dataclasses import fields

    from bi_app.config import Settings, load_dotenv_once

    load_dotenv_once()
    field = next(f for f in fields(Settings) if f.name == "statement_timeout_s")
    name = field.metadata["env"]
    raw = os.environ.get(name)
    return field.default if raw is None else field.metadata["parse"](name, raw)


def check_timeouts(worker_timeout: float) -> None:
    """Refuse to start when a request's SQL may outlive the worker that runs it (a statement
    timeout of 0, turned off on purpose, is the operator's choice)."""
    from bi_app.config import ConfigError

    try:
        limit = statement_timeout_s()
    except ConfigError as exc:
        raise RuntimeError(str(exc)) from None  # gunicorn prints a RuntimeError as one line
    if worker_timeout and limit and limit >= worker_timeout:
        raise RuntimeError(
            f"BI_STATEMENT_TIMEOUT_S={limit} must be below gunicorn's timeout "
            f"({worker_timeout:g} s), or a query outlives the worker that runs it: lower "
            "BI_STATEMENT_TIMEOUT_S or raise the timeout"
        )


def on_starting(server: Any) -> None:
    """Check the timeouts; start the metrics from zero (files of an earlier run in a given
    directory would be summed in)."""
    check_timeouts(server.cfg.timeout)
    for path in glob.glob(os.path.join(os.environ[_ENV], "*.db")):
        os.remove(path)


def child_exit(server: Any, worker: Any) -> None:
    """Drop the live gauges of a worker that exited (its counters stay in the sum)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    owned = os.environ.get(_OWNED_ENV)
    if owned and owned == os.environ.get(_ENV):
        shutil.rmtree(owned, ignore_errors=True)
