"""Domain errors every service raises: their message is safe to show a person.

Services catch their infrastructure's exceptions (SQLAlchemy, drivers, HTTP clients) at their own
edge, log the details and raise one of these; the UI shows ``str(exc)`` and never driver text.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import SQLAlchemyError

P = ParamSpec("P")
R = TypeVar("R")


class ServiceError(Exception):
    """A service could not do what was asked; the message says why in the user's terms."""


class ServiceUnavailable(ServiceError):
    """A store or service the answer depends on cannot be reached right now."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is unavailable right now; try again in a moment.")
        self.what = what


def unavailable_on_database_error(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn a database failure inside the decorated service into :class:`ServiceUnavailable`,
    logging the driver's own message (which may name hosts or SQL) only to the log."""

    def decorator(func: Callable[P, R]) -> Callable[P, R]:
        log = logging.getLogger(func.__module__)

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return func(*args, **kwargs)
            except SQLAlchemyError as exc:
                log.warning("%s: database unavailable: %s", func.__name__, exc, exc_info=True)
                raise ServiceUnavailable(what) from exc

        return wrapper

    return decorator


def is_data_outage(exc: BaseException) -> bool:
    """Whether ``exc`` means the data cannot be read right now (database errors, a service's
    :class:`ServiceUnavailable`), as opposed to a bug."""
    return isinstance(exc, SQLAlchemyError | ServiceUnavailable)
