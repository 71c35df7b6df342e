"""Health states (healthy, degraded, unhealthy) as people see them: one colour and label each,
shared by the Health and Integrations pages."""

from __future__ import annotations

import dash_bootstrap_components as dbc

from bi_app.i18n import N_, _

HEALTH_COLORS = {"healthy": "success", "degraded": "warning", "unhealthy": "danger"}
HEALTH_LABELS = {"healthy": N_("Healthy"), "degraded": N_("Degraded"), "unhealthy": N_("Unhealthy")}


def health_label(status: str) -> str:
    """The readable, translated label of a stored status (an unknown status is shown as is)."""
    label = HEALTH_LABELS.get(status)
    return _(label) if label else status


def health_badge(status: str, large: bool = False) -> dbc.Badge:
    return dbc.Badge(
        health_label(status),
        color=HEALTH_COLORS.get(status, "secondary"),
        className="fs-6" if large else "",
        pill=True,
    )
