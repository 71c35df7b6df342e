"""How requests are served: compression, cache lifetimes, and a time limit on their SQL.

- **Compression** (flask-compress): brotli or gzip, whichever the client prefers (brotli when it
  accepts both), for HTML, JSON (Dash's layout, dependencies and callback answers, grid downloads
  included: they travel inside the callback JSON), JS, CSS, SVG and the metrics text. Bodies under
  :data:`MIN_SIZE` bytes are sent as they are (a header costs more than it saves). The levels are
  the fast ones (brotli 4, gzip 6): measured here, a 200 KB callback answer costs a few ms, and
  the largest bundle (AG Grid, 1.3 MB) ~25 ms with brotli 4 against ~3.8 s at the maximum 11.
  Fingerprinted files never change within a process, so their compressed bytes are kept in a small
  in-process cache and compressed once per worker, not once per browser.
  Every response says ``Vary: Accept-Encoding``. A partial (206) answer is never compressed: its
  ``Content-Range`` counts bytes of the uncompressed file.
- **Cache lifetimes**: a component-suite file whose URL carries Dash's fingerprint
  (``name.v4_4_1m1712345678.min.js``) and an ``/assets/`` file asked for with the ``?m=<mtime>``
  Dash puts in the page (and which still matches the file) are ``public, max-age=31536000,
  immutable`` and do not vary by cookie: a new version has a new URL. Dash itself sends only
  ``max-age=31536000`` for the former and Flask ``no-cache`` for the latter. Other files keep
  their validators (ETag, Last-Modified). Everything else (the page, ``/_dash-layout``,
  ``/_dash-dependencies``, callback answers, JSON endpoints) is per user: ``no-store`` unless the
  view said otherwise. Dash sets no Cache-Control on those at all.
- **Lazy chunks loaded up front**: Dash's component libraries fetch some code only when a
  component first needs it (the graph, dropdown and date picker chunks, plotly.js, AG Grid's
  community grid), from URLs without a fingerprint, which can only be revalidated, never cached
  for a year; the grid's chunk also started downloading only once the grid had mounted.
  :data:`PRELOADED_CHUNKS` are put in the page as ordinary scripts, whose URLs Dash fingerprints:
  webpack then finds them installed and never asks for the unfingerprinted copy. Chunks few pages
  use (upload, markdown, mathjax, AG Grid enterprise) stay lazy.
- **Statement timeout**: every SQL statement run for a request gets PostgreSQL's
  ``statement_timeout`` (``BI_STATEMENT_TIMEOUT_S``, below gunicorn's worker timeout), so a query
  that would outlive the worker is cancelled and the callback shows "This took too long to
  compute" instead of the worker being killed mid-request (:func:`bi_app.db.engine.
  limit_request_statements`; jobs and the CLI are not limited).

The hook runs after every other ``after_request`` hook of the app except the request metrics
(:mod:`bi_app.monitoring.middleware`, which runs last, so request durations include compression):
it sees the final response, whoever built it (a view, the auth guard's refusal, an error page).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import flask
from flask_compress import Compress
from werkzeug.security import safe_join

if TYPE_CHECKING:  # services never import dash at run time
    import dash

log = logging.getLogger(__name__)

MIN_SIZE = 500  # bytes
BROTLI_QUALITY = 4
GZIP_LEVEL = 6
ALGORITHMS = ["br", "gzip"]  # in the server's order of preference when the client has none
IMMUTABLE = "public, max-age=31536000, immutable"
NO_STORE = "no-store"
COMPRESSED_FILES_KEPT = 64  # compressed fingerprinted files kept per worker (per algorithm)
# (namespace, path in the package) of the lazily loaded chunks nearly every page needs
PRELOADED_CHUNKS = (
    ("dash", "dcc/async-graph.js"),
    ("dash", "dcc/async-dropdown.js"),
    ("dash", "dcc/async-datepicker.js"),
    ("plotly", "package_data/plotly.min.js"),
    ("dash_ag_grid", "async-community.js"),
)


class _BoundedCache:
    """A small thread-safe LRU for flask-compress's cache interface (``get``/``set``)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._data.get(key)
            if value is not None:
                self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


def preload_chunks(app: dash.Dash) -> None:
    """Serve :data:`PRELOADED_CHUNKS` as ordinary, fingerprinted page scripts."""
    for namespace, path in PRELOADED_CHUNKS:
        app.scripts.append_script({"relative_package_path": path, "namespace": namespace})


def init_app(app: dash.Dash, settings: Any) -> None:
    """Compress ``app``'s responses, give each the right Cache-Control, and bound the time of
    every SQL statement a request runs (``BI_STATEMENT_TIMEOUT_S``).

    Call it before :func:`bi_app.monitoring.init_app`, so the metrics hook still runs last."""
    from dash.fingerprint import check_fingerprint  # a pure helper; the app is Dash anyway

    from bi_app.db.engine import limit_request_statements
    from bi_app.extensions import db

    limit_request_statements(db.require_engine(), settings.statement_timeout_s)
    preload_chunks(app)

    server = app.server
    routes = app.config.routes_pathname_prefix
    suites_prefix = f"{routes}_dash-component-suites/"
    assets_prefix = f"{routes}{app.config.assets_url_path.lstrip('/')}/"
    assets_folder = app.config.assets_folder
    favicon = f"{routes}_favicon.ico"  # Dash's own route: left as Dash sends it
    server.config.update(
        COMPRESS_REGISTER=False,  # our hook calls it, at the right place among the others
        COMPRESS_ALGORITHM=ALGORITHMS,
        COMPRESS_ALGORITHM_STREAMING=ALGORITHMS,  # gzip streams fine (zlib, wbits 16+)
        COMPRESS_BR_LEVEL=BROTLI_QUALITY,
        COMPRESS_LEVEL=GZIP_LEVEL,
        COMPRESS_MIN_SIZE=MIN_SIZE,
    )
    dynamic = Compress()
    dynamic.init_app(server)
    files = Compress()
    files.init_app(server)
    files.cache = _BoundedCache(COMPRESSED_FILES_KEPT * len(ALGORITHMS))
    # the whole fingerprint: a file changed on disk has a new one, so stale bytes are never sent
    files.cache_key = lambda request: f"{request.path}?{request.args.get('m', '')}"

    def asset_is_current(filename: str | None, mtime: str | None) -> bool:
        """The ``?m=`` Dash wrote into the page is the file's modification time now."""
        path = safe_join(assets_folder, filename) if filename and mtime else None
        try:
            return path is not None and float(mtime) == os.stat(path).st_mtime
        except (OSError, ValueError):
            return False

    def finish(response: flask.Response) -> flask.Response:
        request = flask.request
        path = request.path
        immutable = False
        if path.startswith(suites_prefix):
            immutable = response.status_code == 200 and check_fingerprint(path)[1]
        elif path.startswith(assets_prefix):
            immutable = response.status_code == 200 and asset_is_current(
                (request.view_args or {}).get("filename"), request.args.get("m")
            )
        elif path != favicon and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = NO_STORE
        if immutable:
            response.headers["Cache-Control"] = IMMUTABLE
            # The same bytes for everyone: no "Vary: Cookie" (flask-login reads the session on
            # every response, so Flask would add it), which would make a shared cache keep one
            # copy per cookie and a browser fetch the file again whenever its cookie changed.
            session = flask.session
            if not session.modified:
                session.accessed = False
        if response.status_code == 206 or "Content-Range" in response.headers:
            response.vary.add("Accept-Encoding")
            return response
        compressible = response.mimetype in dynamic.compress_mimetypes_set
        if response.is_streamed and compressible and path.startswith(assets_prefix):
            # a small text file streamed from disk by send_file: read it now (make_sequence
            # closes the file), so it is compressed whole, cached, and answers If-None-Match
            response.make_sequence()
            response.direct_passthrough = False  # else the file's close() is never called
        elif response.is_streamed and compressible:
            # flask-compress replaces the body iterable and would never close the original
            original = response.response
            if hasattr(original, "close"):
                response.call_on_close(original.close)
        if immutable:
            return files.after_request(response)
        return dynamic.after_request(response)

    # Flask runs after_request hooks last-registered first: index 0 runs after all the others
    # registered so far and all registered later with after_request(); the metrics hook is then
    # inserted before it by bi_app.monitoring.
    server.after_request_funcs.setdefault(None, []).insert(0, finish)
