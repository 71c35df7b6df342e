"""Shell behaviour, all clientside: theme switch, active link, filters carried by the sidebar."""

from dash import ALL, ClientsideFunction, Input, Output, State

from callbacks._registry import clientside_callback
from components.ids import App, FilterBar, Nav

clientside_callback(
    ClientsideFunction("bi", "theme"),
    Output(App.THEME_STORE, "data"),
    Output(App.THEME_SWITCH, "value"),
    Input(App.THEME_SWITCH, "value"),
    Input(App.THEME_STORE, "data"),
)

clientside_callback(
    ClientsideFunction("bi", "navActive"),
    Output(Nav.link(ALL, ALL), "active"),
    Input(App.URL, "pathname"),
    State(Nav.link(ALL, ALL), "id"),
)

clientside_callback(
    ClientsideFunction("bi", "navHrefs"),
    Output(Nav.link(ALL, "business"), "href"),
    Input(FilterBar.STATE_STORE, "data"),
    State(Nav.link(ALL, "business"), "id"),
)
