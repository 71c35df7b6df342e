"""Validation of the Admin → Integrations forms: every refused field gets its own message."""

from __future__ import annotations

import pytest

from bi_app.integrations import IntegrationError
from bi_app.integrations import channels as channel_admin
from bi_app.integrations import services as service_admin
from bi_app.integrations.channels import ChannelRow, parse_channel_form, source_field_error
from bi_app.integrations.services import ServiceInput, parse_service_form, service_field_error
from tests.conftest import make_settings

GOOD = {
    "name": "payments",
    "url": "https://pay.example/health",
    "expected_status": "200",
    "timeout_s": "5",
    "auth_env": "BI_SECRET_PAYMENTS_AUTH",
}
CHANNELS = ("email", "social", "search", "display", "partner")


def errors_of(raw: dict) -> dict[str, str]:
    with pytest.raises(IntegrationError) as info:
        parse_service_form(raw)
    return info.value.errors


def test_a_valid_service_form_is_typed():
    assert parse_service_form(GOOD) == ServiceInput(
        "payments", "https://pay.example/health", 200, 5.0, "BI_SECRET_PAYMENTS_AUTH"
    )
    spaced = parse_service_form(
        {**GOOD, "name": " payments ", "expected_status": 204, "timeout_s": 0.5, "auth_env": "  "}
    )
    assert (spaced.name, spaced.expected_status, spaced.timeout_s, spaced.auth_env) == (
        "payments",
        204,
        0.5,
        None,
    )


@pytest.mark.parametrize(
    "url", ["ftp://pay.example/", "javascript:alert(1)", "pay.example/health", "http://", "", None]
)
def test_only_http_and_https_urls_are_accepted(url):
    assert "http:// or https://" in errors_of({**GOOD, "url": url})["url"]


@pytest.mark.parametrize(
    "status, fragment",
    [
        ("99", "HTTP status code"),
        ("600", "HTTP status code"),
        ("abc", "whole number"),
        ("200.5", "whole number"),
        (True, "whole number"),
        (None, "whole number"),
    ],
)
def test_expected_status_must_be_100_to_599(status, fragment):
    assert fragment in errors_of({**GOOD, "expected_status": status})["expected_status"]


@pytest.mark.parametrize("timeout", ["0.4", "0", "-1", "20.01", "nan", "inf", "soon", None])
def test_timeout_must_be_half_a_second_to_twenty(timeout):
    assert (
        errors_of({**GOOD, "timeout_s": timeout})["timeout_s"]
        == "timeout must be between 0.5 and 20 seconds"
    )


@pytest.mark.parametrize("timeout", ["0.5", "20", 12.5])
def test_timeout_bounds_are_inclusive(timeout):
    assert parse_service_form({**GOOD, "timeout_s": timeout}).timeout_s == float(timeout)


@pytest.mark.parametrize("name", ["Payments", "", "-pay", "a" * 65, "pay ment"])
def test_service_names_follow_the_health_services_rule(name):
    assert "lowercase letters" in errors_of({**GOOD, "name": name})["name"]


@pytest.mark.parametrize("auth_env", ["Authorization: Bearer abc", "payments_auth", "1AUTH", "A-B"])
def test_auth_env_must_be_a_variable_name_not_a_header(auth_env):
    assert "environment variable" in errors_of({**GOOD, "auth_env": auth_env})["auth_env"]


def test_every_bad_field_is_reported_at_once():
    errors = errors_of(
        {
            "name": "X",
            "url": "ftp://x",
            "expected_status": "1000",
            "timeout_s": "99",
            "auth_env": "lower",
        }
    )
    assert set(errors) == {"name", "url", "expected_status", "timeout_s", "auth_env"}


def test_the_field_validator_is_the_health_services_one():
    assert service_field_error(url="https://ok.example/") is None
    assert service_field_error(expected=200) is None
    assert service_field_error(expected=0).startswith("expected_status must be an HTTP status code")


def channel_errors(raw: dict) -> dict[str, str]:
    with pytest.raises(IntegrationError) as info:
        parse_channel_form(raw, CHANNELS)
    return info.value.errors


CHANNEL = {
    "channel": "email",
    "kind": "http",
    "url": "https://stats.example/{event_code}?c={channel}",
    "auth_header_name": "Authorization",
    "auth_header_value": "Bearer t",
    "timeout_s": "4",
    "enabled": True,
}


def test_a_valid_channel_form_keeps_the_secret_only_when_typed():
    form = parse_channel_form(CHANNEL, CHANNELS)
    assert (form.kind, form.url, form.timeout_s, form.auth_header_value) == (
        "http",
        CHANNEL["url"],
        4.0,
        "Bearer t",
    )
    assert (
        parse_channel_form({**CHANNEL, "auth_header_value": ""}, CHANNELS).auth_header_value is None
    )


def test_channel_form_refuses_unknown_channels_bad_urls_and_timeouts():
    assert "choose one of" in channel_errors({**CHANNEL, "channel": "fax"})["channel"]
    errors = channel_errors({**CHANNEL, "url": "file:///etc/passwd", "timeout_s": "21"})
    assert errors["url"] == "source URL must be http:// or https://"
    assert errors["timeout_s"] == "timeout must be between 0 and 20 seconds"
    assert "number" in channel_errors({**CHANNEL, "timeout_s": "x"})["timeout_s"]
    assert "placeholder" in channel_errors({**CHANNEL, "url": "https://s.example/{event}"})["url"]
    assert "kind" in channel_errors({**CHANNEL, "kind": "ftp"})


def test_choosing_the_demo_source_needs_no_url():
    form = parse_channel_form({"channel": "social", "kind": "demo", "url": "garbage"}, CHANNELS)
    assert (form.channel, form.kind) == ("social", "demo")


def test_auth_header_problems_come_from_the_http_source():
    assert (
        source_field_error("email", auth_header_name="X-Key", auth_header_value=None)
        == "give both the auth header's name and value, or neither"
    )
    assert (
        source_field_error("email", auth_header_name="X Key", auth_header_value="v")
        == "invalid auth header"
    )
    assert source_field_error("email", auth_header_name="X-Key", auth_header_value="v") is None


def test_the_auth_value_is_masked_for_display():
    row = ChannelRow("email", "http", True, "https://s.example/", "Authorization", True, 5.0, True)
    assert row.auth_display == "Authorization: ••••••••"
    assert "Bearer" not in repr(row.auth_display)
    assert ChannelRow("email", "demo", False).auth_display == "—"


@pytest.mark.parametrize(
    "read",
    [
        lambda engine: service_admin.list_services(
            engine=engine, settings=make_settings("sqlite://")
        ),
        lambda engine: channel_admin.list_channel_sources(engine=engine),
        lambda engine: channel_admin.channel_names(engine=engine),
        lambda engine: channel_admin.event_choices(engine=engine),
    ],
)
def test_an_unreachable_database_reaches_the_page_as_a_safe_message(read, tmp_path):
    from sqlalchemy import create_engine

    from bi_app.errors import ServiceUnavailable

    missing = tmp_path / "no-such-dir" / "bi.sqlite"  # SQLite cannot open it: OperationalError
    with pytest.raises(ServiceUnavailable) as info:
        read(create_engine(f"sqlite:///{missing}"))
    assert "unavailable right now" in str(info.value)
    assert "no-such-dir" not in str(info.value) and "sqlite" not in str(info.value).lower()
