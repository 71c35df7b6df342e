"""The app shell (to be completed by the UI work)."""
import dash
from dash import html


def app_shell():
    return html.Div([dash.page_container])
