"""Request and callback timing: two Flask hooks feeding the per-minute aggregator and the
Prometheus counters.

The hooks sit at the very start of ``before_request`` and the very end of ``after_request`` so
the time includes the auth guard and the status is the one actually sent. Callbacks are named by
the ``output`` of the ``/_dash-update-component`` body, but only when the guard let the request
through: a refused request (no session: 401, forbidden: 403, too large: 413) is never read, so an
anonymous client cannot make a worker buffer and parse its body. A let-through body was already
parsed and cached by Dash, so reading it again costs nothing. The name is kept only if it is one
of the app's callbacks (``callback_map``; pattern-matching callbacks keep their wildcard spelling
there), anything else is ``<unmatched>``: the number of names stays bounded by the app itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container

import flask

from bi_app.monitoring import metrics, prometheus

log = logging.getLogger(__name__)

DASH_UPDATE = "_dash-update-component"
UNMATCHED = "<unmatched>"
_G_START = "_bi_metrics_t0"
FLUSH_CHECK_EVERY_S = 15.0
REFUSED = frozenset({401, 403, 413})  # the guard's answers: the body was not meant to be read


class _SelfFlush:
    """Flush completed minutes from the request path in a background thread, so workers that
    are not the scheduler leader still get their traffic into the database."""

    def __init__(self) -> None:
        self._next_check = 0.0
        self._lock = threading.Lock()

    def maybe(self, aggregator: metrics.MinuteAggregator, now: float) -> None:
        if now < self._next_check:
            return
        with self._lock:
            if now < self._next_check:
                return
            self._next_check = now + FLUSH_CHECK_EVERY_S
        # A minute is left to the leader's job first; only older ones are flushed from here.
        if aggregator.has_completed(now - 60):
            threading.Thread(
                target=metrics.rollup_minute,
                kwargs={"aggregator": aggregator},
                name="metrics-flush",
                daemon=True,
            ).start()


def _authenticated() -> bool:
    if not hasattr(flask.current_app, "login_manager"):
        return True  # an app without login has no guard: Dash itself reads every body
    from bi_app.auth import request_user

    return request_user() is not None


def callback_name(status: int, callbacks: Container[str]) -> str:
    """The callback a ``/_dash-update-component`` request ran, or ``<unmatched>``."""
    if status in REFUSED or not _authenticated():
        return UNMATCHED
    try:
        body = flask.request.get_json(silent=True)
    except (RecursionError, ValueError):  # silent=True does not catch a too-deep body
        return UNMATCHED
    output = body.get("output") if isinstance(body, dict) else None
    return output if isinstance(output, str) and output in callbacks else UNMATCHED


def install(
    server: flask.Flask,
    aggregator: metrics.MinuteAggregator | None = None,
    self_flush: bool = True,
    callbacks: Callable[[], Container[str]] = frozenset,
    exported: prometheus.RequestMetrics | None = None,
) -> None:
    """Time every request of ``server``; ``callbacks()`` gives the app's callback ids (Dash's
    ``callback_map``, filled when the app serves its first request)."""
    aggregator = aggregator or metrics.AGGREGATOR
    exported = exported or prometheus.REQUESTS
    flusher = _SelfFlush() if self_flush else None

    def start() -> None:
        flask.g.setdefault(_G_START, time.perf_counter())

    def finish(response: flask.Response) -> flask.Response:
        started = flask.g.pop(_G_START, None)
        if started is None:
            return response
        seconds = time.perf_counter() - started
        request = flask.request
        rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        status = response.status_code
        now = time.time()
        aggregator.record("http", rule, request.method, status, seconds * 1000.0, now)
        exported.observe("http", rule, request.method, status, seconds)
        if rule.endswith(DASH_UPDATE) and request.method == "POST":
            name = callback_name(status, callbacks())
            aggregator.record("callback", name, "POST", status, seconds * 1000.0, now)
            exported.observe("callback", name, "POST", status, seconds)
        exported.sync_cache()
        exported.pending.set(aggregator.pending_minutes())
        if flusher is not None:
            flusher.maybe(aggregator, now)
        return response

    server.before_request_funcs.setdefault(None, []).insert(0, start)
    # after_request hooks run in reverse order of registration: index 0 runs last.
    server.after_request_funcs.setdefault(None, []).insert(0, finish)
