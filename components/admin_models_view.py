"""Builders of the Admin → Models page: per model its stored versions (status, active marker,
training window, metrics, error), "Retrain now" and "Roll back to this version"."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from bi_app.i18n import N_, _, format_datetime, format_number
from components.admin_jobs_view import error_text, run_status_badge
from components.format import to_local
from components.ids import AdminModels

STATUS_COLORS = {"good": "success", "failed": "danger", "rejected": "warning"}
# how people read a stored version status (marked only: shown with _())
STATUS_LABELS = {"good": N_("good"), "failed": N_("failed"), "rejected": N_("rejected")}


def local_time(value: dt.datetime | None, tz: str) -> str:
    """A naive-UTC database time in the configured time zone, in the user's locale."""
    if value is None:
        return "—"
    return format_datetime(to_local(value, tz), style="short")


def window_text(data_from: dt.datetime | None, data_to: dt.datetime | None, tz: str) -> str:
    """The data window a version was trained on: "from – to" (a dash for an open end)."""
    if data_from is None and data_to is None:
        return "—"
    return f"{local_time(data_from, tz)} – {local_time(data_to, tz)}"


def metric_value(value: Any) -> str:
    """One metric's value, compact: numbers through the locale's formatter."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return format_number(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return format_number(value)
        size = abs(value)
        digits = 0 if size >= 1000 else 2 if size >= 1 else 4
        return format_number(value, digits=digits)
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))[:120]
    return str(value)


def flat_metrics(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested metrics (an evaluation's figures per detector) as dotted keys, one value each."""
    flat: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flat_metrics(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def metrics_list(metrics: Mapping[str, Any]) -> Any:
    """Every metric as "key value", one compact line each (sorted by key; nested ones dotted)."""
    if not metrics:
        return html.Span("—", className="text-muted")
    metrics = flat_metrics(metrics)
    return html.Div(
        [
            html.Div(
                [
                    html.Span(key, className="text-muted me-1"),
                    html.Span(metric_value(metrics[key]), className="admin-models-metric-value"),
                ],
                className="admin-models-metric",
                **{"data-metric": key},
            )
            for key in sorted(metrics)
        ],
        className="small admin-models-metrics",
    )


def status_badge(status: str) -> dbc.Badge:
    label = STATUS_LABELS.get(status)
    return dbc.Badge(
        _(label) if label else status,
        color=STATUS_COLORS.get(status, "secondary"),
        className="admin-models-status",
    )


def can_roll_back(version: Mapping[str, Any]) -> bool:
    """Only a version that trained well and is not the active one can be activated."""
    return version.get("status") == "good" and not version.get("active")


def rollback_cell(version: Mapping[str, Any], *, can_act: bool) -> Any:
    if not can_act or not can_roll_back(version):
        return ""
    return dbc.Button(
        _("Roll back to this version"),
        id=AdminModels.rollback_button(version["name"], int(version["version"])),
        size="sm",
        color="secondary",
        outline=True,
        n_clicks=0,
        className="admin-models-rollback text-nowrap",
    )


def versions_table(versions: Sequence[Mapping[str, Any]], tz: str, *, can_act: bool) -> Any:
    if not versions:
        return html.P(_("No version trained yet."), className="text-muted mb-0")
    header = [
        _("Version"),
        _("Status"),
        _("Active"),
        _("Trained at"),
        _("Data window"),
        _("Trained by"),
        _("Metrics"),
        _("Error"),
        "",
    ]
    rows = []
    for version in versions:
        active = bool(version.get("active"))
        rows.append(
            html.Tr(
                [
                    html.Td(f"v{version['version']}", className="fw-semibold"),
                    html.Td(status_badge(version["status"])),
                    html.Td(
                        dbc.Badge(_("in use"), color="primary", className="admin-models-active")
                        if active
                        else ""
                    ),
                    html.Td(local_time(version.get("trained_at"), tz), className="text-nowrap"),
                    html.Td(
                        window_text(version.get("data_from"), version.get("data_to"), tz),
                        className="small",
                    ),
                    html.Td(version.get("trained_by") or "—"),
                    html.Td(metrics_list(version.get("metrics") or {})),
                    html.Td(error_text(version.get("error"))),
                    html.Td(rollback_cell(version, can_act=can_act)),
                ],
                className="admin-models-row" + (" table-primary" if active else ""),
                **{
                    "data-model": version["name"],
                    "data-version": str(version["version"]),
                    "data-active": "true" if active else "false",
                },
            )
        )
    return dbc.Table(
        [
            html.Thead(html.Tr([html.Th(h, className="text-nowrap") for h in header])),
            html.Tbody(rows),
        ],
        size="sm",
        hover=True,
        responsive=True,
        className="admin-models-table mb-0",
    )


def last_run_text(run: Mapping[str, Any] | None, tz: str) -> Any:
    """The training job's latest run: "Last training run: succeeded, 2026-…" (error folded)."""
    if not run:
        return html.Span(_("The training job has not run yet."), className="small text-muted")
    status = str(run.get("status") or "")
    return html.Div(
        [
            html.Span(_("Last training run:"), className="me-1"),
            html.Span(run_status_badge(status), className="me-1 admin-models-run-status"),
            html.Span(local_time(run.get("started_at"), tz), className="text-muted"),
            error_text(run.get("error")),
        ],
        className="small",
    )


def model_card(model: Mapping[str, Any], tz: str, *, can_act: bool) -> html.Div:
    """One model: its name, training job, the job's last run and every stored version."""
    name, job = model["name"], model.get("job")
    header = [html.Strong(name, className="me-2")]
    if job:
        header.append(html.Span(_("job %(name)s", name=job), className="small text-muted"))
    if job and can_act:
        header.append(
            dbc.Button(
                _("Retrain now"),
                id=AdminModels.retrain_button(name),
                size="sm",
                color="primary",
                n_clicks=0,
                className="ms-auto admin-models-retrain",
            )
        )
    body = [versions_table(model.get("versions") or [], tz, can_act=can_act)]
    if job:
        body.insert(0, html.Div(last_run_text(model.get("run"), tz), className="mb-2"))
    card = dbc.Card(
        [dbc.CardHeader(header, className="d-flex align-items-center"), dbc.CardBody(body)],
        className="mb-3",
    )
    return html.Div(card, className="admin-models-card", **{"data-model": name})


def models_content(models: Sequence[Mapping[str, Any]], tz: str, *, can_act: bool) -> Any:
    if not models:
        return html.P(_("No models are registered yet."), className="text-muted")
    return html.Div([model_card(model, tz, can_act=can_act) for model in models])


def confirm_text(model: str, version: int, active: int | None) -> str:
    if active is None:
        return _(
            "Make version %(version)s of %(name)s the active one?", version=version, name=model
        )
    return _(
        "Make version %(version)s of %(name)s the active one instead of version %(active)s? "
        "Every process loads it on its next use.",
        version=version,
        name=model,
        active=active,
    )


def rolled_back_text(model: str, version: int) -> str:
    return _("Version %(version)s of %(name)s is now the active one.", version=version, name=model)


def confirm_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(_("Roll back the model?"))),
            dbc.ModalBody(id=AdminModels.CONFIRM_TEXT),
            dbc.ModalFooter(
                [
                    dbc.Button(
                        _("Cancel"), id=AdminModels.CONFIRM_CANCEL, color="secondary", n_clicks=0
                    ),
                    dbc.Button(
                        _("Roll back"), id=AdminModels.CONFIRM_OK, color="danger", n_clicks=0
                    ),
                ]
            ),
        ],
        id=AdminModels.CONFIRM_MODAL,
        is_open=False,
    )


def layout(refresh_ms: int) -> html.Div:
    """The page skeleton; the callbacks fill it on load, after an action and while a training
    run is going."""
    return html.Div(
        [
            html.H2(_("Models"), className="h4 mb-3"),
            html.P(
                _(
                    "Every trained version of every model. A failed or worse training keeps the "
                    "active version; roll back to an earlier good version here."
                ),
                className="text-muted small",
            ),
            dbc.Alert(
                id=AdminModels.MESSAGE, is_open=False, dismissable=True, className="small py-2"
            ),
            dcc.Loading(html.Div(id=AdminModels.CONTENT), delay_show=500),
            confirm_modal(),
            dcc.Store(id=AdminModels.RUN_STORE),
            dcc.Store(id=AdminModels.PENDING_STORE),
            dcc.Store(id=AdminModels.DONE_STORE),
            dcc.Interval(id=AdminModels.INTERVAL, interval=refresh_ms, disabled=True),
        ],
        id=AdminModels.PAGE,
        className="admin-models-page",
    )
