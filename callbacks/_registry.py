"""A small callback registry, because Dash 4's global ``dash.callback`` hands callbacks to the
first app that serves a request and loses them for a second ``create_app()`` in the same process
(plotly/dash#1933, #3024).

Modules in ``callbacks/`` decorate plain functions with :func:`callback` (or register clientside
code with :func:`clientside_callback`); :func:`register_all` imports every such module and
attaches what they recorded to the given app. Each server-side callback is wrapped with a role
check, so a request from a user without the role gets 403 whatever the browser shows.
"""
from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import dash

ALL_ROLES: tuple[str, ...] = ("admin", "analyst", "viewer")


@dataclass(frozen=True)
class RegisteredCallback:
    func: Callable[..., Any] | None
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    roles: tuple[str, ...] = ALL_ROLES
    clientside: str | None = None


_REGISTRY: list[RegisteredCallback] = []


def callback(*args: Any, roles: tuple[str, ...] = ALL_ROLES, **kwargs: Any):
    """Record a server-side callback; ``roles`` are the roles allowed to trigger it."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        _REGISTRY.append(RegisteredCallback(func, args, kwargs, tuple(roles)))
        return func

    return decorator


def clientside_callback(code: str, *args: Any, **kwargs: Any) -> None:
    """Record a clientside callback (pure UI behaviour, no data, no role check needed)."""
    _REGISTRY.append(RegisteredCallback(None, args, kwargs, ALL_ROLES, clientside=code))


def _import_all() -> None:
    import callbacks

    for info in pkgutil.iter_modules(callbacks.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"callbacks.{info.name}")


def _guarded(func: Callable[..., Any], roles: tuple[str, ...]) -> Callable[..., Any]:
    from bi_app.auth import require_role  # late import: auth imports flask-login state

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        require_role(roles)
        return func(*args, **kwargs)

    return wrapper


def register_all(app: dash.Dash) -> int:
    """Attach every recorded callback to ``app``; returns how many were attached."""
    _import_all()
    for entry in _REGISTRY:
        if entry.clientside is not None:
            app.clientside_callback(entry.clientside, *entry.args, **entry.kwargs)
        else:
            app.callback(*entry.args, **entry.kwargs)(_guarded(entry.func, entry.roles))
    return len(_REGISTRY)


def registered() -> list[RegisteredCallback]:
    _import_all()
    return list(_REGISTRY)
