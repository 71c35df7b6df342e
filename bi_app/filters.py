"""The global filter (date range, sales platforms, product categories) and its URL form.

Every business page reads its initial state from the query string through :func:`parse_filters`
and callbacks re-validate what the browser sends with the same function, because Dash passes
any value straight through (a dropdown value outside its options, a hand-edited URL). Invalid
values never raise: they are replaced by a safe default and explained in ``notices``.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bi_app.data import catalog
from bi_app.date_presets import parse_preset, preset_range
from bi_app.db.models import ORDER_STATUSES
from bi_app.db.periods import business_timezone
from bi_app.i18n import N_, _

DEFAULT_DAYS = 90
EARLIEST_DATE = dt.date(1900, 1, 1)
# How far after today (or the last day with data) a range may end: next year's plans, no typos.
LATEST_DAYS_AHEAD = 366
GRANULARITIES = ("day", "week", "month", "year")
# A chart draws at most this many periods: a range that would need more at the chosen grain is
# drawn at the next coarser one (ten years of days become weeks; ten years of months stay).
MAX_CHART_POINTS = 1000
log = logging.getLogger(__name__)
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# one whole sentence per filter (never the label glued into a shared sentence)
_UNKNOWN_CODES = {
    "platform": N_("Unknown platform %(codes)s ignored."),
    "category": N_("Unknown category %(codes)s ignored."),
}
_INVALID_DATE = {
    "start": N_("Invalid start date %(value)s; showing the last %(days)s days."),
    "end": N_("Invalid end date %(value)s; showing the last %(days)s days."),
}


@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    platforms: tuple[str, ...] | None = None  # None = all
    categories: tuple[str, ...] | None = None  # None = all
    preset: str | None = None  # a named range (see date_presets) the dates were resolved from

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous_period(self) -> Filters:
        """The equal-length period immediately before this one (for KPI deltas)."""
        end = self.start - dt.timedelta(days=1)
        return Filters(end - dt.timedelta(days=self.days - 1), end, self.platforms, self.categories)

    def to_query(self) -> dict[str, str]:
        query = {"preset": self.preset} if self.preset else {}
        query |= {"start": self.start.isoformat(), "end": self.end.isoformat()}
        if self.platforms:
            query["platform"] = ",".join(self.platforms)
        if self.categories:
            query["category"] = ",".join(self.categories)
        return query

    def to_search(self) -> str:
        return "?" + urlencode(self.to_query(), safe=",")


@dataclass
class ParsedFilters:
    filters: Filters
    notices: list[str] = field(default_factory=list)


def _parse_date(raw: object) -> dt.date | None:
    if raw is None or raw == "":
        return None
    text = str(raw).strip()[:10]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def _split_codes(raw: object) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, (list, tuple)):
        items: Iterable[object] = raw
    else:
        items = str(raw).split(",")
    return [str(item).strip().lower() for item in items if str(item).strip()]


def _parse_codes(
    raw: object, known: Iterable[str], label: str, notices: list[str]
) -> tuple[str, ...] | None:
    codes = _split_codes(raw)
    if not codes:
        return None
    known_set = set(known)
    valid = sorted({c for c in codes if _CODE_RE.match(c) and c in known_set})
    rejected = [c for c in codes if c not in valid]
    if rejected:
        shown = ", ".join(repr(c[:40]) for c in rejected[:3])
        notices.append(_(_UNKNOWN_CODES[label], codes=shown))
    if not valid or set(valid) == known_set:
        return None
    return tuple(valid)


def parse_filters(
    query: Mapping[str, object],
    *,
    today: dt.date,
    known_platforms: Iterable[str],
    known_categories: Iterable[str],
    default_days: int = DEFAULT_DAYS,
    calendar_today: dt.date | None = None,
) -> ParsedFilters:
    """Turn URL query values (or callback inputs) into valid :class:`Filters` plus notices.

    ``today`` anchors the default range (the last day with data); ``calendar_today`` (the real
    date in the business time zone, ``today`` when not given) anchors a ``preset``, which wins
    over ``start``/``end`` so a shared "last 7 days" link stays rolling."""
    notices: list[str] = []
    calendar_today = calendar_today or today
    preset = parse_preset(query.get("preset"))
    raw_preset = query.get("preset")
    if preset is None and raw_preset not in (None, ""):
        notices.append(
            _("Unknown date preset %(preset)s ignored.", preset=repr(str(raw_preset)[:40]))
        )
    if preset is not None:
        start, end = preset_range(preset, calendar_today)
    else:
        start, end = _parse_range(query, today, default_days, notices)
    latest = max(today, calendar_today) + dt.timedelta(days=LATEST_DAYS_AHEAD)
    if start < EARLIEST_DATE or end > latest:
        notices.append(
            _(
                "Dates before %(year)s or more than a year ahead were reset to the last "
                "%(days)s days with data.",
                year=format(EARLIEST_DATE, "%Y"),
                days=default_days,
            )
        )
        start, end = today - dt.timedelta(days=default_days - 1), today
        preset = None

    platforms = _parse_codes(query.get("platform"), known_platforms, "platform", notices)
    categories = _parse_codes(query.get("category"), known_categories, "category", notices)
    return ParsedFilters(Filters(start, end, platforms, categories, preset), notices)


def _parse_range(
    query: Mapping[str, object], today: dt.date, default_days: int, notices: list[str]
) -> tuple[dt.date, dt.date]:
    """``start``/``end`` of the query, completed from each other or the default range."""
    raw_start, raw_end = query.get("start"), query.get("end")
    start, end = _parse_date(raw_start), _parse_date(raw_end)
    for raw, parsed, name in ((raw_start, start, "start"), (raw_end, end, "end")):
        if raw not in (None, "") and parsed is None:
            notices.append(_(_INVALID_DATE[name], value=repr(str(raw)[:40]), days=default_days))
    if start is None and end is None:
        start, end = today - dt.timedelta(days=default_days - 1), today
    elif start is None:
        assert end is not None
        start = end - dt.timedelta(days=default_days - 1)
    elif end is None:
        end = max(start, min(today, start + dt.timedelta(days=default_days - 1)))
    if start > end:
        start, end = end, start
        notices.append(_("The start date was after the end date; the two were swapped."))
    return start, end


def chart_points(start: dt.date, end: dt.date, granularity: str) -> int:
    """How many periods of ``granularity`` a chart of days ``start..end`` draws."""
    if granularity == "day":
        return (end - start).days + 1
    if granularity == "week":
        monday = start - dt.timedelta(days=start.weekday())
        return (end - monday).days // 7 + 1
    if granularity == "month":
        return (end.year - start.year) * 12 + end.month - start.month + 1
    return end.year - start.year + 1


def fit_granularity(start: dt.date, end: dt.date, granularity: str) -> tuple[str, str | None]:
    """``granularity``, or the finest coarser one that draws at most :data:`MAX_CHART_POINTS`
    periods over ``start..end``, with a note saying why it changed (None when it did not)."""
    wanted = granularity if granularity in GRANULARITIES else "day"
    chosen = wanted
    for grain in GRANULARITIES[GRANULARITIES.index(wanted) :]:
        chosen = grain
        if chart_points(start, end, grain) <= MAX_CHART_POINTS:
            break
    if chosen == wanted:
        return wanted, None
    return chosen, (
        f"Shown per {chosen}: per {wanted} the range would draw "
        f"{chart_points(start, end, wanted):,} points."
    )


def parse_granularity(raw: object) -> str:
    value = str(raw or "").strip().lower()
    return value if value in GRANULARITIES else "day"


def parse_statuses(raw: object) -> tuple[tuple[str, ...] | None, list[str]]:
    """The Sales page's ``status`` URL parameter (or a callback value) as known order status
    codes, in lifecycle order, plus notices.

    Accepts ``"paid,shipped"`` or a list; unknown values are dropped with a notice, and a
    selection of every status means no filter (None), like the global filter's codes.
    """
    if raw is None:
        items: Iterable[object] = []
    elif isinstance(raw, (list, tuple)):
        items = raw
    else:
        items = str(raw).split(",")
    codes = [str(item).strip().lower() for item in items if str(item).strip()]
    valid = tuple(s for s in ORDER_STATUSES if s in codes)
    rejected = [c for c in dict.fromkeys(codes) if c not in ORDER_STATUSES]
    notices = []
    if rejected:
        notices.append(
            _(
                "Unknown order status %(codes)s ignored.",
                codes=", ".join(repr(c[:40]) for c in rejected[:3]),
            )
        )
    if not valid or len(valid) == len(ORDER_STATUSES):
        return None, notices
    return valid, notices


# --- the filter bar's context: the parsed URL against the catalogue (reads the data layer) --------


@dataclass
class FilterContext:
    """Everything a page needs to draw the filter bar: parsed state, options and date bounds."""

    parsed: ParsedFilters
    platforms: list[dict] = field(default_factory=list)
    categories: list[dict] = field(default_factory=list)
    first_day: dt.date | None = None
    last_day: dt.date | None = None
    today: dt.date | None = None  # in the business time zone: what presets count from


def local_today() -> dt.date:
    """Today in the business time zone (``BI_TIMEZONE``) of the app in context: the same zone
    the roll-ups cut their days in (:func:`bi_app.db.periods.business_timezone`)."""
    return dt.datetime.now(ZoneInfo(business_timezone())).date()


def load_filter_context(query: Mapping[str, object]) -> FilterContext:
    """Parse ``query`` against the catalogue; the default range ends on the last day with data.

    If the catalogue cannot be read the bar still renders (without options) and says why.
    """
    notices: list[str] = []
    try:
        platforms, categories = catalog.platforms(), catalog.categories()
        bounds = catalog.data_bounds()
    except Exception:
        log.exception("filter options unavailable")
        platforms, categories, bounds = [], [], None
        notices.append(
            _("Filter options are unavailable right now; showing all platforms and categories.")
        )
    first, last = bounds if bounds else (None, None)
    today = local_today()
    parsed = parse_filters(
        query,
        today=last or today,
        known_platforms=[p["code"] for p in platforms],
        known_categories=[c["code"] for c in categories],
        calendar_today=today,
    )
    parsed.notices[:0] = notices
    return FilterContext(parsed, platforms, categories, first, last, today)


def raw_query(
    start: object, end: object, platforms: object, categories: object
) -> dict[str, object]:
    """The browser's filter values in the shape :func:`parse_filters` reads from a URL."""
    return {"start": start, "end": end, "platform": platforms, "category": categories}


def resolve_filters(start: object, end: object, platforms: object, categories: object) -> Filters:
    """Re-validate what a callback received: nothing outside the known options reaches SQL."""
    return load_filter_context(raw_query(start, end, platforms, categories)).parsed.filters
