"""The Forecasts page: a series, a horizon and (for revenue and orders) a platform or a category
(all in the URL), the stored forecast's chart with its 80 % band, the backtest's quality beside
the seasonal-naive baseline's, plain-language insights, the recent deviation findings, and "Refit
now" for the roles that may run jobs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
import pandas as pd
from dash import dcc, html

from bi_app import forecasting as fc
from bi_app.i18n import (
    N_,
    _,
    currency_decimals,
    format_date,
    format_datetime,
    format_number,
    format_percent,
)
from bi_app.i18n import format_money as money
from components.chart_card import chart_card, column, graph
from components.figures import (
    GRID_COLOR,
    PRIMARY,
    base_layout,
    empty_figure,
    figure,
    iso_times,
    money_axis,
)
from components.ids import Forecasts
from components.notice import notice

DEVIATION_DAYS = 30  # how far back "Recent deviations" looks

DEFAULT_SERIES = "revenue"
DEFAULT_HORIZON = 30
FORECAST_COLOR = "#fd7e14"
BAND_COLOR = "rgba(253, 126, 20, 0.18)"
HORIZON_LABEL = N_("%(days)s days")
FILTER_LABELS = {"platform": N_("Platform"), "category": N_("Category")}
FILTER_ALL = {"platform": N_("All platforms"), "category": N_("All categories")}
FILTER_ONLY = {"platform": N_("Platform %(name)s only."), "category": N_("Category %(name)s only.")}


def parse_filters(
    query: Mapping[str, object], filters: list[Mapping[str, str]]
) -> tuple[str | None, str | None, list[str]]:
    """``platform`` and ``category`` codes of the URL, checked against the stored ``filters``
    (:func:`bi_app.data.forecasts.forecast_filters`); an unknown one is dropped with a notice,
    and only one of the two applies (the platform)."""
    notices: list[str] = []
    chosen: dict[str, str | None] = {}
    for kind in fc.FILTER_KINDS:
        raw = query.get(kind)
        code = str(raw) if raw not in (None, "") else None
        known = {f["code"] for f in filters if f["kind"] == kind}
        if code is not None and code not in known:
            notices.append(
                _(
                    "No forecast is stored for %(kind)s %(value)s; showing all.",
                    kind=_(FILTER_LABELS[kind]).lower(),
                    value=repr(code[:40]),
                )
            )
            code = None
        chosen[kind] = code
    if chosen["platform"] and chosen["category"]:
        notices.append(
            _("Forecasts are by platform or by category, not both; showing the platform.")
        )
        chosen["category"] = None
    return chosen["platform"], chosen["category"], notices


def picked_filter(series: str, platform: object, category: object) -> str | None:
    """The stored filter key the controls pick (None: the totals). Only revenue and orders are
    filtered; a platform wins over a category (the page clears the other on a change)."""
    if series not in fc.FILTERED_SERIES:
        return None
    for kind, code in (("platform", platform), ("category", category)):
        if isinstance(code, str) and code.strip():
            return fc.filter_key(kind, code.strip()[:120])
    return None


def parse_query(query: Mapping[str, object]) -> tuple[str, int, list[str]]:
    """``series`` and ``horizon`` of the URL; unknown values fall back with a notice."""
    notices: list[str] = []
    series = str(query.get("series") or DEFAULT_SERIES)
    if series not in fc.SERIES:
        notices.append(
            _("Unknown series %(value)s; showing daily revenue.", value=repr(series[:40]))
        )
        series = DEFAULT_SERIES
    raw = query.get("horizon")
    try:
        horizon = int(str(raw)) if raw not in (None, "") else DEFAULT_HORIZON
    except ValueError:
        horizon = -1
    if horizon not in fc.HORIZONS:
        notices.append(
            _(
                "Unknown horizon %(value)s; showing %(days)s days.",
                value=repr(str(raw)[:40]),
                days=DEFAULT_HORIZON,
            )
        )
        horizon = DEFAULT_HORIZON
    return series, horizon, notices


def picked(series: object, horizon: object) -> tuple[str, int] | None:
    """The controls' values re-validated (Dash passes anything through); None: unusable."""
    try:
        days = int(str(horizon))
    except ValueError:
        return None
    if series not in fc.SERIES or days not in fc.HORIZONS:
        return None
    return str(series), days


def _value_text(value: float, series: str, currency: str) -> str:
    if series == "revenue":
        return money(round(value * 10 ** currency_decimals(currency)), currency)
    return format_number(value, digits=1)


def forecast_figure(points: pd.DataFrame, series: str, horizon: int, currency: str) -> dict:
    """History (actuals) and the forecast's first ``horizon`` days with the 80 % band as a filled
    area; the history shown is ``max(60, 3 × horizon)`` days."""
    if points is None or points.empty:
        return empty_figure(_("No forecast is stored yet"))
    history = points[points["actual"].notna()]
    ahead = points[points["actual"].isna()].head(horizon)
    history = history.tail(max(60, 3 * horizon))
    days = iso_times(pd.to_datetime(ahead["day"]))
    name = _(fc.SERIES_LABELS[series])
    traces = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": days + days[::-1],
            "y": list(ahead["yhat_upper"]) + list(ahead["yhat_lower"])[::-1],
            "fill": "toself",
            "fillcolor": BAND_COLOR,
            "line": {"width": 0},
            "hoverinfo": "skip",
            "name": _("Interval (80 %)"),
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": iso_times(pd.to_datetime(history["day"])),
            "y": list(history["actual"]),
            "line": {"color": PRIMARY, "width": 1.5},
            "name": _("Actual"),
            "hovertemplate": "%{x|%Y-%m-%d}: %{y:,.0f}<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": days,
            "y": list(ahead["yhat"]),
            "line": {"color": FORECAST_COLOR, "width": 2, "dash": "dot"},
            "name": _("Forecast"),
            "customdata": [
                [_value_text(lo, series, currency), _value_text(hi, series, currency)]
                for lo, hi in zip(ahead["yhat_lower"], ahead["yhat_upper"], strict=True)
            ],
            "hovertemplate": "%{x|%Y-%m-%d}: %{y:,.0f} (%{customdata[0]} – %{customdata[1]})"
            "<extra></extra>",
        },
    ]
    yaxis = (
        money_axis(currency)
        if series == "revenue"
        else {"gridcolor": GRID_COLOR, "zeroline": False, "rangemode": "tozero"}
    )
    layout = base_layout(yaxis=yaxis, hovermode="x unified")
    layout["meta"] = {"name": name}
    if days:  # where the fit ends and the forecast begins
        layout["shapes"] = [
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": days[0],
                "x1": days[0],
                "y0": 0,
                "y1": 1,
                "line": {"color": GRID_COLOR, "width": 1, "dash": "dash"},
            }
        ]
        layout["annotations"] = [
            {
                "x": days[0],
                "y": 1,
                "xref": "x",
                "yref": "paper",
                "text": _("Forecast from %(day)s", day=format_date(ahead["day"].iloc[0])),
                "showarrow": False,
                "xanchor": "right",
                "yanchor": "bottom",
                "font": {"size": 11},
            }
        ]
    return figure(traces, layout)


def quality_card_body(quality: Mapping[str, Any]) -> html.Div:
    """The backtest's MAPE and coverage beside the baseline's, with the verdict."""
    model, base, cover = quality.get("mape"), quality.get("baseline_mape"), quality.get("coverage")
    rows = [
        (_("Backtest MAPE"), format_percent(model, digits=1) if model is not None else "–"),
        (
            _("Seasonal-naive MAPE"),
            format_percent(base, digits=1) if base is not None else "–",
        ),
        (
            _("Interval coverage (80 %)"),
            format_percent(cover, digits=0) if cover is not None else "–",
        ),
    ]
    verdict = fc.quality_sentences(dict(quality))
    good = bool(quality.get("beats_baseline")) and bool(quality.get("coverage_ok"))
    origins = quality.get("origins") or []
    return html.Div(
        [
            html.Dl(
                [item for label, value in rows for item in (html.Dt(label), html.Dd(value))],
                className="app-quality-list mb-2",
            ),
            dbc.Alert(
                [html.Div(line) for line in verdict],
                color="success" if good else "warning",
                className="small mb-2",
            ),
            html.P(
                _(
                    "Rolling-origin backtest: %(origins)s origins, %(days)s days ahead each; "
                    "the baseline repeats the last week before each origin. Targets: MAPE at "
                    "most 0.8 × the baseline's, coverage between 75 %% and 85 %%.",
                    origins=len(origins),
                    days=quality.get("horizon", fc.BACKTEST_HORIZON),
                ),
                className="text-body-secondary small mb-0",
            ),
        ]
    )


def insights_body(points: pd.DataFrame, series: str, horizon: int) -> html.Ul:
    """The plain-language insights of the forecast's first ``horizon`` days."""
    history = [(d, float(v)) for d, v in points[points["actual"].notna()][["day", "actual"]].values]
    ahead = [(d, float(v)) for d, v in points[points["actual"].isna()][["day", "yhat"]].values]
    found = fc.insights(history, ahead, horizon)
    return html.Ul([html.Li(line) for line in fc.insight_sentences(found, series, horizon)])


def status_text(found: Mapping[str, Any] | None, filtered: bool = False) -> str:
    """What the page says about the stored runs: fit time, or why there is no forecast
    (``filtered``: a platform or category is chosen)."""
    if found is None and filtered:
        return _(
            "No forecast is stored for this platform or category: its sales history is too short "
            "or too sparse to fit."
        )
    if found is None:
        return _("The forecast job has not run yet. Use Refit now, or wait for its nightly run.")
    run, latest = found.get("run"), found["latest"]
    parts = []
    narrowed = fc.parse_filter_key(latest.get("filter_key"))
    if narrowed is not None:
        label = (run or latest)["params"].get("filter_label") or narrowed[1]
        parts.append(_(FILTER_ONLY[narrowed[0]], name=label))
    if run is not None:
        parts.append(
            _(
                "Fitted %(when)s on %(start)s – %(end)s; holidays of %(country)s.",
                when=format_datetime(_utc(run["fitted_at"])),
                start=format_date(run["history_start"]),
                end=format_date(run["history_end"]),
                country=fc.country_name(run["params"].get("country", "")),
            )
        )
    if latest["status"] == "insufficient_history":
        parts.append(
            _(
                "The last fit found too little history: at least %(days)s days of sales are "
                "needed.",
                days=fc.MIN_HISTORY_DAYS,
            )
        )
    elif latest["status"] == "failed":
        parts.append(_("The last fit failed; the forecast shown is the previous one."))
    return " ".join(parts)


def _utc(value: Any) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def forecast_view(
    found: Mapping[str, Any] | None,
    series: str,
    horizon: int,
    currency: str,
    filtered: bool = False,
) -> tuple[dict, Any, Any, str]:
    """Figure, quality card body, insights and the status line of a stored forecast."""
    text = status_text(found, filtered)
    if found is None or found.get("run") is None:
        message = text or _("No forecast is stored yet")
        return empty_figure(message), html.P(message), html.P(message), text
    run, points = found["run"], found["points"]
    return (
        forecast_figure(points, series, horizon, currency),
        quality_card_body(run["quality"]),
        insights_body(points, series, horizon),
        text,
    )


def deviations_table(rows: list[Mapping[str, Any]], currency: str) -> Any:
    """ "Recent deviations": the days whose actual fell outside the 80 % band of the forecast made
    before them, newest first (series, day, actual, expected, band, % off)."""
    if not rows:
        return html.P(
            _(
                "No day of the last %(days)s fell outside its forecast's 80 %% band.",
                days=DEVIATION_DAYS,
            ),
            className="text-body-secondary small mb-0",
        )
    head = html.Thead(
        html.Tr(
            [
                html.Th(_("Series")),
                html.Th(_("Day")),
                html.Th(_("Actual"), className="text-end"),
                html.Th(_("Expected"), className="text-end"),
                html.Th(_("Band (80 %)"), className="text-end"),
                html.Th(_("Deviation (%)"), className="text-end"),
            ]
        )
    )
    body = []
    for row in rows:
        series = row["series"]
        off = row.get("off_pct")
        above = row["actual"] > row["upper"]
        body.append(
            html.Tr(
                [
                    html.Td(_(fc.SERIES_LABELS.get(series, series))),
                    html.Td(format_date(row["day"])),
                    html.Td(_value_text(row["actual"], series, currency), className="text-end"),
                    html.Td(_value_text(row["expected"], series, currency), className="text-end"),
                    html.Td(
                        _(
                            "%(lower)s – %(upper)s",
                            lower=_value_text(row["lower"], series, currency),
                            upper=_value_text(row["upper"], series, currency),
                        ),
                        className="text-end",
                    ),
                    html.Td(
                        _signed_percent(off),
                        className="text-end " + ("text-success" if above else "text-danger"),
                    ),
                ]
            )
        )
    return dbc.Table(
        [head, html.Tbody(body)], size="sm", hover=True, className="mb-0 app-deviations"
    )


def deviations_since() -> dt.date:
    """The first day "Recent deviations" shows (:data:`DEVIATION_DAYS` back from today)."""
    from bi_app.filters import local_today

    return local_today() - dt.timedelta(days=DEVIATION_DAYS)


def _signed_percent(value: float | None) -> str:
    if value is None:
        return "–"
    text = format_percent(value, digits=1)
    return "+" + text if value > 0 else text


def refit_progress_text(progress: Mapping[str, Any]) -> str:
    return _(
        "Fitting the forecasts: %(done)s of %(total)s series done…",
        done=progress["done"],
        total=progress["total"],
    )


def _filter_dropdown(
    kind: str, component_id: str, filters: list[Mapping[str, str]], value: str | None, on: bool
) -> html.Div:
    options = [{"label": f["label"], "value": f["code"]} for f in filters if f["kind"] == kind]
    return html.Div(
        [
            dbc.Label(_(FILTER_LABELS[kind]), html_for=component_id, className="small mb-1"),
            dcc.Dropdown(
                id=component_id,
                options=options,
                value=value,
                placeholder=_(FILTER_ALL[kind]),
                clearable=True,
                disabled=not on,
                style={"minWidth": "12rem"},
            ),
        ],
        className="me-3",
    )


def _controls(
    series: str,
    horizon: int,
    filters: list[Mapping[str, str]],
    platform: str | None,
    category: str | None,
) -> html.Div:
    on = series in fc.FILTERED_SERIES
    return html.Div(
        [
            html.Div(
                [
                    dbc.Label(_("Series"), html_for=Forecasts.SERIES, className="small mb-1"),
                    dbc.RadioItems(
                        id=Forecasts.SERIES,
                        options=[{"label": _(fc.SERIES_LABELS[s]), "value": s} for s in fc.SERIES],
                        value=series,
                        inline=True,
                    ),
                ],
                className="me-4",
            ),
            html.Div(
                [
                    dbc.Label(_("Horizon"), html_for=Forecasts.HORIZON, className="small mb-1"),
                    dbc.RadioItems(
                        id=Forecasts.HORIZON,
                        options=[
                            {"label": _(HORIZON_LABEL, days=d), "value": d} for d in fc.HORIZONS
                        ],
                        value=horizon,
                        inline=True,
                    ),
                ],
                className="me-4",
            ),
            _filter_dropdown("platform", Forecasts.PLATFORM, filters, platform, on),
            _filter_dropdown("category", Forecasts.CATEGORY, filters, category, on),
            html.Div(id=Forecasts.URL_DUMMY, hidden=True),
        ],
        className="app-filter-bar mb-3 d-flex flex-wrap",
        role="search",
        **{"aria-label": _("Forecast")},
    )


def layout(
    query: Mapping[str, object],
    can_refit: bool,
    country: str,
    filters: list[Mapping[str, str]] | None = None,
) -> html.Div:
    """The whole Forecasts page; the chart and cards are filled by the page's callbacks.
    ``country``: the ISO code of the holidays the model knows; ``filters``: the platforms and
    categories with a stored forecast (:func:`bi_app.data.forecasts.forecast_filters`)."""
    series, horizon, notices = parse_query(query)
    filters = list(filters or [])
    platform, category, more = parse_filters(query, filters)
    notices += more
    refit = []
    if can_refit:
        refit = [
            dbc.Button(
                _("Refit now"),
                id=Forecasts.REFIT,
                color="secondary",
                outline=True,
                size="sm",
                className="mb-2",
            ),
            dcc.Store(id=Forecasts.REFIT_RUN_STORE),
            dcc.Interval(id=Forecasts.REFIT_POLL, interval=2000, disabled=True),
            dbc.Alert(id=Forecasts.REFIT_MESSAGE, is_open=False, className="small"),
        ]
    return html.Div(
        [
            html.H1(_("Forecasts"), className="app-page-title mb-1"),
            html.P(
                _(
                    "Prophet forecasts of the daily series with weekly and yearly seasonality "
                    "and the public holidays of %(country)s, fitted every night (the page never "
                    "waits on a fit). The band is the 80 %% interval.",
                    country=fc.country_name(country),
                ),
                className="text-body-secondary small",
            ),
            notice(notices, Forecasts.NOTICE),
            _controls(series, horizon, filters, platform, category),
            *refit,
            dcc.Store(id=Forecasts.REFRESH_STORE, data=0),
            html.P(id=Forecasts.FITTED, className="small text-body-secondary"),
            dbc.Row(
                [
                    column(
                        chart_card(
                            _("Forecast"),
                            graph(Forecasts.GRAPH, height=380),
                            message_id=Forecasts.MESSAGE,
                        ),
                        8,
                    ),
                    column(
                        html.Div(
                            [
                                chart_card(_("Quality"), html.Div(id=Forecasts.QUALITY)),
                                html.Div(className="mb-3"),
                                chart_card(_("Insights"), html.Div(id=Forecasts.INSIGHTS)),
                            ]
                        ),
                        4,
                    ),
                ]
            ),
            html.Div(className="mb-3"),
            chart_card(
                _("Recent deviations"),
                html.Div(
                    [
                        html.P(
                            _(
                                "Days of the last %(days)s whose actual value fell outside the "
                                "80 %% band of the forecast made before the day (totals).",
                                days=DEVIATION_DAYS,
                            ),
                            className="text-body-secondary small",
                        ),
                        html.Div(id=Forecasts.DEVIATIONS),
                    ]
                ),
            ),
        ],
        className="app-page app-forecasts",
        id=Forecasts.PAGE,
    )
