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
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from bi_app.auth import context as ctx
from bi_app.auth import devices
from bi_app.auth import pages as auth_pages
from bi_app.auth import sessions as auth_sessions
from bi_app.auth import users as auth_users
from bi_app.auth.ratelimit import Attempt, LoginThrottle, name_tag
from bi_app.auth.templates import render_login, render_message
from bi_app.db.models import utcnow
from bi_app.i18n import _

log = logging.getLogger(__name__)
EXTENSION_KEY = "bi_auth"
# server.config key: Dash callback output key -> roles, for the callbacks that may carry more
# than BI_MAX_CALLBACK_KB (a file upload); written by callbacks._registry.register_all
LARGE_BODY_KEY = "BI_LARGE_BODY_CALLBACKS"
# server.config key: a function returning the Dash app's callback map (output key -> callback)
CALLBACK_MAP_KEY = "BI_CALLBACK_MAP"
PUBLIC_PREFIXES = ("/assets/", "/_dash-component-suites/")
# /api/alerts/alertmanager: a machine endpoint with its own bearer token (bi_app.alerts)
PUBLIC_PATHS = (
    "/login",
    "/logout",
    "/_favicon.ico",
    "/api/health",
    "/metrics",
    "/api/alerts/alertmanager",
)
# CSP, X-Frame-Options, nosniff and the other security headers are set on every response,
# these pages included, by bi_app.security_headers (one policy for the whole app).
SECURITY_HEADERS = {"Cache-Control": "no-store"}


@dataclass
class AuthState:
    throttle: LoginThrottle
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
    if flask.request.method in ("GET", "HEAD"):
        if ctx.request_user() is not None:
            return flask.redirect(next_path)
        return _login_page(next_path=next_path)

    form = flask.request.form
    username = auth_users.normalize_username(form.get("username", ""))[:64]
    if not ctx.csrf_valid(form.get(ctx.CSRF_FORM_FIELD)):
        expired = _("The sign-in form expired. Please try again.")
        return _login_page(400, expired, username, next_path)
    ip = ctx.request_ip()
    # Counted before the password is checked: see bi_app.auth.ratelimit.
    attempt = st.throttle.attempt(username, ip, devices.device_for(username))
    if not attempt.allowed:
        wait = attempt.retry_after
        log.warning("login throttled for name#%s from %s", name_tag(username), ip)
        return _login_page(
            429,
            _("Too many sign-in attempts. Try again in %(seconds)s seconds.", seconds=wait),
            username,
            next_path,
            **{"Retry-After": str(wait)},
        )
    try:
        return _authenticate(username, form.get("password", ""), ip, next_path, attempt)
    except SQLAlchemyError as exc:
        log.warning("sign-in impossible: database unavailable (%s)", type(exc).__name__)
        return _login_page(
            503,
            _(
                "Signing in is unavailable right now: the database does not answer. "
                "Try again in a moment."
            ),
            username,
            next_path,
            **{"Retry-After": "30"},
        )


def _authenticate(
    username: str, password: str, ip: str | None, next_path: str, attempt: Attempt
) -> flask.Response:
    from bi_app.extensions import db

    st = state()
    settings = flask.current_app.config["BI_SETTINGS"]
    with db.session() as session:
        user = auth_users.get_user(session, username) if username else None
        ok = auth_users.verify_password(user, password)
        if not ok or user is None or not user.active:
            reason = "unknown_user" if user is None else ("disabled" if ok else "bad_password")
            # A name nobody has may be a password typed in the wrong field: only its hash is
            # written where people read (audit trail, app_logs).
            shown = user.username if user is not None else None
            detail = {"reason": reason}
            if user is None:
                detail["name"] = f"#{name_tag(username)}"
            auth_users.audit(session, "login.failure", target=shown, detail=detail, actor=None)
            session.commit()
            log.warning(
                "login failed for %s from %s (%s)",
                shown if shown else f"name#{name_tag(username)}",
                ip,
                reason,
            )
            # 200, not 401: a form answer, and 401 would need a WWW-Authenticate challenge
            return _login_page(200, _("Invalid username or password."), username, next_path)
        user.last_login_at = utcnow()
        token = auth_sessions.start(
            session, user.id, settings.session_lifetime, settings.session_idle_timeout
        )
        auth_users.audit(session, "login.success", target=user.username, actor=user)
        session.commit()
        snapshot = ctx.SessionUser.from_model(user, flask.current_app.config["SECRET_KEY"], token)
    st.throttle.succeeded(attempt)
    log.info("login: %s (%s) from %s", snapshot.username, snapshot.role, ip)
    flask.session.clear()  # a fresh session and CSRF token for the authenticated user
    flask.session.permanent = True  # the cookie ends with PERMANENT_SESSION_LIFETIME
    login_user(snapshot)
    ctx.csrf_token()
    response = flask.redirect(next_path)
    devices.remember(response, snapshot.username, st.prefix)
    return response


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
                _("Sign-out failed"),
                _("The form expired; reload the page and try again."),
                prefix=st.prefix,
            ),
            400,
        )
    user = ctx.request_user()
    if user is not None:
        everywhere = flask.request.args.get("everywhere") == "1"
        auth_sessions.VERIFIED.forget(user.get_id())
        try:
            with db.session() as session:
                if everywhere:
                    ended = auth_sessions.revoke_all(session, user.id)
                    auth_users.audit(
                        session,
                        "logout.everywhere",
                        target=user.username,
                        detail={"sessions": ended},
                    )
                else:
                    auth_sessions.revoke(session, user.session_token)
                    auth_users.audit(session, "logout", target=user.username)
                session.commit()
        except SQLAlchemyError as exc:
            log.warning("sign-out not recorded: database unavailable (%s)", type(exc).__name__)
            logout_user()
            flask.session.clear()
            return _html(
                render_message(
                    _("Signed out in this browser only"),
                    _(
                        "The database does not answer, so the server could not end the session "
                        "itself. Sign in and out again once it is back to end it everywhere."
                    ),
                    prefix=st.prefix,
                    link_text=_("Sign in"),
                    link=f"{st.prefix}login",
                ),
                503,
            )
        logout_user()
    flask.session.clear()
    return flask.redirect(f"{st.prefix}login")


def language_view() -> flask.Response:
    """Store the language the signed-in user chose (form field ``locale``: ``en``, ``ko``, or
    empty for the browser's) and go back to the page they were on."""
    from bi_app.extensions import db

    st = state()
    if flask.request.method != "POST":
        flask.abort(405, valid_methods=["POST"])
    back = safe_next(flask.request.form.get("next"), st.prefix)
    user = ctx.request_user()
    if user is None:
        return flask.redirect(f"{st.prefix}login")
    if not ctx.csrf_valid(flask.request.form.get(ctx.CSRF_FORM_FIELD)):
        message = _("The form expired; reload the page and try again.")
        return _html(render_message(_("Language not changed"), message, prefix=st.prefix), 400)
    try:
        with db.session() as session:
            chosen = auth_users.set_locale(session, user.id, flask.request.form.get("locale"))
            session.commit()
    except auth_users.UserError:
        message = _("That language is not available.")
        return _html(render_message(_("Language not changed"), message, prefix=st.prefix), 400)
    except SQLAlchemyError as exc:
        log.warning("language not stored: database unavailable (%s)", type(exc).__name__)
        message = _("The database does not answer; try again in a moment.")
        return _html(render_message(_("Language not changed"), message, prefix=st.prefix), 503)
    auth_sessions.VERIFIED.forget_user(user.id)  # the cached snapshot holds the old language
    log.info("user %s reads the app in %s", user.username, chosen or "the browser's language")
    return flask.redirect(back)


# --- the guard ------------------------------------------------------------------------------


def _relative_path(path: str, prefix: str) -> str:
    return "/" + path[len(prefix) :] if path.startswith(prefix) else path


def _json_error(status: int, message: str) -> flask.Response:
    response = flask.Response(
        json.dumps({"error": message, "status": status}), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _callback_body_refusal(role: str) -> flask.Response | None:
    """Bound a Dash callback request before Dash reads it: 411 without a length, 413 past the
    callback limit (unless it is one of the few callbacks that carry a file and the user may run
    it), 400 for a body that is not plain JSON (too deep to parse, a number too long) or that
    names no callback of the app."""
    request = flask.request
    settings = flask.current_app.config["BI_SETTINGS"]
    length = request.content_length
    if length is None:
        return _json_error(411, "a callback request needs a Content-Length")
    large: Mapping[str, tuple[str, ...]] = flask.current_app.config.get(LARGE_BODY_KEY, {})
    too_large = length > settings.max_callback_kb * 1024
    if too_large and not any(auth_pages.role_allows(role, roles) for roles in large.values()):
        return _json_error(413, "this request is too large")
    try:
        body = request.get_json(silent=False)  # cached: Dash reuses the parsed body
    except RecursionError:
        return _json_error(400, "the request is nested too deeply")
    except HTTPException as exc:  # 400 not JSON (a number too long), 413 past MAX_CONTENT_LENGTH
        return _json_error(exc.code or 400, "the request could not be read")
    output = body.get("output") if isinstance(body, dict) else None
    if too_large:
        if not isinstance(output, str) or output not in large:
            return _json_error(413, "this request is too large")
        if not auth_pages.role_allows(role, large[output]):
            return _json_error(403, "forbidden")
    callbacks = flask.current_app.config.get(CALLBACK_MAP_KEY)
    if not isinstance(output, str) or (callbacks is not None and output not in callbacks()):
        return _json_error(400, "no such callback")
    return None


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
        # Page roles are checked where the layout is produced (pages.guard_layouts), whatever
        # the routing request looks like; here only the body is bounded.
        return _callback_body_refusal(user.role)
    if not is_api:
        page = auth_pages.page_for_path(st.pages(), flask.request.path, st.prefix)
        if page is not None and not auth_pages.can_view(page, user.role):
            return _html(
                render_message(
                    _("Not allowed"),
                    _("Your role does not give access to this page."),
                    prefix=st.prefix,
                    link_text=_("Go to the start"),
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
