"""Builders of /ops/alerts/silences: the list of silences (active, upcoming, ended) with an Expire
button per running one, and the form that creates a silence. Times are typed and shown in the
business's time zone and travel as naive UTC.

Matchers and reasons come from admins: shown as plain text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.alerts.rules import format_matchers
from bi_app.i18n import N_, _, format_number
from components.format import to_local
from components.ids import OpsAlertSilences as Ids

INPUT_FORMAT = "%Y-%m-%d %H:%M"
DEFAULT_LENGTH = dt.timedelta(hours=2)
STATE_LABELS = {"active": N_("active"), "upcoming": N_("upcoming"), "ended": N_("ended")}
STATE_COLORS = {"active": "success", "upcoming": "info", "ended": "secondary"}


def matchers_text(matchers: Iterable[Mapping[str, str]]) -> str:
    """Stored matchers as the text an admin types: ``team=ops, severity=~critical|emergency``."""
    return format_matchers(matchers)


def local_input(moment: dt.datetime, tz: str) -> str:
    """A naive-UTC time as the form writes it, in ``tz``."""
    return to_local(moment, tz).strftime(INPUT_FORMAT)


def parse_local(text: object, tz: str) -> dt.datetime | None:
    """``"2026-12-05 14:30"`` typed in ``tz`` as naive UTC; empty -> None; ValueError when it
    cannot be read."""
    value = str(text or "").strip().replace("T", " ")
    if not value:
        return None
    local = dt.datetime.strptime(value[:16], INPUT_FORMAT)
    aware = local.replace(tzinfo=ZoneInfo(tz))
    return aware.astimezone(dt.UTC).replace(tzinfo=None)


def default_period(now: dt.datetime, tz: str) -> tuple[str, str]:
    """The form's start (now) and end (two hours later), as typed in ``tz``."""
    return local_input(now, tz), local_input(now + DEFAULT_LENGTH, tz)


def silence_state(silence: Mapping[str, Any], now: dt.datetime) -> str:
    if silence.get("active"):
        return "active"
    return "upcoming" if silence["starts_at"] > now else "ended"


def _when(moment: dt.datetime, tz: str) -> str:
    return to_local(moment, tz).strftime(INPUT_FORMAT)


def silences_table(silences: Sequence[Mapping[str, Any]], tz: str, now: dt.datetime) -> Any:
    """Every silence with its state; active and upcoming ones get an Expire button."""
    if not silences:
        return html.P(_("No silences yet."), className="text-body-secondary small")
    header = [
        _("State"),
        _("Matchers"),
        _("Starts (%(timezone)s)", timezone=tz),
        _("Ends (%(timezone)s)", timezone=tz),
        _("Reason"),
        _("Author"),
        _("Matching open alerts"),
        "",
    ]
    body = []
    for silence in silences:
        state = silence_state(silence, now)
        expire = (
            dbc.Button(
                _("Expire"),
                id=Ids.expire(silence["id"]),
                size="sm",
                color="warning",
                outline=True,
                n_clicks=0,
            )
            if state != "ended"
            else None
        )
        text = silence.get("matchers_text") or matchers_text(silence.get("matchers") or ())
        body.append(
            html.Tr(
                [
                    html.Td(
                        dbc.Badge(
                            _(STATE_LABELS[state]),
                            color=STATE_COLORS[state],
                            className="ops-alert-silence-state",
                        )
                    ),
                    html.Td(html.Code(text, className="small text-break")),
                    html.Td(_when(silence["starts_at"], tz), className="text-nowrap"),
                    html.Td(_when(silence["ends_at"], tz), className="text-nowrap"),
                    html.Td(silence.get("reason") or "", className="small"),
                    html.Td(silence.get("created_by") or ""),
                    html.Td(
                        format_number(int(silence.get("matching_open_alerts") or 0)),
                        className="text-end",
                    ),
                    html.Td(expire),
                ],
                className="ops-alert-silence",
                **{"data-silence": str(silence["id"]), "data-state": state},
            )
        )
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
        hover=True,
        size="sm",
        responsive=True,
        className="align-middle",
    )


def silence_form(start: str, end: str, tz: str) -> dbc.Card:
    def label(text: str) -> dbc.Label:
        return dbc.Label(text, className="small mb-1")

    return dbc.Card(
        dbc.CardBody(
            [
                html.H2(_("New silence"), className="h6"),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                label(_("Matchers")),
                                dbc.Input(
                                    id=Ids.MATCHERS,
                                    type="text",
                                    maxLength=2000,
                                    value="",
                                    size="sm",
                                    placeholder=_(
                                        "e.g. %(example)s",
                                        example="team=ops, severity=~critical|emergency",
                                    ),
                                ),
                                dbc.FormText(
                                    _(
                                        "name=value, name!=value, name=~regex, name!~regex, "
                                        "separated by commas; every matcher must hold. Alerts "
                                        "carry their rule's labels plus alertname and severity."
                                    ),
                                    className="small",
                                ),
                            ],
                            md=6,
                            className="mb-2",
                        ),
                        dbc.Col(
                            [
                                label(_("Starts (%(timezone)s)", timezone=tz)),
                                dbc.Input(
                                    id=Ids.START,
                                    type="text",
                                    value=start,
                                    size="sm",
                                    maxLength=40,
                                    placeholder="YYYY-MM-DD HH:MM",
                                ),
                            ],
                            md=3,
                            className="mb-2",
                        ),
                        dbc.Col(
                            [
                                label(_("Ends (%(timezone)s)", timezone=tz)),
                                dbc.Input(
                                    id=Ids.END,
                                    type="text",
                                    value=end,
                                    size="sm",
                                    maxLength=40,
                                    placeholder="YYYY-MM-DD HH:MM",
                                ),
                            ],
                            md=3,
                            className="mb-2",
                        ),
                    ]
                ),
                label(_("Reason")),
                dbc.Textarea(
                    id=Ids.REASON,
                    value="",
                    maxLength=2000,
                    rows=2,
                    className="form-control-sm mb-2",
                    placeholder=_("Why are these alerts silenced? (required)"),
                ),
                dbc.Button(_("Create silence"), id=Ids.CREATE, color="primary", size="sm"),
            ]
        ),
        className="mb-3",
    )


def created_text(silence: Mapping[str, Any]) -> str:
    return _(
        "Silence created: %(matchers)s. Open alerts it matches now: %(count)s.",
        matchers=silence.get("matchers_text") or matchers_text(silence.get("matchers") or ()),
        count=format_number(int(silence.get("matching_open_alerts") or 0)),
    )


def layout(
    *, nav: Any, silences: Sequence[Mapping[str, Any]], tz: str, now: dt.datetime
) -> html.Div:
    start, end = default_period(now, tz)
    return html.Div(
        [
            nav,
            html.H1(_("Silences"), className="app-page-title h4 mb-1"),
            html.P(
                _(
                    "While a silence lasts, alerts whose labels match it are still recorded and "
                    "shown, but no notification goes out for them."
                ),
                className="text-body-secondary small",
            ),
            dbc.Alert(id=Ids.MESSAGE, is_open=False, dismissable=True, className="py-2 small"),
            silence_form(start, end, tz),
            html.H2(_("All silences"), className="h6"),
            html.Div(silences_table(silences, tz, now), id=Ids.TABLE),
            dcc.Store(id=Ids.VERSION_STORE, data=0),
        ],
        id=Ids.PAGE,
        className="app-page ops-alert-silences",
    )
