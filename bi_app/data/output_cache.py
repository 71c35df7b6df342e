"""Cache what the user sees: a callback's whole answer, served before Dash dispatches it.

A cache hit of a data function still left the callback to rebuild its figure or component tree
(plotly's validation, ``to_plotly_json``), and Dash to dispatch the request and serialize the
answer. An answer entry holds the bytes Dash sent for a callback request. It is stamped with the
generation of the data namespaces the callback reads (plus the global one and the catalogue's,
which sets the default date range), so an invalidation makes its answers stale too, and keyed on

- the callback (its output ids) and its inputs and states exactly as the browser sent them,
- a render fingerprint: the app's source files, the versions of the libraries that draw, and the
  settings, so a deploy or a new currency never serves yesterday's drawing,
- today's date in the business time zone (an empty date filter means "up to today").

:func:`answer_from_cache` runs before Dash, after the auth guard (a session and a bounded,
parsed body): it checks the callback's roles and, on a hit, answers with the stored bytes (one
cache read; no Dash dispatch, no callback, no serialization). On a miss the request goes on to
Dash; the registry's wrapper marks a callback that returned normally, and :func:`store_answer`
keeps its answer. A failure (the fallback's message), ``PreventUpdate`` or a refusal is never
stored. Only callbacks whose answer depends on nothing else (not on the user, the trigger or the
time of day) may be cached this way; the registry's ``cache_output=`` declares it per callback.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
import orjson

from bi_app import i18n
from bi_app.data import catalog
from bi_app.data.cache import stamped_get, stamped_set
from bi_app.filters import local_today

STATS_NAMESPACE = "outputs"
FINGERPRINT_KEY = "bi_output_fingerprint"
ANSWERS_KEY = "bi_cached_answers"
PENDING_KEY = "bi_answer_pending"
SOURCE_PACKAGES = ("bi_app", "components", "callbacks", "pages")
DRAWING_LIBRARIES = ("dash", "plotly", "dash-ag-grid", "dash-bootstrap-components", "pandas")
JSON = "application/json"


@dataclass(frozen=True)
class CachedCallback:
    """A callback whose answer may be cached: the data namespaces it reads, who may run it."""

    namespaces: tuple[str, ...]
    roles: tuple[str, ...]


def init_app(
    server: flask.Flask,
    callbacks: Mapping[str, CachedCallback],
    callback_path: str,
    require_role: Any,
) -> None:
    """Serve ``callbacks`` (keyed on Dash's output string) from the answer cache. Call it after
    the auth guard is registered: its hooks must run after the guard's."""
    server.config[ANSWERS_KEY] = (dict(callbacks), callback_path, require_role)
    server.before_request(answer_from_cache)
    server.after_request(store_answer)


def answer_from_cache() -> flask.Response | None:
    """Before Dash: the stored answer of a cacheable callback request, after its role check."""
    request = flask.request
    config = flask.current_app.config.get(ANSWERS_KEY)
    if config is None or request.method != "POST":
        return None
    callbacks, callback_path, require_role = config
    if request.path != callback_path:
        return None
    body = request.get_json(silent=True)  # parsed (and bounded) by the auth guard already
    output = body.get("output") if isinstance(body, dict) else None
    spec = callbacks.get(output) if isinstance(output, str) else None
    if spec is None:
        return None
    require_role(spec.roles)
    key = answer_key(output, body)
    lookup = stamped_get(STATS_NAMESPACE, (catalog.NAMESPACE, *spec.namespaces), key)
    if lookup.hit:
        return flask.Response(lookup.stored, mimetype=JSON)
    if lookup.generation is not None:
        flask.g.setdefault(PENDING_KEY, {"key": key, "generation": lookup.generation})
    return None


def mark_answer_cacheable() -> None:
    """Called by the registry when a cached callback returned normally (no failure)."""
    pending = flask.g.get(PENDING_KEY) if flask.has_request_context() else None
    if pending is not None:
        pending["ok"] = True


def store_answer(response: flask.Response) -> flask.Response:
    pending = flask.g.pop(PENDING_KEY, None)
    if (
        pending is not None
        and pending.get("ok")
        and response.status_code == 200
        and response.mimetype == JSON
        and not response.is_streamed
        and flask.g.get("auth_denied") is None
    ):
        stamped_set(STATS_NAMESPACE, pending["key"], pending["generation"], response.get_data())
    return response


def answer_key(output: str, body: Mapping[str, Any]) -> str:
    """The cache key of a callback request: its output, its inputs and states as sent (ids,
    properties, values), today's date, the language it is answered in, and the render
    fingerprint."""
    payload = {
        "inputs": body.get("inputs"),
        "state": body.get("state"),
        "today": local_today().isoformat(),
        "locale": i18n.current_locale(),
    }
    raw = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    digest = hashlib.sha256(output.encode() + b"\0" + raw).hexdigest()[:32]
    return f"ans:{render_fingerprint()}:{digest}"


def render_fingerprint() -> str:
    """Digest of the source, the drawing libraries' versions and the settings of the app in
    context; computed once per app."""
    app = flask.current_app
    fingerprint = app.extensions.get(FINGERPRINT_KEY)
    if fingerprint is None:
        fingerprint = compute_fingerprint(repr(app.config["BI_SETTINGS"]))
        app.extensions[FINGERPRINT_KEY] = fingerprint
    return fingerprint


def compute_fingerprint(settings_text: str) -> str:
    digest = hashlib.sha256(settings_text.encode("utf-8"))
    for library in DRAWING_LIBRARIES:
        digest.update(f"{library}={importlib.metadata.version(library)};".encode())
    for package in SOURCE_PACKAGES:
        for path in sorted(_package_files(package)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _package_files(package: str) -> list[Path]:
    module = importlib.import_module(package)
    return [
        file
        for directory in module.__path__
        for pattern in ("*.py", "*.mo")  # the code, and the messages it shows
        for file in Path(directory).rglob(pattern)
        if "__pycache__" not in file.parts
    ]


__all__ = [
    "CachedCallback",
    "answer_from_cache",
    "answer_key",
    "compute_fingerprint",
    "init_app",
    "mark_answer_cacheable",
    "render_fingerprint",
    "store_answer",
]
