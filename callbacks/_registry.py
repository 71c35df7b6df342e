"""A small callback registry, because Dash 4's global ``dash.callback`` hands callbacks to the
first app that serves a request and loses them for a second ``create_app()`` in the same process
(plotly/dash#1933, #3024).

Modules in ``callbacks/`` decorate plain functions with :func:`callback` (or register clientside
code with :func:`clientside_callback`); :func:`register_all` imports every such module and
attaches what they recorded to the given app. Two things are declared once, on the decorator:

- ``roles`` (required, from :mod:`bi_app.roles`): each server-side callback is wrapped with a role
  check, so a user without the role gets 403 whatever the browser shows. There is no default, so
  a callback cannot silently be open to everyone.
- ``fallback`` (optional, from :mod:`components.fallback`): what the outputs show when the
  callback raises. The failure is logged once with the callback's name and inputs; the person sees
  a readable message, never a traceback. ``PreventUpdate`` and HTTP errors (the 403) pass through.
- ``cache_output`` (optional): the data namespaces a callback reads. Its whole answer is then
  cached on its inputs and those namespaces' generation (:mod:`bi_app.data.output_cache`), so a
  repeat request skips the queries, the drawing and Dash's dispatch. Only for callbacks whose
  output depends on their inputs, the data and the settings alone: not on the user, the trigger
  or the clock.
  The role check still runs first on every request; failures are never cached.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dash
from dash.exceptions import PreventUpdate
from werkzeug.exceptions import HTTPException

from bi_app.roles import ALL_ROLES

Fallback = Callable[[], Any]
_INPUTS_REPR = reprlib.Repr()  # inputs can be uploads or whole grids: log a bounded repr
_INPUTS_REPR.maxstring = _INPUTS_REPR.maxother = 80


@dataclass(frozen=True)
class RegisteredCallback:
    func: Callable[..., Any] | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    roles: tuple[str, ...] = ALL_ROLES
    clientside: str | Any | None = None
    fallback: Fallback | None = None
    large_body: bool = False
    cache_output: tuple[str, ...] = ()


_REGISTRY: list[RegisteredCallback] = []


def callback(
    *args: Any,
    roles: tuple[str, ...],
    fallback: Fallback | None = None,
    large_body: bool = False,
    cache_output: tuple[str, ...] = (),
    **kwargs: Any,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Record a server-side callback that ``roles`` may trigger; ``fallback`` builds what its
    outputs show when it raises. ``large_body=True`` only for a callback that carries a file:
    its request may exceed ``BI_MAX_CALLBACK_KB`` (up to ``BI_MAX_REQUEST_MB``).
    ``cache_output`` names the data namespaces whose generation keys its cached output."""
    if not roles:
        raise ValueError("a callback needs at least one role (see bi_app.roles)")
    if isinstance(cache_output, str):
        raise TypeError("cache_output: a tuple of data namespaces, e.g. (sales.NAMESPACE,)")

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY.append(
            RegisteredCallback(
                func,
                args,
                kwargs,
                tuple(roles),
                fallback=fallback,
                large_body=large_body,
                cache_output=tuple(cache_output),
            )
        )
        return func

    return decorator


def clientside_callback(code: str | Any, *args: Any, **kwargs: Any) -> None:
    """Record a clientside callback (pure UI behaviour, no data, no role check needed)."""
    _REGISTRY.append(RegisteredCallback(None, args, kwargs, ALL_ROLES, clientside=code))


def _import_all() -> None:
    import callbacks

    for info in pkgutil.iter_modules(callbacks.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"callbacks.{info.name}")


def with_fallback(func: Callable[..., Any], fallback: Fallback | None) -> Callable[..., Any]:
    """``func`` that logs a failure and returns ``fallback()`` instead of raising. Without a
    fallback, a data outage (database or service down) leaves the outputs as they are (logged)
    instead of answering 500; any other error still raises. A statement cancelled by the
    request's statement timeout is a data outage too, and the fallback is told why
    (``reason``): the person reads that it took too long, not that something is down."""
    from bi_app.errors import TOO_SLOW_MESSAGE, is_data_outage, is_statement_timeout
    from bi_app.i18n import _
    from components.fallback import build

    log = logging.getLogger(func.__module__)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (PreventUpdate, HTTPException):
            raise
        except Exception as exc:
            if fallback is None:
                if not is_data_outage(exc):
                    raise
                log.warning(
                    "%s: data unavailable, outputs left as they are: %s", func.__name__, exc
                )
                raise PreventUpdate from None
            if is_statement_timeout(exc):
                log.warning(
                    "%s: cancelled by the statement timeout for inputs %s",
                    func.__name__,
                    _INPUTS_REPR.repr(args),
                )
                return build(fallback, _(TOO_SLOW_MESSAGE))
            log.exception("%s failed for inputs %s", func.__name__, _INPUTS_REPR.repr(args))
            return fallback()

    return wrapper


def with_output_cache(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` that tells the answer cache it returned normally, so its answer may be kept
    (see :mod:`bi_app.data.output_cache`; a failure raises before that and is never kept)."""
    from bi_app.data.output_cache import mark_answer_cacheable

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        result = func(*args, **kwargs)
        mark_answer_cacheable()
        return result

    return wrapper


def _guarded(entry: RegisteredCallback) -> Callable[..., Any]:
    from bi_app.auth import require_role  # late import: auth imports flask-login state

    func = entry.func
    if entry.cache_output:
        func = with_output_cache(func)
    func = with_fallback(func, entry.fallback)

    @functools.wraps(entry.func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_role(entry.roles)
        return func(*args, **kwargs)

    return wrapper


def register_all(app: dash.Dash) -> int:
    """Attach every recorded callback to ``app``; returns how many were attached."""
    from bi_app.auth import require_role
    from bi_app.auth.views import CALLBACK_MAP_KEY, LARGE_BODY_KEY
    from bi_app.data import output_cache

    _import_all()
    large_body: dict[str, tuple[str, ...]] = {}
    cached: dict[str, output_cache.CachedCallback] = {}
    for entry in _REGISTRY:
        if entry.clientside is not None:
            app.clientside_callback(entry.clientside, *entry.args, **entry.kwargs)
            continue
        before = set(app.callback_map)
        app.callback(*entry.args, **entry.kwargs)(_guarded(entry))
        added = set(app.callback_map) - before
        if entry.large_body:
            large_body.update(dict.fromkeys(added, entry.roles))
        if entry.cache_output:
            spec = output_cache.CachedCallback(entry.cache_output, entry.roles)
            cached.update(dict.fromkeys(added, spec))
    app.server.config[LARGE_BODY_KEY] = large_body
    app.server.config[CALLBACK_MAP_KEY] = lambda: app.callback_map
    # after the auth guard (bi_app.auth.init_app): a session and a bounded body come first
    callback_path = f"{app.config.routes_pathname_prefix}_dash-update-component"
    output_cache.init_app(app.server, cached, callback_path, require_role)
    return len(_REGISTRY)


def registered() -> list[RegisteredCallback]:
    _import_all()
    return list(_REGISTRY)


def entry_for(func: Callable[..., Any]) -> RegisteredCallback:
    """The registration of ``func`` (tests call it with its fallback, as Dash would)."""
    for entry in registered():
        if entry.func is func:
            return entry
    raise LookupError(f"{func.__qualname__} is not a registered callback")


def call(func: Callable[..., Any], *args: Any) -> Any:
    """Call a registered callback with its fallback applied, without the role check."""
    return with_fallback(func, entry_for(func).fallback)(*args)
