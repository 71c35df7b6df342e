"""What both Admin → Integrations forms share: their errors and the lenient field parsers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from bi_app.config import Settings


class IntegrationError(ValueError):
    """Refused input; ``errors`` maps each bad form field to a message a person can act on."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in self.errors.items()))


class NotFound(LookupError):
    """The service or channel named in a request does not exist (any more)."""


def as_float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def clean_text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def engine_or_app(engine: Engine | None) -> Engine:
    """The given engine (tests, CLI) or the app's: services find their own, like bi_app.data."""
    if engine is not None:
        return engine
    from bi_app.extensions import db

    return db.require_engine()


def settings_or_app(settings: Settings | None) -> Settings:
    if settings is not None:
        return settings
    from bi_app import current_settings

    return current_settings()
