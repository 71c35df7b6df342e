"""Forecasts: the stored forecast of the chosen series, horizon and platform or category (in the
URL), the recent deviation findings, and "Refit now", which starts the ``forecast_fit`` job in
the background and follows it."""

from dash import Input, Output, State, no_update
from dash.exceptions import PreventUpdate

from bi_app import auth
from bi_app import forecasting as fc
from bi_app.data import forecasts
from bi_app.i18n import N_, _
from bi_app.jobs.status import run_job_now
from bi_app.roles import Page
from bi_app.viewer import current_viewer
from callbacks._registry import callback, clientside_callback
from components import fallback
from components import forecasts_view as view
from components.ids import Forecasts

REFIT_FAILED = N_("The refit failed; the forecasts shown are the previous ones.")
REFIT_DONE = N_("The forecasts were refitted.")


@callback(
    Output(Forecasts.GRAPH, "figure"),
    Output(Forecasts.QUALITY, "children"),
    Output(Forecasts.INSIGHTS, "children"),
    Output(Forecasts.FITTED, "children"),
    Output(Forecasts.MESSAGE, "children"),
    Input(Forecasts.SERIES, "value"),
    Input(Forecasts.HORIZON, "value"),
    Input(Forecasts.PLATFORM, "value"),
    Input(Forecasts.CATEGORY, "value"),
    Input(Forecasts.REFRESH_STORE, "data"),
    roles=Page.FORECASTS,
    fallback=fallback.each(
        fallback.figure(N_("The forecast")),
        fallback.value(None),
        fallback.value(None),
        fallback.value(None),
        fallback.message(N_("The forecast")),
    ),
)
def show_forecast(series, horizon, platform, category, _refreshed):
    """The stored forecast's chart, its backtest quality, insights and when it was fitted."""
    chosen = view.picked(series, horizon)
    if chosen is None:
        raise PreventUpdate
    key = view.picked_filter(chosen[0], platform, category)
    found = forecasts.latest_forecast(chosen[0], key)
    currency = current_viewer().currency
    return (*view.forecast_view(found, *chosen, currency, filtered=key is not None), None)


@callback(
    Output(Forecasts.DEVIATIONS, "children"),
    Input(Forecasts.REFRESH_STORE, "data"),
    roles=Page.FORECASTS,
    fallback=fallback.message(N_("The deviations")),
)
def show_deviations(_refreshed):
    """The days of the last weeks whose actual fell outside the forecast's 80 % band."""
    rows = forecasts.recent_deviations(view.deviations_since())
    return view.deviations_table(rows, current_viewer().currency)


@callback(
    Output(Forecasts.REFIT_RUN_STORE, "data"),
    Output(Forecasts.REFIT_POLL, "disabled"),
    Output(Forecasts.REFIT_MESSAGE, "children"),
    Output(Forecasts.REFIT_MESSAGE, "color"),
    Output(Forecasts.REFIT_MESSAGE, "is_open"),
    Input(Forecasts.REFIT, "n_clicks"),
    roles=fc.REFIT_ROLES,
    prevent_initial_call=True,
    fallback=lambda reason=None: (no_update, True, _(REFIT_FAILED), "danger", True),
)
def refit(clicks):
    """Starts the forecast job in the background (audited); the page keeps showing the old fit."""
    if not clicks:
        raise PreventUpdate
    started = run_job_now(fc.JOB_NAME, auth.request_user(), wait=False)
    if not started["ok"]:
        return no_update, True, started["message"], "warning", True
    return started["run_id"], False, started["message"], "info", True


@callback(
    Output(Forecasts.REFRESH_STORE, "data"),
    Output(Forecasts.REFIT_POLL, "disabled", allow_duplicate=True),
    Output(Forecasts.REFIT_MESSAGE, "children", allow_duplicate=True),
    Output(Forecasts.REFIT_MESSAGE, "color", allow_duplicate=True),
    Input(Forecasts.REFIT_POLL, "n_intervals"),
    State(Forecasts.REFIT_RUN_STORE, "data"),
    State(Forecasts.REFRESH_STORE, "data"),
    roles=fc.REFIT_ROLES,
    prevent_initial_call=True,
    fallback=lambda reason=None: (no_update, True, _(REFIT_FAILED), "danger"),
)
def follow_refit(_ticks, job_run_id, refreshed):
    """The refit's progress (series done), then its outcome and the refreshed forecast."""
    if not isinstance(job_run_id, int):
        raise PreventUpdate
    progress = forecasts.refit_progress(job_run_id, len(fc.SERIES))
    if progress["state"] == "running":
        return no_update, False, view.refit_progress_text(progress), "info"
    if progress["state"] == "succeeded":
        return (refreshed or 0) + 1, True, _(REFIT_DONE), "success"
    return (refreshed or 0) + 1, True, _(REFIT_FAILED), "danger"


# series and horizon in the URL (shareable, no re-render). Inline: Dash serves it with a hash the
# CSP allows (bi_app.security_headers).
clientside_callback(
    """
    function (series, horizon, platform, category) {
        var params = new URLSearchParams(window.location.search);
        if (series) { params.set("series", String(series)); }
        if (horizon) { params.set("horizon", String(horizon)); }
        var filtered = series === "revenue" || series === "orders";
        if (platform && filtered) { params.set("platform", String(platform)); }
        else { params.delete("platform"); }
        if (category && filtered && !platform) { params.set("category", String(category)); }
        else { params.delete("category"); }
        var search = params.toString();
        window.history.replaceState(window.history.state, "",
            window.location.pathname + (search ? "?" + search : "") + window.location.hash);
        return window.dash_clientside.no_update;
    }
    """,
    Output(Forecasts.URL_DUMMY, "children"),
    Input(Forecasts.SERIES, "value"),
    Input(Forecasts.HORIZON, "value"),
    Input(Forecasts.PLATFORM, "value"),
    Input(Forecasts.CATEGORY, "value"),
    prevent_initial_call=True,
)

# one platform or one category at a time (the other is cleared), and neither for the series
# that have no such split: a pure UI toggle
clientside_callback(
    """
    function (series, platform, category) {
        var ctx = window.dash_clientside.callback_context;
        var trigger = (ctx.triggered && ctx.triggered.length) ? ctx.triggered[0].prop_id : "";
        var off = !(series === "revenue" || series === "orders");
        var nu = window.dash_clientside.no_update;
        if (trigger.indexOf("forecasts-platform") === 0) {
            return [nu, platform ? null : nu, off, off];
        }
        if (trigger.indexOf("forecasts-category") === 0) {
            return [category ? null : nu, nu, off, off];
        }
        return [nu, nu, off, off];
    }
    """,
    Output(Forecasts.PLATFORM, "value"),
    Output(Forecasts.CATEGORY, "value"),
    Output(Forecasts.PLATFORM, "disabled"),
    Output(Forecasts.CATEGORY, "disabled"),
    Input(Forecasts.SERIES, "value"),
    Input(Forecasts.PLATFORM, "value"),
    Input(Forecasts.CATEGORY, "value"),
    prevent_initial_call=True,
)
