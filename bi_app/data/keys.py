"""Normalizing the arguments of data functions, so equivalent filters share one cache entry.

Two layers: :func:`normalize_value` turns what a caller passed into the canonical argument the
data function receives (codes stripped and lower-cased, collections as sorted de-duplicated
tuples, an empty collection as ``None`` meaning "all"), and :func:`key_part` turns canonical
arguments into a stable text for the cache key (dates as ISO strings). The function runs on the
canonical arguments, so everything sharing a key also shares a result.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any

_SCALARS = (bool, int, float)


def normalize_value(value: Any, *, keep_case: bool = False) -> Any:
    """The canonical form of one argument; raises ``TypeError`` for values without a stable key."""
    if value is None or isinstance(value, _SCALARS):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value
    if isinstance(value, enum.Enum):
        return normalize_value(value.value, keep_case=keep_case)
    if isinstance(value, str):
        text = value.strip()
        return text if keep_case else text.lower()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = {normalize_value(v, keep_case=keep_case) for v in value}
        items.discard(None)
        items.discard("")
        if not items:
            return None
        return tuple(sorted(items, key=_sort_key))
    raise TypeError(
        f"cannot build a cache key from a {type(value).__name__}: pass codes, dates or numbers"
    )


def _sort_key(value: Any) -> tuple[str, str]:
    # Mixed types (e.g. 1 and "1") must still sort deterministically.
    return (type(value).__name__, key_part(value))


def key_part(value: Any) -> str:
    """Stable text for a canonical value: dates as ISO strings, tuples element by element."""
    if value is None:
        return "~"
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, tuple):
        return "(" + ",".join(key_part(v) for v in value) + ")"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def canonical_arguments(
    signature: inspect.Signature,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    keep_case: Collection[str] = (),
) -> dict[str, Any]:
    """Bind a call to the function's signature (positional and keyword calls alike, defaults
    filled in) and normalize every argument."""
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        out[name] = normalize_value(value, keep_case=name in keep_case)
    return out


def check_cacheable(signature: inspect.Signature, qualname: str) -> None:
    """Cached functions take named parameters only, so a call can be replayed from its key."""
    for param in signature.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"{qualname}: cached functions cannot take *args or **kwargs")


def argument_key(canonical: Mapping[str, Any]) -> str:
    """A short digest of canonical arguments; names are included so reordering cannot collide."""
    text = "|".join(f"{name}={key_part(value)}" for name, value in sorted(canonical.items()))
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:20]


def function_key(namespace: str, func: Callable[..., Any]) -> str:
    return f"{namespace}:{func.__module__.rsplit('.', 1)[-1]}.{func.__qualname__}"


def cache_key(namespace: str, func: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """The generation-less part of the cache key a call of ``func`` would use."""
    canonical = canonical_arguments(inspect.signature(func), args, kwargs)
    return f"{function_key(namespace, func)}:{argument_key(canonical)}"
