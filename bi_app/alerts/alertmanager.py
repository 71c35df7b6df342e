"""``POST /api/alerts/alertmanager``: Prometheus Alertmanager's webhook joins the alert center.

Alertmanager's ``webhook_config`` posts one alert group per request (payload ``version`` "4",
see https://prometheus.io/docs/alerting/latest/configuration/#webhook_config)::

    {"version": "4", "groupKey": ..., "truncatedAlerts": 0, "status": "firing",
     "receiver": ..., "groupLabels": {...}, "commonLabels": {...},
     "commonAnnotations": {...}, "externalURL": ...,
     "alerts": [{"status": "firing" | "resolved", "labels": {...}, "annotations": {...},
                 "startsAt": RFC 3339, "endsAt": RFC 3339 (zero time: unset),
                 "generatorURL": ..., "fingerprint": ...}]}

Each alert is stored through :func:`bi_app.alerts.lifecycle.record_external` under the
fingerprint ``"am:" + fingerprint``: a repeat refreshes the one open alert of that fingerprint,
"resolved" resolves it. One transaction per request: a payload is stored whole or not at all.

A machine endpoint: the bearer token of ``BI_ALERTMANAGER_TOKEN`` (compared in constant time) is
the only way in, no session and no CSRF token; without the setting the endpoint answers 404.
Errors are JSON ``{"error": ..., "status": ...}`` in English, like ``/metrics``: Alertmanager
logs them, no person reads them in the app.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import flask
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

log = logging.getLogger(__name__)

PATH = "/api/alerts/alertmanager"
MAX_BODY_BYTES = 1024 * 1024  # an alert group; Alertmanager's max_alerts keeps real ones small
MAX_ALERTS = 1000
MAX_LABELS = 100
MAX_LABEL_NAME = 256
MAX_LABEL_VALUE = 4096
MAX_ANNOTATION_VALUE = 16384  # longer annotation texts are cut, not refused
MAX_NAME = 200  # alerts.name
FINGERPRINT_PREFIX = "am:"
PAYLOAD_VERSION = "4"
STATUSES = ("firing", "resolved")

# labels.severity (lower-cased) -> our severity; anything else, or none, is "warning"
SEVERITY_ALIASES: dict[str, str] = {
    "info": "info",
    "informational": "info",
    "information": "info",
    "notice": "info",
    "none": "info",  # kube-prometheus' Watchdog and InfoInhibitor
    "low": "info",
    "warning": "warning",
    "warn": "warning",
    "critical": "critical",
    "crit": "critical",
    "error": "critical",
    "err": "critical",
    "page": "critical",
    "high": "critical",
    "major": "critical",
    "emergency": "emergency",
    "emerg": "emergency",
    "fatal": "emergency",
    "disaster": "emergency",
}
DEFAULT_SEVERITY = "warning"
# annotations kept only when they are web links (the UI renders them as links)
_LINK_ANNOTATIONS = ("runbook_url",)

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)
_FINGERPRINT = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_ZERO_TIME = dt.datetime(1, 1, 1)

_TYPE_NAMES = {str: "string", dict: "JSON object", list: "JSON array"}
_GROUP_FIELDS: dict[str, type] = {
    "version": str,
    "groupKey": str,
    "status": str,
    "receiver": str,
    "groupLabels": dict,
    "commonLabels": dict,
    "commonAnnotations": dict,
    "externalURL": str,
    "alerts": list,
}


class PayloadInvalid(ValueError):
    """The request body is not an Alertmanager v4 webhook payload; the message says where."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ExternalAlert:
    """One alert of a payload, ready for :func:`bi_app.alerts.lifecycle.record_external`."""

    fingerprint: str  # "am:" + Alertmanager's fingerprint
    name: str  # labels.alertname
    severity: str  # one of bi_app.db.alert_models.SEVERITIES
    labels: dict[str, str]
    annotations: dict[str, str]  # summary, description, runbook_url, generatorURL, externalURL
    firing: bool  # False: Alertmanager says "resolved"
    starts_at: dt.datetime  # naive UTC
    ends_at: dt.datetime | None = None  # naive UTC; None: Alertmanager's zero time (unset)


# --- parsing (pure) -----------------------------------------------------------------------------


def parse_payload(data: object) -> list[ExternalAlert]:
    """The alerts of a decoded webhook body, validated; raises :class:`PayloadInvalid`.

    Strict about what Alertmanager always sends (every group field, each alert's status, labels
    with ``alertname``, ``startsAt``), lenient about what it may omit (``truncatedAlerts``,
    ``endsAt``, ``generatorURL``, ``annotations``, ``fingerprint``).
    """
    if not isinstance(data, Mapping):
        raise PayloadInvalid("the body must be a JSON object")
    for name, kind in _GROUP_FIELDS.items():
        if name not in data:
            raise PayloadInvalid(f"{name}: missing")
        if not isinstance(data[name], kind):
            raise PayloadInvalid(f"{name}: must be a {_TYPE_NAMES[kind]}")
    if data["version"] != PAYLOAD_VERSION:
        raise PayloadInvalid(f"version: only version {PAYLOAD_VERSION} payloads are accepted")
    if data["status"] not in STATUSES:
        raise PayloadInvalid('status: must be "firing" or "resolved"')
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadInvalid("truncatedAlerts: must be a whole number, 0 or more")
    for name in ("groupLabels", "commonLabels"):
        _string_map(data[name], name, MAX_LABEL_VALUE)
    _string_map(data["commonAnnotations"], "commonAnnotations", None)
    external_url = _web_link(data["externalURL"])
    alerts = data["alerts"]
    if len(alerts) > MAX_ALERTS:
        raise PayloadInvalid(f"alerts: at most {MAX_ALERTS} alerts in one payload")
    return [_parse_alert(raw, f"alerts[{i}]", external_url) for i, raw in enumerate(alerts)]


def _parse_alert(raw: object, where: str, external_url: str) -> ExternalAlert:
    if not isinstance(raw, Mapping):
        raise PayloadInvalid(f"{where}: must be an object")
    status = raw.get("status")
    if status not in STATUSES:
        raise PayloadInvalid(f'{where}.status: must be "firing" or "resolved"')
    if "labels" not in raw:
        raise PayloadInvalid(f"{where}.labels: missing")
    labels = _string_map(raw["labels"], f"{where}.labels", MAX_LABEL_VALUE)
    name = labels.get("alertname", "").strip()
    if not name:
        raise PayloadInvalid(f"{where}.labels.alertname: missing")
    raw_annotations = raw.get("annotations", {})
    annotations = _string_map(raw_annotations, f"{where}.annotations", None)
    if "startsAt" not in raw:
        raise PayloadInvalid(f"{where}.startsAt: missing")
    starts_at = parse_time(raw["startsAt"], f"{where}.startsAt")
    if starts_at is None:
        raise PayloadInvalid(f"{where}.startsAt: must be set")
    ends_at = parse_time(raw.get("endsAt", "0001-01-01T00:00:00Z"), f"{where}.endsAt")
    generator_url = raw.get("generatorURL", "")
    if not isinstance(generator_url, str):
        raise PayloadInvalid(f"{where}.generatorURL: must be a string")
    return ExternalAlert(
        fingerprint=FINGERPRINT_PREFIX + _fingerprint(raw.get("fingerprint"), labels, where),
        name=name[:MAX_NAME],
        severity=map_severity(labels.get("severity")),
        labels=labels,
        annotations=_annotations(annotations, _web_link(generator_url), external_url),
        firing=status == "firing",
        starts_at=starts_at,
        ends_at=ends_at,
    )


def map_severity(raw: str | None) -> str:
    """Alertmanager's free-form ``severity`` label as one of our four severities."""
    return SEVERITY_ALIASES.get((raw or "").strip().lower(), DEFAULT_SEVERITY)


def parse_time(raw: object, where: str = "time") -> dt.datetime | None:
    """An RFC 3339 time as naive UTC; Go's zero time (``0001-01-01T00:00:00Z``) is None."""
    if not isinstance(raw, str):
        raise PayloadInvalid(f"{where}: must be an RFC 3339 time string")
    match = _RFC3339.fullmatch(raw)
    if match is None:
        raise PayloadInvalid(f"{where}: not an RFC 3339 time")
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    try:
        if zulu:
            offset = dt.timedelta(0)
        else:
            if int(off_h) > 23 or int(off_m) > 59:
                raise ValueError("offset out of range")
            offset = dt.timedelta(hours=int(off_h), minutes=int(off_m))
            if sign == "-":
                offset = -offset
        local = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((frac or "0")[:6].ljust(6, "0")),  # nanoseconds are cut to microseconds
        )
        if local == _ZERO_TIME and offset == dt.timedelta(0):
            return None
        return local - offset
    except (ValueError, OverflowError):
        raise PayloadInvalid(f"{where}: not a valid time") from None


def _string_map(raw: object, where: str, max_value: int | None) -> dict[str, str]:
    """Labels or annotations: an object of strings. Label values past ``max_value`` are refused
    (they identify the alert); annotation texts (``max_value`` None) are cut."""
    if not isinstance(raw, Mapping):
        raise PayloadInvalid(f"{where}: must be an object of strings")
    if len(raw) > MAX_LABELS:
        raise PayloadInvalid(f"{where}: at most {MAX_LABELS} entries")
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not key or len(key) > MAX_LABEL_NAME:
            raise PayloadInvalid(f"{where}: names must be 1 to {MAX_LABEL_NAME} characters")
        if not isinstance(value, str):
            raise PayloadInvalid(f"{where}.{key[:64]}: must be a string")
        if max_value is not None and len(value) > max_value:
            raise PayloadInvalid(f"{where}.{key[:64]}: longer than {max_value} characters")
        out[key] = value if max_value is not None else _cut(value)
    return out


def _fingerprint(raw: object, labels: Mapping[str, str], where: str) -> str:
    """Alertmanager's own fingerprint, or (when absent) a stable hash of the sorted labels."""
    if raw is None or raw == "":
        blob = json.dumps(sorted(labels.items()), ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
    if not isinstance(raw, str) or not _FINGERPRINT.fullmatch(raw):
        raise PayloadInvalid(f"{where}.fingerprint: must be up to 100 letters, digits or _.:-")
    return raw


def _annotations(raw: Mapping[str, str], generator_url: str, external_url: str) -> dict[str, str]:
    """The alert's annotations (summary, description, runbook_url, ...) with the links back to
    Prometheus and Alertmanager; a link annotation that is not http(s) is dropped."""
    out = {k: v for k, v in raw.items() if k not in _LINK_ANNOTATIONS or _web_link(v)}
    if generator_url:
        out["generatorURL"] = generator_url
    if external_url:
        out["externalURL"] = external_url
    return out


def _web_link(raw: str) -> str:
    """``raw`` when it is an absolute http(s) URL, else "" (never a ``javascript:`` link)."""
    value = raw.strip()
    try:
        parts = urlsplit(value)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    if len(value) > MAX_LABEL_VALUE or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return ""
    return value


def _cut(value: str) -> str:
    return value if len(value) <= MAX_ANNOTATION_VALUE else value[: MAX_ANNOTATION_VALUE - 1] + "…"


# --- the endpoint -------------------------------------------------------------------------------

blueprint = flask.Blueprint("bi_alertmanager", __name__)


def _json(payload: dict[str, Any], status: int, **headers: str) -> flask.Response:
    response = flask.Response(json.dumps(payload), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers)
    return response


def _error(status: int, message: str, **headers: str) -> flask.Response:
    return _json({"error": message, "status": status}, status, **headers)


def token_matches(header: str, token: str) -> bool:
    """Whether an ``Authorization`` header carries ``token`` as its bearer token (constant time:
    the comparison's duration does not depend on how much of a guess was right)."""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


# Every method is routed here: otherwise a GET would fall through to Dash's catch-all page route.
@blueprint.route(PATH, methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])
def receive() -> flask.Response:
    """Store one Alertmanager notification; answers ``{"accepted": n, "resolved": m}``."""
    from bi_app import current_settings

    token = current_settings().alertmanager_token
    if token is None:
        return _error(404, "not found")  # the receiver is off
    if flask.request.method != "POST":
        return _error(405, "use POST", Allow="POST")
    request = flask.request
    if not token_matches(request.headers.get("Authorization", ""), token):
        log.warning("alertmanager webhook refused: missing or wrong bearer token")
        return _error(
            401, "authentication required", **{"WWW-Authenticate": 'Bearer realm="alertmanager"'}
        )
    length = request.content_length
    if length is None:
        return _error(411, "a Content-Length is required")
    if length > MAX_BODY_BYTES:
        return _error(413, f"the payload is larger than {MAX_BODY_BYTES} bytes")
    if not request.is_json:
        return _error(415, "the body must be application/json")
    try:
        body = request.get_data(cache=False)
        data = json.loads(body, parse_constant=_refuse_constant)
        alerts = parse_payload(data)
    except PayloadInvalid as exc:
        log.warning("alertmanager webhook refused: %s", exc.message)
        return _error(400, exc.message)
    except (ValueError, RecursionError):  # not UTF-8 / not JSON / NaN / nested too deeply
        return _error(400, "the body is not valid JSON")
    try:
        accepted, resolved = _store(alerts)
    except SQLAlchemyError as exc:
        log.warning("alertmanager webhook not stored: database error (%s)", type(exc).__name__)
        # 5xx: Alertmanager retries the notification
        return _error(503, "the alert store is unavailable", **{"Retry-After": "30"})
    if isinstance(data, Mapping) and data.get("truncatedAlerts"):
        log.warning(
            "alertmanager group %r left out %s alerts (max_alerts)",
            str(data.get("groupKey"))[:200],
            data["truncatedAlerts"],
        )
    return _json({"accepted": accepted, "resolved": resolved}, 200)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _store(alerts: list[ExternalAlert]) -> tuple[int, int]:
    """Record every alert in one transaction; once more when another worker opened the same
    fingerprint at the same moment (the open-fingerprint unique index refused our insert)."""
    try:
        return _store_once(alerts)
    except IntegrityError:
        return _store_once(alerts)


def _store_once(alerts: list[ExternalAlert]) -> tuple[int, int]:
    from bi_app.alerts import lifecycle
    from bi_app.db.models import utcnow
    from bi_app.extensions import db

    now = utcnow()
    accepted = resolved = 0
    with db.session() as session, session.begin():
        for alert in alerts:
            row = lifecycle.record_external(
                session,
                fingerprint=alert.fingerprint,
                name=alert.name,
                severity=alert.severity,
                labels=alert.labels,
                annotations=alert.annotations,
                firing=alert.firing,
                starts_at=alert.starts_at,
                now=now,
            )
            if row is None:
                continue
            if alert.firing:
                accepted += 1
            else:
                resolved += 1
    return accepted, resolved


def init_app(server: flask.Flask) -> None:
    """Serve ``POST /api/alerts/alertmanager`` on ``server`` (it answers 404 while
    ``BI_ALERTMANAGER_TOKEN`` is unset)."""
    if "bi_alertmanager" not in server.blueprints:
        server.register_blueprint(blueprint)
