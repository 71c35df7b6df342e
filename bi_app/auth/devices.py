"""Device cookies for sign-in throttling (OWASP "Slow Down Online Guessing Attacks with Device
Cookies"): a browser that signed in as a name gets a signed cookie naming a random device id and
(a hash of) that name. Its later attempts for that name are throttled on their own counter, so a
flood of the name from elsewhere does not slow the owner down (see :mod:`bi_app.auth.ratelimit`).
"""

from __future__ import annotations

import secrets

import flask
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bi_app.auth.ratelimit import name_tag

COOKIE = "bi_device"
MAX_AGE_S = 180 * 86400
_SALT = "bi-login-device"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(flask.current_app.config["SECRET_KEY"], salt=_SALT)


def device_for(username: str) -> str | None:
    """The device id of this request's cookie when it was issued for ``username``."""
    raw = flask.request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        data = _serializer().loads(raw, max_age=MAX_AGE_S)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != name_tag(username):
        return None
    device = data.get("d")
    return device if isinstance(device, str) and device else None


def remember(response: flask.Response, username: str, path: str = "/") -> None:
    """Give the browser a device cookie for ``username`` (after a successful sign-in)."""
    token = _serializer().dumps({"u": name_tag(username), "d": secrets.token_urlsafe(16)})
    response.set_cookie(
        COOKIE,
        token,
        max_age=MAX_AGE_S,
        path=path,
        httponly=True,
        samesite="Lax",
        secure=bool(flask.current_app.config.get("SESSION_COOKIE_SECURE")),
    )
