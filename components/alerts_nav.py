"""The alert center's tab bar: open alerts, and for admins rules, silences and channels.

``tabs(active, role)`` is shared by the four /ops/alerts pages; ``active`` is the key of the
current page (``"alerts"``, ``"rules"``, ``"silences"`` or ``"channels"``).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from bi_app.auth.pages import role_allows
from bi_app.i18n import N_, _
from bi_app.roles import Page
from components.ids import OpsAlerts

# (key, path, label, who may open it)
TABS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("alerts", "/ops/alerts", N_("Alerts"), Page.OPS_ALERTS),
    ("rules", "/ops/alerts/rules", N_("Rules"), Page.OPS_ALERT_RULES),
    ("silences", "/ops/alerts/silences", N_("Silences"), Page.OPS_ALERT_SILENCES),
    ("channels", "/ops/alerts/channels", N_("Channels"), Page.OPS_ALERT_CHANNELS),
)


def visible_tabs(role: str | None) -> list[tuple[str, str, str]]:
    """(key, path, label msgid) of the tabs ``role`` may open, in order."""
    return [(key, path, label) for key, path, label, roles in TABS if role_allows(role, roles)]


def tabs(active: str, role: str | None) -> html.Nav:
    """The tab bar; a single tab (viewers, analysts) is still shown so the page looks the same."""
    links = dbc.Nav(
        [
            dbc.NavItem(
                dbc.NavLink(
                    _(label),
                    href=path,
                    active=key == active,
                    id=OpsAlerts.nav_tab(key),
                    className="alerts-nav-link",
                )
            )
            for key, path, label in visible_tabs(role)
        ],
        className="nav-tabs alerts-nav",
    )
    return html.Nav(links, className="mb-3", **{"aria-label": _("Alert center")})
