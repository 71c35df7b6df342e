"""Status rules: thresholds in, healthy/degraded/unhealthy out."""

import pytest

from bi_app.config import ConfigError
from bi_app.monitoring import rules
from bi_app.monitoring.services import parse_services

H, D, U = rules.HEALTHY, rules.DEGRADED, rules.UNHEALTHY


def test_database_rules():
    assert rules.database_status(3.0)[0] == H
    assert rules.database_status(None, "refused") == (U, "database unreachable")
    assert rules.database_status(400.0)[0] == D
    assert rules.database_status(3.0, connections=81, max_connections=100)[0] == D
    assert rules.database_status(3.0, connections=96, max_connections=100) == (
        U,
        "96/100 connections in use",
    )


def test_cache_down_only_degrades():
    assert rules.cache_status(False, None)[0] == H
    assert rules.cache_status(True, None, "ConnectionError")[0] == D
    assert rules.cache_status(True, 80.0)[0] == D
    assert rules.cache_status(True, 0.4)[0] == H


def test_scheduler_rules():
    assert rules.scheduler_status(False, False, None, 0)[0] == D
    assert rules.scheduler_status(False, True, 5.0, 0)[0] == H
    assert rules.scheduler_status(True, False, None, 0) == (U, "no scheduler leader")
    assert rules.scheduler_status(True, True, 100.0, 0)[0] == D
    assert rules.scheduler_status(True, True, 400.0, 0)[0] == U
    assert rules.scheduler_status(True, True, 5.0, 2) == (D, "2 late jobs")
    assert rules.scheduler_status(True, True, 5.0, 0)[0] == H


def test_disk_and_http_rules():
    assert rules.disk_status(50.0)[0] == H
    assert rules.disk_status(8.0)[0] == D
    assert rules.disk_status(1.0)[0] == U
    assert rules.http_status(200, 200, 20.0)[0] == H
    assert rules.http_status(500, 200, 20.0) == (U, "HTTP 500, expected 200")
    assert rules.http_status(None, 200, None, "timed out after 5 s") == (U, "timed out after 5 s")
    assert rules.http_status(204, 204, 2500.0)[0] == D


def test_overall_caps_non_critical_checks_at_degraded():
    assert rules.overall_status({"database": H, "cache": H}) == H
    assert rules.overall_status({"database": H, "service:pay": U, "scheduler": U}) == D
    assert rules.overall_status({"database": U, "cache": H}) == U
    assert rules.overall_status({"disk": U}) == U
    assert rules.overall_status({}) == H


def test_custom_thresholds():
    strict = rules.Thresholds(db_latency_degraded_ms=1.0)
    assert rules.database_status(2.0, t=strict)[0] == D


def test_services_parser_accepts_valid_and_names_the_variable_on_errors():
    specs = parse_services(
        '[{"name": "pay", "url": "http://127.0.0.1:9/h", "expected_status": 204,'
        ' "timeout": 1.5, "auth_header": "Authorization: Bearer abc"}]'
    )
    assert specs[0].expected_status == 204 and specs[0].timeout_s == 1.5
    assert specs[0].auth_header == ("Authorization", "Bearer abc")
    assert specs[0].check_name == "service:pay"
    assert parse_services("") == ()
    for bad, fragment in [
        ("{", "not valid JSON"),
        ("{}", "JSON list"),
        ('[{"name": "Pay!", "url": "http://x"}]', "name"),
        ('[{"name": "p", "url": "ftp://x"}]', "url"),
        ('[{"name": "p", "url": "http://x", "timeout": 0}]', "timeout"),
        ('[{"name": "p", "url": "http://x", "expected_status": "200"}]', "expected_status"),
        ('[{"name": "p", "url": "http://x", "auth_header": "nocolon"}]', "auth_header"),
        ('[{"name": "p", "url": "http://x", "extra": 1}]', "unknown key"),
        ('[{"name": "p", "url": "http://x"}, {"name": "p", "url": "http://y"}]', "duplicate"),
    ]:
        with pytest.raises(ConfigError) as err:
            parse_services(bad)
        assert "BI_HEALTH_SERVICES" in str(err.value) and fragment in str(err.value)
