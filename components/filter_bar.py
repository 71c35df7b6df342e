"""The global filter bar (dates, platforms, categories) and the glue between it and the URL.

Business pages call :func:`load_filter_context` with their query in ``layout(**query)`` and
render :func:`filter_bar`; their callbacks take :func:`filter_inputs` and turn the raw browser
values back into safe :class:`~bi_app.filters.Filters` with :func:`resolve_filters`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import dash_bootstrap_components as dbc
from dash import Input, dcc, html

from bi_app.filters import EARLIEST_DATE, ParsedFilters, parse_filters
from bi_app.filters import Filters as FilterValues
from components.ids import Filters
from components.notice import notice

log = logging.getLogger(__name__)
FILTER_KEYS = ("start", "end", "platform", "category")


@dataclass
class FilterContext:
    """Everything a page needs to draw the filter bar: parsed state, options and date bounds."""

    parsed: ParsedFilters
    platforms: list[dict] = field(default_factory=list)
    categories: list[dict] = field(default_factory=list)
    first_day: dt.date | None = None
    last_day: dt.date | None = None


def _local_today() -> dt.date:
    from zoneinfo import ZoneInfo

    from bi_app import current_settings

    return dt.datetime.now(ZoneInfo(current_settings().timezone)).date()


def load_filter_context(query: Mapping[str, object]) -> FilterContext:
    """Parse ``query`` against the catalogue; the default range ends on the last day with data.

    If the catalogue cannot be read the bar still renders (without options) and says why.
    """
    from bi_app.data import catalog

    notices: list[str] = []
    try:
        platforms, categories = catalog.platforms(), catalog.categories()
        bounds = catalog.data_bounds()
    except Exception:
        log.exception("filter options unavailable")
        platforms, categories, bounds = [], [], None
        notices.append(
            "Filter options are unavailable right now; showing all platforms and categories."
        )
    first, last = bounds if bounds else (None, None)
    parsed = parse_filters(
        query,
        today=last or _local_today(),
        known_platforms=[p["code"] for p in platforms],
        known_categories=[c["code"] for c in categories],
    )
    parsed.notices[:0] = notices
    return FilterContext(parsed, platforms, categories, first, last)


def raw_query(
    start: object, end: object, platforms: object, categories: object
) -> dict[str, object]:
    """The browser's filter values in the shape :func:`parse_filters` reads from a URL."""
    return {"start": start, "end": end, "platform": platforms, "category": categories}


def resolve_filters(
    start: object, end: object, platforms: object, categories: object
) -> FilterValues:
    """Re-validate what a callback received: nothing outside the known options reaches SQL."""
    return load_filter_context(raw_query(start, end, platforms, categories)).parsed.filters


def filter_inputs() -> list[Input]:
    """The four inputs every business callback listens to, in ``resolve_filters`` order."""
    return [
        Input(Filters.DATE_RANGE, "start_date"),
        Input(Filters.DATE_RANGE, "end_date"),
        Input(Filters.PLATFORM, "value"),
        Input(Filters.CATEGORY, "value"),
    ]


def query_search(query: Mapping[str, object], parsed: ParsedFilters) -> str:
    """The search string the sidebar carries to other business pages: the validated filters,
    or nothing when the URL had no filter (so a plain link keeps meaning "the latest days")."""
    if not any(query.get(k) not in (None, "") for k in FILTER_KEYS):
        return ""
    return parsed.filters.to_search()


def _options(items: Sequence[dict]) -> list[dict]:
    return [{"label": str(i["name"]), "value": str(i["code"])} for i in items]


def filter_bar(
    parsed: ParsedFilters,
    platforms: Sequence[dict],
    categories: Sequence[dict],
    *,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    search: str = "",
) -> html.Div:
    """The bar itself; its state is ``parsed`` and every change is written back to the URL."""
    f = parsed.filters
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label("Dates", html_for=Filters.DATE_RANGE, className="small mb-1"),
                            dcc.DatePickerRange(
                                id=Filters.DATE_RANGE,
                                start_date=f.start.isoformat(),
                                end_date=f.end.isoformat(),
                                min_date_allowed=(first_day or EARLIEST_DATE).isoformat(),
                                max_date_allowed=last_day.isoformat() if last_day else None,
                                display_format="YYYY-MM-DD",
                                first_day_of_week=1,
                                minimum_nights=0,
                                className="app-date-range",
                            ),
                        ],
                        xs=12,
                        md="auto",
                    ),
                    dbc.Col(
                        [
                            dbc.Label(
                                "Platforms", html_for=Filters.PLATFORM, className="small mb-1"
                            ),
                            dcc.Dropdown(
                                id=Filters.PLATFORM,
                                options=_options(platforms),
                                value=list(f.platforms or []),
                                multi=True,
                                placeholder="All platforms",
                                className="app-filter-dropdown",
                            ),
                        ],
                        xs=12,
                        md=True,
                    ),
                    dbc.Col(
                        [
                            dbc.Label(
                                "Categories", html_for=Filters.CATEGORY, className="small mb-1"
                            ),
                            dcc.Dropdown(
                                id=Filters.CATEGORY,
                                options=_options(categories),
                                value=list(f.categories or []),
                                multi=True,
                                placeholder="All categories",
                                className="app-filter-dropdown",
                            ),
                        ],
                        xs=12,
                        md=True,
                    ),
                ],
                className="g-3 align-items-end",
            ),
            notice(parsed.notices, Filters.NOTICE),
            dcc.Store(id=Filters.STATE_STORE, data=search),
        ],
        className="app-filter-bar mb-3",
        role="search",
        **{"aria-label": "Filters"},
    )
