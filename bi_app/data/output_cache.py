"""Cache what the user sees: a callback's serialized output, next to the query cache.

A cache hit of a data function still left the callback to rebuild its figure or component tree
(plotly's validation, ``to_plotly_json``), which cost as much as a roll-up query. An output entry
holds the JSON the browser receives. It is stamped with the generation of the data namespaces
the callback reads (plus the global one and the catalogue's, which sets the default date range),
so an invalidation makes its outputs stale too, and keyed on

- the callback's name and its inputs and states exactly as the browser sent them,
- a render fingerprint: the app's source files, the versions of the libraries that draw, and the
  settings, so a deploy or a new currency never serves yesterday's drawing,
- today's date in the business time zone (an empty date filter means "up to today").

A hit is one cache read and one ``orjson.loads``: what the callback returns is then plain lists
and dicts, which Dash serializes as fast as it can. Only callbacks whose output depends on
nothing else (not on the user, the trigger or the time of day) may be cached this way; the
registry's ``cache_output=`` declares it per callback. Failures are never cached: the
exception propagates before anything is stored, and the registry's fallback draws the message.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import flask
import orjson
from plotly.io.json import to_json_plotly

from bi_app.data import catalog
from bi_app.data.cache import through_cache
from bi_app.filters import local_today

STATS_NAMESPACE = "outputs"
FINGERPRINT_KEY = "bi_output_fingerprint"
SOURCE_PACKAGES = ("bi_app", "components", "callbacks", "pages")
DRAWING_LIBRARIES = ("dash", "plotly", "dash-ag-grid", "dash-bootstrap-components", "pandas")


def cached_output(
    name: str,
    namespaces: tuple[str, ...],
    inputs: Sequence[Any],
    compute: Callable[[], Any],
    keyword_inputs: Mapping[str, Any] | None = None,
) -> Any:
    """``compute()``'s output as JSON-ready lists and dicts, from the cache when an entry for
    the same ``name``, inputs, data generation, render fingerprint and day exists."""
    digest = _inputs_digest(inputs, keyword_inputs or {})
    fingerprint = render_fingerprint()
    return through_cache(
        STATS_NAMESPACE,
        (catalog.NAMESPACE, *namespaces),
        f"out:{name}:{fingerprint}:{digest}",
        compute,
        encode=encode_output,
        decode=orjson.loads,
    )


def encode_output(value: Any) -> bytes:
    """What Dash would send for ``value`` (figures, components, numpy and dates included)."""
    return to_json_plotly(value).encode("utf-8")


def _inputs_digest(inputs: Sequence[Any], keyword_inputs: Mapping[str, Any]) -> str:
    payload = {
        "args": list(inputs),
        "kwargs": dict(keyword_inputs),
        "today": local_today().isoformat(),
    }
    raw = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return hashlib.sha256(raw).hexdigest()[:32]


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
        for file in Path(directory).rglob("*.py")
        if "__pycache__" not in file.parts
    ]


__all__ = ["cached_output", "compute_fingerprint", "encode_output", "render_fingerprint"]
