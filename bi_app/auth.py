"""Authentication and authorization (to be completed by the auth work)."""
from __future__ import annotations

import dash

from bi_app.config import Settings


def init_app(app: dash.Dash, settings: Settings) -> None:
    return None


def require_role(roles: tuple[str, ...]) -> None:
    return None
