"""Languages and formats: which locale a request speaks, its translated messages, and every
number, amount and date a person reads, formatted by Babel (CLDR) in that locale.

Messages live in gettext catalogs under ``bi_app/translations`` (``make i18n`` extracts, updates
and compiles them). Mark a string where it is written:

- ``_("Revenue")`` inside functions that run per request (layouts, callbacks, services called by
  them): translated at once, in the request's locale;
- ``N_("Revenue")`` for module-level constants (page names, column specs, choices): only marks the
  text for extraction; translate it where it is shown, with ``_(value)``. Never put a lazy string
  into a Dash component: component properties must be plain JSON.

The locale of a request: the signed-in user's choice (``users.locale``), else the browser's
``Accept-Language`` among :data:`LOCALES`, else ``BI_LOCALE``. Outside a request (jobs, the command
line) it is ``BI_LOCALE``.

Money is held as integers of the currency's own minor unit (KRW and JPY 0 decimals, EUR 2, BHD 3),
which :func:`currency_decimals` gives from CLDR, never from a hand-written table.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import numbers
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from typing import Any

import flask
from babel import Locale, UnknownLocaleError
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from flask_babel import Babel, force_locale, get_locale
from flask_babel import gettext as _flask_gettext
from flask_babel import ngettext as _flask_ngettext

CATALOGS = Path(__file__).resolve().parent / "translations"
LOCALE_DATA = Path(__file__).resolve().parent / "locale_data"  # texts of browser components
LOCALES: tuple[str, ...] = ("en", "ko")
LOCALE_NAMES = {"en": "English", "ko": "한국어"}
DEFAULT_LOCALE = "en"
_babel = Babel()


def _babel_ready() -> bool:
    """flask-babel answers here: outside an app it gives English itself; an app built without
    :func:`init_app` (a test's bare Flask app) has no catalogs at all."""
    return not flask.has_app_context() or "babel" in flask.current_app.extensions


def _(message: str, **variables: Any) -> str:
    """``message`` in the current locale, with ``%(name)s`` placeholders filled from
    ``variables`` (Korean particles after a placeholder chosen by the word, see
    :func:`korean_particles`)."""
    if not _babel_ready():
        return message % variables if variables else message
    text = _flask_gettext(message, **variables)
    return korean_particles(text) if variables else text


# "매출이(가)" -> "매출이", "수수료이(가)" -> "수수료가": a Korean particle depends on
# whether the word before it ends in a final consonant (batchim), which a translation cannot
# know for a placeholder. Catalogs write both forms; the filled-in text keeps the right one when
# the word ends in a Hangul syllable or a digit, and both otherwise.
_PARTICLES = {
    "이(가)": ("이", "가"),
    "을(를)": ("을", "를"),
    "은(는)": ("은", "는"),
    "과(와)": ("과", "와"),
    "아(야)": ("아", "야"),
    "(으)로": ("으로", "로"),
    "(이)": ("이", ""),  # "(이)라는", "(이)다"
}
_PARTICLE_RE = re.compile(r"([가-힣0-9])(" + "|".join(re.escape(p) for p in _PARTICLES) + ")")
_DIGIT_BATCHIM = {"0": 21, "1": 8, "2": 0, "3": 16, "4": 0, "5": 0, "6": 1, "7": 8, "8": 8, "9": 0}
_RIEUL = 8  # ㄹ: "(으)로" takes 로 after it, like after a vowel


def _batchim(char: str) -> int:
    if char in _DIGIT_BATCHIM:  # as read in Sino-Korean: 일, 삼, 육, 칠, 팔, 영
        return _DIGIT_BATCHIM[char]
    return (ord(char) - 0xAC00) % 28


def korean_particles(text: str) -> str:
    """Resolve "이(가)", "을(를)", "은(는)", "과(와)", "아(야)", "(으)로" and "(이)" after a Hangul
    syllable or a digit to the one form the word takes; elsewhere leave them as written."""
    if "(" not in text:
        return text

    def pick(match: re.Match[str]) -> str:
        char, particle = match.group(1), match.group(2)
        with_batchim, without = _PARTICLES[particle]
        final = _batchim(char)
        if particle == "(으)로":
            return char + (with_batchim if final and final != _RIEUL else without)
        return char + (with_batchim if final else without)

    return _PARTICLE_RE.sub(pick, text)


gettext = _


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or plural form of a message for ``num`` (``%(num)s`` is filled in)."""
    if not _babel_ready():
        return (singular if num == 1 else plural) % {"num": num, **variables}
    return korean_particles(_flask_ngettext(singular, plural, num, **variables))


def N_(message: str) -> str:
    """Mark ``message`` for extraction only; translate it where it is shown with ``_()``."""
    return message


NOT_AVAILABLE = N_("n/a")


def parse_locale(value: str | None) -> str | None:
    """``"ko-KR"``, ``"ko_KR"``, ``"KO"`` -> ``"ko"``; a language not in :data:`LOCALES` -> None."""
    if not value:
        return None
    language = value.strip().replace("-", "_").split("_")[0].lower()
    return language if language in LOCALES else None


def default_locale() -> str:
    """``BI_LOCALE`` of the running app, else English."""
    settings = flask.current_app.config.get("BI_SETTINGS") if flask.has_app_context() else None
    return getattr(settings, "locale", None) or DEFAULT_LOCALE


def select_locale() -> str:
    """The locale of the current request (see the module's text)."""
    if not flask.has_request_context():
        return default_locale()
    from bi_app.auth.context import request_user  # auth imports this module's messages

    has_login = hasattr(flask.current_app, "login_manager")
    user = request_user() if has_login else None
    chosen = parse_locale(user.locale) if user is not None else None
    if chosen:
        return chosen
    from_browser = flask.request.accept_languages.best_match(LOCALES)
    return from_browser or default_locale()


def current_locale() -> str:
    """``"en"`` or ``"ko"``: the locale messages and formats use now (flask-babel's, which
    :func:`select_locale` chose or ``force_locale`` set)."""
    if flask.has_app_context() and _babel_ready():
        chosen = get_locale()
        if chosen is not None:
            return parse_locale(chosen.language) or DEFAULT_LOCALE
    return select_locale()


def carried_locale() -> Callable[[], AbstractContextManager[Any]]:
    """For work handed to another thread (a background import): call this in the request, then
    run the work inside ``with carried():`` there, and its messages speak the request's language
    (the app's context is pushed and the locale forced). Outside an app: nothing to carry."""
    if not flask.has_app_context():
        return contextlib.nullcontext
    app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
    locale = current_locale()

    @contextlib.contextmanager
    def carried() -> Iterator[None]:
        with app.app_context(), force_locale(locale):
            yield

    return carried


def init_app(server: flask.Flask) -> None:
    """Catalogs from ``bi_app/translations``, the locale chosen per request."""
    server.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    server.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(CATALOGS))
    _babel.init_app(server, locale_selector=select_locale)


def init_dash(app: Any) -> None:
    """The Dash page's ``<html lang>`` follows the request's locale (screen readers, fonts, and
    ``assets/locale.js``, which sets Plotly's and the date pickers' language from it)."""
    interpolate = app.interpolate_index

    def interpolate_index(**parts: Any) -> str:
        page = interpolate(**parts)
        return page.replace("<html>", f'<html lang="{current_locale()}">', 1)

    app.interpolate_index = interpolate_index


# --- formats -------------------------------------------------------------------------------------


def _locale(locale: str | None) -> Locale:
    try:
        return Locale.parse(locale or current_locale())
    except (UnknownLocaleError, ValueError, TypeError):
        return Locale.parse(DEFAULT_LOCALE)


def not_available() -> str:
    """What a figure that cannot be computed shows (``"n/a"``), in the current locale."""
    return _(NOT_AVAILABLE)


def app_currency() -> str:
    """``BI_CURRENCY`` of the running app (``"EUR"`` outside one)."""
    settings = flask.current_app.config.get("BI_SETTINGS") if flask.has_app_context() else None
    return getattr(settings, "currency", None) or "EUR"


def _finite(value: object) -> bool:
    """A number that can be shown (numpy's numbers too); not a bool, NaN or an infinity."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, Decimal)):
        return False
    return math.isfinite(value)


def currency_decimals(code: str) -> int:
    """The digits of ``code``'s minor unit (ISO 4217 as CLDR knows it): KRW 0, EUR 2, BHD 3."""
    return babel_numbers.get_currency_precision(code.upper())


def currency_symbol(code: str, locale: str | None = None) -> str:
    """``"KRW"`` -> ``"₩"``, ``"EUR"`` -> ``"€"``; an unknown code is itself."""
    return babel_numbers.get_currency_symbol(code.upper(), locale=_locale(locale))


def to_major(minor: float | Decimal, currency: str) -> Decimal:
    """Integer minor units to the currency's major unit, exactly."""
    return Decimal(str(minor)).scaleb(-currency_decimals(currency))


def format_money(minor: float | Decimal | None, currency: str, locale: str | None = None) -> str:
    """``123456, "EUR"`` -> ``"€1,234.56"`` (en) / ``"€1,234.56"`` (ko); ``1000000, "KRW"`` ->
    ``"₩1,000,000"``; None, NaN and infinities -> ``"n/a"``."""
    if minor is None or not _finite(minor):
        return not_available()
    text = babel_numbers.format_currency(
        to_major(minor, currency), currency.upper(), locale=_locale(locale)
    )
    # CLDR's currency spacing, which Babel leaves out and the browser's Intl applies: a symbol
    # made of letters keeps a no-break space from the digits (CHF 1.00, not CHF1.00)
    return _CURRENCY_SPACING.sub("\\1\u00a0\\2", text)


_CURRENCY_SPACING = re.compile(r"([A-Za-z])(\d)")


def format_number(value: float | Decimal | None, locale: str | None = None, digits: int = 0) -> str:
    """A count or quantity with the locale's grouping, rounded to ``digits`` decimals."""
    if value is None or not _finite(value):
        return not_available()
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=_locale(locale))


def format_percent(
    fraction: float | Decimal | None, locale: str | None = None, digits: int = 1
) -> str:
    """A share given as a fraction: ``0.123`` -> ``"12.3%"``."""
    if fraction is None or not _finite(fraction):
        return not_available()
    pattern = "#,##0" + ("." + "0" * digits if digits else "") + "%"
    return babel_numbers.format_percent(fraction, format=pattern, locale=_locale(locale))


def format_change(change_pct: float | None, locale: str | None = None) -> str:
    """A change given in percent with an explicit sign: ``12.34`` -> ``"+12.3%"``."""
    if change_pct is None or not _finite(change_pct):
        return not_available()
    text = format_percent(abs(change_pct) / 100, locale)
    return ("-" if change_pct < 0 else "+") + text


def format_date(value: dt.date | None, locale: str | None = None, style: str = "medium") -> str:
    """``2026-12-05`` -> ``"Dec 5, 2026"`` (en) / ``"2026. 12. 5."`` (ko)."""
    if value is None:
        return not_available()
    return babel_dates.format_date(value, format=style, locale=_locale(locale))


def format_datetime(
    value: dt.datetime | None, locale: str | None = None, style: str = "medium"
) -> str:
    """A wall-clock time (already in the business's time zone) in the locale's style."""
    if value is None:
        return not_available()
    return babel_dates.format_datetime(value, format=style, locale=_locale(locale))


# CLDR skeletons (fields, not order: the locale decides it): day "Mon, Jan 5, 2026" /
# "2026년 1월 5일 (월)", month "January 2026" / "2026년 1월", ...
SKELETONS = {
    "weekday": "yMMMEd",
    "day": "yMMMd",
    "month": "yMMMM",
    "month_short": "yMMM",
    "year": "y",
    "day_month": "MMMd",
    "time": "Hm",
}
# Plotly date axes (d3-time-format, month names from the registered Plotly locale)
_MONTH_TICKS = {"en": "%b %Y", "ko": "%Y년 %b"}


def format_period(value: dt.date | dt.datetime, kind: str, locale: str | None = None) -> str:
    """A day, month, year... as the locale writes it (``kind``: a key of :data:`SKELETONS`)."""
    return babel_dates.format_skeleton(SKELETONS[kind], value, locale=_locale(locale))


def month_tickformat(locale: str | None = None) -> str:
    """A Plotly ``tickformat`` for month ticks in the locale's order (``Jan 2026``,
    ``2026년 1월``)."""
    return _MONTH_TICKS.get(_locale(locale).language, _MONTH_TICKS["en"])


def format_date_range(start: dt.date, end: dt.date, locale: str | None = None) -> str:
    """``"Dec 1 – 5, 2026"`` / ``"2026. 12. 1. ~ 2026. 12. 5."``: the locale's interval."""
    return babel_dates.format_interval(start, end, "yMMMd", locale=_locale(locale))


def format_relative(delta: dt.timedelta, locale: str | None = None) -> str:
    """``-5 minutes`` -> ``"5 minutes ago"`` / ``"5분 전"``."""
    return babel_dates.format_timedelta(
        delta, add_direction=True, threshold=1, locale=_locale(locale)
    )


__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "LOCALE_NAMES",
    "NOT_AVAILABLE",
    "N_",
    "_",
    "app_currency",
    "carried_locale",
    "currency_decimals",
    "currency_symbol",
    "current_locale",
    "format_change",
    "format_date",
    "format_date_range",
    "format_datetime",
    "format_money",
    "format_number",
    "format_percent",
    "format_period",
    "format_relative",
    "gettext",
    "init_app",
    "init_dash",
    "month_tickformat",
    "ngettext",
    "not_available",
    "parse_locale",
    "select_locale",
    "to_major",
]
