"""The Treasury page: its window (a date range in the URL), KPI cards, recommendations, the flow
of funds, volume over time with its pattern, the top counterparties and the unusual
transactions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.i18n import N_, _
from bi_app.viewer import Viewer
from components.chart_card import chart_card, column, graph
from components.data_grid import data_grid
from components.ids import Treasury
from components.kpi_card import kpi_placeholders
from components.notice import notice
from components.treasury_figures import CapacityIds, counterparty_columns, findings_grid

DEFAULT_DAYS = 7
MAX_DAYS = 366  # as bi_app.data.treasury.MAX_DAYS
EARLIEST = dt.date(1900, 1, 1)
KPI_LABELS = (
    N_("Total balance"),
    N_("Hot"),
    N_("Warm"),
    N_("Cold storage"),
    N_("Inflow"),
    N_("Outflow"),
    N_("Net flow"),
    N_("Average daily withdrawals"),
)


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date
    notices: list[str] = field(default_factory=list)


def _date(raw: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(raw).strip()[:10])
    except ValueError:
        return None


def parse_window(query: Mapping[str, object], latest: dt.date) -> Window:
    """``start``/``end`` of the URL as a window of local days; missing values default to the
    last :data:`DEFAULT_DAYS` days ending ``latest`` (the last day with data), invalid ones too,
    with a notice. Swapped dates are put in order; a window longer than :data:`MAX_DAYS` is cut
    to its last days."""
    notices: list[str] = []
    raw_start, raw_end = query.get("start"), query.get("end")
    start = _date(raw_start) if raw_start not in (None, "") else None
    end = _date(raw_end) if raw_end not in (None, "") else None
    bad = [
        raw
        for raw, parsed in ((raw_start, start), (raw_end, end))
        if raw not in (None, "") and parsed is None
    ]
    if (start and start < EARLIEST) or (end and end < EARLIEST):
        bad.append(raw_start if start and start < EARLIEST else raw_end)
        start = end = None
    if bad:
        notices.append(
            _(
                "Invalid date %(value)s; showing the last %(days)s days.",
                value=repr(str(bad[0])[:40]),
                days=DEFAULT_DAYS,
            )
        )
        start = end = None
    default_start = latest - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start is None and end is None:
        start, end = default_start, latest
    elif start is None:
        assert end is not None
        start = end - dt.timedelta(days=DEFAULT_DAYS - 1)
    elif end is None:
        end = max(start, min(latest, start + dt.timedelta(days=DEFAULT_DAYS - 1)))
    if start > end:
        start, end = end, start
        notices.append(_("The start date was after the end date; the two were swapped."))
    if (end - start).days + 1 > MAX_DAYS:
        start = end - dt.timedelta(days=MAX_DAYS - 1)
        notices.append(
            _(
                "The window is limited to %(days)s days; showing the last %(days)s days up "
                "to the end date.",
                days=MAX_DAYS,
            )
        )
    return Window(start, end, notices)


def _window_control(window: Window) -> html.Div:
    return html.Div(
        [
            dbc.Label(_("Window"), html_for=Treasury.DATE_RANGE, className="small mb-1 d-block"),
            dcc.DatePickerRange(
                id=Treasury.DATE_RANGE,
                start_date=window.start.isoformat(),
                end_date=window.end.isoformat(),
                min_date_allowed=EARLIEST.isoformat(),
                display_format="YYYY-MM-DD",
                first_day_of_week=1,
                minimum_nights=0,
                className="app-date-range",
            ),
            notice(window.notices, Treasury.NOTICE),
            html.Div(id=Treasury.URL_DUMMY, hidden=True),
        ],
        className="app-filter-bar mb-3",
        role="search",
        **{"aria-label": _("Window")},
    )


def layout(query: Mapping[str, object], latest: dt.date, currency: str, viewer: Viewer) -> html.Div:
    """The whole Treasury page; its cards, charts and grid are filled by the page's callbacks.
    ``latest``: the last day with data (the default window ends there); ``currency``: the one
    the treasury accounts are summed in."""
    window = parse_window(query, latest)
    return html.Div(
        [
            html.H1(_("Treasury"), className="app-page-title mb-1"),
            html.P(
                _(
                    "Balances are at the end of the window's last day; inflow and outflow are "
                    "money from and to outside (internal transfers between accounts are left "
                    "out). Times are in %(timezone)s.",
                    timezone=viewer.timezone,
                ),
                className="text-body-secondary small",
            ),
            _window_control(window),
            dcc.Store(id=Treasury.CURRENCY_STORE, data=currency),
            dbc.Row(kpi_placeholders(KPI_LABELS), id=Treasury.KPI_ROW, className="g-3 mb-1"),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Flow of funds"),
                            graph(Treasury.FLOW_GRAPH, height=380),
                            message_id=Treasury.FLOW_MESSAGE,
                        ),
                        8,
                    ),
                    column(
                        chart_card(
                            _("Recommendations"),
                            html.Div(id=Treasury.RECOMMENDATIONS),
                        ),
                        4,
                    ),
                ]
            ),
            capacity_row(),
            dbc.Row(
                column(
                    chart_card(
                        _("Volume over time"),
                        html.Div(
                            [
                                html.Div(id=Treasury.PATTERN, className="mb-2"),
                                graph(Treasury.VOLUME_GRAPH, height=300),
                            ]
                        ),
                        message_id=Treasury.VOLUME_MESSAGE,
                    ),
                    12,
                )
            ),
            html.Div(id=Treasury.GRID_MESSAGE),
            data_grid(
                Treasury.GRID_NAME,
                counterparty_columns(),
                [],
                title=_("Top counterparties"),
                height=520,
                currency=currency,
                can_download=viewer.can_download,
            ),
            html.Div(id=Treasury.FINDINGS_MESSAGE),
            findings_grid(currency, viewer.timezone, viewer.can_download),
        ],
        className="app-page app-treasury",
        id=Treasury.PAGE,
    )


CAPACITY_REFRESH_MS = 300_000  # as often as the sampling job records a level


def capacity_row() -> dbc.Row:
    """The capacity gauge: the level of the consumable resource (transaction energy), its
    facts and its level over the last days with the forecast; filled by a callback, refreshed
    every 5 minutes."""
    body = dbc.Row(
        [
            dbc.Col(graph(CapacityIds.GAUGE, height=240), xs=12, md=4),
            dbc.Col(html.Div(id=CapacityIds.FACTS), xs=12, md=3),
            dbc.Col(graph(CapacityIds.GRAPH, height=240), xs=12, md=5),
        ],
        className="g-3",
    )
    return dbc.Row(
        column(
            chart_card(
                _("Capacity: transaction energy"),
                html.Div(
                    [body, dcc.Interval(id=CapacityIds.INTERVAL, interval=CAPACITY_REFRESH_MS)]
                ),
                message_id=CapacityIds.MESSAGE,
                card_id=CapacityIds.CARD,
            ),
            12,
        )
    )


def picked_window(start: object, end: object) -> Window | None:
    """The window the date picker sends, re-validated as the URL is (Dash passes any value
    through); None when a date is missing or unreadable."""
    first, last = _date(start), _date(end)
    if first is None or last is None:
        return None
    return parse_window({"start": first.isoformat(), "end": last.isoformat()}, last)
