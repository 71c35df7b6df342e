"""What both Admin → Integrations forms share: their errors and the lenient field parsers."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


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

