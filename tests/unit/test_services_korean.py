"""Messages the business services build come out in the request's language: Korean with
``Accept-Language: ko``, the same English as before without it."""

from __future__ import annotations

import datetime as dt
import pickle

import flask
import pytest

from bi_app import i18n
from bi_app.analytics import roi
from bi_app.analytics.event_suggestions import suggestions
from bi_app.analytics.kpi import overview_kpis
from bi_app.channels.base import ChannelStats
from bi_app.channels.service import MISSING, ChannelResult
from bi_app.filters import parse_filters, parse_statuses
from bi_app.i18n import _

TODAY = dt.date(2026, 12, 5)
TOTALS = {"revenue_cents": 100_00, "orders": 4, "active_customers": 3}


@pytest.fixture(scope="module")
def app() -> flask.Flask:
    server = flask.Flask(__name__)
    i18n.init_app(server)
    return server


def _request(app: flask.Flask, locale: str | None):
    headers = {"Accept-Language": locale} if locale else {}
    return app.test_request_context(headers=headers)


def _filter_notices() -> list[str]:
    query = {"start": "2026-13-40", "platform": "nowhere"}
    parsed = parse_filters(query, today=TODAY, known_platforms=["web"], known_categories=[])
    return parsed.notices


def _what_if_error(*raw: object) -> str:
    with pytest.raises(roi.WhatIfError) as caught:
        roi.parse_what_if(*raw)
    return str(caught.value)


def test_filter_notices_in_korean_and_english(app):
    with _request(app, "ko"):
        assert _filter_notices() == [
            "시작일 '2026-13-40'이(가) 올바르지 않아 최근 90일을 표시합니다.",
            "알 수 없는 플랫폼 'nowhere'은(는) 무시했습니다.",
        ]
        assert parse_statuses("paid,lost")[1] == ["알 수 없는 주문 상태 'lost'은(는) 무시했습니다."]
    with _request(app, None):
        assert _filter_notices() == [
            "Invalid start date '2026-13-40'; showing the last 90 days.",
            "Unknown platform 'nowhere' ignored.",
        ]
        assert parse_statuses("paid,lost")[1] == ["Unknown order status 'lost' ignored."]


def test_kpi_labels_are_marked_english_and_shown_translated(app):
    labels = [k.label for k in overview_kpis(TOTALS, TOTALS)]
    assert labels == ["Revenue", "Orders", "Average order value", "Active customers"]
    with _request(app, "ko"):
        assert [_(label) for label in labels] == ["매출", "주문", "평균 주문 금액", "활성 고객"]
    with _request(app, None):
        assert [_(label) for label in labels] == labels


def test_what_if_errors_in_korean_and_english(app):
    with _request(app, "ko"):
        assert _what_if_error("x", 10, 5) == "비용 변경: 'x'은(는) 숫자가 아닙니다"
        assert _what_if_error(0, "", 5) == "참석자 수: 숫자를 입력하세요"
    with _request(app, None):
        assert _what_if_error("x", 10, 5) == "Cost change: 'x' is not a number"
        assert _what_if_error(0, "", 5) == "Attendance: enter a number"
        assert _what_if_error(0, 10, "-1") == "Ticket price: 0 or more, at most two decimals"


def test_suggestions_are_read_in_the_current_language_even_from_the_cache(app):
    found = suggestions(
        60, 100, {"venue": 900, "other": 100}, attendance_min=0.7, benchmark_shares={"venue": 0.5}
    )
    cached = pickle.loads(pickle.dumps(found))  # the data cache keeps one copy for every locale
    with _request(app, "ko"):
        attendance, cost = cached
        assert attendance.title == "참석률 60.0%로 목표 70%에 미달합니다"
        assert attendance.detail == "등록자 100명 중 40명이 참석하지 않았습니다."
        assert attendance.actions[0].startswith("시작 7일 전")
        assert cost.title == "Venue 비중이 기준보다 40.0포인트 높습니다"
    with _request(app, None):
        attendance, cost = cached
        assert attendance.title == "Attendance 60.0 % is below the 70 % target"
        assert attendance.detail == "40 of 100 registered people did not attend."
        assert cost.detail == "Venue takes 90.0 % of the cost against a benchmark of 50 %."


def test_channel_notice_in_korean_and_english(app):
    result = ChannelResult("email", ChannelStats("email", 0, 0, 0), MISSING, None, "demo")
    with _request(app, "ko"):
        assert result.notice() == "email 채널을 사용할 수 없음 — 이전 데이터가 없어 0으로 표시"
    with _request(app, None):
        assert result.notice() == "Channel email unavailable — no earlier data, showing 0"
