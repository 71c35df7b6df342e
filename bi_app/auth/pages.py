"""Which role may see which page, read from the ``roles`` a page declares in ``register_page``.

A page without ``roles`` is open to every role; ``admin`` may see everything (the role's
definition in migration 0001). Path matching mirrors Dash's own router, so the page the guard
checks is the page Dash would render.

This module does not import Dash: callers hand in the page registry (``dash.page_registry``, a
mapping of module name to page dict), so the rules stay testable with a plain dict.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from fnmatch import fnmatch
from typing import Any

from werkzeug.exceptions import HTTPException

from bi_app.db.models import ROLES

SUPERUSER_ROLE = "admin"
log = logging.getLogger(__name__)


def page_roles(page: Mapping[str, Any]) -> tuple[str, ...]:
    roles = page.get("roles")
    if roles is None:
        return ROLES
    if isinstance(roles, str):
        return (roles,)
    return tuple(roles)


def role_allows(role: str | None, allowed: Iterable[str]) -> bool:
    if role is None:
        return False
    return role == SUPERUSER_ROLE or role in tuple(allowed)


def can_view(page: Mapping[str, Any], role: str | None) -> bool:
    return role_allows(role, page_roles(page))


def visible_pages(pages: Mapping[str, Mapping[str, Any]], role: str | None) -> list[dict]:
    """The pages of registry ``pages`` that ``role`` may open, in the registry's order."""
    return [page for page in pages.values() if can_view(page, role)]


def _matches_template(path_id: str, template: str) -> bool:
    template_id = template.strip("/")
    if not re.findall("<(.*?)>", template_id):
        return False  # Dash treats a template without variables as no match
    if not fnmatch(path_id, re.sub("<.*?>", "*", template_id)):
        return False
    return bool(re.findall(re.sub("<.*?>", "(.*)", template_id), path_id))


def page_for_path(
    pages: Mapping[str, Mapping[str, Any]], pathname: str | None, prefix: str = "/"
) -> dict | None:
    """The page of registry ``pages`` Dash would render for ``pathname`` (None: a 404)."""
    if pathname is None:
        return None
    path = pathname
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix) :]
    path_id = path.strip("/")
    for page in pages.values():
        template = page.get("path_template")
        if template and _matches_template(path_id, template):
            return page
        if path_id == str(page.get("path", "")).strip("/"):
            return page
    return None


_GUARDED = "__bi_role_guarded__"


def guarded_layout(
    page: Mapping[str, Any],
    layout: Any,
    check: Callable[[tuple[str, ...]], None],
    on_failure: Callable[[Mapping[str, Any], bool], Any] | None = None,
) -> Callable[..., Any]:
    """``layout`` (a function or a static component) behind ``check(page's roles)``.

    The roles are read from ``page`` at every call, so the registry stays the one truth. When
    building the layout fails, the error is logged and ``on_failure(page, data_outage)`` is shown
    instead (``data_outage``: the database or a service is down, not a bug). The role check's
    own refusal (an HTTP error) always passes."""
    from bi_app.errors import is_data_outage

    def guarded(**kwargs: Any) -> Any:
        check(page_roles(page))
        if not callable(layout):
            return layout
        try:
            return layout(**kwargs)
        except Exception as exc:
            # werkzeug's HTTP errors (the role check's 403) pass; not any exception with a
            # ``code`` attribute: SQLAlchemy's errors have one too
            if on_failure is None or isinstance(exc, HTTPException):
                raise
            log.warning("page %s could not be built: %s", page.get("path"), exc, exc_info=True)
            return on_failure(page, is_data_outage(exc))

    if callable(layout):
        functools.update_wrapper(guarded, layout)
    setattr(guarded, _GUARDED, True)
    return guarded


def guard_layouts(
    pages: MutableMapping[str, MutableMapping[str, Any]],
    check: Callable[[tuple[str, ...]], None],
    on_failure: Callable[[Mapping[str, Any], bool], Any] | None = None,
) -> None:
    """Put every page layout of registry ``pages`` behind the role check, where Dash's router
    produces it: however a routing request is shaped, the layout of a page the user may not open
    is never built. Idempotent, so it can run on every request (pages registered late count)."""
    for page in pages.values():
        layout = page.get("layout")
        if not getattr(layout, _GUARDED, False):
            page["layout"] = guarded_layout(page, layout, check, on_failure)
