"""The floor for callback speed: a bare Dash app, one callback returning a small precomputed figure.

No auth, no database, no cache, no middleware: what any Dash callback costs on this machine under
the same gunicorn settings (``gunicorn -c python:bi_app.gunicorn_conf bench.floor_app:server``).
bi-app's cache hits are compared with it (``bench.http_load``).
"""

from __future__ import annotations

import dash
from dash import Input, Output, dcc, html

GRAPH, TRIGGER = "floor-graph", "floor-trigger"
POINTS = 30

# A month of daily revenue as one line: built once, returned as is by every call.
FIGURE = {
    "data": [
        {
            "type": "scatter",
            "mode": "lines",
            "name": "revenue",
            "x": [f"2026-01-{day:02d}" for day in range(1, POINTS + 1)],
            "y": [1000 + 37 * day % 250 for day in range(1, POINTS + 1)],
        }
    ],
    "layout": {"margin": {"l": 40, "r": 10, "t": 10, "b": 30}, "xaxis": {"type": "date"}},
}

# What the renderer posts for the initial call of the one callback (n_clicks never set).
CALLBACK_BODY = {
    "output": f"{GRAPH}.figure",
    "outputs": {"id": GRAPH, "property": "figure"},
    "inputs": [{"id": TRIGGER, "property": "n_clicks"}],
    "changedPropIds": [],
    "state": [],
}

app = dash.Dash(__name__, serve_locally=True)
app.layout = html.Div([html.Button("go", id=TRIGGER), dcc.Graph(id=GRAPH)])


@app.callback(Output(GRAPH, "figure"), Input(TRIGGER, "n_clicks"))
def show(_n_clicks):
    """The precomputed figure."""
    return FIGURE


server = app.server
