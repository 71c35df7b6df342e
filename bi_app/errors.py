"""Domain errors every service raises: their message is safe to show a person.

Services catch their infrastructure's exceptions (SQLAlchemy, drivers, HTTP clients) at their own
edge, log the details and raise one of these; the UI shows ``str(exc)`` and never driver text.
Their messages are written in the locale current when they are raised (the request's).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from bi_app.i18n import N_, _

P = ParamSpec("P")
R = TypeVar("R")

# N_()-marked: shown with _(TOO_SLOW_MESSAGE)
TOO_SLOW_MESSAGE = N_("This took too long to compute; narrow the date range or try again.")
# SQLSTATE query_canceled: PostgreSQL's statement_timeout fired (or an operator cancelled it)
QUERY_CANCELED = "57014"


class ServiceError(Exception):
    """A service could not do what was asked; the message says why in the user's terms."""


class ServiceUnavailable(ServiceError):
    """A store or service the answer depends on cannot be reached right now. ``what`` is an
    English name (N_()-marked where it is written), translated in the message."""

    def __init__(self, what: str) -> None:
        super().__init__(
            _(
                "%(what)s is unavailable right now; try again in a moment.",
                what=_(what) if what else what,
            )
        )
        self.what = what


class TooSlow(ServiceUnavailable):
    """The database cancelled the work because it ran past the request's statement timeout."""

    def __init__(self, what: str) -> None:
        ServiceError.__init__(self, _(TOO_SLOW_MESSAGE))
        self.what = what


def is_statement_timeout(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) is a statement the database
    cancelled for taking too long (``BI_STATEMENT_TIMEOUT_S``; SQLSTATE 57014)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, TooSlow):
            return True
        for candidate in (exc, getattr(exc, "orig", None)):  # SQLAlchemy wraps the driver's
            if getattr(candidate, "sqlstate", None) == QUERY_CANCELED:
                return True
        exc = exc.__cause__
    return False


def unavailable_on_database_error(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn a database failure inside the decorated service into :class:`ServiceUnavailable`
    (``what``: an N_()-marked English name, translated in its message), logging the driver's
    own message (which may name hosts or SQL) only to the log."""

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        log = logging.getLogger(func.__module__)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except SQLAlchemyError as exc:
                if is_statement_timeout(exc):
                    log.warning("%s: cancelled by the statement timeout: %s", func.__name__, exc)
                    raise TooSlow(what) from exc
                log.warning("%s: database unavailable: %s", func.__name__, exc, exc_info=True)
                raise ServiceUnavailable(what) from exc

        return wrapper

    return decorator


def is_data_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the data cannot be read right now (database errors, a statement
    cancelled by the timeout, a service's :class:`ServiceUnavailable`), as opposed to a bug."""
    return isinstance(exc, SQLAlchemyError | ServiceUnavailable)
