"""Builders of /ops/alerts/channels: the notification channels with their health, the form (fields
per kind; the secret is write-only), the outcome of a test notification and the delivery log.

Names, addresses and error texts come from admins and remote servers: shown as plain text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.alerts.rules import DEFAULT_ROUTES, SEVERITY_LABELS
from bi_app.db.alert_models import CHANNEL_KINDS, SEVERITIES
from bi_app.i18n import N_, _, format_number
from components.data_grid import GridColumn, column_defs, grid_locale
from components.format import to_local
from components.ids import OpsAlertChannels as Ids
from components.notice import confirm_delete_modal

FIELDS = (
    "name",
    "kind",
    "host",
    "port",
    "security",
    "username",
    "from",
    "email_to",
    "url",
    "sms_to",
    "secret",
    "severities",
    "enabled",
)
# groups of fields shown only for some kinds
SECTIONS = {"email": ("email",), "url": ("webhook", "sms"), "sms": ("sms",)}
KIND_LABELS = {
    "email": N_("E-mail (SMTP)"),
    "slack": N_("Slack incoming webhook"),
    "webhook": N_("JSON webhook (HMAC-SHA256 signed)"),
    "sms": N_("SMS through an HTTP gateway"),
}
SECRET_LABELS = {
    "email": N_("SMTP password (write-only)"),
    "slack": N_("Slack webhook URL (write-only)"),
    "webhook": N_("Signing secret (write-only, at least 16 characters)"),
    "sms": N_("Gateway token (write-only, optional)"),
}
SECURITY_LABELS = {
    "starttls": N_("STARTTLS"),
    "tls": N_("TLS from the start"),
    "none": N_("none (plain SMTP)"),
}
DELIVERY_STATUS_LABELS = {
    "pending": N_("pending"),
    "sending": N_("sending"),
    "sent": N_("sent"),
    "failed": N_("failed"),
}
MESSAGE_KIND_LABELS = {
    "firing": N_("firing"),
    "resolved": N_("resolved"),
    "escalation": N_("escalation"),
    "test": N_("test message"),
    "report": N_("scheduled report"),
}
HIDDEN = {"display": "none"}
SHOWN: dict[str, str] = {}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return _(label) if label else str(kind)


def default_severities(kind: str) -> list[str]:
    """The severities a new channel of ``kind`` takes (see DEFAULT_ROUTES)."""
    return [s for s in SEVERITIES if kind in DEFAULT_ROUTES.get(s, ())]


def _when(value: Any, tz: str) -> str:
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, dt.datetime):
        return "—"
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return to_local(value, tz).strftime(TIME_FORMAT)


def _stat(channel: Mapping[str, Any], key: str) -> Any:
    """A health figure, on the channel or in its ``stats``."""
    stats = channel.get("stats") or {}
    return channel.get(key, stats.get(key) if isinstance(stats, Mapping) else None)


def _target(channel: Mapping[str, Any]) -> str:
    """Where a channel sends, without secrets: the SMTP server and recipients, or the URL."""
    config = channel.get("config") or {}
    kind = channel.get("kind")
    if kind == "email":
        to = ", ".join(config.get("to") or ())
        return f"{config.get('host', '')}:{config.get('port', '')} → {to}"
    if kind == "slack":
        return str(config.get("origin") or "")
    if kind == "sms":
        return f"{config.get('url', '')} → {', '.join(config.get('to') or ())}"
    return str(config.get("url") or "")


def channels_table(channels: Sequence[Mapping[str, Any]], tz: str) -> Any:
    """Every channel with its health and buttons: Edit, Send test notification, and the
    outcome of the test."""
    if not channels:
        return html.P(
            _("No channels yet: alerts are only shown in the app. Add one below."),
            className="text-body-secondary small",
        )
    header = [
        _("Name"),
        _("Kind"),
        _("Sends to"),
        _("Severities"),
        _("Enabled"),
        _("Delivery"),
        "",
        _("Test"),
    ]
    body = []
    for channel in channels:
        severities = ", ".join(
            _(SEVERITY_LABELS[s]) if s in SEVERITY_LABELS else str(s)
            for s in channel.get("severities") or ()
        )
        body.append(
            html.Tr(
                [
                    html.Td(channel["name"], className="fw-semibold"),
                    html.Td(kind_label(str(channel.get("kind")))),
                    html.Td(html.Code(_target(channel), className="small text-break")),
                    html.Td(severities or "—", className="small"),
                    html.Td(
                        dbc.Badge(
                            _("yes") if channel.get("enabled") else _("no"),
                            color="success" if channel.get("enabled") else "secondary",
                        )
                    ),
                    html.Td(html.Div(health_cell(channel, tz), id=Ids.health(channel["id"]))),
                    html.Td(
                        [
                            dbc.Button(
                                _("Edit"),
                                id=Ids.edit(channel["id"]),
                                size="sm",
                                color="secondary",
                                outline=True,
                                n_clicks=0,
                                className="me-1",
                            ),
                            dbc.Button(
                                _("Send test notification"),
                                id=Ids.test(channel["id"]),
                                size="sm",
                                color="primary",
                                outline=True,
                                n_clicks=0,
                            ),
                        ],
                        className="text-nowrap",
                    ),
                    html.Td(
                        html.Div(
                            id=Ids.result(channel["id"]),
                            className="small ops-alert-channel-test-result",
                        )
                    ),
                ],
                className="ops-alert-channel",
                **{"data-channel": str(channel["name"])},
            )
        )
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
        hover=True,
        size="sm",
        responsive=True,
        className="align-middle",
    )


def health_cell(channel: Mapping[str, Any], tz: str) -> list:
    """A channel's delivery health: failures in a row, the last success, the last error and
    the counts of the last days."""
    failures = int(_stat(channel, "consecutive_failures") or 0)
    success = _stat(channel, "last_success_at")
    parts: list = [
        dbc.Badge(
            _("%(count)s failures in a row", count=format_number(failures))
            if failures
            else _("no failures"),
            color="danger" if failures else "success",
            className="me-1 ops-alert-channel-failures",
        ),
        html.Div(
            _("last success %(when)s", when=_when(success, tz)) if success else _("never sent"),
            className="small text-body-secondary",
        ),
    ]
    stats = channel.get("stats")
    if isinstance(stats, Mapping) and stats:
        parts.append(
            html.Div(
                _(
                    "7 days: %(sent)s sent, %(failed)s failed, %(pending)s waiting",
                    sent=format_number(int(stats.get("sent") or 0)),
                    failed=format_number(int(stats.get("failed") or 0)),
                    pending=format_number(int(stats.get("pending") or 0)),
                ),
                className="small text-body-secondary",
            )
        )
    error = _stat(channel, "last_error")
    if error and failures:
        parts.append(html.Div(str(error), className="small text-danger text-break"))
    return parts


def test_result(outcome: Mapping[str, Any]) -> html.Div:
    """The outcome of "Send test notification": sent, or failed with the reason."""
    status = str(outcome.get("status") or "failed")
    label = DELIVERY_STATUS_LABELS.get(status)
    parts: list = [
        dbc.Badge(
            _(label) if label else status,
            color="success" if status == "sent" else "danger",
            className="me-1 ops-alert-channel-test-status",
        )
    ]
    if outcome.get("error"):
        parts.append(html.Span(str(outcome["error"]), className="text-danger"))
    return html.Div(parts)


# --- form --------------------------------------------------------------------------------------


def form_values(channel: Mapping[str, Any] | None) -> dict[str, Any]:
    """The form's values for a stored channel (None: a new one). The secret is never filled."""
    if channel is None:
        return {
            "name": "",
            "kind": "webhook",
            "host": "",
            "port": None,
            "security": "starttls",
            "username": "",
            "from": "",
            "email_to": "",
            "url": "",
            "sms_to": "",
            "secret": "",
            "severities": default_severities("webhook"),
            "enabled": True,
        }
    config = channel.get("config") or {}
    kind = channel.get("kind")
    to = ", ".join(config.get("to") or ())
    return {
        "name": channel.get("name") or "",
        "kind": kind,
        "host": config.get("host", ""),
        "port": config.get("port"),
        "security": config.get("security", "starttls"),
        "username": config.get("username", ""),
        "from": config.get("from", ""),
        "email_to": to if kind == "email" else "",
        "url": config.get("url", "") if kind in ("webhook", "sms") else "",
        "sms_to": to if kind == "sms" else "",
        "secret": "",
        "severities": list(channel.get("severities") or ()),
        "enabled": bool(channel.get("enabled", True)),
    }


def _list(text: object) -> list[str]:
    if isinstance(text, (list, tuple)):
        return [str(t).strip() for t in text if str(t).strip()]
    return [p.strip() for p in str(text or "").replace(";", ",").split(",") if p.strip()]


def raw_channel(form: Mapping[str, Any]) -> dict[str, Any]:
    """The service's raw channel from the form (only the chosen kind's settings)."""
    kind = form.get("kind")
    config: dict[str, Any] = {}
    if kind == "email":
        config = {
            "host": str(form.get("host") or "").strip(),
            "port": form.get("port"),
            "security": form.get("security") or "starttls",
            "username": str(form.get("username") or "").strip(),
            "from": str(form.get("from") or "").strip(),
            "to": _list(form.get("email_to")),
        }
    elif kind == "webhook":
        config = {"url": str(form.get("url") or "").strip()}
    elif kind == "sms":
        config = {"url": str(form.get("url") or "").strip(), "to": _list(form.get("sms_to"))}
    return {
        "name": str(form.get("name") or "").strip(),
        "kind": kind,
        "config": config,
        "secret": form.get("secret") or "",
        "severities": [s for s in SEVERITIES if s in (form.get("severities") or ())],
        "enabled": bool(form.get("enabled")),
    }


def field_feedback(
    error_field: str | None, message: str, kind: str | None, fields: Sequence[str]
) -> list[str]:
    """The message under each form field (in order): only the refused one says something."""
    bad = error_field or "name"
    if bad == "to":
        bad = "sms_to" if kind == "sms" else "email_to"
    if bad not in fields:
        bad = "name"
    return [message if f == bad else "" for f in fields]


def kind_view(kind: str | None) -> tuple[list[dict], str, str]:
    """For a chosen kind: the style of each section (in :data:`SECTIONS` order), the secret's
    label and its help."""
    kind = kind if kind in CHANNEL_KINDS else "webhook"
    styles = [SHOWN if kind in kinds else HIDDEN for kinds in SECTIONS.values()]
    return styles, _(SECRET_LABELS[kind]), _("Leave empty when editing to keep the stored one.")


def _feedback(name: str) -> html.Div:
    return html.Div(id=Ids.feedback(name), className="invalid-feedback d-block")


def _col(name: str, label: Any, control: Any, md: int = 4, help_text: str = "") -> dbc.Col:
    children = [dbc.Label(label, className="small mb-1"), control, _feedback(name)]
    if help_text:
        children.append(dbc.FormText(help_text, className="small"))
    return dbc.Col(children, md=md, className="mb-2")


def _text_input(name: str, values: Mapping[str, Any], **kwargs: Any) -> dbc.Input:
    return dbc.Input(id=Ids.field(name), value=values.get(name), size="sm", **kwargs)


def _section(key: str, kind: str, children: list) -> html.Div:
    return html.Div(
        dbc.Row(children), id=Ids.section(key), style=SHOWN if kind in SECTIONS[key] else HIDDEN
    )


def channel_form(values: Mapping[str, Any], title: str) -> dbc.Card:
    kind = str(values.get("kind") or "webhook")
    _styles, secret_label, secret_help = kind_view(kind)
    return dbc.Card(
        dbc.CardBody(
            [
                html.H2(title, id=Ids.FORM_TITLE, className="h6"),
                dbc.Row(
                    [
                        _col("name", _("Name"), _text_input("name", values, maxLength=64), 4),
                        _col(
                            "kind",
                            _("Kind"),
                            dcc.Dropdown(
                                id=Ids.field("kind"),
                                options=[
                                    {"label": kind_label(k), "value": k} for k in CHANNEL_KINDS
                                ],
                                value=kind,
                                clearable=False,
                                className="small",
                            ),
                            5,
                        ),
                        _col(
                            "enabled",
                            _("Enabled"),
                            dbc.Switch(
                                id=Ids.field("enabled"),
                                value=bool(values.get("enabled")),
                                label=_("send notifications"),
                            ),
                            3,
                        ),
                    ]
                ),
                _section(
                    "email",
                    kind,
                    [
                        _col("host", _("SMTP host"), _text_input("host", values, maxLength=253), 4),
                        _col(
                            "port",
                            _("Port"),
                            _text_input("port", values, type="number", min=1, max=65535),
                            2,
                            _("empty: the security's usual port"),
                        ),
                        _col(
                            "security",
                            _("Security"),
                            dcc.Dropdown(
                                id=Ids.field("security"),
                                options=[
                                    {"label": _(label), "value": key}
                                    for key, label in SECURITY_LABELS.items()
                                ],
                                value=values.get("security") or "starttls",
                                clearable=False,
                                className="small",
                            ),
                            3,
                        ),
                        _col(
                            "username",
                            _("User name (optional)"),
                            _text_input("username", values, maxLength=200, autoComplete="off"),
                            3,
                        ),
                        _col("from", _("From"), _text_input("from", values, maxLength=254), 4),
                        _col(
                            "email_to",
                            _("To (addresses, comma-separated)"),
                            _text_input("email_to", values, maxLength=2000),
                            8,
                        ),
                    ],
                ),
                _section(
                    "url",
                    kind,
                    [
                        _col(
                            "url",
                            _("URL"),
                            _text_input(
                                "url",
                                values,
                                maxLength=500,
                                placeholder=_(
                                    "e.g. %(example)s", example="https://hooks.example/bi"
                                ),
                            ),
                            12,
                            _("http:// or https://; checked against the outbound policy"),
                        )
                    ],
                ),
                _section(
                    "sms",
                    kind,
                    [
                        _col(
                            "sms_to",
                            _("Phone numbers (comma-separated)"),
                            _text_input(
                                "sms_to", values, maxLength=2000, placeholder="+821012345678"
                            ),
                            12,
                        )
                    ],
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label(
                                    secret_label, id=Ids.SECRET_LABEL, className="small mb-1"
                                ),
                                dbc.Input(
                                    id=Ids.field("secret"),
                                    type="password",
                                    value="",
                                    maxLength=2000,
                                    size="sm",
                                    autoComplete="new-password",
                                ),
                                _feedback("secret"),
                                dbc.FormText(secret_help, id=Ids.SECRET_HELP, className="small"),
                            ],
                            md=6,
                            className="mb-2",
                        ),
                        _col(
                            "severities",
                            _("Severities routed here"),
                            dbc.Checklist(
                                id=Ids.field("severities"),
                                options=[
                                    {"label": _(SEVERITY_LABELS[s]), "value": s} for s in SEVERITIES
                                ],
                                value=list(values.get("severities") or ()),
                                inline=True,
                                className="small",
                            ),
                            6,
                            _("used when a rule names no channels"),
                        ),
                    ]
                ),
                html.Div(
                    [
                        dbc.Button(_("Save"), id=Ids.SAVE, color="primary", size="sm", n_clicks=0),
                        dbc.Button(
                            _("New channel"),
                            id=Ids.NEW,
                            color="secondary",
                            outline=True,
                            size="sm",
                            n_clicks=0,
                        ),
                        dbc.Button(
                            _("Delete"),
                            id=Ids.DELETE,
                            color="danger",
                            outline=True,
                            size="sm",
                            n_clicks=0,
                        ),
                    ],
                    className="d-flex gap-2 mt-2",
                ),
            ]
        ),
        className="mb-3",
    )


def form_title(channel: Mapping[str, Any] | None) -> str:
    if channel is None:
        return _("New channel")
    return _("Edit channel %(name)s", name=channel.get("name") or "")


def delete_modal() -> dbc.Modal:
    return confirm_delete_modal(_("Delete channel?"), Ids)


def delete_question(name: str) -> str:
    return _(
        "Delete the channel %(name)s? Notifications waiting for it are dropped; rules that name "
        "it stop sending there.",
        name=name,
    )


# --- delivery log ------------------------------------------------------------------------------


def log_columns(tz: str) -> list[GridColumn]:
    return [
        GridColumn("created_at", _("Queued (%(timezone)s)", timezone=tz), "text", width=170),
        GridColumn("channel", N_("Channel"), "text", width=140),
        GridColumn("kind", N_("Type"), "text", width=130),
        GridColumn("status", N_("Status"), "text", width=100),
        GridColumn("attempts", N_("Attempts"), "int", width=100),
        GridColumn("sent_at", _("Sent (%(timezone)s)", timezone=tz), "text", width=170),
        GridColumn("subject", N_("Subject"), "text", width=240),
        GridColumn("last_error", N_("Last error"), "text"),
    ]


def log_rows(rows: Sequence[Mapping[str, Any]], tz: str) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        status, kind = str(row.get("status") or ""), str(row.get("kind") or "")
        label = DELIVERY_STATUS_LABELS.get(status)
        payload = row.get("payload") if isinstance(row.get("payload"), Mapping) else {}
        out.append(
            {
                "id": row.get("id"),
                "created_at": _when(row.get("created_at"), tz),
                "channel": row.get("channel") or row.get("channel_name") or "",
                "kind": _(MESSAGE_KIND_LABELS[kind]) if kind in MESSAGE_KIND_LABELS else kind,
                "status": _(label) if label else status,
                "attempts": int(row.get("attempts") or 0),
                "sent_at": _when(row.get("sent_at"), tz) if row.get("sent_at") else "",
                "subject": str(row.get("subject") or payload.get("subject") or ""),
                "last_error": str(row.get("last_error") or ""),
            }
        )
    return out


def log_channel_options(channels: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [{"label": str(c["name"]), "value": c["id"]} for c in channels]


def delivery_log(rows: list[dict[str, Any]], channels: Sequence[Mapping[str, Any]], tz: str):
    return dbc.Card(
        [
            dbc.CardHeader(
                html.Div(
                    [
                        html.H2(_("Delivery log"), className="h6 mb-0 me-auto"),
                        dcc.Dropdown(
                            id=Ids.LOG_CHANNEL,
                            options=log_channel_options(channels),
                            value=None,
                            placeholder=_("All channels"),
                            clearable=True,
                            style={"minWidth": "14rem"},
                            className="small",
                        ),
                    ],
                    className="d-flex align-items-center gap-2",
                )
            ),
            dbc.CardBody(
                dag.AgGrid(
                    id=Ids.LOG_GRID,
                    columnDefs=column_defs(log_columns(tz), "EUR"),
                    rowData=rows,
                    defaultColDef={"sortable": True, "filter": True, "resizable": True},
                    dashGridOptions={
                        "pagination": True,
                        "paginationPageSize": 20,
                        "animateRows": False,
                        "enableCellTextSelection": True,
                        "ensureDomOrder": True,
                        **grid_locale(),
                    },
                    style={"height": "420px"},
                )
            ),
        ],
        className="mb-3",
    )


def layout(
    *, nav: Any, channels: Sequence[Mapping[str, Any]], log: Sequence[Mapping[str, Any]], tz: str
) -> html.Div:
    return html.Div(
        [
            nav,
            html.H1(_("Notification channels"), className="app-page-title h4 mb-1"),
            html.P(
                _(
                    "Where alert notifications go. A rule names its channels, or its alerts go "
                    "to every enabled channel that takes their severity. Secrets are write-only "
                    "and stored encrypted."
                ),
                className="text-body-secondary small",
            ),
            dbc.Alert(id=Ids.MESSAGE, is_open=False, dismissable=True, className="py-2 small"),
            html.Div(channels_table(channels, tz), id=Ids.TABLE),
            channel_form(form_values(None), form_title(None)),
            delivery_log(log_rows(log, tz), channels, tz),
            delete_modal(),
            dcc.Store(id=Ids.EDIT_STORE, data=None),
            dcc.Store(id=Ids.VERSION_STORE, data=0),
        ],
        id=Ids.PAGE,
        className="app-page ops-alert-channels",
    )
