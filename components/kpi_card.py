"""KPI cards: a value, and its change against the previous equal period."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import dash_bootstrap_components as dbc
from dash import html

from bi_app.i18n import _
from components.format import NOT_AVAILABLE, format_change, format_value


class KpiLike(Protocol):
    key: str
    label: str
    value: float | int | None
    previous: float | int | None
    change_pct: float | None
    kind: str


def trend(change_pct: float | None) -> tuple[str, str]:
    """Arrow and Bootstrap text colour for a change (all our KPIs are better when higher)."""
    if change_pct is None:
        return "", "text-body-secondary"
    if change_pct > 0:
        return "▲", "text-success"
    if change_pct < 0:
        return "▼", "text-danger"
    return "■", "text-body-secondary"


def kpi_card(kpi: KpiLike, currency: str, card_id: str | dict | None = None) -> dbc.Card:
    arrow, colour = trend(kpi.change_pct)
    change = format_change(kpi.change_pct)
    previous = format_value(kpi.previous, kpi.kind, currency)
    extra = {"id": card_id} if card_id is not None else {}
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(
                    _(kpi.label),
                    className="app-kpi-label text-body-secondary small text-uppercase",
                ),
                html.Div(
                    format_value(kpi.value, kpi.kind, currency),
                    className="app-kpi-value fs-3 fw-semibold",
                ),
                html.Div(
                    [
                        html.Span(f"{arrow} " if arrow else "", className="app-kpi-arrow"),
                        html.Span(change, className="app-kpi-change"),
                        html.Span(
                            " "
                            + (
                                _("vs previous period")
                                if change != _(NOT_AVAILABLE)
                                else _("change vs previous period")
                            ),
                            className="text-body-secondary",
                        ),
                    ],
                    className=f"app-kpi-delta small {colour}",
                    title=_("Previous period: %(value)s", value=previous),
                ),
            ]
        ),
        className="app-kpi-card h-100 shadow-sm",
        **extra,
    )


def kpi_cards(kpis: Sequence[KpiLike], currency: str, card_id=None) -> list[dbc.Col]:
    """A responsive row's columns, one card per KPI; ``card_id(key)`` names each card."""
    return [
        dbc.Col(
            kpi_card(k, currency, card_id(k.key) if card_id else None),
            xs=12,
            sm=6,
            xl=3,
            className="mb-3",
        )
        for k in kpis
    ]


def kpi_placeholders(labels: Sequence[str]) -> list[dbc.Col]:
    """Grey cards shown until the first numbers arrive, so the page does not jump; ``labels``
    (marked with ``N_()``) are translated here."""
    return [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.Div(
                            _(label),
                            className="app-kpi-label text-body-secondary small text-uppercase",
                        ),
                        dbc.Placeholder(xs=8, className="fs-3"),
                        dbc.Placeholder(xs=10, size="sm"),
                    ],
                    className="placeholder-glow",
                ),
                className="app-kpi-card h-100 shadow-sm",
            ),
            xs=12,
            sm=6,
            xl=3,
            className="mb-3",
        )
        for label in labels
    ]
