import dataclasses
import json
import os
from pathlib import Path

import pytest

from bi_app import config
from bi_app.config import ConfigError, Settings


def test_defaults_use_embedded_sqlite_and_in_process_cache():
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.database_url.endswith("instance/bi_app.sqlite")
    assert settings.redis_url is None
    assert settings.scheduler is True
    assert settings.refresh_ms == 5000
    assert len(settings.secret_key) >= 32  # generated development key


def test_values_are_parsed_and_normalized():
    settings = Settings.from_env(
        {
            "BI_DATABASE_URL": "postgresql://bi@db.internal:5432/bi",
            "BI_REDIS_URL": "redis://127.0.0.1:6379/2",
            "BI_SECRET_KEY": "x" * 32,
            "BI_CACHE_TTL": " 60 ",
            "BI_TIMEZONE": "Europe/Berlin",
            "BI_CURRENCY": "usd",
            "BI_SCHEDULER": "off",
            "BI_REFRESH_MS": "1000",
        }
    )
    assert settings.database_url == "postgresql+psycopg://bi@db.internal:5432/bi"
    assert settings.cache_ttl == 60
    assert settings.currency == "USD"
    assert settings.scheduler is False
    assert settings.timezone == "Europe/Berlin"


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("BI_CACHE_TTL", "five", "whole number"),
        ("BI_CACHE_TTL", "-1", "between"),
        ("BI_REFRESH_MS", "10", "between"),
        ("BI_SCHEDULER", "maybe", "on/off"),
        ("BI_TIMEZONE", "Mars/Olympus", "unknown time zone"),
        ("BI_CURRENCY", "EURO", "3-letter"),
        ("BI_LOCALE", "fr", "one of en, ko"),
        ("BI_DATABASE_URL", "mysql://x", "sqlite"),
        ("BI_REDIS_URL", "http://127.0.0.1", "redis://"),
        ("BI_ENV", "staging", "development"),
        ("BI_PORT", "70000", "between"),
        ("BI_SECRET_KEY", "short", "16 characters"),
        ("BI_IMPORT_FUTURE_DAYS", "-1", "between 0 and 36500"),
        ("BI_IMPORT_FUTURE_DAYS", "a week", "whole number"),
    ],
)
def test_invalid_values_name_the_variable(name, value, fragment):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert str(info.value).startswith(name + ":")
    assert fragment in str(info.value)


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError, match="BI_SECRET_KEY"):
        Settings.from_env({"BI_ENV": "production"})
    assert (
        Settings.from_env({"BI_ENV": "production", "BI_SECRET_KEY": "k" * 40}).secret_key
        == "k" * 40
    )


def test_masked_hides_secrets():
    masked = Settings.from_env(
        {
            "BI_SECRET_KEY": "s" * 32,
            "BI_ADMIN_PASSWORD": "hunter22",
            "BI_DATABASE_URL": "postgresql+psycopg://bi:topsecret@h/bi",
        }
    ).masked()
    text = repr(masked)
    assert "topsecret" not in text and "hunter22" not in text and "s" * 32 not in text
    assert masked["BI_DATABASE_URL"] == "postgresql+psycopg://bi:***@h/bi"


def test_every_field_names_its_variable_and_has_a_parser():
    for f in dataclasses.fields(Settings):
        assert f.metadata.get("env") == f"BI_{f.name.upper()}", f.name
        assert callable(f.metadata.get("parse")), f"{f.name} has no parser"
        assert isinstance(f.metadata.get("secret"), bool), f.name


def test_every_variable_is_read_from_the_environment():
    defaults = Settings.from_env({"BI_SECRET_KEY": "k" * 32})
    env = {
        "BI_ENV": "test",
        "BI_DATABASE_URL": "sqlite:////tmp/other.sqlite",
        "BI_REDIS_URL": "redis://h:6379/1",
        "BI_SECRET_KEY": "q" * 32,
        "BI_CACHE_TTL": "7",
        "BI_CACHE_DIR": "/tmp/c",
        "BI_TIMEZONE": "Asia/Seoul",
        "BI_CURRENCY": "krw",
        "BI_LOCALE": "ko-KR",
        "BI_REFRESH_MS": "900",
        "BI_SCHEDULER": "off",
        "BI_ADMIN_PASSWORD": "pw-123456",
        "BI_LOGIN_RATE_LIMIT": "9",
        "BI_LOGIN_RATE_WINDOW": "99",
        "BI_HOST": "0.0.0.0",
        "BI_PORT": "9000",
        "BI_DEBUG": "on",
        "BI_INSTANCE_DIR": "/tmp/bi-inst",
        "BI_HEALTH_SERVICES": '[{"name": "pay", "url": "https://pay.example/h"}]',
        "BI_METRICS_TOKEN": "m" * 20,
        "BI_LOGIN_ADDRESS_LIMIT": "33",
        "BI_OUTBOUND_ALLOW": "127.0.0.1/32,payments.internal",
        "BI_PROXY_HOPS": "1",
        "BI_SESSION_LIFETIME": "3600",
        "BI_SESSION_IDLE_TIMEOUT": "600",
        "BI_SESSION_RECHECK": "2",
        "BI_ENCRYPTION_KEY": "x" * 44,
        "BI_MAX_REQUEST_MB": "20",
        "BI_MAX_CALLBACK_KB": "256",
        "BI_STATEMENT_TIMEOUT_S": "10",
        "BI_IMPORT_FUTURE_DAYS": "30",
        "BI_SYNC_FILE": "/etc/bi-app/sync.toml",
        "BI_ALERT_EVAL_SECONDS": "30",
        "BI_ALERT_DISPATCH_SECONDS": "2",
        "BI_ALERT_GROUP_SECONDS": "30",
        "BI_ALERT_MAX_ATTEMPTS": "3",
        "BI_ALERTMANAGER_TOKEN": "a" * 24,
        "BI_PUBLIC_URL": "https://bi.example.kr/",
        "BI_LARGE_TRANSACTION": "2500",
        "BI_REPORT_DIR": "/srv/bi-reports",
    }
    assert set(env) == {f.metadata["env"] for f in dataclasses.fields(Settings)}
    settings = Settings.from_env(env)
    changed = {
        f.name
        for f in dataclasses.fields(Settings)
        if getattr(settings, f.name) != getattr(defaults, f.name)
    }
    assert changed == {f.name for f in dataclasses.fields(Settings)}


def test_health_services_are_parsed_strictly_naming_the_variable():
    settings = Settings.from_env(
        {
            "BI_HEALTH_SERVICES": json.dumps(
                [
                    {
                        "name": "pay",
                        "url": "https://pay.example/health",
                        "expected_status": 204,
                        "timeout": 2,
                        "auth_header": "Authorization: Bearer sekrit-token",
                    }
                ]
            )
        }
    )
    (spec,) = settings.health_services
    assert (spec.name, spec.url, spec.expected_status, spec.timeout_s, spec.auth_header) == (
        "pay",
        "https://pay.example/health",
        204,
        2.0,
        ("Authorization", "Bearer sekrit-token"),
    )
    assert Settings.from_env({}).health_services == ()
    assert Settings.from_env({"BI_HEALTH_SERVICES": "  "}).health_services == ()
    for bad, fragment in (
        ("{", "not valid JSON"),
        ('{"name": "x"}', "JSON list"),
        ('[{"name": "x", "url": "ftp://x"}]', "entry 0: url"),
    ):
        with pytest.raises(ConfigError) as info:
            Settings.from_env({"BI_HEALTH_SERVICES": bad})
        assert str(info.value).startswith("BI_HEALTH_SERVICES: ") and fragment in str(info.value)
    masked = settings.masked()["BI_HEALTH_SERVICES"]
    assert "sekrit" not in masked
    assert json.loads(masked) == [
        {
            "name": "pay",
            "url": "https://pay.example/health",
            "expected_status": 204,
            "timeout": 2.0,
            "auth_header": "Authorization: ***",
        }
    ]


def test_metrics_token_is_a_secret_of_at_least_16_characters():
    assert Settings.from_env({}).metrics_token is None
    assert Settings.from_env({"BI_METRICS_TOKEN": " "}).metrics_token is None
    settings = Settings.from_env({"BI_METRICS_TOKEN": " t0ken-t0ken-t0ken "})
    assert settings.metrics_token == "t0ken-t0ken-t0ken"
    assert settings.masked()["BI_METRICS_TOKEN"] == "***"
    with pytest.raises(
        ConfigError, match=r"^BI_METRICS_TOKEN: must be at least 16 characters long$"
    ):
        Settings.from_env({"BI_METRICS_TOKEN": "short"})


def test_masked_follows_the_secret_flag_of_each_field():
    values = {
        f.name: "secret-value-0123456789"
        for f in dataclasses.fields(Settings)
        if f.metadata["secret"]
    }
    assert set(values) == {
        "secret_key",
        "admin_password",
        "metrics_token",
        "encryption_key",
        "alertmanager_token",
    }
    masked = dataclasses.replace(Settings.from_env({"BI_SECRET_KEY": "k" * 32}), **values).masked()
    assert all(masked[f"BI_{name.upper()}"] == "***" for name in values)
    assert "secret-value" not in repr(masked)


def test_instance_dir_holds_the_default_database_and_the_development_secret(tmp_path):
    settings = Settings.from_env({"BI_INSTANCE_DIR": str(tmp_path / "inst")})
    assert settings.instance_dir == str(tmp_path / "inst")
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'bi_app.sqlite'}"
    assert (tmp_path / "inst" / ".dev_secret_key").read_text().strip() == settings.secret_key
    again = Settings.from_env(
        {
            "BI_INSTANCE_DIR": str(tmp_path / "inst"),
            "BI_DATABASE_URL": "sqlite:////tmp/elsewhere.sqlite",
        }
    )
    assert again.secret_key == settings.secret_key  # stable across restarts
    assert again.database_url == "sqlite:////tmp/elsewhere.sqlite"  # an explicit URL wins
    with pytest.raises(ConfigError, match="^BI_INSTANCE_DIR: "):
        Settings.from_env({"BI_INSTANCE_DIR": " "})


def test_the_checkout_keeps_instance_next_to_the_packages():
    assert config.IS_CHECKOUT
    assert config.INSTANCE_DIR == Path(config.__file__).resolve().parent.parent / "instance"
    assert Settings().instance_dir == str(config.INSTANCE_DIR)


def test_shipped_folders_are_found_through_the_import_system():
    root = Path(config.__file__).resolve().parent.parent
    assert config.pages_dir() == root / "pages"
    assert config.assets_dir() == root / "assets"
    assert config.migrations_dir() == root / "migrations"


def test_a_stray_folder_of_the_same_name_is_not_taken_for_a_shipped_one(tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "other.css").write_text("body {}")
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    importlib.invalidate_caches()
    assert config.assets_dir() == Path(config.__file__).resolve().parent.parent / "assets"


def test_load_dotenv_once_never_overrides_and_runs_once(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".env").write_text("BI_T_FROM_FILE=file\nBI_T_BOTH=file\n")
    monkeypatch.chdir(tmp_path / "sub")
    monkeypatch.setattr(config, "IS_CHECKOUT", False)  # an installed app: .env from cwd upwards
    monkeypatch.setattr(config, "_dotenv_loaded", False)
    monkeypatch.setenv("BI_T_BOTH", "process")
    monkeypatch.delenv("BI_T_FROM_FILE", raising=False)
    try:
        config.load_dotenv_once()
        assert os.environ["BI_T_FROM_FILE"] == "file"
        assert os.environ["BI_T_BOTH"] == "process"
        (tmp_path / ".env").write_text("BI_T_LATER=file\n")
        config.load_dotenv_once()
        assert "BI_T_LATER" not in os.environ
    finally:
        os.environ.pop("BI_T_FROM_FILE", None)


def test_debug_is_refused_in_production():
    with pytest.raises(ConfigError, match="^BI_DEBUG: must be off when BI_ENV=production"):
        Settings.from_env({"BI_ENV": "production", "BI_DEBUG": "on", "BI_SECRET_KEY": "k" * 32})
    assert Settings.from_env({"BI_ENV": "development", "BI_DEBUG": "on"}).debug is True


def test_the_development_secret_is_private_and_every_worker_gets_the_same(tmp_path):
    import stat
    from concurrent.futures import ThreadPoolExecutor

    from bi_app.config import _development_secret

    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: _development_secret(tmp_path), range(16)))
    assert len(keys) == 1 and len(keys.pop()) == 64
    mode = stat.S_IMODE((tmp_path / ".dev_secret_key").stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [".dev_secret_key"]  # no temporary file left


def test_import_future_days_defaults_to_one_and_may_be_zero():
    assert Settings.from_env({}).import_future_days == 1
    assert Settings.from_env({"BI_IMPORT_FUTURE_DAYS": " 0 "}).import_future_days == 0
    assert Settings.from_env({"BI_IMPORT_FUTURE_DAYS": "365"}).import_future_days == 365
