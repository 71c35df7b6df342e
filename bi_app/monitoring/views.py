"""``GET /api/health`` and ``GET /metrics``.

``/api/health`` is public for load balancers, but says only the overall status and each check's
status; latencies, error texts, URLs, paths and host names need an operator's login (analyst or
admin) or the metrics token. ``/metrics`` needs the same.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from typing import Any

import flask

from bi_app.monitoring import health, prometheus, rules

# A full report is served only while it is at most one check interval old, so an outage shows
# within one interval; after that the cheap checks run live (memoized for CHEAP_MEMO_S).
FRESH_REPORT_S = health.CHECK_INTERVAL_S
CHEAP_MEMO_S = 5.0  # load balancers probe often; a live cheap run is reused this long


def metrics_token(settings: Any) -> str | None:
    """The bearer token of ``BI_METRICS_TOKEN`` (``settings.metrics_token``; None = none)."""
    return settings.metrics_token


class _CheapMemo:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.report: health.HealthReport | None = None
        self.at = 0.0


def _json(payload: dict[str, Any], status: int) -> flask.Response:
    response = flask.Response(json.dumps(payload), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def register(server: flask.Flask, settings: Any) -> None:
    token = metrics_token(settings)
    exported = prometheus.REQUESTS
    registry = prometheus.build_registry(exported)
    memo = _CheapMemo()

    def api_health() -> flask.Response:
        report = health.fresh_report(FRESH_REPORT_S)
        if report is None:
            with memo.lock:
                if memo.report is None or time.monotonic() - memo.at > CHEAP_MEMO_S:
                    memo.report = health.run_health_checks(
                        settings,
                        store=False,
                        cheap_only=True,
                        timeout_s=health.CHEAP_TIMEOUT_S,
                        keep=False,
                    )
                    memo.at = time.monotonic()
                report = memo.report
        status = 503 if report.status == rules.UNHEALTHY else 200
        return _json(report.to_dict() if _authorized(token) else public_report(report), status)

    def metrics_view() -> flask.Response:
        if not _authorized(token):
            response = _json({"error": "authentication required", "status": 401}, 401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        exported.sync_cache()  # this worker's newest cache counts, e.g. from a job's lookups
        body, content_type = prometheus.render(registry)
        response = flask.Response(body, status=200, content_type=content_type)
        response.headers["Cache-Control"] = "no-store"
        return response

    server.add_url_rule("/api/health", "bi_api_health", api_health, methods=["GET"])
    server.add_url_rule("/metrics", "bi_metrics", metrics_view, methods=["GET"])


def public_report(report: health.HealthReport) -> dict[str, Any]:
    """What anyone may read: the overall status and each check's status, nothing else."""
    return {
        "status": report.status,
        "checks": {c.name: {"status": c.status} for c in report.checks},
    }


def _authorized(token: str | None) -> bool:
    """The metrics token, or a signed-in operator (analyst or admin; a viewer is not)."""
    header = flask.request.headers.get("Authorization", "")
    if (
        token
        and header.startswith("Bearer ")
        and hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())
    ):
        return True
    if not hasattr(flask.current_app, "login_manager"):
        return False  # an app without login: only the token opens /metrics
    from bi_app.auth import request_user
    from bi_app.roles import OPERATORS

    user = request_user()
    return user is not None and user.role in OPERATORS
