"""What a callback's outputs show when its service fails: ``@callback(..., fallback=...)``.

Each helper returns a factory, so every failure gets fresh components. The registry logs the
failure with the callback's name and inputs; the page shows only the readable message. A factory
takes an optional ``reason``: the registry passes one when it has something more useful to say
than "unavailable" (a statement cancelled by the timeout: "This took too long to compute; narrow
the date range or try again"). A factory without that parameter is called without it.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from bi_app.i18n import _
from components.figures import empty_figure
from components.notice import error_message

Factory = Callable[..., Any]  # (reason: str | None = None) -> outputs


def unavailable_text(what: str) -> str:
    """The text "``what`` is unavailable right now", in the request's language (``what``: a message
    marked with ``N_()`` where the callback is declared; translated here, when it is shown)."""
    return _("%(what)s is unavailable right now", what=_(what))


def figure(what: str) -> Factory:
    """An empty chart that says ``what`` is unavailable (or ``reason``); ``what`` is marked
    with ``N_()`` by the caller and translated when the failure is shown."""
    return lambda reason=None: empty_figure(reason or unavailable_text(what))


def message(what: str) -> Factory:
    """The in-card danger message for ``what`` (or ``reason``)."""
    return lambda reason=None: error_message(what, reason)


def value(constant: Any) -> Factory:
    """A fixed value (``[]`` for grid rows, ``None`` to clear a message, ``no_update``…)."""
    return lambda reason=None: constant


def each(*parts: Factory) -> Factory:
    """One factory per output of a multi-output callback, in output order."""
    return lambda reason=None: tuple(build(part, reason) for part in parts)


def build(factory: Factory, reason: str | None = None) -> Any:
    """What ``factory`` shows, told ``reason`` if it has one and the factory takes it."""
    if reason is None or not _takes_reason(factory):
        return factory()
    return factory(reason=reason)


def _takes_reason(factory: Factory) -> bool:
    try:
        return "reason" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: no such parameter
        return False
