"""Builders of the Admin → Integrations page: monitored services and channel sources.

Everything shown is plain text: URLs and messages come from admins and remote servers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.i18n import N_, _
from bi_app.integrations.channels import ChannelRow, FetchResult
from bi_app.integrations.services import ServiceRow
from bi_app.monitoring.health import CheckResult
from bi_app.monitoring.services import AUTH_ENV_NOT_ALLOWED
from components.ids import AdminIntegrations as Ids
from components.notice import confirm_delete_modal

SERVICE_FIELDS = ("name", "url", "expected_status", "timeout_s", "auth_env")
CHANNEL_FIELDS = (
    "channel",
    "kind",
    "url",
    "auth_header_name",
    "auth_header_value",
    "clear_auth",
    "timeout_s",
    "enabled",
)
STATUS_COLORS = {"healthy": "success", "degraded": "warning", "unhealthy": "danger"}
# a "Check now" result's status as people read it (marked only: shown with _())
STATUS_LABELS = {"healthy": N_("healthy"), "degraded": N_("degraded"), "unhealthy": N_("unhealthy")}
EMPTY_SERVICE = {"name": "", "url": "", "expected_status": 200, "timeout_s": 5, "auth_env": ""}


def _yes_no(flag: bool) -> dbc.Badge:
    return dbc.Badge(_("yes") if flag else _("no"), color="success" if flag else "secondary")


def _seconds(value: float) -> str:
    """A timeout: ``5.0`` -> ``"5 s"``."""
    return _("%(seconds)s s", seconds=format(value, "g"))


def _auth_env_cell(row: ServiceRow) -> Any:
    if row.auth_in_settings:
        return html.Span(_("header in settings"), className="small text-body-secondary")
    if not row.auth_env:
        return "—"
    if not row.auth_env_allowed:
        return [
            html.Code(row.auth_env, className="small"),
            # an English message of bi_app.monitoring.services: shown translated
            dbc.Badge(_(AUTH_ENV_NOT_ALLOWED), color="danger", className="ms-1"),
        ]
    state = dbc.Badge(
        _("set") if row.auth_env_set else _("not set"),
        color="success" if row.auth_env_set else "warning",
        className="ms-1",
    )
    return [html.Code(row.auth_env, className="small"), state]


def _service_actions(row: ServiceRow) -> list:
    check = dbc.Button(
        _("Check now"),
        id=Ids.service_check(row.name),
        size="sm",
        color="primary",
        outline=True,
        n_clicks=0,
        className="me-1 admin-integrations-check",
    )
    if row.read_only or row.id is None:
        return [check]
    return [
        check,
        dbc.Button(
            _("Edit"),
            id=Ids.service_edit(row.id),
            size="sm",
            color="secondary",
            outline=True,
            n_clicks=0,
            className="me-1",
        ),
        dbc.Button(
            _("Disable") if row.enabled else _("Enable"),
            id=Ids.service_toggle(row.id),
            size="sm",
            color="secondary",
            outline=True,
            n_clicks=0,
            className="me-1",
        ),
        dbc.Button(
            _("Delete"),
            id=Ids.service_delete(row.id),
            size="sm",
            color="danger",
            outline=True,
            n_clicks=0,
        ),
    ]


def services_table(rows: Sequence[ServiceRow]) -> Any:
    if not rows:
        return html.P(
            _("No external services are monitored yet. Add one below."),
            className="text-body-secondary",
        )
    header = [
        _("Name"),
        _("URL"),
        _("Expected"),
        _("Timeout"),
        _("Auth env var"),
        _("Enabled"),
        _("Source"),
        "",
        _("Last check"),
    ]
    body = [
        html.Tr(
            [
                html.Td(row.name, className="fw-semibold"),
                html.Td(html.Code(row.url, className="small text-break")),
                html.Td(str(row.expected_status)),
                html.Td(_seconds(row.timeout_s)),
                html.Td(_auth_env_cell(row)),
                html.Td(_yes_no(row.enabled)),
                html.Td(
                    dbc.Badge(_("settings (read-only)"), color="info")
                    if row.read_only
                    else dbc.Badge(_("admin"), color="light", text_color="dark")
                ),
                html.Td(_service_actions(row), className="text-nowrap"),
                html.Td(html.Div(id=Ids.service_result(row.name), className="small")),
            ],
            className="admin-integrations-service",
            **{"data-service": row.name},
        )
        for row in rows
    ]
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
        hover=True,
        size="sm",
        responsive=True,
        className="align-middle",
    )


def check_result(result: CheckResult) -> html.Div:
    """Status, HTTP code and latency of one "Check now", with the error when there is one."""
    code = result.detail.get("status_code")
    parts = [
        dbc.Badge(
            _(STATUS_LABELS[result.status]) if result.status in STATUS_LABELS else result.status,
            color=STATUS_COLORS.get(result.status, "secondary"),
            className="me-1 admin-integrations-check-status",
        )
    ]
    facts = [
        f"HTTP {code}" if code is not None else None,
        f"{result.latency_ms:.0f} ms" if result.latency_ms is not None else None,
    ]
    parts.append(html.Span(" · ".join(f for f in facts if f)))
    if result.error:
        parts.append(html.Div(result.error, className="text-danger"))
    return html.Div(parts)


def _input(field: str, label: str, help_text: str, md: int = 4, **kwargs: Any) -> dbc.Col:
    return dbc.Col(
        [
            dbc.Label(label, className="small mb-1"),
            dbc.Input(id=Ids.service_field(field), invalid=False, size="sm", **kwargs),
            html.Div(id=Ids.service_feedback(field), className="invalid-feedback d-block"),
            dbc.FormText(help_text, className="small"),
        ],
        md=md,
        className="mb-2",
    )


def service_form() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                html.H3(_("Add a service"), id=Ids.SERVICE_FORM_TITLE, className="h6"),
                dbc.Row(
                    [
                        _input(
                            "name",
                            _("Name"),
                            _("lowercase letters, digits, _ - ."),
                            type="text",
                            maxLength=64,
                            value="",
                            placeholder=_("e.g. %(example)s", example="payments"),
                        ),
                        _input(
                            "url",
                            _("URL"),
                            _("http:// or https:// only"),
                            md=8,
                            type="text",
                            maxLength=500,
                            value="",
                            placeholder=_(
                                "e.g. %(example)s", example="https://payments.internal/health"
                            ),
                        ),
                        _input(
                            "expected_status",
                            _("Expected status"),
                            "100–599",
                            type="number",
                            value=200,
                            step=1,
                        ),
                        _input(
                            "timeout_s",
                            _("Timeout (s)"),
                            _("0.5–20 seconds"),
                            type="number",
                            value=5,
                            step=0.5,
                        ),
                        _input(
                            "auth_env",
                            _("Auth env var name (optional)"),
                            _(
                                "the NAME of a variable starting with BI_SECRET_ holding "
                                "'Header-Name: value'; no other variable is ever read; the value "
                                "is never stored"
                            ),
                            type="text",
                            maxLength=110,
                            value="",
                            placeholder=_("e.g. %(example)s", example="BI_SECRET_PAYMENTS_AUTH"),
                        ),
                    ]
                ),
                dbc.Button(
                    _("Save service"),
                    id=Ids.SERVICE_SAVE,
                    color="primary",
                    size="sm",
                    n_clicks=0,
                    className="me-2",
                ),
                dbc.Button(
                    _("New"),
                    id=Ids.SERVICE_NEW,
                    color="secondary",
                    outline=True,
                    size="sm",
                    n_clicks=0,
                ),
                dcc.Store(id=Ids.SERVICE_EDIT_STORE, data=None),
            ]
        ),
        className="mb-3",
    )


def service_form_values(row: ServiceRow | None) -> tuple[list[Any], str, int | None]:
    """Values for the form's fields (in :data:`SERVICE_FIELDS` order),
    its title and the id edited."""
    if row is None:
        return [EMPTY_SERVICE[f] for f in SERVICE_FIELDS], _("Add a service"), None
    values = {
        "name": row.name,
        "url": row.url,
        "expected_status": row.expected_status,
        "timeout_s": row.timeout_s,
        "auth_env": row.auth_env or "",
    }
    return [values[f] for f in SERVICE_FIELDS], _("Edit service %(name)s", name=row.name), row.id


def field_feedback(
    errors: Mapping[str, str], fields: Sequence[str]
) -> tuple[list[bool], list[str]]:
    """Per field (in order): whether it is invalid, and its message."""
    return [f in errors for f in fields], [errors.get(f, "") for f in fields]


def delete_modal() -> html.Div:
    return html.Div(
        [
            confirm_delete_modal(_("Delete service?"), Ids),
            dcc.Store(id=Ids.DELETE_STORE, data=None),
        ]
    )


def delete_question(name: str) -> str:
    return _(
        "Stop monitoring %(name)s and delete its configuration? Its past health results are kept.",
        name=name,
    )


# --- channel sources -------------------------------------------------------------------------


def channels_table(rows: Sequence[ChannelRow]) -> Any:
    header = [
        _("Channel"),
        _("Serving now"),
        _("HTTP JSON URL"),
        _("Auth header"),
        _("Timeout"),
        _("Enabled"),
        "",
        _("Test result"),
    ]
    body = []
    for row in rows:
        serving = dbc.Badge(
            "HTTP JSON" if row.serving == "http" else _("built-in demo"),
            color="primary" if row.serving == "http" else "secondary",
        )
        body.append(
            html.Tr(
                [
                    html.Td(row.channel, className="fw-semibold"),
                    html.Td(serving),
                    html.Td(html.Code(row.url, className="small text-break") if row.url else "—"),
                    html.Td(row.auth_display, className="small"),
                    html.Td(_seconds(row.timeout_s) if row.timeout_s is not None else "—"),
                    html.Td(_yes_no(row.enabled) if row.configured else "—"),
                    html.Td(
                        [
                            dbc.Button(
                                _("Edit"),
                                id=Ids.channel_edit(row.channel),
                                size="sm",
                                color="secondary",
                                outline=True,
                                n_clicks=0,
                                className="me-1",
                            ),
                            dbc.Button(
                                _("Test"),
                                id=Ids.channel_test(row.channel),
                                size="sm",
                                color="primary",
                                outline=True,
                                n_clicks=0,
                            ),
                        ],
                        className="text-nowrap",
                    ),
                    html.Td(html.Div(id=Ids.channel_result(row.channel), className="small")),
                ],
                className="admin-integrations-channel",
                **{"data-channel": row.channel},
            )
        )
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(body)],
        hover=True,
        size="sm",
        responsive=True,
        className="align-middle",
    )


def fetch_result(result: FetchResult) -> html.Div:
    """What one test fetch returned, or why it failed."""
    head = dbc.Badge(
        _("ok") if result.ok else _("failed"),
        color="success" if result.ok else "danger",
        className="me-1",
    )
    where = _(
        "%(kind)s source, event %(event)s, %(ms)s ms",
        kind=result.kind,
        event=result.event_code,
        ms=format(result.elapsed_ms, ".0f"),
    )
    if result.ok:
        text = _(
            "views %(views)s · clicks %(clicks)s · conversions %(conversions)s (%(where)s)",
            views=format(result.views, ","),
            clicks=format(result.clicks, ","),
            conversions=format(result.conversions, ","),
            where=where,
        )
        return html.Div([head, html.Span(text)])
    return html.Div(
        [
            head,
            html.Span(f"({where})"),
            html.Div(result.error or _("no answer"), className="text-danger"),
        ]
    )


def _channel_feedback(field: str) -> html.Div:
    return html.Div(id=Ids.channel_feedback(field), className="invalid-feedback d-block")


def channel_form(channels: Sequence[str]) -> dbc.Card:
    def label(text: str) -> dbc.Label:
        return dbc.Label(text, className="small mb-1")

    return dbc.Card(
        dbc.CardBody(
            [
                html.H3(_("Configure a channel source"), className="h6"),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                label(_("Channel")),
                                dcc.Dropdown(
                                    id=Ids.channel_field("channel"),
                                    value=channels[0],
                                    options=list(channels),
                                    clearable=False,
                                ),
                                _channel_feedback("channel"),
                            ],
                            md=3,
                            className="mb-2",
                        ),
                        dbc.Col(
                            [
                                label(_("Source")),
                                dbc.RadioItems(
                                    id=Ids.channel_field("kind"),
                                    value="http",
                                    inline=True,
                                    options=[
                                        {"label": "HTTP JSON", "value": "http"},
                                        {"label": _("Built-in demo"), "value": "demo"},
                                    ],
                                ),
                                _channel_feedback("kind"),
                            ],
                            md=3,
                            className="mb-2",
                        ),
                        dbc.Col(
                            [
                                label(_("URL ({event_id}, {event_code}, {channel} are filled in)")),
                                dbc.Input(
                                    id=Ids.channel_field("url"),
                                    type="text",
                                    maxLength=500,
                                    value="",
                                    size="sm",
                                    placeholder="https://stats.example/{event_code}?channel={channel}",
                                ),
                                _channel_feedback("url"),
                            ],
                            md=6,
                            className="mb-2",
                        ),
                    ]
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                label(_("Auth header name")),
                                dbc.Input(
                                    id=Ids.channel_field("auth_header_name"),
                                    type="text",
                                    maxLength=64,
                                    value="",
                                    size="sm",
                                    placeholder="Authorization",
                                ),
                                _channel_feedback("auth_header_name"),
                            ],
                            md=3,
                            className="mb-2",
                        ),
                        dbc.Col(
                            [
                                label(_("Auth header value (write-only)")),
                                dbc.Input(
                                    id=Ids.channel_field("auth_header_value"),
                                    type="password",
                                    maxLength=500,
                                    value="",
                                    size="sm",
                                    autoComplete="new-password",
                                    placeholder=_("empty keeps it (same URL origin)"),
                                ),
                                _channel_feedback("auth_header_value"),
                                dbc.Checkbox(
                                    id=Ids.channel_field("clear_auth"),
                                    value=False,
                                    label=_("remove the stored header"),
                                    className="small",
                                ),
                            ],
                            md=3,
                            className="mb-2",
                        ),
                        dbc.Col(
                            [
                                label(_("Timeout (s)")),
                                dbc.Input(
                                    id=Ids.channel_field("timeout_s"),
                                    type="number",
                                    value=10,
                                    step=0.5,
                                    size="sm",
                                ),
                                _channel_feedback("timeout_s"),
                            ],
                            md=2,
                            className="mb-2",
                        ),
                        dbc.Col(
                            [
                                label(_("Enabled")),
                                dbc.Switch(
                                    id=Ids.channel_field("enabled"),
                                    value=True,
                                    label=_("serve this channel from the URL"),
                                ),
                            ],
                            md=4,
                            className="mb-2",
                        ),
                    ]
                ),
                dbc.Button(
                    _("Save channel source"),
                    id=Ids.CHANNEL_SAVE,
                    color="primary",
                    size="sm",
                    n_clicks=0,
                ),
            ]
        ),
        className="mb-3",
    )


def channel_form_values(row: ChannelRow) -> list[Any]:
    """The form's values (in :data:`CHANNEL_FIELDS` order) for one channel; never the secret."""
    values = {
        "channel": row.channel,
        "kind": "http" if row.configured else "demo",
        "url": row.url or "",
        "auth_header_name": row.auth_header_name or "",
        "auth_header_value": "",
        "clear_auth": False,
        "timeout_s": row.timeout_s if row.timeout_s is not None else 10,
        "enabled": row.enabled if row.configured else True,
    }
    return [values[f] for f in CHANNEL_FIELDS]


def event_dropdown(events: Sequence[tuple[int, str]]) -> html.Div:
    options = [{"label": label, "value": event_id} for event_id, label in events]
    return html.Div(
        [
            dbc.Label(_("Event for test fetches"), className="small mb-1"),
            dcc.Dropdown(
                id=Ids.CHANNEL_EVENT,
                options=options,
                value=options[0]["value"] if options else None,
                placeholder=_("No events yet") if not options else _("Choose an event"),
                clearable=False,
            ),
        ],
        className="mb-2",
        style={"maxWidth": "32rem"},
    )


def layout(
    services: Sequence[ServiceRow],
    channels: Sequence[ChannelRow],
    channel_names: Sequence[str],
    events: Sequence[tuple[int, str]],
) -> html.Div:
    return html.Div(
        [
            html.H1(_("Integrations"), className="app-page-title mb-1"),
            html.P(
                _(
                    "External HTTP services watched by the health checks, and where each "
                    "promotion channel's statistics come from. Credentials stay in environment "
                    "variables named BI_SECRET_… (services) or are write-only and stored "
                    "encrypted (channel sources)."
                ),
                className="text-body-secondary small",
            ),
            html.H2(_("Monitored services"), className="h5 mt-3"),
            html.P(
                _(
                    "Services from BI_HEALTH_SERVICES are read-only here; change them in the "
                    "settings."
                ),
                className="small text-body-secondary",
            ),
            dbc.Alert(
                id=Ids.SERVICE_MESSAGE, is_open=False, dismissable=True, className="py-2 small"
            ),
            html.Div(services_table(services), id=Ids.SERVICES_TABLE),
            service_form(),
            delete_modal(),
            dcc.Store(id=Ids.SERVICES_VERSION_STORE, data=0),
            html.H2(_("Channel sources"), className="h5 mt-4"),
            html.P(
                _(
                    "A channel without an enabled HTTP JSON source is served by the built-in "
                    "demo data. Test fetches once through the configured source (even while "
                    "disabled) without touching the live circuit breakers."
                ),
                className="small text-body-secondary",
            ),
            event_dropdown(events),
            dbc.Alert(
                id=Ids.CHANNEL_MESSAGE, is_open=False, dismissable=True, className="py-2 small"
            ),
            html.Div(channels_table(channels), id=Ids.CHANNELS_TABLE),
            channel_form(channel_names),
            dcc.Store(id=Ids.CHANNELS_VERSION_STORE, data=0),
        ],
        className="app-page app-admin-integrations",
    )
