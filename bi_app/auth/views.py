"""The login and logout views and the request guard in front of every Dash route."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import flask
from flask_login import login_user, logout_user

from bi_app.auth import context as ctx
from bi_app.auth import pages as auth_pages
from bi_app.auth import users as auth_users
from bi_app.auth.ratelimit import LoginRateLimiter
from bi_app.auth.templates import render_login, render_message
from bi_app.db.models import utcnow

log = logging.getLogger(__name__)
EXTENSION_KEY = "bi_auth"
DASH_CONTENT_ID = "_pages_content"  # dash.page_container's routed content
DASH_LOCATION_ID = "_pages_location"
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
PUBLIC_PATHS = ("/login", "/logout", "/_favicon.ico", "/api/health", "/metrics")
# CSP, X-Frame-Options, nosniff and the other security headers are set on every response,
# these pages included, by bi_app.security_headers (one policy for the whole app).
SECURITY_HEADERS = {"Cache-Control": "no-store"}


@dataclass
class AuthState:
    limiter: LoginRateLimiter
    prefix: str  # requests_pathname_prefix: where the browser sees the app
    pages: Callable[[], Mapping[str, Mapping[str, Any]]]  # the page registry, read per request


def state() -> AuthState:
    return flask.current_app.extensions[EXTENSION_KEY]


def safe_next(raw: str | None, prefix: str = "/") -> str:
    """A local path to go to after login; anything that could leave the site becomes the home."""
    value = (raw or "").strip()
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        return prefix
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return prefix
    if parts.path.rstrip("/") in (f"{prefix}login".rstrip("/"), f"{prefix}logout"):
        return prefix
    return value


def _html(body: str, status: int, **headers: str) -> flask.Response:
    response = flask.Response(body, status=status, mimetype="text/html")
    response.headers.update(SECURITY_HEADERS)
    response.headers.update(headers)
    return response


def _login_page(
    status: int = 200,
    error: str | None = None,
    username: str = "",
    next_path: str | None = None,
    **headers: str,
) -> flask.Response:
    st = state()
    body = render_login(
        csrf=ctx.csrf_token(),
        next_path=next_path or st.prefix,
        prefix=st.prefix,
        username=username,
        error=error,
    )
    return _html(body, status, **headers)


def login_view() -> flask.Response:
    st = state()
    next_path = safe_next(flask.request.values.get("next"), st.prefix)
    if flask.request.method == "GET":
        if ctx.request_user() is not None:
            return flask.redirect(next_path)
        return _login_page(next_path=next_path)

    form = flask.request.form
    username = auth_users.normalize_username(form.get("username", ""))[:64]
    if not ctx.csrf_valid(form.get(ctx.CSRF_FORM_FIELD)):
        return _login_page(400, "The sign-in form expired. Please try again.", username, next_path)
    ip = ctx.request_ip()
    if st.limiter.blocked(ip, username):
        wait = st.limiter.retry_after()
        log.warning("login rate limit reached for %r from %s", username, ip)
        return _login_page(
            429,
            f"Too many failed sign-in attempts. Try again in {wait} seconds.",
            username,
            next_path,
            **{"Retry-After": str(wait)},
        )
    return _authenticate(username, form.get("password", ""), ip, next_path)


def _authenticate(username: str, password: str, ip: str | None, next_path: str) -> flask.Response:
    from bi_app.extensions import db

    st = state()
    with db.session() as session:
        user = auth_users.get_user(session, username) if username else None
        ok = auth_users.verify_password(user, password)
        if not ok or user is None or not user.active:
            reason = "unknown_user" if user is None else ("disabled" if ok else "bad_password")
            auth_users.audit(
                session,
                "login.failure",
                target=username or None,
                detail={"reason": reason},
                actor=None,
            )
            session.commit()
            failures = st.limiter.record_failure(ip, username)
            log.warning(
                "login failed for %r from %s (%s, %d in this window)",
                username,
                ip,
                reason,
                failures,
            )
            # 200, not 401: a form answer, and 401 would need a WWW-Authenticate challenge
            return _login_page(200, "Invalid username or password.", username, next_path)
        user.last_login_at = utcnow()
        auth_users.audit(session, "login.success", target=user.username, actor=user)
        session.commit()
        snapshot = ctx.SessionUser.from_model(user, flask.current_app.config["SECRET_KEY"])
    st.limiter.reset(ip, username)
    log.info("login: %s (%s) from %s", snapshot.username, snapshot.role, ip)
    flask.session.clear()  # a fresh session and CSRF token for the authenticated user
    login_user(snapshot)
    ctx.csrf_token()
    return flask.redirect(next_path)


def logout_view() -> flask.Response:
    from bi_app.extensions import db

    st = state()
    if flask.request.method != "POST":
        # GET is routed here (not to Dash's catch-all page route) only to be refused: a link or
        # an <img> must never log anyone out.
        flask.abort(405, valid_methods=["POST"])
    if not ctx.csrf_valid(flask.request.form.get(ctx.CSRF_FORM_FIELD)):
        return _html(
            render_message(
                "Sign-out failed",
                "The form expired; reload the page and try again.",
                prefix=st.prefix,
            ),
            400,
        )
    user = ctx.request_user()
    if user is not None:
        with db.session() as session:
            auth_users.audit(session, "logout", target=user.username)
            session.commit()
        logout_user()
    flask.session.clear()
    return flask.redirect(f"{st.prefix}login")


# --- the guard ------------------------------------------------------------------------------


def _relative_path(path: str, prefix: str) -> str:
    return "/" + path[len(prefix) :] if path.startswith(prefix) else path


def _json_error(status: int, message: str) -> flask.Response:
    response = flask.Response(
        json.dumps({"error": message, "status": status}), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _routed_pathname(body: object) -> str | None:
    """The pathname of a Dash page-routing callback request, or None for any other callback."""
    if not isinstance(body, dict) or DASH_CONTENT_ID not in str(body.get("output", "")):
        return None
    for item in body.get("inputs") or []:
        if (
            isinstance(item, dict)
            and item.get("id") == DASH_LOCATION_ID
            and item.get("property") == "pathname"
        ):
            return item.get("value") if isinstance(item.get("value"), str) else "/"
    return "/"


def guard() -> flask.Response | None:
    """Before every request: a session for anything non-public, the role for a page."""
    st = state()
    rel = _relative_path(flask.request.path, st.prefix)
    if rel in PUBLIC_PATHS or rel.startswith(PUBLIC_PREFIXES):
        return None
    user = ctx.request_user()
    is_api = rel.startswith(("/_", "/api/")) or flask.request.method not in ("GET", "HEAD")
    if user is None:
        if is_api:
            return _json_error(401, "authentication required")
        target = flask.request.full_path if flask.request.query_string else flask.request.path
        return flask.redirect(f"{st.prefix}login?next={quote(target, safe='/')}")
    if rel == "/_dash-update-component":
        pathname = _routed_pathname(flask.request.get_json(silent=True))
        page = (
            auth_pages.page_for_path(st.pages(), pathname, st.prefix)
            if pathname is not None
            else None
        )
        if page is not None and not auth_pages.can_view(page, user.role):
            return _json_error(403, "you are not allowed to open this page")
        return None
    if not is_api:
        page = auth_pages.page_for_path(st.pages(), flask.request.path, st.prefix)
        if page is not None and not auth_pages.can_view(page, user.role):
            return _html(
                render_message(
                    "Not allowed",
                    "Your role does not give access to this page.",
                    prefix=st.prefix,
                    link_text="Go to the start",
                ),
                403,
            )
    return None


def enforce_denial(response: flask.Response) -> flask.Response:
    """After a callback's role check failed, answer 401/403 even if an ``on_error`` handler of
    Dash swallowed the exception and produced a normal-looking response."""
    status = flask.g.pop("auth_denied", None)
    if status is None or response.status_code == status:
        return response
    return _json_error(status, "authentication required" if status == 401 else "forbidden")
