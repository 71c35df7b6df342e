"""The attendance forecast: the form on the Events page and the forecast card it and a planned
event's page show (data in, Dash components out)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import dash_bootstrap_components as dbc
from babel.dates import get_day_names
from dash import dcc, html

from bi_app import i18n
from bi_app.i18n import N_, _
from components.chart_card import chart_card
from components.format import format_money
from components.ids import AttendanceForecast

Ids = AttendanceForecast

INCENTIVE_LABELS = {
    "early_bird": N_("Early-bird price"),
    "giveaway": N_("Giveaway"),
    "raffle": N_("Raffle"),
}
SEASONS = (N_("Winter"), N_("Spring"), N_("Summer"), N_("Autumn"))
FACTOR_LABELS = {
    "kind": N_("Event type: %(value)s"),
    "dow": N_("Day of week: %(value)s"),
    "hour": N_("Start hour: %(value)s"),
    "season": N_("Season: %(value)s"),
    "holiday": N_("Public holiday: %(value)s"),
    "duration_hours": N_("Duration: %(value)s hours"),
    "capacity": N_("Capacity: %(value)s seats"),
    "ticket_price": N_("Registration fee: %(value)s"),
    "online": N_("Online: %(value)s"),
    "advance_days": N_("Advance notice: %(value)s days"),
    "channels": N_("Marketing channels: %(value)s"),
    "organizer_history": N_("Organizer's past attendance: %(value)s of capacity"),
    "incentives": N_("Incentives: %(value)s (no past data, effect not estimated)"),
}
DIRECTIONS = {
    "positive": (N_("pushes up"), "success", "▲"),
    "negative": (N_("pushes down"), "danger", "▼"),
    "neutral": (N_("neutral"), "secondary", "●"),
}
RECOMMENDATIONS = {
    "over_capacity": N_(
        "The forecast may exceed the %(capacity)s seats: book a bigger venue or open a waitlist."
    ),
    "low_fill": N_(
        "Only about %(share)s of the seats are expected to be used: a smaller room saves cost, "
        "or promote more."
    ),
    "announce_earlier": N_(
        "Announce earlier: %(days)s days of notice leaves little time to fill the seats."
    ),
    "add_channel": N_(
        "Promote through more channels: %(channels)s in use; add one (e.g. email or a partner)."
    ),
    "review_fee": N_("The registration fee lowers the forecast: consider an early-bird price."),
    "other_day": N_("The day of the week lowers the forecast: consider another day."),
    "other_time": N_("The start time lowers the forecast: consider another hour."),
    "holiday": N_("The event falls on a public holiday: expect fewer people, or move it."),
    "add_incentive": N_(
        "Seats are likely to stay free: an incentive (early-bird price, giveaway, raffle) may "
        "help; past events hold no data to estimate its effect."
    ),
    "on_track": N_("No change suggested: the configuration looks like well-attended events."),
}


# --- the form ----------------------------------------------------------------------------------


def _field(label: str, control: Any, md: int = 3) -> dbc.Col:
    return dbc.Col(
        [dbc.Label(label, html_for=control.id, className="small mb-1"), control], xs=12, md=md
    )


def _number(component_id: str, value: Any, step: float, placeholder: str = "") -> dbc.Input:
    # no min/max: the browser would silently send None for an out-of-range value; the server
    # validates and says what is wrong
    return dbc.Input(
        id=component_id,
        type="number",
        value=value,
        step=step,
        size="sm",
        placeholder=placeholder,
    )


def form(
    kinds: list[str], organizers: list[str], currency: str, today: dt.date | None = None
) -> dbc.Card:
    """The "Forecast attendance" form and the place its forecast appears."""
    starts = dt.datetime.combine((today or dt.date.today()) + dt.timedelta(days=30), dt.time(10))
    kind_options = [{"label": k.replace("_", " "), "value": k} for k in kinds]
    organizer_options = [{"label": _("Unknown or new organizer"), "value": ""}] + [
        {"label": o, "value": o} for o in organizers
    ]
    fields = dbc.Row(
        [
            _field(
                _("Start (YYYY-MM-DD HH:MM)"),
                dbc.Input(id=Ids.STARTS, type="text", value=f"{starts:%Y-%m-%d %H:%M}", size="sm"),
            ),
            _field(
                _("Event type"),
                dbc.Select(
                    id=Ids.KIND,
                    options=kind_options,
                    value=kinds[0] if kinds else None,
                    size="sm",
                ),
            ),
            _field(_("Duration (hours)"), _number(Ids.DURATION, 3, 0.25)),
            _field(_("Capacity (seats)"), _number(Ids.CAPACITY, 200, 1)),
            _field(
                _("Registration fee (%(currency)s)", currency=currency),
                _number(Ids.FEE, 0, 0.01),
            ),
            _field(_("Marketing channels"), _number(Ids.CHANNELS, 3, 1)),
            _field(
                _("Days of advance notice"),
                _number(Ids.NOTICE, None, 1, _("from today")),
            ),
            _field(
                _("Organizer"),
                dbc.Select(id=Ids.ORGANIZER, options=organizer_options, value="", size="sm"),
            ),
            dbc.Col(
                dbc.Switch(id=Ids.ONLINE, label=_("Online event"), value=False),
                xs=12,
                md=3,
                className="pt-md-4",
            ),
            dbc.Col(
                [
                    dbc.Label(_("Incentives"), className="small mb-1"),
                    dbc.Checklist(
                        id=Ids.INCENTIVES,
                        options=[
                            {"label": _(label), "value": key}
                            for key, label in INCENTIVE_LABELS.items()
                        ],
                        value=[],
                        inline=True,
                    ),
                ],
                xs=12,
                md=6,
            ),
            dbc.Col(
                dbc.Button(_("Forecast attendance"), id=Ids.SUBMIT, color="primary", size="sm"),
                xs=12,
                md=3,
                className="pt-md-4",
            ),
        ],
        className="g-2 mb-3",
    )
    return chart_card(
        _("Forecast attendance for a planned event"),
        html.Div([fields, html.Div(id=Ids.RESULT, role="status")]),
    )


def event_card(event_id: int) -> dbc.Card:
    """The forecast card of a planned event's page; its callback fills it."""
    return chart_card(
        _("Attendance forecast"),
        html.Div(
            [
                dcc.Store(id=Ids.EVENT_STORE, data=event_id),
                html.Div(
                    _("Computing the forecast…"),
                    id=Ids.EVENT_RESULT,
                    role="status",
                    className="small text-body-secondary",
                ),
            ]
        ),
    )


# --- messages ----------------------------------------------------------------------------------


def input_problems(problems: dict[str, str]) -> dbc.Alert:
    """What is wrong with the form's input, one line a field."""
    return dbc.Alert(
        [
            html.Div(_("Check the input:"), className="fw-semibold"),
            html.Ul([html.Li(text) for text in problems.values()], className="mb-0"),
        ],
        color="warning",
        className="py-2 px-3 small mb-0 app-forecast-problems",
    )


def unavailable(message: str) -> dbc.Alert:
    """A forecast that cannot be made (no model yet, an unknown event type ...)."""
    return dbc.Alert(message, color="info", className="py-2 px-3 small mb-0 app-forecast-none")


def not_planned() -> html.Div:
    return html.Div(
        _("Only a planned event has an attendance forecast."), className="small text-body-secondary"
    )


# --- the forecast ------------------------------------------------------------------------------


def _value_text(key: str, value: Any, currency: str) -> str:
    if key == "kind":
        return str(value).replace("_", " ")
    if key == "dow":
        return str(get_day_names("wide", locale=i18n.current_locale())[int(value)])
    if key == "hour":
        return f"{int(value):02d}:00"
    if key == "season":
        return _(SEASONS[int(value)])
    if key in ("holiday", "online"):
        return _("yes") if value else _("no")
    if key == "ticket_price":
        return format_money(value, currency)
    if key == "organizer_history":
        return i18n.format_percent(value, digits=0)
    if key == "incentives":
        return ", ".join(_(INCENTIVE_LABELS[i]) for i in value) if value else _("none")
    digits = 1 if key == "duration_hours" and value != int(value) else 0
    return i18n.format_number(value, digits=digits)


def factor_badge(factor: Any, currency: str) -> html.Li:
    words, color, mark = DIRECTIONS[factor.direction]
    change = f" ({factor.effect * 100:+.0f} %)" if factor.direction != "neutral" else ""
    return html.Li(
        [
            dbc.Badge(
                f"{mark} {_(words)}{change}",
                color=color,
                className=f"me-2 app-factor-{factor.direction}",
            ),
            html.Span(
                _(FACTOR_LABELS[factor.key], value=_value_text(factor.key, factor.value, currency))
            ),
        ],
        className="mb-1",
        **{"data-factor": factor.key},
    )


def _quality(forecast: Any) -> str:
    m = forecast.metrics
    if m.get("mae") is None:
        return _("Model version %(version)s.", version=forecast.model_version)
    covered = round((m.get("coverage") or 0) * (m.get("holdout_events") or 0))
    return _(
        "Model version %(version)s, trained on %(rows)s completed events. On the %(count)s most "
        "recent events held out: mean error %(mae)s people (%(mape)s), %(covered)s of %(count)s "
        "within their interval (a naive per-type average erred by %(baseline)s).",
        version=forecast.model_version,
        rows=m.get("rows"),
        count=m.get("holdout_events"),
        mae=i18n.format_number(m.get("mae")),
        mape=i18n.format_percent(m.get("mape"), digits=0),
        covered=covered,
        baseline=i18n.format_number(m.get("baseline_mae")),
    )


def forecast_card(forecast: Any, currency: str) -> html.Div:
    """The forecast with its interval, its factors, the peak check-in times, the
    recommendations and the model's quality."""
    headline = html.Div(
        [
            html.Span(_("Expected attendance") + " ", className="text-body-secondary"),
            html.Span(
                _("%(count)s people", count=i18n.format_number(forecast.point)),
                className="fs-4 fw-semibold app-forecast-point",
            ),
            html.Div(
                _(
                    "80 %% interval: %(lower)s – %(upper)s people, of %(capacity)s seats",
                    lower=i18n.format_number(forecast.lower),
                    upper=i18n.format_number(forecast.upper),
                    capacity=i18n.format_number(forecast.capacity),
                ),
                className="small app-forecast-interval",
            ),
        ],
        className="mb-2",
    )
    factors = html.Ul(
        [factor_badge(f, currency) for f in forecast.factors],
        className="list-unstyled small mb-2 app-forecast-factors",
    )
    peaks = html.Ul(
        [
            html.Li(
                _(
                    "%(start)s–%(end)s: %(share)s of check-ins",
                    start=f"{slot.starts:%H:%M}",
                    end=f"{slot.ends:%H:%M}",
                    share=i18n.format_percent(slot.share, digits=0),
                )
            )
            for slot in forecast.peak_checkin
        ]
        or [html.Li(_("No check-ins recorded for this type of event yet."))],
        className="small mb-2 app-forecast-peaks",
    )
    advice = html.Ul(
        [
            html.Li(_(RECOMMENDATIONS[r.code], **_recommendation_params(r)))
            for r in forecast.recommendations
        ],
        className="small mb-2 app-forecast-recommendations",
    )
    return html.Div(
        [
            headline,
            dbc.Row(
                [
                    dbc.Col(
                        [html.H6(_("What moves the forecast"), className="mt-2"), factors],
                        xs=12,
                        lg=6,
                    ),
                    dbc.Col(
                        [
                            html.H6(_("Peak check-in times"), className="mt-2"),
                            peaks,
                            html.H6(_("Recommendations"), className="mt-2"),
                            advice,
                        ],
                        xs=12,
                        lg=6,
                    ),
                ]
            ),
            html.Div(
                _quality(forecast), className="small text-body-secondary app-forecast-quality"
            ),
        ],
        className="app-forecast",
    )


def _recommendation_params(recommendation: Any) -> dict[str, str]:
    params = dict(recommendation.params)
    if "share" in params:
        params["share"] = i18n.format_percent(params["share"] / 100, digits=0)
    return {k: str(v) if not isinstance(v, str) else v for k, v in params.items()}
