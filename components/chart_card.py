"""A titled card around a graph (or any body), with optional controls and a message slot."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

GRAPH_CONFIG = {
    "displaylogo": False,
    "displayModeBar": "hover",
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}


def graph(graph_id: str | dict, figure: Any = None, height: int = 320) -> html.Div:
    """A graph in a frame of its height: dcc.Graph draws nothing until its lazily loaded code
    runs, and without the frame the page would first lay out without it, then jump (and parts
    further down, such as the Customers list, would seem to be in view for a moment)."""
    return html.Div(
        dcc.Graph(
            id=graph_id,
            figure=figure or {},
            config=GRAPH_CONFIG,
            style={"height": f"{height}px"},
            className="app-graph",
        ),
        className="app-graph-frame",
        style={"minHeight": f"{height}px"},
    )


def chart_card(
    title: str,
    body: Any,
    *,
    controls: Any = None,
    message_id: str | dict | None = None,
    card_id: str | dict | None = None,
) -> dbc.Card:
    """``message_id`` names an empty Div a callback fills with an error or a note."""
    header = [html.H2(title, className="h6 mb-0 me-auto")]
    if controls is not None:
        header.append(html.Div(controls, className="app-card-controls"))
    children = [dbc.CardHeader(header, className="d-flex align-items-center flex-wrap gap-2")]
    content = [html.Div(id=message_id)] if message_id is not None else []
    content.append(dcc.Loading(body, type="dot", delay_show=300))
    children.append(dbc.CardBody(content))
    extra = {"id": card_id} if card_id is not None else {}
    return dbc.Card(children, className="app-chart-card h-100 shadow-sm", **extra)


def column(card: Any, xl: int) -> dbc.Col:
    """A card in a page's responsive grid: full width on small screens,
    ``xl`` of 12 on wide ones."""
    return dbc.Col(card, xs=12, xl=xl, className="mb-3")
