"""The operations services speak the request's language: job descriptions and schedules, health
reasons where the Health page shows them, log filter notices, integration form messages; and
exactly today's English without an ``Accept-Language`` header."""

from __future__ import annotations

import dataclasses
import datetime as dt

import flask
import pytest

from bi_app import i18n
from bi_app.integrations import services as service_admin
from bi_app.jobs import status as job_status
from bi_app.jobs.definitions import JOBS, JobSpec
from bi_app.jobs.runner import LOCK_HELD
from bi_app.monitoring import dashboard, health, rules
from bi_app.monitoring.logs_query import parse_log_query

KO = {"Accept-Language": "ko"}


@pytest.fixture
def app() -> flask.Flask:
    server = flask.Flask(__name__)
    i18n.init_app(server)
    return server


def _job(name: str) -> JobSpec:
    return next(spec for spec in JOBS if spec.name == name)


def test_job_description_and_schedule_in_korean(app: flask.Flask) -> None:
    with app.test_request_context(headers=KO):
        assert (
            _job("health_checks").description_text
            == "데이터베이스, 캐시, 모니터링 대상 서비스를 점검합니다"
        )
        assert _job("refresh_rollups").trigger_text == "15분마다"
        assert JobSpec("a", "m:f", seconds=3600).trigger_text == "매시간"
        assert JobSpec("a", "m:f", seconds=7200).trigger_text == "2시간마다"
        assert JobSpec("a", "m:f", seconds=60).trigger_text == "매분"
        assert JobSpec("a", "m:f", seconds=15).trigger_text == "15초마다"


def test_job_description_and_schedule_stay_english(app: flask.Flask) -> None:
    with app.test_request_context():
        assert _job("health_checks").description_text == (
            "Check the database, cache and monitored services"
        )
        assert _job("refresh_rollups").trigger_text == "every 15 min"
        assert JobSpec("a", "m:f", seconds=3600).trigger_text == "every hour"
        assert JobSpec("a", "m:f", seconds=7200).trigger_text == "every 2 h"
        assert JobSpec("a", "m:f", seconds=60).trigger_text == "every minute"
        assert JobSpec("a", "m:f", seconds=15).trigger_text == "every 15 s"
    # outside a request (the CLI, a job): English
    assert _job("refresh_rollups").trigger_text == "every 15 min"


def test_run_now_message(app: flask.Flask) -> None:
    skipped = {"run_id": 7, "status": "skipped", "error": LOCK_HELD}
    started = {"run_id": 8, "status": "running", "error": None}
    failed = {"run_id": 9, "status": "failed", "error": "ValueError: boom\n  frame"}
    with app.test_request_context(headers=KO):
        assert job_status.run_message("retention", started) == (
            "retention 작업을 시작했습니다 (실행 8)."
        )
        assert job_status.run_message("retention", skipped) == (
            "retention: 건너뜀 — 이미 실행 중: 이 작업의 다른 실행이 잠금을 갖고 있습니다"
        )
        assert job_status.run_message("retention", failed) == "retention: 실패 — ValueError: boom"
    with app.test_request_context():
        assert job_status.run_message("retention", started) == "Started retention (run 8)."
        assert job_status.run_message("retention", skipped) == (
            "retention: skipped — already running: another run of this job holds its lock"
        )
        assert job_status.run_message("retention", failed) == "retention: failed — ValueError: boom"
        assert job_status.run_message("retention", {"status": "timed_out", "error": None}) == (
            "retention: timed_out"
        )


def test_health_reasons_translated_where_shown(app: flask.Flask) -> None:
    _status, slow = rules.database_status(312.4)
    _status, disk = rules.disk_status(2.5)
    _status, late = rules.scheduler_status(True, True, 1.0, 3)
    assert (slow, disk, late) == ("slow: 312 ms", "only 2.5 % free", "3 late jobs")  # stored
    with app.test_request_context(headers=KO):
        assert rules.localized_reason(slow) == "느림: 312 ms"
        assert rules.localized_reason(disk) == "여유 공간 2.5%뿐"
        assert rules.localized_reason(late) == "지연된 작업 3개"
        assert rules.localized_reason("ConnectionError: boom") == "ConnectionError: boom"
    with app.test_request_context():
        for text in (slow, disk, late, "timed out after 2.5 s", "HTTP 503, expected 200"):
            assert rules.localized_reason(text) == text


def test_shown_report_copies_only_when_translated(app: flask.Flask) -> None:
    at = dt.datetime(2026, 12, 5, 3, 0)
    report = health.HealthReport(
        "degraded",
        [
            health.CheckResult("cache", "degraded", 80.0, {}, "slow: 80 ms", at),
            health.CheckResult("disk", "healthy", 1.0, {}, None, at),
        ],
        at,
    )
    with app.test_request_context():
        assert dashboard.shown_report(report) is report
    with app.test_request_context(headers=KO):
        shown = dashboard.shown_report(report)
    assert shown is not report and report.checks[0].error == "slow: 80 ms"  # shared: untouched
    assert [c.error for c in shown.checks] == ["느림: 80 ms", None]
    assert dataclasses.replace(shown.checks[1]) == report.checks[1]


def test_log_filter_notices(app: flask.Flask) -> None:
    raw = {"level": "LOUD", "range": "custom", "start": "2026-12-05T10:00", "end": "2026-12-05"}
    with app.test_request_context(headers=KO):
        notices = parse_log_query(raw).notices
    assert notices == [
        "알 수 없는 레벨 'LOUD'입니다. INFO 이상을 표시합니다.",
        "시작 시각이 종료 시각보다 늦어서 두 값을 바꿨습니다.",
    ]
    with app.test_request_context():
        notices = parse_log_query(raw).notices
    assert notices == [
        "Unknown level 'LOUD'; showing INFO and above.",
        "The start time was after the end time; the two were swapped.",
    ]


def test_service_form_messages(app: flask.Flask) -> None:
    with app.test_request_context(headers=KO):
        assert service_admin.service_field_error(name="Bad Name") == (
            "이름은 영문 소문자, 숫자, '_', '-', '.'만 쓸 수 있습니다. 입력값: 'Bad Name'"
        )
    with app.test_request_context():
        assert service_admin.service_field_error(name="Bad Name") == (
            "name must be lowercase letters, digits, '_', '-', '.', got 'Bad Name'"
        )
