"""Which role may see which page, read from the ``roles`` a page declares in ``register_page``.

A page without ``roles`` is open to every role; ``admin`` may see everything (the role's
definition in migration 0001). Path matching mirrors Dash's own router, so the page the guard
checks is the page Dash would render.

This module does not import Dash: callers hand in the page registry (``dash.page_registry``, a
mapping of module name to page dict), so the rules stay testable with a plain dict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fnmatch import fnmatch
from typing import Any

from bi_app.db.models import ROLES

SUPERUSER_ROLE = "admin"


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
