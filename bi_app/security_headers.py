"""Security headers on every response, and a same-origin check on every state-changing request.

- flask-talisman sets the Content-Security-Policy, X-Frame-Options, X-Content-Type-Options,
  Referrer-Policy and Permissions-Policy on every response (pages, callbacks, assets, JSON, errors,
  the login page), and HSTS in production. This module is the only source of those headers.
- The CSP allows no inline script except Dash's own, by hash (``app.csp_hashes()``): the renderer
  start-up line and inline clientside callbacks. Our clientside callbacks are functions in
  ``assets/app.js`` (``ClientsideFunction``), so they need no hash and no ``'unsafe-eval'``; but
  Dash pages add one inline callback of their own (the document title) in a ``before_request``
  hook on the first request, after the app is built. So the hashes are taken per response, when
  every inline script Dash will serve is known (a few hashes of short strings: ~25 µs).
- A request that is not GET/HEAD must come from this origin: a browser says so with
  ``Sec-Fetch-Site`` (or ``Origin``). Clients that send neither (curl, scripts, the Flask test
  client) are let through: they carry no victim's cookie, and the session and CSRF checks still
  apply to them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import flask
from flask_talisman import DENY, Talisman

if TYPE_CHECKING:  # services never import dash at run time
    import dash

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset({"GET", "HEAD"})
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})  # "none": typed URL, bookmark
# Probed by load balancers and scrapers inside the network, often over plain HTTP: a redirect to
# HTTPS would read as "down". They set no cookie and serve no page.
HTTPS_EXEMPT_PATHS = ("/api/health", "/metrics")
REFERRER_POLICY = "same-origin"
PERMISSIONS_POLICY = {
    "camera": "()",
    "microphone": "()",
    "geolocation": "()",
    "payment": "()",
    "usb": "()",
    "browsing-topics": "()",
}
HSTS_MAX_AGE_S = 365 * 24 * 3600
_SESSION_COOKIE_KEYS = (
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "SESSION_COOKIE_SAMESITE",
)


def content_security_policy(script_hashes: list[str] | tuple[str, ...]) -> dict[str, str]:
    """The policy, directive by directive, given the hashes of the inline scripts Dash serves."""
    return {
        "default-src": "'self'",
        "script-src": " ".join(["'self'", *script_hashes]),
        # Dash's core components (dcc, its date picker) and react-dom inject inline styles at run
        # time: without 'unsafe-inline' every page logs dozens of "Applying inline style
        # violates ... style-src" errors (checked in Chromium with tests/e2e/test_csp.py)
        "style-src": "'self' 'unsafe-inline'",
        "img-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def csp_header(policy: Mapping[str, str]) -> str:
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def init_app(app: dash.Dash, settings: Any) -> None:
    """Send the security headers on every response of ``app`` and refuse cross-site writes."""
    server = app.server
    production = settings.env == "production"
    kept = {key: server.config.get(key) for key in _SESSION_COOKIE_KEYS}
    Talisman(
        server,
        content_security_policy=None,  # set by _set_csp: the hashes are known only per request
        frame_options=DENY,
        referrer_policy=REFERRER_POLICY,
        permissions_policy=PERMISSIONS_POLICY,
        x_content_type_options=True,
        force_https=False,  # see _redirect_to_https: production only, probes exempt
        strict_transport_security=production,
        strict_transport_security_max_age=HSTS_MAX_AGE_S,
        strict_transport_security_include_subdomains=False,
        # The app factory owns the session cookie: Talisman must neither change its settings
        # here nor turn SESSION_COOKIE_SECURE on per request (http://127.0.0.1 in development).
        session_cookie_secure=False,
        session_cookie_http_only=bool(kept["SESSION_COOKIE_HTTPONLY"]),
        session_cookie_samesite=kept["SESSION_COOKIE_SAMESITE"],
    )
    server.config.update(kept)

    def _set_csp(response: flask.Response) -> flask.Response:
        policy = content_security_policy(list(app.csp_hashes()))
        response.headers["Content-Security-Policy"] = csp_header(policy)
        return response

    server.after_request(_set_csp)
    if production:
        server.before_request(_redirect_to_https)
    server.before_request(refuse_cross_site)


def _redirect_to_https() -> flask.Response | None:
    request = flask.request
    if request.is_secure or request.headers.get("X-Forwarded-Proto", "http") == "https":
        return None
    if request.path in HTTPS_EXEMPT_PATHS or not request.url.startswith("http://"):
        return None
    # 308 keeps the method and body of a POST; a GET is simply repeated over HTTPS
    return flask.redirect(request.url.replace("http://", "https://", 1), code=308)


def is_same_origin(headers: Mapping[str, str], host_url: str) -> bool:
    """Whether a request with these headers may change state on the app at ``host_url``.

    ``Sec-Fetch-Site`` decides when present (every current browser sends it); older browsers
    still send ``Origin`` on a cross-origin POST. A client sending neither is not a browser
    acting for a signed-in victim.
    """
    site = headers.get("Sec-Fetch-Site")
    if site is not None:  # the browser's own verdict; Origin may name the proxy's public scheme
        return site.strip().lower() in SAME_ORIGIN_FETCH_SITES
    origin = headers.get("Origin")
    return origin is None or origin.rstrip("/") == host_url.rstrip("/")


def refuse_cross_site() -> flask.Response | None:
    """Before a request: a 403 for a state-changing request another site's page sent."""
    request = flask.request
    if request.method in SAFE_METHODS or is_same_origin(request.headers, request.host_url):
        return None
    log.warning(
        "cross-site %s %s refused (Sec-Fetch-Site=%r, Origin=%r)",
        request.method,
        request.path[:200],
        (request.headers.get("Sec-Fetch-Site") or "")[:40],
        (request.headers.get("Origin") or "")[:200],
    )
    response = flask.Response(
        json.dumps({"error": "cross-site request refused", "status": 403}),
        status=403,
        mimetype="application/json",
    )
    response.headers["Cache-Control"] = "no-store"
    return response
