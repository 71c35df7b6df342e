"""Health states (healthy, degraded, unhealthy) as people see them: one colour and label each,
shared by the Health and Integrations pages."""

from __future__ import annotations

import dash_bootstrap_components as dbc

HEALTH_COLORS = {"healthy": "success", "degraded": "warning", "unhealthy": "danger"}
HEALTH_LABELS = {"healthy": "Healthy", "degraded": "Degraded", "unhealthy": "Unhealthy"}


def health_badge(status: str, large: bool = False) -> dbc.Badge:
    return dbc.Badge(
        HEALTH_LABELS.get(status, status),
        color=HEALTH_COLORS.get(status, "secondary"),
        className="fs-6" if large else "",
        pill=True,
    )
