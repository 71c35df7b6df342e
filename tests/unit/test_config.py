import pytest

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
    settings = Settings.from_env({
        "BI_DATABASE_URL": "postgresql://bi@db.internal:5432/bi",
        "BI_REDIS_URL": "redis://127.0.0.1:6379/2",
        "BI_SECRET_KEY": "x" * 32,
        "BI_CACHE_TTL": " 60 ",
        "BI_TIMEZONE": "Europe/Berlin",
        "BI_CURRENCY": "usd",
        "BI_SCHEDULER": "off",
        "BI_REFRESH_MS": "1000",
    })
    assert settings.database_url == "postgresql+psycopg://bi@db.internal:5432/bi"
    assert settings.cache_ttl == 60
    assert settings.currency == "USD"
    assert settings.scheduler is False
    assert settings.timezone == "Europe/Berlin"


@pytest.mark.parametrize("name, value, fragment", [
    ("BI_CACHE_TTL", "five", "whole number"),
    ("BI_CACHE_TTL", "-1", "between"),
    ("BI_REFRESH_MS", "10", "between"),
    ("BI_SCHEDULER", "maybe", "on/off"),
    ("BI_TIMEZONE", "Mars/Olympus", "unknown time zone"),
    ("BI_CURRENCY", "EURO", "3-letter"),
    ("BI_DATABASE_URL", "mysql://x", "sqlite"),
    ("BI_REDIS_URL", "http://127.0.0.1", "redis://"),
    ("BI_ENV", "staging", "development"),
    ("BI_PORT", "70000", "between"),
    ("BI_SECRET_KEY", "short", "16 characters"),
])
def test_invalid_values_name_the_variable(name, value, fragment):
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert str(info.value).startswith(name + ":")
    assert fragment in str(info.value)


def test_production_requires_a_secret_key():
    with pytest.raises(ConfigError, match="BI_SECRET_KEY"):
        Settings.from_env({"BI_ENV": "production"})
    assert Settings.from_env({"BI_ENV": "production", "BI_SECRET_KEY": "k" * 40}).secret_key == "k" * 40


def test_masked_hides_secrets():
    masked = Settings.from_env({
        "BI_SECRET_KEY": "s" * 32, "BI_ADMIN_PASSWORD": "hunter22",
        "BI_DATABASE_URL": "postgresql+psycopg://bi:topsecret@h/bi",
    }).masked()
    text = repr(masked)
    assert "topsecret" not in text and "hunter22" not in text and "s" * 32 not in text
    assert masked["BI_DATABASE_URL"] == "postgresql+psycopg://bi:***@h/bi"
