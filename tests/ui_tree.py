"""Reading a Dash component tree in tests: every node, its texts, its components by id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def walk(node: Any) -> Iterator[Any]:
    """``node`` and everything under it, depth first (strings included)."""
    yield node
    children = getattr(node, "children", None)
    if isinstance(children, (list, tuple)):
        for child in children:
            yield from walk(child)
    elif children is not None:
        yield from walk(children)


def texts(node: Any) -> list[str]:
    """Every string a person would read under ``node``, in order."""
    return [n for n in walk(node) if isinstance(n, str)]


def by_id(node: Any) -> dict[str, Any]:
    """Components with an id, by id (pattern-matching dict ids are keyed by their ``str``)."""
    return {str(n.id): n for n in walk(node) if getattr(n, "id", None) is not None}
