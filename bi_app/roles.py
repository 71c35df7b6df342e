"""The roles, and who may open each page or take each action: declared once, here.

A page passes its entry to ``dash.register_page(..., roles=...)`` and its callbacks pass the same
entry to ``@callback(..., roles=...)``, so the two cannot drift apart. ``admin`` may do everything
(see :func:`bi_app.auth.pages.role_allows`); the tuples still name it so they read as written.
"""

from __future__ import annotations

ADMIN = "admin"
ANALYST = "analyst"
VIEWER = "viewer"

ALL_ROLES: tuple[str, ...] = (ADMIN, ANALYST, VIEWER)
EVERYONE = ALL_ROLES
OPERATORS: tuple[str, ...] = (ADMIN, ANALYST)
ADMINS: tuple[str, ...] = (ADMIN,)


class Page:
    """Who may open each page and trigger its callbacks."""

    OVERVIEW = EVERYONE
    SALES = EVERYONE
    ORDERS = EVERYONE
    CUSTOMERS = EVERYONE
    EVENTS = EVERYONE
    EVENT_DETAIL = EVERYONE
    TREASURY = EVERYONE
    FORECASTS = EVERYONE
    REPORTS = OPERATORS  # generate and download reports; admins also delete them
    OPS_HEALTH = OPERATORS
    OPS_PERFORMANCE = OPERATORS
    OPS_LOGS = OPERATORS
    # the alert center: everyone sees alerts (analysts and admins act on them, see Action);
    # admins edit rules, silences and channels
    OPS_ALERTS = EVERYONE
    OPS_ALERT_RULES = ADMINS
    OPS_ALERT_SILENCES = ADMINS
    OPS_ALERT_CHANNELS = ADMINS
    ADMIN_JOBS = OPERATORS
    ADMIN_IMPORT = ADMINS
    ADMIN_REFERENCE = ADMINS
    ADMIN_SETTINGS = ADMINS
    ADMIN_INTEGRATIONS = ADMINS
    ADMIN_MODELS = ADMINS
    NOT_FOUND = EVERYONE
    SHELL = EVERYONE  # the sidebar, theme and filter bar every signed-in user sees


class Action:
    """Actions narrower than the page they sit on."""

    DOWNLOAD = OPERATORS  # grid exports (CSV, xlsx, JSON)
    RECOMPUTE_TAGS = OPERATORS
    RUN_JOB_NOW = ADMINS
    ACT_ON_ALERTS = OPERATORS  # acknowledge, resolve, ignore, comment
