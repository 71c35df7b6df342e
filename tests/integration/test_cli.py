"""The command line gives one readable line, not a traceback, when the database is down."""

import subprocess
import sys

from tests.conftest import free_port


def _run(args, env_extra):
    import os

    env = dict(os.environ, **env_extra)
    return subprocess.run(
        [sys.executable, "-m", "bi_app.cli", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_unreachable_database_gives_a_clear_message():
    port = free_port()  # nothing listens there
    result = _run(
        ["db", "upgrade"], {"BI_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{port}/x"}
    )
    assert result.returncode == 2
    assert (
        "Cannot connect to the database at postgresql+psycopg://postgres@127.0.0.1" in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_invalid_setting_names_the_variable():
    result = _run(["config"], {"BI_CACHE_TTL": "soon"})
    assert result.returncode == 2
    assert result.stderr.strip() == "bi-app: BI_CACHE_TTL: expected a whole number, got 'soon'"


def test_wsgi_refuses_to_start_without_database():
    import os

    port = free_port()
    env = dict(
        os.environ,
        BI_DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{port}/x",
        BI_SCHEDULER="off",
    )
    result = subprocess.run(
        [sys.executable, "-c", "import bi_app.wsgi"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 2
    assert "bi-app cannot start: Cannot connect to the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_masks_secrets(tmp_path):
    result = _run(
        ["config"], {"BI_SECRET_KEY": "z" * 40, "BI_DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    )
    assert result.returncode == 0
    assert "BI_SECRET_KEY=***" in result.stdout
    assert "z" * 40 not in result.stdout


def test_config_shows_health_services_and_metrics_token_masked(tmp_path):
    services = (
        '[{"name": "pay", "url": "https://pay.example/h", "auth_header": "X-Key: hdr-secret"}]'
    )
    result = _run(
        ["config"],
        {
            "BI_SECRET_KEY": "z" * 40,
            "BI_DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
            "BI_HEALTH_SERVICES": services,
            "BI_METRICS_TOKEN": "tok-" * 5,
        },
    )
    assert result.returncode == 0, result.stderr
    assert "BI_METRICS_TOKEN=***" in result.stdout and "tok-tok-" not in result.stdout
    assert (
        'BI_HEALTH_SERVICES=[{"name": "pay", "url": "https://pay.example/h", '
        '"expected_status": 200, '
        '"timeout": 5.0, "auth_header": "X-Key: ***"}]'
    ) in result.stdout
    assert "hdr-secret" not in result.stdout


def test_wsgi_loads_dotenv_like_the_cli(tmp_path):
    """An installed app run by gunicorn from a folder with a .env takes its settings from it."""
    import os
    from pathlib import Path

    port = free_port()
    (tmp_path / ".env").write_text(
        f"BI_DATABASE_URL=postgresql+psycopg://envfile@127.0.0.1:{port}/x\nBI_SCHEDULER=off\n"
    )
    checkout = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BI_")}
    env["PYTHONPATH"] = str(checkout)
    code = "import bi_app.config as c; c.IS_CHECKOUT = False; import bi_app.wsgi"
    result = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2
    assert (
        f"bi-app cannot start: Cannot connect to the database at postgresql+psycopg://envfile@127.0.0.1:{port}"
        in result.stderr
    )
