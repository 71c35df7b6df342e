"""gunicorn settings for bi-app: ``gunicorn -c python:bi_app.gunicorn_conf "bi_app.wsgi:server"``.

Several workers serve one ``/metrics``: prometheus-client's multi-process mode. Every worker
writes its counters and histograms to memory-mapped files in ``PROMETHEUS_MULTIPROC_DIR`` and a
scrape on any worker sums them all (:mod:`bi_app.monitoring.prometheus`), so a counter is the same
whichever worker answers, and it never goes backwards when a worker is replaced: a dead worker's
counter files stay in the sum. The variable must be set before anything imports
``prometheus_client`` (it picks its mode at import), hence here, when gunicorn reads this file in
the master, before any worker loads the app. Workers, bind address and timeouts stay on the
command line (see the Procfile).
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


def on_starting(server: Any) -> None:
    """Start from zero: files of an earlier run in a given directory would be summed in."""
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
