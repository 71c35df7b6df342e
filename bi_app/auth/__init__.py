"""Authentication, authorization and audit: the one package the rest of the app imports.

- login/logout views and a guard in front of every route (:mod:`bi_app.auth.views`);
- users, passwords and the audit trail (:mod:`bi_app.auth.users`);
- the logged-in user, CSRF token and flask-login wiring (:mod:`bi_app.auth.context`);
- page permissions from ``register_page(..., roles=...)`` (:mod:`bi_app.auth.pages`);
- sign-in throttling (:mod:`bi_app.auth.ratelimit`, :mod:`bi_app.auth.devices`), server-side
  sessions (:mod:`bi_app.auth.sessions`), login HTML (:mod:`bi_app.auth.templates`);
- :func:`require_role`, called by the callback registry before every server callback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import flask
from werkzeug.exceptions import Forbidden, Unauthorized
from werkzeug.middleware.proxy_fix import ProxyFix

from bi_app.auth.context import (
    SessionUser,
    csrf_token,
    current_role,
    current_username,
    init_login_manager,
    request_user,
)
from bi_app.auth.pages import (
    can_view,
    guard_layouts,
    page_for_path,
    role_allows,
    visible_pages,
)
from bi_app.auth.ratelimit import init_limiter
from bi_app.auth.users import (
    MIN_PASSWORD_LENGTH,
    UserError,
    audit,
    create_user,
    disable_user,
    ensure_admin,
    get_user,
    list_users,
    set_password,
    sign_out_everywhere,
    verify_password,
)
from bi_app.auth.views import (
    EXTENSION_KEY,
    AuthState,
    enforce_denial,
    guard,
    language_view,
    login_view,
    logout_view,
)
from bi_app.config import Settings

if TYPE_CHECKING:  # only for the annotation: nothing in bi_app.auth imports Dash at runtime
    import dash

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "SessionUser",
    "UserError",
    "audit",
    "can_view",
    "create_user",
    "csrf_token",
    "current_role",
    "current_username",
    "disable_user",
    "ensure_admin",
    "get_user",
    "init_app",
    "list_users",
    "page_for_path",
    "request_user",
    "require_role",
    "set_password",
    "shell_context",
    "sign_out_everywhere",
    "verify_password",
    "visible_pages",
]


def shell_context(pages: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """What the app shell shows of the signed-in user: name, role, the pages of ``pages`` they
    may open, and the CSRF token of the logout form (None when signed out)."""
    role, username = current_role(), current_username()
    return {
        "visible": visible_pages(pages, role),
        "username": username,
        "role": role,
        "csrf": csrf_token() if username else None,
    }


def init_app(
    app: dash.Dash,
    settings: Settings,
    *,
    pages: Callable[[], Mapping[str, Mapping[str, Any]]],
    on_layout_failure: Callable[[Mapping[str, Any], bool], Any] | None = None,
) -> None:
    """Wire login, logout, the request guard, the page-layout role check, sign-in throttling,
    session expiry and the trusted-proxy fix into ``app``'s Flask server.

    ``pages`` returns the page registry the guard checks (the app factory passes
    ``lambda: dash.page_registry``); it is read per request, so pages registered later count.
    ``on_layout_failure(page, data_outage)`` is what a page shows when its layout cannot be built.
    """
    from bi_app.extensions import login_manager

    server = app.server
    if settings.proxy_hops:
        # Outermost, so every later layer (metrics, audit, throttling) sees the client address
        # the trusted proxies report; without it X-Forwarded-For is ignored entirely.
        server.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            server.wsgi_app, x_for=settings.proxy_hops, x_proto=settings.proxy_hops
        )
    server.config.update(
        PERMANENT_SESSION_LIFETIME=dt.timedelta(seconds=settings.session_lifetime),
        # the cookie's expiry is the absolute lifetime; idle time is kept on the server
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    init_login_manager(login_manager, server)
    throttle = init_limiter(server, settings)
    server.extensions[EXTENSION_KEY] = AuthState(
        throttle, app.config.requests_pathname_prefix, pages
    )
    routes = app.config.routes_pathname_prefix
    server.add_url_rule(f"{routes}login", "bi_auth_login", login_view, methods=["GET", "POST"])
    server.add_url_rule(f"{routes}logout", "bi_auth_logout", logout_view, methods=["GET", "POST"])
    server.add_url_rule(
        f"{routes}language", "bi_auth_language", language_view, methods=["GET", "POST"]
    )

    def guard_page_layouts() -> None:
        # Dash's router builds layouts only inside a callback request; nothing else needs this
        if flask.request.path.endswith("/_dash-update-component"):
            guard_layouts(pages(), require_role, on_layout_failure)

    server.before_request(guard_page_layouts)
    server.before_request(guard)
    server.after_request(enforce_denial)


def require_role(roles: Iterable[str]) -> None:
    """Raise 401 without a logged-in user and 403 when the user's role is not in ``roles``.

    The status is also noted on ``flask.g`` so :func:`enforce_denial` keeps it even when a Dash
    ``on_error`` handler catches the exception.
    """
    user = request_user()
    if user is None:
        _note_denial(401)
        raise Unauthorized("Sign in to use this.")
    if not role_allows(user.role, roles):
        _note_denial(403)
        raise Forbidden("Your role does not allow this action.")


def _note_denial(status: int) -> None:
    if flask.has_app_context():
        flask.g.auth_denied = status
