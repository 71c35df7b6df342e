"""bi_app/gunicorn_conf.py as gunicorn itself reads it: the serving settings, their overrides
(environment, GUNICORN_CMD_ARGS, command line, in gunicorn's order), the start-up check of the
statement timeout against the worker timeout, and a real gunicorn serving compressed pages.

The configuration is read in a fresh interpreter each time: gunicorn imports the file once per
process, and it must run before anything imports prometheus_client (this test process has).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import brotli
import pytest

from bi_app.config import PROJECT_ROOT, assets_dir
from tests.conftest import TEST_SECRET, _seed_users, free_port, migrate

pytestmark = pytest.mark.integration
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
COMMAND = ["-c", "python:bi_app.gunicorn_conf", "bi_app.wsgi:server"]
SERVING_ENV = ("PORT", "WEB_CONCURRENCY", "GUNICORN_CMD_ARGS", "BI_STATEMENT_TIMEOUT_S")

READ_CONFIG = """
import json, sys
from gunicorn.app.wsgiapp import WSGIApplication
sys.argv = ["gunicorn", *json.loads(sys.argv[1])]
cfg = WSGIApplication().cfg
import bi_app.gunicorn_conf as conf
print(json.dumps({
    "workers": cfg.workers, "bind": cfg.bind, "worker_class": cfg.worker_class_str,
    "timeout": cfg.timeout, "graceful_timeout": cfg.graceful_timeout,
    "keepalive": cfg.keepalive, "accesslog": cfg.accesslog, "preload_app": cfg.preload_app,
    "access_log_format": cfg.access_log_format,
    "default_workers": conf.default_workers(conf.available_cpus()),
    "defaults_by_cpus": {n: conf.default_workers(n) for n in (1, 2, 4, 16)},
}))
"""


def _env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVING_ENV}
    env.update(
        PYTHONPATH=str(PROJECT_ROOT),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),  # else the config makes a directory per run
    )
    env.update(values)
    return env


def _config(tmp_path: Path, *argv: str, **env: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", READ_CONFIG, json.dumps([*argv, *COMMAND])],
        env=_env(tmp_path, **env),
        cwd=tmp_path,  # no gunicorn.conf.py or .env of the checkout
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_file_holds_every_serving_setting(tmp_path):
    cfg = _config(tmp_path)
    assert cfg["bind"] == ["0.0.0.0:8050"]
    assert cfg["workers"] == cfg["default_workers"]
    assert cfg["defaults_by_cpus"] == {"1": 3, "2": 5, "4": 8, "16": 8}
    assert cfg["worker_class"] == "sync"
    assert (cfg["timeout"], cfg["graceful_timeout"], cfg["keepalive"]) == (60, 30, 5)
    assert cfg["accesslog"] == "-" and "%(M)s" in cfg["access_log_format"]
    assert cfg["preload_app"] is False


def test_environment_then_gunicorn_cmd_args_then_the_command_line_override_it(tmp_path):
    cfg = _config(tmp_path, WEB_CONCURRENCY="7", PORT="9123")
    assert (cfg["workers"], cfg["bind"]) == (7, ["0.0.0.0:9123"])

    cfg = _config(
        tmp_path,
        WEB_CONCURRENCY="7",
        GUNICORN_CMD_ARGS="--timeout 90 --workers 2 --bind 127.0.0.1:9999 -k gthread",
    )
    assert (cfg["timeout"], cfg["workers"], cfg["bind"]) == (90, 2, ["127.0.0.1:9999"])
    assert cfg["worker_class"] == "gthread"
    assert cfg["graceful_timeout"] == 30  # what is not overridden stays

    cfg = _config(tmp_path, "-w", "4", "--timeout", "30", GUNICORN_CMD_ARGS="--timeout 90")
    assert (cfg["workers"], cfg["timeout"]) == (4, 30)


def test_a_bad_port_is_named(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", READ_CONFIG, json.dumps(COMMAND)],
        env=_env(tmp_path, PORT="eighty"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "PORT: expected a whole number, got 'eighty'" in result.stderr


def _gunicorn(tmp_path: Path, port: int, **env: str) -> subprocess.Popen:
    log = (tmp_path / "gunicorn.log").open("w")
    with log:
        return subprocess.Popen(
            [GUNICORN, *COMMAND],
            env=_env(tmp_path, **env),
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_statement_timeout_not_below_the_worker_timeout_stops_start_up(tmp_path):
    port = free_port()
    proc = _gunicorn(
        tmp_path,
        port,
        BI_STATEMENT_TIMEOUT_S="60",
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
    )
    try:
        assert proc.wait(timeout=60) == 1
    finally:
        _stop(proc)
    log = (tmp_path / "gunicorn.log").read_text()
    assert "BI_STATEMENT_TIMEOUT_S=60 must be below gunicorn's timeout (60 s)" in log
    assert "Booting worker" not in log


def _get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read()


def test_real_gunicorn_with_only_the_config_serves_compressed_cacheable_pages(tmp_path):
    url = f"sqlite:///{tmp_path / 'bi.sqlite'}"
    migrate(url)
    _seed_users(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _gunicorn(
        tmp_path,
        port,
        BI_DATABASE_URL=url,
        BI_SECRET_KEY=TEST_SECRET,
        BI_ENV="test",
        BI_SCHEDULER="off",
        WEB_CONCURRENCY="1",
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",  # loopback only in tests
    )
    log_path = tmp_path / "gunicorn.log"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                if _get(f"{base}/api/health")[0] in (200, 503):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.3)

        status, headers, body = _get(f"{base}/login", **{"Accept-Encoding": "gzip, br"})
        assert status == 200 and headers["Content-Encoding"] == "br"
        assert "Accept-Encoding" in headers["Vary"] and headers["Cache-Control"] == "no-store"
        page = brotli.decompress(body).decode()
        assert 'name="csrf_token"' in page
        # the URL Dash writes into its pages for this file
        stylesheet = f"/assets/app.css?m={(assets_dir() / 'app.css').stat().st_mtime}"
        status, headers, body = _get(f"{base}{stylesheet}", **{"Accept-Encoding": "br"})
        assert status == 200 and headers["Content-Encoding"] == "br"
        assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert b"{" in brotli.decompress(body)
    finally:
        _stop(proc)
    log = log_path.read_text()
    assert len(re.findall(r"Booting worker", log)) == 1  # WEB_CONCURRENCY=1
    assert "Using worker: sync" in log
    # the access log goes to stdout, with the duration in ms
    assert re.search(r'"GET /login HTTP/1.1" 200 \d+ \d+ms', log), log[-2000:]
