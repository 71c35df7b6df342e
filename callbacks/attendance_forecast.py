"""Events page: the attendance forecast form -- a click forecasts the configured event with the
trained model (never a fit on the request path) or says what is wrong with the input."""

from dash import Input, Output, State
from dash.exceptions import PreventUpdate

from bi_app import current_settings
from bi_app.i18n import N_
from bi_app.models import attendance
from bi_app.roles import Page
from callbacks._registry import callback
from components import attendance_forecast_view as view
from components import fallback
from components.attendance_forecast_view import Ids


@callback(
    Output(Ids.RESULT, "children"),
    Input(Ids.SUBMIT, "n_clicks"),
    State(Ids.STARTS, "value"),
    State(Ids.KIND, "value"),
    State(Ids.DURATION, "value"),
    State(Ids.CAPACITY, "value"),
    State(Ids.FEE, "value"),
    State(Ids.ONLINE, "value"),
    State(Ids.CHANNELS, "value"),
    State(Ids.INCENTIVES, "value"),
    State(Ids.ORGANIZER, "value"),
    State(Ids.NOTICE, "value"),
    roles=Page.EVENTS,
    prevent_initial_call=True,
    fallback=fallback.message(N_("The attendance forecast")),
)
def show_forecast(clicks, *form):
    """The expected attendance with its interval, factors, peak times and recommendations."""
    if not clicks:
        raise PreventUpdate
    currency = current_settings().currency
    try:
        forecast = attendance.forecast(attendance.parse_config(*form, currency=currency))
    except attendance.ConfigError as exc:
        return view.input_problems(exc.problems)
    except attendance.AttendanceError as exc:
        return view.unavailable(str(exc))
    return view.forecast_card(forecast, currency)
