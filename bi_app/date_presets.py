"""Named date ranges of the filter bar ("last 30 days", "last quarter", "year to date").

A preset is resolved against today's date in the business time zone every time a page loads,
so a shared link to "last 7 days" keeps meaning the last seven days. "This week/month/quarter/
year" is the whole calendar period (days still to come included, so a partial period is visible
as such); "... to date" stops today. Weeks start on Monday, quarters are calendar quarters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from bi_app.db.periods import next_period, period_start
from bi_app.i18n import N_

Range = tuple[dt.date, dt.date]
_DAY = dt.timedelta(days=1)


def _period(day: dt.date, grain: str) -> Range:
    if grain == "week":
        start = day - dt.timedelta(days=day.weekday())
        return start, start + dt.timedelta(days=6)
    if grain == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    start = period_start(day, grain)
    return start, next_period(start, grain) - _DAY


def _last_days(n: int) -> Callable[[dt.date], Range]:
    return lambda today: (today - dt.timedelta(days=n - 1), today)


def _this(grain: str) -> Callable[[dt.date], Range]:
    return lambda today: _period(today, grain)


def _last(grain: str) -> Callable[[dt.date], Range]:
    return lambda today: _period(_period(today, grain)[0] - _DAY, grain)


def _to_date(grain: str) -> Callable[[dt.date], Range]:
    return lambda today: (_period(today, grain)[0], today)


# code (as written in the URL) -> (label, marked for translation: shown through _(), range for a
# given today), in menu order
PRESETS: dict[str, tuple[str, Callable[[dt.date], Range]]] = {
    "today": (N_("Today"), lambda today: (today, today)),
    "yesterday": (N_("Yesterday"), lambda today: (today - _DAY, today - _DAY)),
    "last-7-days": (N_("Last 7 days"), _last_days(7)),
    "last-30-days": (N_("Last 30 days"), _last_days(30)),
    "last-90-days": (N_("Last 90 days"), _last_days(90)),
    "this-week": (N_("This week"), _this("week")),
    "last-week": (N_("Last week"), _last("week")),
    "this-month": (N_("This month"), _this("month")),
    "last-month": (N_("Last month"), _last("month")),
    "this-quarter": (N_("This quarter"), _this("quarter")),
    "last-quarter": (N_("Last quarter"), _last("quarter")),
    "this-year": (N_("This year"), _this("year")),
    "last-year": (N_("Last year"), _last("year")),
    "month-to-date": (N_("Month to date"), _to_date("month")),
    "quarter-to-date": (N_("Quarter to date"), _to_date("quarter")),
    "year-to-date": (N_("Year to date"), _to_date("year")),
}


def parse_preset(raw: object) -> str | None:
    """The preset code of a URL value or a dropdown value; None for none or an unknown one."""
    code = str(raw or "").strip().lower()
    return code if code in PRESETS else None


def preset_range(code: str, today: dt.date) -> Range:
    """The first and last day of preset ``code`` seen from ``today``; KeyError if unknown."""
    return PRESETS[code][1](today)


def latest_day(today: dt.date) -> dt.date:
    """The latest day any preset reaches from ``today`` (the end of this year)."""
    return dt.date(today.year, 12, 31)


def options() -> list[dict[str, str]]:
    return [{"label": label, "value": code} for code, (label, _) in PRESETS.items()]
