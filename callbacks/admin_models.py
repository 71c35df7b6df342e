"""Callbacks of /admin/models: list every model's versions, retrain now, roll back (admins)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from dash import ALL, Input, Output, State, ctx
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.i18n import N_
from bi_app.jobs import status as job_status
from bi_app.models import registry
from bi_app.models.transactions import MODEL_NAME as TRANSACTIONS_MODEL
from bi_app.roles import Page
from callbacks._confirm import confirm_step
from callbacks._registry import callback
from components import admin_models_view as view
from components import fallback
from components.ids import AdminModels

log = logging.getLogger(__name__)

# the models the registry holds and the job that trains each (a model with no version yet is
# listed too, so it can be trained from here)
MODEL_JOBS = {TRANSACTIONS_MODEL: "model_training"}


def models_overview() -> list[dict[str, Any]]:
    """Per known model: its versions (newest first), its training job and that job's last run."""
    models = []
    for name in sorted(set(MODEL_JOBS) | set(registry.stored_names())):
        job = MODEL_JOBS.get(name)
        runs = job_status.recent_runs(job, limit=1) if job else []
        models.append(
            {
                "name": name,
                "job": job,
                "run": runs[0] if runs else None,
                "versions": [dataclasses.asdict(v) for v in registry.versions_of(name)],
            }
        )
    return models


@callback(
    Output(AdminModels.CONTENT, "children"),
    Output(AdminModels.INTERVAL, "disabled"),
    Input(AdminModels.INTERVAL, "n_intervals"),
    Input(AdminModels.RUN_STORE, "data"),
    Input(AdminModels.DONE_STORE, "data"),
    roles=Page.ADMIN_MODELS,
    fallback=fallback.each(fallback.message(N_("Model registry")), fallback.value(True)),
)
def refresh(_ticks, _run, _done):
    """Shows every model's versions; keeps refreshing while a training run is going."""
    models = models_overview()
    running = any((m.get("run") or {}).get("status") == "running" for m in models)
    return view.models_content(models, current_settings().timezone, can_act=True), not running


@callback(
    Output(AdminModels.MESSAGE, "children", allow_duplicate=True),
    Output(AdminModels.MESSAGE, "color", allow_duplicate=True),
    Output(AdminModels.MESSAGE, "is_open", allow_duplicate=True),
    Output(AdminModels.RUN_STORE, "data"),
    Input(AdminModels.retrain_button(ALL), "n_clicks"),
    roles=Page.ADMIN_MODELS,
    prevent_initial_call=True,
)
def retrain(clicks):
    """Starts the model's training job in the background and says whether it started."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or not ctx.triggered or not ctx.triggered[0]["value"]:
        raise PreventUpdate
    job = MODEL_JOBS.get(str(trigger.get("model")))
    if job is None:
        raise PreventUpdate
    result = job_status.run_job_now(job, actor=None, wait=False)
    return result["message"], "success" if result["ok"] else "warning", True, result["run_id"]


def _version_to_activate(trigger):
    name, version = str(trigger.get("model")), int(trigger.get("version"))
    versions = registry.versions_of(name)
    active = next((v.version for v in versions if v.active), None)
    return view.confirm_text(name, version, active), {"model": name, "version": version}


ask_rollback = confirm_step(
    button=AdminModels.rollback_button(ALL, ALL),
    modal=AdminModels.CONFIRM_MODAL,
    text=AdminModels.CONFIRM_TEXT,
    pending=AdminModels.PENDING_STORE,
    cancel=AdminModels.CONFIRM_CANCEL,
    ok=AdminModels.CONFIRM_OK,
    lookup=_version_to_activate,
    roles=Page.ADMIN_MODELS,
)


@callback(
    Output(AdminModels.MESSAGE, "children"),
    Output(AdminModels.MESSAGE, "color"),
    Output(AdminModels.MESSAGE, "is_open"),
    Output(AdminModels.DONE_STORE, "data"),
    Input(AdminModels.CONFIRM_OK, "n_clicks"),
    State(AdminModels.PENDING_STORE, "data"),
    roles=Page.ADMIN_MODELS,
    prevent_initial_call=True,
    fallback=fallback.each(
        fallback.message(N_("Model registry")),
        fallback.value("danger"),
        fallback.value(True),
        fallback.value(None),
    ),
)
def roll_back(clicks, pending):
    """Activates the confirmed version (audited) and says what happened."""
    if not clicks or not pending:
        raise PreventUpdate
    name, version = str(pending["model"]), int(pending["version"])
    try:
        info = registry.roll_back_to(name, version, actor=None)
    except registry.ModelError as exc:
        return str(exc), "warning", True, None
    return view.rolled_back_text(info.name, info.version), "success", True, info.id
