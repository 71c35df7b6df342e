"""Real servers for the HTTP and browser benchmarks: a private Redis, bi-app and the bare-Dash floor
app under gunicorn, a bench user, and the shared command-line flags.

Both apps run exactly as production runs them (``gunicorn -c python:bi_app.gunicorn_conf``, sync
workers, loopback only), in their own processes, so the measuring process never competes with
them for the GIL. The cache is a private ``redis-server`` on a free loopback port (``--save ""``):
it can be flushed for an empty-cache measurement without touching anybody else's keys, and it is
gone when the run ends. The scheduler is off in the served app: background jobs would otherwise
add load at random moments (and write to the bench schema).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH_USER = "benchadmin"
WORKERS = 2
GUNICORN_TIMEOUT_S = 60  # the Procfile's: a request slower than this is a failure, as in production
PROBLEM = re.compile(
    r'WORKER TIMEOUT|Traceback|"level": "(?:ERROR|CRITICAL)"|\[(?:ERROR|CRITICAL)\]'
)


def add_data_args(parser: argparse.ArgumentParser) -> None:
    """The data-set flags of the data benchmarks (``bench.run_all`` passes them to all)."""
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders to load when empty")
    parser.add_argument("--reload", action="store_true", help="replace the bench data set")
    parser.add_argument(
        "--schema",
        default="bench",
        help="PostgreSQL schema for the data set (without BI_BENCH_DATABASE_URL)",
    )
    parser.add_argument("--workers", type=int, default=WORKERS, help="gunicorn sync workers")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_data(args: argparse.Namespace) -> tuple[str, int]:
    """The bench database URL (schema migrated and loaded as the data benchmarks do) and its
    order count."""
    from bench.harness import bench_url, ensure_data
    from bi_app.extensions import db

    url = bench_url(args.schema)
    db.init(url)
    orders = ensure_data(db.require_engine(), url, args.orders, args.reload)
    return url, orders


def ensure_bench_user(url: str) -> str:
    """An admin ``benchadmin`` with a fresh random password (every page is open to an admin)."""
    from bi_app import auth
    from bi_app.extensions import db

    db.init(url)
    password = secrets.token_urlsafe(18)
    with db.session() as session:
        if auth.get_user(session, BENCH_USER) is None:
            auth.create_user(session, BENCH_USER, password, "admin", actor="bench")
        else:
            auth.set_password(session, BENCH_USER, password, actor="bench")
        session.commit()
    return password


class RedisServer:
    """A private redis-server on a free loopback port, nothing persisted."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            raise SystemExit("redis-server is not installed: the bench needs a private Redis")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
            + ["--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import redis

        self.client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.05)

    def flush(self) -> None:
        """Empty the data cache (and everything else the app keeps in Redis)."""
        self.client.flushdb()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Gunicorn:
    """One gunicorn master serving ``app`` on a loopback port; its log goes to ``log_path``."""

    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: graceful shutdown of the master and its workers
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def problems(self, limit: int = 20) -> list[str]:
        """The server's worker timeouts, errors and tracebacks (its log is JSON lines from the
        app plus gunicorn's own), the last ``limit`` of them, shortened."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        found = [line[:400] for line in text.splitlines() if PROBLEM.search(line)]
        return found[-limit:]

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def print_problems(problems: list[str]) -> None:
    """Say how many problem lines bi-app's log had (see :meth:`Gunicorn.problems`), and the last."""
    if problems:
        print(f"bi-app's log has {len(problems)} problem lines; the last:")
        print("  " + problems[-1][:300])


def start_gunicorn(
    name: str, app: str, env: dict[str, str], workers: int, ready_path: str
) -> Gunicorn:
    """``gunicorn -c python:bi_app.gunicorn_conf APP`` with ``workers`` sync workers; returns once
    ``ready_path`` answers (any status below 500)."""
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
    cmd = [sys.executable, "-m", "gunicorn", "-c", "python:bi_app.gunicorn_conf", app]
    cmd += ["--workers", str(workers), "--worker-class", "sync", "--bind", f"127.0.0.1:{port}"]
    cmd += ["--timeout", str(GUNICORN_TIMEOUT_S), "--log-level", "warning"]
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    full_env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # gunicorn_conf makes a private one
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Gunicorn(name, port, proc, log_path)
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name}: gunicorn exited ({proc.returncode}):\n{server.log_tail()}")
        try:
            if httpx.get(server.base + ready_path, timeout=5).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"{name}: not answering after 120 s:\n{server.log_tail()}")
        time.sleep(0.2)


def app_env(database_url: str, redis_url: str) -> dict[str, str]:
    """bi-app's environment: the bench schema, the private Redis, no scheduler, no .env surprises
    (every variable the app reads from ``.env`` is set here or left at its default)."""
    return {
        "BI_ENV": "development",  # production would send Secure cookies and redirect to https
        "BI_DATABASE_URL": database_url,
        "BI_REDIS_URL": redis_url,
        "BI_SECRET_KEY": "bench-" + secrets.token_hex(16),
        "BI_SCHEDULER": "off",
        "BI_DEBUG": "off",
        "BI_CACHE_TTL": "3600",
        "BI_INSTANCE_DIR": tempfile.mkdtemp(prefix="bench-instance-"),
    }


@contextlib.contextmanager
def serving_app(
    database_url: str, workers: int = WORKERS, *, floor: bool = False
) -> Iterator[tuple[RedisServer, Gunicorn, Gunicorn | None]]:
    """A private Redis and bi-app (and, with ``floor``, the bare-Dash floor app) under gunicorn;
    everything is stopped afterwards."""
    redis_server = RedisServer()
    started: list[Gunicorn] = []
    try:
        env = app_env(database_url, redis_server.url)
        app = start_gunicorn("bi-app", "bi_app.wsgi:server", env, workers, "/login")
        started.append(app)
        floor_server = None
        if floor:
            floor_server = start_gunicorn("floor", "bench.floor_app:server", {}, workers, "/")
            started.append(floor_server)
        yield redis_server, app, floor_server
    finally:
        for server in reversed(started):
            server.stop()
        redis_server.stop()
