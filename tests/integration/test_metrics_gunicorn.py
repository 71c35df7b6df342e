"""Proof with real processes: under ``gunicorn -w 3`` with ``bi_app.gunicorn_conf``, /metrics is
one truth. A known number of requests is counted exactly once whichever worker answers the
scrape, counters never go backwards from one scrape to the next, and Debian's
``promtool check metrics`` finds nothing to say about a live scrape."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bi_app.config import PROJECT_ROOT
from tests.conftest import TEST_SECRET, _seed_users, free_port, migrate, unavailable

pytestmark = pytest.mark.integration
TOKEN = "gunicorn-metrics-token-0123456789"
WORKERS = 3
N = 60  # known requests to one route
MAX_SCRAPES = 150


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _fail_with_log(message: str, log: Path) -> None:
    pytest.fail(f"{message}:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """gunicorn -w 3 on a fresh migrated SQLite database with the three test users."""
    tmp = tmp_path_factory.mktemp("gunicorn-metrics")
    url = f"sqlite:///{tmp / 'bi.sqlite'}"
    migrate(url)
    _seed_users(url)
    multiproc = tmp / "prometheus"
    multiproc.mkdir()
    (multiproc / "counter_1.db").write_bytes(b"stale")  # an earlier run's file: must be removed
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log, access = tmp / "gunicorn.log", tmp / "access.log"
    env = {
        **os.environ,
        "BI_DATABASE_URL": url,
        "BI_SECRET_KEY": TEST_SECRET,
        "BI_ENV": "test",
        "BI_SCHEDULER": "off",
        "BI_METRICS_TOKEN": TOKEN,
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                gunicorn,
                "-c",
                "python:bi_app.gunicorn_conf",
                "-w",
                str(WORKERS),
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "2",
                "--access-logfile",
                str(access),
                "--access-logformat",
                "%(r)s %(s)s %(p)s",
                "bi_app.wsgi:server",
            ],
            cwd=tmp,  # no .env of the checkout
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 90  # three workers import the whole app; load varies
        while True:
            if proc.poll() is not None:
                _fail_with_log(f"gunicorn exited ({proc.returncode})", log)
            booted = len(re.findall(r"Booting worker", log.read_text()))
            try:
                ready = booted >= WORKERS and _get(f"{base}/api/health")[0] in (200, 503)
            except OSError:
                ready = False
            if ready:
                break
            if time.monotonic() > deadline:
                _fail_with_log("gunicorn did not answer", log)
            time.sleep(0.3)
        yield base, multiproc, access, log
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _samples(body: bytes) -> dict[tuple, float]:
    """Every cumulative sample of a scrape: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        if family.type not in ("counter", "histogram"):
            continue
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _count(samples: dict[tuple, float], route: str, status: str) -> float:
    key = (
        "bi_http_requests_total",
        tuple(sorted({"route": route, "method": "GET", "status": status}.items())),
    )
    return samples.get(key, 0.0)


def test_every_worker_reports_the_same_totals_and_they_never_go_back(served):
    base, multiproc, access, _log = served
    assert not (multiproc / "counter_1.db").exists()  # emptied at start

    # N requests to one route, several at a time so that every worker serves some.
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(lambda _: _get(f"{base}/_dash-layout")[0], range(N)))
    assert statuses == [401] * N  # no session: the guard answers

    previous: dict[tuple, float] = {}
    scrapes = 0
    while scrapes < MAX_SCRAPES:
        status, body = _get(f"{base}/metrics", TOKEN)
        assert status == 200
        samples = _samples(body)
        # Exactly the N requests, whichever worker answered; and exactly the scrapes before
        # this one (a scrape is counted when its answer has been written, after the body).
        assert _count(samples, "/_dash-layout", "401") == N
        assert _count(samples, "/metrics", "200") == scrapes
        for key, value in previous.items():
            assert samples.get(key, 0.0) >= value, f"{key} went back"
        previous = samples
        scrapes += 1
        if scrapes % 30 == 0 and len(_scrape_pids(access)) >= 2:
            break
    assert len(_scrape_pids(access)) >= 2, "the scrapes never reached a second worker"
    pids = {int(p.stem.split("_")[-1]) for p in multiproc.glob("counter_*.db")}
    assert len(pids) >= 2, "the counts come from several worker processes"


def _scrape_pids(access: Path) -> set[str]:
    """The workers that answered /metrics, from gunicorn's access log (``%(p)s``)."""
    deadline = time.monotonic() + 5
    while True:  # the access line is written just after the answer is sent
        pids = set(re.findall(r"GET /metrics HTTP/1.1 200 <(\d+)>", access.read_text()))
        if pids or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


def test_promtool_finds_nothing_to_say_about_a_live_scrape(served):
    base, _multiproc, _access, _log = served
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool (Debian package prometheus; scripts/ensure-test-deps.sh)")
    for path in ("/_dash-layout", "/api/health", "/login"):
        _get(f"{base}{path}")
    status, body = _get(f"{base}/metrics", TOKEN)
    assert status == 200 and b"bi_http_request_duration_seconds_bucket" in body
    result = subprocess.run(
        [promtool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
