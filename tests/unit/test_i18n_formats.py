"""One formatter for the whole app (bi_app.i18n, Babel/CLDR): money in the currency's own minor
units, numbers, percentages, dates and relative times, in English and Korean."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from bi_app import i18n
from components import format as ui_format


@pytest.mark.parametrize(
    "currency, locale, minor, expected",
    [
        ("KRW", "en", 1_000_000, "₩1,000,000"),
        ("KRW", "ko", 1_000_000, "₩1,000,000"),
        ("KRW", "ko", -1_500, "-₩1,500"),
        ("JPY", "en", 123_456, "¥123,456"),
        ("JPY", "ko", 123_456, "JP¥123,456"),
        ("EUR", "en", 123_456, "€1,234.56"),
        ("EUR", "ko", -1_500, "-€15.00"),
        ("USD", "en", 123_456_789, "$1,234,567.89"),
        ("USD", "ko", 5, "US$0.05"),
        ("BHD", "en", 12_345, "BHD\u00a012.345"),
        ("BHD", "ko", 1_500, "BHD\u00a01.500"),
    ],
)
def test_money_in_the_currency_minor_unit(currency, locale, minor, expected):
    assert i18n.format_money(minor, currency, locale) == expected


@pytest.mark.parametrize(
    "currency, digits", [("KRW", 0), ("JPY", 0), ("EUR", 2), ("USD", 2), ("BHD", 3), ("KWD", 3)]
)
def test_minor_units_come_from_cldr(currency, digits):
    assert i18n.currency_decimals(currency) == digits
    assert i18n.currency_decimals(currency.lower()) == digits


def test_major_units_are_exact():
    assert i18n.to_major(1_000_000, "KRW") == Decimal(1_000_000)
    assert i18n.to_major(12_345, "BHD") == Decimal("12.345")
    assert ui_format.to_major(123_456, "EUR") == 1234.56


@pytest.mark.parametrize("bad", [None, math.nan, math.inf, -math.inf, "12", True])
def test_what_cannot_be_shown_is_not_available(bad):
    assert i18n.format_money(bad, "EUR", "en") == "n/a"
    assert i18n.format_number(bad, "en") == "n/a"
    assert i18n.format_percent(bad, "en") == "n/a"
    assert i18n.format_change(bad, "en") == "n/a"


def test_numbers_percentages_and_changes():
    assert i18n.format_number(1_234_567, "ko") == "1,234,567"
    assert i18n.format_number(1_234.5678, "en", digits=2) == "1,234.57"
    assert i18n.format_percent(0.1234, "ko") == "12.3%"
    assert i18n.format_change(12.34, "en") == "+12.3%"
    assert i18n.format_change(-5, "ko") == "-5.0%"
    assert i18n.format_change(0, "en") == "+0.0%"


def test_dates_ranges_and_relative_times_by_locale():
    day = dt.date(2026, 1, 31)
    assert i18n.format_date(day, "en") == "Jan 31, 2026"
    assert i18n.format_date(day, "ko") == "2026. 1. 31."
    assert "오후 11:30" in i18n.format_datetime(dt.datetime(2026, 1, 31, 23, 30), "ko")
    assert i18n.format_date_range(dt.date(2026, 12, 1), dt.date(2026, 12, 5), "ko") == (
        "2026년 12월 1일~5일"
    )
    assert i18n.format_relative(dt.timedelta(minutes=-5), "ko") == "5분 전"
    assert i18n.format_relative(dt.timedelta(minutes=-5), "en") == "5 minutes ago"


def test_outside_a_request_the_default_locale_speaks():
    assert i18n.current_locale() == "en"
    assert i18n._("Revenue") == "Revenue"
    assert i18n.format_money(250, "EUR") == "€2.50"


@pytest.mark.parametrize(
    "raw, expected",
    [("ko", "ko"), ("ko-KR", "ko"), ("KO_kr", "ko"), ("en-US", "en"), ("fr", None), ("", None)],
)
def test_locale_names_are_parsed(raw, expected):
    assert i18n.parse_locale(raw) == expected


def test_the_ui_helpers_use_the_same_formatter():
    assert ui_format.format_money(1_000_000, "KRW") == "₩1,000,000"
    assert ui_format.format_count(1234) == "1,234"
    assert ui_format.format_change(None) == "n/a"


def test_a_background_thread_speaks_the_language_of_the_request_that_started_it():
    import threading

    import flask

    from bi_app import i18n as i18n_module

    app = flask.Flask(__name__)
    i18n_module.init_app(app)
    seen: list[str] = []
    with app.test_request_context(headers={"Accept-Language": "ko-KR"}):
        assert i18n_module.current_locale() == "ko"
        carried = i18n_module.carried_locale()

    def work() -> None:
        with carried():
            seen.append(i18n_module.current_locale())
            seen.append(i18n_module.format_date(dt.date(2026, 1, 31)))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert seen == ["ko", "2026. 1. 31."]
    assert i18n_module.carried_locale()().__enter__() is None  # no app: nothing to carry


def test_an_app_without_catalogs_still_speaks_english():
    import flask

    with flask.Flask(__name__).test_request_context(headers={"Accept-Language": "ko"}):
        assert i18n._("%(count)s orders", count=3) == "3 orders"
        assert i18n.ngettext("%(num)s order", "%(num)s orders", 1) == "1 order"
        assert i18n.current_locale() in ("en", "ko")
