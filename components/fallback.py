"""What a callback's outputs show when its service fails: ``@callback(..., fallback=...)``.

Each helper returns a zero-argument factory, so every failure gets fresh components. The registry
logs the failure with the callback's name and inputs; the page shows only the readable message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from components.figures import empty_figure
from components.notice import error_message

Factory = Callable[[], Any]


def unavailable_text(what: str) -> str:
    return f"{what} is unavailable right now"


def figure(what: str) -> Factory:
    """An empty chart that says ``what`` is unavailable."""
    return lambda: empty_figure(unavailable_text(what))


def message(what: str) -> Factory:
    """The in-card danger message for ``what``."""
    return lambda: error_message(what)


def value(constant: Any) -> Factory:
    """A fixed value (``[]`` for grid rows, ``None`` to clear a message, ``no_update``…)."""
    return lambda: constant


def each(*parts: Factory) -> Factory:
    """One factory per output of a multi-output callback, in output order."""
    return lambda: tuple(part() for part in parts)
