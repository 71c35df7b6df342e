"""The periods a report covers: a day, a complete Monday–Sunday week, a complete calendar month
or a custom range of local days in the business time zone, with the periods it is compared
against and its label in the report's language.

Pure date arithmetic (no database); :func:`utc_bounds` turns a period into the naive-UTC bounds
stored timestamps are compared with.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bi_app.db.periods import business_timezone, local_day_bounds
from bi_app.errors import ServiceError
from bi_app.i18n import _, format_date_range, format_period, parse_locale
from bi_app.reports.model import Period

__all__ = [
    "KINDS",
    "MAX_DAYS",
    "ReportError",
    "custom_period",
    "last_year",
    "local_today",
    "period_for",
    "period_label",
    "previous",
    "use_locale",
    "utc_bounds",
]

KINDS = ("daily", "weekly", "monthly")
MAX_DAYS = 366


class ReportError(ServiceError):
    """A report cannot be made as asked; the message says why (safe to show)."""


def _zone(tz: str | None) -> str:
    name = tz or business_timezone()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ReportError(_("Unknown time zone: %(tz)s", tz=name)) from exc
    return name


def local_today(tz: str | None = None, now: dt.datetime | None = None) -> dt.date:
    """Today's date in ``tz`` (default: the business time zone); ``now`` is an aware or naive-UTC
    instant (default: the current time)."""
    moment = now or dt.datetime.now(dt.UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(ZoneInfo(_zone(tz))).date()


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _month_end(day: dt.date) -> dt.date:
    following = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def period_for(kind: str, today: dt.date | None = None, tz: str | None = None) -> Period:
    """The last complete period of ``kind`` before ``today`` (a local date; default: today in
    ``tz``): ``daily`` yesterday, ``weekly`` the last complete Monday–Sunday week, ``monthly``
    the last complete calendar month."""
    zone = _zone(tz)
    today = today or local_today(zone)
    if kind == "daily":
        day = today - dt.timedelta(days=1)
        return Period("daily", day, day, zone)
    if kind == "weekly":
        this_monday = today - dt.timedelta(days=today.weekday())
        start = this_monday - dt.timedelta(days=7)
        return Period("weekly", start, start + dt.timedelta(days=6), zone)
    if kind == "monthly":
        end = _month_start(today) - dt.timedelta(days=1)
        return Period("monthly", _month_start(end), end, zone)
    raise ReportError(
        _(
            "Unknown report period %(kind)s: choose daily, weekly, monthly or a custom range.",
            kind=str(kind),
        )
    )


def custom_period(
    start: dt.date, end: dt.date, tz: str | None = None, *, today: dt.date | None = None
) -> Period:
    """Local days ``start..end`` (inclusive), checked: in order, at most :data:`MAX_DAYS` days,
    not after today (``today``: a local date, default today in ``tz``)."""
    zone = _zone(tz)
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise ReportError(_("Choose a start and an end date for the report."))
    if isinstance(start, dt.datetime):
        start = start.date()
    if isinstance(end, dt.datetime):
        end = end.date()
    if end < start:
        raise ReportError(_("The report's end date is before its start date."))
    days = (end - start).days + 1
    if days > MAX_DAYS:
        raise ReportError(
            _(
                "A report covers at most %(max)s days; this range has %(days)s.",
                max=MAX_DAYS,
                days=days,
            )
        )
    today = today or local_today(zone)
    if end > today:
        raise ReportError(_("The report's range ends in the future: it can end today at most."))
    return Period("custom", start, end, zone)


def _year_earlier(day: dt.date) -> dt.date:
    """The same date a year earlier; Feb 29 becomes Feb 28."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # Feb 29 in a leap year
        return day.replace(year=day.year - 1, day=28)


def previous(period: Period) -> Period:
    """The period just before: the previous calendar month for a monthly period (months differ
    in length), otherwise the same number of days ending the day before ``period.start``."""
    if period.kind == "monthly" and period.start.day == 1 and period.end == _month_end(period.end):
        end = period.start - dt.timedelta(days=1)
        return Period(period.kind, _month_start(end), end, period.timezone)
    end = period.start - dt.timedelta(days=1)
    return Period(period.kind, end - dt.timedelta(days=period.days - 1), end, period.timezone)


def last_year(period: Period) -> Period:
    """The same dates a year earlier (Feb 29 -> Feb 28); a whole calendar month maps to the whole
    month (February 2025 -> February 1–29, 2024)."""
    start, end = _year_earlier(period.start), _year_earlier(period.end)
    if period.start.day == 1 and period.end == _month_end(period.end):
        end = _month_end(end)
    return Period(period.kind, start, end, period.timezone)


def utc_bounds(period: Period) -> tuple[dt.datetime, dt.datetime]:
    """``(start, end_exclusive)`` as naive UTC timestamps, as stored."""
    lo, hi = local_day_bounds(period.start, period.end, period.timezone)
    assert lo is not None and hi is not None
    return lo, hi


@contextlib.contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Translate messages in ``locale`` inside the block (flask-babel's ``force_locale`` when an
    app with catalogs is in context; outside one, messages stay in English). Yields the locale
    code in use."""
    import flask

    code = parse_locale(locale) or None
    if code is None or not flask.has_app_context() or "babel" not in flask.current_app.extensions:
        from bi_app.i18n import current_locale

        yield code or current_locale()
        return
    from flask_babel import force_locale

    with force_locale(code):
        yield code


def period_label(period: Period, locale: str | None = None) -> str:
    """``"Fri, Dec 4, 2026"``, ``"Week of Nov 30 – Dec 6, 2026"``, ``"November 2026"`` or
    ``"Nov 3 – Dec 2, 2026"`` in ``locale`` (default: the current one)."""
    with use_locale(locale) as code:
        if period.kind == "daily" or period.start == period.end:
            return format_period(period.start, "weekday", code)
        whole_month = period.start.day == 1 and period.end == _month_end(period.start)
        if period.kind == "monthly" and whole_month:
            return format_period(period.start, "month", code)
        text = format_date_range(period.start, period.end, code)
        if period.kind == "weekly":
            return _("Week of %(range)s", range=text)
        return text
