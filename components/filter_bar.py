"""The global filter bar (dates, platforms, categories) and the glue between it and the URL.

Business pages load a :class:`bi_app.filters.FilterContext` for their query and render
:func:`filter_bar`; their callbacks take :func:`filter_inputs` and turn the raw browser values
back into safe :class:`~bi_app.filters.Filters` with :func:`bi_app.filters.resolve_filters`.
Everything here is a pure builder.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import Input, dcc, html

from bi_app import date_presets
from bi_app.filters import EARLIEST_DATE, FilterContext, ParsedFilters
from bi_app.i18n import _
from components.ids import FilterBar
from components.notice import notice

log = logging.getLogger(__name__)
FILTER_KEYS = ("preset", "start", "end", "platform", "category")


def filter_inputs() -> list[Input]:
    """The four inputs every business callback listens to, in ``resolve_filters`` order."""
    return [
        Input(FilterBar.DATE_RANGE, "start_date"),
        Input(FilterBar.DATE_RANGE, "end_date"),
        Input(FilterBar.PLATFORM, "value"),
        Input(FilterBar.CATEGORY, "value"),
    ]


def query_search(query: Mapping[str, object], parsed: ParsedFilters) -> str:
    """The search string the sidebar carries to other business pages: the validated filters,
    or nothing when the URL had no filter (so a plain link keeps meaning "the latest days")."""
    if not any(query.get(k) not in (None, "") for k in FILTER_KEYS):
        return ""
    return parsed.filters.to_search()


def _options(items: Sequence[dict]) -> list[dict]:
    return [{"label": str(i["name"]), "value": str(i["code"])} for i in items]


def _preset_options() -> list[dict]:
    """The date presets, their labels in the request's language (the codes stay the values)."""
    return [{**o, "label": _(o["label"])} for o in date_presets.options()]


def _latest_allowed(last_day: dt.date | None, today: dt.date | None) -> dt.date | None:
    """The picker reaches the last day with data or the farthest day a preset reaches."""
    days = [d for d in (last_day, today and date_presets.latest_day(today)) if d]
    return max(days) if days else None


def filter_bar(
    parsed: ParsedFilters,
    platforms: Sequence[dict],
    categories: Sequence[dict],
    *,
    first_day: dt.date | None = None,
    last_day: dt.date | None = None,
    today: dt.date | None = None,
    search: str = "",
) -> html.Div:
    """The bar itself; its state is ``parsed`` and every change is written back to the URL."""
    f = parsed.filters
    latest = _latest_allowed(last_day, today)
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(
                        [
                            dbc.Label(
                                _("Period"), html_for=FilterBar.PRESET, className="small mb-1"
                            ),
                            dcc.Dropdown(
                                id=FilterBar.PRESET,
                                options=_preset_options(),
                                value=f.preset,
                                placeholder=_("Custom range"),
                                clearable=True,
                                searchable=False,
                                className="app-filter-preset",
                            ),
                        ],
                        xs=12,
                        md="auto",
                    ),
                    dbc.Col(
                        [
                            dbc.Label(
                                _("Dates"), html_for=FilterBar.DATE_RANGE, className="small mb-1"
                            ),
                            dcc.DatePickerRange(
                                id=FilterBar.DATE_RANGE,
                                start_date=f.start.isoformat(),
                                end_date=f.end.isoformat(),
                                min_date_allowed=(first_day or EARLIEST_DATE).isoformat(),
                                max_date_allowed=latest.isoformat() if latest else None,
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
                                _("Platforms"), html_for=FilterBar.PLATFORM, className="small mb-1"
                            ),
                            dcc.Dropdown(
                                id=FilterBar.PLATFORM,
                                options=_options(platforms),
                                value=list(f.platforms or []),
                                multi=True,
                                placeholder=_("All platforms"),
                                className="app-filter-dropdown",
                            ),
                        ],
                        xs=12,
                        md=True,
                    ),
                    dbc.Col(
                        [
                            dbc.Label(
                                _("Categories"), html_for=FilterBar.CATEGORY, className="small mb-1"
                            ),
                            dcc.Dropdown(
                                id=FilterBar.CATEGORY,
                                options=_options(categories),
                                value=list(f.categories or []),
                                multi=True,
                                placeholder=_("All categories"),
                                className="app-filter-dropdown",
                            ),
                        ],
                        xs=12,
                        md=True,
                    ),
                ],
                className="g-3 align-items-end",
            ),
            notice(parsed.notices, FilterBar.NOTICE),
            dcc.Store(id=FilterBar.STATE_STORE, data=search),
        ],
        className="app-filter-bar mb-3",
        role="search",
        **{"aria-label": _("Filters")},
    )


def filter_bar_for(ctx: FilterContext, query: Mapping[str, object]) -> html.Div:
    """The filter bar of a business page, from its loaded context and its URL query."""
    return filter_bar(
        ctx.parsed,
        ctx.platforms,
        ctx.categories,
        first_day=ctx.first_day,
        last_day=ctx.last_day,
        today=ctx.today,
        search=query_search(query, ctx.parsed),
    )
