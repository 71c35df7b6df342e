"""How the real app serves: brotli/gzip compression, cache lifetimes, and the statement timeout
of a request's SQL (bi_app/serving.py, bi_app/db/engine.py).

Every compressed body is decoded and compared with the same resource fetched uncompressed.
The statement timeout is proved on the real PostgreSQL: a callback whose SQL sleeps past a
one-second limit answers 200 with the readable message, and the same pooled connection, used
by a job afterwards, has no limit.
"""

from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import re

import brotli
import pytest
from dash import Input, Output, html
from sqlalchemy import text

from bi_app.errors import TOO_SLOW_MESSAGE
from bi_app.extensions import db
from bi_app.serving import IMMUTABLE, MIN_SIZE
from callbacks._registry import with_fallback
from components import fallback
from components.ids import Grid
from tests.conftest import _seed_users, migrate, signed_in_client
from tests.integration.test_page_roles import well_formed

pytestmark = pytest.mark.integration
DECODE = {"br": brotli.decompress, "gzip": gzip.decompress}


@pytest.fixture
def app(app_factory, sqlite_url):
    migrate(sqlite_url)
    _seed_users(sqlite_url)
    return app_factory(sqlite_url)


@pytest.fixture
def client(app):
    return signed_in_client(app, "admin")


def _get(client, url: str, encoding: str | None = None, **headers: str):
    """GET ``url`` (``encoding``: the Accept-Encoding), its body read and the response closed,
    as a WSGI server does (a file streamed by send_file is closed then)."""
    if encoding:
        headers["Accept-Encoding"] = encoding
    with client.get(url, headers=headers) as response:
        response.get_data()
    return response


def _stable(body: bytes) -> bytes:
    """The body without the one value Dash makes up per page view (its config's ``end_id``)."""
    return re.sub(rb'"end_id":"[^"]*"', b'"end_id":""', body)


def _referenced(client) -> list[str]:
    """The scripts and stylesheets the page asks the browser for."""
    page = client.get("/").get_data(as_text=True)
    return re.findall(r'(?:src|href)="([^"]+\.(?:js|css)[^"]*)"', page)


def _grid_download(app, client, encoding: str | None):
    """A real callback request of the grid download (CSV) through Dash's endpoint."""
    output = next(key for key in app.callback_map if '"grid-download"' in key)
    rows = [{"order": f"A-{i}", "amount": i * 1.5} for i in range(300)]
    spec = [
        {"field": "order", "header": "Order", "kind": "text"},
        {"field": "amount", "header": "Amount", "kind": "float"},
    ]
    item = Grid.download_item("orders", "csv")
    body = {
        "output": output,
        "outputs": [
            {"id": {"name": "orders", "type": "grid-download"}, "property": "data"},
            {"id": {"name": "orders", "type": "grid-download-message"}, "property": "children"},
        ],
        "inputs": [
            [
                {
                    "id": Grid.download_item("orders", f),
                    "property": "n_clicks",
                    "value": 1 if f == "csv" else 0,
                }
                for f in ("csv", "xlsx", "json")
            ]
        ],
        "changedPropIds": [json.dumps(item, separators=(",", ":"), sort_keys=True) + ".n_clicks"],
        "state": [
            {"id": Grid.grid("orders"), "property": "virtualRowData", "value": rows},
            {"id": Grid.spec("orders"), "property": "data", "value": spec},
        ],
    }
    headers = {"Accept-Encoding": encoding} if encoding else {}
    return client.post("/_dash-update-component", json=body, headers=headers), rows


# --- compression -----------------------------------------------------------------------------


def test_page_callback_and_assets_are_compressed_as_asked_and_decode_to_the_same_bytes(client):
    scripts = _referenced(client)
    suite = next(u for u in scripts if "/_dash-component-suites/" in u and u.endswith(".js"))
    asset = next(u for u in scripts if u.startswith("/assets/") and ".css" in u)

    def routed(encoding):
        headers = {"Accept-Encoding": encoding} if encoding else {}
        return client.post("/_dash-update-component", json=well_formed("/"), headers=headers)

    fetchers = {
        "page": lambda enc: _get(client, "/", enc),
        "layout": lambda enc: _get(client, "/_dash-layout", enc),
        "callback": routed,
        "component suite": lambda enc: _get(client, suite, enc),
        "asset": lambda enc: _get(client, asset, enc),  # streamed from disk by send_file
    }
    for name, fetch in fetchers.items():
        plain = fetch(None)
        assert plain.status_code == 200, name
        assert "Content-Encoding" not in plain.headers, name
        assert "Accept-Encoding" in plain.headers.get("Vary", ""), name
        assert len(plain.data) > MIN_SIZE, name
        for encoding, decode in DECODE.items():
            packed = fetch(f"{encoding}" if encoding == "br" else "gzip, deflate")
            assert packed.status_code == 200, (name, encoding)
            assert packed.headers["Content-Encoding"] == encoding, (name, encoding)
            assert "Accept-Encoding" in packed.headers["Vary"], (name, encoding)
            assert len(packed.data) < len(plain.data) / 2, (name, encoding)
            assert _stable(decode(packed.data)) == _stable(plain.data), (name, encoding)
    # a browser that accepts both gets brotli
    assert fetchers["page"]("gzip, deflate, br, zstd").headers["Content-Encoding"] == "br"


def test_security_headers_survive_compression(client):
    plain, packed = _get(client, "/", None), _get(client, "/", "br")
    for header in ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"):
        assert packed.headers[header] == plain.headers[header]
    # the CSP lists the hash of the inline script that is really in the (decoded) page
    assert "sha256-" in packed.headers["Content-Security-Policy"]
    assert _stable(brotli.decompress(packed.data)) == _stable(plain.data)


def test_small_answers_and_errors_are_sent_as_they_are(app, client):
    tiny = app.server.test_client().get("/api/health", headers={"Accept-Encoding": "br"})
    assert len(tiny.data) < MIN_SIZE and "Content-Encoding" not in tiny.headers
    anonymous = app.server.test_client().get("/_dash-layout", headers={"Accept-Encoding": "br"})
    assert anonymous.status_code == 401 and "Content-Encoding" not in anonymous.headers
    assert "Accept-Encoding" in anonymous.headers["Vary"]


def test_a_grid_download_comes_through_compressed_and_intact(app, client):
    plain, rows = _grid_download(app, client, None)
    packed, _ = _grid_download(app, client, "br")
    assert plain.status_code == packed.status_code == 200, plain.get_data(as_text=True)[:300]
    assert packed.headers["Content-Encoding"] == "br"
    answer = json.loads(brotli.decompress(packed.data))
    download = answer["response"]['{"name":"orders","type":"grid-download"}']["data"]
    assert download["filename"].endswith(".csv")
    table = list(csv.reader(io.StringIO(base64.b64decode(download["content"]).decode("utf-8-sig"))))
    assert table[0] == ["Order", "Amount"]
    assert [r[0] for r in table[1:]] == [r["order"] for r in rows]
    assert answer == json.loads(plain.data)


def test_a_range_request_is_never_compressed(client):
    asset = next(u for u in _referenced(client) if u.startswith("/assets/"))
    whole = _get(client, asset, None).data
    part = _get(client, asset, "br", Range="bytes=0-99")
    assert part.status_code == 206
    assert "Content-Encoding" not in part.headers
    assert part.data == whole[:100]


def test_a_compressed_asset_revalidates_with_its_own_etag(client):
    asset = next(u for u in _referenced(client) if u.startswith("/assets/")).split("?")[0]
    first = _get(client, asset, "br")
    assert first.status_code == 200 and first.headers["Content-Encoding"] == "br"
    etag = first.headers["ETag"]
    assert etag.endswith(':br"')
    again = _get(client, asset, "br", **{"If-None-Match": etag})
    assert again.status_code == 304


# --- cache lifetimes -------------------------------------------------------------------------


def test_fingerprinted_files_are_immutable_for_a_year(client):
    referenced = _referenced(client)
    suites = [u for u in referenced if "/_dash-component-suites/" in u]
    assets = [u for u in referenced if u.startswith("/assets/")]
    assert suites and assets
    for url in suites + assets:
        for encoding in (None, "br"):
            response = _get(client, url, encoding)
            assert response.status_code == 200, url
            assert response.headers["Cache-Control"] == IMMUTABLE, url
            assert "Cookie" not in response.headers["Vary"], url  # the same for everyone
            assert "Set-Cookie" not in response.headers, url
    # the same file without its fingerprint is revalidated, not cached for a year
    bare_suite = re.sub(r"\.v[\w-]+m[0-9a-fA-F]+\.", ".", suites[0])
    bare = _get(client, bare_suite, None)
    assert bare.status_code == 200 and bare.data == _get(client, suites[0], None).data
    assert "immutable" not in bare.headers.get("Cache-Control", "") and bare.headers["ETag"]
    plain_asset = assets[0].split("?")[0]
    for url in (plain_asset, f"{plain_asset}?m=12345.5", f"{plain_asset}?m=junk"):
        response = _get(client, url, None)
        assert response.status_code == 200, url
        assert "immutable" not in response.headers.get("Cache-Control", ""), url
        assert "max-age=31536000" not in response.headers.get("Cache-Control", ""), url


def test_pages_and_answers_are_never_stored_by_any_cache(app, client):
    answers = {
        "page": client.get("/"),
        "sales page": client.get("/sales"),
        "layout": client.get("/_dash-layout"),
        "dependencies": client.get("/_dash-dependencies"),
        "callback": client.post("/_dash-update-component", json=well_formed("/")),
        "login": app.server.test_client().get("/login"),
        "refused": app.server.test_client().get("/_dash-layout"),
    }
    for name, response in answers.items():
        assert response.headers.get("Cache-Control") == "no-store", name


# --- statement timeout on PostgreSQL ---------------------------------------------------------


def _show_timeout(conn) -> str:
    return conn.execute(text("SHOW statement_timeout")).scalar_one()


def _show_parallel(conn) -> str:
    return conn.execute(text("SHOW max_parallel_workers_per_gather")).scalar_one()


@pytest.fixture
def pg_app(app_factory, pg_url):
    migrate(pg_url)
    _seed_users(pg_url)
    app = app_factory(pg_url, statement_timeout_s=1)

    def slow_total(clicks):
        """A callback whose SQL takes longer than the request may."""
        with db.require_engine().connect() as conn:
            conn.execute(text("SELECT pg_sleep(5)"))
        return "done"

    app.layout = html.Div([html.Button(id="slow-button"), html.Div(id="slow-total")])
    app.callback(Output("slow-total", "children"), Input("slow-button", "n_clicks"))(
        with_fallback(slow_total, fallback.message("The slow total"))
    )
    return app


def _slow_request(client):
    return client.post(
        "/_dash-update-component",
        json={
            "output": "slow-total.children",
            "outputs": {"id": "slow-total", "property": "children"},
            "inputs": [{"id": "slow-button", "property": "n_clicks", "value": 1}],
            "changedPropIds": ["slow-button.n_clicks"],
            "state": [],
        },
    )


def test_a_statement_past_the_timeout_is_cancelled_and_reads_as_too_slow(pg_app):
    client = signed_in_client(pg_app, "admin")
    response = _slow_request(client)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    body = response.get_data(as_text=True)
    assert TOO_SLOW_MESSAGE in body and "done" not in body  # cancelled, not finished
    assert "pg_sleep" not in body  # no SQL or driver text

    # PostgreSQL itself recorded the limit that cancelled it, and requests start no workers
    with pg_app.server.test_request_context("/"), db.require_engine().connect() as conn:
        assert _show_timeout(conn) == "1s"
        assert _show_parallel(conn) == "0"


def test_work_outside_a_request_has_no_timeout(pg_app):
    engine = db.require_engine()
    with engine.connect() as conn:
        server_default = _show_timeout(conn)
        server_parallel = _show_parallel(conn)
    assert server_default == "0"
    client = signed_in_client(pg_app, "admin")
    assert _slow_request(client).status_code == 200  # the pooled connection had the limit set

    # how jobs run: an app context, no request
    with pg_app.server.app_context(), engine.connect() as conn:
        assert _show_timeout(conn) == server_default
        assert _show_parallel(conn) == server_parallel != "0"
        conn.execute(text("SELECT pg_sleep(1.2)"))  # longer than the request limit

    # a job started from a request ("Run now") runs in its own thread: no limit there either
    from bi_app.jobs.definitions import JobSpec
    from bi_app.jobs.runner import JobRunner

    seen.clear()
    runner = JobRunner(
        [JobSpec("show_timeout", "tests.integration.test_serving:record_timeout", seconds=60)],
        engine,
        engine.url.render_as_string(hide_password=False),
        app=pg_app.server,
    )
    with pg_app.server.test_request_context("/admin/jobs"):
        outcome = runner.start("show_timeout", trigger="manual", wait=True)
    assert outcome["status"] == "succeeded", outcome
    assert seen == [server_default]


seen: list[str] = []


def record_timeout(engine) -> None:
    """A job: note the statement timeout its connection has, then outlast the request limit."""
    with engine.connect() as conn:
        seen.append(_show_timeout(conn))
        conn.execute(text("SELECT pg_sleep(1.2)"))


def test_sqlite_has_no_statement_timeout_and_nothing_breaks(client):
    assert client.post("/_dash-update-component", json=well_formed("/")).status_code == 200


def test_a_cached_compressed_file_is_the_same_file(client):
    suite = next(u for u in _referenced(client) if "/_dash-component-suites/" in u)
    plain = _get(client, suite).data
    for encoding, decode in DECODE.items():
        first, again = _get(client, suite, encoding), _get(client, suite, encoding)
        assert first.headers["Content-Encoding"] == again.headers["Content-Encoding"] == encoding
        assert first.data == again.data and decode(again.data) == plain
        assert int(again.headers["Content-Length"]) == len(again.data)
